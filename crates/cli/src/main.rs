//! The `deskd` command: `deskd serve` runs the controller; `deskd account …` manages API
//! accounts offline; `deskd openapi` prints the OpenAPI document.

mod settings;

use std::io::{BufRead, Write};

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use deskd_domain::store::AuthStore;
use deskd_server::bootstrap;
use deskd_store::SqlStore;

#[derive(Parser)]
#[command(
    name = "deskd",
    version,
    about = "Cloud-desktop (VDI) controller speaking the RG-CDC OpenAPI v1"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    /// Log line format.
    #[arg(long, global = true, env = "DESKD_LOG_FORMAT", default_value = "text")]
    log_format: LogFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once at start-up; boxing buys nothing
enum Cmd {
    /// Run the controller.
    Serve(settings::ServeArgs),
    /// Manage API accounts in the database (works while the server is stopped).
    Account {
        #[command(flatten)]
        db: settings::DbArgs,
        #[command(subcommand)]
        cmd: AccountCmd,
    },
    /// Print the OpenAPI document.
    Openapi,
}

#[derive(Subcommand)]
enum AccountCmd {
    /// Create an account; the password is read from DESKD_ACCOUNT_PASSWORD or one line of stdin.
    Create { name: String },
    /// List accounts.
    List,
    /// Disable an account and revoke its tokens.
    Disable { name: String },
    /// Enable a disabled account.
    Enable { name: String },
    /// Set a new password (DESKD_ACCOUNT_PASSWORD or stdin) and revoke the account's tokens.
    Passwd { name: String },
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("DESKD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logs(cli.log_format);
    match cli.cmd {
        Cmd::Serve(args) => serve(args).await,
        Cmd::Account { db, cmd } => account(db, cmd).await,
        Cmd::Openapi => {
            println!(
                "{}",
                serde_json::to_string_pretty(&deskd_server::http::openapi::document(false))?
            );
            Ok(())
        }
    }
}

async fn serve(args: settings::ServeArgs) -> anyhow::Result<()> {
    let cfg = args.resolve()?;
    let parts = deskd_server::assemble(cfg).await?;
    if let Some(p) = &parts.first_start.generated_password {
        println!("created API account `admin` with password: {p}");
        println!("(shown once; set DESKD_ADMIN_PASSWORD before the first start to choose it)");
    }
    if parts.first_start.demo_loaded {
        println!(
            "loaded the demo inventory (desktop users user01..user20, password {})",
            bootstrap::DEMO_USER_PASSWORD
        );
    }
    let scheme = if parts.state.cfg.http {
        "http"
    } else {
        "https"
    };
    deskd_server::serve(parts, shutdown_signal(), |addr| {
        println!("deskd listening on {scheme}://{addr}");
        let _ = std::io::stdout().flush();
    })
    .await
}

/// Resolves on SIGTERM or SIGINT. The handlers are installed here, before the server starts, so
/// a signal that arrives right after the listening line is never lost.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn read_password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("DESKD_ACCOUNT_PASSWORD") {
        return Ok(p);
    }
    eprint!("password: ");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

async fn account(db: settings::DbArgs, cmd: AccountCmd) -> anyhow::Result<()> {
    let url = db.database_url()?;
    let store = SqlStore::open(&url)
        .await
        .with_context(|| "cannot open the database")?;
    match cmd {
        AccountCmd::Create { name } => {
            bootstrap::create_account(&store, &name, &read_password()?).await?;
            println!("created API account `{name}`");
        }
        AccountCmd::List => {
            println!("{:<32} {:<9} created", "name", "state");
            for a in store.list_accounts().await? {
                let state = if a.disabled { "disabled" } else { "enabled" };
                println!("{:<32} {:<9} {}", a.name, state, a.created_at);
            }
        }
        AccountCmd::Disable { name } => found(
            store.set_account_disabled(&name, true).await?,
            &name,
            "disabled",
        )?,
        AccountCmd::Enable { name } => found(
            store.set_account_disabled(&name, false).await?,
            &name,
            "enabled",
        )?,
        AccountCmd::Passwd { name } => {
            let password = read_password()?;
            if password.len() < 8 {
                anyhow::bail!("the password must have at least 8 characters");
            }
            let hash = bootstrap::hash_blocking(password).await?;
            found(
                store.set_account_password(&name, &hash).await?,
                &name,
                "given a new password",
            )?;
        }
    }
    store.close().await;
    Ok(())
}

fn found(ok: bool, name: &str, what: &str) -> anyhow::Result<()> {
    anyhow::ensure!(ok, "no API account named `{name}`");
    println!("API account `{name}` {what}; its tokens are revoked");
    Ok(())
}
