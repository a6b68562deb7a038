//! Durability: a write-ahead log of every accepted batch and periodic snapshots of the head.
//!
//! A batch reaches the log with one `write` before it is acknowledged, so a killed process
//! (SIGKILL) loses nothing acknowledged; `Storage::sync` (every second from
//! `spawn_maintenance`) bounds what a machine crash can lose. A snapshot is written to a temporary
//! file, renamed into place, and only then is the log emptied; replay skips samples a series
//! already has, so a crash between the two steps is harmless.
//!
//! Records: `len u32 | crc32 u32 | kind u8 | body`. A torn or damaged tail ends the replay there.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::head::Metadata;
use crate::labels::Labels;

pub(crate) const SERIES: u8 = 1;
pub(crate) const SAMPLES: u8 = 2;
pub(crate) const METADATA: u8 = 3;

const WAL_FILE: &str = "metrics.wal";
const SNAPSHOT_FILE: &str = "metrics.snapshot";
const SNAPSHOT_MAGIC: &[u8; 8] = b"DSKMET01";

fn crc_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    for (i, e) in t.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 == 1 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        *e = c;
    }
    t
}

/// CRC-32 (IEEE).
pub(crate) fn crc32(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let t = TABLE.get_or_init(crc_table);
    let mut c = !0u32;
    for b in data {
        c = t[((c ^ u32::from(*b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// A little-endian cursor over bytes.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let b = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(b)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.bytes(N)?.try_into().ok()
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.array()?))
    }

    pub(crate) fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.array()?))
    }

    pub(crate) fn string(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.bytes(n)?.to_vec()).ok()
    }

    pub(crate) fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }
}

pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

pub(crate) fn put_labels(out: &mut Vec<u8>, l: &Labels) {
    out.extend_from_slice(&(l.len() as u32).to_le_bytes());
    for (n, v) in l.iter() {
        put_str(out, n);
        put_str(out, v);
    }
}

pub(crate) fn read_labels(r: &mut Reader<'_>) -> Option<Labels> {
    let n = r.u32()? as usize;
    let mut pairs = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        pairs.push((r.string()?, r.string()?));
    }
    Some(Labels::new(pairs))
}

pub(crate) fn put_metadata(out: &mut Vec<u8>, family: &str, m: &Metadata) {
    put_str(out, family);
    put_str(out, &m.kind);
    put_str(out, &m.help);
    put_str(out, &m.unit);
}

pub(crate) fn read_metadata(r: &mut Reader<'_>) -> Option<(String, Metadata)> {
    let family = r.string()?;
    let m = Metadata {
        kind: r.string()?,
        help: r.string()?,
        unit: r.string()?,
    };
    Some((family, m))
}

/// Appends one framed record to `out`.
pub(crate) fn frame(out: &mut Vec<u8>, kind: u8, body: &[u8]) {
    let mut payload = Vec::with_capacity(body.len() + 1);
    payload.push(kind);
    payload.extend_from_slice(body);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
}

/// The records of a log, up to the first torn or damaged one; also the length of the good part.
pub(crate) fn records(buf: &[u8]) -> (Vec<(u8, &[u8])>, usize) {
    let mut r = Reader::new(buf);
    let mut out = Vec::new();
    let mut good = 0;
    while !r.done() {
        let (Some(len), Some(crc)) = (r.u32(), r.u32()) else {
            break;
        };
        let Some(payload) = r.bytes(len as usize) else {
            break;
        };
        if payload.is_empty() || crc32(payload) != crc {
            break;
        }
        out.push((payload[0], &payload[1..]));
        good = r.pos;
    }
    (out, good)
}

/// The open log file of a data directory.
#[derive(Debug)]
pub(crate) struct Wal {
    dir: PathBuf,
    file: File,
}

impl Wal {
    /// Reads the snapshot and the log of `dir`, cuts a damaged tail off the log, and opens it for
    /// appending.
    pub(crate) fn open(dir: &Path) -> io::Result<(Wal, Option<Vec<u8>>, Vec<u8>)> {
        fs::create_dir_all(dir)?;
        let snapshot = match fs::read(dir.join(SNAPSHOT_FILE)) {
            Ok(b) if b.starts_with(SNAPSHOT_MAGIC) && b.len() >= SNAPSHOT_MAGIC.len() + 4 => {
                let (crc, body) = b[SNAPSHOT_MAGIC.len()..].split_at(4);
                if crc32(body).to_le_bytes() != crc {
                    return Err(io::Error::other("metrics snapshot fails its checksum"));
                }
                Some(body.to_vec())
            }
            Ok(_) => return Err(io::Error::other("metrics snapshot has an unknown format")),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let path = dir.join(WAL_FILE);
        let mut log = Vec::new();
        if let Ok(mut f) = File::open(&path) {
            f.read_to_end(&mut log)?;
        }
        let (_, good) = records(&log);
        log.truncate(good);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        file.set_len(good as u64)?;
        Ok((
            Wal {
                dir: dir.to_path_buf(),
                file,
            },
            snapshot,
            log,
        ))
    }

    /// Writes framed records with one call; on failure the file is cut back to where it was.
    pub(crate) fn write(&mut self, buf: &[u8]) -> io::Result<()> {
        let before = self.file.metadata()?.len();
        if let Err(e) = self.file.write_all(buf) {
            let _ = self.file.set_len(before);
            return Err(e);
        }
        Ok(())
    }

    pub(crate) fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    pub(crate) fn len(&self) -> u64 {
        self.file.metadata().map(|m| m.len()).unwrap_or(0)
    }

    /// Installs a snapshot atomically, then empties the log it covers. A snapshot that cannot
    /// be written whole (a full disk) is removed again, so it holds no space and the log and the
    /// previous snapshot stay as they were.
    pub(crate) fn install_snapshot(&mut self, body: &[u8]) -> io::Result<()> {
        let tmp = self.dir.join(format!("{SNAPSHOT_FILE}.tmp"));
        let written = (|| {
            let mut f = File::create(&tmp)?;
            f.write_all(SNAPSHOT_MAGIC)?;
            f.write_all(&crc32(body).to_le_bytes())?;
            f.write_all(body)?;
            f.sync_all()
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        fs::rename(&tmp, self.dir.join(SNAPSHOT_FILE))?;
        if let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        self.file.set_len(0)?;
        self.file.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_and_torn_tail() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        let mut buf = Vec::new();
        frame(&mut buf, SAMPLES, b"abc");
        frame(&mut buf, SERIES, b"de");
        let full = buf.len();
        frame(&mut buf, SAMPLES, b"torn");
        buf.truncate(buf.len() - 2);
        let (recs, good) = records(&buf);
        assert_eq!(recs, vec![(SAMPLES, &b"abc"[..]), (SERIES, &b"de"[..])]);
        assert_eq!(good, full);
        buf[10] ^= 0xff;
        assert_eq!(records(&buf).0.len(), 0, "damaged first record");
    }
}
