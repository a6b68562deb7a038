//! deskd-bench-web: what the operator console's desk table costs in a real browser with 100,000
//! desks, beside the same screens with 1,000 desks (the reference) in the same run.
//!
//! For each size deskd is seeded as the main benchmark seeds it (SQLite, a quarter RUNNING),
//! served in-process, and Debian's Chromium is driven by Playwright for Python
//! (crates/cli/tests/web/browser.py `--mode measure`): first screen over loopback, sign-in,
//! the desk table's first page, the next page, a sort and a state filter, each timed from the
//! click until the table shows the new rows, with the bytes of each page and the JS heap.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context};
use clap::Parser;
use deskd_bench::report::load_average;
use deskd_bench::seed;
use deskd_bench::server::{deskd_config, start_deskd, ADMIN_PASSWORD};
use serde_json::Value;

/// Measure the web console's desk table at two fleet sizes.
#[derive(Debug, Parser)]
#[command(name = "deskd-bench-web", version)]
struct Args {
    /// Desks of the measured fleet.
    #[arg(long, default_value_t = 100_000)]
    desks: usize,
    /// Desks of the reference fleet, measured in the same run.
    #[arg(long, default_value_t = 1_000)]
    reference: usize,
    /// Repetitions of each timed step (the median is reported).
    #[arg(long, default_value_t = 5)]
    repeat: usize,
    /// A Python with Playwright (default: the venv `.ci/run` makes in target/web-test-venv).
    #[arg(long)]
    python: Option<PathBuf>,
    #[arg(long, default_value = "/usr/bin/chromium")]
    chromium: PathBuf,
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let python = args
        .python
        .clone()
        .unwrap_or_else(|| workspace().join("target/web-test-venv/bin/python"));
    let hash = deskd_domain::auth::hash_password("Bench@2026")?;
    let mut rows = Vec::new();
    for n in [args.reference, args.desks] {
        eprintln!("seeding {n} desks…");
        let dir = tempfile::tempdir()?;
        let cfg = deskd_config(dir.path(), None);
        let inv = seed::with_desks(&hash, n)?;
        seed::load(&cfg.database_url, &inv).await?;
        seed::write_sim_state(dir.path(), &inv)?;
        let server = start_deskd(cfg, n).await?;
        let base = format!("http://{}", server.listening.addr);
        eprintln!("measuring the browser against {base}…");
        let out = Command::new(&python)
            .arg(workspace().join("crates/cli/tests/web/browser.py"))
            .args([
                "--mode",
                "measure",
                "--base",
                &base,
                "--admin-password",
                ADMIN_PASSWORD,
            ])
            .arg("--chromium")
            .arg(&args.chromium)
            .args(["--shots", &std::env::temp_dir().to_string_lossy()])
            .args(["--repeat", &args.repeat.to_string()])
            .output()
            .context("run browser.py")?;
        server.stop().await?;
        if !out.status.success() {
            bail!(
                "browser.py failed:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("measure: table "))
            .context("no measurement in browser.py's output")?;
        let m: Value = serde_json::from_str(line)?;
        rows.push((n, m));
    }
    println!("# deskd-bench-web\n");
    println!(
        "Chromium (system) via Playwright, loopback, SQLite, median of {} runs; load average at the end {}.\n",
        args.repeat,
        load_average()
    );
    println!("| desks | first screen (FCP) ms | first screen bytes on the wire | sign-in → table ms | next page ms | sort ms | filter ms | page bytes | JS heap MB | DOM nodes |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (n, m) in &rows {
        println!(
            "| {n} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {} |",
            m["fcp_ms"],
            m["first_screen_bytes"],
            m["table_ms"],
            m["next_ms"],
            m["sort_ms"],
            m["filter_ms"],
            m["page_bytes"],
            m["heap_mb"].as_f64().unwrap_or(0.0),
            m["dom_nodes"]
        );
    }
    Ok(())
}
