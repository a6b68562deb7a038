//! Capacity and use of a storage pool. A pool backed by a directory reports the figures of the
//! file system holding it (statvfs); a simulated pool reports its configured capacity and the
//! bytes the inventory keeps on it (OS files and the disks of desks built from them).

use deskd_domain::enums::PoolHealth;
use deskd_domain::error::{Error, Result};
use deskd_domain::store::PoolRow;

const GIB: i64 = 1 << 30;

/// What a pool holds and uses, in bytes, and its health as shown.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    pub total: i64,
    pub used: i64,
    pub health: PoolHealth,
}

/// `(total, used)` bytes of the file system holding `dir`.
pub fn statvfs(dir: &str) -> std::io::Result<(i64, i64)> {
    let path = std::ffi::CString::new(dir)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL in path"))?;
    // SAFETY: `path` is a valid NUL-terminated string and `st` is a plain C struct that
    // statvfs fills in; nothing is read from it unless the call succeeded.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut st) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let frsize = st.f_frsize as i64;
    let total = st.f_blocks as i64 * frsize;
    let used = (st.f_blocks as i64 - st.f_bfree as i64) * frsize;
    Ok((total, used))
}

/// The figures of one pool. A directory that cannot be read shows as ERROR with no capacity.
pub fn figures(row: &PoolRow) -> Figures {
    let p = &row.pool;
    match &p.directory {
        None => Figures {
            total: p.capacity_gb.saturating_mul(GIB),
            used: row.inventory_bytes,
            health: p.health,
        },
        Some(dir) => match statvfs(dir) {
            Ok((total, used)) => Figures {
                total,
                used,
                health: p.health,
            },
            Err(e) => {
                tracing::warn!(pool = %p.name, dir = %dir, error = %e, "storage pool directory unreadable");
                Figures {
                    total: 0,
                    used: 0,
                    health: PoolHealth::ERROR,
                }
            }
        },
    }
}

/// The figures of many pools, read off the async workers (statvfs may block on a slow mount).
pub async fn all_figures(rows: Vec<PoolRow>) -> Result<Vec<(PoolRow, Figures)>> {
    tokio::task::spawn_blocking(move || {
        rows.into_iter()
            .map(|r| {
                let f = figures(&r);
                (r, f)
            })
            .collect()
    })
    .await
    .map_err(Error::internal)
}

/// An absolute path of an existing directory, for a pool backed by a file system.
pub fn directory(value: &str, field: &str) -> Result<String> {
    let p = std::path::Path::new(value);
    if !p.is_absolute() {
        return Err(Error::invalid(field, "must be an absolute path"));
    }
    if !p.is_dir() {
        return Err(Error::invalid(
            field,
            format!("`{value}` is not an existing directory"),
        ));
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statvfs_reads_a_real_file_system() {
        let (total, used) = statvfs("/").unwrap();
        assert!(total > 0 && used > 0 && used <= total);
        assert!(statvfs("/definitely/not/here").is_err());
    }

    #[test]
    fn directories_must_exist_and_be_absolute() {
        assert!(directory("relative", "d").is_err());
        assert!(directory("/definitely/not/here", "d").is_err());
        assert!(directory("/", "d").is_ok());
    }
}
