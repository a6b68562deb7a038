//! Settings of `deskd serve`: command-line flags, `DESKD_*` environment variables and an optional
//! TOML file, in that order of precedence, over the defaults of `ServerConfig`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use deskd_server::config::{default_database_url, Accel, QemuSettings, ServerConfig};
use serde::Deserialize;

/// Where the database is: shared by `serve` and `account`.
#[derive(Args, Debug, Default)]
pub struct DbArgs {
    /// Data directory (database, certificates, simulated hypervisor state).
    #[arg(long, env = "DESKD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// `sqlite://…` (default: deskd.db in the data directory) or `postgres://…`.
    #[arg(long, env = "DESKD_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl DbArgs {
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("deskd-data"))
    }

    pub fn database_url(&self) -> anyhow::Result<String> {
        if let Some(u) = &self.database_url {
            return Ok(u.clone());
        }
        let dir = self.data_dir();
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(default_database_url(&dir))
    }
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// TOML file with any of the settings below (snake_case keys).
    #[arg(long, env = "DESKD_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on (default 0.0.0.0:9390).
    #[arg(long, env = "DESKD_LISTEN")]
    listen: Option<SocketAddr>,
    /// Serve plain HTTP instead of HTTPS (development only).
    #[arg(long, env = "DESKD_HTTP")]
    http: bool,
    /// PEM certificate; without it a self-signed one is generated into the data directory.
    #[arg(long, env = "DESKD_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "DESKD_TLS_KEY")]
    tls_key: Option<PathBuf>,
    #[command(flatten)]
    db: DbArgs,
    /// Do not load the demo inventory on the first start.
    #[arg(long, env = "DESKD_NO_DEMO")]
    no_demo: bool,
    /// Answer every desk page from the database, never from the page cache.
    #[arg(long, env = "DESKD_NO_PAGE_CACHE")]
    no_page_cache: bool,
    /// Token lifetime in seconds (default 1800).
    #[arg(long, env = "DESKD_TOKEN_TTL_SECS")]
    token_ttl_secs: Option<u64>,
    /// Latency of each simulated hypervisor operation in ms (default 300).
    #[arg(long, env = "DESKD_SIM_LATENCY_MS")]
    sim_latency_ms: Option<u64>,
    /// Task items run at once by this process (default 8).
    #[arg(long, env = "DESKD_TASK_CONCURRENCY")]
    task_concurrency: Option<usize>,
    /// Task item lease in seconds (default 30).
    #[arg(long, env = "DESKD_TASK_LEASE_SECS")]
    task_lease_secs: Option<u64>,
    /// Seconds between reconciliation passes (default 30).
    #[arg(long, env = "DESKD_RECONCILE_INTERVAL_SECS")]
    reconcile_interval_secs: Option<u64>,
    /// Seconds shutdown waits for in-flight requests and items (default 10).
    #[arg(long, env = "DESKD_SHUTDOWN_GRACE_SECS")]
    shutdown_grace_secs: Option<u64>,
    /// How new desks are placed on hosts: spread or pack (default spread).
    #[arg(long, env = "DESKD_PLACEMENT_POLICY")]
    placement_policy: Option<String>,
    /// Boot-storm guard: desk starts at once per host (default 4).
    #[arg(long, env = "DESKD_MAX_STARTS_PER_HOST")]
    max_starts_per_host: Option<usize>,
    /// Boot-storm guard: desk starts at once per cluster (default 16).
    #[arg(long, env = "DESKD_MAX_STARTS_PER_CLUSTER")]
    max_starts_per_cluster: Option<usize>,
    /// Seconds a desk shutdown waits for the guest before powering it off (default 30).
    #[arg(long, env = "DESKD_DESK_SHUTDOWN_TIMEOUT_SECS")]
    desk_shutdown_timeout_secs: Option<u64>,
    /// Seconds between collections of the fleet's metrics (default 15).
    #[arg(long, env = "DESKD_SCRAPE_INTERVAL_SECS")]
    scrape_interval_secs: Option<u64>,
    /// Seconds the embedded metrics store keeps samples, in memory (default 1296000, 15 days).
    #[arg(long, env = "DESKD_METRICS_RETENTION_SECS")]
    metrics_retention_secs: Option<u64>,
    /// Prometheus rule file (default: <data-dir>/rules.yaml, created with deskd's defaults).
    #[arg(long, env = "DESKD_RULES_FILE")]
    rules_file: Option<PathBuf>,
    /// A terminal counts as online this many seconds after its last heartbeat (default 180).
    #[arg(long, env = "DESKD_TERMINAL_ONLINE_SECS")]
    terminal_online_secs: Option<u64>,
    /// Run real VMs with QEMU on this machine for hosts created with `"driver": "qemu"`.
    #[arg(long, env = "DESKD_QEMU")]
    qemu: bool,
    /// QEMU accelerator: auto (KVM when it can boot guests, else TCG), kvm or tcg.
    #[arg(long, env = "DESKD_QEMU_ACCEL")]
    qemu_accel: Option<String>,
    /// The qemu-system-x86_64 to run (default: found on PATH).
    #[arg(long, env = "DESKD_QEMU_BINARY")]
    qemu_binary: Option<PathBuf>,
    /// Domain type of the VMs on hosts created with `"driver": "libvirt"`: kvm (default) or
    /// qemu (TCG, where the hosts cannot run KVM).
    #[arg(long, env = "DESKD_LIBVIRT_DOMAIN_TYPE")]
    libvirt_domain_type: Option<String>,
    /// host:port clients reach this server at for desk consoles (6.2.11 proxy_ip/proxy_port;
    /// default: the address the caller used).
    #[arg(long, env = "DESKD_PUBLIC_ADDRESS")]
    public_address: Option<String>,
    /// Route the simulator's fault-injection endpoints (`PUT /v1/sim/host/{id}:down|:up`);
    /// for tests and demos, never in production.
    #[arg(long, env = "DESKD_ENABLE_TEST_HOOKS")]
    enable_test_hooks: bool,
    /// Console ticket lifetime in ms (tests only; default 60 s).
    #[arg(long, env = "DESKD_CONSOLE_TICKET_TTL_MS", hide = true)]
    console_ticket_ttl_ms: Option<u64>,
    #[command(flatten)]
    monitoring: MonitoringArgs,
    #[command(flatten)]
    limits: LimitArgs,
}

/// Throttles and transport limits (`deskd_server::http::throttle`); 0 turns a request budget off.
#[derive(Args, Debug, Default)]
pub struct LimitArgs {
    /// Failed logins one client address may make per window before it is locked (default 20).
    #[arg(long, env = "DESKD_LOGIN_FAILURES_PER_ADDRESS")]
    login_failures_per_address: Option<u32>,
    /// Failed logins against one account, from addresses that never signed in to it, per
    /// window before the account is locked for such addresses (default 50).
    #[arg(long, env = "DESKD_LOGIN_FAILURES_PER_ACCOUNT")]
    login_failures_per_account: Option<u32>,
    /// The failed-login window in seconds; a spent budget comes back one try at a time over it
    /// (default 600).
    #[arg(long, env = "DESKD_LOGIN_FAILURE_WINDOW_SECS")]
    login_failure_window_secs: Option<u64>,
    /// Requests per second per token, burst twice that; 0 = no budget (default 500).
    #[arg(long, env = "DESKD_REQUESTS_PER_SEC_PER_TOKEN")]
    requests_per_sec_per_token: Option<u32>,
    /// Requests per second per client address, burst twice that; 0 = no budget (default 1000).
    #[arg(long, env = "DESKD_REQUESTS_PER_SEC_PER_ADDRESS")]
    requests_per_sec_per_address: Option<u32>,
    /// Argon2 password hashes computed at once (default: the number of CPUs).
    #[arg(long, env = "DESKD_PASSWORD_HASH_CONCURRENCY")]
    password_hash_concurrency: Option<usize>,
    /// Requests handled at once; more are answered 503 / 22000429 at once (default 1024).
    #[arg(long, env = "DESKD_MAX_IN_FLIGHT_REQUESTS")]
    max_in_flight_requests: Option<usize>,
    /// Open connections at once; more are closed as soon as they are accepted (default 4096).
    #[arg(long, env = "DESKD_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Seconds a connection has to send a complete request head, from its opening or its last
    /// reply; slow and idle connections are closed (default 10).
    #[arg(long, env = "DESKD_HEADER_READ_TIMEOUT_SECS")]
    header_read_timeout_secs: Option<u64>,
    /// Largest `/v1` request body in bytes; OS-file uploads stream and are not bound by it
    /// (default 4194304).
    #[arg(long, env = "DESKD_MAX_BODY_BYTES")]
    max_body_bytes: Option<usize>,
}

/// The limits part of the TOML file.
#[derive(Debug, Default)]
struct FileLimits {
    login_failures_per_address: Option<u32>,
    login_failures_per_account: Option<u32>,
    login_failure_window_secs: Option<u64>,
    requests_per_sec_per_token: Option<u32>,
    requests_per_sec_per_address: Option<u32>,
    password_hash_concurrency: Option<usize>,
    max_in_flight_requests: Option<usize>,
    max_connections: Option<usize>,
    header_read_timeout_secs: Option<u64>,
    max_body_bytes: Option<usize>,
}

impl LimitArgs {
    fn resolve(self, file: FileLimits, cfg: &mut ServerConfig) -> anyhow::Result<()> {
        let t = &mut cfg.throttle;
        let positive = |v: Option<u64>, name: &str| -> anyhow::Result<Option<u64>> {
            anyhow::ensure!(v != Some(0), "{name} must be positive");
            Ok(v)
        };
        let per_address = self
            .login_failures_per_address
            .or(file.login_failures_per_address);
        if let Some(n) = positive(per_address.map(u64::from), "login_failures_per_address")? {
            t.login_failures_per_address = n as u32;
        }
        let per_account = self
            .login_failures_per_account
            .or(file.login_failures_per_account);
        if let Some(n) = positive(per_account.map(u64::from), "login_failures_per_account")? {
            t.login_failures_per_account = n as u32;
        }
        let window = self
            .login_failure_window_secs
            .or(file.login_failure_window_secs);
        if let Some(s) = positive(window, "login_failure_window_secs")? {
            t.login_failure_window = Duration::from_secs(s);
        }
        t.requests_per_sec_per_token = self
            .requests_per_sec_per_token
            .or(file.requests_per_sec_per_token)
            .unwrap_or(t.requests_per_sec_per_token);
        t.requests_per_sec_per_address = self
            .requests_per_sec_per_address
            .or(file.requests_per_sec_per_address)
            .unwrap_or(t.requests_per_sec_per_address);
        let hashes = self
            .password_hash_concurrency
            .or(file.password_hash_concurrency);
        if let Some(n) = positive(hashes.map(|n| n as u64), "password_hash_concurrency")? {
            t.password_hash_concurrency = n as usize;
        }
        let in_flight = self.max_in_flight_requests.or(file.max_in_flight_requests);
        if let Some(n) = positive(in_flight.map(|n| n as u64), "max_in_flight_requests")? {
            t.max_in_flight_requests = n as usize;
        }
        let tr = &mut cfg.transport;
        let conns = self.max_connections.or(file.max_connections);
        if let Some(n) = positive(conns.map(|n| n as u64), "max_connections")? {
            tr.max_connections = n as usize;
        }
        let header = self
            .header_read_timeout_secs
            .or(file.header_read_timeout_secs);
        if let Some(s) = positive(header, "header_read_timeout_secs")? {
            tr.header_read_timeout = Duration::from_secs(s);
        }
        let body = self.max_body_bytes.or(file.max_body_bytes);
        if let Some(n) = positive(body.map(|n| n as u64), "max_body_bytes")? {
            tr.max_body_bytes = n as usize;
        }
        Ok(())
    }
}

/// The monitoring settings (kept apart so they resolve together).
#[derive(Args, Debug, Default)]
pub struct MonitoringArgs {
    /// An external Prometheus exporter to scrape: URL[,host_id=ID][,ip_addr=IP][,job=JOB]
    /// (job default node); repeatable, adds to the file's [[scrape_targets]].
    #[arg(
        long = "scrape-target",
        env = "DESKD_SCRAPE_TARGETS",
        value_delimiter = ' '
    )]
    scrape_targets: Vec<String>,
    /// Milliseconds one exporter scrape may take (default 10000, at most the scrape interval).
    #[arg(long, env = "DESKD_SCRAPE_TIMEOUT_MS")]
    scrape_timeout_ms: Option<u64>,
    /// Networks (CIDR) whose peers read /metrics and the Prometheus read API without a token,
    /// e.g. 127.0.0.1/32; repeatable (default: none, a Bearer token is required).
    #[arg(
        long = "metrics-open-to",
        env = "DESKD_METRICS_OPEN_TO",
        value_delimiter = ','
    )]
    metrics_open_to: Vec<String>,
    /// A long-lived Bearer token for /metrics and the Prometheus read API (16+ characters).
    #[arg(long, env = "DESKD_METRICS_TOKEN")]
    metrics_token: Option<String>,
    /// Where the Prometheus API's data lives: embedded (default) or prometheus.
    #[arg(long, env = "DESKD_METRICS_BACKEND")]
    metrics_backend: Option<String>,
    /// The external Prometheus of --metrics-backend prometheus (http://host:port).
    #[arg(long, env = "DESKD_PROMETHEUS_URL")]
    prometheus_url: Option<String>,
    /// Seconds a request forwarded to the external Prometheus may take (default 30).
    #[arg(long, env = "DESKD_PROMETHEUS_TIMEOUT_SECS")]
    prometheus_timeout_secs: Option<u64>,
    /// Alertmanager notified of firing and resolved alerts (http://host:port).
    #[arg(long, env = "DESKD_ALERTMANAGER_URL")]
    alertmanager_url: Option<String>,
}

/// The monitoring part of the TOML file.
#[derive(Debug, Default)]
struct FileMonitoring {
    scrape_targets: Vec<deskd_server::config::ScrapeTarget>,
    scrape_timeout_ms: Option<u64>,
    metrics_open_to: Vec<String>,
    metrics_token: Option<String>,
    metrics_backend: Option<String>,
    prometheus_url: Option<String>,
    prometheus_timeout_secs: Option<u64>,
    alertmanager_url: Option<String>,
}

/// The TOML file: the same settings, all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    http: Option<bool>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    no_demo: Option<bool>,
    no_page_cache: Option<bool>,
    token_ttl_secs: Option<u64>,
    sim_latency_ms: Option<u64>,
    task_concurrency: Option<usize>,
    task_lease_secs: Option<u64>,
    reconcile_interval_secs: Option<u64>,
    shutdown_grace_secs: Option<u64>,
    placement_policy: Option<String>,
    max_starts_per_host: Option<usize>,
    max_starts_per_cluster: Option<usize>,
    desk_shutdown_timeout_secs: Option<u64>,
    scrape_interval_secs: Option<u64>,
    metrics_retention_secs: Option<u64>,
    rules_file: Option<PathBuf>,
    terminal_online_secs: Option<u64>,
    qemu: Option<bool>,
    qemu_accel: Option<String>,
    qemu_binary: Option<PathBuf>,
    libvirt_domain_type: Option<String>,
    public_address: Option<String>,
    enable_test_hooks: Option<bool>,
    #[serde(default)]
    scrape_targets: Vec<deskd_server::config::ScrapeTarget>,
    scrape_timeout_ms: Option<u64>,
    #[serde(default)]
    metrics_open_to: Vec<String>,
    metrics_token: Option<String>,
    metrics_backend: Option<String>,
    prometheus_url: Option<String>,
    prometheus_timeout_secs: Option<u64>,
    alertmanager_url: Option<String>,
    login_failures_per_address: Option<u32>,
    login_failures_per_account: Option<u32>,
    login_failure_window_secs: Option<u64>,
    requests_per_sec_per_token: Option<u32>,
    requests_per_sec_per_address: Option<u32>,
    password_hash_concurrency: Option<usize>,
    max_in_flight_requests: Option<usize>,
    max_connections: Option<usize>,
    header_read_timeout_secs: Option<u64>,
    max_body_bytes: Option<usize>,
}

impl ServeArgs {
    /// Merges flags/environment over the file over the defaults.
    pub fn resolve(self) -> anyhow::Result<ServerConfig> {
        let mut file = match &self.config {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read {}", p.display()))?;
                toml::from_str::<FileConfig>(&text)
                    .with_context(|| format!("invalid config file {}", p.display()))?
            }
            None => FileConfig::default(),
        };
        let file_monitoring = FileMonitoring {
            scrape_targets: std::mem::take(&mut file.scrape_targets),
            scrape_timeout_ms: file.scrape_timeout_ms,
            metrics_open_to: std::mem::take(&mut file.metrics_open_to),
            metrics_token: file.metrics_token.take(),
            metrics_backend: file.metrics_backend.take(),
            prometheus_url: file.prometheus_url.take(),
            prometheus_timeout_secs: file.prometheus_timeout_secs,
            alertmanager_url: file.alertmanager_url.take(),
        };
        let file_limits = FileLimits {
            login_failures_per_address: file.login_failures_per_address,
            login_failures_per_account: file.login_failures_per_account,
            login_failure_window_secs: file.login_failure_window_secs,
            requests_per_sec_per_token: file.requests_per_sec_per_token,
            requests_per_sec_per_address: file.requests_per_sec_per_address,
            password_hash_concurrency: file.password_hash_concurrency,
            max_in_flight_requests: file.max_in_flight_requests,
            max_connections: file.max_connections,
            header_read_timeout_secs: file.header_read_timeout_secs,
            max_body_bytes: file.max_body_bytes,
        };
        let data_dir = self
            .db
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("deskd-data"));
        let mut cfg = ServerConfig::with_data_dir(data_dir);
        if let Some(u) = self.db.database_url.or(file.database_url) {
            cfg.database_url = u;
        }
        cfg.listen = self.listen.or(file.listen).unwrap_or(cfg.listen);
        cfg.http = self.http || file.http.unwrap_or(false);
        cfg.tls_cert = self.tls_cert.or(file.tls_cert);
        cfg.tls_key = self.tls_key.or(file.tls_key);
        cfg.demo = !(self.no_demo || file.no_demo.unwrap_or(false));
        cfg.page_cache = !(self.no_page_cache || file.no_page_cache.unwrap_or(false));
        cfg.test_hooks = self.enable_test_hooks || file.enable_test_hooks.unwrap_or(false);
        cfg.admin_password = std::env::var("DESKD_ADMIN_PASSWORD").ok();
        let secs = |a: Option<u64>, b: Option<u64>, d: Duration| {
            a.or(b).map(Duration::from_secs).unwrap_or(d)
        };
        cfg.token_ttl = secs(self.token_ttl_secs, file.token_ttl_secs, cfg.token_ttl);
        cfg.task_lease = secs(self.task_lease_secs, file.task_lease_secs, cfg.task_lease);
        cfg.reconcile_interval = secs(
            self.reconcile_interval_secs,
            file.reconcile_interval_secs,
            cfg.reconcile_interval,
        );
        cfg.shutdown_grace = secs(
            self.shutdown_grace_secs,
            file.shutdown_grace_secs,
            cfg.shutdown_grace,
        );
        if let Some(ms) = self.sim_latency_ms.or(file.sim_latency_ms) {
            cfg.sim_latency = Duration::from_millis(ms);
        }
        cfg.task_concurrency = self
            .task_concurrency
            .or(file.task_concurrency)
            .unwrap_or(cfg.task_concurrency);
        cfg.rules_file = self.rules_file.or(file.rules_file);
        cfg.scrape_interval = secs(
            self.scrape_interval_secs,
            file.scrape_interval_secs,
            cfg.scrape_interval,
        );
        anyhow::ensure!(
            !cfg.scrape_interval.is_zero(),
            "scrape_interval_secs must be positive"
        );
        cfg.metrics_retention = secs(
            self.metrics_retention_secs,
            file.metrics_retention_secs,
            cfg.metrics_retention,
        );
        anyhow::ensure!(
            !cfg.metrics_retention.is_zero(),
            "metrics_retention_secs must be positive"
        );
        cfg.desk_shutdown_timeout = secs(
            self.desk_shutdown_timeout_secs,
            file.desk_shutdown_timeout_secs,
            cfg.desk_shutdown_timeout,
        );
        cfg.terminal_online = secs(
            self.terminal_online_secs,
            file.terminal_online_secs,
            cfg.terminal_online,
        );
        cfg.public_address = self.public_address.or(file.public_address);
        if let Some(a) = &cfg.public_address {
            anyhow::ensure!(
                deskd_server::config::split_host_port(a).is_some(),
                "public_address must be host:port, not `{a}`"
            );
        }
        if let Some(ms) = self.console_ticket_ttl_ms {
            cfg.console_ticket_ttl = Duration::from_millis(ms);
        }
        if let Some(p) = self.placement_policy.or(file.placement_policy) {
            cfg.placement_policy =
                deskd_domain::scheduler::Policy::parse(&p).map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        let per_host = self.max_starts_per_host.or(file.max_starts_per_host);
        cfg.max_starts_per_host = per_host.unwrap_or(cfg.max_starts_per_host);
        let per_cluster = self.max_starts_per_cluster.or(file.max_starts_per_cluster);
        cfg.max_starts_per_cluster = per_cluster.unwrap_or(cfg.max_starts_per_cluster);
        anyhow::ensure!(
            cfg.max_starts_per_host > 0,
            "max_starts_per_host must be positive"
        );
        anyhow::ensure!(
            cfg.max_starts_per_cluster > 0,
            "max_starts_per_cluster must be positive"
        );
        anyhow::ensure!(
            cfg.token_ttl.as_secs() > 0,
            "token_ttl_secs must be positive"
        );
        anyhow::ensure!(
            cfg.terminal_online.as_secs() > 0,
            "terminal_online_secs must be positive"
        );
        anyhow::ensure!(
            cfg.task_concurrency > 0,
            "task_concurrency must be positive"
        );
        if self.qemu || file.qemu.unwrap_or(false) {
            let mut q = QemuSettings::default();
            if let Some(a) = self.qemu_accel.or(file.qemu_accel) {
                q.accel = match a.as_str() {
                    "auto" => Accel::Auto,
                    "kvm" => Accel::Kvm,
                    "tcg" => Accel::Tcg,
                    other => anyhow::bail!("qemu_accel: `{other}` is not one of auto, kvm, tcg"),
                };
            }
            if let Some(b) = self.qemu_binary.or(file.qemu_binary) {
                q.binary = b;
            }
            cfg.qemu = Some(q);
        }
        if let Some(t) = self.libvirt_domain_type.or(file.libvirt_domain_type) {
            anyhow::ensure!(
                t == "kvm" || t == "qemu",
                "libvirt_domain_type: `{t}` is not one of kvm, qemu"
            );
            cfg.libvirt_domain_type = t;
        }
        self.monitoring.resolve(file_monitoring, &mut cfg)?;
        self.limits.resolve(file_limits, &mut cfg)?;
        Ok(cfg)
    }
}

impl MonitoringArgs {
    /// The exporters, the metrics API's openings and its backend.
    fn resolve(self, file: FileMonitoring, cfg: &mut ServerConfig) -> anyhow::Result<()> {
        use deskd_server::config::{Cidr, MetricsBackend, ScrapeTarget};
        let bad = |e: String| anyhow::anyhow!(e);
        for t in &file.scrape_targets {
            t.check().map_err(bad)?;
        }
        cfg.scrape_targets = file.scrape_targets;
        for t in self.scrape_targets.iter().filter(|t| !t.trim().is_empty()) {
            cfg.scrape_targets
                .push(ScrapeTarget::parse(t).map_err(bad)?);
        }
        cfg.scrape_timeout = match self.scrape_timeout_ms.or(file.scrape_timeout_ms) {
            Some(ms) => {
                let t = Duration::from_millis(ms);
                anyhow::ensure!(
                    !t.is_zero() && t <= cfg.scrape_interval,
                    "scrape_timeout_ms must be positive and at most the scrape interval ({} ms)",
                    cfg.scrape_interval.as_millis()
                );
                t
            }
            None => cfg.scrape_timeout.min(cfg.scrape_interval),
        };
        let open = if self.metrics_open_to.is_empty() {
            file.metrics_open_to
        } else {
            self.metrics_open_to
        };
        cfg.metrics_open_to = open
            .iter()
            .filter(|c| !c.trim().is_empty())
            .map(|c| Cidr::parse(c))
            .collect::<Result<_, _>>()
            .map_err(bad)?;
        cfg.metrics_token = self.metrics_token.or(file.metrics_token);
        if let Some(t) = &cfg.metrics_token {
            anyhow::ensure!(
                t.len() >= 16 && !t.contains(char::is_whitespace),
                "metrics_token must be at least 16 characters without spaces"
            );
        }
        if let Some(b) = self.metrics_backend.or(file.metrics_backend) {
            cfg.metrics_backend = MetricsBackend::parse(&b).map_err(bad)?;
        }
        cfg.prometheus_url = self.prometheus_url.or(file.prometheus_url);
        if let Some(u) = &cfg.prometheus_url {
            deskd_server::monitoring::scrape::check_url(u)
                .map_err(|e| anyhow::anyhow!("prometheus_url `{u}`: {e}"))?;
        }
        anyhow::ensure!(
            cfg.metrics_backend != MetricsBackend::Prometheus || cfg.prometheus_url.is_some(),
            "metrics_backend = prometheus needs prometheus_url"
        );
        if let Some(s) = self
            .prometheus_timeout_secs
            .or(file.prometheus_timeout_secs)
        {
            anyhow::ensure!(s > 0, "prometheus_timeout_secs must be positive");
            cfg.prometheus_timeout = Duration::from_secs(s);
        }
        cfg.alertmanager_url = self.alertmanager_url.or(file.alertmanager_url);
        if let Some(u) = &cfg.alertmanager_url {
            deskd_server::monitoring::scrape::check_url(u)
                .map_err(|e| anyhow::anyhow!("alertmanager_url `{u}`: {e}"))?;
        }
        Ok(())
    }
}
