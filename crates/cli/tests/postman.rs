//! The Postman collection `api/deskd.postman_collection.json`, generated from the OpenAPI
//! document (never edited by hand), and `newman` running it against a live deskd.
//!
//! - a folder per chapter of the document (`x-rg-section`), then one per resource of deskd's
//!   extensions; the token request comes first and its test script stores the token, which
//!   every other request sends (collection-level Bearer auth);
//! - example bodies are built from each operation's request schema; path parameters are
//!   collection variables that the list requests' scripts fill from the demo inventory;
//! - a collection-level test accepts code 0 or one of the document's refusal codes
//!   (`deskd_wire::codes::REFUSALS`), or for the Prometheus API `success` or its documented
//!   error types.
//!
//! `DESKD_UPDATE_GOLDEN=1 cargo test -p deskd --test postman` rewrites the collection.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::{json, Map, Value};

fn repo_file(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

const COLLECTION: &str = "api/deskd.postman_collection.json";

/// Chapter titles of the document.
const CHAPTERS: &[(&str, &str)] = &[
    ("5", "5 Authentication"),
    ("6.1", "6.1 Cloud desktops"),
    ("6.2", "6.2 Users and groups"),
    ("6.3", "6.3 Images"),
    ("6.4", "6.4 Networks"),
    ("6.5", "6.5 Compute summary"),
    ("6.6", "6.6 Terminals"),
    ("6.7", "6.7 Resource usage"),
    ("6.8", "6.8 Storage summary"),
    ("6.9", "6.9 Clusters"),
    ("6.10", "6.10 Storage pools"),
    ("7", "7 Monitoring"),
];

/// Path parameters: the collection variable each one reads, with the value it starts with
/// (a list request's script replaces it with a real id).
const PATH_VARIABLES: &[(&str, &str)] = &[
    ("desk_id", "no-such-desk"),
    ("task_id", "no-such-task"),
    ("host_id", "no-such-host"),
    ("name", "job"),
];

/// Which list request stores which variable: (path, variable, field of `item_arr[0]`).
const STORES: &[(&str, &str, &str)] = &[
    ("/v1/desk:pagequery", "desk_id", "desk_id"),
    ("/v1/rccp/host:pagequery", "host_id", "id"),
];

/// Query strings of the Prometheus endpoints, which the document describes in prose only.
const PROMETHEUS_QUERIES: &[(&str, &str)] = &[
    ("/api/v1/query", "query=up"),
    ("/api/v1/query_range", "query=up&start=1&end=61&step=15"),
    ("/api/v1/series", "match[]=up"),
];

/// The chapter an operation belongs to: its section's chapter, or `None` for an extension.
fn chapter(section: &str) -> Option<&'static str> {
    let parts: Vec<&str> = section.split('.').collect();
    let key = match parts.as_slice() {
        ["6", sub, ..] => format!("6.{sub}"),
        [top, ..] => top.to_string(),
        [] => return None,
    };
    CHAPTERS.iter().find(|(k, _)| *k == key).map(|(_, t)| *t)
}

/// An extension's folder: the resource its path names (`/v1/rccp/host/create` → `rccp/host`).
fn extension_folder(path: &str) -> String {
    let segs: Vec<&str> = path
        .trim_start_matches('/')
        .split('/')
        .map(|s| s.split(':').next().unwrap_or(s))
        .filter(|s| !s.starts_with('{'))
        .collect();
    let name = match segs.as_slice() {
        ["v1", "rccp", r, ..] | ["v1", "sim", r, ..] => format!("{}/{r}", segs[1]),
        ["v1", r, ..] => r.to_string(),
        ["api", "v1", ..] | ["-", ..] => "prometheus".to_string(),
        _ => segs.join("/"),
    };
    format!("Extensions: {name}")
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap();
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

/// An example value of `schema`: its default or first enum value, else one built from its type.
fn example(doc: &Value, schema: &Value, name: &str, depth: usize) -> Value {
    let s = resolve(doc, schema);
    if depth > 8 {
        return Value::Null;
    }
    if let Some(d) = s.get("default") {
        return d.clone();
    }
    if let Some(vals) = s["enum"].as_array() {
        return vals
            .iter()
            .find(|v| !v.is_null())
            .cloned()
            .unwrap_or(Value::Null);
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(alts) = s[key].as_array() {
            let alt = alts.iter().find(|a| resolve(doc, a)["type"] != "null");
            return alt
                .map(|a| example(doc, a, name, depth + 1))
                .unwrap_or(Value::Null);
        }
    }
    let ty = match &s["type"] {
        Value::Array(types) => types
            .iter()
            .find(|t| *t != "null")
            .cloned()
            .unwrap_or(Value::Null),
        t => t.clone(),
    };
    if PATH_VARIABLES.iter().any(|(v, _)| *v == name) && ty == "string" {
        return json!(format!("{{{{{name}}}}}"));
    }
    match ty.as_str().unwrap_or("object") {
        "string" => json!(format!("example-{name}")),
        "integer" if name == "page" => json!(0),
        "integer" => json!(s.get("minimum").cloned().unwrap_or(json!(1))),
        "number" => json!(1.0),
        "boolean" => json!(false),
        "array" => json!([example(doc, &s["items"], name, depth + 1)]),
        _ => {
            let mut out = Map::new();
            if let Some(props) = s["properties"].as_object() {
                for (k, v) in props {
                    out.insert(k.clone(), example(doc, v, k, depth + 1));
                }
            }
            Value::Object(out)
        }
    }
}

/// `/v1/desk/{desk_id}:start` → `{{baseUrl}}/v1/desk/{{desk_id}}:start`.
fn url(path: &str) -> String {
    let mut p = path.replace('{', "{{").replace('}', "}}");
    if let Some((_, q)) = PROMETHEUS_QUERIES.iter().find(|(pp, _)| *pp == path) {
        p = format!("{p}?{q}");
    }
    if path == "/v1/desk/console/websocket" {
        p.push_str("?ticket=example");
    }
    format!("{{{{baseUrl}}}}{p}")
}

fn script(lines: Vec<String>) -> Value {
    json!([{"listen": "test", "script": {"type": "text/javascript", "exec": lines}}])
}

/// One Postman request of an operation.
fn request(doc: &Value, path: &str, method: &str, op: &Value) -> Value {
    let mut req = json!({
        "method": method.to_uppercase(),
        "header": [{"key": "Content-Type", "value": "application/json"}],
        "url": url(path),
        "description": op["summary"],
    });
    if let Some(schema) = op
        .pointer("/requestBody/content/application~1json/schema")
        .filter(|_| method != "get")
    {
        let body = example(doc, schema, "", 0);
        req["body"] = json!({
            "mode": "raw",
            "raw": serde_json::to_string_pretty(&body).unwrap(),
            "options": {"raw": {"language": "json"}},
        });
    }
    let public = op["security"].as_array().is_some_and(|s| s.is_empty())
        || op.get("security").is_none()
        || path == "/v1/desk/console/websocket";
    if public {
        req["auth"] = json!({"type": "noauth"});
    }
    let mut item = json!({
        "name": format!("{} {path}", method.to_uppercase()),
        "request": req,
    });
    if let Some((_, var, field)) = STORES.iter().find(|(p, _, _)| *p == path) {
        item["event"] = script(vec![
            "const d = pm.response.json().content.data;".into(),
            format!("if (d && d.item_arr && d.item_arr.length) {{ pm.collectionVariables.set('{var}', d.item_arr[0].{field}); }}"),
        ]);
    }
    item
}

/// The token request, first of all, storing the token for the rest.
fn token_item() -> Value {
    json!({
        "name": "POST /v1/auth/token",
        "request": {
            "method": "POST",
            "auth": {"type": "noauth"},
            "header": [{"key": "Content-Type", "value": "application/json"}],
            "url": "{{baseUrl}}/v1/auth/token",
            "body": {
                "mode": "raw",
                "raw": "{\n  \"content\": {\n    \"user_name\": \"{{user}}\",\n    \"password\": \"{{password}}\"\n  }\n}",
                "options": {"raw": {"language": "json"}},
            },
            "description": "Get an access token; the test script stores it as {{token}}.",
        },
        "event": script(vec![
            "pm.test('token issued', function () {".into(),
            "  const c = pm.response.json().content;".into(),
            "  pm.expect(c.code).to.eql(0);".into(),
            "  pm.collectionVariables.set('token', c.data.token);".into(),
            "});".into(),
        ]),
    })
}

/// The check every response gets.
fn collection_test(refusals: &[u32]) -> Value {
    let codes = refusals
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    script(vec![
        format!("const documented = [0, {codes}];"),
        "pm.test('code 0 or a documented refusal', function () {".into(),
        "  pm.expect(pm.response.code, 'HTTP status').to.be.below(500);".into(),
        "  let b;".into(),
        "  try { b = pm.response.json(); } catch (e) { b = undefined; }".into(),
        "  if (b === undefined) { pm.expect(pm.response.code, 'a reply that is not JSON').to.be.below(300); return; }".into(),
        "  if (b.content !== undefined) {".into(),
        "    pm.expect(documented, 'content.code').to.include(b.content.code);".into(),
        "    if (b.content.code !== 0) { pm.expect(b.content.message).to.be.a('string').and.not.empty; }".into(),
        "    const d = b.content.data;".into(),
        "    if (d && typeof d.task_id === 'string') { pm.collectionVariables.set('task_id', d.task_id); }".into(),
        "  } else {".into(),
        "    pm.expect(b.status).to.be.oneOf(['success', 'error']);".into(),
        "    if (b.status === 'error') { pm.expect(b.errorType).to.be.oneOf(['bad_data', 'execution', 'timeout', 'unavailable']); }".into(),
        "  }".into(),
        "});".into(),
    ])
}

/// Where a request sorts inside its folder: section numbers, rank, path.
type OrderKey = (Vec<u32>, u8, String);

/// Sort key of an operation inside its folder: section numbers, lists before the rest, and
/// token revocation last of all.
fn order(section: &str, path: &str) -> OrderKey {
    let nums = section.split('.').filter_map(|n| n.parse().ok()).collect();
    let rank = if path.ends_with(":pagequery") || path.ends_with("/list") {
        0
    } else if path.ends_with(":revoke") {
        2
    } else {
        1
    };
    (nums, rank, path.to_string())
}

/// The collection of `doc`.
pub fn generate(doc: &Value, refusals: &[u32]) -> Value {
    let mut folders: BTreeMap<(u8, String), Vec<(OrderKey, Value)>> = BTreeMap::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            if path == "/v1/auth/token" {
                continue;
            }
            let section = op["x-rg-section"].as_str().unwrap_or("");
            let (rank, folder) = match chapter(section) {
                Some(c) => (0, c.to_string()),
                None => (1, extension_folder(path)),
            };
            // the chapters in the document's order; token revocation's folder last
            let rank = if path.ends_with(":revoke") { 2 } else { rank };
            let key = if rank == 0 {
                let pos = CHAPTERS.iter().position(|(_, t)| *t == folder).unwrap_or(0);
                (rank, format!("{pos:02}"))
            } else {
                (rank, folder.clone())
            };
            let entry = folders.entry(key).or_default();
            entry.push((order(section, path), request(doc, path, method, op)));
        }
    }
    let mut items = vec![json!({"name": CHAPTERS[0].1, "item": [token_item()]})];
    for ((rank, key), mut reqs) in folders {
        reqs.sort_by(|a, b| a.0.cmp(&b.0));
        let name = if rank == 0 {
            CHAPTERS[key.parse::<usize>().unwrap()].1.to_string()
        } else {
            key
        };
        let reqs: Vec<Value> = reqs.into_iter().map(|(_, r)| r).collect();
        if name == CHAPTERS[0].1 {
            items[0]["item"].as_array_mut().unwrap().extend(reqs);
        } else {
            items.push(json!({"name": name, "item": reqs}));
        }
    }
    let mut variables = vec![
        json!({"key": "baseUrl", "value": "https://localhost:9390"}),
        json!({"key": "user", "value": "admin"}),
        json!({"key": "password", "value": ""}),
        json!({"key": "token", "value": ""}),
    ];
    variables.extend(
        PATH_VARIABLES
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v})),
    );
    json!({
        "info": {
            "name": doc["info"]["title"],
            "description": format!(
                "Generated from deskd's /openapi.json by crates/cli/tests/postman.rs; do not edit. {}",
                doc["info"]["description"].as_str().unwrap_or_default()
            ),
            "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
        },
        "auth": {"type": "bearer", "bearer": [{"key": "token", "value": "{{token}}", "type": "string"}]},
        "event": collection_test(refusals),
        "variable": variables,
        "item": items,
    })
}

fn render(doc: &Value) -> String {
    serde_json::to_string_pretty(&generate(doc, deskd_wire::codes::REFUSALS)).unwrap() + "\n"
}

#[test]
fn collection_is_generated_from_the_committed_document() {
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(repo_file("api/openapi.json")).unwrap())
            .unwrap();
    let fresh = render(&doc);
    let path = repo_file(COLLECTION);
    if std::env::var_os("DESKD_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "{COLLECTION} is stale: run DESKD_UPDATE_GOLDEN=1 cargo test -p deskd --test postman"
    );
    let c: Value = serde_json::from_str(&fresh).unwrap();
    let first = &c["item"][0]["item"][0];
    assert_eq!(
        first["name"], "POST /v1/auth/token",
        "the token request comes first"
    );
    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|o| o.as_object().unwrap().len())
        .sum();
    let requests: usize = c["item"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["item"].as_array().unwrap().len())
        .sum();
    assert_eq!(requests, operations, "one request per operation");
    let last = c["item"].as_array().unwrap().last().unwrap();
    assert_eq!(
        last["item"][0]["name"], "POST /v1/auth/token:revoke",
        "revocation runs last"
    );
}

#[tokio::test]
async fn newman_runs_the_collection_against_the_demo_inventory() {
    let newman = std::process::Command::new("newman")
        .arg("--version")
        .output();
    if newman.is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "newman is missing (npm install -g newman)"
        );
        println!("SKIPPED: newman is not installed (npm install -g newman)");
        return;
    }
    let s = Server::start(Db::Sqlite, &[]);
    let out = std::process::Command::new("newman")
        .arg("run")
        .arg(repo_file(COLLECTION))
        .args(["--env-var", &format!("baseUrl={}", s.base)])
        .args(["--env-var", &format!("password={ADMIN_PASSWORD}")])
        .args(["--reporters", "cli", "--color", "off", "--disable-unicode"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "newman failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("POST /v1/auth/token"), "{text}");
}
