//! The web front end's server side (issue 20), over HTTP without a browser: the embedded page
//! and its cache headers, and the desktop-user portal routes (sign-in with the user's own
//! password, only their own desks and tasks, the console ticket, and tokens kept apart).

mod common;

use common::*;
use serde_json::{json, Value};

const USER_PASSWORD: &str = "Demo@2026";

#[tokio::test]
async fn the_page_is_embedded_with_long_cached_hashed_assets() {
    let s = Server::start(Db::Sqlite, &["--no-demo"]);
    let r = s.http.get(s.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "text/html");
    assert_eq!(h["cache-control"], "no-cache");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    let html = r.text().await.unwrap();
    let asset = html
        .split("src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a script bundle");
    assert!(asset.starts_with("/assets/index-"), "{asset}");
    let r = s.http.get(s.url(asset)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(r.headers()["content-type"], "text/javascript");
    let r = s
        .http
        .get(s.url("/assets/missing-0000.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // the API is untouched: unknown paths still answer the envelope's 404
    let (status, body) = s.call("GET", "/v1/nothing-here", None, None).await;
    assert_eq!((status, code(&body)), (404, 22000400), "{body}");
}

/// One GET of `path` with `Accept-Encoding: accept` (the client decodes nothing itself).
async fn get_encoded(
    s: &Server,
    path: &str,
    accept: &str,
) -> (reqwest::header::HeaderMap, Vec<u8>) {
    let r = s
        .http
        .get(s.url(path))
        .header("accept-encoding", accept)
        .send()
        .await
        .expect("GET an embedded file");
    assert_eq!(r.status(), 200, "{path}");
    let h = r.headers().clone();
    (h, r.bytes().await.expect("its body").to_vec())
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(b), &mut out)
        .expect("a gzip body");
    out
}

fn unbrotli(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut brotli::Decompressor::new(b, 4096), &mut out)
        .expect("a brotli body");
    out
}

#[tokio::test]
async fn assets_are_compressed_when_the_browser_accepts_it_and_decode_to_the_same_bytes() {
    let s = Server::start(Db::Sqlite, &["--no-demo"]);
    let (_, html) = get_encoded(&s, "/", "identity").await;
    let html = String::from_utf8(html).unwrap();
    let mut paths: Vec<String> = html
        .split(['"', '\''])
        .filter(|p| p.starts_with("/assets/"))
        .map(str::to_string)
        .collect();
    assert!(
        paths.iter().any(|p| p.ends_with(".js")) && paths.iter().any(|p| p.ends_with(".css")),
        "{html}"
    );
    paths.push("/".into());
    for path in &paths {
        let (plain_h, plain) = get_encoded(&s, path, "identity").await;
        assert!(
            plain_h.get("content-encoding").is_none(),
            "{path}: {plain_h:?}"
        );
        for (accept, encoding, decode) in [
            ("gzip", "gzip", gunzip as fn(&[u8]) -> Vec<u8>),
            ("br", "br", unbrotli),
            // a browser's usual header: brotli is preferred
            ("gzip, deflate, br, zstd", "br", unbrotli),
        ] {
            let (h, body) = get_encoded(&s, path, accept).await;
            assert_eq!(h["content-encoding"], encoding, "{path} with {accept}");
            assert!(
                h["vary"]
                    .to_str()
                    .unwrap()
                    .to_ascii_lowercase()
                    .contains("accept-encoding"),
                "{path}: {h:?}"
            );
            assert_eq!(
                h["cache-control"], plain_h["cache-control"],
                "{path}: cache headers kept"
            );
            assert_eq!(h["content-type"], plain_h["content-type"], "{path}");
            assert!(body.len() < plain.len(), "{path}: {encoding} is no smaller");
            assert_eq!(
                decode(&body),
                plain,
                "{path}: {encoding} decodes to another body"
            );
        }
    }
    // hashed assets keep the year-long cache when compressed
    let js = paths.iter().find(|p| p.ends_with(".js")).unwrap();
    let (h, _) = get_encoded(&s, js, "gzip").await;
    assert_eq!(h["cache-control"], "public, max-age=31536000, immutable");
}

/// `POST /v1/portal/login`; returns (status, content).
async fn portal_login(s: &Server, user: &str, password: &str) -> (u16, Value) {
    let (status, v) = s
        .call(
            "POST",
            "/v1/portal/login",
            Some(json!({"content": {"user_name": user, "password": password}})),
            None,
        )
        .await;
    (status, v["content"].clone())
}

#[tokio::test]
async fn a_desktop_user_sees_starts_and_opens_only_their_own_desks() {
    let api = Api::start(Db::Sqlite, &[]).await;
    let s = &api.s;

    let (_, c) = portal_login(s, "user01", "wrong-password").await;
    assert_eq!(c["code"], 23070201, "wrong password: {c}");
    let (status, c) = portal_login(s, "user01", USER_PASSWORD).await;
    assert_eq!((status, c["code"].as_i64()), (200, Some(0)), "{c}");
    let token = c["data"]["token"].as_str().unwrap().to_string();
    let t = Some(token.as_str());

    // the user's desks, and no one else's
    let (_, v) = s
        .call("POST", "/v1/portal/desktop/list", Some(json!({})), t)
        .await;
    let mine: Vec<String> = v["content"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["desktop_id"].as_str().unwrap().to_string())
        .collect();
    assert!(!mine.is_empty(), "{v}");
    let theirs = api
        .ok(
            "PUT",
            "/v1/desk:pagequery",
            json!({"page": 0, "limit": 1, "match_arr": [eq("userName", json!(["user02"]))]}),
        )
        .await["item_arr"][0]["desk_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!mine.contains(&theirs));
    for path in [
        format!("/v1/portal/desk/{theirs}:start"),
        format!("/v1/portal/desk/{theirs}/console"),
    ] {
        // someone else's desk is missing to this user, as an unknown desk is to the API
        let (_, b) = s.call("PUT", &path, Some(json!({})), t).await;
        assert_err(&b["content"], 22000400, &["does not exist"]);
    }

    // start the user's own desk once it is off, follow its task, then get a console ticket
    let desk = &mine[0];
    let off = api
        .put(&format!("/v1/desk/{desk}:powerOff"), json!({}))
        .await;
    api.wait(&off).await;
    let (status, b) = s
        .call("PUT", &format!("/v1/desk/{desk}:start"), Some(json!({})), t)
        .await;
    assert_eq!(status, 401, "a portal token is not an API token: {b}");
    let (_, b) = s
        .call(
            "PUT",
            &format!("/v1/portal/desk/{desk}:start"),
            Some(json!({})),
            t,
        )
        .await;
    assert_eq!(code(&b), 0, "{b}");
    let task = b["content"]["data"]["task_id"]
        .as_str()
        .unwrap()
        .to_string();
    let detail = eventually(TASK_LIMIT, "the portal start task ends", || async {
        let (_, b) = s
            .call("GET", &format!("/v1/portal/task/{task}/detail"), None, t)
            .await;
        (b["content"]["data"]["task_status"] != "RUNNING").then_some(b)
    })
    .await;
    assert_eq!(
        detail["content"]["data"]["task_status"], "FINISHED",
        "{detail}"
    );
    // a task the session did not start is not its to read
    let (_, b) = s
        .call(
            "GET",
            &format!(
                "/v1/portal/task/{}/detail",
                off["data"]["task_id"].as_str().unwrap()
            ),
            None,
            t,
        )
        .await;
    assert_err(&b["content"], 22000400, &["does not exist"]);
    let (_, b) = s
        .call(
            "PUT",
            &format!("/v1/portal/desk/{desk}/console"),
            Some(json!({})),
            t,
        )
        .await;
    assert_eq!(code(&b), 0, "{b}");
    let ws = b["content"]["data"]["websocket_path"].as_str().unwrap();
    assert!(ws.starts_with("/v1/desk/console/websocket?ticket="), "{ws}");

    // an API token is not a portal session; signing out ends the session
    let (status, _) = s
        .call(
            "POST",
            "/v1/portal/desktop/list",
            Some(json!({})),
            Some(&api.t),
        )
        .await;
    assert_eq!(status, 401);
    let (_, b) = s
        .call("POST", "/v1/portal/logout", Some(json!({})), t)
        .await;
    assert_eq!(code(&b), 0, "{b}");
    let (status, _) = s
        .call("POST", "/v1/portal/desktop/list", Some(json!({})), t)
        .await;
    assert_eq!(status, 401);
}
