//! The token endpoint of DECISIONS D1 (section 5.1 of the document is lost).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Body of `POST /v1/auth/token`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct TokenRequest {
    pub user_name: String,
    /// Plaintext or AES-encrypted (DECISIONS D6).
    pub password: String,
}

/// `data` of the token reply.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct TokenData {
    pub token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds.
    pub expires_in: i64,
    /// Epoch ms.
    pub expire_time: i64,
}
