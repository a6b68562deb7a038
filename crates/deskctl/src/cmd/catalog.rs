//! What desks are made from: `image`, `osfile`, `strategy`, `network` (6.3, 6.4, 6.1.16 and
//! their extensions).

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use clap::{Args, Subcommand};
use deskd_wire::ids::ImageId;
use deskd_wire::inventory::{
    IdData, IdRequest, ImageCreateRequest, ImageEditRequest, ImageItem, ImagePublishRequest,
    InventoryTaskData, NetworkItem, NetworkRequest, StrategyRequest,
};
use deskd_wire::os_file::{OsFileItem, UploadParams};
use deskd_wire::strategy::StrategyItem;
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Method;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{done, list_and_print, Ctx, ListArgs};
use crate::error::{Failure, Outcome};
use crate::output::Columns;
use crate::resources::{self as res, id_of, IMAGES, NETWORKS, OS_FILES, POOLS, STRATEGIES};
use crate::tasks::{self, Started};

#[derive(Args, Debug, Default)]
pub struct ImageFields {
    /// NAME of the image.
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    cpu: Option<i64>,
    /// GB
    #[arg(long)]
    memory: Option<i64>,
    /// GB
    #[arg(long)]
    system_size: Option<i64>,
    #[arg(long)]
    note: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum ImageCmd {
    /// List image versions.
    List {
        #[command(flatten)]
        list: ListArgs,
    },
    /// Build an image from an OS file.
    Create {
        /// OS file (name or id).
        #[arg(long)]
        os_file: String,
        /// VDI | IDV | TCI
        #[arg(long = "type")]
        image_type: Option<String>,
        /// Network (name or id).
        #[arg(long)]
        network: Option<String>,
        #[command(flatten)]
        fields: ImageFields,
        #[arg(long)]
        wait: bool,
    },
    /// Publish the next version of an image.
    Publish {
        image: String,
        /// OS file of the new version (name or id).
        #[arg(long)]
        os_file: Option<String>,
        #[command(flatten)]
        fields: ImageFields,
        #[arg(long)]
        wait: bool,
    },
    /// Edit an image version.
    Edit {
        image: String,
        #[arg(long)]
        network: Option<String>,
        #[command(flatten)]
        fields: ImageFields,
        #[arg(long)]
        wait: bool,
    },
    /// Let desks be created from a disabled version again.
    Enable { image: String },
    /// No new desks from this version.
    Disable { image: String },
    /// Delete a version no desk uses.
    Delete {
        image: String,
        #[arg(long)]
        wait: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum OsFileCmd {
    /// List OS files.
    List {
        #[command(flatten)]
        list: ListArgs,
    },
    /// Upload a QCOW2 or ISO file into a storage pool (a progress bar on a terminal). The API
    /// takes the file in one request and drops a partial upload, so a failed upload is sent
    /// again from the start.
    Upload {
        file: PathBuf,
        /// Storage pool (name or id).
        #[arg(long)]
        pool: String,
        /// WIN_10_64, UBUNTU_64, … (the document's OsName).
        #[arg(long)]
        os_name: String,
        /// QCOW2 | ISO (default: from the file's extension).
        #[arg(long)]
        format: Option<String>,
        /// SYSTEM | DATA
        #[arg(long)]
        disk_type: Option<String>,
        /// Name on the server (default: the file's name).
        #[arg(long)]
        name: Option<String>,
    },
    /// Delete an OS file no image is built on.
    Delete { os_file: String },
}

/// Flags of strategy create and edit.
#[derive(Args, Debug, Default)]
pub struct StrategyFields {
    #[arg(long)]
    name: Option<String>,
    /// VDI | IDV | TCI
    #[arg(long)]
    category: Option<String>,
    /// PERSONAL | RECOVERABLE | APP_LAYER
    #[arg(long = "type")]
    desk_type: Option<String>,
    #[arg(long)]
    cpu: Option<i64>,
    #[arg(long)]
    memory: Option<i64>,
    #[arg(long)]
    system_disk: Option<i64>,
    #[arg(long)]
    data_disk: Option<i64>,
    #[arg(long)]
    agreement_agency: Option<bool>,
    #[arg(long)]
    description: Option<String>,
}

/// Flags of network create and edit.
#[derive(Args, Debug, Default)]
pub struct NetworkFields {
    #[arg(long)]
    name: Option<String>,
    /// Cluster (name or id).
    #[arg(long)]
    cluster: Option<String>,
    #[arg(long)]
    cidr: Option<String>,
    #[arg(long)]
    gateway: Option<String>,
    #[arg(long)]
    dns_primary: Option<String>,
    #[arg(long)]
    dns_secondary: Option<String>,
    #[arg(long)]
    vlan: Option<i64>,
    #[arg(long)]
    pool_start: Option<String>,
    #[arg(long)]
    pool_end: Option<String>,
}

/// create | edit | delete | list of a resource whose request is one flat object.
#[derive(Subcommand, Debug)]
pub enum Crud<F: Args> {
    /// List them.
    List {
        #[command(flatten)]
        list: ListArgs,
    },
    /// Create one.
    Create {
        #[command(flatten)]
        fields: F,
    },
    /// Edit one (name or id); flags left out keep their value.
    Edit {
        target: String,
        #[command(flatten)]
        fields: F,
    },
    /// Delete one (name or id).
    Delete { target: String },
}

const IMAGE_COLUMNS: Columns = Columns {
    table: &[
        "image_name",
        "version",
        "image_state",
        "os_name",
        "newest_version",
    ],
    wide: &[
        "id",
        "image_type",
        "cpu",
        "memory",
        "image_system_size",
        "storage_pool_id",
        "cloud_desktop_num_of_personal",
    ],
};

fn task(ctx: &mut Ctx, t: InventoryTaskData, what: String, wait: bool) -> Outcome {
    println!("{what}: {}", t.id);
    tasks::finish(
        &mut ctx.s,
        vec![Started {
            task_id: t.task_id,
            what,
        }],
        wait,
    )
}

pub fn run_image(ctx: &mut Ctx, cmd: ImageCmd) -> Outcome {
    match cmd {
        ImageCmd::List { list } => {
            let q = list.query(&[])?;
            list_and_print::<ImageItem>(ctx, &IMAGES, &q, list.all, &IMAGE_COLUMNS)
        }
        ImageCmd::Create {
            os_file,
            image_type,
            network,
            fields,
            wait,
        } => {
            let body = ImageCreateRequest {
                image_name: fields
                    .name
                    .clone()
                    .ok_or_else(|| Failure::usage("image create needs --name"))?,
                os_file_id: os_file_id(ctx, &os_file)?,
                image_type,
                cpu: fields.cpu,
                memory: fields.memory,
                image_system_size: fields.system_size,
                network_id: network
                    .map(|n| id_of(&mut ctx.s, &NETWORKS, &n))
                    .transpose()?,
                note: fields.note,
            };
            let t: InventoryTaskData = ctx.s.call(Method::POST, "/v1/image/create", &body)?;
            task(ctx, t, "image create".into(), wait)
        }
        ImageCmd::Publish {
            image,
            os_file,
            fields,
            wait,
        } => {
            let body = ImagePublishRequest {
                id: ImageId::from(id_of(&mut ctx.s, &IMAGES, &image)?),
                image_name: fields.name,
                os_file_id: os_file.map(|f| os_file_id(ctx, &f)).transpose()?,
                cpu: fields.cpu,
                memory: fields.memory,
                image_system_size: fields.system_size,
                note: fields.note,
            };
            let t: InventoryTaskData = ctx.s.call(Method::POST, "/v1/image/publish", &body)?;
            task(ctx, t, format!("image publish {image}"), wait)
        }
        ImageCmd::Edit {
            image,
            network,
            fields,
            wait,
        } => {
            let body = ImageEditRequest {
                id: ImageId::from(id_of(&mut ctx.s, &IMAGES, &image)?),
                image_name: fields.name,
                cpu: fields.cpu,
                memory: fields.memory,
                image_system_size: fields.system_size,
                network_id: network
                    .map(|n| id_of(&mut ctx.s, &NETWORKS, &n))
                    .transpose()?,
                note: fields.note,
            };
            let t: InventoryTaskData = ctx.s.call(Method::PUT, "/v1/image/edit", &body)?;
            task(ctx, t, format!("image edit {image}"), wait)
        }
        ImageCmd::Enable { image } => simple(
            ctx,
            &IMAGES,
            &image,
            Method::PUT,
            "/v1/image/enable",
            "image enable",
        ),
        ImageCmd::Disable { image } => simple(
            ctx,
            &IMAGES,
            &image,
            Method::PUT,
            "/v1/image/disable",
            "image disable",
        ),
        ImageCmd::Delete { image, wait } => {
            let body = IdRequest {
                id: id_of(&mut ctx.s, &IMAGES, &image)?,
            };
            let t: InventoryTaskData = ctx.s.call(Method::POST, "/v1/image/delete", &body)?;
            task(ctx, t, format!("image delete {image}"), wait)
        }
    }
}

/// A call whose body is `{"id": …}` of a resolved name, answering no task.
pub fn simple(
    ctx: &mut Ctx,
    r: &res::Resource,
    target: &str,
    m: Method,
    path: &str,
    what: &str,
) -> Outcome {
    let body = IdRequest {
        id: id_of(&mut ctx.s, r, target)?,
    };
    let d: Option<Value> = ctx.s.call(m, path, &body)?;
    done(ctx, &format!("{what} {target}"), &d)
}

/// An OS file by name (its list has no id filter, so an id is checked against the list).
fn os_file_id(ctx: &mut Ctx, reference: &str) -> Outcome<String> {
    match res::resolve(&mut ctx.s, &OS_FILES, reference) {
        Ok(item) => res::field(&item, "id"),
        Err(Failure::Usage(m)) => {
            let all: Vec<OsFileItem> = res::all(&mut ctx.s, &OS_FILES, &Default::default())?;
            all.into_iter()
                .find(|f| f.id == reference)
                .map(|f| f.id)
                .ok_or(Failure::Usage(m))
        }
        Err(e) => Err(e),
    }
}

/// Hashes a file (SHA-256), showing progress on a terminal.
fn sha256_of(path: &std::path::Path, len: u64, bar: &Option<ProgressBar>) -> Outcome<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    if let Some(b) = bar {
        b.set_length(len);
        b.set_message("hashing");
    }
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        if let Some(b) = bar {
            b.inc(n as u64);
        }
    }
    Ok(hex::encode(h.finalize()))
}

fn upload(
    ctx: &mut Ctx,
    file: PathBuf,
    pool: String,
    os_name: String,
    format: Option<String>,
    disk_type: Option<String>,
    name: Option<String>,
) -> Outcome {
    let meta =
        std::fs::metadata(&file).map_err(|e| Failure::usage(format!("{}: {e}", file.display())))?;
    let len = meta.len();
    let ext = file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_uppercase();
    let format = match format {
        Some(f) => f,
        None if ext == "QCOW2" || ext == "ISO" => ext,
        None => {
            return Err(Failure::usage(format!(
                "{}: say --format QCOW2 or ISO",
                file.display()
            )))
        }
    };
    let name = match name {
        Some(n) => n,
        None => file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("upload")
            .to_string(),
    };
    let pool_id = id_of(&mut ctx.s, &POOLS, &pool)?;
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = ProgressBar::new(len);
        b.set_style(
            ProgressStyle::with_template(
                "{msg:9} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        b
    });
    let sha256 = sha256_of(&file, len, &bar)?;
    let params = UploadParams {
        name,
        format,
        disk_type,
        os_name,
        size: Some(i64::try_from(len).map_err(|_| Failure::usage("file too large"))?),
        sha256,
        storage_pool_id: pool_id,
    };
    let f = std::fs::File::open(&file)?;
    let body = match &bar {
        Some(b) => {
            b.reset();
            b.set_message("uploading");
            reqwest::blocking::Body::sized(b.wrap_read(f), len)
        }
        None => reqwest::blocking::Body::sized(f, len),
    };
    let req = ctx
        .s
        .request(Method::POST, "/v1/osFile/upload", true)
        .query(&params)
        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
        .timeout(std::time::Duration::from_secs(24 * 3600))
        .body(body);
    let r: Outcome<IdData> = ctx.s.envelope("/v1/osFile/upload", req);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let d = r?;
    println!(
        "osfile {}: uploaded ({len} bytes, sha256 {})",
        d.id, params.sha256
    );
    Ok(())
}

pub fn run_osfile(ctx: &mut Ctx, cmd: OsFileCmd) -> Outcome {
    match cmd {
        OsFileCmd::List { list } => {
            let q = list.query(&[])?;
            let cols = Columns {
                table: &[
                    "image_file_name",
                    "image_file_state",
                    "cbb_image_format",
                    "os_name",
                    "image_file_size",
                ],
                wide: &[
                    "id",
                    "image_disk_type",
                    "virtual_size",
                    "storage_pool_id",
                    "sha256",
                ],
            };
            list_and_print::<OsFileItem>(ctx, &OS_FILES, &q, list.all, &cols)
        }
        OsFileCmd::Upload {
            file,
            pool,
            os_name,
            format,
            disk_type,
            name,
        } => upload(ctx, file, pool, os_name, format, disk_type, name),
        OsFileCmd::Delete { os_file } => {
            let body = IdRequest {
                id: os_file_id(ctx, &os_file)?,
            };
            let d: Option<Value> = ctx.s.call(Method::POST, "/v1/osFile/delete", &body)?;
            done(ctx, &format!("osfile delete {os_file}"), &d)
        }
    }
}

fn strategy_request(id: Option<String>, f: StrategyFields) -> StrategyRequest {
    StrategyRequest {
        id,
        desk_strategy_name: f.name,
        desk_category: f.category,
        desk_type: f.desk_type,
        cpu_cores: f.cpu,
        memory: f.memory,
        system_disk: f.system_disk,
        data_disk: f.data_disk,
        enable_agreement_agency: f.agreement_agency,
        description: f.description,
    }
}

pub fn run_strategy(ctx: &mut Ctx, cmd: Crud<StrategyFields>) -> Outcome {
    let path = "/v1/desk_strategy";
    match cmd {
        Crud::List { list } => {
            let q = list.query(&[])?;
            let cols = Columns {
                table: &[
                    "desk_strategy_name",
                    "desk_category",
                    "desk_type",
                    "cpu_cores",
                    "memory",
                    "system_disk",
                    "desk_num",
                ],
                wide: &["id", "data_disk", "enable_agreement_agency", "description"],
            };
            list_and_print::<StrategyItem>(ctx, &STRATEGIES, &q, list.all, &cols)
        }
        Crud::Create { fields } => created(
            ctx,
            &format!("{path}/create"),
            &strategy_request(None, fields),
        ),
        Crud::Edit { target, fields } => {
            let id = id_of(&mut ctx.s, &STRATEGIES, &target)?;
            let d: Option<Value> = ctx.s.call(
                Method::PUT,
                &format!("{path}/edit"),
                &strategy_request(Some(id), fields),
            )?;
            done(ctx, &format!("strategy edit {target}"), &d)
        }
        Crud::Delete { target } => simple(
            ctx,
            &STRATEGIES,
            &target,
            Method::POST,
            "/v1/desk_strategy/delete",
            "strategy delete",
        ),
    }
}

/// A create answering `{"id": …}`.
pub fn created<B: serde::Serialize>(ctx: &mut Ctx, path: &str, body: &B) -> Outcome {
    let d: IdData = ctx.s.call(Method::POST, path, body)?;
    println!("{}", d.id);
    Ok(())
}

fn network_request(ctx: &mut Ctx, id: Option<String>, f: NetworkFields) -> Outcome<NetworkRequest> {
    Ok(NetworkRequest {
        id,
        desk_network_name: f.name,
        cluster_id: f
            .cluster
            .map(|c| id_of(&mut ctx.s, &res::CLUSTERS, &c))
            .transpose()?,
        ip_cidr: f.cidr,
        gateway: f.gateway,
        dns_primary: f.dns_primary,
        dns_secondary: f.dns_secondary,
        vlan: f.vlan,
        ip_pool_start: f.pool_start,
        ip_pool_end: f.pool_end,
    })
}

pub fn run_network(ctx: &mut Ctx, cmd: Crud<NetworkFields>) -> Outcome {
    match cmd {
        Crud::List { list } => {
            let q = list.query(&[])?;
            let cols = Columns {
                table: &[
                    "desk_network_name",
                    "desk_network_state",
                    "ip_cidr",
                    "gateway",
                    "ref_count",
                    "total_count",
                ],
                wide: &[
                    "id",
                    "vlan",
                    "ip_pool_start",
                    "ip_pool_end",
                    "dns_primary",
                    "cluster_id_list",
                ],
            };
            list_and_print::<NetworkItem>(ctx, &NETWORKS, &q, list.all, &cols)
        }
        Crud::Create { fields } => {
            let body = network_request(ctx, None, fields)?;
            created(ctx, "/v1/desk_network/create", &body)
        }
        Crud::Edit { target, fields } => {
            let id = id_of(&mut ctx.s, &NETWORKS, &target)?;
            let body = network_request(ctx, Some(id), fields)?;
            let d: Option<Value> = ctx.s.call(Method::PUT, "/v1/desk_network/edit", &body)?;
            done(ctx, &format!("network edit {target}"), &d)
        }
        Crud::Delete { target } => simple(
            ctx,
            &NETWORKS,
            &target,
            Method::POST,
            "/v1/desk_network/delete",
            "network delete",
        ),
    }
}
