//! Runs the PromQL test files under tests/promql/ (Prometheus's test-file format: `load`,
//! `clear`, `eval instant at`, `eval range from … to … step …`, `eval_fail`, `eval_ordered`).

use std::sync::Arc;

use deskd_metrics::labels::Labels;
use deskd_metrics::promql::{Engine, EngineOptions, Value};
use deskd_metrics::storage::{stale_nan, Storage};
use deskd_metrics::text;

/// A parsed duration or plain seconds, in ms.
fn time_ms(s: &str) -> Result<i64, String> {
    if let Ok(secs) = s.parse::<f64>() {
        return Ok((secs * 1000.0).round() as i64);
    }
    promql_parser::util::duration::parse_duration(s)
        .map(|d| d.as_millis() as i64)
        .map_err(|e| format!("bad time {s:?}: {e}"))
}

/// Expands the series-value notation: `1 _ stale 1+2x3 5-1x2 _x2 7x2`.
fn expand(tokens: &[&str]) -> Result<Vec<Option<f64>>, String> {
    let mut out = Vec::new();
    for tok in tokens {
        match *tok {
            "_" => out.push(None),
            "stale" => out.push(Some(stale_nan())),
            _ => match tok.rsplit_once('x').filter(|(b, _)| !b.is_empty()) {
                Some((base, n)) if n.parse::<usize>().is_ok() => {
                    let n: usize = n.parse().map_err(|e| format!("{tok}: {e}"))?;
                    if base == "_" {
                        out.extend(std::iter::repeat_n(None, n));
                        continue;
                    }
                    let split = base
                        .char_indices()
                        .skip(1)
                        .find(|(i, c)| {
                            (*c == '+' || *c == '-') && !base[..*i].ends_with(['e', 'E'])
                        })
                        .map(|(i, _)| i);
                    let (start, inc) = match split {
                        Some(i) => (num(&base[..i])?, num(&base[i..])?),
                        None => (num(base)?, 0.0),
                    };
                    for k in 0..=n {
                        out.push(Some(start + inc * k as f64));
                    }
                }
                _ => out.push(Some(num(tok)?)),
            },
        }
    }
    Ok(out)
}

fn num(s: &str) -> Result<f64, String> {
    text::parse_value(s.trim_start_matches('+'))
}

fn close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a == b {
        return true;
    }
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1e-300)
}

struct Case {
    expr: String,
    kind: Kind,
    fail: bool,
    ordered: bool,
    expected: Vec<(Option<Labels>, Vec<Option<f64>>)>,
}

enum Kind {
    Instant(i64),
    Range(i64, i64, i64),
}

fn run_case(engine: &Engine, c: &Case) -> Result<(), String> {
    let result = match c.kind {
        Kind::Instant(t) => engine.instant(&c.expr, t),
        Kind::Range(s, e, step) => engine.range(&c.expr, s, e, step).map(Value::Matrix),
    };
    if c.fail {
        return match result {
            Err(_) => Ok(()),
            Ok(v) => Err(format!("expected an error, got {v:?}")),
        };
    }
    let got = result.map_err(|e| format!("error: {e}"))?;
    let got: Vec<(Option<Labels>, Vec<Option<f64>>)> = match (&c.kind, got) {
        (_, Value::Scalar(v)) => vec![(None, vec![Some(v)])],
        (_, Value::String(s)) => return Err(format!("string result {s:?}")),
        (_, Value::Vector(v)) => v
            .into_iter()
            .map(|s| (Some(s.labels), vec![Some(s.v)]))
            .collect(),
        (Kind::Range(s, e, step), Value::Matrix(m)) => m
            .into_iter()
            .map(|ser| {
                let mut vals = Vec::new();
                let mut t = *s;
                while t <= *e {
                    vals.push(ser.points.iter().find(|p| p.0 == t).map(|p| p.1));
                    t += step;
                }
                (Some(ser.labels), vals)
            })
            .collect(),
        (Kind::Instant(_), Value::Matrix(m)) => m
            .into_iter()
            .map(|ser| {
                (
                    Some(ser.labels),
                    ser.points.iter().map(|p| Some(p.1)).collect(),
                )
            })
            .collect(),
    };
    compare(c, &got)
}

fn show(v: &[(Option<Labels>, Vec<Option<f64>>)]) -> String {
    v.iter()
        .map(|(l, vals)| {
            let l = l.as_ref().map(|l| l.to_string()).unwrap_or_default();
            let vals: Vec<String> = vals
                .iter()
                .map(|x| x.map(|f| f.to_string()).unwrap_or("_".into()))
                .collect();
            format!("{l} {}", vals.join(" "))
        })
        .collect::<Vec<_>>()
        .join("\n      ")
}

fn compare(c: &Case, got: &[(Option<Labels>, Vec<Option<f64>>)]) -> Result<(), String> {
    let fail = || {
        Err(format!(
            "expected:\n      {}\n    got:\n      {}",
            show(&c.expected),
            show(got)
        ))
    };
    if got.len() != c.expected.len() {
        return fail();
    }
    for (i, (el, ev)) in c.expected.iter().enumerate() {
        let found = if c.ordered {
            got.get(i).filter(|(gl, _)| gl == el)
        } else {
            got.iter().find(|(gl, _)| gl == el)
        };
        let Some((_, gv)) = found else {
            return fail();
        };
        let same = gv.len() == ev.len()
            && gv.iter().zip(ev).all(|(a, b)| match (a, b) {
                (Some(a), Some(b)) => close(*a, *b),
                (None, None) => true,
                _ => false,
            });
        if !same {
            return fail();
        }
    }
    Ok(())
}

/// Parses a `name{labels} values…` line; a bare number line is a scalar.
fn expected_line(line: &str) -> Result<(Option<Labels>, Vec<Option<f64>>), String> {
    if let Ok(v) = num(line.trim()) {
        return Ok((None, vec![Some(v)]));
    }
    let (labels, rest) = text::series(line.trim(), false)?;
    let toks: Vec<&str> = rest.split_whitespace().collect();
    Ok((Some(labels), expand(&toks)?))
}

fn run_file(name: &str, src: &str) -> Vec<String> {
    let mut failures = Vec::new();
    let mut storage = Arc::new(Storage::default());
    let lines: Vec<&str> = src.lines().collect();
    let mut i = 0;
    let mut cases = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        let lineno = i + 1;
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let body_end = lines[i..]
            .iter()
            .position(|l| !l.starts_with([' ', '\t']) || l.trim().is_empty())
            .map(|p| i + p)
            .unwrap_or(lines.len());
        let body: Vec<&str> = lines[i..body_end]
            .iter()
            .map(|l| l.trim())
            .filter(|l| !l.starts_with('#'))
            .collect();
        i = body_end;
        let res = if line == "clear" {
            storage = Arc::new(Storage::default());
            Ok(())
        } else if let Some(step) = line.strip_prefix("load ") {
            load(&storage, step.trim(), &body)
        } else if line.starts_with("eval") {
            cases += 1;
            parse_case(line, &body).and_then(|c| {
                let engine = Engine::new(storage.clone(), EngineOptions::default());
                run_case(&engine, &c).map_err(|e| format!("{}\n    {e}", c.expr))
            })
        } else {
            Err(format!("unknown command {line:?}"))
        };
        if let Err(e) = res {
            failures.push(format!("{name}:{lineno}: {e}"));
        }
    }
    println!("{name}: {cases} cases, {} failed", failures.len());
    failures
}

fn load(storage: &Storage, step: &str, body: &[&str]) -> Result<(), String> {
    let step = time_ms(step)?;
    let mut batch = Vec::new();
    for l in body {
        let (labels, rest) = text::series(l, true)?;
        let toks: Vec<&str> = rest.split_whitespace().collect();
        for (k, v) in expand(&toks)?.into_iter().enumerate() {
            if let Some(v) = v {
                batch.push((labels.clone(), k as i64 * step, v));
            }
        }
    }
    storage
        .append(&batch)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn parse_case(line: &str, body: &[&str]) -> Result<Case, String> {
    let (cmd, rest) = line.split_once(' ').ok_or("bad eval line")?;
    let (fail, ordered) = match cmd {
        "eval" => (false, false),
        "eval_fail" => (true, false),
        "eval_ordered" => (false, true),
        _ => return Err(format!("unknown command {cmd}")),
    };
    let (kind, expr) = if let Some(r) = rest.strip_prefix("instant at ") {
        let (t, expr) = r.split_once(' ').ok_or("missing expression")?;
        (Kind::Instant(time_ms(t)?), expr)
    } else if let Some(r) = rest.strip_prefix("range from ") {
        let w: Vec<&str> = r.splitn(6, ' ').collect();
        if w.len() != 6 || w[1] != "to" || w[3] != "step" {
            return Err("expected: range from T to T step S EXPR".into());
        }
        (
            Kind::Range(time_ms(w[0])?, time_ms(w[2])?, time_ms(w[4])?),
            w[5],
        )
    } else {
        return Err("expected 'instant at' or 'range from'".into());
    };
    let expected = body
        .iter()
        .map(|l| expected_line(l))
        .collect::<Result<_, _>>()?;
    Ok(Case {
        expr: expr.to_string(),
        kind,
        fail,
        ordered,
        expected,
    })
}

#[test]
fn promql_test_files() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/promql");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/promql")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut failures = Vec::new();
    for f in files {
        let src = std::fs::read_to_string(&f).expect("read");
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        failures.extend(run_file(&name, &src));
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn value_notation() {
    let v = expand(&["1+2x2", "_", "stale", "-1-1x1", "_x2", "3x1", "1e3"]).expect("expand");
    assert_eq!(v.len(), 12);
    assert_eq!(v[0..3], [Some(1.0), Some(3.0), Some(5.0)]);
    assert_eq!(v[5..7], [Some(-1.0), Some(-2.0)]);
    assert_eq!(v[7..9], [None, None]);
    assert_eq!(v[9..11], [Some(3.0), Some(3.0)]);
    assert_eq!(v[11], Some(1000.0));
}
