//! Desk strategies (6.1.1). The document lost the record table; the fields below are deskd's
//! choice (DECISIONS D11 style) and name what a desk created from the strategy gets.

use schemars::JsonSchema;

use crate::enums::{DeskCategory, DeskType};
use serde::{Deserialize, Serialize};

/// One item of `PUT /v1/desk_strategy:pagequery`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct StrategyItem {
    pub id: String,
    pub desk_strategy_id: String,
    pub desk_strategy_name: String,
    /// VDI | IDV | TCI
    pub desk_category: DeskCategory,
    /// PERSONAL | RECOVERABLE | APP_LAYER
    pub desk_type: DeskType,
    pub cpu_cores: i64,
    /// GB
    pub memory: i64,
    /// GB
    pub system_disk: i64,
    /// GB; 0 when the strategy gives no data disk
    pub data_disk: i64,
    /// true: desks may only be reached through the proxy (security gateway)
    pub enable_agreement_agency: bool,
    pub description: String,
    /// desks currently using this strategy
    pub desk_num: i64,
    /// epoch ms
    pub create_time: i64,
}
