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
    /// Task items run at once by this node (see `EngineConfig::concurrency`).
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
    /// How long the embedded metrics store keeps samples. The head holds every sample of the
    /// retention in memory (2.7–9 bytes each, see ARCHITECTURE.md), so this bounds its size.
    pub metrics_retention: Duration,
    /// Prometheus rule file; `None` means `<data-dir>/rules.yaml`, created with the defaults.
    pub rules_file: Option<PathBuf>,
    /// A terminal is online while its last heartbeat is younger than this (6.6).
    pub terminal_online: Duration,
    /// The QEMU driver for hosts created with `driver = "qemu"`; `None` leaves it off.
    pub qemu: Option<QemuSettings>,
    /// The domain type of libvirt hosts' VMs: `kvm`, or `qemu` (TCG) where the hosts have no
    /// usable KVM. Only a server built with the `libvirt` feature drives libvirt hosts.
    pub libvirt_domain_type: String,
    /// `host:port` clients reach this server at for desk consoles (6.2.11 `proxy_ip` /
    /// `proxy_port`); `None`: the address the caller used, else the listening address.
    pub public_address: Option<String>,
    /// Lifetime of a console ticket; [`crate::desks::console::TICKET_TTL`] except in tests.
    pub console_ticket_ttl: Duration,
    /// External Prometheus exporters scraped every `scrape_interval` (besides the exporters
    /// hosts register themselves).
    pub scrape_targets: Vec<ScrapeTarget>,
    /// How long one exporter scrape may take (at most `scrape_interval`).
    pub scrape_timeout: Duration,
    /// Peers in these networks read `/metrics` and the Prometheus read API without a token.
    pub metrics_open_to: Vec<Cidr>,
    /// A long-lived Bearer token accepted on `/metrics` and the Prometheus read API.
    pub metrics_token: Option<String>,
    /// Where the Prometheus API's data lives.
    pub metrics_backend: MetricsBackend,
    /// The external engine of `MetricsBackend::Prometheus` (`http://host:port`).
    pub prometheus_url: Option<String>,
    /// How long a request forwarded to the external engine may take.
    pub prometheus_timeout: Duration,
    /// Alertmanager to notify of firing and resolved alerts (`http://host:port`).
    pub alertmanager_url: Option<String>,
    /// Route the simulator's fault-injection endpoints (`/v1/sim/…`); tests only.
    pub test_hooks: bool,
    /// Failed-login locks, request budgets and the bounds on hashing and requests in flight.
    pub throttle: crate::http::throttle::ThrottleSettings,
    /// Connection bound, header-read timeout and body limit.
    pub transport: crate::http::transport::TransportSettings,
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

/// Where the metrics API answers from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsBackend {
    /// deskd's own engine (`deskd-metrics`), fed by the collectors.
    Embedded,
    /// An external Prometheus that scrapes deskd's `/metrics`; the read API is forwarded to it.
    Prometheus,
}

impl MetricsBackend {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "embedded" => Ok(MetricsBackend::Embedded),
            "prometheus" => Ok(MetricsBackend::Prometheus),
            other => Err(format!(
                "metrics_backend: expected embedded or prometheus, not `{other}`"
            )),
        }
    }
}

/// One configured exporter: `job` defaults to `node`; `host_id` and `ip_addr` become labels of
/// every series scraped from it (`ip_addr` from the host record when only `host_id` is given).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrapeTarget {
    pub url: String,
    #[serde(default)]
    pub host_id: Option<String>,
    #[serde(default)]
    pub ip_addr: Option<String>,
    #[serde(default = "default_job")]
    pub job: String,
}

fn default_job() -> String {
    "node".into()
}

impl ScrapeTarget {
    /// `URL[,host_id=ID][,ip_addr=IP][,job=JOB]`, the command-line form.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut parts = s.split(',');
        let url = parts.next().unwrap_or_default().trim().to_string();
        let mut t = ScrapeTarget {
            url,
            host_id: None,
            ip_addr: None,
            job: default_job(),
        };
        for p in parts {
            match p.split_once('=') {
                Some(("host_id", v)) => t.host_id = Some(v.trim().to_string()),
                Some(("ip_addr", v)) => t.ip_addr = Some(v.trim().to_string()),
                Some(("job", v)) => t.job = v.trim().to_string(),
                _ => {
                    return Err(format!(
                    "scrape_target `{s}`: expected URL[,host_id=…][,ip_addr=…][,job=…], not `{p}`"
                ))
                }
            }
        }
        t.check()?;
        Ok(t)
    }

    /// The URL is http(s) with a host, the job is not empty.
    pub fn check(&self) -> Result<(), String> {
        crate::monitoring::scrape::check_url(&self.url)
            .map_err(|e| format!("scrape_targets: `{}`: {e}", self.url))?;
        if self.job.trim().is_empty() {
            return Err(format!("scrape_targets: `{}`: job is empty", self.url));
        }
        Ok(())
    }
}

/// An IPv4 or IPv6 network, `addr/prefix` (a bare address is a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: std::net::IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let bad = || format!("metrics_open_to: `{s}` is not an address or CIDR network");
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: std::net::IpAddr = a.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(Cidr { addr, prefix })
    }

    /// Whether `ip` is inside (an IPv4-mapped IPv6 peer counts as its IPv4 address).
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
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
            task_concurrency: deskd_tasks::DEFAULT_CONCURRENCY,
            task_lease: Duration::from_secs(30),
            reconcile_interval: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
            placement_policy: deskd_domain::scheduler::Policy::Spread,
            max_starts_per_host: 4,
            max_starts_per_cluster: 16,
            desk_shutdown_timeout: Duration::from_secs(30),
            page_cache: true,
            scrape_interval: Duration::from_secs(15),
            metrics_retention: Duration::from_millis(
                deskd_metrics::storage::StorageConfig::default().retention_ms as u64,
            ),
            rules_file: None,
            terminal_online: Duration::from_secs(180),
            qemu: None,
            libvirt_domain_type: "kvm".into(),
            public_address: None,
            console_ticket_ttl: crate::desks::console::TICKET_TTL,
            scrape_targets: Vec::new(),
            scrape_timeout: Duration::from_secs(10),
            metrics_open_to: Vec::new(),
            metrics_token: None,
            metrics_backend: MetricsBackend::Embedded,
            prometheus_url: None,
            prometheus_timeout: Duration::from_secs(30),
            alertmanager_url: None,
            test_hooks: false,
            throttle: crate::http::throttle::ThrottleSettings::default(),
            transport: crate::http::transport::TransportSettings::default(),
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
    use super::*;

    #[test]
    fn networks_contain_their_addresses() {
        let lo = Cidr::parse("127.0.0.1/8").unwrap();
        assert!(lo.contains("127.1.2.3".parse().unwrap()));
        assert!(
            lo.contains("::ffff:127.0.0.1".parse().unwrap()),
            "IPv4-mapped"
        );
        assert!(!lo.contains("10.0.0.1".parse().unwrap()));
        let v6 = Cidr::parse("::1/128").unwrap();
        assert!(v6.contains("::1".parse().unwrap()));
        assert!(!v6.contains("::2".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.1")
            .unwrap()
            .contains("10.0.0.1".parse().unwrap()));
        for bad in ["10.0.0.1/33", "x/8", "::1/129", ""] {
            assert!(
                Cidr::parse(bad).unwrap_err().contains("metrics_open_to"),
                "{bad}"
            );
        }
    }

    #[test]
    fn scrape_targets_on_the_command_line() {
        let t = ScrapeTarget::parse("http://10.0.0.5:9100/metrics,host_id=h1,ip_addr=10.0.0.5")
            .unwrap();
        assert_eq!(t.job, "node");
        assert_eq!(t.host_id.as_deref(), Some("h1"));
        assert!(ScrapeTarget::parse("ftp://x/metrics").is_err());
        assert!(ScrapeTarget::parse("http://x:9100/,color=red").is_err());
    }
}
