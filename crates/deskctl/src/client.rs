//! Talking to deskd: the `{"content":…}` envelope, the login of a profile and its renewal.
//!
//! Every call goes through [`Session::call`]: it sends `{"content": body}` with the profile's
//! token, turns a non-zero `code` into [`Failure::Refused`] (with `Retry-After` when throttled),
//! and decodes `data` into the wire type the caller names. An expired token is renewed once
//! by logging in again when a password is at hand (`DESKCTL_PASSWORD`, or a prompt on a
//! terminal).

use std::io::IsTerminal;
use std::time::Duration;

use deskd_wire::codes;
use deskd_wire::envelope::{Empty, Request};
use deskd_wire::token::{TokenData, TokenRequest};
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::config::{Config, Profile};
use crate::error::{Failure, Outcome};

/// The environment variable a password is read from before prompting.
pub const PASSWORD_ENV: &str = "DESKCTL_PASSWORD";

/// How to reach the server: the connection options given on the command line.
#[derive(Debug, Clone, Default)]
pub struct Connect {
    pub server: Option<String>,
    pub insecure: bool,
    pub ca_file: Option<std::path::PathBuf>,
}

/// A profile in use: its settings, an HTTP client, and the configuration to save renewals in.
pub struct Session {
    pub name: String,
    pub profile: Profile,
    config: Config,
    http: Client,
}

/// Builds the HTTP client a profile asks for.
fn http_client(p: &Profile) -> Outcome<Client> {
    let mut b = Client::builder()
        .timeout(Duration::from_secs(60))
        .connect_timeout(Duration::from_secs(10));
    if p.insecure {
        b = b.danger_accept_invalid_certs(true);
    }
    if let Some(ca) = &p.ca_file {
        let pem = std::fs::read(ca)
            .map_err(|e| Failure::usage(format!("--ca-file {}: {e}", ca.display())))?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| Failure::usage(format!("--ca-file {}: {e}", ca.display())))?;
        b = b.add_root_certificate(cert);
    }
    b.build()
        .map_err(|e| Failure::Unreachable(format!("cannot set up HTTPS: {e}")))
}

/// Reads a password: `DESKCTL_PASSWORD`, else a hidden prompt when stdin is a terminal.
pub fn read_password(user: &str) -> Outcome<String> {
    if let Ok(p) = std::env::var(PASSWORD_ENV) {
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::usage(format!(
            "no password: set {PASSWORD_ENV} or run on a terminal to be asked"
        )));
    }
    rpassword::prompt_password(format!("password for {user}: "))
        .map_err(|e| Failure::usage(format!("cannot read the password: {e}")))
}

impl Session {
    /// Opens profile `name` with the command line's overrides; no login needed yet.
    pub fn open(name: &str, connect: &Connect) -> Outcome<Session> {
        let config = Config::load()?;
        let mut profile = config.profiles.get(name).cloned().unwrap_or_default();
        if let Some(server) = &connect.server {
            if profile.server != *server {
                // another server: the stored token is not valid there
                profile.token = None;
                profile.expire_time = None;
            }
            profile.server = server.trim_end_matches('/').to_string();
        }
        profile.insecure |= connect.insecure;
        if connect.ca_file.is_some() {
            profile.ca_file = connect.ca_file.clone();
        }
        if profile.server.is_empty() {
            return Err(Failure::usage(format!(
                "profile `{name}` has no server: run `deskctl --server URL login --user NAME`"
            )));
        }
        let http = http_client(&profile)?;
        Ok(Session {
            name: name.to_string(),
            profile,
            config,
            http,
        })
    }

    /// `POST /v1/auth/token` as `user`; stores the token in the profile (file mode 0600).
    pub fn login(&mut self, user: &str, password: &str) -> Outcome<TokenData> {
        let body = TokenRequest {
            user_name: user.to_string(),
            password: password.to_string(),
        };
        let data: TokenData = self.send(Method::POST, "/v1/auth/token", Some(&body), false)?;
        self.profile.user = user.to_string();
        self.profile.token = Some(data.token.clone());
        self.profile.expire_time = Some(data.expire_time);
        self.save()?;
        Ok(data)
    }

    /// Revokes the token on the server (when it still works) and forgets it here.
    pub fn logout(&mut self) -> Outcome {
        if self.profile.token.is_some() {
            let r: Outcome<Option<Value>> =
                self.send(Method::POST, "/v1/auth/token:revoke", Some(&Empty {}), true);
            // an expired or already revoked token is as good as revoked
            match r {
                Ok(_) => {}
                Err(Failure::Refused { code, .. }) if code == codes::UNAUTHENTICATED => {}
                Err(e) => return Err(e),
            }
        }
        self.profile.token = None;
        self.profile.expire_time = None;
        self.save()
    }

    fn save(&mut self) -> Outcome {
        self.config
            .profiles
            .insert(self.name.clone(), self.profile.clone());
        self.config.save()
    }

    fn token_expired(&self) -> bool {
        self.profile
            .expire_time
            .is_some_and(|t| t <= now_ms() + 5_000)
    }

    /// Logs in again with the profile's user, when a password is at hand.
    fn renew(&mut self) -> Outcome {
        if self.profile.user.is_empty() {
            return Err(self.not_logged_in());
        }
        let user = self.profile.user.clone();
        let password = read_password(&user).map_err(|_| {
            Failure::usage(format!(
                "the login of profile `{}` expired: run `deskctl login` again (or set {PASSWORD_ENV})",
                self.name
            ))
        })?;
        self.login(&user, &password).map(|_| ())
    }

    fn not_logged_in(&self) -> Failure {
        Failure::usage(format!(
            "profile `{}` is not logged in: run `deskctl --server URL login --user NAME`",
            self.name
        ))
    }

    /// A call with the profile's token (renewed if it expired); decodes `data`.
    pub fn call<B: Serialize, T: DeserializeOwned>(
        &mut self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Outcome<T> {
        self.authed(method, path, Some(body))
    }

    /// A GET without a body, with the profile's token.
    pub fn get<T: DeserializeOwned>(&mut self, path: &str) -> Outcome<T> {
        self.authed(Method::GET, path, None::<&Empty>)
    }

    fn authed<B: Serialize, T: DeserializeOwned>(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Outcome<T> {
        if self.profile.token.is_none() {
            return Err(self.not_logged_in());
        }
        if self.token_expired() {
            self.renew()?;
        }
        match self.send(method.clone(), path, body, true) {
            Err(Failure::Refused { code, .. }) if code == codes::UNAUTHENTICATED => {
                // revoked, or expired by the server's clock: one fresh login, then retry
                self.renew()?;
                self.send(method, path, body, true)
            }
            other => other,
        }
    }

    /// Sends one request and reads the envelope.
    fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        auth: bool,
    ) -> Outcome<T> {
        let mut req = self.request(method, path, auth);
        if let Some(content) = body {
            req = req.json(&Request { content });
        }
        self.envelope(path, req)
    }

    /// A request to `path` on the profile's server, with the token when `auth`.
    pub fn request(&self, method: Method, path: &str, auth: bool) -> RequestBuilder {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.profile.server));
        if let (true, Some(t)) = (auth, &self.profile.token) {
            req = req.bearer_auth(t);
        }
        req
    }

    /// Sends `req` and decodes the `{"content":{"code":…,"data":…}}` reply.
    pub fn envelope<T: DeserializeOwned>(&self, path: &str, req: RequestBuilder) -> Outcome<T> {
        let resp = req
            .send()
            .map_err(|e| unreachable(&self.profile.server, e))?;
        decode(path, resp)
    }

    /// A GET of a Prometheus-style endpoint (`{"status":…,"data":…}`), with the token.
    pub fn prometheus(&mut self, path: &str, query: &[(&str, String)]) -> Outcome<Value> {
        self.prometheus_call(Method::GET, path, query)
    }

    /// `POST /-/reload`: re-read the rule file; `data.rules` is how many rules it holds.
    pub fn reload_rules(&mut self) -> Outcome<Value> {
        self.prometheus_call(Method::POST, "/-/reload", &[])
    }

    fn prometheus_call(
        &mut self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
    ) -> Outcome<Value> {
        if self.profile.token.is_none() {
            return Err(self.not_logged_in());
        }
        if self.token_expired() {
            self.renew()?;
        }
        let resp = self
            .request(method, path, true)
            .query(query)
            .send()
            .map_err(|e| unreachable(&self.profile.server, e))?;
        let status = resp.status();
        let retry_after = retry_after(&resp);
        let v: Value = resp
            .json()
            .map_err(|e| Failure::Unreachable(format!("{path}: not a JSON reply ({e})")))?;
        if v["status"] == "success" {
            return Ok(v["data"].clone());
        }
        if let Some(code) = v["content"]["code"].as_u64() {
            return Err(refused(code, &v, retry_after));
        }
        Err(Failure::Refused {
            code: u32::from(status.as_u16()),
            message: format!(
                "{}: {}",
                v["errorType"].as_str().unwrap_or("error"),
                v["error"].as_str().unwrap_or("no message")
            ),
            retry_after,
        })
    }
}

fn unreachable(server: &str, e: reqwest::Error) -> Failure {
    let mut msg = format!("{server}: {e}");
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    Failure::Unreachable(msg)
}

fn retry_after(resp: &Response) -> Option<String> {
    resp.headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn refused(code: u64, v: &Value, retry_after: Option<String>) -> Failure {
    let c = &v["content"];
    let message = c["message"].as_str().unwrap_or_default();
    let tip = c["user_tip"].as_str().unwrap_or_default();
    Failure::Refused {
        code: u32::try_from(code).unwrap_or(u32::MAX),
        message: if tip.is_empty() || tip == message {
            message.to_string()
        } else {
            format!("{message} ({tip})")
        },
        retry_after,
    }
}

/// Reads an envelope reply: code 0 gives `data` (JSON `null` when absent), anything else a
/// refusal with its code and message.
fn decode<T: DeserializeOwned>(path: &str, resp: Response) -> Outcome<T> {
    let retry_after = retry_after(&resp);
    let status = resp.status();
    let text = resp
        .text()
        .map_err(|e| Failure::Unreachable(format!("{path}: reply cut short ({e})")))?;
    let v: Value = serde_json::from_str(&text).map_err(|_| {
        Failure::Unreachable(format!(
            "{path}: HTTP {status} without a deskd reply: {}",
            text.chars().take(200).collect::<String>()
        ))
    })?;
    let Some(code) = v["content"]["code"].as_u64() else {
        return Err(Failure::Unreachable(format!(
            "{path}: HTTP {status}, a reply without content.code"
        )));
    };
    if code != u64::from(codes::OK) {
        return Err(refused(code, &v, retry_after));
    }
    serde_json::from_value(v["content"]["data"].clone())
        .map_err(|e| Failure::Unreachable(format!("{path}: unexpected data in the reply ({e})")))
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
