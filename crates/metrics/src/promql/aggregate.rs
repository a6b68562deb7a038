//! Aggregation operators with by/without.

use promql_parser::parser::{AggregateExpr, LabelModifier};

use super::eval::Evaluator;
use super::functions::{kahan_inc, quantile};
use super::value::{exec, format_value, QueryError, Sample, Value};
use crate::labels::{valid_label_name, FastMap, Labels, METRIC_NAME};

fn group_key(l: &Labels, m: &Option<LabelModifier>) -> Labels {
    match m {
        Some(LabelModifier::Include(by)) => l.keep(&by.labels),
        Some(LabelModifier::Exclude(without)) => {
            let mut names: Vec<&str> = without.labels.iter().map(String::as_str).collect();
            names.push(METRIC_NAME);
            l.without(&names)
        }
        None => Labels::default(),
    }
}

/// Groups samples by key, keeping the order of first appearance.
fn groups(
    ev: &Evaluator<'_>,
    v: Vec<Sample>,
    m: &Option<LabelModifier>,
) -> Vec<(Labels, Vec<Sample>)> {
    let node = m as *const Option<LabelModifier> as usize;
    let mut pos: FastMap<Labels, usize> = FastMap::default();
    let mut out: Vec<(Labels, Vec<Sample>)> = Vec::new();
    for s in v {
        let k = ev.derive(node, &s.labels, |l| group_key(l, m));
        let i = *pos.entry(k.clone()).or_insert_with(|| {
            out.push((k, Vec::new()));
            out.len() - 1
        });
        out[i].1.push(s);
    }
    out
}

fn scalar_param(ev: &Evaluator<'_>, a: &AggregateExpr, t: i64) -> Result<f64, QueryError> {
    match &a.param {
        Some(p) => match ev.eval(p, t)? {
            Value::Scalar(v) => Ok(v),
            other => exec(format!(
                "expected scalar parameter, got {}",
                other.type_name()
            )),
        },
        None => exec("missing parameter"),
    }
}

pub(crate) fn eval(ev: &Evaluator<'_>, a: &AggregateExpr, t: i64) -> Result<Value, QueryError> {
    let op = a.op.to_string();
    let input = match ev.eval(&a.expr, t)? {
        Value::Vector(v) => v,
        other => return exec(format!("aggregation over {}", other.type_name())),
    };
    let out = match op.as_str() {
        "topk" | "bottomk" => {
            let k = scalar_param(ev, a, t)?;
            select_k(ev, input, &a.modifier, k, op == "topk")?
        }
        "quantile" => {
            let q = scalar_param(ev, a, t)?;
            if !(0.0..=1.0).contains(&q) {
                ev.notes
                    .borrow_mut()
                    .warn(super::value::invalid_quantile(q));
            }
            simple(ev, input, &a.modifier, t, |vals| quantile(q, vals))
        }
        "count_values" => {
            let label = match &a.param {
                Some(p) => match ev.eval(p, t)? {
                    Value::String(s) => s,
                    other => {
                        return exec(format!(
                            "expected string parameter, got {}",
                            other.type_name()
                        ))
                    }
                },
                None => return exec("missing parameter"),
            };
            count_values(input, &a.modifier, &label, t)?
        }
        "sum" => simple(ev, input, &a.modifier, t, sum),
        "avg" => simple(ev, input, &a.modifier, t, mean),
        "count" => simple(ev, input, &a.modifier, t, |v| v.len() as f64),
        "group" => simple(ev, input, &a.modifier, t, |_| 1.0),
        "min" => simple(ev, input, &a.modifier, t, |v| extreme(v, |x, m| x < m)),
        "max" => simple(ev, input, &a.modifier, t, |v| extreme(v, |x, m| x > m)),
        "stddev" => simple(ev, input, &a.modifier, t, |v| variance(v).sqrt()),
        "stdvar" => simple(ev, input, &a.modifier, t, variance),
        other => return exec(format!("aggregation {other} is not supported")),
    };
    Ok(Value::Vector(out))
}

fn simple(
    ev: &Evaluator<'_>,
    input: Vec<Sample>,
    m: &Option<LabelModifier>,
    t: i64,
    f: impl Fn(&[f64]) -> f64,
) -> Vec<Sample> {
    groups(ev, input, m)
        .into_iter()
        .map(|(labels, members)| {
            let vals: Vec<f64> = members.iter().map(|s| s.v).collect();
            Sample {
                labels,
                t,
                v: f(&vals),
            }
        })
        .collect()
}

pub(crate) fn sum(v: &[f64]) -> f64 {
    let (mut s, mut c) = (0.0, 0.0);
    for x in v {
        (s, c) = kahan_inc(*x, s, c);
    }
    s + c
}

/// The mean; falls back to an incremental mean when the plain sum would overflow.
pub(crate) fn mean(v: &[f64]) -> f64 {
    let s = sum(v);
    if s.is_finite() || v.iter().any(|x| x.is_infinite() || x.is_nan()) {
        return s / v.len() as f64;
    }
    let mut m = 0.0;
    for (i, x) in v.iter().enumerate() {
        m += (x - m) / (i + 1) as f64;
    }
    m
}

/// Population variance (Welford).
pub(crate) fn variance(v: &[f64]) -> f64 {
    let (mut mean, mut acc) = (0.0, 0.0);
    for (i, x) in v.iter().enumerate() {
        let d = x - mean;
        mean += d / (i + 1) as f64;
        acc += d * (x - mean);
    }
    acc / v.len() as f64
}

/// Min or max where any number beats NaN.
pub(crate) fn extreme(v: &[f64], better: impl Fn(f64, f64) -> bool) -> f64 {
    let mut m = f64::NAN;
    for &x in v {
        if m.is_nan() || better(x, m) {
            m = x;
        }
    }
    m
}

fn select_k(
    ev: &Evaluator<'_>,
    input: Vec<Sample>,
    m: &Option<LabelModifier>,
    k: f64,
    top: bool,
) -> Result<Vec<Sample>, QueryError> {
    if k.is_nan() || k.abs() >= 9.2e18 {
        return exec(format!("Scalar value {} overflows int64", format_value(k)));
    }
    let k = k as i64;
    if k < 1 {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for (_, mut members) in groups(ev, input, m) {
        // NaN sorts last for both, as Prometheus keeps NaN out of a top or bottom set.
        members.sort_by(|a, b| match (a.v.is_nan(), b.v.is_nan()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            _ if top => b.v.total_cmp(&a.v),
            _ => a.v.total_cmp(&b.v),
        });
        members.truncate(usize::try_from(k).unwrap_or(usize::MAX));
        out.extend(members);
    }
    Ok(out)
}

fn count_values(
    input: Vec<Sample>,
    m: &Option<LabelModifier>,
    label: &str,
    t: i64,
) -> Result<Vec<Sample>, QueryError> {
    if !valid_label_name(label) {
        return exec(format!("invalid label name {label:?}"));
    }
    let mut pos: FastMap<Labels, usize> = FastMap::default();
    let mut out: Vec<Sample> = Vec::new();
    for s in input {
        let mut k = group_key(&s.labels, m);
        k.set(label, &format_value(s.v));
        let i = *pos.entry(k.clone()).or_insert_with(|| {
            out.push(Sample {
                labels: k,
                t,
                v: 0.0,
            });
            out.len() - 1
        });
        out[i].v += 1.0;
    }
    Ok(out)
}
