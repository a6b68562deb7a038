//! The listable resources: where each is queried, and finding one by its name or its id.
//!
//! Every `:pagequery` (and `/v1/user/list`) takes the same `PageQuery`; a resource names its
//! query keys for the id and the name. `resolve` tries the id first, then the name, so a
//! command can take either wherever it takes a desk, user, image, host, strategy, network,
//! cluster or pool.

use deskd_wire::paging::{MatchCondition, PageData, PageQuery, SortCondition};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::client::Session;
use crate::error::{Failure, Outcome};

/// The API's largest page.
pub const MAX_LIMIT: i64 = 1000;

/// One listable resource.
pub struct Resource {
    /// The noun in messages (`desk`).
    pub noun: &'static str,
    pub method: Method,
    pub path: &'static str,
    /// Query key of the id (`deskId`).
    pub id_key: &'static str,
    /// Query key of the name (`desktopName`).
    pub name_key: &'static str,
    /// Wire field of the id in an item.
    pub id_field: &'static str,
}

macro_rules! resource {
    ($c:ident, $noun:literal, $m:ident, $path:literal, $idk:literal, $namek:literal, $idf:literal) => {
        pub const $c: Resource = Resource {
            noun: $noun,
            method: Method::$m,
            path: $path,
            id_key: $idk,
            name_key: $namek,
            id_field: $idf,
        };
    };
}

resource!(
    DESKS,
    "desk",
    PUT,
    "/v1/desk:pagequery",
    "deskId",
    "desktopName",
    "desk_id"
);
resource!(USERS, "user", POST, "/v1/user/list", "id", "userName", "id");
resource!(
    IMAGES,
    "image",
    PUT,
    "/v1/image:pagequery",
    "id",
    "imageName",
    "id"
);
resource!(
    HOSTS,
    "host",
    PUT,
    "/v1/rccp/host:pagequery",
    "id",
    "hostName",
    "id"
);
resource!(
    STRATEGIES,
    "strategy",
    PUT,
    "/v1/desk_strategy:pagequery",
    "id",
    "deskStrategyName",
    "id"
);
resource!(
    NETWORKS,
    "network",
    PUT,
    "/v1/desk_network:pagequery",
    "id",
    "deskNetworkName",
    "id"
);
resource!(
    CLUSTERS,
    "cluster",
    PUT,
    "/v1/rccp/cluster:pagequery",
    "id",
    "clusterName",
    "id"
);
resource!(
    POOLS,
    "storage pool",
    PUT,
    "/v1/rccp/storage_pool:pagequery",
    "id",
    "name",
    "id"
);
resource!(
    OS_FILES,
    "OS file",
    PUT,
    "/v1/osFile:pagequery",
    "",
    "imageFileName",
    "id"
);

/// An exact-match condition.
pub fn eq(field: &str, values: Vec<Value>) -> MatchCondition {
    MatchCondition {
        field_name: field.to_string(),
        match_rule: Some("EQ".into()),
        match_type: Some("EXACT".into()),
        value_arr: values,
    }
}

/// `--sort FIELD[:desc]`: a wire field name (`desk_name`) or a query key (`desktopName`).
pub fn sort(spec: &str, renames: &[(&str, &str)]) -> Outcome<SortCondition> {
    let (field, dir) = match spec.rsplit_once(':') {
        Some((f, d)) if d.eq_ignore_ascii_case("desc") => (f, "DESC"),
        Some((f, d)) if d.eq_ignore_ascii_case("asc") => (f, "ASC"),
        Some((_, d)) => {
            return Err(Failure::usage(format!(
                "--sort {spec}: `{d}` is not asc or desc"
            )))
        }
        None => (spec, "ASC"),
    };
    let key = renames
        .iter()
        .find(|(wire, _)| *wire == field)
        .map(|(_, key)| key.to_string())
        .unwrap_or_else(|| camel(field));
    Ok(SortCondition {
        field_name: key,
        direction: dir.into(),
    })
}

/// `desk_state` → `deskState`.
fn camel(s: &str) -> String {
    let mut out = String::new();
    let mut up = false;
    for c in s.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// One page.
pub fn page<T: DeserializeOwned>(
    s: &mut Session,
    r: &Resource,
    q: &PageQuery,
) -> Outcome<PageData<T>> {
    s.call(r.method.clone(), r.path, q)
}

/// Every page of `q` (its own page and limit are ignored).
pub fn all<T: DeserializeOwned>(s: &mut Session, r: &Resource, q: &PageQuery) -> Outcome<Vec<T>> {
    let mut out = Vec::new();
    let mut q = q.clone();
    q.limit = Some(MAX_LIMIT);
    for n in 0.. {
        q.page = Some(n);
        let p: PageData<T> = page(s, r, &q)?;
        let got = p.item_arr.len();
        out.extend(p.item_arr);
        if got == 0 || out.len() as i64 >= p.total {
            break;
        }
    }
    Ok(out)
}

fn matching(s: &mut Session, r: &Resource, key: &str, value: &str) -> Outcome<Vec<Value>> {
    if key.is_empty() {
        return Ok(Vec::new());
    }
    let q = PageQuery {
        match_arr: vec![eq(key, vec![Value::String(value.to_string())])],
        ..PageQuery::default()
    };
    all(s, r, &q)
}

/// The item named `reference` by its id or, failing that, its name. A name shared by several
/// items is refused (listing their ids), except images, where the newest version wins.
pub fn resolve(s: &mut Session, r: &Resource, reference: &str) -> Outcome<Value> {
    if reference.trim().is_empty() {
        return Err(Failure::usage(format!("an empty {} name or id", r.noun)));
    }
    if let Some(item) = matching(s, r, r.id_key, reference)?.into_iter().next() {
        return Ok(item);
    }
    let mut found = matching(s, r, r.name_key, reference)?;
    if found.len() > 1 {
        found.retain(|i| i.get("newest_version").is_none_or(|v| v == true));
    }
    match found.len() {
        0 => Err(Failure::usage(format!(
            "no {} has the id or name `{reference}`",
            r.noun
        ))),
        1 => Ok(found.remove(0)),
        _ => Err(Failure::usage(format!(
            "{} {} are named `{reference}`: give an id ({})",
            found.len(),
            r.noun,
            found
                .iter()
                .map(|i| i[r.id_field].as_str().unwrap_or("?").to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// The id of the item `reference` names.
pub fn id_of(s: &mut Session, r: &Resource, reference: &str) -> Outcome<String> {
    let item = resolve(s, r, reference)?;
    field(&item, r.id_field)
}

/// A string field of a listed item.
pub fn field(item: &Value, name: &str) -> Outcome<String> {
    item[name]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| Failure::Unreachable(format!("a listed item without `{name}`: {item}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_takes_wire_names_query_keys_and_a_direction() {
        let renames = [("desk_name", "desktopName")];
        let s = sort("desk_name:desc", &renames).unwrap();
        assert_eq!(
            (s.field_name.as_str(), s.direction.as_str()),
            ("desktopName", "DESC")
        );
        let s = sort("desk_state", &renames).unwrap();
        assert_eq!(
            (s.field_name.as_str(), s.direction.as_str()),
            ("deskState", "ASC")
        );
        let s = sort("createTime:ASC", &renames).unwrap();
        assert_eq!(
            (s.field_name.as_str(), s.direction.as_str()),
            ("createTime", "ASC")
        );
        assert!(matches!(
            sort("ip:sideways", &renames),
            Err(Failure::Usage(_))
        ));
    }
}
