//! Transport limits: a bound on open connections (the ones over it are closed at once, before
//! any TLS work), the HTTP/1 header-read timeout that also closes idle keep-alive connections
//! (slow-loris), body-size limits and the security headers of every reply.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::{header, HeaderName, HeaderValue};
use axum_server::accept::Accept;
use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower_http::set_header::SetResponseHeaderLayer;

use super::throttle::{Reason, Throttles};

/// The transport settings (flags, `DESKD_*` variables and TOML keys of the same names).
#[derive(Debug, Clone)]
pub struct TransportSettings {
    /// Open connections at once; the ones over it are closed as soon as they are accepted.
    pub max_connections: usize,
    /// Time a connection has to send a complete request head, from its opening or from the
    /// end of its previous reply (so it also ends idle keep-alive connections).
    pub header_read_timeout: Duration,
    /// Largest JSON body of a `/v1` request. OS-file uploads stream and are not bound by it;
    /// the metrics write endpoints have their own bound (`deskd_metrics::http`).
    pub max_body_bytes: usize,
}

impl Default for TransportSettings {
    fn default() -> Self {
        TransportSettings {
            max_connections: 4096,
            header_read_timeout: Duration::from_secs(10),
            max_body_bytes: 4 << 20,
        }
    }
}

/// Wraps an acceptor: a connection first takes a slot, held as long as it stays open, and
/// must send its first byte within the header-read timeout (hyper's own timer only starts
/// once the connection's protocol is known, which takes a first byte).
#[derive(Clone)]
pub struct Limited<A> {
    inner: A,
    slots: Arc<Semaphore>,
    throttles: Arc<Throttles>,
    first_byte: Duration,
}

impl<A> Limited<A> {
    pub fn new(inner: A, s: &TransportSettings, throttles: Arc<Throttles>) -> Self {
        Limited {
            inner,
            slots: Arc::new(Semaphore::new(s.max_connections.max(1))),
            throttles,
            first_byte: s.header_read_timeout,
        }
    }
}

impl<A, I, S> Accept<I, S> for Limited<A>
where
    A: Accept<I, S>,
    A::Future: Send + 'static,
    A::Stream: Unpin,
    I: Send + 'static,
    S: Send + 'static,
{
    type Stream = Held<A::Stream>;
    type Service = A::Service;
    type Future = BoxFuture<'static, std::io::Result<(Self::Stream, Self::Service)>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            self.throttles.refused(Reason::Connections, "-", 1);
            // dropping the stream closes the connection
            drop(stream);
            return Box::pin(async { Err(std::io::Error::other("too many open connections")) });
        };
        let accepted = self.inner.accept(stream, service);
        let first_byte = self.first_byte;
        Box::pin(async move {
            let (stream, service) = accepted.await?;
            Ok((
                Held {
                    inner: stream,
                    _slot: slot,
                    first_byte: Some(Box::pin(tokio::time::sleep(first_byte))),
                },
                service,
            ))
        })
    }
}

/// A connection holding its slot, and the deadline of its first byte until that arrives.
pub struct Held<S> {
    inner: S,
    _slot: OwnedSemaphorePermit,
    first_byte: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Held<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    self.first_byte = None;
                }
                Poll::Ready(r)
            }
            Poll::Pending => {
                let expired = self
                    .first_byte
                    .as_mut()
                    .is_some_and(|deadline| deadline.as_mut().poll(cx).is_ready());
                if expired {
                    let late = std::io::Error::new(std::io::ErrorKind::TimedOut, "no request");
                    return Poll::Ready(Err(late));
                }
                Poll::Pending
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Held<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The security headers every reply carries unless its handler set its own (a page of the
/// web console may set a wider `content-security-policy`). HSTS only over TLS.
pub fn security_headers(tls: bool) -> Vec<SetResponseHeaderLayer<HeaderValue>> {
    let mut headers = vec![
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
        (
            HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        ),
    ];
    if tls {
        headers.push((header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"));
    }
    headers
        .into_iter()
        .map(|(name, value)| {
            SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
        })
        .collect()
}
