//! What the Debian package installs: `packaging/deskd.toml` names every setting `deskd serve
//! --help` lists, every key it shows is one deskd knows, and deskd starts with it;
//! `packaging/debian/deskd.service` passes `systemd-analyze verify` with the hardening the
//! package promises. (`.ci/run` builds the package itself with `cargo deb` and installs it
//! with `dpkg -i`: scripts/check-package.sh.)
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

fn repo_file(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// The settings `deskd serve --help` lists, as file keys (`--a-b` is `a_b`; the repeatable
/// `--scrape-target` is the `[[scrape_targets]]` table), less the command-line-only ones
/// (`--log-format` is global to every subcommand and set before any file is read; the packaged
/// file says to set DESKD_LOG_FORMAT in the unit's environment instead).
fn serve_settings() -> std::collections::BTreeSet<String> {
    let out = deskd().args(["serve", "--help"]).output().unwrap();
    assert!(out.status.success(), "deskd serve --help failed");
    let help = String::from_utf8(out.stdout).unwrap();
    help.split_whitespace()
        .filter_map(|w| w.strip_prefix("--"))
        .map(|w| {
            let flag: String = w
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            flag.replace('-', "_")
        })
        .map(|k| {
            if k == "scrape_target" {
                "scrape_targets".into()
            } else {
                k
            }
        })
        .filter(|k| !["", "help", "version", "config", "log_format"].contains(&k.as_str()))
        .collect()
}

/// `key = value` lines of the packaged file, commented or not (tables aside).
fn packaged_keys(toml: &str) -> Vec<(String, String)> {
    toml.lines()
        .map(|l| l.trim_start_matches('#').trim_start())
        .filter_map(|l| l.split_once(" = "))
        .filter(|(k, _)| k.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .fold(Vec::new(), |mut all: Vec<(String, String)>, (k, v)| {
            if !all.iter().any(|(seen, _)| *seen == k) {
                all.push((k, v));
            }
            all
        })
}

#[test]
fn the_packaged_settings_file_names_every_setting() {
    let toml = std::fs::read_to_string(repo_file("packaging/deskd.toml")).unwrap();
    let settings = serve_settings();
    assert!(settings.len() > 20, "parsed {settings:?}");
    for k in &settings {
        let present = toml.lines().any(|l| {
            let l = l.trim_start_matches('#').trim_start();
            l.starts_with(&format!("{k} =")) || l.starts_with(&format!("[[{k}]]"))
        });
        assert!(present, "packaging/deskd.toml does not mention `{k}`");
    }
}

/// Every key the packaged file shows, uncommented at once, is a key deskd knows: deskd may
/// refuse a value (the examples name hosts that are not here), never the key.
#[test]
fn every_key_the_packaged_file_shows_is_known() {
    let toml = std::fs::read_to_string(repo_file("packaging/deskd.toml")).unwrap();
    let keys = packaged_keys(&toml);
    assert!(keys.len() > 20, "parsed {keys:?}");
    let dir = fresh_dir();
    let body: String = keys
        .iter()
        .filter(|(k, _)| !["url", "host_id", "ip_addr", "job"].contains(&k.as_str()))
        .map(|(k, v)| format!("{k} = {v}\n"))
        .collect();
    let cfg = dir.join("all.toml");
    std::fs::write(&cfg, &body).unwrap();
    let data = dir.join("data");
    let mut child = deskd()
        .args(["serve", "--config", cfg.to_str().unwrap(), "--http"])
        .args([
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // still running after a while: every key and value was taken
    let exited = wait_timeout(&mut child, std::time::Duration::from_secs(10));
    if exited.is_none() {
        signal(&child, "KILL");
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    for refusal in ["unknown field", "TOML parse error", "invalid type"] {
        assert!(!stderr.contains(refusal), "{stderr}\n{body}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn deskd_starts_with_the_packaged_settings_file() {
    let dir = fresh_dir();
    let cfg = repo_file("packaging/deskd.toml");
    let s = Server::start_in(dir, Db::Sqlite, &["--config", cfg.to_str().unwrap()], true);
    assert!(s.base.starts_with("http://127.0.0.1:"), "{}", s.base);
}

#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    let unit = std::fs::read_to_string(repo_file("packaging/debian/deskd.service")).unwrap();
    for line in [
        "User=deskd",
        "StateDirectory=deskd",
        "ProtectSystem=strict",
        "NoNewPrivileges=true",
        "Restart=on-failure",
        "ExecStart=/usr/bin/deskd serve --config /etc/deskd/deskd.toml",
    ] {
        assert!(unit.lines().any(|l| l == line), "the unit lacks `{line}`");
    }
    if std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "systemd-analyze is missing (apt-get install systemd)"
        );
        println!("SKIPPED: systemd-analyze is not installed");
        return;
    }
    // a root with the unit and the binary it starts, as the package lays them out
    let root = fresh_dir();
    std::fs::create_dir_all(root.join("usr/bin")).unwrap();
    std::fs::create_dir_all(root.join("etc/systemd/system")).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_deskd"), root.join("usr/bin/deskd")).unwrap();
    std::fs::write(root.join("etc/systemd/system/deskd.service"), &unit).unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(format!("--root={}", root.display()))
        .arg("--recursive-errors=no")
        .arg("/etc/systemd/system/deskd.service")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let _ = std::fs::remove_dir_all(&root);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify: {stderr}"
    );
}
