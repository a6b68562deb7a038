//! deskd's embedded metrics engine: a time-series store, a PromQL evaluator with Prometheus 3
//! semantics and the Prometheus HTTP API (chapter 7, D9), so deskd needs no external service.

pub mod http;
pub mod labels;
pub mod promql;
pub mod remote;
pub mod storage;
pub mod text;
