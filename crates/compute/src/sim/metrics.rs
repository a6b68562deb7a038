//! How simulated VMs and hosts load their hardware.
//!
//! Monitoring dashboards and exporters are built against the simulator, so
//! its figures must look real: each VM gets a stable personality from its
//! id, and counters are integrated from piecewise-constant rates so they
//! only ever grow.

use crate::driver::HostSpec;
use serde::{Deserialize, Serialize};

pub(super) const MIB: u64 = 1 << 20;
pub(super) const GIB: u64 = 1 << 30;
/// Host CPU modes, in the order `HostStats::cpu_seconds_by_mode` reports them.
pub(super) const CPU_MODES: [&str; 8] = [
    "user", "system", "idle", "iowait", "irq", "softirq", "steal", "nice",
];

/// Lifetime counters of a VM, kept as f64 so small increments are not lost.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct VmCounters {
    pub(super) cpu_seconds: f64,
    pub(super) disk_read_bytes: f64,
    pub(super) disk_write_bytes: f64,
    pub(super) disk_read_ops: f64,
    pub(super) disk_write_ops: f64,
    pub(super) net_rx_bytes: f64,
    pub(super) net_tx_bytes: f64,
}

impl VmCounters {
    pub(super) fn add(&mut self, r: &Rates, dt: f64) {
        self.cpu_seconds += r.cpu_cores * dt;
        self.disk_read_bytes += r.read_bps * dt;
        self.disk_write_bytes += r.write_bps * dt;
        self.disk_read_ops += r.read_iops * dt;
        self.disk_write_ops += r.write_iops * dt;
        self.net_rx_bytes += r.rx_bps * dt;
        self.net_tx_bytes += r.tx_bps * dt;
    }
}

/// Per-second demand of a running guest.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Rates {
    /// Busy cores: at most the VM's vCPUs.
    pub(super) cpu_cores: f64,
    pub(super) read_bps: f64,
    pub(super) write_bps: f64,
    pub(super) read_iops: f64,
    pub(super) write_iops: f64,
    pub(super) rx_bps: f64,
    pub(super) tx_bps: f64,
}

/// A stable personality per VM derived from its id, so figures differ
/// between VMs but stay the same across reads and restarts.
pub(super) struct Profile {
    pub(super) cpu_utilisation: f64,
    pub(super) memory_fraction: f64,
    pub(super) read_bps: f64,
    pub(super) write_bps: f64,
    pub(super) read_op_bytes: f64,
    pub(super) write_op_bytes: f64,
    pub(super) rx_bps: f64,
    pub(super) tx_bps: f64,
}

impl Profile {
    pub(super) fn of(vm_id: &str) -> Self {
        let mut state = fnv1a(vm_id.as_bytes());
        let mut next = move || {
            state = splitmix64(state);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        Profile {
            cpu_utilisation: 0.05 + 0.45 * next(),
            memory_fraction: 0.35 + 0.5 * next(),
            read_bps: 20e3 + 2e6 * next(),
            write_bps: 10e3 + 1e6 * next(),
            read_op_bytes: 8192.0 + 57344.0 * next(),
            write_op_bytes: 4096.0 + 28672.0 * next(),
            rx_bps: 5e3 + 5e5 * next(),
            tx_bps: 2e3 + 2e5 * next(),
        }
    }

    pub(super) fn rates(&self, vcpus: u32) -> Rates {
        Rates {
            cpu_cores: self.cpu_utilisation * f64::from(vcpus),
            read_bps: self.read_bps,
            write_bps: self.write_bps,
            read_iops: self.read_bps / self.read_op_bytes,
            write_iops: self.write_bps / self.write_op_bytes,
            rx_bps: self.rx_bps,
            tx_bps: self.tx_bps,
        }
    }
}

pub(super) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

pub(super) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Summed demand of the VMs on one host.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct HostLoad {
    pub(super) rates: Rates,
    /// VMs holding resources (running or paused).
    pub(super) active_vms: u32,
}

impl HostLoad {
    pub(super) fn add(&mut self, r: &Rates) {
        let s = &mut self.rates;
        s.cpu_cores += r.cpu_cores;
        s.read_bps += r.read_bps;
        s.write_bps += r.write_bps;
        s.read_iops += r.read_iops;
        s.write_iops += r.write_iops;
        s.rx_bps += r.rx_bps;
        s.tx_bps += r.tx_bps;
    }
}

/// A host as known to the simulator (not persisted: the controller re-adds hosts).
pub(super) struct SimHost {
    pub(super) spec: HostSpec,
    /// Counters start at zero when the host is first added: that is its boot.
    pub(super) booted_unix: f64,
    pub(super) counters: HostCounters,
}

/// Lifetime counters of a host, node-exporter style.
#[derive(Default)]
pub(super) struct HostCounters {
    /// Seconds per mode, in `CPU_MODES` order.
    pub(super) cpu_by_mode: [f64; 8],
    pub(super) net_rx: f64,
    pub(super) net_tx: f64,
    pub(super) disk_read: f64,
    pub(super) disk_written: f64,
}

impl SimHost {
    /// Cores busy per mode (user, system, idle, iowait, irq, softirq, steal,
    /// nice); they add up to the host's core count.
    pub(super) fn cpu_split(&self, load: &HostLoad) -> [f64; 8] {
        let cores = f64::from(self.spec.cpu_cores);
        let guest = load.rates.cpu_cores.min(cores * 0.97);
        let overhead = 0.01 * cores + 0.03 * guest;
        let mut busy = [
            0.80 * guest,
            0.12 * guest + overhead,
            0.0,
            0.02 * guest,
            0.01 * guest,
            0.03 * guest,
            0.0,
            0.01 * guest,
        ];
        let total: f64 = busy.iter().sum();
        if total > cores {
            busy.iter_mut().for_each(|b| *b *= cores / total);
        }
        busy[2] = (cores - busy.iter().sum::<f64>()).max(0.0);
        busy
    }

    pub(super) fn load1(&self, load: &HostLoad) -> f64 {
        let split = self.cpu_split(load);
        let busy: f64 = split.iter().sum::<f64>() - split[2];
        busy + 0.05 * f64::from(load.active_vms)
    }

    pub(super) fn advance(&mut self, load: &HostLoad, dt: f64) {
        let split = self.cpu_split(load);
        let c = &mut self.counters;
        for (total, rate) in c.cpu_by_mode.iter_mut().zip(split) {
            *total += rate * dt;
        }
        // The host itself chatters a little even when idle.
        c.net_rx += (load.rates.rx_bps + 2048.0) * dt;
        c.net_tx += (load.rates.tx_bps + 1024.0) * dt;
        c.disk_read += load.rates.read_bps * dt;
        c.disk_written += (load.rates.write_bps + 4096.0) * dt;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_is_stable_and_bounded() {
        let a = Profile::of("0b7f1c1e-0000-4000-8000-000000000001");
        let b = Profile::of("0b7f1c1e-0000-4000-8000-000000000001");
        assert_eq!(a.cpu_utilisation, b.cpu_utilisation);
        assert!(a.cpu_utilisation > 0.0 && a.cpu_utilisation <= 1.0);
        assert!(a.memory_fraction > 0.0 && a.memory_fraction < 1.0);
        let c = Profile::of("another");
        assert_ne!(a.cpu_utilisation, c.cpu_utilisation);
    }

    #[test]
    fn cpu_split_adds_up_to_cores() {
        let host = SimHost {
            spec: HostSpec {
                host_id: "h".into(),
                name: "h".into(),
                driver: Default::default(),
                cpu_cores: 4,
                memory_mb: 1024,
                storage_gb: 10,
                memory_overcommit: 1.0,
                uri: None,
            },
            booted_unix: 0.0,
            counters: HostCounters::default(),
        };
        for demand in [0.0, 1.0, 3.9, 50.0] {
            let load = HostLoad {
                rates: Rates {
                    cpu_cores: demand,
                    ..Rates::default()
                },
                active_vms: 1,
            };
            let split = host.cpu_split(&load);
            let sum: f64 = split.iter().sum();
            assert!((sum - 4.0).abs() < 1e-9, "{demand}: {split:?}");
            assert!(split.iter().all(|s| *s >= 0.0));
        }
    }
}
