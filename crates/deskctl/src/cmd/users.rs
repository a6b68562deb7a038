//! `deskctl user …` and `deskctl group …` (chapter 6.2).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use deskd_wire::envelope::{Empty, TaskIdData};
use deskd_wire::ids::UserId;
use deskd_wire::user::{
    ChangeGroupRequest, ChangePasswordData, ChangePasswordRequest, CreateGroupData,
    CreateGroupRequest, CreateUserRequest, EditUserRequest, ExistData, GlobalStrategy, GroupNode,
    GroupTreeData, LoginData, LoginRequest, PasswordKeyData, UserBatchRequest, UserDesktop,
    UserDesktopRequest, UserDetail, UserDetailRequest, UserItem, UserNameRequest, UserRef,
};
use reqwest::Method;
use serde_json::Value;

use super::{col, done, list_and_print, read_csv, Ctx, ListArgs};
use crate::client::{read_password, Session};
use crate::error::{Failure, Outcome};
use crate::output::{self, Columns};
use crate::resources::{self as res, eq, resolve, USERS};
use crate::tasks::{self, Started};

const COLUMNS: Columns = Columns {
    table: &[
        "user_name",
        "real_name",
        "user_state",
        "group_path",
        "desktop_num",
    ],
    wide: &[
        "id",
        "user_type",
        "email",
        "phone_num",
        "lock",
        "invalid",
        "last_login_time",
    ],
};

/// The user fields create and edit share.
#[derive(Args, Debug, Default)]
pub struct UserFields {
    #[arg(long)]
    real_name: Option<String>,
    #[arg(long)]
    phone: Option<String>,
    #[arg(long)]
    email: Option<String>,
    #[arg(long)]
    description: Option<String>,
    /// epoch ms
    #[arg(long)]
    account_expire_date: Option<i64>,
    /// days
    #[arg(long)]
    invalid_time: Option<i64>,
}

#[derive(Subcommand, Debug)]
pub enum UserCmd {
    /// List users (6.2.x, paged).
    List {
        /// Only users in these states (comma-separated).
        #[arg(long, value_delimiter = ',')]
        state: Vec<String>,
        /// Only this group's users (group id).
        #[arg(long)]
        group_id: Option<String>,
        #[command(flatten)]
        list: ListArgs,
    },
    /// Show one user (name or id).
    Show { user: String },
    /// Whether a user name exists.
    Exists { name: String },
    /// Create a user (its groups are created as needed). Password: DESKCTL_USER_PASSWORD or a prompt.
    Create {
        name: String,
        /// Group path, e.g. `/school/class-1`.
        #[arg(long)]
        group: String,
        /// NORMAL | AD | LDAP | VISITOR
        #[arg(long = "type")]
        user_type: Option<String>,
        /// Create without a password.
        #[arg(long)]
        no_password: bool,
        #[command(flatten)]
        fields: UserFields,
        #[arg(long)]
        wait: bool,
    },
    /// Create one user per row of a CSV file (user_name, group, and optionally password,
    /// real_name, phone, email, type, description).
    Import {
        file: PathBuf,
        #[arg(long)]
        wait: bool,
    },
    /// Edit a user.
    Edit {
        user: String,
        #[command(flatten)]
        fields: UserFields,
        #[arg(long)]
        wait: bool,
    },
    /// Delete a user that owns no desks.
    Delete { user: String },
    /// Enable users.
    Enable {
        #[arg(required = true)]
        users: Vec<String>,
        #[arg(long)]
        wait: bool,
    },
    /// Disable users.
    Disable {
        #[arg(required = true)]
        users: Vec<String>,
        #[arg(long)]
        wait: bool,
    },
    /// Change a user's password (DESKCTL_OLD_PASSWORD / DESKCTL_NEW_PASSWORD, or prompts).
    Passwd { user: String },
    /// Move users to another group.
    Move {
        #[arg(required = true)]
        users: Vec<String>,
        /// Group path.
        #[arg(long)]
        group: String,
    },
    /// A user's desks, as a terminal lists them.
    Desktops {
        user: String,
        #[arg(long)]
        terminal: Option<String>,
        /// VDI, IDV, TCI (comma-separated; default all).
        #[arg(long, value_delimiter = ',')]
        category: Vec<String>,
    },
    /// Sign a desktop user in as a terminal does (password: DESKCTL_USER_PASSWORD or a prompt).
    Signin {
        user: String,
        #[arg(long)]
        terminal: Option<String>,
    },
    /// The global user strategy: show it, or replace it from a JSON file.
    GlobalStrategy {
        /// JSON file of the whole strategy (as `-o json` prints it).
        #[arg(long)]
        set: Option<PathBuf>,
    },
    /// The password-encryption key (DECISIONS D6); `--rotate` replaces it.
    PasswordKey {
        #[arg(long)]
        rotate: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum GroupCmd {
    /// The group tree.
    List,
    /// Create a group.
    Create {
        name: String,
        /// Parent group id (default: the root).
        #[arg(long)]
        parent: Option<String>,
    },
}

/// The user name a name or id stands for.
fn user_name(s: &mut Session, user: &str) -> Outcome<String> {
    res::field(&resolve(s, &USERS, user)?, "user_name")
}

fn user_password(prompt_for: &str) -> Outcome<String> {
    if let Ok(p) = std::env::var("DESKCTL_USER_PASSWORD") {
        return Ok(p);
    }
    read_password(prompt_for)
}

fn env_or_prompt(var: &str, what: &str) -> Outcome<String> {
    match std::env::var(var) {
        Ok(v) => Ok(v),
        Err(_) => read_password(what),
    }
}

fn edit_request(user_name: String, f: UserFields) -> EditUserRequest {
    EditUserRequest {
        user_name,
        real_name: f.real_name,
        primary_certification: None,
        assist_certification: None,
        description: f.description,
        phone_num: f.phone,
        email: f.email,
        account_expire_date: f.account_expire_date,
        invalid_time: f.invalid_time,
    }
}

fn create_request(
    name: String,
    group: String,
    user_type: Option<String>,
    password: Option<String>,
    f: UserFields,
) -> CreateUserRequest {
    CreateUserRequest {
        user_name: name,
        user_group_name: group,
        real_name: f.real_name,
        password,
        phone_num: f.phone,
        email: f.email,
        user_type,
        login_identity_level: None,
        primary_certification: None,
        assist_certification: None,
        description: f.description,
        account_expire_date: f.account_expire_date,
        invalid_time: f.invalid_time,
    }
}

fn batch(ctx: &mut Ctx, users: &[String], path: &str, verb: &str, wait: bool) -> Outcome {
    let mut names = Vec::new();
    for u in users {
        names.push(UserRef::Name(user_name(&mut ctx.s, u)?));
    }
    let t: TaskIdData = ctx
        .s
        .call(Method::POST, path, &UserBatchRequest { user_arr: names })?;
    tasks::finish(
        &mut ctx.s,
        vec![Started {
            task_id: t.task_id,
            what: format!("user {verb}"),
        }],
        wait,
    )
}

pub fn run(ctx: &mut Ctx, cmd: UserCmd) -> Outcome {
    match cmd {
        UserCmd::List {
            state,
            group_id,
            list,
        } => {
            let mut q = list.query(&[])?;
            if !state.is_empty() {
                q.match_arr.push(eq(
                    "userState",
                    state.into_iter().map(Value::String).collect(),
                ));
            }
            if let Some(g) = group_id {
                q.match_arr.push(eq("groupId", vec![Value::String(g)]));
            }
            list_and_print::<UserItem>(ctx, &USERS, &q, list.all, &COLUMNS)
        }
        UserCmd::Show { user } => {
            let item = resolve(&mut ctx.s, &USERS, &user)?;
            let body = UserDetailRequest {
                user_id: Some(UserId::from(res::field(&item, "id")?)),
                user_name: None,
            };
            let d: UserDetail = ctx.s.call(Method::POST, "/v1/user/detail", &body)?;
            output::one(&d, ctx.format)
        }
        UserCmd::Exists { name } => {
            let d: ExistData = ctx.s.call(
                Method::POST,
                "/v1/user/exist",
                &UserNameRequest { user_name: name },
            )?;
            output::one(&d, ctx.format)
        }
        UserCmd::Create {
            name,
            group,
            user_type,
            no_password,
            fields,
            wait,
        } => {
            let password = if no_password {
                None
            } else {
                Some(user_password(&name)?)
            };
            let body = create_request(name.clone(), group, user_type, password, fields);
            let t: TaskIdData = ctx.s.call(Method::POST, "/v1/user/create", &body)?;
            tasks::finish(
                &mut ctx.s,
                vec![Started {
                    task_id: t.task_id,
                    what: format!("user create {name}"),
                }],
                wait,
            )
        }
        UserCmd::Import { file, wait } => import(ctx, &file, wait),
        UserCmd::Edit { user, fields, wait } => {
            let name = user_name(&mut ctx.s, &user)?;
            let t: TaskIdData =
                ctx.s
                    .call(Method::POST, "/v1/user/edit", &edit_request(name, fields))?;
            tasks::finish(
                &mut ctx.s,
                vec![Started {
                    task_id: t.task_id,
                    what: format!("user edit {user}"),
                }],
                wait,
            )
        }
        UserCmd::Delete { user } => {
            let name = user_name(&mut ctx.s, &user)?;
            let r: Option<Value> = ctx.s.call(
                Method::POST,
                "/v1/user/delete",
                &UserNameRequest { user_name: name },
            )?;
            done(ctx, &format!("user delete {user}"), &r)
        }
        UserCmd::Enable { users, wait } => {
            batch(ctx, &users, "/v1/user/batch/enableUser", "enable", wait)
        }
        UserCmd::Disable { users, wait } => {
            batch(ctx, &users, "/v1/user/batch/disableUser", "disable", wait)
        }
        UserCmd::Passwd { user } => {
            let name = user_name(&mut ctx.s, &user)?;
            let body = ChangePasswordRequest {
                old_password: env_or_prompt("DESKCTL_OLD_PASSWORD", &format!("{name} (current)"))?,
                new_password: env_or_prompt("DESKCTL_NEW_PASSWORD", &format!("{name} (new)"))?,
                user_name: name,
            };
            let d: ChangePasswordData =
                ctx.s.call(Method::PUT, "/v1/user/modify:password", &body)?;
            output::one(&d, ctx.format)
        }
        UserCmd::Move { users, group } => {
            let mut names = Vec::new();
            for u in &users {
                names.push(user_name(&mut ctx.s, u)?);
            }
            let body = ChangeGroupRequest {
                user_name_arr: names,
                user_group_name: Some(group),
                user_group_id: None,
            };
            let r: Option<Value> = ctx
                .s
                .call(Method::PUT, "/v1/user/modify:usergroup", &body)?;
            done(ctx, "user move", &r)
        }
        UserCmd::Desktops {
            user,
            terminal,
            category,
        } => {
            let body = UserDesktopRequest {
                user_name: user_name(&mut ctx.s, &user)?,
                terminal_id: terminal,
                desktop_category_list: category,
            };
            let d: Vec<UserDesktop> = ctx.s.call(Method::POST, "/v1/user/desktop/list", &body)?;
            output::list(
                &d,
                ctx.format,
                &Columns {
                    table: &["desktop_name", "desktop_state", "desktop_category", "ip"],
                    wide: &[
                        "desktop_id",
                        "image_name",
                        "os_name",
                        "proxy_ip",
                        "proxy_port",
                    ],
                },
            )
        }
        UserCmd::Signin { user, terminal } => {
            let body = LoginRequest {
                password: Some(user_password(&user)?),
                user_name: user,
                terminal_id: terminal,
                desktop_category_list: Vec::new(),
            };
            let d: LoginData = ctx.s.call(Method::POST, "/v1/user/login", &body)?;
            output::one(&d, ctx.format)
        }
        UserCmd::GlobalStrategy { set: None } => {
            let d: GlobalStrategy =
                ctx.s
                    .call(Method::POST, "/v1/user/globalStrategy/detail", &Empty {})?;
            output::one(&d, ctx.format)
        }
        UserCmd::GlobalStrategy { set: Some(file) } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| Failure::usage(format!("{}: {e}", file.display())))?;
            let body: GlobalStrategy = serde_json::from_str(&text)
                .map_err(|e| Failure::usage(format!("{}: {e}", file.display())))?;
            let d: GlobalStrategy =
                ctx.s
                    .call(Method::PUT, "/v1/user/globalStrategy/edit", &body)?;
            output::one(&d, ctx.format)
        }
        UserCmd::PasswordKey { rotate } => {
            let path = if rotate {
                "/v1/user/passwordKey:rotate"
            } else {
                "/v1/user/passwordKey"
            };
            let d: PasswordKeyData = ctx.s.call(Method::POST, path, &Empty {})?;
            output::one(&d, ctx.format)
        }
    }
}

/// `user import FILE`: one create per row; a row the server refuses fails alone, and with
/// `--wait` each created row reports its task's outcome.
fn import(ctx: &mut Ctx, file: &std::path::Path, wait: bool) -> Outcome {
    let rows = read_csv(file)?;
    let mut started = Vec::new();
    let mut bad = 0;
    for (line, r) in &rows {
        let (Some(name), Some(group)) = (
            col(r, &["user_name", "name", "user"]),
            col(r, &["group", "user_group_name"]),
        ) else {
            bad += 1;
            eprintln!(
                "{} line {line}: FAILURE needs user_name and group",
                file.display()
            );
            continue;
        };
        let fields = UserFields {
            real_name: col(r, &["real_name"]).map(str::to_string),
            phone: col(r, &["phone", "phone_num"]).map(str::to_string),
            email: col(r, &["email"]).map(str::to_string),
            description: col(r, &["description"]).map(str::to_string),
            ..UserFields::default()
        };
        let body = create_request(
            name.to_string(),
            group.to_string(),
            col(r, &["type", "user_type"]).map(str::to_string),
            col(r, &["password"]).map(str::to_string),
            fields,
        );
        match ctx
            .s
            .call::<_, TaskIdData>(Method::POST, "/v1/user/create", &body)
        {
            Ok(t) => started.push(Started {
                task_id: t.task_id,
                what: format!("line {line} user create {name}"),
            }),
            Err(Failure::Refused { code, message, .. }) => {
                bad += 1;
                eprintln!(
                    "{} line {line}: FAILURE code {code}: {message}",
                    file.display()
                );
            }
            Err(e) => return Err(e),
        }
    }
    let sent = started.len();
    let r = tasks::finish(&mut ctx.s, started, wait);
    eprintln!("{sent} row(s) accepted, {bad} refused");
    match r {
        Ok(()) if bad > 0 => tasks::conclude(bad),
        other => other,
    }
}

fn print_tree(nodes: &[GroupNode], depth: usize) {
    for n in nodes {
        println!("{}{}  ({})", "  ".repeat(depth), n.label, n.id);
        print_tree(&n.children, depth + 1);
    }
}

pub fn run_group(ctx: &mut Ctx, cmd: GroupCmd) -> Outcome {
    match cmd {
        GroupCmd::List => {
            let d: GroupTreeData = ctx.s.get("/v1/usergroup/list")?;
            if ctx.format == output::Format::Table || ctx.format == output::Format::Wide {
                print_tree(&d.item_arr, 0);
                Ok(())
            } else {
                output::list(
                    &d.item_arr,
                    ctx.format,
                    &Columns {
                        table: &[],
                        wide: &[],
                    },
                )
            }
        }
        GroupCmd::Create { name, parent } => {
            let body = CreateGroupRequest {
                name,
                parent_id: parent,
                account_expire_date: None,
                invalid_time: None,
            };
            let d: CreateGroupData = ctx.s.call(Method::POST, "/v1/usergroup/create", &body)?;
            output::one(&d, ctx.format)
        }
    }
}
