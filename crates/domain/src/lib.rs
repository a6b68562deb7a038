//! deskd's domain: the entities, their enumerations and rules, the query language, the task
//! model and the [`store::Store`] trait. No HTTP and no SQL here.

pub mod auth;
pub mod demo;
pub mod enums;
pub mod error;
pub mod model;
pub mod query;
pub mod resources;
pub mod store;
pub mod task;

pub use error::{Error, Result};
