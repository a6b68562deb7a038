//! A one-connection JSON client for the benchmark's own calls around the load: getting a
//! token, checking the first answer of a query, submitting a batch and polling its task. It
//! parses every answer, which the load generator deliberately does not.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::HeaderValue;
use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use crate::load::{open, request, snippet};
use crate::server::ADMIN_PASSWORD;

/// An answer: the HTTP status and the parsed JSON body (a JSON string when it was not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

impl Answer {
    /// `content.code`, when there is one.
    pub fn code(&self) -> Option<u64> {
        self.body["content"]["code"].as_u64()
    }

    /// `content.data`.
    pub fn data(&self) -> &Value {
        &self.body["content"]["data"]
    }

    /// True for a 2xx status with code 0.
    pub fn ok(&self) -> bool {
        self.status.is_success() && self.code() == Some(0)
    }
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.body.to_string();
        write!(f, "HTTP {}: {}", self.status, snippet(text.as_bytes()))
    }
}

/// A keep-alive connection to one server, reopened when the server closed it.
pub struct Client {
    addr: SocketAddr,
    sender: Option<SendRequest<Full<Bytes>>>,
    authorization: Option<HeaderValue>,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Self {
        Client {
            addr,
            sender: None,
            authorization: None,
        }
    }

    /// The `Authorization` value the client sends, once [`Client::login`] has run.
    pub fn authorization(&self) -> Option<HeaderValue> {
        self.authorization.clone()
    }

    /// Gets a token for `admin` and sends it on every later call.
    pub async fn login(&mut self) -> anyhow::Result<()> {
        let body = json!({"content": {"user_name": "admin", "password": ADMIN_PASSWORD}});
        let answer = self.call(Method::POST, "/v1/auth/token", &body).await?;
        anyhow::ensure!(answer.ok(), "POST /v1/auth/token failed: {answer}");
        let token = answer.data()["token"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("token reply without content.data.token: {answer}"))?;
        self.authorization = Some(HeaderValue::from_str(&format!("Bearer {token}"))?);
        Ok(())
    }

    /// Sends `body` to `method path` and reads the whole answer.
    pub async fn call(
        &mut self,
        method: Method,
        path: &str,
        body: &Value,
    ) -> anyhow::Result<Answer> {
        self.send(method, path, Bytes::from(serde_json::to_vec(body)?))
            .await
    }

    /// Sends raw bytes (an upload) to `method path` and reads the whole answer.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Bytes,
    ) -> anyhow::Result<Answer> {
        let req = request(method, path, self.authorization.as_ref(), body)?;
        let sender = self.sender().await?;
        sender.ready().await?;
        let resp = sender.send_request(req).await?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await?.to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Ok(Answer { status, body })
    }

    async fn sender(&mut self) -> anyhow::Result<&mut SendRequest<Full<Bytes>>> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            self.sender = Some(open(self.addr).await?);
        }
        self.sender
            .as_mut()
            .ok_or_else(|| anyhow::anyhow!("no connection"))
    }
}
