//! Figures from libvirt: every domain's statistics in one `virConnectGetAllDomainStats` call
//! (cpu, balloon, block, net), and the node's CPU time, memory and pool space for the
//! node-exporter-like [`HostStats`].
//!
//! The `virt` crate returns the stats records as raw pointers (its `DomainStatsRecord` is a
//! TODO upstream) and frees only the array, not the records, so this module calls the C API
//! itself, reads the typed parameters and frees the list with `virDomainStatsRecordListFree`.

use super::lv;
use crate::driver::{DriverError, HostStats};
use std::collections::BTreeMap;
use std::ffi::CStr;
use std::os::raw::{c_char, c_int};
use virt::connect::Connect;
use virt::sys;

/// Counters of one QEMU process (they restart from zero with each start).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Counters {
    pub cpu_seconds: f64,
    pub rd_bytes: u64,
    pub wr_bytes: u64,
    pub rd_ops: u64,
    pub wr_ops: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
}

impl Counters {
    pub fn add(&mut self, o: &Counters) {
        self.cpu_seconds += o.cpu_seconds;
        self.rd_bytes += o.rd_bytes;
        self.wr_bytes += o.wr_bytes;
        self.rd_ops += o.rd_ops;
        self.wr_ops += o.wr_ops;
        self.rx_bytes += o.rx_bytes;
        self.tx_bytes += o.tx_bytes;
    }
}

/// One running domain's statistics.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct DomainStats {
    /// libvirt's id of the domain's current process (a new one at every start)
    pub id: u32,
    pub counters: Counters,
    /// balloon.current (KiB): the memory the guest has now
    pub balloon_kib: Option<u64>,
    /// balloon.usable (KiB): what the guest reports it could use without swapping
    pub usable_kib: Option<u64>,
    pub rss_kib: Option<u64>,
}

/// A typed parameter's value as deskd reads it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Num(f64),
    Text(String),
}

/// Folds the flat `name=value` list of one record into [`DomainStats`].
pub(crate) fn fold(params: &[(String, Value)]) -> DomainStats {
    let mut s = DomainStats::default();
    let mut c = Counters::default();
    for (k, v) in params {
        let Value::Num(n) = v else { continue };
        let n = *n;
        let u = n.max(0.0) as u64;
        let (group, field) = match k.split_once('.') {
            Some((g, rest)) => (g, rest.rsplit_once('.').map_or(rest, |(_, f)| f)),
            None => continue,
        };
        // `block.<n>.rd.bytes`, `net.<n>.rx.bytes`: the index sits between group and field
        let kind = k.split('.').rev().nth(1).unwrap_or("");
        match (group, kind, field) {
            ("cpu", _, "time") if k == "cpu.time" => c.cpu_seconds = n / 1e9,
            ("balloon", _, "current") => s.balloon_kib = Some(u),
            ("balloon", _, "usable") => s.usable_kib = Some(u),
            ("balloon", _, "rss") => s.rss_kib = Some(u),
            ("block", "rd", "bytes") => c.rd_bytes += u,
            ("block", "wr", "bytes") => c.wr_bytes += u,
            ("block", "rd", "reqs") => c.rd_ops += u,
            ("block", "wr", "reqs") => c.wr_ops += u,
            ("net", "rx", "bytes") => c.rx_bytes += u,
            ("net", "tx", "bytes") => c.tx_bytes += u,
            _ => {}
        }
    }
    s.counters = c;
    s
}

/// Every active domain's statistics on this connection, by domain name.
pub(crate) fn all_domains(conn: &Connect) -> Result<BTreeMap<String, DomainStats>, DriverError> {
    let wanted = sys::VIR_DOMAIN_STATS_CPU_TOTAL
        | sys::VIR_DOMAIN_STATS_BALLOON
        | sys::VIR_DOMAIN_STATS_INTERFACE
        | sys::VIR_DOMAIN_STATS_BLOCK;
    let mut records: *mut sys::virDomainStatsRecordPtr = std::ptr::null_mut();
    // SAFETY: the connection pointer is valid for `conn`'s lifetime; libvirt fills `records`
    // with a NULL-terminated array that we free below with the matching libvirt call.
    let n = unsafe {
        sys::virConnectGetAllDomainStats(
            conn.as_ptr(),
            wanted,
            &mut records,
            sys::VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE,
        )
    };
    if n < 0 || records.is_null() {
        return Err(lv("domain stats", virt::error::Error::last_error()));
    }
    let mut out = BTreeMap::new();
    for i in 0..n as usize {
        // SAFETY: i < n, the array holds n valid record pointers (then NULL).
        let rec = unsafe { *records.add(i) };
        if rec.is_null() {
            break;
        }
        // SAFETY: a record's dom and params stay valid until the list is freed.
        let (name, id, params) = unsafe { read_record(rec) };
        if let Some(name) = name {
            out.insert(
                name,
                DomainStats {
                    id,
                    ..fold(&params)
                },
            );
        }
    }
    // SAFETY: frees each record and the array, exactly once.
    unsafe { sys::virDomainStatsRecordListFree(records) };
    Ok(out)
}

/// The domain's name, id and typed parameters.
///
/// # Safety
/// `rec` must point to a live record of a list not yet freed.
unsafe fn read_record(
    rec: sys::virDomainStatsRecordPtr,
) -> (Option<String>, u32, Vec<(String, Value)>) {
    let r = &*rec;
    let id = sys::virDomainGetID(r.dom);
    let name_ptr = sys::virDomainGetName(r.dom);
    let name =
        (!name_ptr.is_null()).then(|| CStr::from_ptr(name_ptr).to_string_lossy().into_owned());
    let mut params = Vec::with_capacity(r.nparams.max(0) as usize);
    for j in 0..r.nparams.max(0) as usize {
        let p = &*r.params.add(j);
        let field = c_field(&p.field);
        let value = match p.type_ as u32 {
            sys::VIR_TYPED_PARAM_INT => Value::Num(f64::from(p.value.i)),
            sys::VIR_TYPED_PARAM_UINT => Value::Num(f64::from(p.value.ui)),
            sys::VIR_TYPED_PARAM_LLONG => Value::Num(p.value.l as f64),
            sys::VIR_TYPED_PARAM_ULLONG => Value::Num(p.value.ul as f64),
            sys::VIR_TYPED_PARAM_DOUBLE => Value::Num(p.value.d),
            sys::VIR_TYPED_PARAM_BOOLEAN => Value::Num(f64::from(p.value.b != 0)),
            sys::VIR_TYPED_PARAM_STRING if !p.value.s.is_null() => {
                Value::Text(CStr::from_ptr(p.value.s).to_string_lossy().into_owned())
            }
            _ => continue,
        };
        params.push((field, value));
    }
    (name, id, params)
}

/// A fixed-size C field name up to its NUL.
fn c_field(field: &[c_char]) -> String {
    let bytes: Vec<u8> = field
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Node figures: CPU time by mode over all CPUs, memory, the pool's space, and the network
/// and disk totals of the host's running domains (what libvirt can see of the node's I/O).
pub(crate) fn node(
    conn: &Connect,
    host_id: &str,
    pool: Option<(u64, u64)>,
    domains: &BTreeMap<String, DomainStats>,
) -> Result<HostStats, DriverError> {
    let cpu = node_params(conn, true)?;
    let mem = node_params(conn, false)?;
    let kib = |k: &str| {
        mem.iter()
            .find(|(n, _)| n == k)
            .map_or(0, |(_, v)| v * 1024)
    };
    let mode = |k: &str| {
        cpu.iter()
            .find(|(n, _)| n == k)
            .map_or(0.0, |(_, v)| *v as f64 / 1e9)
    };
    let mut t = Counters::default();
    for d in domains.values() {
        t.add(&d.counters);
    }
    let (fs_size_bytes, fs_avail_bytes) = pool.unwrap_or((0, 0));
    Ok(HostStats {
        host_id: host_id.to_string(),
        cpu_seconds_by_mode: vec![
            ("user".into(), mode("user")),
            ("system".into(), mode("kernel")),
            ("idle".into(), mode("idle")),
            ("iowait".into(), mode("iowait")),
        ],
        memory_total_bytes: kib("total"),
        memory_available_bytes: kib("free") + kib("buffers") + kib("cached"),
        fs_size_bytes,
        fs_avail_bytes,
        net_rx_bytes_total: t.rx_bytes,
        net_tx_bytes_total: t.tx_bytes,
        disk_read_bytes_total: t.rd_bytes,
        disk_written_bytes_total: t.wr_bytes,
        load1: 0.0,
        boot_time_seconds: 0.0,
    })
}

/// `virNodeGetCPUStats` (all CPUs, nanoseconds) or `virNodeGetMemoryStats` (all cells, KiB).
fn node_params(conn: &Connect, cpu: bool) -> Result<Vec<(String, u64)>, DriverError> {
    let what = if cpu {
        "node cpu stats"
    } else {
        "node memory stats"
    };
    let mut n: c_int = 0;
    // SAFETY: a NULL params array asks libvirt for the count only.
    let rc = unsafe {
        if cpu {
            sys::virNodeGetCPUStats(conn.as_ptr(), -1, std::ptr::null_mut(), &mut n, 0)
        } else {
            sys::virNodeGetMemoryStats(conn.as_ptr(), -1, std::ptr::null_mut(), &mut n, 0)
        }
    };
    if rc < 0 {
        return Err(lv(what, virt::error::Error::last_error()));
    }
    let mut out = Vec::new();
    if cpu {
        let mut buf = vec![
            sys::virNodeCPUStats {
                field: [0; 80],
                value: 0
            };
            n.max(0) as usize
        ];
        // SAFETY: buf holds n entries, as libvirt was told.
        let rc = unsafe { sys::virNodeGetCPUStats(conn.as_ptr(), -1, buf.as_mut_ptr(), &mut n, 0) };
        if rc < 0 {
            return Err(lv(what, virt::error::Error::last_error()));
        }
        out.extend(
            buf.iter()
                .take(n.max(0) as usize)
                .map(|p| (c_field(&p.field), p.value)),
        );
    } else {
        let mut buf = vec![
            sys::virNodeMemoryStats {
                field: [0; 80],
                value: 0
            };
            n.max(0) as usize
        ];
        // SAFETY: as above.
        let rc =
            unsafe { sys::virNodeGetMemoryStats(conn.as_ptr(), -1, buf.as_mut_ptr(), &mut n, 0) };
        if rc < 0 {
            return Err(lv(what, virt::error::Error::last_error()));
        }
        out.extend(
            buf.iter()
                .take(n.max(0) as usize)
                .map(|p| (c_field(&p.field), p.value)),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_fold_into_counters() {
        let p = |k: &str, v: f64| (k.to_string(), Value::Num(v));
        let s = fold(&[
            p("cpu.time", 2.5e9),
            p("cpu.user", 1e9),
            p("balloon.current", 1048576.0),
            p("balloon.usable", 524288.0),
            p("balloon.rss", 200000.0),
            ("block.0.name".into(), Value::Text("vda".into())),
            p("block.0.rd.bytes", 100.0),
            p("block.1.rd.bytes", 50.0),
            p("block.0.wr.bytes", 7.0),
            p("block.0.rd.reqs", 3.0),
            p("block.0.wr.reqs", 1.0),
            p("block.0.rd.times", 999.0),
            p("net.0.rx.bytes", 1452.0),
            p("net.0.tx.bytes", 1082.0),
            p("net.0.rx.pkts", 12.0),
        ]);
        assert_eq!(s.counters.cpu_seconds, 2.5);
        assert_eq!((s.counters.rd_bytes, s.counters.wr_bytes), (150, 7));
        assert_eq!((s.counters.rd_ops, s.counters.wr_ops), (3, 1));
        assert_eq!((s.counters.rx_bytes, s.counters.tx_bytes), (1452, 1082));
        assert_eq!(s.balloon_kib, Some(1048576));
        assert_eq!(s.usable_kib, Some(524288));
        assert_eq!(s.rss_kib, Some(200000));
    }
}
