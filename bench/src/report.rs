//! The report: machine facts, one Markdown table with the ceiling measured in the same run and
//! each target beside its figure (PASS or MISS), then the notes a reader needs to trust the
//! figures (seeding times, start-up work, first errors). Verdicts never change the exit code:
//! this is a measurement, not a test.

use std::fmt::Write as _;
use std::time::Duration;

use crate::load::Plan;
use crate::scenarios::{BatchFigures, Outcome, QueryKind, QueryRow};
use crate::stats::Summary;

/// Paged query: at least this fraction of the ceiling's requests/s…
const MIN_CEILING_SHARE: f64 = 0.30;
/// …with a p99 at most this high.
const MAX_P99_US: u64 = 20_000;
/// The largest seeded size's p50 may be at most this multiple of the smallest's.
const MAX_P50_GROWTH: f64 = 2.0;
/// Batch creation: items per second.
const MIN_BATCH_RATE: f64 = 1000.0;

/// Everything one run measured.
pub struct Report {
    pub plan: Plan,
    pub query: QueryKind,
    /// [`load_average`] when the run started.
    pub load_before: String,
    pub ceiling: Summary,
    pub queries: Vec<QueryRow>,
    pub batch: Outcome<BatchFigures>,
}

/// Renders the whole report as Markdown.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    header(&mut out, r);
    table(&mut out, r);
    notes(&mut out, r);
    out
}

fn header(out: &mut String, r: &Report) {
    let _ = writeln!(out, "## deskd benchmark\n");
    let _ = writeln!(
        out,
        "- machine: {}; 1-min load average {} before the run",
        machine_facts(),
        r.load_before
    );
    let _ = writeln!(
        out,
        "- load: {} keep-alive HTTP/1.1 connections, {} s warm-up + {} s measured per row; \
         servers on their own multi-thread tokio runtime, load generator on another",
        r.plan.connections,
        r.plan.warmup.as_secs_f64(),
        r.plan.duration.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "- query: `PUT /v1/{}`{}\n",
        r.query.label(),
        query_detail(r.query)
    );
}

/// The machine facts, the load plan and the ceiling, for a run without the classic rows.
pub fn header_only(plan: Plan, load_before: &str, ceiling: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## deskd benchmark\n");
    let _ = writeln!(
        out,
        "- machine: {}; 1-min load average {load_before} before the run",
        machine_facts()
    );
    let _ = writeln!(
        out,
        "- load: {} keep-alive HTTP/1.1 connections, {} s warm-up + {} s measured per row",
        plan.connections,
        plan.warmup.as_secs_f64(),
        plan.duration.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "- ceiling (bare hyper hello, same generator, same run): {:.0} req/s, p50 {:.1} ms, p99 {:.1} ms",
        ceiling.rps(),
        ceiling.p50_us as f64 / 1e3,
        ceiling.p99_us as f64 / 1e3
    );
    out
}

fn query_detail(q: QueryKind) -> &'static str {
    match q {
        QueryKind::Desk => ", page 0, limit 20, deskState = RUNNING, sort desktopName ASC",
        QueryKind::Strategy => {
            ", page 0, limit 20 (stand-in chosen with --query strategy; targets still apply)"
        }
    }
}

/// nproc, memory and CPU model, as far as /proc tells.
fn machine_facts() -> String {
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = proc_field(&meminfo, "MemTotal")
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or("? GiB".to_string(), |kb| {
            format!("{:.1} GiB", kb / 1048576.0)
        });
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = proc_field(&cpuinfo, "model name").unwrap_or("unknown CPU");
    format!(
        "nproc {nproc}, {mem_gib} RAM, {model}, {} {}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// The 1-minute load average, read when the run starts: figures taken while other work ran
/// (a build, another benchmark) are not comparable, and this is how a reader can tell.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn proc_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find(|l| l.split(':').next().is_some_and(|k| k.trim() == key))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim())
}

fn table(out: &mut String, r: &Report) {
    let _ = writeln!(
        out,
        "| Scenario | DB | Desks | Throughput | p50 | p99 | Errors | vs ceiling | Target | Verdict |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---|---|");
    let c = &r.ceiling;
    row(
        out,
        [
            "ceiling: bare hyper hello",
            "–",
            "–",
            &rps(c),
            &ms(c.p50_us),
            &ms(c.p99_us),
            &c.errors.to_string(),
            "100%",
            "–",
            "–",
        ],
    );
    for q in &r.queries {
        query_row(out, r, q);
        if let Some(s) = &q.uncached {
            uncached_row(out, r, q, s);
        }
    }
    growth_rows(out, r);
    batch_row(out, &r.batch);
}

fn row<const N: usize>(out: &mut String, cells: [&str; N]) {
    let _ = writeln!(out, "| {} |", cells.join(" | "));
}

fn query_row(out: &mut String, r: &Report, q: &QueryRow) {
    let (label, db, n) = (r.query.label(), q.backend.to_string(), count(q.desks));
    let target = format!(
        "≥ {:.0}% of ceiling, p99 ≤ {} ms",
        MIN_CEILING_SHARE * 100.0,
        MAX_P99_US / 1000
    );
    match &q.outcome {
        Outcome::Done(s) => {
            let share = s.rps() / r.ceiling.rps().max(1e-9);
            let pass = share >= MIN_CEILING_SHARE && s.p99_us <= MAX_P99_US && s.errors == 0;
            row(
                out,
                [
                    label,
                    &db,
                    &n,
                    &rps(s),
                    &ms(s.p50_us),
                    &ms(s.p99_us),
                    &s.errors.to_string(),
                    &format!("{:.1}%", share * 100.0),
                    &target,
                    verdict(pass),
                ],
            );
        }
        Outcome::NotAvailable(_) => row(
            out,
            [
                label,
                &db,
                &n,
                "not available",
                "–",
                "–",
                "–",
                "–",
                &target,
                "–",
            ],
        ),
        Outcome::Skipped(why) => row(
            out,
            [
                label,
                &db,
                &n,
                &format!("skipped: {why}"),
                "–",
                "–",
                "–",
                "–",
                &target,
                "–",
            ],
        ),
    }
}

/// The same query with the page cache off: the database path, shown beside the target row.
fn uncached_row(out: &mut String, r: &Report, q: &QueryRow, s: &Summary) {
    let label = format!("{}, page cache off", r.query.label());
    let share = s.rps() / r.ceiling.rps().max(1e-9);
    row(
        out,
        [
            &label,
            &q.backend.to_string(),
            &count(q.desks),
            &rps(s),
            &ms(s.p50_us),
            &ms(s.p99_us),
            &s.errors.to_string(),
            &format!("{:.1}%", share * 100.0),
            "reference (database path)",
            "–",
        ],
    );
}

/// Per backend: the p50 of the largest size over the p50 of the smallest.
fn growth_rows(out: &mut String, r: &Report) {
    let mut backends: Vec<_> = r.queries.iter().map(|q| q.backend).collect();
    backends.dedup();
    for b in backends {
        let done: Vec<(usize, &Summary)> = r
            .queries
            .iter()
            .filter(|q| q.backend == b)
            .filter_map(|q| match &q.outcome {
                Outcome::Done(s) => Some((q.desks, s)),
                _ => None,
            })
            .collect();
        let (Some(small), Some(large)) = (
            done.iter().min_by_key(|d| d.0),
            done.iter().max_by_key(|d| d.0),
        ) else {
            continue;
        };
        if small.0 == large.0 {
            continue;
        }
        let growth = large.1.p50_us as f64 / (small.1.p50_us as f64).max(1.0);
        let label = format!("p50 {} / {}", short(large.0), short(small.0));
        let target = format!("≤ {MAX_P50_GROWTH}×");
        row(
            out,
            [
                &label,
                &b.to_string(),
                &format!("{} vs {}", count(large.0), count(small.0)),
                &format!("{growth:.2}×"),
                "–",
                "–",
                "–",
                "–",
                &target,
                verdict(growth <= MAX_P50_GROWTH),
            ],
        );
    }
}

fn batch_row(out: &mut String, batch: &Outcome<BatchFigures>) {
    let label = "desk/batch/create";
    let target = format!("≥ {MIN_BATCH_RATE:.0} items/s");
    match batch {
        Outcome::Done(f) => {
            let pass = f.items_per_sec() >= MIN_BATCH_RATE && f.success == f.items;
            let items = format!("{} new", count(f.items));
            let errors = format!("{}/{} SUCCESS", f.success, f.items);
            row(
                out,
                [
                    label,
                    "SQLite",
                    &items,
                    &format!("{:.0} items/s", f.items_per_sec()),
                    "–",
                    "–",
                    &errors,
                    "–",
                    &target,
                    verdict(pass),
                ],
            );
        }
        Outcome::NotAvailable(_) => row(
            out,
            [
                label,
                "SQLite",
                "–",
                "not available",
                "–",
                "–",
                "–",
                "–",
                &target,
                "–",
            ],
        ),
        Outcome::Skipped(why) => row(
            out,
            [
                label,
                "SQLite",
                "–",
                &format!("skipped: {why}"),
                "–",
                "–",
                "–",
                "–",
                &target,
                "–",
            ],
        ),
    }
}

fn notes(out: &mut String, r: &Report) {
    let _ = writeln!(out, "\nNotes:");
    note_summary(out, "ceiling", &r.ceiling);
    for q in &r.queries {
        let what = format!("{} {} desks", q.backend, count(q.desks));
        if let Some(t) = q.seeding {
            let _ = writeln!(
                out,
                "- {what}: seeding (load_inventory, not counted) took {}",
                secs(t)
            );
        }
        for n in &q.notes {
            let _ = writeln!(out, "- {what}: {n}");
        }
        match &q.outcome {
            Outcome::Done(s) => note_summary(out, &what, s),
            Outcome::NotAvailable(why) => {
                let _ = writeln!(out, "- {what}: not available: {why}");
            }
            Outcome::Skipped(_) => {}
        }
    }
    batch_notes(out, &r.batch);
}

fn note_summary(out: &mut String, what: &str, s: &Summary) {
    let _ = writeln!(
        out,
        "- {what}: {} requests in {}, max latency {}",
        s.ok,
        secs(s.window),
        ms(s.max_us)
    );
    if let Some(e) = &s.first_error {
        let _ = writeln!(out, "- {what}: first error: {e}");
    }
}

fn batch_notes(out: &mut String, batch: &Outcome<BatchFigures>) {
    match batch {
        Outcome::Done(f) => {
            let _ = writeln!(
                out,
                "- batch create: task {} after {} (submit to done, polled every 50 ms); \
                 {} SUCCESS, {} FAILURE",
                f.task_status,
                secs(f.elapsed),
                f.success,
                f.failure
            );
            if let Some(why) = &f.first_failure {
                let _ = writeln!(out, "- batch create: first failure: {why}");
            }
        }
        Outcome::NotAvailable(why) => {
            let _ = writeln!(out, "- batch create: not available: {why}");
        }
        Outcome::Skipped(_) => {}
    }
}

fn verdict(pass: bool) -> &'static str {
    if pass {
        "PASS"
    } else {
        "MISS"
    }
}

fn rps(s: &Summary) -> String {
    format!("{} req/s", count(s.rps().round() as usize))
}

fn ms(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1000.0)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// `100000` → `100,000`.
fn count(n: usize) -> String {
    let reversed: Vec<char> = n.to_string().chars().rev().collect();
    let groups: Vec<String> = reversed
        .chunks(3)
        .rev()
        .map(|g| g.iter().rev().collect())
        .collect();
    groups.join(",")
}

/// `100000` → `100k`.
fn short(n: usize) -> String {
    match n {
        n if n >= 1000 && n % 1000 == 0 => format!("{}k", n / 1000),
        n => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(count(100000), "100,000");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(0), "0");
        assert_eq!(short(100000), "100k");
        assert_eq!(short(1500), "1500");
        assert_eq!(proc_field("MemTotal:  24 kB\n", "MemTotal"), Some("24 kB"));
    }
}
