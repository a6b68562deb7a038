//! The paging and query language of DECISIONS D5 as one reusable component.
//!
//! Each resource declares the `field_name`s a client may filter and sort on and the SQL column
//! each maps to ([`Resource`]). [`compile`] checks a wire [`PageQuery`] against that declaration
//! and produces a [`ListQuery`] that the store turns into SQL, so filtering, sorting and paging
//! always run in the database.

use crate::error::{Error, QueryTarget, Result};
use deskd_wire::paging::{MatchCondition, PageQuery, SortCondition};

/// Largest `page` (DECISIONS D5).
pub const MAX_PAGE: i64 = 2_147_483_647;
/// Largest `limit`.
pub const MAX_LIMIT: i64 = 1000;
/// Most values in one `value_arr`: keeps every query within both databases' bind limits.
pub const MAX_VALUES: usize = 1000;

/// How a field's values are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    Int,
    /// Stored as 0/1.
    Bool,
    /// Text restricted to the listed values.
    Enum(&'static [&'static str]),
}

/// One queryable field: its wire name and the SQL expression it maps to. The column must be
/// NOT NULL, so that sorting needs no NULL rule and behaves alike on both databases.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub column: &'static str,
    pub kind: FieldKind,
}

/// Whether `page`/`limit` must be sent or default.
#[derive(Debug, Clone, Copy)]
pub enum Paging {
    Required,
    Defaults { limit: i64 },
}

/// A queryable resource.
#[derive(Debug, Clone, Copy)]
pub struct Resource {
    pub target: QueryTarget,
    pub fields: &'static [Field],
    pub sortable: bool,
    pub paging: Paging,
    /// Column of the creation time and of the id: the default, stable order.
    pub created_column: &'static str,
    pub id_column: &'static str,
}

/// A value bound into SQL.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
pub enum Value {
    Text(String),
    Int(i64),
}

/// `column IN (values…)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub column: &'static str,
    pub values: Vec<Value>,
}

/// `ORDER BY column [DESC]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sort {
    pub column: &'static str,
    pub descending: bool,
    /// Text columns are sorted byte-wise on every database.
    pub text: bool,
}

/// A validated query, ready for the store.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub filters: Vec<Filter>,
    /// Requested order, followed by creation time and id.
    pub sorts: Vec<Sort>,
    pub offset: i64,
    pub limit: i64,
}

/// One page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub total: i64,
    pub items: Vec<T>,
}

impl Resource {
    fn field(&self, name: &str, path: &str) -> Result<&'static Field> {
        self.fields.iter().find(|f| f.name == name).ok_or_else(|| {
            let allowed: Vec<_> = self.fields.iter().map(|f| f.name).collect();
            Error::invalid(
                path,
                format!(
                    "unknown field_name `{name}`; allowed: {}",
                    allowed.join(", ")
                ),
            )
        })
    }
}

/// Checks `q` against `resource` and builds the store query.
pub fn compile(resource: &Resource, q: &PageQuery) -> Result<ListQuery> {
    let (page, limit) = paging(resource.paging, q)?;
    let filters = q
        .match_arr
        .iter()
        .enumerate()
        .map(|(i, m)| compile_match(resource, i, m))
        .collect::<Result<Vec<_>>>()?;
    let mut sorts = Vec::new();
    if resource.sortable {
        for (i, s) in q.sort_arr.iter().enumerate() {
            sorts.push(compile_sort(resource, i, s)?);
        }
    }
    sorts.push(Sort {
        column: resource.created_column,
        descending: false,
        text: false,
    });
    sorts.push(Sort {
        column: resource.id_column,
        descending: false,
        text: true,
    });
    Ok(ListQuery {
        filters,
        sorts,
        offset: page * limit,
        limit,
    })
}

fn paging(mode: Paging, q: &PageQuery) -> Result<(i64, i64)> {
    let (page, limit) = match mode {
        Paging::Required => (
            q.page
                .ok_or_else(|| Error::invalid("content.page", "is required"))?,
            q.limit
                .ok_or_else(|| Error::invalid("content.limit", "is required"))?,
        ),
        Paging::Defaults { limit } => (q.page.unwrap_or(0), q.limit.unwrap_or(limit)),
    };
    if !(0..=MAX_PAGE).contains(&page) {
        return Err(Error::invalid(
            "content.page",
            format!("must be between 0 and {MAX_PAGE}"),
        ));
    }
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Error::invalid(
            "content.limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    Ok((page, limit))
}

fn compile_match(resource: &Resource, i: usize, m: &MatchCondition) -> Result<Filter> {
    let path = format!("content.match_arr[{i}]");
    let field = resource.field(&m.field_name, &format!("{path}.field_name"))?;
    check_rule(
        resource,
        &format!("{path}.match_rule"),
        m.match_rule.as_deref(),
        "EQ",
    )?;
    check_rule(
        resource,
        &format!("{path}.type"),
        m.match_type.as_deref(),
        "EXACT",
    )?;
    if m.value_arr.is_empty() {
        return Err(Error::invalid(
            format!("{path}.value_arr"),
            "must hold at least one value",
        ));
    }
    if m.value_arr.len() > MAX_VALUES {
        return Err(Error::invalid(
            format!("{path}.value_arr"),
            format!("must hold at most {MAX_VALUES} values"),
        ));
    }
    let values = m
        .value_arr
        .iter()
        .enumerate()
        .map(|(j, v)| convert(field, v, &format!("{path}.value_arr[{j}]")))
        .collect::<Result<Vec<_>>>()?;
    Ok(Filter {
        column: field.column,
        values,
    })
}

fn check_rule(resource: &Resource, path: &str, got: Option<&str>, only: &str) -> Result<()> {
    match got {
        Some(v) if v == only => Ok(()),
        Some(v) => Err(Error::QueryRule {
            target: resource.target,
            field: path.to_string(),
            rule: format!("`{v}` is not supported; only {only}"),
        }),
        None => Err(Error::invalid(
            path,
            format!("is required and must be {only}"),
        )),
    }
}

fn compile_sort(resource: &Resource, i: usize, s: &SortCondition) -> Result<Sort> {
    let path = format!("content.sort_arr[{i}]");
    let field = resource.field(&s.field_name, &format!("{path}.field_name"))?;
    let descending = match s.direction.as_str() {
        "ASC" => false,
        "DESC" => true,
        other => {
            return Err(Error::invalid(
                format!("{path}.direction"),
                format!("`{other}` is not one of ASC, DESC"),
            ))
        }
    };
    let text = matches!(field.kind, FieldKind::Text | FieldKind::Enum(_));
    Ok(Sort {
        column: field.column,
        descending,
        text,
    })
}

/// Converts one JSON value to the field's SQL value, naming `path` when it does not fit.
fn convert(field: &Field, v: &serde_json::Value, path: &str) -> Result<Value> {
    use serde_json::Value as J;
    if matches!(v, J::String(s) if s.contains('\0')) {
        return Err(Error::invalid(path, "must not contain NUL characters"));
    }
    match (field.kind, v) {
        (FieldKind::Text, J::String(s)) => Ok(Value::Text(s.clone())),
        (FieldKind::Text, J::Number(n)) => Ok(Value::Text(n.to_string())),
        (FieldKind::Enum(allowed), J::String(s)) if allowed.contains(&s.as_str()) => {
            Ok(Value::Text(s.clone()))
        }
        (FieldKind::Enum(allowed), _) => Err(Error::invalid(
            path,
            format!("must be one of {}", allowed.join(", ")),
        )),
        (FieldKind::Int, J::Number(n)) => n
            .as_i64()
            .map(Value::Int)
            .ok_or_else(|| Error::invalid(path, "must be an integer")),
        (FieldKind::Int, J::String(s)) => s
            .trim()
            .parse()
            .map(Value::Int)
            .map_err(|_| Error::invalid(path, "must be an integer")),
        (FieldKind::Bool, J::Bool(b)) => Ok(Value::Int(i64::from(*b))),
        (FieldKind::Bool, J::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Value::Int(1)),
        (FieldKind::Bool, J::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Value::Int(0)),
        (FieldKind::Bool, _) => Err(Error::invalid(path, "must be true or false")),
        (FieldKind::Text, _) | (FieldKind::Int, _) => {
            Err(Error::invalid(path, "must be a string or a number"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FIELDS: &[Field] = &[
        Field {
            name: "name",
            column: "name",
            kind: FieldKind::Text,
        },
        Field {
            name: "cores",
            column: "cpu_cores",
            kind: FieldKind::Int,
        },
        Field {
            name: "proxy",
            column: "proxy",
            kind: FieldKind::Bool,
        },
        Field {
            name: "kind",
            column: "kind",
            kind: FieldKind::Enum(&["A", "B"]),
        },
    ];
    const RES: Resource = Resource {
        target: QueryTarget::Other,
        fields: FIELDS,
        sortable: true,
        paging: Paging::Required,
        created_column: "created_at",
        id_column: "id",
    };

    fn q(v: serde_json::Value) -> PageQuery {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn compiles_filters_sorts_and_paging() {
        let lq = compile(
            &RES,
            &q(json!({"page": 2, "limit": 10,
                "match_arr": [{"field_name": "proxy", "match_rule": "EQ", "type": "EXACT", "value_arr": ["TRUE", false]}],
                "sort_arr": [{"field_name": "cores", "direction": "DESC"}]})),
        )
        .unwrap();
        assert_eq!(lq.offset, 20);
        assert_eq!(
            lq.filters,
            vec![Filter {
                column: "proxy",
                values: vec![Value::Int(1), Value::Int(0)]
            }]
        );
        assert_eq!(lq.sorts.len(), 3);
        assert!(lq.sorts[0].descending);
    }

    #[test]
    fn rejects_out_of_range_paging_naming_the_field() {
        let e = compile(&RES, &q(json!({"page": 0, "limit": 1001}))).unwrap_err();
        assert_eq!(
            e,
            Error::invalid("content.limit", "must be between 1 and 1000")
        );
        let e = compile(&RES, &q(json!({"page": -1, "limit": 1}))).unwrap_err();
        assert!(matches!(e, Error::Invalid { ref field, .. } if field == "content.page"));
        let e = compile(&RES, &q(json!({"limit": 1}))).unwrap_err();
        assert_eq!(e, Error::invalid("content.page", "is required"));
    }

    #[test]
    fn unknown_field_lists_allowed_names() {
        let e = compile(&RES, &q(json!({"page": 0, "limit": 1, "sort_arr": [{"field_name": "x", "direction": "ASC"}]})))
            .unwrap_err();
        assert_eq!(
            e,
            Error::invalid(
                "content.sort_arr[0].field_name",
                "unknown field_name `x`; allowed: name, cores, proxy, kind"
            )
        );
    }

    #[test]
    fn illegal_rule_is_a_query_rule_error() {
        let e = compile(
            &RES,
            &q(json!({"page": 0, "limit": 1, "match_arr": [{"field_name": "name", "match_rule": "LIKE", "type": "EXACT", "value_arr": ["a"]}]})),
        )
        .unwrap_err();
        assert!(matches!(e, Error::QueryRule { .. }));
    }

    #[test]
    fn values_must_fit_the_field() {
        for (field, value) in [
            ("name", json!("a\u{0}")),
            ("cores", json!("x")),
            ("kind", json!("C")),
            ("proxy", json!(3)),
            ("name", json!([])),
        ] {
            let e = compile(
                &RES,
                &q(json!({"page": 0, "limit": 1, "match_arr": [{"field_name": field, "match_rule": "EQ", "type": "EXACT", "value_arr": [value]}]})),
            )
            .unwrap_err();
            assert!(
                matches!(e, Error::Invalid { ref field, .. } if field == "content.match_arr[0].value_arr[0]"),
                "{e:?}"
            );
        }
    }
}
