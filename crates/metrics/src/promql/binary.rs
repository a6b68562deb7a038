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
        (Value::Vector(l), Value::Scalar(r)) => scalar_op(&op, l, r, false, return_bool, t),
        (Value::Scalar(l), Value::Vector(r)) => scalar_op(&op, r, l, true, return_bool, t),
        (Value::Vector(l), Value::Vector(r)) => {
            let matching = b.modifier.as_ref().and_then(|m| m.matching.clone());
            let card = b
                .modifier
                .as_ref()
                .map(|m| m.card.clone())
                .unwrap_or(VectorMatchCardinality::OneToOne);
            match op.as_str() {
                "and" | "or" | "unless" => Ok(Value::Vector(set_op(&op, l, r, &matching))),
                _ => vector_op(&op, l, r, &matching, &card, return_bool, t).map(Value::Vector),
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
            el.labels.without_name()
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
    matching: &Option<LabelModifier>,
) -> Vec<Sample> {
    match op {
        "and" => {
            let rs: FastSet<Labels> = r.iter().map(|s| signature(&s.labels, matching)).collect();
            l.into_iter()
                .filter(|s| rs.contains(&signature(&s.labels, matching)))
                .collect()
        }
        "unless" => {
            let rs: FastSet<Labels> = r.iter().map(|s| signature(&s.labels, matching)).collect();
            l.into_iter()
                .filter(|s| !rs.contains(&signature(&s.labels, matching)))
                .collect()
        }
        _ => {
            let ls: FastSet<Labels> = l.iter().map(|s| signature(&s.labels, matching)).collect();
            let mut out = l;
            out.extend(
                r.into_iter()
                    .filter(|s| !ls.contains(&signature(&s.labels, matching))),
            );
            out
        }
    }
}

fn vector_op(
    op: &str,
    lhs: Vec<Sample>,
    rhs: Vec<Sample>,
    matching: &Option<LabelModifier>,
    card: &VectorMatchCardinality,
    return_bool: bool,
    t: i64,
) -> Result<Vec<Sample>, QueryError> {
    let swapped = matches!(card, VectorMatchCardinality::OneToMany(_));
    let (many, one) = if swapped { (rhs, lhs) } else { (lhs, rhs) };
    let mut one_side: FastMap<Labels, &Sample> = FastMap::default();
    for s in &one {
        let sig = signature(&s.labels, matching);
        if let Some(prev) = one_side.insert(sig.clone(), s) {
            return exec(format!(
                "found duplicate series for the match group {sig} on the {} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                if swapped { "left" } else { "right" },
                prev.labels,
                s.labels
            ));
        }
    }
    let include = match card {
        VectorMatchCardinality::ManyToOne(l) | VectorMatchCardinality::OneToMany(l) => Some(l),
        _ => None,
    };
    let cmp = is_comparison(op);
    // One-to-one: the match groups used; grouped: the result label sets made (which include
    // their match group).
    let mut matched: FastSet<Labels> = FastSet::default();
    let mut out = Vec::new();
    for ls in &many {
        let sig = signature(&ls.labels, matching);
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
        let labels = result_labels(
            &ls.labels,
            &rs.labels,
            matching,
            include,
            !cmp || return_bool,
        );
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
