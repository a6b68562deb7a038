//! 6.7 server resource usage: Prometheus-style instant vectors inside the `/v1` envelope.

use std::collections::BTreeMap;

use schemars::JsonSchema;

use crate::enums::ServerResourceType;
use serde::{Deserialize, Serialize};

/// 6.7 request.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ResourceUsageRequest {
    /// CPU, MEM or DISK.
    #[schemars(with = "ServerResourceType")]
    pub server_resource_type: String,
}

/// `data` of 6.7.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ResourceUsageData {
    pub total: PromVector,
    pub used: PromVector,
}

/// An instant vector as the document prints it (`result_type`, snake case, unlike chapter 7).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PromVector {
    pub result: Vec<PromSample>,
    pub result_type: String,
}

/// One sample: its labels and `[<unix seconds>, <value>]`, both strings as printed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PromSample {
    pub metric: BTreeMap<String, String>,
    pub value: (String, String),
}
