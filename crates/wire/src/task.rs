//! Task detail (6.1.12): what a client polls after an asynchronous call.

use schemars::JsonSchema;

use crate::enums::{ItemBizStatus, TaskStatus};
use serde::{Deserialize, Serialize};

/// Optional body of `/v1/task/{task_id}/detail`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct TaskDetailRequest {
    #[serde(default)]
    pub cluster_id: Option<String>,
}

/// `data` of the task-detail reply.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct TaskDetail {
    /// RUNNING | FINISHED | ERROR
    pub task_status: TaskStatus,
    /// Only when FINISHED; for create tasks `[{desk_name, desk_id}]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_list: Option<Vec<serde_json::Value>>,
    /// Only when ERROR; starts with the ids of the failed items.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Echo of the request's `cluster_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    pub task_item_list: Vec<TaskItem>,
    /// Summary, e.g. "成功[2] 失败[1]".
    pub task_result: String,
}

/// One item of `task_item_list`. Both status spellings carry the same value (DECISIONS D4).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct TaskItem {
    pub id: String,
    pub item_result: String,
    /// SUCCESS | FAILURE (RUNNING while the item has not finished)
    pub item_biz_status: ItemBizStatus,
    pub item_status: ItemBizStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_biz_data: Option<serde_json::Value>,
}
