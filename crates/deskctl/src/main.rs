//! `deskctl`: the command-line client of deskd. Resources are nouns, actions verbs; every
//! request and reply is a `deskd-wire` type, the same the server uses.

mod cli;
mod client;
mod cmd;
mod config;
mod error;
mod output;
mod resources;
mod tasks;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use crate::cli::{Cli, Cmd};
use crate::client::{read_password, Connect, Session};
use crate::cmd::Ctx;
use crate::error::{Failure, Outcome};

fn main() -> ExitCode {
    // Die quietly when stdout is a closed pipe (`deskctl desk list | head`), as other tools do.
    // SAFETY: called first thing, before any thread exists; restores the default disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("deskctl: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(cli: Cli) -> Outcome {
    let connect = Connect {
        server: cli.server.clone(),
        insecure: cli.insecure,
        ca_file: cli.ca_file.clone(),
    };
    match cli.cmd {
        Cmd::Completion { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "deskctl",
                &mut std::io::stdout(),
            );
            return Ok(());
        }
        Cmd::Man => {
            clap_mangen::Man::new(Cli::command())
                .render(&mut std::io::stdout())
                .map_err(|e| Failure::usage(e.to_string()))?;
            return Ok(());
        }
        Cmd::Profiles => return profiles(cli.output),
        _ => {}
    }
    let mut s = Session::open(&cli.profile, &connect)?;
    match cli.cmd {
        Cmd::Login { user } => {
            let user = user
                .or_else(|| Some(s.profile.user.clone()).filter(|u| !u.is_empty()))
                .ok_or_else(|| Failure::usage("login needs --user NAME"))?;
            let password = read_password(&user)?;
            let t = s.login(&user, &password)?;
            println!(
                "logged in to {} as {user} (profile {}, token valid {} s)",
                s.profile.server, s.name, t.expires_in
            );
            return Ok(());
        }
        Cmd::Logout => {
            s.logout()?;
            println!("logged out of {} (profile {})", s.profile.server, s.name);
            return Ok(());
        }
        _ => {}
    }
    let mut ctx = Ctx {
        s,
        format: cli.output,
    };
    dispatch(&mut ctx, cli.cmd)
}

fn dispatch(ctx: &mut Ctx, cmd: Cmd) -> Outcome {
    use crate::cmd::{catalog, desk, fleet, monitor, users};
    match cmd {
        Cmd::Desk(c) => desk::run(ctx, c),
        Cmd::Task(c) => desk::run_task(ctx, c),
        Cmd::User(c) => users::run(ctx, c),
        Cmd::Group(c) => users::run_group(ctx, c),
        Cmd::Image(c) => catalog::run_image(ctx, c),
        Cmd::Osfile(c) => catalog::run_osfile(ctx, c),
        Cmd::Strategy(c) => catalog::run_strategy(ctx, c),
        Cmd::Network(c) => catalog::run_network(ctx, c),
        Cmd::Cluster(c) => fleet::run_cluster(ctx, c),
        Cmd::Host(c) => fleet::run_host(ctx, c),
        Cmd::Pool(c) => fleet::run_pool(ctx, c),
        Cmd::Terminal(c) => fleet::run_terminal(ctx, c),
        Cmd::Metrics(c) => monitor::run(ctx, c),
        Cmd::Alerts => monitor::alerts(ctx),
        Cmd::Login { .. } | Cmd::Logout | Cmd::Profiles | Cmd::Completion { .. } | Cmd::Man => {
            Ok(())
        }
    }
}

/// `deskctl profiles`: name, server, user and whether the token is still valid (no tokens shown).
fn profiles(format: output::Format) -> Outcome {
    let cfg = config::Config::load()?;
    let now = client::now_ms();
    let rows: Vec<serde_json::Value> = cfg
        .profiles
        .iter()
        .map(|(name, p)| {
            serde_json::json!({
                "profile": name,
                "server": p.server,
                "user": p.user,
                "logged_in": p.token.is_some() && p.expire_time.is_some_and(|t| t > now),
                "expire_time": p.expire_time,
            })
        })
        .collect();
    output::list(
        &rows,
        format,
        &output::Columns {
            table: &["profile", "server", "user", "logged_in"],
            wide: &["expire_time"],
        },
    )
}
