//! The `{"content":{"code":…,"data":…}}` envelope of every `/v1` reply (section a.4).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A successful reply: `{"content":{"code":0,"data":…}}`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Reply<T> {
    pub content: ReplyContent<T>,
}

/// The inside of a successful reply.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ReplyContent<T> {
    pub code: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<T>,
}

impl<T> Reply<T> {
    /// Code 0 with `data`.
    pub fn data(data: T) -> Self {
        Reply {
            content: ReplyContent {
                code: crate::codes::OK,
                data: Some(data),
            },
        }
    }
}

impl Reply<()> {
    /// Code 0 and no `data`, as the synchronous actions answer (`{"content":{"code":0}}`).
    pub fn empty() -> Self {
        Reply {
            content: ReplyContent {
                code: crate::codes::OK,
                data: None,
            },
        }
    }
}

/// An error reply: `{"content":{"code":N,"message":…,"user_tip":…}}`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ErrorBody {
    pub content: ErrorContent,
}

/// The inside of an error reply. `message` is for developers (names the field and the rule),
/// `user_tip` is for end users, in Chinese (DECISIONS D3).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ErrorContent {
    pub code: u32,
    pub message: String,
    pub user_tip: String,
}

/// A request body: every parameter sits under `content` (section a.3).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Request<T> {
    pub content: T,
}

/// The reply `data` of every asynchronous endpoint.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct TaskIdData {
    pub task_id: String,
}

/// An empty `content` (`{"content":{}}`), as taken by token revoke.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Empty {}
