//! Turns a validated [`ListQuery`] into SQL: `WHERE col IN (…) AND …`, `ORDER BY`, `LIMIT/OFFSET`,
//! and the matching `COUNT(*)`. Column names come from the resource declarations in the domain,
//! never from the client; values are always bound.

use deskd_domain::query::ListQuery;

use crate::db::{Arg, Backend};

/// `(where_clause, args)`; the clause is empty or starts with ` WHERE`.
pub fn where_clause(q: &ListQuery) -> (String, Vec<Arg>) {
    let mut parts = Vec::new();
    let mut args = Vec::new();
    for f in &q.filters {
        let marks = vec!["?"; f.values.len()].join(", ");
        parts.push(format!("{} IN ({marks})", f.column));
        args.extend(f.values.iter().map(Arg::from));
    }
    if parts.is_empty() {
        (String::new(), args)
    } else {
        (format!(" WHERE {}", parts.join(" AND ")), args)
    }
}

/// ` ORDER BY …`. Queryable columns are NOT NULL (a rule of `domain::query`), so the plain
/// order is the same on both databases and an index on the column can serve it.
pub fn order_clause(backend: Backend, q: &ListQuery) -> String {
    let terms: Vec<String> = q
        .sorts
        .iter()
        .map(|s| {
            let col = if s.text {
                backend.text_order(s.column)
            } else {
                s.column.to_string()
            };
            let dir = if s.descending { "DESC" } else { "ASC" };
            format!("{col} {dir}")
        })
        .collect();
    format!(" ORDER BY {}", terms.join(", "))
}

/// ` LIMIT ? OFFSET ?` with its two arguments.
pub fn limit_clause(q: &ListQuery) -> (&'static str, Vec<Arg>) {
    (
        " LIMIT ? OFFSET ?",
        vec![Arg::Int(q.limit), Arg::Int(q.offset)],
    )
}
