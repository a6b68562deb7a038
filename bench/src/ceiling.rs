//! The ceiling: a bare hyper 1.x HTTP/1.1 server that answers every request with the same small
//! `/v1`-shaped JSON body. Loaded by the same generator on the same machine, it shows what the
//! loopback, the kernel and hyper cost on their own, so deskd's figures can be read as a
//! fraction of what is reachable here rather than as absolute numbers.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

use crate::server::{Listening, ServerThread};

/// The fixed answer, shaped like a deskd reply so the generator's checks apply unchanged.
const BODY: &[u8] = br#"{"content":{"code":0,"data":{"message":"hello"}}}"#;

/// Starts the hello-world server on 127.0.0.1 and an ephemeral port.
pub async fn start() -> anyhow::Result<ServerThread> {
    ServerThread::spawn("ceiling", |mut stop, ready| async move {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let _ = ready.send(Listening {
            addr,
            notes: Vec::new(),
            reconcile_pass: std::time::Duration::ZERO,
            reconcile_cost: Default::default(),
            scrape_cost: Default::default(),
        });
        loop {
            tokio::select! {
                _ = &mut stop => return Ok(()),
                accepted = listener.accept() => {
                    let (stream, _) = accepted?;
                    tokio::spawn(serve_connection(stream));
                }
            }
        }
    })
    .await
}

async fn serve_connection(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let _ = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service_fn(hello))
        .await;
}

/// Reads the request body (as deskd must) and answers [`BODY`].
async fn hello(req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let _ = req.into_body().collect().await;
    let mut resp = Response::new(Full::new(Bytes::from_static(BODY)));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(resp)
}
