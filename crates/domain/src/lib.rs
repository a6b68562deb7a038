//! deskd's domain: the entities, their enumerations and rules, the query language, the task
//! model, the lifecycle tables and the narrow [`store`] traits. No HTTP and no SQL here.

pub mod auth;
pub mod demo;
pub mod desk_state;
pub mod enums;
pub mod error;
pub mod ipam;
pub mod lifecycle;
pub mod model;
pub mod naming;
pub mod platform;
pub mod query;
pub mod resources;
pub mod scheduler;
pub mod store;
pub mod task;
pub mod users;

pub use deskd_wire::ids;
pub use error::{Error, Result};
