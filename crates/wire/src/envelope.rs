//! The `{"content":{"code":…,"data":…}}` envelope of every `/v1` reply (section a.4).

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
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

/// Why a request body could not be decoded: the JSON path of the offending value (`body`,
/// `content` or `content.<path>`) and the rule it broke. The server turns it into 22000400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadBody {
    pub field: String,
    pub rule: String,
}

impl BadBody {
    fn new(field: impl Into<String>, rule: impl Into<String>) -> Self {
        BadBody {
            field: field.into(),
            rule: rule.into(),
        }
    }
}

/// Decodes a `{"content":{…}}` request body (section a.3) into `T`; `None` when the body is
/// empty or has no `content`. Lives here, with no server around it, so the fuzz targets reach
/// it without building the server.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<Option<T>, BadBody> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| BadBody::new("body", format!("is not valid JSON: {e}")))?;
    let serde_json::Value::Object(mut top) = value else {
        return Err(BadBody::new(
            "body",
            "must be a JSON object {\"content\":{…}}",
        ));
    };
    let content = match top.remove("content") {
        None | Some(serde_json::Value::Null) => return Ok(None),
        Some(c) => c,
    };
    serde_path_to_error::deserialize(content)
        .map(Some)
        .map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." {
                "content".to_string()
            } else {
                format!("content.{path}")
            };
            BadBody::new(field, e.into_inner().to_string())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paging::PageQuery;

    #[test]
    fn names_the_field_of_a_wrong_type() {
        let e = decode::<PageQuery>(br#"{"content":{"page":0,"limit":"ten"}}"#).unwrap_err();
        assert_eq!(e.field, "content.limit");
        assert!(e.rule.contains("invalid type"), "{}", e.rule);
        let e =
            decode::<PageQuery>(br#"{"content":{"match_arr":[{"field_name":1}]}}"#).unwrap_err();
        assert_eq!(e.field, "content.match_arr[0].field_name");
    }

    #[test]
    fn malformed_or_missing_content() {
        assert_eq!(decode::<PageQuery>(b"{nope").unwrap_err().field, "body");
        assert_eq!(decode::<PageQuery>(b"[1]").unwrap_err().field, "body");
        assert!(decode::<PageQuery>(b"{}").unwrap().is_none());
        assert!(decode::<PageQuery>(b"  ").unwrap().is_none());
        assert!(decode::<PageQuery>(br#"{"content":{}}"#).unwrap().is_some());
    }
}
