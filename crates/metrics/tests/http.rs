//! The Prometheus HTTP API through the router.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use deskd_metrics::http::router;
use deskd_metrics::promql::{Engine, EngineOptions};
use deskd_metrics::storage::Storage;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

const DATA: &str = "# HELP vm_cpu_seconds_total CPU time of a VM.\n\
# TYPE vm_cpu_seconds_total counter\n\
vm_cpu_seconds_total{desk=\"d1\"} 0 1700000000000\n\
vm_cpu_seconds_total{desk=\"d1\"} 30 1700000030000\n\
vm_cpu_seconds_total{desk=\"d1\"} 60 1700000060000\n\
vm_cpu_seconds_total{desk=\"d2\"} 0 1700000000000\n\
vm_cpu_seconds_total{desk=\"d2\"} 60 1700000060000\n\
# TYPE vm_up gauge\n\
vm_up{desk=\"d1\"} 1 1700000060000\n";

fn app() -> axum::Router {
    let engine = Engine::new(Arc::new(Storage::default()), EngineOptions::default());
    router(Arc::new(engine))
}

async fn call(app: &axum::Router, method: Method, uri: &str, body: &str) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method.clone()).uri(uri);
    if method == Method::POST && !uri.contains("import") {
        req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::from(body.to_string())).expect("request"))
        .await
        .expect("response");
    let status = resp.status();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let v = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    (status, v)
}

async fn loaded() -> axum::Router {
    let app = app();
    let (st, _) = call(&app, Method::POST, "/api/v1/import/prometheus", DATA).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    app
}

#[tokio::test]
async fn instant_query_in_prometheus_json() {
    let app = loaded().await;
    let (st, v) = call(
        &app,
        Method::GET,
        "/api/v1/query?query=vm_up&time=1700000060.5",
        "",
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        v,
        json!({"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"__name__":"vm_up","desk":"d1"},"value":[1700000060.5,"1"]}]}})
    );
    let (_, v) = call(
        &app,
        Method::GET,
        "/api/v1/query?query=1%2B1&time=1700000000",
        "",
    )
    .await;
    assert_eq!(
        v["data"],
        json!({"resultType":"scalar","result":[1700000000,"2"]})
    );
    let (_, v) = call(
        &app,
        Method::GET,
        "/api/v1/query?query=%22hi%22&time=1700000000",
        "",
    )
    .await;
    assert_eq!(
        v["data"],
        json!({"resultType":"string","result":[1700000000,"hi"]})
    );
    let (_, v) = call(
        &app,
        Method::POST,
        "/api/v1/query",
        "query=sum(vm_cpu_seconds_total)&time=2023-11-14T22:14:20Z",
    )
    .await;
    assert_eq!(v["data"]["result"][0]["value"], json!([1700000060, "120"]));
    let (_, v) = call(
        &app,
        Method::GET,
        "/api/v1/query?query=vm_cpu_seconds_total[1m]&time=1700000060",
        "",
    )
    .await;
    assert_eq!(v["data"]["resultType"], "matrix");
    assert_eq!(
        v["data"]["result"][0]["values"],
        json!([[1700000030, "30"], [1700000060, "60"]])
    );
}

#[tokio::test]
async fn label_values_are_escaped() {
    let app = app();
    let body = "weird{v=\"a\\\"b\\\\c\\nd\u{1}é\"} 1 1700000000000\n";
    let (st, v) = call(&app, Method::POST, "/api/v1/import/prometheus", body).await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
    let (_, v) = call(
        &app,
        Method::GET,
        "/api/v1/query?query=weird&time=1700000000",
        "",
    )
    .await;
    assert_eq!(v["data"]["result"][0]["metric"]["v"], "a\"b\\c\nd\u{1}é");
    let (_, v) = call(
        &app,
        Method::GET,
        "/api/v1/query_range?query=weird&start=1700000000&end=1700000001.5&step=0.5",
        "",
    )
    .await;
    assert_eq!(
        v["data"]["result"][0]["values"][3],
        json!([1700000001.5, "1"])
    );
}

#[tokio::test]
async fn json_content_form_is_accepted() {
    let app = loaded().await;
    let body = r#"{"content":{"query":"vm_up","time":"2023-11-14T22:14:20.000Z"}}"#;
    let (st, v) = call(&app, Method::POST, "/api/v1/query", body).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["result"][0]["value"], json!([1700000060, "1"]));
}

#[tokio::test]
async fn remote_write_stores_all_or_nothing() {
    use deskd_metrics::remote::{Label, Sample, TimeSeries, WriteRequest};
    let app = app();
    let series = |name: &str, t: i64| TimeSeries {
        labels: vec![
            Label {
                name: "__name__".into(),
                value: name.into(),
            },
            Label {
                name: "vm_id".into(),
                value: "v1".into(),
            },
        ],
        samples: vec![Sample {
            value: 2.5,
            timestamp: t,
        }],
    };
    let encode = |req: &WriteRequest| {
        let raw = prost::Message::encode_to_vec(req);
        snap::raw::Encoder::new()
            .compress_vec(&raw)
            .expect("snappy")
    };
    let post = |body: Vec<u8>| {
        let app = app.clone();
        async move {
            let req = Request::builder()
                .method(Method::POST)
                .uri("/api/v1/write")
                .header(header::CONTENT_TYPE, "application/x-protobuf")
                .header("content-encoding", "snappy")
                .body(Body::from(body))
                .expect("request");
            app.oneshot(req).await.expect("response").status()
        }
    };
    let good = WriteRequest {
        timeseries: vec![series("vm_mem_used_bytes", 1_700_000_000_000)],
        metadata: vec![],
    };
    assert_eq!(post(encode(&good)).await, StatusCode::NO_CONTENT);
    let bad = WriteRequest {
        timeseries: vec![
            series("other", 1_700_000_000_000),
            series("vm_mem_used_bytes", 1_600_000_000_000),
        ],
        metadata: vec![],
    };
    assert_eq!(post(encode(&bad)).await, StatusCode::BAD_REQUEST);
    assert_eq!(post(b"not snappy".to_vec()).await, StatusCode::BAD_REQUEST);
    let (_, v) = call(
        &app,
        Method::GET,
        "/api/v1/query?query=%7Bvm_id%3D%22v1%22%7D&time=1700000000",
        "",
    )
    .await;
    assert_eq!(
        v["data"]["result"],
        json!([{"metric":{"__name__":"vm_mem_used_bytes","vm_id":"v1"},"value":[1700000000,"2.5"]}])
    );
}

#[tokio::test]
async fn range_query_get_and_post() {
    let app = loaded().await;
    let q = "query=rate(vm_cpu_seconds_total%5B1m%5D)&start=1700000060&end=1700000090&step=30s";
    let (st, v) = call(&app, Method::GET, &format!("/api/v1/query_range?{q}"), "").await;
    assert_eq!(st, StatusCode::OK);
    let (_, v2) = call(&app, Method::POST, "/api/v1/query_range", q).await;
    assert_eq!(v, v2);
    assert_eq!(v["data"]["resultType"], "matrix");
    let result = v["data"]["result"].as_array().expect("array");
    assert_eq!(result.len(), 1, "d2 has one sample in (0, 60]: {v}");
    assert_eq!(result[0]["metric"], json!({"desk":"d1"}));
    assert_eq!(
        result[0]["values"],
        json!([[1700000060, "1"]]),
        "one sample left at 90"
    );
}

#[tokio::test]
async fn errors_have_prometheus_types_and_statuses() {
    let app = loaded().await;
    let (st, v) = call(&app, Method::GET, "/api/v1/query?query=up%7B", "").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(v["status"], "error");
    assert_eq!(v["errorType"], "bad_data");
    assert!(v["error"]
        .as_str()
        .unwrap_or("")
        .starts_with("invalid parameter \"query\""));
    let (st, v) = call(
        &app,
        Method::GET,
        "/api/v1/query?query=up&time=notatime",
        "",
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(
        v["error"],
        "invalid parameter \"time\": cannot parse \"notatime\" to a valid timestamp"
    );
    let (st, v) = call(
        &app,
        Method::GET,
        "/api/v1/query_range?query=up&start=10&end=5&step=1",
        "",
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(
        v["error"],
        "invalid parameter \"end\": end timestamp must not be before start time"
    );
    let (st, v) = call(
        &app,
        Method::GET,
        "/api/v1/query_range?query=up&start=0&end=100000&step=1",
        "",
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(v["error"].as_str().unwrap_or("").contains("11,000 points"));
    let (st, v) = call(
        &app,
        Method::GET,
        "/api/v1/query?query=%7B__name__%3D~%22vm_.*%22%7D*1&time=1700000060",
        "",
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["errorType"], "execution");
    assert_eq!(
        v["error"],
        "vector cannot contain metrics with the same labelset"
    );
    let (st, _) = call(&app, Method::PUT, "/api/v1/query?query=1", "").await;
    assert_eq!(st, StatusCode::METHOD_NOT_ALLOWED);
    let (st, _) = call(&app, Method::GET, "/api/v1/import/prometheus", "").await;
    assert_eq!(st, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn timeout_is_503() {
    let storage = Arc::new(Storage::default());
    let mut batch = Vec::new();
    for s in 0..200 {
        let l =
            deskd_metrics::labels::Labels::from_pairs(&[("__name__", "m"), ("s", &s.to_string())]);
        for i in 0..100 {
            batch.push((l.clone(), i * 15_000, i as f64));
        }
    }
    storage.append(&batch).expect("append");
    let app = router(Arc::new(Engine::new(storage, EngineOptions::default())));
    let uri =
        "/api/v1/query_range?query=sum(rate(m%5B5m%5D))&start=0&end=1500&step=0.15&timeout=1ms";
    let (st, v) = call(&app, Method::GET, uri, "").await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert_eq!(v["errorType"], "timeout");
}

#[tokio::test]
async fn bad_import_is_400_and_applies_nothing() {
    let app = loaded().await;
    let body = "fresh_metric 1 1700000100000\nvm_up{desk=\"d1\"} 0 1600000000000\n";
    let (st, v) = call(&app, Method::POST, "/api/v1/import/prometheus", body).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["errorType"], "bad_data");
    let body = "fresh_metric 1 1700000100000\nbroken{ 1\n";
    let (st, v) = call(&app, Method::POST, "/api/v1/import/prometheus", body).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(
        v["error"].as_str().unwrap_or("").starts_with("line 2:"),
        "{v}"
    );
    let (_, v) = call(&app, Method::GET, "/api/v1/series?match[]=fresh_metric", "").await;
    assert_eq!(v["data"], json!([]));
    let (st, _) = call(
        &app,
        Method::POST,
        "/api/v1/import/prometheus?timestamp=1700000100000",
        "fresh_metric 7\n",
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (_, v) = call(
        &app,
        Method::GET,
        "/api/v1/query?query=fresh_metric&time=1700000100",
        "",
    )
    .await;
    assert_eq!(v["data"]["result"][0]["value"], json!([1700000100, "7"]));
}

#[tokio::test]
async fn labels_series_metadata_buildinfo() {
    let app = loaded().await;
    let (_, v) = call(&app, Method::GET, "/api/v1/labels", "").await;
    assert_eq!(v, json!({"status":"success","data":["__name__","desk"]}));
    let (_, v) = call(&app, Method::GET, "/api/v1/label/__name__/values", "").await;
    assert_eq!(v["data"], json!(["vm_cpu_seconds_total", "vm_up"]));
    let (_, v) = call(
        &app,
        Method::GET,
        "/api/v1/label/desk/values?match[]=vm_up",
        "",
    )
    .await;
    assert_eq!(v["data"], json!(["d1"]));
    let (_, v) = call(
        &app,
        Method::GET,
        "/api/v1/series?match[]=vm_up&match[]=%7Bdesk%3D%22d2%22%7D",
        "",
    )
    .await;
    assert_eq!(
        v["data"],
        json!([{"__name__":"vm_cpu_seconds_total","desk":"d2"},{"__name__":"vm_up","desk":"d1"}])
    );
    let (st, v) = call(&app, Method::GET, "/api/v1/series", "").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"], "no match[] parameter provided");
    let (_, v) = call(&app, Method::GET, "/api/v1/metadata", "").await;
    assert_eq!(
        v["data"],
        json!({"vm_cpu_seconds_total":[{"type":"counter","help":"CPU time of a VM.","unit":""}],
               "vm_up":[{"type":"gauge","help":"","unit":""}]})
    );
    let (_, v) = call(&app, Method::GET, "/api/v1/metadata?metric=vm_up", "").await;
    assert_eq!(v["data"].as_object().map(|o| o.len()), Some(1));
    let (st, v) = call(&app, Method::GET, "/api/v1/status/buildinfo", "").await;
    assert_eq!(st, StatusCode::OK);
    assert!(v["data"]["version"].is_string());
}

/// `ENDPOINTS` (what the server documents) and the router agree: each listed method is served,
/// every other method is 405, and an unlisted path is not served.
#[tokio::test]
async fn the_endpoint_table_matches_the_router() {
    let app = app();
    let all = ["GET", "POST", "PUT", "DELETE", "PATCH"];
    for e in deskd_metrics::http::ENDPOINTS {
        let uri = e.path.replace("{name}", "job");
        for m in all {
            let method = Method::from_bytes(m.as_bytes()).expect("method");
            let (st, _) = call(&app, method, &uri, "").await;
            let served = st != StatusCode::NOT_FOUND && st != StatusCode::METHOD_NOT_ALLOWED;
            assert_eq!(served, e.methods.contains(&m), "{m} {uri}: HTTP {st}");
        }
    }
    let (st, _) = call(&app, Method::GET, "/api/v1/nothing", "").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

/// The requests Grafana 11's Prometheus data source sends, in order: the health check (an
/// instant `1+1` POSTed as a form, and the build information to pick a flavour), then the query
/// editor's metrics browser (metric names, label names and values for the time picker's range,
/// narrowed by a selector), metadata for hints, a range query, and exemplars.
#[tokio::test]
async fn grafana_datasource_flow() {
    let app = loaded().await;
    let (s, e) = ("1699999000", "1700000100");
    let get = |uri: String| {
        let app = app.clone();
        async move { call(&app, Method::GET, &uri, "").await }
    };
    // Save & test.
    let (st, v) = call(
        &app,
        Method::POST,
        "/api/v1/query",
        "query=1%2B1&time=1700000000",
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        v,
        json!({"status":"success","data":{"resultType":"scalar","result":[1700000000,"2"]}})
    );
    let (st, v) = get("/api/v1/status/buildinfo".into()).await;
    assert_eq!(st, StatusCode::OK);
    assert!(v["data"]["version"]
        .as_str()
        .is_some_and(|v| v.starts_with('3')));
    // Metrics browser.
    let (_, v) = get(format!("/api/v1/label/__name__/values?start={s}&end={e}")).await;
    assert_eq!(
        v,
        json!({"status":"success","data":["vm_cpu_seconds_total","vm_up"]})
    );
    let (_, v) = get(format!("/api/v1/labels?start={s}&end={e}")).await;
    assert_eq!(v, json!({"status":"success","data":["__name__","desk"]}));
    let (_, v) = get(format!(
        "/api/v1/labels?match%5B%5D=vm_up&start={s}&end={e}"
    ))
    .await;
    assert_eq!(v["data"], json!(["__name__", "desk"]));
    let (_, v) = get(format!(
        "/api/v1/label/desk/values?match%5B%5D=vm_cpu_seconds_total&start={s}&end={e}&limit=40000"
    ))
    .await;
    assert_eq!(v, json!({"status":"success","data":["d1","d2"]}));
    let (_, v) = get(format!(
        "/api/v1/label/desk/values?match%5B%5D=vm_up&start={s}&end={e}"
    ))
    .await;
    assert_eq!(v["data"], json!(["d1"]));
    let (_, v) = get(format!(
        "/api/v1/series?match%5B%5D=%7B__name__%3D%22vm_up%22%7D&start={s}&end={e}"
    ))
    .await;
    assert_eq!(
        v,
        json!({"status":"success","data":[{"__name__":"vm_up","desk":"d1"}]})
    );
    let (_, v) = get("/api/v1/metadata".into()).await;
    assert_eq!(
        v["data"]["vm_cpu_seconds_total"],
        json!([{"type":"counter","help":"CPU time of a VM.","unit":""}])
    );
    // The panel's query and its exemplars.
    let (st, v) = call(
        &app,
        Method::POST,
        "/api/v1/query_range",
        "query=sum%20by%20(desk)%20(rate(vm_cpu_seconds_total%5B1m%5D))&start=1700000060&end=1700000060&step=15",
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["data"]["result"][0]["metric"], json!({"desk":"d1"}));
    let (_, v) = get(format!(
        "/api/v1/query_exemplars?query=vm_cpu_seconds_total&start={s}&end={e}"
    ))
    .await;
    assert_eq!(v, json!({"status":"success","data":[]}));
}

#[tokio::test]
async fn metadata_endpoints_take_prometheus_parameters() {
    let app = loaded().await;
    let get = |uri: &'static str| {
        let app = app.clone();
        async move { call(&app, Method::GET, uri, "").await }
    };
    // `limit` cuts the answer and says so.
    let (_, v) = get("/api/v1/labels?limit=1").await;
    assert_eq!(
        v,
        json!({"status":"success","data":["__name__"],"warnings":["results truncated due to limit"]})
    );
    let (_, v) = get("/api/v1/label/desk/values?limit=2").await;
    assert_eq!(v, json!({"status":"success","data":["d1","d2"]}));
    let (_, v) = get("/api/v1/series?match[]=vm_cpu_seconds_total&limit=1").await;
    assert_eq!(
        v["data"],
        json!([{"__name__":"vm_cpu_seconds_total","desk":"d1"}])
    );
    assert_eq!(v["warnings"], json!(["results truncated due to limit"]));
    let (st, v) = get("/api/v1/labels?limit=-1").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(
        v["error"],
        "invalid parameter \"limit\": limit must be non-negative"
    );
    // A range outside the data selects nothing; one inside keeps only series with samples in it.
    let (_, v) = get("/api/v1/labels?start=1600000000&end=1600000100").await;
    assert_eq!(v["data"], json!([]));
    let (_, v) = get("/api/v1/label/desk/values?start=1700000050&end=1700000100").await;
    assert_eq!(v["data"], json!(["d1", "d2"]));
    // As in Prometheus's head, a series counts when its stored span overlaps the range.
    let (_, v) = get("/api/v1/label/__name__/values?start=1700000010&end=1700000020").await;
    assert_eq!(v["data"], json!(["vm_cpu_seconds_total"]));
    let (_, v) = get("/api/v1/series?match[]=vm_up&end=1700000000").await;
    assert_eq!(v["data"], json!([]));
    // Metadata limits.
    let (_, v) = get("/api/v1/metadata?limit=1").await;
    assert_eq!(v["data"].as_object().map(|o| o.len()), Some(1));
    let (st, v) = get("/api/v1/metadata?limit_per_metric=x").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"], "limit_per_metric must be a number");
    // Exemplars: nothing to select is no data at all; a bad range or query is bad_data.
    let (_, v) = get("/api/v1/query_exemplars?query=1%2B1").await;
    assert_eq!(v, json!({"status":"success"}));
    let (st, v) = get("/api/v1/query_exemplars?query=up&start=10&end=5").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(
        v["error"],
        "end timestamp must not be before start timestamp"
    );
    // Status pages.
    let (_, mut v) = get("/api/v1/status/tsdb?limit=1").await;
    // the chunks' memory depends on how their buffers grow: only its presence is fixed
    let memory = v["data"]["headStats"]["chunkMemoryBytes"].take();
    assert!(memory.as_u64().is_some_and(|b| b > 0), "{memory}");
    assert_eq!(
        v["data"]["headStats"],
        json!({"numSeries":3,"numLabelPairs":4,"chunkCount":3,"minTime":1700000000000i64,"maxTime":1700000060000i64,
               "numSamples":6,"chunkMemoryBytes":null})
    );
    assert_eq!(
        v["data"]["seriesCountByMetricName"],
        json!([{"name":"vm_cpu_seconds_total","value":2}])
    );
    // Ties go by name.
    assert_eq!(
        v["data"]["labelValueCountByLabelName"],
        json!([{"name":"__name__","value":2}])
    );
    let (st, _) = get("/api/v1/status/tsdb?limit=0").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, v) = get("/api/v1/status/runtimeinfo").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["data"]["storageRetention"], "15d");
    assert_eq!(v["data"]["reloadConfigSuccess"], true);
    assert!(v["data"]["startTime"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
}

#[tokio::test]
async fn annotations_come_as_warnings_and_infos() {
    let app = loaded().await;
    let (st, v) = call(
        &app,
        Method::GET,
        "/api/v1/query?query=quantile(2,vm_up)&time=1700000060",
        "",
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        v["warnings"],
        json!(["PromQL warning: quantile value should be between 0 and 1, got 2"])
    );
    assert!(v.get("infos").is_none());
    let (_, v) = call(
        &app,
        Method::GET,
        "/api/v1/query_range?query=rate(vm_up[5m])&start=1700000000&end=1700000060&step=30",
        "",
    )
    .await;
    assert_eq!(
        v["infos"],
        json!(["PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"vm_up\""])
    );
    assert!(v.get("warnings").is_none());
}
