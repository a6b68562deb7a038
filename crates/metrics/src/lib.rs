//! deskd's embedded metrics engine: a time-series store, a PromQL evaluator with Prometheus 3
//! semantics and the Prometheus HTTP API (chapter 7, D9), so deskd needs no external service.
//!
//! Mounting it (the router has no authentication of its own; wrap it in the server's):
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use deskd_metrics::promql::{Engine, EngineOptions};
//! use deskd_metrics::storage::{spawn_maintenance, Storage, StorageConfig};
//!
//! # async fn mount(data_dir: &std::path::Path) -> std::io::Result<axum::Router> {
//! let storage = Arc::new(Storage::open(&data_dir.join("metrics"), StorageConfig::default())?);
//! spawn_maintenance(storage.clone(), Duration::from_secs(300));
//! let engine = Arc::new(Engine::new(storage, EngineOptions::default()));
//! Ok(deskd_metrics::http::router(engine))
//! # }
//! ```

pub mod http;
pub mod labels;
pub mod promql;
pub mod remote;
pub mod rules;
pub mod storage;
pub mod text;
