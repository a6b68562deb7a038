//! The load generator: a fixed number of HTTP/1.1 keep-alive connections, each sending one
//! request after another for a warm-up and then a measurement window.
//!
//! It is written on hyper's low-level client connection (no pool, no retries, no redirects) so
//! that the same code loads the bare-hyper ceiling and deskd, and the difference between the two
//! is the server's own cost. A request counts as successful when the status is 2xx and the
//! `/v1` envelope's `code` is 0; everything else is an error.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::stats::Summary;

/// One kind of request, sent over and over.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub method: Method,
    pub path: String,
    /// `Bearer …`, when the route needs a token.
    pub authorization: Option<HeaderValue>,
    pub body: Bytes,
    /// A mix of `(path, body)` requests to send instead of `path` and `body`: connection k
    /// starts at its own offset and walks the mix in order (a seeded, repeatable workload).
    pub mix: Arc<Vec<(String, Bytes)>>,
}

impl Target {
    /// One request, sent over and over.
    pub fn one(
        addr: SocketAddr,
        method: Method,
        path: &str,
        authorization: Option<HeaderValue>,
        body: Bytes,
    ) -> Self {
        Target {
            addr,
            method,
            path: path.to_string(),
            authorization,
            body,
            mix: Arc::default(),
        }
    }
}

/// How hard and how long to load a target.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
}

/// When a connection's answers start to count, and when it stops sending.
#[derive(Debug, Clone, Copy)]
struct Window {
    from: Instant,
    until: Instant,
}

/// What one connection saw inside the window.
#[derive(Default)]
struct ConnTally {
    latencies_us: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
}

impl ConnTally {
    fn error(&mut self, counted: bool, why: String) {
        if counted {
            self.errors += 1;
        }
        self.first_error.get_or_insert(why);
    }
}

/// Loads `target` with `plan.connections` connections and summarises the window.
pub async fn run(target: &Target, plan: Plan) -> anyhow::Result<Summary> {
    let from = Instant::now() + plan.warmup;
    let window = Window {
        from,
        until: from + plan.duration,
    };
    let target = Arc::new(target.clone());
    let conns: Vec<_> = (0..plan.connections)
        .map(|k| tokio::spawn(connection(target.clone(), window, k * 7919)))
        .collect();
    let mut latencies = Vec::new();
    let (mut errors, mut first_error) = (0, None);
    for c in conns {
        let t = c.await.context("a load connection panicked")?;
        latencies.extend(t.latencies_us);
        errors += t.errors;
        first_error = first_error.or(t.first_error);
    }
    Ok(Summary::new(latencies, errors, plan.duration, first_error))
}

/// One keep-alive connection sending back-to-back until the window closes; reconnects after a
/// transport failure.
async fn connection(target: Arc<Target>, window: Window, offset: usize) -> ConnTally {
    let mut tally = ConnTally::default();
    let mut next = offset;
    let mut sender: Option<SendRequest<Full<Bytes>>> = None;
    while Instant::now() < window.until {
        let s = match sender.as_mut() {
            Some(s) => s,
            None => match open(target.addr).await {
                Ok(s) => sender.insert(s),
                Err(e) => {
                    tally.error(Instant::now() >= window.from, format!("connect: {e:#}"));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let started = Instant::now();
        let (path, body) = match target.mix.len() {
            0 => (target.path.as_str(), target.body.clone()),
            n => {
                let (p, b) = &target.mix[next % n];
                (p.as_str(), b.clone())
            }
        };
        next = next.wrapping_add(1);
        let outcome = exchange(s, &target, path, body).await;
        let done = Instant::now();
        let counted = done >= window.from && done <= window.until;
        match outcome {
            Ok(None) if counted => tally.latencies_us.push(micros(done - started)),
            Ok(None) => {}
            Ok(Some(why)) => tally.error(counted, why),
            Err(e) => {
                tally.error(counted, format!("transport: {e:#}"));
                sender = None;
            }
        }
    }
    tally
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

/// Opens a keep-alive HTTP/1.1 connection; its driver runs as a task of the current runtime.
pub async fn open(addr: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Builds one request of `method path` with a JSON body.
pub fn request(
    method: Method,
    path: &str,
    authorization: Option<&HeaderValue>,
    body: Bytes,
) -> anyhow::Result<Request<Full<Bytes>>> {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, "127.0.0.1")
        .header(CONTENT_TYPE, "application/json");
    if let Some(a) = authorization {
        b = b.header(AUTHORIZATION, a);
    }
    Ok(b.body(Full::new(body))?)
}

/// Sends one request and reads the whole answer: `None` when it succeeded, the reason otherwise.
async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    t: &Target,
    path: &str,
    body: Bytes,
) -> anyhow::Result<Option<String>> {
    let req = request(t.method.clone(), path, t.authorization.as_ref(), body)?;
    sender.ready().await?;
    let resp = sender.send_request(req).await?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    match (status.is_success(), envelope_code(&body)) {
        (true, Some(0)) => Ok(None),
        _ => Ok(Some(format!("HTTP {status}: {}", snippet(&body)))),
    }
}

/// The first `"code":N` of a `/v1` envelope, found without parsing the whole (possibly large)
/// body: deskd serialises `content.code` before `content.data`.
pub fn envelope_code(body: &[u8]) -> Option<u64> {
    const KEY: &[u8] = b"\"code\":";
    let at = body.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let digits: String = body[at..]
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take_while(|b| b.is_ascii_digit())
        .map(|&b| char::from(b))
        .collect();
    digits.parse().ok()
}

/// The start of a body, for error messages.
pub fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_envelope_code() {
        assert_eq!(
            envelope_code(br#"{"content":{"code":0,"data":{"code":7}}}"#),
            Some(0)
        );
        assert_eq!(
            envelope_code(br#"{"content":{"code": 22000400,"message":"x"}}"#),
            Some(22000400)
        );
        assert_eq!(envelope_code(b"hello"), None);
    }
}
