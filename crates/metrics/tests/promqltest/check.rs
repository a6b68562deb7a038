//! Comparing a query's result with an `eval`'s expectation as `promqltest` does: floats by
//! `almost.Equal` with a relative epsilon of 1e-6, series by label set, positions only for
//! ordered cases, range results by the step each point belongs to.

use deskd_metrics::labels::Labels;
use deskd_metrics::promql::Value;
use deskd_metrics::storage::is_stale;

use super::script::{Eval, Expected, SeqValue};

const EPSILON: f64 = 0.000001;

/// `util/almost.Equal`: equal, both NaN (stale only with stale), or a relative difference
/// (to the sum of magnitudes) below `EPSILON`.
pub fn almost_equal(a: f64, b: f64) -> bool {
    if is_stale(a) || is_stale(b) {
        return is_stale(a) && is_stale(b);
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let min_normal = f64::MIN_POSITIVE;
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < min_normal {
        return diff < EPSILON * min_normal;
    }
    diff / abs_sum.min(f64::MAX) < EPSILON
}

fn expected_series(ev: &Eval) -> &[(usize, Labels, Vec<SeqValue>)] {
    match &ev.expected {
        Expected::Series(s) => s,
        Expected::Scalar(_) => &[],
    }
}

fn find<'a>(ev: &'a Eval, l: &Labels) -> Option<&'a (usize, Labels, Vec<SeqValue>)> {
    expected_series(ev).iter().find(|(_, el, _)| el == l)
}

/// Compares `got` (of an instant query at `start`, or a range query from `start` by `step`).
pub fn compare(ev: &Eval, got: &Value, start: i64, step: i64) -> Result<(), String> {
    match got {
        Value::Matrix(m) => {
            if ev.is_ordered() {
                return Err("expected ordered result, but query returned a matrix".into());
            }
            if let Expected::Scalar(_) = ev.expected {
                return Err("expected scalar result, but got matrix".into());
            }
            if m.windows(2).any(|w| w[0].labels > w[1].labels) {
                return Err("matrix results should always be sorted by labels".into());
            }
            for s in m {
                let Some((_, _, vals)) = find(ev, &s.labels) else {
                    return Err(format!(
                        "unexpected metric {} in result, has {:?}",
                        s.labels, s.points
                    ));
                };
                let mut want = Vec::new();
                for (i, v) in vals.iter().enumerate() {
                    let t = start + i as i64 * step;
                    match v {
                        SeqValue::Float(f) => want.push((t, *f)),
                        SeqValue::Omitted => {}
                        SeqValue::Histogram(h) => {
                            return Err(format!(
                                "expected histogram {h} for {}, got floats",
                                s.labels
                            ))
                        }
                    }
                }
                // deskd's own files list an instant range vector's values without their times.
                let loose = ev.lenient && step == 0;
                if want.len() != s.points.len()
                    || want
                        .iter()
                        .zip(&s.points)
                        .any(|(w, g)| (w.0 != g.0 && !loose) || !almost_equal(g.1, w.1))
                {
                    return Err(format!(
                        "for {}: expected {want:?}, got {:?}",
                        s.labels, s.points
                    ));
                }
            }
            for (_, l, _) in expected_series(ev) {
                if !m.iter().any(|s| &s.labels == l) {
                    return Err(format!("expected metric {l} not found"));
                }
            }
        }
        Value::Vector(v) => {
            if let Expected::Scalar(_) = ev.expected {
                return Err(format!("expected scalar result, but got vector {v:?}"));
            }
            for (pos, s) in v.iter().enumerate() {
                let Some((epos, _, vals)) = find(ev, &s.labels) else {
                    return Err(format!(
                        "unexpected metric {} in result, has value {}",
                        s.labels, s.v
                    ));
                };
                if ev.is_ordered() && *epos != pos + 1 {
                    return Err(format!(
                        "expected metric {} at position {epos} but was at {}",
                        s.labels,
                        pos + 1
                    ));
                }
                match vals.first() {
                    Some(SeqValue::Float(f)) if almost_equal(*f, s.v) => {}
                    Some(SeqValue::Omitted) if almost_equal(0.0, s.v) => {}
                    other => {
                        return Err(format!(
                            "expected {other:?} for {} but got {}",
                            s.labels, s.v
                        ))
                    }
                }
            }
            for (_, l, vals) in expected_series(ev) {
                if !v.iter().any(|s| &s.labels == l) {
                    return Err(format!(
                        "expected metric {l} with {vals:?} not found in {v:?}"
                    ));
                }
            }
        }
        Value::Scalar(x) => match ev.expected {
            Expected::Scalar(want) if almost_equal(want, *x) => {}
            Expected::Scalar(want) => return Err(format!("expected scalar {want} but got {x}")),
            Expected::Series(_) => {
                return Err(format!(
                    "expected vector or matrix result, but got scalar {x}"
                ))
            }
        },
        Value::String(s) => return Err(format!("unexpected string result {s:?}")),
    }
    Ok(())
}
