//! A minimal RFB server (RFC 6143) standing in for a simulated VM's display, so a console
//! client such as noVNC shows something for demo desks and the console proxy can be tested
//! end to end without QEMU.
//!
//! It speaks versions 3.3, 3.7 and 3.8, offers only security type None, and shows one still,
//! generated picture (a gradient framed in a colour derived from the VM's name). It honours
//! `SetPixelFormat` for true-colour formats of 8, 16 and 32 bits per pixel, answers every
//! `FramebufferUpdateRequest` that needs pixels with one Raw rectangle, holds incremental
//! requests while nothing changed (as the protocol allows, so clients do not spin), and reads
//! and ignores `SetEncodings`, key, pointer and cut-text events. Anything else closes the
//! connection, since an unknown message's length cannot be known.

use crate::driver::ConsoleStream;
use std::io;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Size of the simulated display.
pub const WIDTH: u16 = 800;
pub const HEIGHT: u16 = 600;
/// Buffer of the in-process pipe between the server and the console's reader.
const PIPE_BYTES: usize = 64 * 1024;
/// Width of the frame drawn in the name's colour.
const FRAME: u16 = 16;

/// Opens a connection to a new RFB server showing the display of the VM called `name`.
/// The server runs as its own task and ends when the returned stream is dropped.
pub(super) fn open(name: &str) -> ConsoleStream {
    let (client, server) = tokio::io::duplex(PIPE_BYTES);
    let name = name.to_string();
    tokio::spawn(async move {
        if let Err(err) = serve(server, &name).await {
            tracing::debug!(vm = %name, %err, "simulated console closed");
        }
    });
    Box::new(client)
}

/// How pixels are sent (RFC 6143 7.4).
#[derive(Clone, Copy, Debug, PartialEq)]
struct PixelFormat {
    bits_per_pixel: u8,
    depth: u8,
    big_endian: bool,
    true_colour: bool,
    max: [u16; 3],
    shift: [u8; 3],
}

impl PixelFormat {
    /// What the server announces: 32 bits, 24 of colour, little-endian, `0x00RRGGBB`.
    const NATIVE: PixelFormat = PixelFormat {
        bits_per_pixel: 32,
        depth: 24,
        big_endian: false,
        true_colour: true,
        max: [255, 255, 255],
        shift: [16, 8, 0],
    };

    fn to_bytes(self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[0] = self.bits_per_pixel;
        b[1] = self.depth;
        b[2] = u8::from(self.big_endian);
        b[3] = u8::from(self.true_colour);
        for i in 0..3 {
            b[4 + 2 * i..6 + 2 * i].copy_from_slice(&self.max[i].to_be_bytes());
            b[10 + i] = self.shift[i];
        }
        b
    }

    /// A client's format; only true colour in 8, 16 or 32 bits per pixel is served.
    fn parse(b: &[u8; 16]) -> io::Result<PixelFormat> {
        let max = |i: usize| u16::from_be_bytes([b[4 + 2 * i], b[5 + 2 * i]]);
        let f = PixelFormat {
            bits_per_pixel: b[0],
            depth: b[1],
            big_endian: b[2] != 0,
            true_colour: b[3] != 0,
            max: [max(0), max(1), max(2)],
            shift: [b[10], b[11], b[12]],
        };
        if !f.true_colour {
            return Err(invalid("colour-map pixel formats are not supported"));
        }
        if ![8, 16, 32].contains(&f.bits_per_pixel) {
            return Err(invalid("bits per pixel must be 8, 16 or 32"));
        }
        if f.shift
            .iter()
            .any(|s| u32::from(*s) >= u32::from(f.bits_per_pixel))
        {
            return Err(invalid("a colour shift lies outside the pixel"));
        }
        Ok(f)
    }

    fn bytes_per_pixel(self) -> usize {
        usize::from(self.bits_per_pixel / 8)
    }

    /// Appends one pixel of colour `rgb` (0–255 each).
    fn put(self, rgb: [u8; 3], out: &mut Vec<u8>) {
        let mut v: u32 = 0;
        for ((c, max), shift) in rgb.iter().zip(self.max).zip(self.shift) {
            let scaled = u32::from(*c) * u32::from(max) / 255;
            v |= scaled.checked_shl(u32::from(shift)).unwrap_or(0);
        }
        let n = self.bytes_per_pixel();
        if self.big_endian {
            out.extend_from_slice(&v.to_be_bytes()[4 - n..]);
        } else {
            out.extend_from_slice(&v.to_le_bytes()[..n]);
        }
    }
}

/// The still picture of one VM.
struct Picture {
    accent: [u8; 3],
}

impl Picture {
    fn new(name: &str) -> Picture {
        // FNV-1a of the name: the same VM always gets the same colour
        let h = name.bytes().fold(0x811c_9dc5u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        let [a, b, c, _] = h.to_be_bytes();
        Picture {
            accent: [a | 0x40, b | 0x40, c | 0x40],
        }
    }

    fn pixel(&self, x: u16, y: u16) -> [u8; 3] {
        let frame = x < FRAME || y < FRAME || x >= WIDTH - FRAME || y >= HEIGHT - FRAME;
        if frame {
            return self.accent;
        }
        let r = u32::from(x) * 255 / u32::from(WIDTH - 1);
        let g = u32::from(y) * 255 / u32::from(HEIGHT - 1);
        [r as u8, g as u8, self.accent[2] / 2]
    }
}

/// A rectangle of the display.
#[derive(Clone, Copy, Debug)]
struct Rect {
    x: u16,
    y: u16,
    w: u16,
    h: u16,
}

impl Rect {
    fn parse(b: &[u8]) -> Rect {
        let v = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        Rect {
            x: v(0),
            y: v(2),
            w: v(4),
            h: v(6),
        }
    }

    /// The part of the rectangle that lies on the display.
    fn clip(self) -> Rect {
        let x = self.x.min(WIDTH);
        let y = self.y.min(HEIGHT);
        Rect {
            x,
            y,
            w: self.w.min(WIDTH - x),
            h: self.h.min(HEIGHT - y),
        }
    }
}

/// Serves one client on `io` until it disconnects or breaks the protocol.
pub(crate) async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut io: S,
    name: &str,
) -> io::Result<()> {
    let minor = handshake(&mut io).await?;
    let mut shared = [0u8; 1];
    io.read_exact(&mut shared).await?; // ClientInit: whether to share the display; always shared
    let mut init = Vec::with_capacity(24 + name.len());
    init.extend_from_slice(&WIDTH.to_be_bytes());
    init.extend_from_slice(&HEIGHT.to_be_bytes());
    init.extend_from_slice(&PixelFormat::NATIVE.to_bytes());
    let name_len = u32::try_from(name.len()).map_err(|_| invalid("name too long"))?;
    init.extend_from_slice(&name_len.to_be_bytes());
    init.extend_from_slice(name.as_bytes());
    io.write_all(&init).await?;
    io.flush().await?;
    tracing::debug!(vm = %name, version = format!("3.{minor}"), "simulated console connected");

    let picture = Picture::new(name);
    let mut format = PixelFormat::NATIVE;
    // whether the client has the picture in its current pixel format
    let mut current = false;
    let mut held: Option<Rect> = None;
    loop {
        let mut kind = [0u8; 1];
        match io.read_exact(&mut kind).await {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        match kind[0] {
            // SetPixelFormat: 3 padding, the format
            0 => {
                let mut b = [0u8; 19];
                io.read_exact(&mut b).await?;
                let mut f = [0u8; 16];
                f.copy_from_slice(&b[3..]);
                format = PixelFormat::parse(&f)?;
                current = false;
            }
            // SetEncodings: 1 padding, count, count × s32; Raw is always allowed
            2 => {
                let mut b = [0u8; 3];
                io.read_exact(&mut b).await?;
                let count = u64::from(u16::from_be_bytes([b[1], b[2]]));
                skip(&mut io, count * 4).await?;
            }
            // FramebufferUpdateRequest: incremental, x, y, w, h
            3 => {
                let mut b = [0u8; 9];
                io.read_exact(&mut b).await?;
                let rect = Rect::parse(&b[1..]);
                if b[0] == 0 || !current {
                    send_update(&mut io, &picture, format, rect).await?;
                    current = true;
                    held = None;
                } else {
                    held = Some(rect);
                }
            }
            // KeyEvent: down, 2 padding, key
            4 => skip(&mut io, 7).await?,
            // PointerEvent: buttons, x, y
            5 => skip(&mut io, 5).await?,
            // ClientCutText: 3 padding, length (negative in the extended form), text
            6 => {
                let mut b = [0u8; 7];
                io.read_exact(&mut b).await?;
                let len = i32::from_be_bytes([b[3], b[4], b[5], b[6]]);
                skip(&mut io, u64::from(len.unsigned_abs())).await?;
            }
            other => return Err(invalid(&format!("unknown client message type {other}"))),
        }
        if !current {
            if let Some(rect) = held.take() {
                send_update(&mut io, &picture, format, rect).await?;
                current = true;
            }
        }
    }
}

/// ProtocolVersion and security (RFC 6143 7.1); returns the agreed minor version (3, 7 or 8).
async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(io: &mut S) -> io::Result<u32> {
    io.write_all(b"RFB 003.008\n").await?;
    io.flush().await?;
    let mut v = [0u8; 12];
    io.read_exact(&mut v).await?;
    let text = std::str::from_utf8(&v).map_err(|_| invalid("bad ProtocolVersion"))?;
    let minor: u32 = text
        .strip_prefix("RFB 003.")
        .and_then(|m| m.strip_suffix('\n'))
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| invalid("bad ProtocolVersion"))?;
    let minor = match minor {
        0..=6 => 3,
        7 => 7,
        _ => 8,
    };
    if minor == 3 {
        // 3.3: the server decides; None, and no SecurityResult follows
        io.write_all(&1u32.to_be_bytes()).await?;
        io.flush().await?;
        return Ok(minor);
    }
    io.write_all(&[1, 1]).await?; // one security type: None
    io.flush().await?;
    let mut chosen = [0u8; 1];
    io.read_exact(&mut chosen).await?;
    if chosen[0] != 1 {
        if minor == 8 {
            let reason = b"only security type None is offered";
            let mut failed = 1u32.to_be_bytes().to_vec();
            failed.extend_from_slice(&(reason.len() as u32).to_be_bytes());
            failed.extend_from_slice(reason);
            io.write_all(&failed).await?;
            io.flush().await?;
        }
        return Err(invalid("client chose an unoffered security type"));
    }
    if minor == 8 {
        io.write_all(&0u32.to_be_bytes()).await?; // SecurityResult OK
        io.flush().await?;
    }
    Ok(minor)
}

/// One FramebufferUpdate with one Raw rectangle: the part of `rect` on the display.
async fn send_update<S: AsyncWrite + Unpin>(
    io: &mut S,
    picture: &Picture,
    format: PixelFormat,
    rect: Rect,
) -> io::Result<()> {
    let r = rect.clip();
    let mut head = vec![0u8, 0];
    head.extend_from_slice(&1u16.to_be_bytes());
    for v in [r.x, r.y, r.w, r.h] {
        head.extend_from_slice(&v.to_be_bytes());
    }
    head.extend_from_slice(&0i32.to_be_bytes()); // Raw
    io.write_all(&head).await?;
    let mut row = Vec::with_capacity(usize::from(r.w) * format.bytes_per_pixel());
    for y in r.y..r.y + r.h {
        row.clear();
        for x in r.x..r.x + r.w {
            format.put(picture.pixel(x, y), &mut row);
        }
        io.write_all(&row).await?;
    }
    io.flush().await
}

/// Reads and drops `n` bytes.
async fn skip<S: AsyncRead + Unpin>(io: &mut S, n: u64) -> io::Result<()> {
    let copied = tokio::io::copy(&mut io.take(n), &mut tokio::io::sink()).await?;
    if copied < n {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixel_formats_pack_as_declared() {
        let mut out = Vec::new();
        PixelFormat::NATIVE.put([0x12, 0x34, 0x56], &mut out);
        assert_eq!(out, [0x56, 0x34, 0x12, 0x00]);
        let rgb565 = PixelFormat {
            bits_per_pixel: 16,
            depth: 16,
            big_endian: true,
            true_colour: true,
            max: [31, 63, 31],
            shift: [11, 5, 0],
        };
        out.clear();
        rgb565.put([255, 0, 255], &mut out);
        assert_eq!(out, [0xf8, 0x1f]);
        let back = PixelFormat::parse(&rgb565.to_bytes());
        assert_eq!(back.ok(), Some(rgb565));
    }

    #[test]
    fn rectangles_are_clipped_to_the_display() {
        let r = Rect {
            x: 790,
            y: 10,
            w: 100,
            h: 1000,
        }
        .clip();
        assert_eq!((r.x, r.y, r.w, r.h), (790, 10, 10, 590));
        let r = Rect {
            x: 900,
            y: 900,
            w: 5,
            h: 5,
        }
        .clip();
        assert_eq!((r.w, r.h), (0, 0));
    }
}
