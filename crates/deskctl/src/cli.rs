//! The command line: global flags, then a noun and a verb (`deskctl desk start lab-01`).
//! Completions and the man page are generated from this definition.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::cmd::catalog::{Crud, ImageCmd, NetworkFields, OsFileCmd, StrategyFields};
use crate::cmd::desk::{DeskCmd, TaskCmd};
use crate::cmd::fleet::{ClusterCmd, HostCmd, PoolFields, TerminalCmd};
use crate::cmd::monitor::MetricsCmd;
use crate::cmd::users::{GroupCmd, UserCmd};
use crate::output::Format;

/// The exit codes, shown under `--help` and in the man page.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  success (with --wait: every item of every task succeeded)
  1  refused by the server: its code and message are printed on stderr
     (code 22000429 also says how many seconds to wait before retrying)
  2  usage: bad arguments, an unreadable input file, a name that matches nothing, no login
  3  cannot reach the server (connection, TLS, or a reply that is not deskd's)
  4  a task ended with failures, or rows of a batch were refused

A desk, user, image, host, strategy, network, cluster or pool is named by its name or its id.
The password is read from DESKCTL_PASSWORD, else asked on the terminal.";

#[derive(Parser, Debug)]
#[command(
    name = "deskctl",
    version,
    about = "Command-line client of deskd, the cloud-desktop controller (RG-CDC OpenAPI v1)",
    after_help = EXIT_CODES
)]
pub struct Cli {
    /// Server URL (e.g. https://deskd.example:9390); remembered by `login`.
    #[arg(long, global = true, env = "DESKCTL_SERVER")]
    pub server: Option<String>,
    /// Named profile: a server and its login.
    #[arg(
        long,
        global = true,
        env = "DESKCTL_PROFILE",
        default_value = "default"
    )]
    pub profile: String,
    /// Accept any server certificate (self-signed deskd); remembered by `login`.
    #[arg(long, global = true)]
    pub insecure: bool,
    /// Trust this PEM certificate or CA; remembered by `login`.
    #[arg(long, global = true, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Format::Table)]
    pub output: Format,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Log in and keep the token in the profile (file mode 0600).
    Login {
        /// API account (default: the profile's).
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke the profile's token and forget it.
    Logout,
    /// The configured profiles.
    Profiles,
    /// Cloud desktops.
    #[command(subcommand)]
    Desk(DeskCmd),
    /// Asynchronous tasks.
    #[command(subcommand)]
    Task(TaskCmd),
    /// Desktop users.
    #[command(subcommand)]
    User(UserCmd),
    /// User groups.
    #[command(subcommand)]
    Group(GroupCmd),
    /// Image templates and their versions.
    #[command(subcommand)]
    Image(ImageCmd),
    /// OS files (disk images to build images from).
    #[command(subcommand)]
    Osfile(OsFileCmd),
    /// Desk strategies.
    #[command(subcommand)]
    Strategy(Crud<StrategyFields>),
    /// Desk networks (IP pools).
    #[command(subcommand)]
    Network(Crud<NetworkFields>),
    /// Compute clusters.
    #[command(subcommand)]
    Cluster(ClusterCmd),
    /// Compute hosts.
    #[command(subcommand)]
    Host(HostCmd),
    /// Storage pools.
    #[command(subcommand)]
    Pool(Crud<PoolFields>),
    /// Terminals.
    #[command(subcommand)]
    Terminal(TerminalCmd),
    /// Metrics (PromQL).
    #[command(subcommand)]
    Metrics(MetricsCmd),
    /// Alerts pending or firing.
    Alerts,
    /// Print a shell completion script.
    Completion {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}
