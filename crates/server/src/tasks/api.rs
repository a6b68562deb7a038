//! The 6.1.12 task detail handler and the wire view of a task.

use axum::extract::{Path, State};
use axum::Json;
use deskd_domain::enums::{ItemBizStatus, ItemStatus, TaskStatus};
use deskd_domain::error::{Error, Missing};
use deskd_domain::task::{task_result_text, ItemRecord, TaskRecord};
use deskd_wire::envelope::Reply;
use deskd_wire::task::{TaskDetail, TaskDetailRequest, TaskItem};

use crate::fleet::clusters::check_cluster;
use crate::http::error::ApiResult;
use crate::http::extract::OptionalContent;
use crate::AppState;

/// `PUT|GET|POST /v1/task/{task_id}/detail`.
pub async fn detail(
    State(app): State<AppState>,
    Path(task_id): Path<String>,
    OptionalContent(body): OptionalContent<TaskDetailRequest>,
) -> ApiResult<Json<Reply<TaskDetail>>> {
    let cluster_id = check_cluster(&app, body.cluster_id.as_deref()).await?;
    let id = task_id.trim();
    let task = app
        .store
        .get_task(id)
        .await?
        .ok_or_else(|| Error::not_found(Missing::Task, id))?;
    Ok(Json(Reply::data(render(task, cluster_id))))
}

/// The wire view of a task: `resource_list` only when FINISHED, `error_message` only on ERROR.
pub fn render(task: TaskRecord, cluster_id: Option<String>) -> TaskDetail {
    let ok = task
        .items
        .iter()
        .filter(|i| i.status == ItemStatus::SUCCESS)
        .count();
    let failed = task
        .items
        .iter()
        .filter(|i| i.status == ItemStatus::FAILURE)
        .count();
    let resource_list = (task.status == TaskStatus::FINISHED).then(|| {
        task.items
            .iter()
            .filter_map(|i| i.resource.clone())
            .collect()
    });
    let error_message = (task.status == TaskStatus::ERROR).then(|| task.error_message.clone());
    let task_result = if task.task_result.is_empty() {
        task_result_text(ok, failed)
    } else {
        task.task_result.clone()
    };
    TaskDetail {
        task_status: task.status,
        resource_list,
        error_message,
        cluster_id,
        task_item_list: task.items.iter().map(item).collect(),
        task_result,
    }
}

fn item(i: &ItemRecord) -> TaskItem {
    // Items still pending or running show RUNNING until they have an outcome.
    let status = match i.status {
        ItemStatus::SUCCESS => ItemBizStatus::SUCCESS,
        ItemStatus::FAILURE => ItemBizStatus::FAILURE,
        ItemStatus::PENDING | ItemStatus::RUNNING => ItemBizStatus::RUNNING,
    };
    TaskItem {
        id: i.item_id.clone(),
        item_result: if i.result.is_empty() {
            "执行中".into()
        } else {
            i.result.clone()
        },
        item_biz_status: status,
        item_status: status,
        item_biz_data: i.biz_data.clone(),
    }
}
