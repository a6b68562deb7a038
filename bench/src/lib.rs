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
