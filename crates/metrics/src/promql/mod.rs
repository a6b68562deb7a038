//! The PromQL evaluator over `promql-parser`'s AST, with Prometheus 3 semantics.

mod aggregate;
mod binary;
pub mod eval;
pub(crate) mod functions;
mod histogram;
pub mod value;

pub use eval::{parse, Engine, EngineOptions};
pub use value::{format_value, Notes, QueryError, Sample, Series, Value};
