//! The desk list (6.1.2) and one desk's view: a desk with the names it refers to.

use deskd_domain::error::Result;
use deskd_domain::model::DeskView;
use deskd_domain::query::{ListQuery, Page};
use sqlx::any::AnyRow;
use sqlx::AnyPool;

use super::rows::{desk_row, COLS};
use crate::args;
use crate::db::{row, Backend, Col};
use crate::paging;

/// The joins that give a desk its names; `d` is the desk (a table or a page of it).
const VIEW_JOINS: &str = "LEFT JOIN users u ON u.id = d.user_id \
    LEFT JOIN images i ON i.id = d.image_id \
    LEFT JOIN clusters c ON c.id = d.cluster_id \
    LEFT JOIN hosts h ON h.id = d.host_id \
    LEFT JOIN desk_strategies s ON s.id = d.strategy_id";

fn view_cols() -> String {
    format!(
        "{COLS}, u.name AS v_user_name, u.user_type AS v_user_type, i.name AS v_image_name, \
         c.name AS v_cluster_name, h.name AS v_host_name, s.enable_agreement_agency AS v_agency"
    )
}

fn view_row(r: &AnyRow) -> Result<DeskView> {
    Ok(DeskView {
        desk: desk_row(r)?,
        user_name: r.opt_text("v_user_name")?.unwrap_or_default(),
        user_type: r.opt_text("v_user_type")?.unwrap_or_default(),
        image_name: r.opt_text("v_image_name")?.unwrap_or_default(),
        cluster_name: r.opt_text("v_cluster_name")?.unwrap_or_default(),
        host_name: r.opt_text("v_host_name")?.unwrap_or_default(),
        enable_agreement_agency: r.opt_int("v_agency")?.unwrap_or(0) != 0,
    })
}

/// 6.1.2: one page of desks, filtered, sorted and paged in SQL.
pub(super) async fn page(
    pool: &AnyPool,
    b: Backend,
    q: &ListQuery,
    counts: &paging::CountCache,
) -> Result<Page<DeskView>> {
    let own = |c: &str| c.starts_with("d.");
    let cols = view_cols();
    if q.filters.iter().all(|f| own(f.column)) && q.sorts.iter().all(|s| own(s.column)) {
        // Everything is on the desk row: page the desks alone (an index can serve the filter and
        // the order and stop after one page), then join the names of that page only.
        let inner = format!(
            "FROM (SELECT {COLS} FROM desks d{}) d {VIEW_JOINS}",
            paged_clauses(b, q)
        );
        let order = paging::order_clause(b, q);
        let from = format!("{inner}{order}");
        let count_from = "FROM desks d";
        return paging::page_with(
            pool,
            b,
            q,
            &cols,
            &from,
            count_from,
            view_row,
            true,
            Some(counts),
        )
        .await;
    }
    let from = format!("FROM desks d {VIEW_JOINS}");
    paging::page_with(
        pool,
        b,
        q,
        &cols,
        &from,
        &from,
        view_row,
        false,
        Some(counts),
    )
    .await
}

/// The WHERE, ORDER BY and LIMIT of a page, with `?` placeholders bound by `page_with`.
fn paged_clauses(b: Backend, q: &ListQuery) -> String {
    let (wh, _) = paging::where_clause(q);
    let (lim, _) = paging::limit_clause(q);
    format!("{wh}{}{lim}", paging::order_clause(b, q))
}

pub(super) async fn view(pool: &AnyPool, b: Backend, id: &str) -> Result<Option<DeskView>> {
    let sql = format!(
        "SELECT {} FROM desks d {VIEW_JOINS} WHERE d.id = ?",
        view_cols()
    );
    row(pool, b, &sql, args![id])
        .await?
        .map(|r| view_row(&r))
        .transpose()
}
