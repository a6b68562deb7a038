//! The resolved settings of one `deskd serve`. The CLI fills it from flags, `DESKD_*`
//! environment variables and the TOML file, in that order of precedence.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Plain HTTP instead of HTTPS (development).
    pub http: bool,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub data_dir: PathBuf,
    pub database_url: String,
    /// Load the demo inventory on the first start.
    pub demo: bool,
    /// Password of the first `admin` account; generated and printed once when absent.
    pub admin_password: Option<String>,
    pub token_ttl: Duration,
    /// Latency of each simulated hypervisor operation.
    pub sim_latency: Duration,
    pub task_concurrency: usize,
    pub task_lease: Duration,
    pub reconcile_interval: Duration,
    /// How long shutdown waits for in-flight requests and task items.
    pub shutdown_grace: Duration,
    /// How new desks are spread over hosts.
    pub placement_policy: deskd_domain::scheduler::Policy,
    /// Boot-storm guard: driver starts running at once per host and per cluster.
    pub max_starts_per_host: usize,
    pub max_starts_per_cluster: usize,
    /// How long a desk shutdown waits for the guest before powering it off.
    pub desk_shutdown_timeout: Duration,
    /// Reuse rendered desk pages until a desk changes (see `reply_cache`); off only to measure
    /// or debug the database path.
    pub page_cache: bool,
    /// How often the fleet's metrics are collected into the embedded engine.
    pub scrape_interval: Duration,
    /// Prometheus rule file; `None` means `<data-dir>/rules.yaml`, created with the defaults.
    pub rules_file: Option<PathBuf>,
    /// A terminal is online while its last heartbeat is younger than this (6.6).
    pub terminal_online: Duration,
    /// The QEMU driver for hosts created with `driver = "qemu"`; `None` leaves it off.
    pub qemu: Option<QemuSettings>,
    /// `host:port` clients reach this server at for desk consoles (6.2.11 `proxy_ip` /
    /// `proxy_port`); `None`: the address the caller used, else the listening address.
    pub public_address: Option<String>,
    /// Lifetime of a console ticket; [`crate::desks::console::TICKET_TTL`] except in tests.
    pub console_ticket_ttl: Duration,
}

pub use deskd_compute::Accel;

/// How the QEMU driver runs; its VMs and image base files live in `<data-dir>/qemu`.
#[derive(Debug, Clone)]
pub struct QemuSettings {
    pub accel: Accel,
    pub binary: PathBuf,
}

impl Default for QemuSettings {
    fn default() -> Self {
        QemuSettings {
            accel: Accel::Auto,
            binary: PathBuf::from("qemu-system-x86_64"),
        }
    }
}

impl ServerConfig {
    /// The defaults of a bare `deskd serve`, rooted at `data_dir`.
    pub fn with_data_dir(data_dir: PathBuf) -> Self {
        let database_url = default_database_url(&data_dir);
        ServerConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 9390)),
            http: false,
            tls_cert: None,
            tls_key: None,
            data_dir,
            database_url,
            demo: true,
            admin_password: None,
            token_ttl: Duration::from_secs(1800),
            sim_latency: Duration::from_millis(300),
            task_concurrency: 8,
            task_lease: Duration::from_secs(30),
            reconcile_interval: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
            placement_policy: deskd_domain::scheduler::Policy::Spread,
            max_starts_per_host: 4,
            max_starts_per_cluster: 16,
            desk_shutdown_timeout: Duration::from_secs(30),
            page_cache: true,
            scrape_interval: Duration::from_secs(15),
            rules_file: None,
            terminal_online: Duration::from_secs(180),
            qemu: None,
            public_address: None,
            console_ticket_ttl: crate::desks::console::TICKET_TTL,
        }
    }
}

/// Splits `host:port` (`[v6]:port` for IPv6); None unless both parts are there.
pub fn split_host_port(addr: &str) -> Option<(String, u16)> {
    let (host, port) = addr.trim().rsplit_once(':')?;
    let port = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.contains(char::is_whitespace) {
        return None;
    }
    Some((host.to_string(), port))
}

/// `sqlite://<data_dir>/deskd.db`, created when missing.
pub fn default_database_url(data_dir: &std::path::Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("deskd.db").display())
}

#[cfg(test)]
mod tests {
    use super::split_host_port;

    #[test]
    fn host_port_pairs() {
        let ok = |s: &str, h: &str, p: u16| assert_eq!(split_host_port(s), Some((h.into(), p)));
        ok("console.example:7443", "console.example", 7443);
        ok("10.0.0.5:9390", "10.0.0.5", 9390);
        ok("[fd00::1]:443", "fd00::1", 443);
        for bad in ["no-port", ":80", "host:", "host:99999", "a b:80"] {
            assert_eq!(split_host_port(bad), None, "{bad}");
        }
    }
}
