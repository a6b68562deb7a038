//! Paged queries: `page`, `limit`, `match_arr`, `sort_arr` (sections a.6 and a.7, DECISIONS D5).
//!
//! These types accept what a client may send; the domain's query module validates them against
//! the field names a resource declares.

use schemars::JsonSchema;

use crate::enums::SortDirection;
use serde::{Deserialize, Serialize};

/// The body of every `:pagequery` endpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct PageQuery {
    /// 0-based page index, 0..2147483647.
    pub page: Option<i64>,
    /// Items per page, 1..1000.
    pub limit: Option<i64>,
    /// Exact-match conditions, ANDed; values within one condition are ORed.
    #[serde(default)]
    pub match_arr: Vec<MatchCondition>,
    /// Sort conditions, applied in order.
    #[serde(default)]
    pub sort_arr: Vec<SortCondition>,
    /// RG-CDC cluster id inside Rcenter (unified login); echoed where the document says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
}

/// One `match_arr` element.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct MatchCondition {
    /// camelCase field key declared by the resource.
    pub field_name: String,
    /// Only `EQ` is supported.
    #[serde(default)]
    pub match_rule: Option<String>,
    /// Only `EXACT` is supported.
    #[serde(default, rename = "type")]
    pub match_type: Option<String>,
    /// Values to compare; a record matches when its field equals one of them.
    #[serde(default)]
    pub value_arr: Vec<serde_json::Value>,
}

/// One `sort_arr` element.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SortCondition {
    pub field_name: String,
    /// `ASC` or `DESC`.
    #[schemars(with = "SortDirection")]
    pub direction: String,
}

/// The reply `data` of a paged query: `total` and `item_arr`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PageData<T> {
    pub total: i64,
    pub item_arr: Vec<T>,
}
