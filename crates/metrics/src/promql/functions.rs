//! PromQL functions.

use std::cmp::Ordering;

use promql_parser::parser::{Call, Expr};
use regex::Regex;

use super::aggregate::{extreme, mean, sum, variance};
use super::eval::{check_unique, Evaluator};
use super::histogram;
use super::value::{exec, QueryError, Sample, Series, Value};
use crate::labels::{valid_label_name, Labels, METRIC_NAME};

/// One step of Kahan–Babuška summation; an infinite sum drops the compensation.
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Go's float ordering for sorting: NaN first.
fn go_cmp(a: &f64, b: &f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(Ordering::Equal),
    }
}

/// The φ-quantile with linear interpolation between closest ranks.
pub(crate) fn quantile(q: f64, vals: &[f64]) -> f64 {
    if vals.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    let mut v = vals.to_vec();
    v.sort_by(go_cmp);
    let n = v.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0) as usize;
    let upper = (lower + 1).min(v.len() - 1);
    let weight = rank - rank.floor();
    v[lower] * (1.0 - weight) + v[upper] * weight
}

/// Go's math.Max / math.Min: NaN wins.
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

fn vector_arg(ev: &Evaluator<'_>, e: &Expr, t: i64) -> Result<Vec<Sample>, QueryError> {
    match ev.eval(e, t)? {
        Value::Vector(v) => Ok(v),
        other => exec(format!(
            "expected instant vector, got {}",
            other.type_name()
        )),
    }
}

fn scalar_arg(ev: &Evaluator<'_>, e: &Expr, t: i64) -> Result<f64, QueryError> {
    match ev.eval(e, t)? {
        Value::Scalar(v) => Ok(v),
        other => exec(format!("expected scalar, got {}", other.type_name())),
    }
}

fn string_arg(ev: &Evaluator<'_>, e: &Expr, t: i64) -> Result<String, QueryError> {
    match ev.eval(e, t)? {
        Value::String(s) => Ok(s),
        other => exec(format!("expected string, got {}", other.type_name())),
    }
}

fn arg(args: &[Box<Expr>], i: usize) -> Result<&Expr, QueryError> {
    match args.get(i) {
        Some(a) => Ok(a),
        None => exec(format!("missing argument {}", i + 1)),
    }
}

pub(crate) fn call(ev: &Evaluator<'_>, c: &Call, t: i64) -> Result<Value, QueryError> {
    let name = c.func.name;
    let args = &c.args.args;
    if let Some(out) = range_function(ev, name, args, t)? {
        check_unique(&out)?;
        return Ok(Value::Vector(out));
    }
    let v = match name {
        "time" => return Ok(Value::Scalar(t as f64 / 1000.0)),
        "pi" => return Ok(Value::Scalar(std::f64::consts::PI)),
        "scalar" => {
            let v = vector_arg(ev, arg(args, 0)?, t)?;
            return Ok(Value::Scalar(if v.len() == 1 { v[0].v } else { f64::NAN }));
        }
        "vector" => vec![Sample {
            labels: Labels::default(),
            t,
            v: scalar_arg(ev, arg(args, 0)?, t)?,
        }],
        "absent" => {
            let v = vector_arg(ev, arg(args, 0)?, t)?;
            absent_result(v.is_empty(), arg(args, 0)?, t)
        }
        "sort" | "sort_desc" => {
            let mut v = vector_arg(ev, arg(args, 0)?, t)?;
            if name == "sort" {
                v.sort_by(|a, b| go_cmp(&a.v, &b.v));
            } else {
                v.sort_by(|a, b| go_cmp(&b.v, &a.v));
            }
            return Ok(Value::Vector(v));
        }
        "sort_by_label" | "sort_by_label_desc" => {
            let mut v = vector_arg(ev, arg(args, 0)?, t)?;
            let names = args[1..]
                .iter()
                .map(|a| string_arg(ev, a, t))
                .collect::<Result<Vec<_>, _>>()?;
            v.sort_by(|a, b| {
                let o = by_labels(&names, &a.labels, &b.labels);
                if name == "sort_by_label" {
                    o
                } else {
                    o.reverse()
                }
            });
            return Ok(Value::Vector(v));
        }
        "label_replace" => label_replace(ev, args, t)?,
        "label_join" => label_join(ev, args, t)?,
        "histogram_quantile" => {
            let q = scalar_arg(ev, arg(args, 0)?, t)?;
            if !(0.0..=1.0).contains(&q) {
                ev.notes
                    .borrow_mut()
                    .warn(super::value::invalid_quantile(q));
            }
            let (out, fixed) = histogram::quantile(q, vector_arg(ev, arg(args, 1)?, t)?, t);
            for name in fixed {
                ev.notes.borrow_mut().info(format!("PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {name:?}"));
            }
            out
        }
        "histogram_fraction" => {
            let lo = scalar_arg(ev, arg(args, 0)?, t)?;
            let hi = scalar_arg(ev, arg(args, 1)?, t)?;
            histogram::fraction(lo, hi, vector_arg(ev, arg(args, 2)?, t)?, t)
        }
        "timestamp" => map_vector(ev, vector_arg(ev, arg(args, 0)?, t)?, t, |s| {
            s.t as f64 / 1000.0
        }),
        "round" => {
            let v = vector_arg(ev, arg(args, 0)?, t)?;
            let to = match args.get(1) {
                Some(e) => scalar_arg(ev, e, t)?,
                None => 1.0,
            };
            let inv = 1.0 / to;
            map_vector(ev, v, t, |s| (s.v * inv + 0.5).floor() / inv)
        }
        "clamp" => {
            let v = vector_arg(ev, arg(args, 0)?, t)?;
            let lo = scalar_arg(ev, arg(args, 1)?, t)?;
            let hi = scalar_arg(ev, arg(args, 2)?, t)?;
            if hi < lo {
                Vec::new()
            } else {
                map_vector(ev, v, t, |s| go_max(lo, go_min(hi, s.v)))
            }
        }
        "clamp_min" | "clamp_max" => {
            let v = vector_arg(ev, arg(args, 0)?, t)?;
            let b = scalar_arg(ev, arg(args, 1)?, t)?;
            if name == "clamp_min" {
                map_vector(ev, v, t, |s| go_max(s.v, b))
            } else {
                map_vector(ev, v, t, |s| go_min(s.v, b))
            }
        }
        "day_of_month" | "day_of_week" | "day_of_year" | "days_in_month" | "hour" | "minute"
        | "month" | "year" => {
            let v = match args.first() {
                Some(e) => vector_arg(ev, e, t)?,
                None => vec![Sample {
                    labels: Labels::default(),
                    t,
                    v: t as f64 / 1000.0,
                }],
            };
            map_vector(ev, v, t, |s| date_part(name, s.v))
        }
        _ => match math_fn(name) {
            Some(f) => map_vector(ev, vector_arg(ev, arg(args, 0)?, t)?, t, |s| f(s.v)),
            None => return exec(format!("function {name} is not supported")),
        },
    };
    check_unique(&v)?;
    Ok(Value::Vector(v))
}

/// `sort_by_label` order: the named labels' values in natural order, then the whole set.
fn by_labels(names: &[String], a: &Labels, b: &Labels) -> Ordering {
    for n in names {
        let (x, y) = (a.value(n), b.value(n));
        if x != y {
            return if natural_less(x, y) {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
    }
    a.cmp(b)
}

/// Natural string order as the `natsort` package Prometheus uses: runs of digits compare as
/// integers, other runs as strings.
fn natural_less(a: &str, b: &str) -> bool {
    fn chunks(s: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[i - 1].is_ascii_digit() {
                out.push(&s[start..i]);
                start = i;
            }
        }
        out
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for (i, x) in ca.iter().enumerate() {
        let Some(y) = cb.get(i) else {
            return false;
        };
        let same = match (x.parse::<i64>(), y.parse::<i64>()) {
            (Ok(p), Ok(q)) if p != q => return p < q,
            (Ok(_), Ok(_)) => true,
            _ => x == y,
        };
        if !same {
            return x < y;
        }
        if i == ca.len() - 1 {
            return true;
        }
        if i == cb.len() - 1 {
            return false;
        }
    }
    false
}

/// Applies `f` to every element, dropping the metric name.
fn map_vector(
    ev: &Evaluator<'_>,
    v: Vec<Sample>,
    t: i64,
    f: impl Fn(&Sample) -> f64,
) -> Vec<Sample> {
    v.iter()
        .map(|s| Sample {
            labels: ev.drop_name(&s.labels),
            t,
            v: f(s),
        })
        .collect()
}

fn math_fn(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "deg" => |v| v * 180.0 / std::f64::consts::PI,
        "rad" => |v| v * std::f64::consts::PI / 180.0,
        "sgn" => |v: f64| {
            if v < 0.0 {
                -1.0
            } else if v > 0.0 {
                1.0
            } else {
                v
            }
        },
        _ => return None,
    })
}

/// `absent`/`absent_over_time`: one sample labelled from the selector's equality matchers.
fn absent_result(empty: bool, e: &Expr, t: i64) -> Vec<Sample> {
    if !empty {
        return Vec::new();
    }
    let vs = match e {
        Expr::VectorSelector(vs) => Some(vs),
        Expr::MatrixSelector(ms) => Some(&ms.vs),
        _ => None,
    };
    let mut labels = Labels::default();
    if let Some(vs) = vs {
        let mut seen: Vec<&str> = Vec::new();
        for m in &vs.matchers.matchers {
            if m.name == METRIC_NAME {
                continue;
            }
            let equal = matches!(m.op, promql_parser::label::MatchOp::Equal);
            if equal && !seen.contains(&m.name.as_str()) {
                labels.set(&m.name, &m.value);
            } else {
                labels.set(&m.name, "");
            }
            seen.push(&m.name);
        }
    }
    vec![Sample { labels, t, v: 1.0 }]
}

/// Functions over a range vector; `None` when `name` is not one.
fn range_function(
    ev: &Evaluator<'_>,
    name: &str,
    args: &[Box<Expr>],
    t: i64,
) -> Result<Option<Vec<Sample>>, QueryError> {
    let (param, m) = match name {
        "quantile_over_time" => ((scalar_arg(ev, arg(args, 0)?, t)?, 0.0), arg(args, 1)?),
        "predict_linear" => ((scalar_arg(ev, arg(args, 1)?, t)?, 0.0), arg(args, 0)?),
        "double_exponential_smoothing" => {
            let sf = scalar_arg(ev, arg(args, 1)?, t)?;
            let tf = scalar_arg(ev, arg(args, 2)?, t)?;
            if sf <= 0.0 || sf >= 1.0 {
                return exec(format!(
                    "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:.6}"
                ));
            }
            if tf <= 0.0 || tf >= 1.0 {
                return exec(format!(
                    "invalid trend factor. Expected: 0 < tf < 1, got: {tf:.6}"
                ));
            }
            ((sf, tf), arg(args, 0)?)
        }
        "rate"
        | "increase"
        | "delta"
        | "irate"
        | "idelta"
        | "deriv"
        | "resets"
        | "changes"
        | "avg_over_time"
        | "min_over_time"
        | "max_over_time"
        | "sum_over_time"
        | "count_over_time"
        | "stddev_over_time"
        | "stdvar_over_time"
        | "last_over_time"
        | "present_over_time"
        | "absent_over_time"
        | "mad_over_time"
        | "ts_of_min_over_time"
        | "ts_of_max_over_time"
        | "ts_of_last_over_time" => ((0.0, 0.0), arg(args, 0)?),
        _ => return Ok(None),
    };
    let (series, start, end) = ev.range_arg(m, t)?;
    notes_for_range(ev, name, param.0, &series);
    if name == "absent_over_time" {
        return Ok(Some(absent_result(series.is_empty(), m, t)));
    }
    let p = param;
    let mut out = Vec::with_capacity(series.len());
    for s in &series {
        let Some(v) = over_window(name, s, start, end, t, p) else {
            continue;
        };
        let labels = if name == "last_over_time" {
            s.labels.clone()
        } else {
            ev.drop_name(&s.labels)
        };
        out.push(Sample { labels, t, v });
    }
    Ok(Some(out))
}

/// The annotations of a range function: a quantile outside [0, 1]; `rate`/`increase` of a
/// series whose name does not say it is a counter.
fn notes_for_range(ev: &Evaluator<'_>, name: &str, p: f64, series: &[Series]) {
    let mut notes = ev.notes.borrow_mut();
    if name == "quantile_over_time" && !(0.0..=1.0).contains(&p) {
        notes.warn(super::value::invalid_quantile(p));
    }
    if name != "rate" && name != "increase" {
        return;
    }
    for s in series.iter().filter(|s| !s.points.is_empty()) {
        let Some(metric) = s.labels.name() else {
            continue;
        };
        if !["_total", "_sum", "_count", "_bucket"]
            .iter()
            .any(|x| metric.ends_with(x))
        {
            notes.info(format!(
                "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {metric:?}"
            ));
        }
    }
}

fn over_window(
    name: &str,
    s: &Series,
    start: i64,
    end: i64,
    t: i64,
    (p, p2): (f64, f64),
) -> Option<f64> {
    let pts = &s.points;
    let vals = || pts.iter().map(|(_, v)| *v).collect::<Vec<f64>>();
    let n = pts.len();
    Some(match name {
        "rate" => extrapolated_rate(pts, start, end, true, true)?,
        "increase" => extrapolated_rate(pts, start, end, true, false)?,
        "delta" => extrapolated_rate(pts, start, end, false, false)?,
        "irate" | "idelta" => instant_delta(pts, name == "irate")?,
        "deriv" if n >= 2 => linear_regression(pts, pts[0].0).0,
        "predict_linear" if n >= 2 => {
            let (slope, intercept) = linear_regression(pts, t);
            slope * p + intercept
        }
        "deriv" | "predict_linear" => return None,
        "resets" => pts.windows(2).filter(|w| w[1].1 < w[0].1).count() as f64,
        "changes" => pts
            .windows(2)
            .filter(|w| w[1].1 != w[0].1 && !(w[1].1.is_nan() && w[0].1.is_nan()))
            .count() as f64,
        "avg_over_time" => mean(&vals()),
        "min_over_time" => extreme(&vals(), |x, m| x < m),
        "max_over_time" => extreme(&vals(), |x, m| x > m),
        "sum_over_time" => sum(&vals()),
        "count_over_time" => n as f64,
        "stddev_over_time" => variance(&vals()).sqrt(),
        "stdvar_over_time" => variance(&vals()),
        "last_over_time" => pts.last()?.1,
        "present_over_time" => 1.0,
        "quantile_over_time" => quantile(p, &vals()),
        "mad_over_time" => {
            let v = vals();
            let median = quantile(0.5, &v);
            quantile(
                0.5,
                &v.iter().map(|x| (x - median).abs()).collect::<Vec<_>>(),
            )
        }
        "ts_of_min_over_time" => time_of_extreme(pts, |x, m| x <= m)?,
        "ts_of_max_over_time" => time_of_extreme(pts, |x, m| x >= m)?,
        "ts_of_last_over_time" => pts.last()?.0 as f64 / 1000.0,
        "double_exponential_smoothing" => double_exponential_smoothing(pts, p, p2)?,
        _ => return None,
    })
}

/// When (in seconds) the extreme value was seen; the last of equal ones, NaN giving way.
fn time_of_extreme(pts: &[(i64, f64)], better: fn(f64, f64) -> bool) -> Option<f64> {
    let (mut tm, mut m) = *pts.first()?;
    for &(t, v) in pts {
        if better(v, m) || m.is_nan() {
            (tm, m) = (t, v);
        }
    }
    Some(tm as f64 / 1000.0)
}

/// Holt's linear smoothing with smoothing factor `sf` and trend factor `tf` (Prometheus's
/// `double_exponential_smoothing`); needs two points.
fn double_exponential_smoothing(pts: &[(i64, f64)], sf: f64, tf: f64) -> Option<f64> {
    if pts.len() < 2 {
        return None;
    }
    let (mut s0, mut s1, mut b) = (0.0, pts[0].1, pts[1].1 - pts[0].1);
    for (i, p) in pts.iter().enumerate().skip(1) {
        let x = sf * p.1;
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        (s0, s1) = (s1, x + y);
    }
    Some(s1)
}

/// rate/increase/delta: the change over the window, extrapolated towards its edges as
/// Prometheus does (not past where the series seems to start or end, nor below zero for
/// counters).
fn extrapolated_rate(
    pts: &[(i64, f64)],
    start: i64,
    end: i64,
    counter: bool,
    rate: bool,
) -> Option<f64> {
    if pts.len() < 2 {
        return None;
    }
    let (first_t, first_v) = pts[0];
    let (last_t, last_v) = pts[pts.len() - 1];
    let mut result = last_v - first_v;
    if counter {
        for w in pts.windows(2) {
            if w[1].1 < w[0].1 {
                result += w[0].1;
            }
        }
    }
    let mut to_start = (first_t - start) as f64 / 1000.0;
    let mut to_end = (end - last_t) as f64 / 1000.0;
    let sampled = (last_t - first_t) as f64 / 1000.0;
    let avg = sampled / (pts.len() - 1) as f64;
    let threshold = avg * 1.1;
    if to_start >= threshold {
        to_start = avg / 2.0;
    }
    if counter && result > 0.0 && first_v >= 0.0 {
        let to_zero = sampled * (first_v / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = avg / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if rate {
        factor /= (end - start) as f64 / 1000.0;
    }
    Some(result * factor)
}

fn instant_delta(pts: &[(i64, f64)], rate: bool) -> Option<f64> {
    if pts.len() < 2 {
        return None;
    }
    let (pt, pv) = pts[pts.len() - 2];
    let (lt, lv) = pts[pts.len() - 1];
    let dt = lt - pt;
    if dt == 0 {
        return None;
    }
    if !rate {
        return Some(lv - pv);
    }
    let d = if lv < pv { lv } else { lv - pv };
    Some(d / (dt as f64 / 1000.0))
}

/// Least-squares slope and intercept, with x in seconds from `intercept_t`.
fn linear_regression(pts: &[(i64, f64)], intercept_t: i64) -> (f64, f64) {
    let init = pts[0].1;
    let const_y = pts.iter().all(|(_, v)| *v == init);
    if const_y {
        return if init.is_infinite() {
            (f64::NAN, f64::NAN)
        } else {
            (0.0, init)
        };
    }
    let n = pts.len() as f64;
    let (mut sx, mut cx, mut sy, mut cy) = (0.0, 0.0, 0.0, 0.0);
    let (mut sxy, mut cxy, mut sx2, mut cx2) = (0.0, 0.0, 0.0, 0.0);
    for &(st, v) in pts {
        let x = (st - intercept_t) as f64 / 1000.0;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(v, sy, cy);
        (sxy, cxy) = kahan_inc(x * v, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    let (sx, sy, sxy, sx2) = (sx + cx, sy + cy, sxy + cxy, sx2 + cx2);
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

fn label_replace(
    ev: &Evaluator<'_>,
    args: &[Box<Expr>],
    t: i64,
) -> Result<Vec<Sample>, QueryError> {
    let v = vector_arg(ev, arg(args, 0)?, t)?;
    let dst = string_arg(ev, arg(args, 1)?, t)?;
    let repl = string_arg(ev, arg(args, 2)?, t)?;
    let src = string_arg(ev, arg(args, 3)?, t)?;
    let re = string_arg(ev, arg(args, 4)?, t)?;
    let re = Regex::new(&format!("^(?s:{re})$")).or_else(|e| {
        exec(format!(
            "invalid regular expression in label_replace(): {e}"
        ))
    })?;
    if !valid_label_name(&dst) {
        return exec(format!(
            "invalid destination label name in label_replace(): {dst}"
        ));
    }
    Ok(v.into_iter()
        .map(|mut s| {
            if let Some(caps) = re.captures(s.labels.value(&src)) {
                let mut out = String::new();
                caps.expand(&repl, &mut out);
                s.labels.set(&dst, &out);
            }
            s.t = t;
            s
        })
        .collect())
}

fn label_join(ev: &Evaluator<'_>, args: &[Box<Expr>], t: i64) -> Result<Vec<Sample>, QueryError> {
    let v = vector_arg(ev, arg(args, 0)?, t)?;
    let dst = string_arg(ev, arg(args, 1)?, t)?;
    let sep = string_arg(ev, arg(args, 2)?, t)?;
    let mut srcs = Vec::new();
    for a in args.iter().skip(3) {
        srcs.push(string_arg(ev, a, t)?);
    }
    if !valid_label_name(&dst) {
        return exec(format!(
            "invalid destination label name in label_join(): {dst}"
        ));
    }
    Ok(v.into_iter()
        .map(|mut s| {
            let joined: Vec<&str> = srcs.iter().map(|n| s.labels.value(n)).collect();
            let joined = joined.join(&sep);
            s.labels.set(&dst, &joined);
            s.t = t;
            s
        })
        .collect())
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (also for rule timestamps).
pub(crate) fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in(y: i64, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if leap(y) => 29,
        2 => 28,
        _ => 31,
    }
}

/// One calendar field (UTC) of the Unix time `v` in seconds.
fn date_part(name: &str, v: f64) -> f64 {
    if !v.is_finite() {
        return f64::NAN;
    }
    let secs = v as i64;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    match name {
        "year" => y as f64,
        "month" => f64::from(m),
        "day_of_month" => f64::from(d),
        "day_of_week" => (days + 4).rem_euclid(7) as f64,
        "day_of_year" => {
            let before: u32 = (1..m).map(|mm| days_in(y, mm)).sum();
            f64::from(before + d)
        }
        "days_in_month" => f64::from(days_in(y, m)),
        "hour" => (sod / 3600) as f64,
        _ => ((sod % 3600) / 60) as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(19_782), (2024, 2, 29));
        assert_eq!(civil(-1), (1969, 12, 31));
        assert_eq!(date_part("day_of_year", 1_709_164_800.0), 60.0);
        assert_eq!(date_part("day_of_week", 0.0), 4.0);
        assert_eq!(date_part("hour", 3_600.0 * 5.0 + 59.0), 5.0);
    }
}
