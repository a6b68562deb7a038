//! The wire of the RG-CDC / RG-CCP OpenAPI v1 exactly as the document spells it.
//!
//! Everything a client sees lives here: the `{"content":…}` envelope, the numeric error codes,
//! and the request and response bodies. No I/O and no behaviour: the server, the CLI and the
//! tests share these types so that a field name is written down once.

pub mod codes;
pub mod desk;
pub mod enums;
pub mod envelope;
pub mod ids;
pub mod inventory;
pub mod os_file;
pub mod paging;
pub mod portal;
pub mod strategy;
pub mod task;
pub mod token;
pub mod usage;
pub mod user;

pub use envelope::{ErrorBody, Reply};
