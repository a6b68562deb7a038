//! What the Debian package installs: `packaging/deskd.toml` names every setting of the TOML
//! file and deskd starts with it; `packaging/debian/deskd.service` passes
//! `systemd-analyze verify` with the hardening the package promises. (`.ci/run` builds the
//! package itself with `cargo deb` and installs it with `dpkg -i`: scripts/check-package.sh.)
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

fn repo_file(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// The keys of `FileConfig` in crates/cli/src/settings.rs (its fields, one a line).
fn file_config_keys() -> Vec<String> {
    let src = std::fs::read_to_string(repo_file("crates/cli/src/settings.rs")).unwrap();
    let start = src
        .find("struct FileConfig {")
        .expect("FileConfig in settings.rs");
    let body = &src[start..];
    let body = &body[..body.find("\n}").unwrap()];
    body.lines()
        .filter_map(|l| l.trim().strip_suffix(',').and_then(|l| l.split_once(':')))
        .map(|(k, _)| k.trim().to_string())
        .filter(|k| !k.starts_with('#') && !k.starts_with("//"))
        .collect()
}

#[test]
fn the_packaged_settings_file_names_every_setting() {
    let toml = std::fs::read_to_string(repo_file("packaging/deskd.toml")).unwrap();
    let keys = file_config_keys();
    assert!(keys.len() > 20, "parsed {keys:?}");
    for k in &keys {
        let present = toml.lines().any(|l| {
            let l = l.trim_start_matches('#').trim_start();
            l.starts_with(&format!("{k} =")) || l.starts_with(&format!("[[{k}]]"))
        });
        assert!(present, "packaging/deskd.toml does not mention `{k}`");
    }
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
