//! Runs Prometheus 3.5.3's own PromQL test files (`tests/promqltest/testdata`, vendored with their
//! Apache-2.0 licence) and deskd's own files (`tests/promql`) against the engine, the way
//! Prometheus's `promqltest` does: every instant case also runs with `@ <eval time>` written into
//! its selectors at five other evaluation times, and as a range query around its time.
//!
//! A case *needs native histograms* when its expected result holds one, or when one of its
//! selectors matches a series the test loaded with histogram samples (`{{…}}` or
//! `load_with_nhcb`); deskd stores floats only, so those cases are run and counted but may fail.
//! Every other case must pass, except those listed in `tests/promqltest/known_failures.txt`
//! (by file and line, with the reason); a listed case that passes fails the test too, so the
//! list only shrinks. A subset of files also runs over the HTTP API (`/api/v1/query[_range]`).

mod promqltest {
    pub mod backend;
    pub mod check;
    pub mod script;
}

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use deskd_metrics::labels::Labels;
use deskd_metrics::promql::{Engine, EngineOptions, Notes, Value};
use deskd_metrics::storage::Storage;
use promql_parser::parser::{AtModifier, Expr};

use promqltest::backend::{Backend, Http, InProcess};
use promqltest::check::compare;
use promqltest::script::{self, Command, Eval, Expect, Kind, SeqValue};

/// Functions whose result changes with the evaluation time even under `@`.
const AT_UNSAFE: &[&str] = &[
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "time",
    "timestamp",
];

#[derive(Default, Debug)]
struct Tally {
    total: usize,
    passed: usize,
    nh_total: usize,
    nh_passed: usize,
    /// `(line, needs native histograms, message)` of each failed case.
    failed: Vec<(usize, bool, String)>,
}

/// Runs one file's commands on a fresh store per `clear`.
fn run_file(src: &str, lenient: bool, backend: &dyn Backend) -> Result<Tally, String> {
    let mut tally = Tally::default();
    let mut storage = Arc::new(Storage::default());
    let mut histogram_series: Vec<Labels> = Vec::new();
    for (line, cmd) in script::parse(src, lenient)? {
        match cmd {
            Command::Clear => {
                storage = Arc::new(Storage::default());
                histogram_series.clear();
            }
            Command::Load {
                step_ms,
                nhcb,
                series,
            } => {
                // A series defined twice in one load keeps its last definition.
                let mut defs: BTreeMap<Labels, &script::SeriesDef> = BTreeMap::new();
                for def in &series {
                    defs.insert(def.labels.clone(), def);
                }
                let mut batch = Vec::new();
                for def in defs.values() {
                    for (k, v) in def.values.iter().enumerate() {
                        match v {
                            SeqValue::Float(f) => {
                                batch.push((def.labels.clone(), k as i64 * step_ms, *f))
                            }
                            SeqValue::Omitted => {}
                            SeqValue::Histogram(_) => histogram_series.push(def.labels.clone()),
                        }
                    }
                    if nhcb {
                        histogram_series.push(nhcb_base(&def.labels));
                    }
                }
                storage
                    .append(&batch)
                    .map_err(|e| format!("line {line}: load: {e}"))?;
            }
            Command::BadLoad(e) => return Err(format!("line {line}: load: {e}")),
            Command::BadEval(e) => {
                tally.total += 1;
                tally
                    .failed
                    .push((line, false, format!("does not parse: {e}")));
            }
            Command::Eval(ev) => {
                let nh = needs_histograms(&ev, &histogram_series);
                tally.total += 1;
                if nh {
                    tally.nh_total += 1;
                }
                match run_eval(&ev, backend, &storage) {
                    Ok(()) => {
                        tally.passed += 1;
                        if nh {
                            tally.nh_passed += 1;
                        }
                    }
                    Err(e) => tally
                        .failed
                        .push((line, nh, format!("{}\n      {e}", ev.expr))),
                }
            }
        }
    }
    Ok(tally)
}

/// The series a classic histogram's `_bucket`/`_count`/`_sum` becomes under `load_with_nhcb`.
fn nhcb_base(l: &Labels) -> Labels {
    let name = l.name().unwrap_or("");
    let base = ["_bucket", "_count", "_sum"]
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .unwrap_or(name);
    let mut out = l.without(&["le"]);
    out.set("__name__", base);
    out
}

fn needs_histograms(ev: &Eval, histogram_series: &[Labels]) -> bool {
    if ev.expects_histogram() {
        return true;
    }
    let Ok(expr) = promql_parser::parser::parse(&ev.expr) else {
        return false;
    };
    let mut hit = false;
    visit_selectors(&expr, &mut |vs| {
        for set in deskd_metrics::storage::matcher_sets(vs) {
            hit |= histogram_series
                .iter()
                .any(|l| set.iter().all(|m| m.is_match(l.get(&m.name).unwrap_or(""))));
        }
    });
    hit
}

fn visit_selectors(e: &Expr, f: &mut dyn FnMut(&promql_parser::parser::VectorSelector)) {
    match e {
        Expr::Aggregate(a) => {
            visit_selectors(&a.expr, f);
            if let Some(p) = &a.param {
                visit_selectors(p, f);
            }
        }
        Expr::Unary(u) => visit_selectors(&u.expr, f),
        Expr::Binary(b) => {
            visit_selectors(&b.lhs, f);
            visit_selectors(&b.rhs, f);
        }
        Expr::Paren(p) => visit_selectors(&p.expr, f),
        Expr::Subquery(s) => visit_selectors(&s.expr, f),
        Expr::VectorSelector(vs) => f(vs),
        Expr::MatrixSelector(ms) => f(&ms.vs),
        Expr::Call(c) => c.args.args.iter().for_each(|a| visit_selectors(a, f)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

fn run_eval(ev: &Eval, backend: &dyn Backend, storage: &Arc<Storage>) -> Result<(), String> {
    let expr = promql_parser::parser::parse(&ev.expr).map_err(|e| format!("parse error: {e}"));
    match ev.kind {
        Kind::Range { start, end, step } => {
            let got = backend.range(storage, &ev.expr, expr.as_ref().ok(), start, end, step);
            match outcome(ev, got)? {
                Some((v, notes)) => {
                    check_notes(ev, &notes)?;
                    compare(ev, &v, start, step)
                }
                None => Ok(()),
            }
        }
        Kind::Instant(t) => {
            let mut runs = vec![(ev.expr.clone(), expr.clone().ok(), t)];
            if let Ok(e) = &expr {
                if backend.at_variants() {
                    runs.extend(at_variants(e, t));
                }
            }
            for (q, parsed, at) in runs {
                instant_case(ev, backend, storage, &q, parsed.as_ref(), at)
                    .map_err(|e| format!("at t={at}ms, query {q}: {e}"))?;
            }
            Ok(())
        }
    }
}

/// `checkAnnotations`: `eval_warn`/`eval_info` want at least one; `expect warn|info` lines must
/// each match an annotation of their kind and every annotation of that kind one of them;
/// `no_warn`/`no_info` want none.
fn check_notes(ev: &Eval, notes: &Notes) -> Result<(), String> {
    if ev.warn && notes.warnings.is_empty() {
        return Err("expected warnings but got none".into());
    }
    if ev.info && notes.infos.is_empty() {
        return Err("expected info annotations but got none".into());
    }
    for (kind, none, actual) in [
        (Expect::Warn, Expect::NoWarn, &notes.warnings),
        (Expect::Info, Expect::NoInfo, &notes.infos),
    ] {
        let wanted: Vec<_> = ev
            .expects
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, m)| m)
            .collect();
        if !wanted.is_empty() {
            if let Some(m) = wanted.iter().find(|m| !actual.iter().any(|a| m.matches(a))) {
                return Err(format!(
                    "expected {kind:?} annotation matching {m:?}, got {actual:?}"
                ));
            }
            if let Some(a) = actual.iter().find(|a| !wanted.iter().any(|m| m.matches(a))) {
                return Err(format!("unexpected {kind:?} annotation {a:?}"));
            }
        }
        if ev.expects.iter().any(|(k, _)| *k == none) && !actual.is_empty() {
            return Err(format!("unexpected annotations {actual:?}"));
        }
    }
    Ok(())
}

/// Checks an error against the case's failure expectation; `Some` is a value to compare.
fn outcome<T: std::fmt::Debug>(ev: &Eval, got: Result<T, String>) -> Result<Option<T>, String> {
    match got {
        Err(e) if ev.is_fail() => {
            if let Some(m) = &ev.fail_message {
                if !m.matches(&e) {
                    return Err(format!("expected error matching {m:?}, got: {e}"));
                }
            }
            if let Some((_, m)) = ev.expects.iter().find(|(k, _)| *k == Expect::Fail) {
                if !m.matches(&e) {
                    return Err(format!("expected error matching {m:?}, got: {e}"));
                }
            }
            Ok(None)
        }
        Err(e) => Err(format!("error: {e}")),
        Ok(v) if ev.is_fail() => Err(format!("expected an error, got {v:?}")),
        Ok(v) => Ok(Some(v)),
    }
}

fn instant_case(
    ev: &Eval,
    backend: &dyn Backend,
    storage: &Arc<Storage>,
    q: &str,
    parsed: Option<&Expr>,
    t: i64,
) -> Result<(), String> {
    let Some((got, notes)) = outcome(ev, backend.instant(storage, q, parsed, t))? else {
        return Ok(());
    };
    check_notes(ev, &notes)?;
    compare(ev, &got, t, 0)?;
    // A range vector cannot be a range query's result (deskd's own files expect some).
    if !backend.at_variants() || matches!(got, Value::Matrix(_)) {
        return Ok(());
    }
    let m = backend
        .range(storage, q, parsed, t - 60_000, t + 60_000, 60_000)
        .map_err(|e| format!("in range mode: {e}"))?;
    if ev.is_ordered() {
        return Ok(());
    }
    let Value::Matrix(m) = m.0 else {
        return Err("range mode did not return a matrix".into());
    };
    let vec: Vec<deskd_metrics::promql::Sample> = m
        .iter()
        .filter_map(|s| {
            s.points
                .iter()
                .find(|p| p.0 == t)
                .map(|p| deskd_metrics::promql::Sample {
                    labels: s.labels.clone(),
                    t,
                    v: p.1,
                })
        })
        .collect();
    let as_value = match got {
        Value::Scalar(_) => Value::Scalar(vec.first().map(|s| s.v).unwrap_or(f64::NAN)),
        _ => Value::Vector(vec),
    };
    compare(ev, &as_value, t, 0).map_err(|e| format!("in range mode: {e}"))
}

/// Prometheus's `atModifierTestCases`: `@ t` on every selector and outermost subquery without
/// one, evaluated at other times; none when the query uses a time-dependent function.
fn at_variants(e: &Expr, t: i64) -> Vec<(String, Option<Expr>, i64)> {
    let mut e = e.clone();
    let mut unsafe_fn = false;
    let Ok(at) = AtModifier::try_from(t as f64 / 1000.0) else {
        return Vec::new();
    };
    set_at(&mut e, &at, &mut unsafe_fn);
    if unsafe_fn {
        return Vec::new();
    }
    let times = if t == 0 {
        vec![-1000, 0, 1000]
    } else {
        vec![-10 * t, 0, t / 5, t, 10 * t]
    };
    let q = e.to_string();
    times
        .into_iter()
        .map(|et| (q.clone(), Some(e.clone()), et))
        .collect()
}

fn set_at(e: &mut Expr, at: &AtModifier, unsafe_fn: &mut bool) {
    match e {
        Expr::Aggregate(a) => {
            set_at(&mut a.expr, at, unsafe_fn);
            if let Some(p) = &mut a.param {
                set_at(p, at, unsafe_fn);
            }
        }
        Expr::Unary(u) => set_at(&mut u.expr, at, unsafe_fn),
        Expr::Binary(b) => {
            set_at(&mut b.lhs, at, unsafe_fn);
            set_at(&mut b.rhs, at, unsafe_fn);
        }
        Expr::Paren(p) => set_at(&mut p.expr, at, unsafe_fn),
        Expr::Subquery(s) => {
            // What lies inside a subquery with `@` keeps its own times and is not looked at.
            if s.at.is_none() {
                s.at = Some(at.clone());
            }
        }
        Expr::VectorSelector(vs) => {
            if vs.at.is_none() {
                vs.at = Some(at.clone());
            }
        }
        Expr::MatrixSelector(ms) => {
            if ms.vs.at.is_none() {
                ms.vs.at = Some(at.clone());
            }
        }
        Expr::Call(c) => {
            *unsafe_fn |= AT_UNSAFE.contains(&c.func.name);
            c.args
                .args
                .iter_mut()
                .for_each(|a| set_at(a, at, unsafe_fn));
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// `file.test:LINE` of the cases that are allowed to fail, with why.
fn known_failures() -> BTreeMap<String, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/promqltest/known_failures.txt");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, why) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
            (k.to_string(), why.trim().to_string())
        })
        .collect()
}

fn test_files(dir: &str) -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("test file directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            (name, std::fs::read_to_string(&p).expect("read test file"))
        })
        .collect()
}

/// Runs `files` and checks the outcome against the known failures; returns the problems.
fn run_all(
    files: &[(String, String)],
    lenient: bool,
    backend: &dyn Backend,
    known: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let (mut all, mut ok, mut nh_all, mut nh_ok) = (0, 0, 0, 0);
    for (name, src) in files {
        let tally = match run_file(src, lenient, backend) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!("{name}: {e}"));
                continue;
            }
        };
        println!(
            "{name}: {}/{} passed without native histograms, {}/{} with",
            tally.passed - tally.nh_passed,
            tally.total - tally.nh_total,
            tally.nh_passed,
            tally.nh_total
        );
        all += tally.total - tally.nh_total;
        ok += tally.passed - tally.nh_passed;
        nh_all += tally.nh_total;
        nh_ok += tally.nh_passed;
        let failed: BTreeMap<String, (bool, String)> = tally
            .failed
            .into_iter()
            .map(|(line, nh, msg)| (format!("{name}:{line}"), (nh, msg)))
            .collect();
        for (key, (nh, msg)) in &failed {
            if std::env::var("PROMQLTEST_VERBOSE").is_ok() || (!nh && !known.contains_key(key)) {
                println!(
                    "  FAIL {key}{}: {msg}",
                    if *nh { " (native histograms)" } else { "" }
                );
            }
            if !nh && !known.contains_key(key) {
                problems.push(format!("{key}: {msg}"));
            }
        }
        for key in known.keys().filter(|k| k.starts_with(&format!("{name}:"))) {
            if !failed.contains_key(key) && backend.at_variants() {
                problems.push(format!(
                    "{key} passes now: remove it from known_failures.txt"
                ));
            }
        }
    }
    println!("total: {ok}/{all} cases without native histograms passed, {nh_ok}/{nh_all} with");
    problems
}

fn assert_clean(problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn prometheus_test_files_in_process() {
    let files = test_files("tests/promqltest/testdata");
    assert!(files.len() >= 17, "the vendored files are missing");
    assert_clean(run_all(&files, false, &InProcess, &known_failures()));
}

#[test]
fn own_test_files_in_process() {
    let files = test_files("tests/promql");
    assert!(!files.is_empty());
    assert_clean(run_all(&files, true, &InProcess, &BTreeMap::new()));
}

/// These files run over `/api/v1/query` and `/api/v1/query_range` too (the plain query only).
const OVER_HTTP: &[&str] = &[
    "at_modifier.test",
    "collision.test",
    "literals.test",
    "range_queries.test",
    "selectors.test",
    "staleness.test",
    "subquery.test",
    "trig_functions.test",
];

#[test]
fn prometheus_test_files_over_http() {
    let files: Vec<_> = test_files("tests/promqltest/testdata")
        .into_iter()
        .filter(|(n, _)| OVER_HTTP.contains(&n.as_str()))
        .collect();
    assert_eq!(files.len(), OVER_HTTP.len());
    let http = Http::new();
    assert_clean(run_all(&files, false, &http, &known_failures()));
}

#[test]
fn engine_options_are_prometheus_defaults() {
    // The test files assume Prometheus's 5 m lookback and 1 m default subquery step.
    let e = Engine::new(Arc::new(Storage::default()), EngineOptions::default());
    assert_eq!(e.options().lookback_ms, 300_000);
    assert_eq!(e.options().subquery_step_ms, 60_000);
}
