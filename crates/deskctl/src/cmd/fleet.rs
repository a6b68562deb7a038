//! Where desks run: `cluster`, `host`, `pool` (6.5, 6.8, 6.9, 6.10 and their extensions) and
//! `terminal` (6.6).

use clap::{Args, Subcommand};
use deskd_wire::envelope::Empty;
use deskd_wire::inventory::{
    ClusterItem, ClusterRequest, ComputeSummaryItem, HostItem, HostRequest, IdRequest,
    InventoryTaskData, StoragePoolItem, StoragePoolRequest, StorageSummaryItem,
    TerminalHeartbeatRequest, TerminalRegisterData, TerminalRegisterRequest, TerminalStatistics,
};
use deskd_wire::paging::PageQuery;
use reqwest::Method;
use serde_json::Value;

use super::catalog::{created, simple, Crud};
use super::{done, list_and_print, Ctx, ListArgs};
use crate::error::Outcome;
use crate::output::{self, Columns};
use crate::resources::{id_of, CLUSTERS, HOSTS, POOLS};
use crate::tasks::{self, Started};

#[derive(Args, Debug, Default)]
pub struct ClusterFields {
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    description: Option<String>,
    /// ENABLED | DISABLED
    #[arg(long)]
    state: Option<String>,
}

#[derive(Args, Debug, Default)]
pub struct HostFields {
    #[arg(long)]
    name: Option<String>,
    /// Cluster (name or id).
    #[arg(long)]
    cluster: Option<String>,
    #[arg(long)]
    ip: Option<String>,
    #[arg(long)]
    cpu: Option<i64>,
    /// GB
    #[arg(long)]
    memory: Option<i64>,
    /// GB
    #[arg(long)]
    storage: Option<i64>,
    #[arg(long)]
    cpu_overcommit: Option<f64>,
    #[arg(long)]
    memory_overcommit: Option<f64>,
    /// ENABLED | DRAINING | DISABLED
    #[arg(long)]
    state: Option<String>,
    /// sim | qemu | libvirt
    #[arg(long)]
    driver: Option<String>,
    /// node_exporter URL ("" removes it).
    #[arg(long)]
    exporter_url: Option<String>,
    /// libvirt connection URI of a `libvirt` host (`qemu:///system`, `qemu+tcp://ADDR/system`,
    /// `qemu+tls://…`, `qemu+ssh://…`).
    #[arg(long)]
    uri: Option<String>,
}

#[derive(Args, Debug, Default)]
pub struct PoolFields {
    #[arg(long)]
    name: Option<String>,
    /// Cluster (name or id).
    #[arg(long)]
    cluster: Option<String>,
    /// A directory to keep the pool's files in (default: simulated).
    #[arg(long)]
    directory: Option<String>,
    /// GB
    #[arg(long)]
    capacity: Option<i64>,
    #[arg(long)]
    redundancy: Option<String>,
    #[arg(long)]
    health: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum ClusterCmd {
    /// List clusters.
    List {
        #[command(flatten)]
        list: ListArgs,
    },
    /// Create a cluster.
    Create {
        #[command(flatten)]
        fields: ClusterFields,
    },
    /// Edit a cluster (name or id); flags left out keep their value.
    Edit {
        target: String,
        #[command(flatten)]
        fields: ClusterFields,
    },
    /// Delete a cluster with its empty hosts, networks and pools (a task).
    Delete {
        target: String,
        #[arg(long)]
        wait: bool,
    },
    /// Allocated CPU and memory per cluster (6.5).
    Summary,
    /// Storage capacity and use per cluster (6.8).
    Storage,
}

#[derive(Subcommand, Debug)]
#[allow(clippy::large_enum_variant)] // parsed once per run; boxing buys nothing
pub enum HostCmd {
    #[command(flatten)]
    Crud(Crud<HostFields>),
    /// Simulator: the host stops answering (its node metrics go down).
    SimDown { host: String },
    /// Simulator: the host answers again.
    SimUp { host: String },
}

#[derive(Subcommand, Debug)]
pub enum TerminalCmd {
    /// Terminals per category: total, online, offline, never logged in (6.6).
    Stats,
    /// Register a terminal (again: update it).
    Register {
        terminal_id: String,
        /// VDI, IDV, VOI, APP, PC, RCA
        #[arg(long)]
        category: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        ip: Option<String>,
        #[arg(long)]
        mac: Option<String>,
    },
    /// A terminal is alive.
    Heartbeat { terminal_id: String },
}

fn cluster_id(ctx: &mut Ctx, c: Option<String>) -> Outcome<Option<String>> {
    c.map(|c| id_of(&mut ctx.s, &CLUSTERS, &c)).transpose()
}

pub fn run_cluster(ctx: &mut Ctx, cmd: ClusterCmd) -> Outcome {
    let req = |id, f: ClusterFields| ClusterRequest {
        id,
        cluster_name: f.name,
        cluster_desc: f.description,
        cluster_state: f.state,
    };
    match cmd {
        ClusterCmd::List { list } => {
            let q = list.query(&[])?;
            let cols = Columns {
                table: &["cluster_name", "cluster_state", "cluster_desc"],
                wide: &["id", "create_time", "last_update_time"],
            };
            list_and_print::<ClusterItem>(ctx, &CLUSTERS, &q, list.all, &cols)
        }
        ClusterCmd::Create { fields } => {
            created(ctx, "/v1/rccp/cluster/create", &req(None, fields))
        }
        ClusterCmd::Edit { target, fields } => {
            let id = id_of(&mut ctx.s, &CLUSTERS, &target)?;
            let d: Option<Value> =
                ctx.s
                    .call(Method::PUT, "/v1/rccp/cluster/edit", &req(Some(id), fields))?;
            done(ctx, &format!("cluster edit {target}"), &d)
        }
        ClusterCmd::Delete { target, wait } => {
            let body = IdRequest {
                id: id_of(&mut ctx.s, &CLUSTERS, &target)?,
            };
            let t: InventoryTaskData =
                ctx.s.call(Method::POST, "/v1/rccp/cluster/delete", &body)?;
            tasks::finish(
                &mut ctx.s,
                vec![Started {
                    task_id: t.task_id,
                    what: format!("cluster delete {target}"),
                }],
                wait,
            )
        }
        ClusterCmd::Summary => {
            let d: deskd_wire::paging::PageData<ComputeSummaryItem> = ctx.s.call(
                Method::PUT,
                "/v1/rccp/compute/summary",
                &PageQuery::default(),
            )?;
            let cols = Columns {
                table: &[
                    "cluster_name",
                    "host_num",
                    "desk_num",
                    "allocated_cpu_cores",
                    "total_cpu_cores",
                    "allocated_memory",
                    "total_memory",
                ],
                wide: &["cluster_id"],
            };
            output::list(&d.item_arr, ctx.format, &cols)
        }
        ClusterCmd::Storage => {
            let d: deskd_wire::paging::PageData<StorageSummaryItem> = ctx.s.call(
                Method::PUT,
                "/v1/rccp/storage/summary",
                &PageQuery::default(),
            )?;
            let cols = Columns {
                table: &["cluster_name", "storage_pool_arr"],
                wide: &["cluster_id"],
            };
            output::list(&d.item_arr, ctx.format, &cols)
        }
    }
}

fn host_request(ctx: &mut Ctx, id: Option<String>, f: HostFields) -> Outcome<HostRequest> {
    Ok(HostRequest {
        id,
        host_name: f.name,
        cluster_id: cluster_id(ctx, f.cluster)?,
        ip: f.ip,
        cpu_cores: f.cpu,
        memory: f.memory,
        storage: f.storage,
        cpu_overcommit: f.cpu_overcommit,
        memory_overcommit: f.memory_overcommit,
        host_state: f.state,
        driver: f.driver,
        uri: f.uri,
        exporter_url: f.exporter_url,
    })
}

pub fn run_host(ctx: &mut Ctx, cmd: HostCmd) -> Outcome {
    match cmd {
        HostCmd::Crud(Crud::List { list }) => {
            let q = list.query(&[])?;
            let cols = Columns {
                table: &[
                    "host_name",
                    "host_state",
                    "ip",
                    "desk_num",
                    "allocated_cpu_cores",
                    "cpu_cores",
                    "allocated_memory",
                    "memory",
                ],
                wide: &[
                    "id",
                    "cluster_id",
                    "driver",
                    "cpu_overcommit",
                    "memory_overcommit",
                    "exporter_url",
                ],
            };
            list_and_print::<HostItem>(ctx, &HOSTS, &q, list.all, &cols)
        }
        HostCmd::Crud(Crud::Create { fields }) => {
            let body = host_request(ctx, None, fields)?;
            created(ctx, "/v1/rccp/host/create", &body)
        }
        HostCmd::Crud(Crud::Edit { target, fields }) => {
            let id = id_of(&mut ctx.s, &HOSTS, &target)?;
            let body = host_request(ctx, Some(id), fields)?;
            let d: Option<Value> = ctx.s.call(Method::PUT, "/v1/rccp/host/edit", &body)?;
            done(ctx, &format!("host edit {target}"), &d)
        }
        HostCmd::Crud(Crud::Delete { target }) => simple(
            ctx,
            &HOSTS,
            &target,
            Method::POST,
            "/v1/rccp/host/delete",
            "host delete",
        ),
        HostCmd::SimDown { host } => sim(ctx, &host, "down"),
        HostCmd::SimUp { host } => sim(ctx, &host, "up"),
    }
}

fn sim(ctx: &mut Ctx, host: &str, verb: &str) -> Outcome {
    let id = id_of(&mut ctx.s, &HOSTS, host)?;
    let d: Option<Value> =
        ctx.s
            .call(Method::PUT, &format!("/v1/sim/host/{id}:{verb}"), &Empty {})?;
    done(ctx, &format!("host {host} {verb}"), &d)
}

fn pool_request(ctx: &mut Ctx, id: Option<String>, f: PoolFields) -> Outcome<StoragePoolRequest> {
    Ok(StoragePoolRequest {
        id,
        name: f.name,
        cluster_id: cluster_id(ctx, f.cluster)?,
        directory: f.directory,
        capacity: f.capacity,
        redundancy_strategy: f.redundancy,
        storage_pool_health_state: f.health,
    })
}

pub fn run_pool(ctx: &mut Ctx, cmd: Crud<PoolFields>) -> Outcome {
    match cmd {
        Crud::List { list } => {
            let q = list.query(&[])?;
            let cols = Columns {
                table: &[
                    "name",
                    "storage_pool_health_state",
                    "used_capacity",
                    "total_capacity",
                ],
                wide: &["id", "cluster_id", "redundancy_strategy", "directory"],
            };
            list_and_print::<StoragePoolItem>(ctx, &POOLS, &q, list.all, &cols)
        }
        Crud::Create { fields } => {
            let body = pool_request(ctx, None, fields)?;
            created(ctx, "/v1/rccp/storage_pool/create", &body)
        }
        Crud::Edit { target, fields } => {
            let id = id_of(&mut ctx.s, &POOLS, &target)?;
            let body = pool_request(ctx, Some(id), fields)?;
            let d: Option<Value> = ctx
                .s
                .call(Method::PUT, "/v1/rccp/storage_pool/edit", &body)?;
            done(ctx, &format!("pool edit {target}"), &d)
        }
        Crud::Delete { target } => simple(
            ctx,
            &POOLS,
            &target,
            Method::POST,
            "/v1/rccp/storage_pool/delete",
            "pool delete",
        ),
    }
}

pub fn run_terminal(ctx: &mut Ctx, cmd: TerminalCmd) -> Outcome {
    match cmd {
        TerminalCmd::Stats => {
            let d: TerminalStatistics =
                ctx.s
                    .call(Method::PUT, "/v1/terminal/statistics", &Empty {})?;
            output::one(&d, ctx.format)
        }
        TerminalCmd::Register {
            terminal_id,
            category,
            name,
            ip,
            mac,
        } => {
            let body = TerminalRegisterRequest {
                terminal_id,
                terminal_name: name,
                terminal_category: category,
                ip,
                mac,
            };
            let d: TerminalRegisterData =
                ctx.s.call(Method::POST, "/v1/terminal/register", &body)?;
            output::one(&d, ctx.format)
        }
        TerminalCmd::Heartbeat { terminal_id } => {
            let d: Option<Value> = ctx.s.call(
                Method::POST,
                "/v1/terminal/heartbeat",
                &TerminalHeartbeatRequest { terminal_id },
            )?;
            done(ctx, "terminal heartbeat", &d)
        }
    }
}
