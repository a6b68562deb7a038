//! The fleet rows as Markdown: one table per run, each figure beside its issue-16 target
//! (PASS or MISS), then the growth of each row's cost from the smallest to the largest fleet.

use std::fmt::Write as _;
use std::time::Duration;

use crate::fleet::{FleetRow, WRITER_PER_SEC};
use crate::stats::Summary;

/// Mixed paged query at the largest fleet: at least this share of the ceiling…
const MIN_SHARE: f64 = 0.15;
/// …with a p99 at most this high, while the writer runs.
const MAX_P99_US: u64 = 50_000;
/// Batch create: items per second, and the submit's latency.
const MIN_ITEMS_PER_SEC: f64 = 1000.0;
const MAX_SUBMIT: Duration = Duration::from_millis(200);
/// Each row's cost at the largest fleet over its cost at the smallest.
const MAX_GROWTH: f64 = 2.0;

fn ms(us: u64) -> String {
    format!("{:.1} ms", us as f64 / 1e3)
}

fn dur(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

fn verdict(pass: bool) -> &'static str {
    if pass {
        "PASS"
    } else {
        "MISS"
    }
}

/// Renders the fleet rows; `ceiling` is the bare server's requests/s of the same run.
pub fn render(rows: &[FleetRow], ceiling: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n### Fleet rows (reply cache off: every answer comes from the database)\n"
    );
    let _ = writeln!(
        out,
        "| Row | DB | Desks | Throughput | p50 | p99 | Errors | vs ceiling | Target | Verdict |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---|---|");
    let largest = rows.iter().map(|r| r.desks).max().unwrap_or(0);
    for r in rows {
        let big = r.desks == largest;
        let share = r.mixed.rps() / ceiling.rps().max(1e-9);
        let target = format!(
            "≥ {:.0} % of ceiling, p99 ≤ 50 ms, no errors (at the largest N)",
            MIN_SHARE * 100.0
        );
        let pass = share >= MIN_SHARE
            && r.mixed.p99_us <= MAX_P99_US
            && r.mixed.errors == 0
            && r.writer.errors == 0;
        let mixed_label = format!(
            "mixed desk pages + writer {WRITER_PER_SEC}/s ({} actions, {} errors)",
            r.writer.actions, r.writer.errors
        );
        summary_row(
            &mut out,
            &mixed_label,
            r,
            &r.mixed,
            Some(share),
            if big {
                (&target, verdict(pass))
            } else {
                ("", "")
            },
        );
        summary_row(&mut out, "desk detail", r, &r.desk_detail, None, ("", ""));
        summary_row(
            &mut out,
            &format!("user list ({} users)", r.desks),
            r,
            &r.user_list,
            None,
            ("", ""),
        );
        summary_row(
            &mut out,
            &format!("task detail ({} items)", r.batch_items),
            r,
            &r.task_detail,
            None,
            ("", ""),
        );
        let rate = r.batch_items as f64 / r.batch_total.as_secs_f64().max(1e-9);
        let pass = rate >= MIN_ITEMS_PER_SEC
            && r.batch_submit <= MAX_SUBMIT
            && r.batch_success == r.batch_items;
        let _ = writeln!(
            out,
            "| batch create {} into the fleet ({} SUCCESS) | {} | {} | {:.0} items/s | submit {} | – | {} | – | ≥ 1000 items/s, submit ≤ 200 ms | {} |",
            r.batch_items,
            r.batch_success,
            r.backend,
            r.desks,
            rate,
            dur(r.batch_submit),
            r.batch_items - r.batch_success,
            verdict(pass)
        );
        let _ = writeln!(
            out,
            "| reconcile pass / fleet scrape | {} | {} | – | {} / {} wall | {} / {} CPU | – | – | – | – |",
            r.backend,
            r.desks,
            dur(r.reconcile.0),
            dur(r.scrape.0),
            dur(r.reconcile.1),
            dur(r.scrape.1),
        );
    }
    growth(&mut out, rows);
    notes(&mut out, rows);
    out
}

fn summary_row(
    out: &mut String,
    label: &str,
    r: &FleetRow,
    s: &Summary,
    share: Option<f64>,
    (target, verdict): (&str, &str),
) {
    let _ = writeln!(
        out,
        "| {label} | {} | {} | {:.0} req/s | {} | {} | {} | {} | {target} | {verdict} |",
        r.backend,
        r.desks,
        s.rps(),
        ms(s.p50_us),
        ms(s.p99_us),
        s.errors,
        share.map_or("–".to_string(), |x| format!("{:.1} %", x * 100.0)),
    );
}

/// Cost growth per backend: largest N over smallest N, by p50 (batch: time per item).
fn growth(out: &mut String, rows: &[FleetRow]) {
    let _ = writeln!(
        out,
        "\n| Growth, largest N / smallest N | DB | mixed p50 | desk detail p50 | user list p50 | task detail p50 | batch time per item | reconcile CPU | scrape CPU | Target | Verdict |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|");
    let mut backends: Vec<_> = rows.iter().map(|r| r.backend).collect();
    backends.dedup();
    for b in backends {
        let of: Vec<&FleetRow> = rows.iter().filter(|r| r.backend == b).collect();
        let (Some(lo), Some(hi)) = (
            of.iter().min_by_key(|r| r.desks),
            of.iter().max_by_key(|r| r.desks),
        ) else {
            continue;
        };
        let ratio = |f: &dyn Fn(&FleetRow) -> f64| f(hi) / f(lo).max(1e-9);
        let ratios = [
            ratio(&|r| r.mixed.p50_us as f64),
            ratio(&|r| r.desk_detail.p50_us as f64),
            ratio(&|r| r.user_list.p50_us as f64),
            ratio(&|r| r.task_detail.p50_us as f64),
            ratio(&|r| r.batch_total.as_secs_f64() / r.batch_items.max(1) as f64),
            ratio(&|r| r.reconcile.1.as_secs_f64().max(0.01)),
            ratio(&|r| r.scrape.1.as_secs_f64().max(0.01)),
        ];
        let cells: Vec<String> = ratios.iter().map(|x| format!("{x:.2}×")).collect();
        // reconcile and scrape visit every desk by design: reported, not judged
        let pass = ratios[..5].iter().all(|x| *x <= MAX_GROWTH);
        let _ = writeln!(
            out,
            "| {} → {} desks | {b} | {} | ≤ 2× (reconcile and scrape: reported) | {} |",
            lo.desks,
            hi.desks,
            cells.join(" | "),
            verdict(pass)
        );
    }
}

fn notes(out: &mut String, rows: &[FleetRow]) {
    let _ = writeln!(out);
    for r in rows {
        let _ = writeln!(
            out,
            "- {} {} desks: seeded in {:.1} s; process RSS during the mixed row {:.0} → {:.0} MiB (max {:.0})",
            r.backend,
            r.desks,
            r.seeding.as_secs_f64(),
            r.rss_mib.0,
            r.rss_mib.1,
            r.rss_mib.2
        );
        for (what, e) in [
            ("mixed", &r.mixed.first_error),
            ("desk detail", &r.desk_detail.first_error),
            ("user list", &r.user_list.first_error),
            ("task detail", &r.task_detail.first_error),
            ("writer", &r.writer.first_error),
            ("batch", &r.batch_first_failure),
        ] {
            if let Some(e) = e {
                let _ = writeln!(out, "  - first {what} error: {e}");
            }
        }
    }
}
