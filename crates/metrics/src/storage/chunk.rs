//! Gorilla-style compressed chunks: delta-of-delta timestamps and XOR-ed float bits.
//!
//! Regular scrapes make most timestamp deltas-of-deltas zero (one bit) and slowly moving values
//! share most of their bits with the previous one, which is what brings a sample near 1–2 bytes.

/// Samples per chunk before a new one is cut; bounds the work of decoding one range.
pub const SAMPLES_PER_CHUNK: u16 = 120;

#[derive(Clone, Debug, Default)]
struct BitWriter {
    bytes: Vec<u8>,
    /// Bits used in the last byte (0 = start a new byte).
    used: u8,
}

impl BitWriter {
    fn push_bit(&mut self, bit: bool) {
        if self.used == 0 {
            self.bytes.push(0);
        }
        if bit {
            if let Some(last) = self.bytes.last_mut() {
                *last |= 0x80 >> self.used;
            }
        }
        self.used = (self.used + 1) % 8;
    }

    /// Writes the low `n` bits of `v`, most significant first, a byte at a time.
    fn push_bits(&mut self, v: u64, n: u8) {
        let mut left = n;
        while left > 0 {
            if self.used == 0 {
                self.bytes.push(0);
            }
            let free = 8 - self.used;
            let take = free.min(left);
            let part = ((v >> (left - take)) & ((1u64 << take) - 1)) as u8;
            if let Some(last) = self.bytes.last_mut() {
                *last |= part << (free - take);
            }
            self.used = (self.used + take) % 8;
            left -= take;
        }
    }
}

struct BitReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl BitReader<'_> {
    fn bit(&mut self) -> Option<bool> {
        let byte = *self.bytes.get(self.pos / 8)?;
        let bit = byte & (0x80 >> (self.pos % 8)) != 0;
        self.pos += 1;
        Some(bit)
    }

    /// Reads `n` bits, a byte at a time.
    fn bits(&mut self, n: u8) -> Option<u64> {
        let n = usize::from(n);
        if self.pos + n > self.bytes.len() * 8 {
            return None;
        }
        let (mut v, mut left) = (0u64, n);
        while left > 0 {
            let byte = self.bytes[self.pos / 8];
            let avail = 8 - self.pos % 8;
            let take = avail.min(left);
            let part = (byte >> (avail - take)) & (((1u16 << take) - 1) as u8);
            v = (v << take) | u64::from(part);
            self.pos += take;
            left -= take;
        }
        Some(v)
    }
}

/// Delta-of-delta buckets: (prefix bits, prefix length, value bits), as in the Gorilla paper
/// with Prometheus's wider ranges for millisecond timestamps.
const DOD_BUCKETS: [(u64, u8, u8); 3] = [(0b10, 2, 14), (0b110, 3, 17), (0b1110, 4, 20)];

fn fits(v: i64, bits: u8) -> bool {
    let lim = 1i64 << (bits - 1);
    -lim < v && v <= lim
}

/// One chunk. Appends must be in time order; the caller checks that.
#[derive(Clone, Debug, Default)]
pub struct Chunk {
    w: BitWriter,
    count: u16,
    min_t: i64,
    t: i64,
    delta: i64,
    v: u64,
    leading: u8,
    trailing: u8,
}

impl Chunk {
    pub fn len(&self) -> usize {
        usize::from(self.count)
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn is_full(&self) -> bool {
        self.count >= SAMPLES_PER_CHUNK
    }

    pub fn min_time(&self) -> i64 {
        self.min_t
    }

    pub fn max_time(&self) -> i64 {
        self.t
    }

    /// Encoded size in bytes (plus a fixed header a real block would also carry).
    pub fn bytes(&self) -> usize {
        self.w.bytes.len()
    }

    /// Bytes the encoding's buffer holds (it grows by doubling while the chunk fills).
    pub fn capacity(&self) -> usize {
        self.w.bytes.capacity()
    }

    /// Drops the buffer's spare capacity; for a chunk that takes no more samples.
    pub fn compact(&mut self) {
        self.w.bytes.shrink_to_fit();
    }

    pub fn append(&mut self, t: i64, v: f64) {
        let bits = v.to_bits();
        match self.count {
            0 => {
                self.w.push_bits(t as u64, 64);
                self.w.push_bits(bits, 64);
                self.min_t = t;
                self.leading = 0xff;
            }
            1 => {
                let delta = t.wrapping_sub(self.t);
                self.w.push_bits(delta as u64, 64);
                self.delta = delta;
                self.push_value(bits);
            }
            _ => {
                let delta = t.wrapping_sub(self.t);
                self.push_dod(delta.wrapping_sub(self.delta));
                self.delta = delta;
                self.push_value(bits);
            }
        }
        self.t = t;
        self.v = bits;
        self.count += 1;
    }

    fn push_dod(&mut self, dod: i64) {
        if dod == 0 {
            self.w.push_bit(false);
            return;
        }
        for (prefix, plen, vbits) in DOD_BUCKETS {
            if fits(dod, vbits) {
                self.w.push_bits(prefix, plen);
                self.w.push_bits(dod as u64 & ((1u64 << vbits) - 1), vbits);
                return;
            }
        }
        self.w.push_bits(0b1111, 4);
        self.w.push_bits(dod as u64, 64);
    }

    fn push_value(&mut self, bits: u64) {
        let x = bits ^ self.v;
        if x == 0 {
            self.w.push_bit(false);
            return;
        }
        self.w.push_bit(true);
        let leading = (x.leading_zeros() as u8).min(31);
        let trailing = x.trailing_zeros() as u8;
        if self.leading != 0xff && leading >= self.leading && trailing >= self.trailing {
            self.w.push_bit(false);
            let sig = 64 - self.leading - self.trailing;
            self.w.push_bits(x >> self.trailing, sig);
            return;
        }
        self.leading = leading;
        self.trailing = trailing;
        self.w.push_bit(true);
        self.w.push_bits(u64::from(leading), 5);
        let sig = 64 - leading - trailing;
        // 64 significant bits are stored as 0: six bits cannot hold 64 and 0 never occurs.
        self.w.push_bits(u64::from(sig % 64), 6);
        self.w.push_bits(x >> trailing, sig);
    }

    /// Writes the chunk's full state (for snapshots).
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.count.to_le_bytes());
        out.push(self.w.used);
        out.push(self.leading);
        out.push(self.trailing);
        for x in [self.min_t, self.t, self.delta] {
            out.extend_from_slice(&x.to_le_bytes());
        }
        out.extend_from_slice(&self.v.to_le_bytes());
        out.extend_from_slice(&(self.w.bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.w.bytes);
    }

    /// Reads what `encode` wrote; `None` on damaged input.
    pub(crate) fn decode(r: &mut super::wal::Reader<'_>) -> Option<Chunk> {
        let count = r.u16()?;
        let used = r.u8()?;
        let leading = r.u8()?;
        let trailing = r.u8()?;
        let (min_t, t, delta) = (r.i64()?, r.i64()?, r.i64()?);
        let v = r.u64()?;
        let len = r.u32()? as usize;
        let bytes = r.bytes(len)?.to_vec();
        Some(Chunk {
            w: BitWriter { bytes, used },
            count,
            min_t,
            t,
            delta,
            v,
            leading,
            trailing,
        })
    }

    /// Decodes every sample; a truncated chunk yields the samples before the damage.
    pub fn samples(&self) -> Vec<(i64, f64)> {
        let mut out = Vec::with_capacity(self.len());
        self.samples_in(i64::MIN, i64::MAX, &mut out);
        out
    }

    /// Appends the samples in [mint, maxt] to `out`, decoding no further than `maxt`.
    pub fn samples_in(&self, mint: i64, maxt: i64, out: &mut Vec<(i64, f64)>) {
        let mut r = BitReader {
            bytes: &self.w.bytes,
            pos: 0,
        };
        let _ = decode(&mut r, self.count, mint, maxt, out);
    }
}

fn decode(
    r: &mut BitReader<'_>,
    count: u16,
    mint: i64,
    maxt: i64,
    out: &mut Vec<(i64, f64)>,
) -> Option<()> {
    if count == 0 {
        return Some(());
    }
    let mut t = r.bits(64)? as i64;
    let mut v = r.bits(64)?;
    if t > maxt {
        return Some(());
    }
    if t >= mint {
        out.push((t, f64::from_bits(v)));
    }
    let (mut leading, mut trailing) = (0u8, 0u8);
    let mut delta = 0i64;
    for i in 1..count {
        if i == 1 {
            delta = r.bits(64)? as i64;
        } else {
            delta = delta.wrapping_add(read_dod(r)?);
        }
        t = t.wrapping_add(delta);
        if r.bit()? {
            if r.bit()? {
                leading = r.bits(5)? as u8;
                let sig = r.bits(6)? as u8;
                let sig = if sig == 0 { 64 } else { sig };
                // Damaged input (a bad snapshot) must not panic: stop decoding instead.
                trailing = 64u8.checked_sub(leading)?.checked_sub(sig)?;
            }
            let sig = 64u8.checked_sub(leading)?.checked_sub(trailing)?;
            v ^= r.bits(sig)?.checked_shl(u32::from(trailing))?;
        }
        if t > maxt {
            break;
        }
        if t >= mint {
            out.push((t, f64::from_bits(v)));
        }
    }
    Some(())
}

fn read_dod(r: &mut BitReader<'_>) -> Option<i64> {
    let mut ones = 0;
    while ones < 4 && r.bit()? {
        ones += 1;
    }
    let bits = match ones {
        0 => return Some(0),
        1 => 14,
        2 => 17,
        3 => 20,
        _ => return Some(r.bits(64)? as i64),
    };
    let raw = r.bits(bits)?;
    // Sign-extend the two's-complement field.
    let shift = 64 - bits;
    Some(((raw << shift) as i64) >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(samples: &[(i64, f64)]) {
        let mut c = Chunk::default();
        for &(t, v) in samples {
            c.append(t, v);
        }
        let got = c.samples();
        assert_eq!(got.len(), samples.len());
        for (a, b) in got.iter().zip(samples) {
            assert_eq!(a.0, b.0);
            assert_eq!(a.1.to_bits(), b.1.to_bits());
        }
    }

    #[test]
    fn irregular_times_and_values_roundtrip() {
        let mut s = vec![];
        let mut t = -5_000i64;
        let mut x = 1u64;
        for i in 0..120 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            t += match i % 5 {
                0 => 15_000,
                1 => 1,
                2 => 9_000_000,
                3 => 15_001,
                _ => 40_000_000_000,
            };
            let v = match i % 4 {
                0 => f64::from_bits(x),
                1 => f64::NAN,
                2 => -0.0,
                _ => i as f64 * 0.1,
            };
            s.push((t, v));
        }
        roundtrip(&s);
    }

    #[test]
    fn extremes_roundtrip() {
        roundtrip(&[
            (i64::MIN / 2, f64::INFINITY),
            (0, f64::NEG_INFINITY),
            (i64::MAX / 2, f64::MIN_POSITIVE),
            (i64::MAX / 2 + 1, 1.0),
        ]);
        roundtrip(&[]);
        roundtrip(&[(7, 7.0)]);
    }
}
