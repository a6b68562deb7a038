//! The parts of deskd's benchmarks: servers under test on their own runtimes, the load
//! generator, the JSON client, seeding, the scenarios and the report. The binaries are
//! `deskd-bench` (desk queries and batches, `main.rs`), `deskd-bench-metrics` (the metrics
//! engine against Prometheus) `deskd-bench-boot` (QEMU desks booted through deskd) `deskd-bench-libvirt` (libvirt
//! desks on two hosts, beside `virsh start`) and `deskd-bench-soak` (ten minutes of mixed
//! traffic: the server's memory and descriptors over time).

pub mod ceiling;
pub mod client;
pub mod db;
pub mod desks;
pub mod fleet;
pub mod fleet_report;
pub mod load;
pub mod report;
pub mod scenarios;
pub mod seed;
pub mod server;
pub mod soak;
pub mod stats;

/// Logs of the in-process server on stderr when `DESKD_LOG` holds a filter
/// (e.g. `deskd_server::desks=debug`); silent otherwise, so reports stay clean.
pub fn init_logs() {
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("DESKD_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
}
