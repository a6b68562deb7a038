//! Classic histograms (series of `_bucket{le="…"}` counters): `histogram_quantile` and
//! `histogram_fraction` as Prometheus 3's `promql/quantile.go` computes them.

use super::value::Sample;
use crate::labels::Labels;

/// Counts that differ by less than this (relatively) are treated as equal.
const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

/// The buckets of each histogram in `v`: series grouped by all labels but `le` (the metric name
/// included, so two histograms of different names stay apart and then collide in the result,
/// as in Prometheus). The caller drops the name, type and unit from the result.
fn classic_groups(v: Vec<Sample>) -> Vec<(Labels, Vec<(f64, f64)>)> {
    let mut groups: Vec<(Labels, Vec<(f64, f64)>)> = Vec::new();
    for s in v {
        let Some(le) = s.labels.get("le").and_then(|x| x.parse::<f64>().ok()) else {
            continue;
        };
        let key = s.labels.without(&["le"]);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, b)) => b.push((le, s.v)),
            None => groups.push((key, vec![(le, s.v)])),
        }
    }
    groups
}

/// The quantile of each histogram, and the names of those whose counts had to be made
/// monotonic (an info annotation in Prometheus).
pub(crate) fn quantile(q: f64, v: Vec<Sample>, t: i64) -> (Vec<Sample>, Vec<String>) {
    let mut fixed = Vec::new();
    let out = classic_groups(v)
        .into_iter()
        .map(|(labels, buckets)| {
            let (v, forced) = bucket_quantile(q, buckets);
            if forced {
                fixed.push(labels.name().unwrap_or("").to_string());
            }
            Sample {
                labels: labels.without_name(),
                t,
                v,
            }
        })
        .collect();
    (out, fixed)
}

pub(crate) fn fraction(lo: f64, hi: f64, v: Vec<Sample>, t: i64) -> Vec<Sample> {
    classic_groups(v)
        .into_iter()
        .map(|(labels, buckets)| Sample {
            labels: labels.without_name(),
            t,
            v: bucket_fraction(lo, hi, buckets),
        })
        .collect()
}

/// Sorts by upper bound and merges buckets with the same bound; `None` without a `+Inf` bucket.
fn coalesce(mut b: Vec<(f64, f64)>) -> Option<Vec<(f64, f64)>> {
    b.sort_by(|x, y| x.0.partial_cmp(&y.0).unwrap_or(std::cmp::Ordering::Equal));
    if b.last().is_none_or(|l| l.0 != f64::INFINITY) {
        return None;
    }
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(b.len());
    for (ub, c) in b {
        match merged.last_mut() {
            Some(last) if last.0 == ub => last.1 += c,
            _ => merged.push((ub, c)),
        }
    }
    Some(merged)
}

/// Prometheus's `ensureMonotonicAndIgnoreSmallDeltas`: a count below (or insignificantly
/// above) its predecessor takes the predecessor's value; true when one was below.
fn make_monotonic(b: &mut [(f64, f64)]) -> bool {
    let Some(first) = b.first() else {
        return false;
    };
    let mut forced = false;
    let mut prev = first.1;
    for x in b.iter_mut().skip(1) {
        let curr = x.1;
        if curr == prev {
            continue;
        }
        if almost_equal(prev, curr, SMALL_DELTA_TOLERANCE) {
            x.1 = prev;
            continue;
        }
        if curr < prev {
            x.1 = prev;
            forced = true;
            continue;
        }
        prev = curr;
    }
    forced
}

/// `util/almost.Equal`.
pub(crate) fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < epsilon * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

/// Prometheus's `BucketQuantile`: linear interpolation inside the bucket holding the rank; true
/// when the counts had to be made monotonic.
pub(crate) fn bucket_quantile(q: f64, b: Vec<(f64, f64)>) -> (f64, bool) {
    if q.is_nan() {
        return (f64::NAN, false);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, false);
    }
    if q > 1.0 {
        return (f64::INFINITY, false);
    }
    let Some(mut merged) = coalesce(b) else {
        return (f64::NAN, false);
    };
    let forced = make_monotonic(&mut merged);
    if merged.len() < 2 {
        return (f64::NAN, false);
    }
    let total = merged[merged.len() - 1].1;
    if total == 0.0 {
        return (f64::NAN, false);
    }
    let mut rank = q * total;
    let i = merged[..merged.len() - 1].partition_point(|(_, c)| *c < rank);
    if i >= merged.len() - 1 {
        return (merged[merged.len() - 2].0, forced);
    }
    if i == 0 && merged[0].0 <= 0.0 {
        return (merged[0].0, forced);
    }
    let (mut lo, hi, mut count) = (0.0, merged[i].0, merged[i].1);
    if i > 0 {
        lo = merged[i - 1].0;
        count -= merged[i - 1].1;
        rank -= merged[i - 1].1;
    }
    (lo + (hi - lo) * (rank / count), forced)
}

/// Prometheus's `BucketFraction`: the share of observations between `lower` and `upper`,
/// interpolating linearly inside the buckets the two fall in.
pub(crate) fn bucket_fraction(lower: f64, upper: f64, b: Vec<(f64, f64)>) -> f64 {
    let Some(buckets) = coalesce(b) else {
        return f64::NAN;
    };
    let count = buckets[buckets.len() - 1].1;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, None, None);
    for (i, &(upper_bound, bucket_count)) in buckets.iter().enumerate() {
        let lower_bound = if i > 0 {
            buckets[i - 1].0
        } else {
            f64::NEG_INFINITY
        };
        let interpolate =
            |v: f64| rank + (bucket_count - rank) * (v - lower_bound) / (upper_bound - lower_bound);
        if lower_rank.is_none() && lower_bound >= lower {
            lower_rank = Some(rank);
        }
        if upper_rank.is_none() && lower_bound >= upper {
            upper_rank = Some(rank);
        }
        if lower_rank.is_some() && upper_rank.is_some() {
            break;
        }
        if lower_rank.is_none() && lower_bound < lower && upper_bound > lower {
            lower_rank = Some(interpolate(lower));
        }
        if upper_rank.is_none() && lower_bound < upper && upper_bound > upper {
            upper_rank = Some(interpolate(upper));
        }
        if lower_rank.is_some() && upper_rank.is_some() {
            break;
        }
        rank = bucket_count;
    }
    let lower_rank = lower_rank.filter(|r| *r <= count).unwrap_or(count);
    let upper_rank = upper_rank.filter(|r| *r <= count).unwrap_or(count);
    (upper_rank - lower_rank) / count
}
