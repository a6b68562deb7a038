//! User groups (6.2.12, 6.2.13): create one, and the whole tree.

use deskd_domain::ids::GroupId;
use std::collections::HashMap;

use axum::extract::State;
use axum::Json;
use deskd_domain::error::Error;
use deskd_domain::model::{now_ms, GroupRow, UserGroup};
use deskd_domain::users::*;
use deskd_wire::envelope::Reply;
use deskd_wire::user::*;

use super::api::R;
use crate::http::extract::Content;
use crate::AppState;

/// `POST /v1/usergroup/create` (6.2.12).
pub async fn create_group(
    State(app): State<AppState>,
    Content(r): Content<CreateGroupRequest>,
) -> R<CreateGroupData> {
    let name = r.name.trim().to_string();
    check_group_name(&name, "content.name")?;
    let now = now_ms();
    let parent = match r.parent_id.as_deref().map(str::trim) {
        None | Some("") | Some("root") => None,
        Some(id) => Some(
            app.store
                .group_by_id(&GroupId::from(id))
                .await?
                .ok_or_else(|| {
                    Error::invalid(
                        "content.parent_id",
                        format!("user group {id} does not exist"),
                    )
                })?,
        ),
    };
    let path = match &parent {
        Some(p) => format!("{}/{name}", p.path),
        None => name.clone(),
    };
    group_path(&path, "content.name")?;
    let group = UserGroup {
        id: GroupId::generate(),
        name: name.clone(),
        parent_id: parent.map(|p| p.id),
        path,
        created_at: now,
        account_expire_date: check_expire(
            r.account_expire_date.unwrap_or(0),
            now,
            "content.account_expire_date",
        )?,
        invalid_time: check_invalid_time(r.invalid_time.unwrap_or(0), "content.invalid_time")?,
    };
    app.store.create_group(&group).await.map_err(|e| match e {
        Error::Refused(_) | Error::AlreadyExists { .. } => Error::invalid(
            "content.name",
            format!("a group named `{name}` exists under this parent"),
        ),
        e => e,
    })?;
    Ok(Json(Reply::data(CreateGroupData {
        message: format!("创建用户组[{name}]成功"),
        msg_arg_arr: vec![name],
        msg_key: "rcdc_rco_create_user_group_success_log".into(),
        status: "SUCCESS".into(),
        id: group.id.into(),
    })))
}

/// `GET /v1/usergroup/list` (6.2.13): the whole tree, under every spelling the document uses.
pub async fn group_tree(State(app): State<AppState>) -> R<GroupTreeData> {
    let rows = app.store.list_groups().await?;
    let mut by_parent: HashMap<Option<&str>, Vec<&GroupRow>> = HashMap::new();
    for r in &rows {
        by_parent
            .entry(r.group.parent_id.as_deref())
            .or_default()
            .push(r);
    }
    let tree = children(&by_parent, None);
    Ok(Json(Reply::data(GroupTreeData {
        item_arr: tree.clone(),
        item_arr_camel: tree.clone(),
        content: GroupTreeContent {
            item_arr_camel: tree,
        },
    })))
}

/// The nodes under `parent`, oldest first. A group may be deleted when it holds no users and
/// no subgroups.
fn children(
    by_parent: &HashMap<Option<&str>, Vec<&GroupRow>>,
    parent: Option<&str>,
) -> Vec<GroupNode> {
    let Some(rows) = by_parent.get(&parent) else {
        return Vec::new();
    };
    rows.iter()
        .map(|r| {
            let kids = children(by_parent, Some(&r.group.id));
            GroupNode {
                id: r.group.id.clone().into(),
                parent_id: String::from(r.group.parent_id.clone().unwrap_or_else(|| "root".into())),
                label: r.group.name.clone(),
                allow_delete: r.user_num == 0 && kids.is_empty(),
                enable_ad: false,
                enable_ldap: false,
                enable_default: false,
                disabled: false,
                account_expire_date: r.group.account_expire_date,
                invalid_time: r.group.invalid_time,
                children: kids,
            }
        })
        .collect()
}
