//! Binary operators: arithmetic, comparison (filtering or `bool`), set operators, and vector
//! matching with on/ignoring/group_left/group_right.

use promql_parser::label::Labels as NameList;
use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality};

use super::eval::{check_unique, Evaluator};
use super::value::{exec, QueryError, Sample, Value};
use crate::labels::{FastMap, FastSet, Labels, METRIC_NAME};

fn is_comparison(op: &str) -> bool {
    matches!(op, "==" | "!=" | ">" | "<" | ">=" | "<=")
}

/// Applies `op`; comparisons give the left value and whether the pair is kept.
fn apply(op: &str, l: f64, r: f64) -> Result<(f64, bool), QueryError> {
    Ok(match op {
        "+" => (l + r, true),
        "-" => (l - r, true),
        "*" => (l * r, true),
        "/" => (l / r, true),
        "%" => (l % r, true),
        "^" => (l.powf(r), true),
        "atan2" => (l.atan2(r), true),
        "==" => (l, l == r),
        "!=" => (l, l != r),
        ">" => (l, l > r),
        "<" => (l, l < r),
        ">=" => (l, l >= r),
        "<=" => (l, l <= r),
        other => return exec(format!("operator {other:?} not allowed here")),
    })
}

pub(crate) fn eval(ev: &Evaluator<'_>, b: &BinaryExpr, t: i64) -> Result<Value, QueryError> {
    let op = b.op.to_string();
    let return_bool = b.modifier.as_ref().is_some_and(|m| m.return_bool);
    let lhs = ev.eval(&b.lhs, t)?;
    let rhs = ev.eval(&b.rhs, t)?;
    match (lhs, rhs) {
        (Value::Scalar(l), Value::Scalar(r)) => {
            let (v, keep) = apply(&op, l, r)?;
            Ok(Value::Scalar(if is_comparison(&op) {
                f64::from(u8::from(keep))
            } else {
                v
            }))
        }
        (Value::Vector(l), Value::Scalar(r)) => scalar_op(ev, &op, l, r, false, return_bool, t),
        (Value::Scalar(l), Value::Vector(r)) => scalar_op(ev, &op, r, l, true, return_bool, t),
        (Value::Vector(l), Value::Vector(r)) => {
            let matching = b.modifier.as_ref().and_then(|m| m.matching.clone());
            let card = b
                .modifier
                .as_ref()
                .map(|m| m.card.clone())
                .unwrap_or(VectorMatchCardinality::OneToOne);
            let node = b as *const BinaryExpr as usize;
            let sig = |l: &Labels| ev.derive(node, l, |l| signature(l, &matching));
            let result = |l: &Labels, drop: bool| {
                ev.derive(node + 1 + usize::from(drop), l, |l| {
                    result_labels(l, l, &matching, None, drop)
                })
            };
            match op.as_str() {
                "and" | "or" | "unless" => Ok(Value::Vector(set_op(&op, l, r, &sig))),
                _ => {
                    let m = Matching {
                        on: &matching,
                        card: &card,
                        sig: &sig,
                        result: &result,
                    };
                    vector_op(&op, l, r, &m, return_bool, t).map(Value::Vector)
                }
            }
        }
        (l, r) => exec(format!(
            "binary operator {op} between {} and {}",
            l.type_name(),
            r.type_name()
        )),
    }
}

/// Vector ⊕ scalar (or scalar ⊕ vector when `swapped`). A filtering comparison keeps the
/// vector element's value and name; everything else drops the name.
fn scalar_op(
    ev: &Evaluator<'_>,
    op: &str,
    vec: Vec<Sample>,
    s: f64,
    swapped: bool,
    return_bool: bool,
    t: i64,
) -> Result<Value, QueryError> {
    let cmp = is_comparison(op);
    let mut out = Vec::with_capacity(vec.len());
    for el in vec {
        let (l, r) = if swapped { (s, el.v) } else { (el.v, s) };
        let (mut v, keep) = apply(op, l, r)?;
        if cmp && swapped {
            v = el.v;
        }
        let labels = if !cmp || return_bool {
            ev.drop_name(&el.labels)
        } else {
            el.labels
        };
        if return_bool {
            v = f64::from(u8::from(keep));
        } else if !keep {
            continue;
        }
        out.push(Sample { labels, t, v });
    }
    check_unique(&out)?;
    Ok(Value::Vector(out))
}

/// The labels two sides are matched on.
fn signature(l: &Labels, matching: &Option<LabelModifier>) -> Labels {
    match matching {
        Some(LabelModifier::Include(on)) => l.keep(&on.labels),
        Some(LabelModifier::Exclude(ign)) => {
            let mut names: Vec<&str> = ign.labels.iter().map(String::as_str).collect();
            names.push(METRIC_NAME);
            l.without(&names)
        }
        None => l.without_name(),
    }
}

fn set_op(
    op: &str,
    l: Vec<Sample>,
    r: Vec<Sample>,
    sig: &dyn Fn(&Labels) -> Labels,
) -> Vec<Sample> {
    match op {
        "and" => {
            let rs: FastSet<Labels> = r.iter().map(|s| sig(&s.labels)).collect();
            l.into_iter()
                .filter(|s| rs.contains(&sig(&s.labels)))
                .collect()
        }
        "unless" => {
            let rs: FastSet<Labels> = r.iter().map(|s| sig(&s.labels)).collect();
            l.into_iter()
                .filter(|s| !rs.contains(&sig(&s.labels)))
                .collect()
        }
        _ => {
            let ls: FastSet<Labels> = l.iter().map(|s| sig(&s.labels)).collect();
            let mut out = l;
            out.extend(r.into_iter().filter(|s| !ls.contains(&sig(&s.labels))));
            out
        }
    }
}

/// How two vectors are matched, with the evaluator's memoized derivations.
struct Matching<'a> {
    on: &'a Option<LabelModifier>,
    card: &'a VectorMatchCardinality,
    sig: &'a dyn Fn(&Labels) -> Labels,
    /// One-to-one result labels (they depend on the many side only).
    result: &'a dyn Fn(&Labels, bool) -> Labels,
}

fn vector_op(
    op: &str,
    lhs: Vec<Sample>,
    rhs: Vec<Sample>,
    m: &Matching<'_>,
    return_bool: bool,
    t: i64,
) -> Result<Vec<Sample>, QueryError> {
    let swapped = matches!(m.card, VectorMatchCardinality::OneToMany(_));
    let (many, one) = if swapped { (rhs, lhs) } else { (lhs, rhs) };
    let mut one_side: FastMap<Labels, &Sample> = FastMap::default();
    for s in &one {
        let sig = (m.sig)(&s.labels);
        if let Some(prev) = one_side.insert(sig.clone(), s) {
            return exec(format!(
                "found duplicate series for the match group {sig} on the {} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                if swapped { "left" } else { "right" },
                prev.labels,
                s.labels
            ));
        }
    }
    let include = match m.card {
        VectorMatchCardinality::ManyToOne(l) | VectorMatchCardinality::OneToMany(l) => Some(l),
        _ => None,
    };
    let drop_name = !is_comparison(op) || return_bool;
    // One-to-one: the match groups used; grouped: the result label sets made (which include
    // their match group).
    let mut matched: FastSet<Labels> = FastSet::default();
    let mut out = Vec::new();
    for ls in &many {
        let sig = (m.sig)(&ls.labels);
        let Some(rs) = one_side.get(&sig) else {
            continue;
        };
        let (l, r) = if swapped { (rs.v, ls.v) } else { (ls.v, rs.v) };
        let (mut v, keep) = apply(op, l, r)?;
        if return_bool {
            v = f64::from(u8::from(keep));
        } else if !keep {
            continue;
        }
        let labels = match include {
            None => (m.result)(&ls.labels, drop_name),
            Some(_) => result_labels(&ls.labels, &rs.labels, m.on, include, drop_name),
        };
        if include.is_none() {
            if !matched.insert(sig) {
                return exec("multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)");
            }
        } else if !matched.insert(labels.clone()) {
            return exec("multiple matches for labels: grouping labels must ensure unique matches");
        }
        out.push(Sample { labels, t, v });
    }
    Ok(out)
}

fn result_labels(
    many: &Labels,
    one: &Labels,
    matching: &Option<LabelModifier>,
    include: Option<&NameList>,
    drop_name: bool,
) -> Labels {
    let mut l = if drop_name {
        many.without_name()
    } else {
        many.clone()
    };
    match include {
        None => match matching {
            Some(LabelModifier::Include(on)) => l = l.keep(&on.labels),
            Some(LabelModifier::Exclude(ign)) => l = l.without(&ign.labels),
            None => {}
        },
        Some(names) => {
            for n in &names.labels {
                l.set(n, one.value(n));
            }
        }
    }
    l
}
