//! `deskctl desk …` (chapter 6.1) and `deskctl task …` (6.1.12).

use std::collections::HashMap;
use std::path::PathBuf;

use clap::Subcommand;
use deskd_wire::desk::{
    BatchCreateRequest, BatchDeleteRequest, BatchRemarkEditRequest, BatchStrategyEditRequest,
    ConsoleTicket, CreateItem, DeleteItem, DeskActionRequest, DeskDetail, DeskItem, DeskTaskData,
    ModifyRequest, RemarkEditItem, StrategyEditItem,
};
use deskd_wire::enums::DeskState;
use deskd_wire::ids::{DeskId, ImageId};
use reqwest::Method;
use serde_json::Value;

use super::{col, list_and_print, read_csv, Ctx, ListArgs};
use crate::client::Session;
use crate::error::{Failure, Outcome};
use crate::output::{self, Columns};
use crate::resources::{self as res, eq, id_of, resolve, DESKS};
use crate::tasks::{self, Started};

const COLUMNS: Columns = Columns {
    table: &[
        "desk_name",
        "desk_state",
        "user_name",
        "image_name",
        "host_name",
        "ip",
    ],
    wide: &[
        "desk_id",
        "desk_type",
        "cpu_cores",
        "memory",
        "system_disk",
        "data_disk",
        "desk_strategy_id",
        "network_id",
        "cluster_name",
        "remark",
        "error_message",
    ],
};

/// Wire field names that are not the camelCase of their query key.
const SORT_KEYS: &[(&str, &str)] = &[("desk_name", "desktopName"), ("desk_id", "deskId")];

#[derive(Subcommand, Debug)]
pub enum DeskCmd {
    /// List desks (6.1.2).
    List {
        /// Only desks in these states (comma-separated, e.g. RUNNING,CLOSE).
        #[arg(long, value_delimiter = ',')]
        state: Vec<String>,
        /// Only this user's desks (name or id).
        #[arg(long)]
        user: Option<String>,
        #[command(flatten)]
        list: ListArgs,
    },
    /// Show one desk (name or id).
    Show { desk: String },
    /// Create desks: one from flags, or one per row of a CSV file (6.1.10).
    Create {
        /// CSV with a header: user, image, strategy, network, and optionally name, type, remark.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["user", "image", "strategy", "network"])]
        from_csv: Option<PathBuf>,
        /// The owner (name or id).
        #[arg(long, required_unless_present = "from_csv")]
        user: Option<String>,
        /// Image (name or id; the newest version of a name).
        #[arg(long, required_unless_present = "from_csv")]
        image: Option<String>,
        /// Desk strategy (name or id).
        #[arg(long, required_unless_present = "from_csv")]
        strategy: Option<String>,
        /// Network (name or id).
        #[arg(long, required_unless_present = "from_csv")]
        network: Option<String>,
        /// The desk's name (default `<user>_<n>`).
        #[arg(long)]
        name: Option<String>,
        /// PERSONAL | RECOVERABLE | APP_LAYER (default: the strategy's).
        #[arg(long = "type")]
        desk_type: Option<String>,
        #[arg(long)]
        remark: Option<String>,
        /// Delete the batch's desks again when any item fails.
        #[arg(long)]
        fail_rollback: bool,
        #[arg(long)]
        wait: bool,
    },
    /// Start desks (6.1.6).
    Start {
        #[arg(required = true)]
        desks: Vec<String>,
        #[arg(long)]
        wait: bool,
    },
    /// Shut desks down (ACPI, then power off after the grace period).
    Shutdown {
        #[arg(required = true)]
        desks: Vec<String>,
        #[arg(long)]
        wait: bool,
    },
    /// Power desks off at once.
    Poweroff {
        #[arg(required = true)]
        desks: Vec<String>,
        #[arg(long)]
        wait: bool,
    },
    /// Restart running desks (the API answers synchronously, no task).
    Restart {
        #[arg(required = true)]
        desks: Vec<String>,
    },
    /// Change a closed desk's CPU, memory and disks (6.1.4).
    Modify {
        desk: String,
        #[arg(long)]
        cpu: i64,
        /// GB
        #[arg(long)]
        memory: i64,
        /// GB
        #[arg(long)]
        system_disk: i64,
        /// GB (desks with a data disk only)
        #[arg(long)]
        data_disk: Option<i64>,
        #[arg(long)]
        wait: bool,
    },
    /// Delete desks (6.1.11).
    Delete {
        #[arg(required = true)]
        desks: Vec<String>,
        #[arg(long)]
        wait: bool,
    },
    /// Give desks another strategy (6.1.18).
    SetStrategy {
        #[arg(required = true)]
        desks: Vec<String>,
        /// Strategy (name or id).
        #[arg(long)]
        strategy: String,
        #[arg(long)]
        wait: bool,
    },
    /// Set desks' label (6.1.19; empty clears it).
    Remark {
        #[arg(required = true)]
        desks: Vec<String>,
        #[arg(long)]
        remark: String,
        #[arg(long)]
        wait: bool,
    },
    /// A one-time console ticket of a running desk and the websocket URL to open with it.
    Console { desk: String },
}

#[derive(Subcommand, Debug)]
pub enum TaskCmd {
    /// Show a task's status and items.
    Show { task_id: String },
    /// Wait for tasks to end; exit 4 when any item failed.
    Wait {
        #[arg(required = true)]
        task_ids: Vec<String>,
    },
    /// The tasks this profile started (kept locally: the API has no task listing yet), with
    /// their current status.
    List {
        /// Only the last N.
        #[arg(long, default_value_t = 20)]
        last: usize,
    },
}

/// The desk id a name or id stands for.
fn desk_id(s: &mut Session, desk: &str) -> Outcome<DeskId> {
    Ok(DeskId::from(id_of(s, &DESKS, desk)?))
}

fn desk_ids(s: &mut Session, desks: &[String]) -> Outcome<Vec<(String, DeskId)>> {
    desks
        .iter()
        .map(|d| Ok((d.clone(), desk_id(s, d)?)))
        .collect()
}

pub fn run(ctx: &mut Ctx, cmd: DeskCmd) -> Outcome {
    match cmd {
        DeskCmd::List { state, user, list } => {
            let mut q = list.query(SORT_KEYS)?;
            if !state.is_empty() {
                for st in &state {
                    DeskState::parse(st, "--state")
                        .map_err(|e| Failure::usage(format!("--state: {e}")))?;
                }
                q.match_arr.push(eq(
                    "deskState",
                    state.into_iter().map(Value::String).collect(),
                ));
            }
            if let Some(u) = user {
                let item = resolve(&mut ctx.s, &res::USERS, &u)?;
                q.match_arr
                    .push(eq("userName", vec![item["user_name"].clone()]));
            }
            list_and_print::<DeskItem>(ctx, &DESKS, &q, list.all, &COLUMNS)
        }
        DeskCmd::Show { desk } => {
            let id = desk_id(&mut ctx.s, &desk)?;
            let d: DeskDetail = ctx.s.call(
                Method::PUT,
                &format!("/v1/desk/{id}/detail"),
                &DeskActionRequest::default(),
            )?;
            output::one(&d, ctx.format)
        }
        DeskCmd::Create {
            from_csv: Some(file),
            fail_rollback,
            wait,
            ..
        } => create_from_csv(ctx, &file, fail_rollback, wait),
        DeskCmd::Create {
            user,
            image,
            strategy,
            network,
            name,
            desk_type,
            remark,
            fail_rollback,
            wait,
            ..
        } => {
            let mut refs = Lookups::default();
            let row = Row {
                user: user.unwrap_or_default(),
                image: image.unwrap_or_default(),
                strategy: strategy.unwrap_or_default(),
                network: network.unwrap_or_default(),
                name,
                desk_type,
                remark,
            };
            let item = refs.item(&mut ctx.s, None, &row)?;
            let what = format!("desk create {}", row.name.as_deref().unwrap_or(&row.user));
            submit_create(ctx, vec![item], fail_rollback, what, wait)
        }
        DeskCmd::Start { desks, wait } => act(ctx, &desks, "start", wait),
        DeskCmd::Shutdown { desks, wait } => act(ctx, &desks, "shutdown", wait),
        DeskCmd::Poweroff { desks, wait } => act(ctx, &desks, "powerOff", wait),
        DeskCmd::Restart { desks } => {
            for (name, id) in desk_ids(&mut ctx.s, &desks)? {
                let _: Option<Value> = ctx.s.call(
                    Method::PUT,
                    &format!("/v1/desk/{id}:restart"),
                    &DeskActionRequest::default(),
                )?;
                println!("desk {name}: restarted");
            }
            Ok(())
        }
        DeskCmd::Modify {
            desk,
            cpu,
            memory,
            system_disk,
            data_disk,
            wait,
        } => {
            let id = desk_id(&mut ctx.s, &desk)?;
            let body = ModifyRequest {
                cpu_cores: cpu,
                memory,
                system_disk,
                data_disk,
            };
            let t: DeskTaskData = ctx.s.call(
                Method::PUT,
                &format!("/v1/desk/{id}/configuration/modify"),
                &body,
            )?;
            tasks::finish(
                &mut ctx.s,
                vec![started(t.task_id, format!("desk modify {desk}"))],
                wait,
            )
        }
        DeskCmd::Delete { desks, wait } => {
            let ids = desk_ids(&mut ctx.s, &desks)?;
            let body = BatchDeleteRequest {
                desk_info_arr: ids
                    .iter()
                    .map(|(name, id)| DeleteItem {
                        id: Some(name.clone()),
                        desk_id: id.clone(),
                    })
                    .collect(),
                cluster_id: None,
            };
            let t: DeskTaskData = ctx.s.call(Method::POST, "/v1/desk/batch/delete", &body)?;
            tasks::finish(
                &mut ctx.s,
                vec![started(t.task_id, "desk delete".into())],
                wait,
            )
        }
        DeskCmd::SetStrategy {
            desks,
            strategy,
            wait,
        } => {
            let sid = id_of(&mut ctx.s, &res::STRATEGIES, &strategy)?;
            let body = BatchStrategyEditRequest {
                desk_info_arr: desk_ids(&mut ctx.s, &desks)?
                    .into_iter()
                    .map(|(name, id)| StrategyEditItem {
                        id: Some(name),
                        desk_id: id,
                        strategy_id: sid.clone(),
                    })
                    .collect(),
                cluster_id: None,
            };
            let t: DeskTaskData =
                ctx.s
                    .call(Method::POST, "/v1/desk/strategy/batch/edit", &body)?;
            tasks::finish(
                &mut ctx.s,
                vec![started(t.task_id, "desk set-strategy".into())],
                wait,
            )
        }
        DeskCmd::Remark {
            desks,
            remark,
            wait,
        } => {
            let body = BatchRemarkEditRequest {
                desk_info_arr: desk_ids(&mut ctx.s, &desks)?
                    .into_iter()
                    .map(|(name, id)| RemarkEditItem {
                        id: Some(name),
                        desk_id: id,
                        remark: remark.clone(),
                    })
                    .collect(),
                cluster_id: None,
            };
            let t: DeskTaskData = ctx
                .s
                .call(Method::PUT, "/v1/desk/remark/batch/edit", &body)?;
            tasks::finish(
                &mut ctx.s,
                vec![started(t.task_id, "desk remark".into())],
                wait,
            )
        }
        DeskCmd::Console { desk } => {
            let id = desk_id(&mut ctx.s, &desk)?;
            let t: ConsoleTicket = ctx.s.call(
                Method::PUT,
                &format!("/v1/desk/{id}/console"),
                &DeskActionRequest::default(),
            )?;
            let ws = ctx
                .s
                .profile
                .server
                .replacen("https://", "wss://", 1)
                .replacen("http://", "ws://", 1);
            if ctx.format == output::Format::Table {
                println!("{ws}{}", t.websocket_path);
                eprintln!(
                    "one-time ticket, valid until epoch ms {}; subprotocol `binary`, RFB inside",
                    t.expire_time
                );
                if let Some(s) = &t.spice {
                    eprintln!(
                        "SPICE: spice://{}:{} password {} (until the same time)",
                        s.host, s.port, s.password
                    );
                }
                Ok(())
            } else {
                output::one(&t, ctx.format)
            }
        }
    }
}

fn started(task_id: String, what: String) -> Started {
    Started { task_id, what }
}

/// One asynchronous action per desk (each answers its own task). A desk the server refuses
/// does not stop the others; the command then exits 1 after the started tasks are handled.
fn act(ctx: &mut Ctx, desks: &[String], verb: &str, wait: bool) -> Outcome {
    let mut all = Vec::new();
    let mut refused = None;
    for (name, id) in desk_ids(&mut ctx.s, desks)? {
        let what = format!("desk {} {name}", verb.to_lowercase());
        match ctx.s.call::<_, DeskTaskData>(
            Method::PUT,
            &format!("/v1/desk/{id}:{verb}"),
            &DeskActionRequest::default(),
        ) {
            Ok(t) => all.push(started(t.task_id, what)),
            Err(e @ Failure::Refused { .. }) if desks.len() > 1 => {
                eprintln!("{what}: {e}");
                refused = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    tasks::finish(&mut ctx.s, all, wait)?;
    refused.map_or(Ok(()), Err)
}

/// One desk to create, as given on the command line or in a CSV row.
struct Row {
    user: String,
    image: String,
    strategy: String,
    network: String,
    name: Option<String>,
    desk_type: Option<String>,
    remark: Option<String>,
}

/// Names resolved to ids, each looked up once per batch.
#[derive(Default)]
struct Lookups(HashMap<(&'static str, String), Result<String, String>>);

impl Lookups {
    fn get(
        &mut self,
        s: &mut Session,
        r: &'static res::Resource,
        field: &'static str,
        reference: &str,
    ) -> Outcome<String> {
        let key = (r.noun, reference.to_string());
        if !self.0.contains_key(&key) {
            let v = match resolve(s, r, reference) {
                Ok(item) => res::field(&item, field).map_err(|e| e.to_string()),
                Err(Failure::Usage(m)) => Err(m),
                Err(e) => return Err(e),
            };
            self.0.insert(key.clone(), v);
        }
        self.0[&key].clone().map_err(Failure::Usage)
    }

    /// The wire item of one row; a name that resolves to nothing fails the row only.
    fn item(&mut self, s: &mut Session, id: Option<String>, row: &Row) -> Outcome<CreateItem> {
        Ok(CreateItem {
            id,
            user_name: self.get(s, &res::USERS, "user_name", &row.user)?,
            image_id: ImageId::from(self.get(s, &res::IMAGES, "id", &row.image)?),
            desk_strategy_id: self.get(s, &res::STRATEGIES, "id", &row.strategy)?,
            network_id: self.get(s, &res::NETWORKS, "id", &row.network)?,
            desk_name: row.name.clone(),
            desk_type: row.desk_type.clone(),
            remark: row.remark.clone(),
        })
    }
}

fn submit_create(
    ctx: &mut Ctx,
    items: Vec<CreateItem>,
    fail_rollback: bool,
    what: String,
    wait: bool,
) -> Outcome {
    let body = BatchCreateRequest {
        fail_rollback: fail_rollback.then_some(Value::Bool(true)),
        desk_info_arr: items,
        cluster_id: None,
    };
    let t: DeskTaskData = ctx.s.call(Method::POST, "/v1/desk/batch/create", &body)?;
    tasks::finish(&mut ctx.s, vec![started(t.task_id, what)], wait)
}

/// `desk create --from-csv`: rows naming something that does not exist fail on their own
/// (reported here); the others go to the server as one batch whose items are `line-N`.
fn create_from_csv(
    ctx: &mut Ctx,
    file: &std::path::Path,
    fail_rollback: bool,
    wait: bool,
) -> Outcome {
    let rows = read_csv(file)?;
    let mut refs = Lookups::default();
    let mut items = Vec::new();
    let mut bad = 0;
    let mut names = std::collections::HashSet::new();
    for (line, r) in &rows {
        let need = |names: &[&str]| {
            col(r, names)
                .map(str::to_string)
                .ok_or_else(|| Failure::usage(format!("no `{}` column", names[0])))
        };
        let row = (|| {
            Ok::<Row, Failure>(Row {
                user: need(&["user", "user_name"])?,
                image: need(&["image", "image_id", "image_name"])?,
                strategy: need(&["strategy", "desk_strategy_id", "strategy_id"])?,
                network: need(&["network", "network_id"])?,
                name: col(r, &["name", "desk_name"]).map(str::to_string),
                desk_type: col(r, &["type", "desk_type"]).map(str::to_string),
                remark: col(r, &["remark"]).map(str::to_string),
            })
        })();
        let row = row.and_then(|row| match &row.name {
            Some(n) if !names.insert(n.clone()) => Err(Failure::usage(format!(
                "desk name `{n}` is already on an earlier row"
            ))),
            _ => Ok(row),
        });
        match row.and_then(|row| refs.item(&mut ctx.s, Some(format!("line-{line}")), &row)) {
            Ok(item) => items.push(item),
            Err(Failure::Usage(m)) => {
                bad += 1;
                eprintln!("{} line {line}: FAILURE {m}", file.display());
            }
            Err(e) => return Err(e),
        }
    }
    if items.is_empty() {
        return Err(Failure::TaskFailed(format!(
            "{}: no row to create ({bad} refused)",
            file.display()
        )));
    }
    let n = items.len();
    let what = "desk create".to_string();
    let r = submit_create(ctx, items, fail_rollback, what, wait);
    eprintln!("{n} row(s) sent, {bad} refused before sending");
    match r {
        Ok(()) if bad > 0 => tasks::conclude(bad),
        other => other,
    }
}

pub fn run_task(ctx: &mut Ctx, cmd: TaskCmd) -> Outcome {
    match cmd {
        TaskCmd::Show { task_id } => {
            let d = tasks::detail(&mut ctx.s, &task_id)?;
            output::one(&d, ctx.format)
        }
        TaskCmd::Wait { task_ids } => {
            let all: Vec<Started> = task_ids
                .into_iter()
                .map(|t| started(t, "task".into()))
                .collect();
            let failed = tasks::wait_all(&mut ctx.s, &all)?;
            tasks::conclude(failed)
        }
        TaskCmd::List { last } => {
            let mine = crate::config::started_tasks(&ctx.s.name)?;
            let skip = mine.len().saturating_sub(last);
            let mut rows = Vec::new();
            for t in mine.into_iter().skip(skip) {
                let status = match tasks::detail(&mut ctx.s, &t.task_id) {
                    Ok(d) => {
                        serde_json::json!({"task_status": d.task_status.as_str(), "task_result": d.task_result})
                    }
                    Err(Failure::Refused { message, .. }) => {
                        serde_json::json!({"task_status": "UNKNOWN", "task_result": message})
                    }
                    Err(e) => return Err(e),
                };
                rows.push(serde_json::json!({
                    "task_id": t.task_id, "what": t.what, "started": t.started,
                    "task_status": status["task_status"], "task_result": status["task_result"],
                }));
            }
            output::list(
                &rows,
                ctx.format,
                &Columns {
                    table: &["task_id", "what", "task_status", "task_result"],
                    wide: &["started"],
                },
            )
        }
    }
}
