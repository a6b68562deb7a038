//! Faults survived: PostgreSQL made unreachable under load (a TCP proxy in front of the shared
//! server is cut, then restored): deskd answers errors, does not exit, recovers by itself and
//! loses no accepted task.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Api, Db};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};

/// A TCP proxy to `upstream` that can be cut (every connection closed, new ones refused).
struct Proxy {
    addr: String,
    cut: Arc<AtomicBool>,
    live: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Proxy {
    async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let cut = Arc::new(AtomicBool::new(false));
        let live: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (c, l, up) = (cut.clone(), live.clone(), upstream.to_string());
        tokio::spawn(async move {
            loop {
                let Ok((mut down, _)) = listener.accept().await else {
                    return;
                };
                if c.load(Ordering::SeqCst) {
                    drop(down);
                    continue;
                }
                let up = up.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut upstream) = TcpStream::connect(&up).await {
                        let _ = tokio::io::copy_bidirectional(&mut down, &mut upstream).await;
                    }
                });
                l.lock().unwrap().push(task.abort_handle());
            }
        });
        Proxy { addr, cut, live }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for t in self.live.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

const LIMIT: Duration = Duration::from_secs(60);

async fn user_detail(a: &Api, name: &str) -> (u16, Value) {
    let body = json!({"content": {"userName": name}});
    a.s.call("POST", "/v1/user/detail", Some(body), Some(&a.t))
        .await
}

// multi-threaded: the proxy's tasks must run while the fixture blocks on the child's start
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_unreachable_under_load_then_back() {
    let Some(url) = deskd_store::testing::postgres_url().await else {
        return; // SKIPPED printed (and a failure under CI) by postgres_url
    };
    let upstream = url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split(['/', '?']).next())
        .unwrap()
        .rsplit('@')
        .next()
        .unwrap()
        .to_string();
    let proxy = Proxy::start(&upstream).await;
    let url = url.replacen(&upstream, &proxy.addr, 1);
    let mut a = Api::start(Db::Postgres(url), &["--sim-latency-ms", "200"]).await;

    // a task accepted before the cut
    let users: Vec<String> = (1..=6).map(|i| format!("user{i:02}")).collect();
    let accepted = a
        .post("/v1/user/batch/disableUser", json!({ "user_arr": users }))
        .await;
    assert_eq!(accepted["code"], 0, "{accepted}");

    proxy.cut();
    // deskd answers errors while the database is away, and keeps running
    let end = Instant::now() + LIMIT;
    let mut errors = 0;
    while errors < 5 {
        let (status, v) = user_detail(&a, "user07").await;
        if status >= 500 || v["content"]["code"] != 0 {
            errors += 1;
        }
        assert!(
            Instant::now() < end,
            "never answered an error: {status} {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(a.s.child.try_wait().unwrap().is_none(), "deskd exited");
    // new work is refused, not half-accepted
    let refused =
        a.s.call(
            "POST",
            "/v1/user/batch/enableUser",
            Some(json!({"content": {"user_arr": ["user07"]}})),
            Some(&a.t),
        )
        .await;
    assert!(
        refused.0 >= 500 || refused.1["content"]["code"] != 0,
        "{refused:?}"
    );

    proxy.restore();
    // it recovers by itself ...
    let end = Instant::now() + LIMIT;
    loop {
        let (status, v) = user_detail(&a, "user07").await;
        if status == 200 && v["content"]["code"] == 0 {
            break;
        }
        assert!(Instant::now() < end, "never recovered: {status} {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(a.s.child.try_wait().unwrap().is_none(), "deskd exited");
    // ... and the task accepted before the cut finishes with every item recorded once
    let task = a.wait(&accepted).await;
    assert_eq!(task["task_status"], "FINISHED", "{task}");
    for u in &users {
        let (_, v) = user_detail(&a, u).await;
        assert_eq!(v["content"]["data"]["user_state"], "DISABLE", "{u}: {v}");
    }
}
