//! Host figures of the machine deskd runs on, read from /proc, for the
//! node-exporter-like [`HostStats`]: the QEMU driver runs VMs locally.

use crate::driver::HostStats;
use std::path::Path;

/// Real figures of this machine; `fs_*` are those of the state directory.
pub(crate) fn stats(host_id: &str, state_dir: &Path) -> HostStats {
    let (fs_size_bytes, fs_avail_bytes) = fs_figures(state_dir).unwrap_or((0, 0));
    let (net_rx_bytes_total, net_tx_bytes_total) = net_totals().unwrap_or((0, 0));
    let (disk_read_bytes_total, disk_written_bytes_total) = disk_totals().unwrap_or((0, 0));
    HostStats {
        host_id: host_id.to_string(),
        cpu_seconds_by_mode: cpu_modes().unwrap_or_default(),
        memory_total_bytes: meminfo("MemTotal:").unwrap_or(0),
        memory_available_bytes: meminfo("MemAvailable:").unwrap_or(0),
        fs_size_bytes,
        fs_avail_bytes,
        net_rx_bytes_total,
        net_tx_bytes_total,
        disk_read_bytes_total,
        disk_written_bytes_total,
        load1: first_number("/proc/loadavg").unwrap_or(0.0),
        boot_time_seconds: boot_time().unwrap_or(0.0),
    }
}

fn cpu_modes() -> Option<Vec<(String, f64)>> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let names = [
        "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
    ];
    let hz = 100.0; // USER_HZ: /proc/stat is always in 1/100 s
    Some(
        names
            .iter()
            .zip(v)
            .map(|(n, t)| (n.to_string(), t / hz))
            .collect(),
    )
}

fn meminfo(key: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 = text
        .lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

fn first_number(path: &str) -> Option<f64> {
    std::fs::read_to_string(path)
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn boot_time() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    stat.lines()
        .find(|l| l.starts_with("btime "))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn fs_figures(dir: &Path) -> Option<(u64, u64)> {
    let c = std::ffi::CString::new(dir.to_string_lossy().as_bytes()).ok()?;
    // SAFETY: statvfs writes into the zeroed struct we own; the path is a valid C string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    let frsize = st.f_frsize as u64;
    Some((st.f_blocks as u64 * frsize, st.f_bavail as u64 * frsize))
}

/// Bytes received and sent by every interface except loopback.
fn net_totals() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/net/dev").ok()?;
    let mut t = (0, 0);
    for line in text.lines().skip(2) {
        let (name, rest) = line.split_once(':')?;
        if name.trim() == "lo" {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        t.0 += f.first().copied().unwrap_or(0);
        t.1 += f.get(8).copied().unwrap_or(0);
    }
    Some(t)
}

/// Bytes read and written by whole block devices (those in /sys/block).
fn disk_totals() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/diskstats").ok()?;
    let mut t = (0, 0);
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let Some(name) = f.get(2) else { continue };
        if !Path::new("/sys/block").join(name).exists() || name.starts_with("loop") {
            continue;
        }
        let sectors = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
        t.0 += sectors(5) * 512;
        t.1 += sectors(9) * 512;
    }
    Some(t)
}
