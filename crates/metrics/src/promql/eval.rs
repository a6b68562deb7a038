//! The evaluator: instant and range queries over the store, step by step.
//!
//! Before evaluation a pre-pass works out which time range every selector can touch (through
//! offsets, `@` and subqueries) and loads it once; each step then binary-searches those samples.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use promql_parser::parser::{
    self, value::ValueType, AtModifier, Expr, MatrixSelector, Offset, SubqueryExpr, VectorSelector,
};

use super::value::{exec, Notes, QueryError, Sample, Series, Value};
use super::{aggregate, binary, functions};
use crate::labels::{FastMap, FastSet, Labels};
use crate::storage::{is_stale, matcher_sets, SeriesData, Storage};

/// Limits and defaults of query evaluation (Prometheus's defaults).
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// How far back an instant selector looks for a sample.
    pub lookback_ms: i64,
    pub timeout: Duration,
    /// Most samples one query may hold at once.
    pub max_samples: usize,
    /// Step of a subquery written without one (the global evaluation interval).
    pub subquery_step_ms: i64,
    /// Most points per series a range query may ask for.
    pub max_points: i64,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_ms: 5 * 60 * 1000,
            timeout: Duration::from_secs(120),
            max_samples: 50_000_000,
            subquery_step_ms: 60_000,
            max_points: 11_000,
        }
    }
}

/// The query engine over one store.
#[derive(Clone, Debug)]
pub struct Engine {
    storage: Arc<Storage>,
    opts: EngineOptions,
}

/// Parses a query; a syntax error is `bad_data`.
pub fn parse(q: &str) -> Result<Expr, QueryError> {
    parser::parse(q).map_err(|e| QueryError::BadData(format!("parse error: {e}")))
}

impl Engine {
    pub fn new(storage: Arc<Storage>, opts: EngineOptions) -> Self {
        Engine { storage, opts }
    }

    pub fn storage(&self) -> &Arc<Storage> {
        &self.storage
    }

    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// Changes the query timeout (the API's `timeout` parameter).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.opts.timeout = timeout;
    }

    /// Evaluates `q` at `t` (ms).
    pub fn instant(&self, q: &str, t: i64) -> Result<Value, QueryError> {
        self.instant_expr(&parse(q)?, t)
    }

    /// Evaluates a parsed query at `t` (ms).
    pub fn instant_expr(&self, expr: &Expr, t: i64) -> Result<Value, QueryError> {
        self.instant_noted(expr, t).map(|(v, _)| v)
    }

    /// Evaluates a parsed query at `t` (ms), with its annotations.
    pub fn instant_noted(&self, expr: &Expr, t: i64) -> Result<(Value, Notes), QueryError> {
        let ev = Evaluator::new(self, expr, t, t, 0);
        let v = ev.eval(expr, t)?;
        Ok((v, ev.notes.take()))
    }

    /// Evaluates `q` at every step from `start` to `end` (ms); the result is sorted by labels.
    pub fn range(
        &self,
        q: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<Vec<Series>, QueryError> {
        self.range_expr(&parse(q)?, start, end, step)
    }

    /// Evaluates a parsed query at every step from `start` to `end` (ms).
    pub fn range_expr(
        &self,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<Vec<Series>, QueryError> {
        self.range_noted(expr, start, end, step).map(|(m, _)| m)
    }

    /// A range query with its annotations.
    pub fn range_noted(
        &self,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<(Vec<Series>, Notes), QueryError> {
        if step <= 0 {
            return Err(QueryError::BadData(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        if end < start {
            return Err(QueryError::BadData(
                "end timestamp must not be before start time".into(),
            ));
        }
        if (i128::from(end) - i128::from(start)) / i128::from(step)
            >= i128::from(self.opts.max_points)
        {
            return Err(QueryError::BadData(format!(
                "exceeded maximum resolution of {} points per timeseries. Try decreasing the query resolution (?step=XX)",
                group_thousands(self.opts.max_points)
            )));
        }
        match expr.value_type() {
            ValueType::Vector | ValueType::Scalar => {}
            other => {
                return Err(QueryError::BadData(format!(
                "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                type_label(other)
            )))
            }
        }
        let ev = Evaluator::new(self, expr, start, end, step);
        let mut out: FastMap<Labels, Vec<(i64, f64)>> = FastMap::default();
        let mut held = 0usize;
        let mut t = start;
        while t <= end {
            ev.samples.set(held);
            match ev.eval(expr, t)? {
                Value::Scalar(v) => {
                    out.entry(Labels::default()).or_default().push((t, v));
                    held += 1;
                }
                Value::Vector(vec) => {
                    check_unique(&vec)?;
                    held += vec.len();
                    for s in vec {
                        out.entry(s.labels).or_default().push((t, s.v));
                    }
                }
                other => return exec(format!("unexpected {} in range query", other.type_name())),
            }
            ev.tick(0)?;
            match t.checked_add(step) {
                Some(next) => t = next,
                None => break,
            }
        }
        let mut series: Vec<Series> = out
            .into_iter()
            .map(|(labels, points)| Series { labels, points })
            .collect();
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok((series, ev.notes.take()))
    }
}

fn type_label(t: ValueType) -> &'static str {
    match t {
        ValueType::Matrix => "range vector",
        ValueType::String => "string",
        ValueType::Scalar => "scalar",
        ValueType::Vector => "instant vector",
    }
}

fn group_thousands(n: i64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Refuses a vector holding two samples with one label set (Prometheus's rule).
pub(crate) fn check_unique(v: &[Sample]) -> Result<(), QueryError> {
    if v.len() < 2 {
        return Ok(());
    }
    let mut seen = FastSet::default();
    seen.reserve(v.len());
    for s in v {
        if !seen.insert(&s.labels) {
            return exec("vector cannot contain metrics with the same labelset");
        }
    }
    Ok(())
}

pub(crate) fn millis(d: &Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn offset_ms(o: &Option<Offset>) -> i64 {
    match o {
        None => 0,
        Some(Offset::Pos(d)) => millis(d),
        Some(Offset::Neg(d)) => -millis(d),
    }
}

fn system_ms(t: &SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => millis(&d),
        Err(e) => -millis(&e.duration()),
    }
}

fn key(vs: &VectorSelector) -> usize {
    vs as *const VectorSelector as usize
}

/// One query's evaluation state.
pub(crate) struct Evaluator<'a> {
    opts: &'a EngineOptions,
    start: i64,
    end: i64,
    deadline: Instant,
    data: FastMap<usize, Arc<Vec<SeriesData>>>,
    /// Samples held by the current step (for the max-samples limit).
    samples: Cell<usize>,
    /// Label sets derived from a series' labels at one node (grouping keys, match signatures,
    /// name dropping), kept across steps: a series' label set is the same shared value at
    /// every step, so each is computed once per query.
    derived: RefCell<FastMap<(usize, Labels), Labels>>,
    /// Per selector (and bound) and series: how many samples lay at or before the time last
    /// asked. Steps move forward, so the next answer is usually a few samples on.
    cursors: RefCell<FastMap<(usize, u8), Vec<usize>>>,
    /// Warnings and infos met so far.
    pub(crate) notes: RefCell<Notes>,
}

/// How many of `samples` lie at or before `t`, starting from the previous answer `hint`.
fn count_upto(samples: &[(i64, f64)], hint: usize, t: i64) -> usize {
    let mut i = hint.min(samples.len());
    if i > 0 && samples[i - 1].0 > t {
        return samples.partition_point(|(st, _)| *st <= t);
    }
    for _ in 0..8 {
        match samples.get(i) {
            Some((st, _)) if *st <= t => i += 1,
            _ => return i,
        }
    }
    i + samples[i..].partition_point(|(st, _)| *st <= t)
}

impl<'a> Evaluator<'a> {
    fn new(engine: &'a Engine, expr: &Expr, start: i64, end: i64, _step: i64) -> Self {
        let mut ev = Evaluator {
            opts: &engine.opts,
            start,
            end,
            deadline: Instant::now() + engine.opts.timeout,
            data: FastMap::default(),
            samples: Cell::new(0),
            derived: RefCell::default(),
            cursors: RefCell::default(),
            notes: RefCell::default(),
        };
        let mut ranges = Vec::new();
        ev.plan(expr, start, end, &mut ranges);
        // Selectors written the same way over the same range (`a / (a + b)`) load once.
        let mut loaded: FastMap<(String, i64, i64), Arc<Vec<SeriesData>>> = FastMap::default();
        for (vs, mint, maxt) in ranges {
            let text = format!("{}|{}", vs.name.as_deref().unwrap_or(""), vs.matchers);
            let same = (text, mint, maxt);
            if let Some(d) = loaded.get(&same) {
                ev.data.insert(key(vs), d.clone());
                continue;
            }
            let sets = matcher_sets(vs);
            let mut series: Vec<SeriesData> = Vec::new();
            for set in &sets {
                series.extend(engine.storage.select(set, mint, maxt));
            }
            if sets.len() > 1 {
                // `or` matcher sets may select a series twice.
                series.sort_by(|a, b| a.labels.cmp(&b.labels));
                series.dedup_by(|a, b| a.labels == b.labels);
            }
            let series = Arc::new(series);
            loaded.insert(same, series.clone());
            ev.data.insert(key(vs), series);
        }
        ev
    }

    /// `f(l)`, remembered for `node` (any stable address identifying the derivation).
    pub(crate) fn derive(
        &self,
        node: usize,
        l: &Labels,
        f: impl FnOnce(&Labels) -> Labels,
    ) -> Labels {
        let k = (node, l.clone());
        if let Some(v) = self.derived.borrow().get(&k) {
            return v.clone();
        }
        let v = f(l);
        self.derived.borrow_mut().insert(k, v.clone());
        v
    }

    /// The label set without its metric name.
    pub(crate) fn drop_name(&self, l: &Labels) -> Labels {
        if crate::labels::METADATA_LABELS
            .iter()
            .all(|n| l.get(n).is_none())
        {
            return l.clone();
        }
        self.derive(0, l, Labels::without_name)
    }

    /// The reference time of a selector or subquery evaluated at `t`.
    fn ref_time(&self, t: i64, at: &Option<AtModifier>, offset: &Option<Offset>) -> i64 {
        let base = match at {
            None => t,
            Some(AtModifier::Start) => self.start,
            Some(AtModifier::End) => self.end,
            Some(AtModifier::At(st)) => system_ms(st),
        };
        base.saturating_sub(offset_ms(offset))
    }

    /// Collects the time range each selector reads when `e` is evaluated over [start, end].
    fn plan<'e>(
        &self,
        e: &'e Expr,
        start: i64,
        end: i64,
        out: &mut Vec<(&'e VectorSelector, i64, i64)>,
    ) {
        let span = |at: &Option<AtModifier>, off: &Option<Offset>, back: i64| {
            (
                self.ref_time(start, at, off).saturating_sub(back),
                self.ref_time(end, at, off),
            )
        };
        match e {
            Expr::VectorSelector(vs) => {
                let (a, b) = span(&vs.at, &vs.offset, self.opts.lookback_ms);
                out.push((vs, a, b));
            }
            Expr::MatrixSelector(MatrixSelector { vs, range }) => {
                let (a, b) = span(&vs.at, &vs.offset, millis(range));
                out.push((vs, a, b));
            }
            Expr::Subquery(sq) => {
                let (a, b) = span(&sq.at, &sq.offset, millis(&sq.range));
                self.plan(&sq.expr, a, b, out);
            }
            Expr::Aggregate(a) => {
                self.plan(&a.expr, start, end, out);
                if let Some(p) = &a.param {
                    self.plan(p, start, end, out);
                }
            }
            Expr::Unary(u) => self.plan(&u.expr, start, end, out),
            Expr::Binary(b) => {
                self.plan(&b.lhs, start, end, out);
                self.plan(&b.rhs, start, end, out);
            }
            Expr::Paren(p) => self.plan(&p.expr, start, end, out),
            Expr::Call(c) => {
                for a in &c.args.args {
                    self.plan(a, start, end, out);
                }
            }
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
        }
    }

    fn tick(&self, n: usize) -> Result<(), QueryError> {
        let held = self.samples.get() + n;
        self.samples.set(held);
        if held > self.opts.max_samples {
            return exec(
                "query processing would load too many samples into memory in query execution",
            );
        }
        if Instant::now() > self.deadline {
            return Err(QueryError::Timeout(
                "query timed out in expression evaluation".into(),
            ));
        }
        Ok(())
    }

    pub(crate) fn eval(&self, e: &Expr, t: i64) -> Result<Value, QueryError> {
        match e {
            Expr::NumberLiteral(n) => Ok(Value::Scalar(n.val)),
            Expr::StringLiteral(s) => Ok(Value::String(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr, t),
            Expr::Unary(u) => Ok(match self.eval(&u.expr, t)? {
                Value::Scalar(v) => Value::Scalar(-v),
                Value::Vector(v) => {
                    let out: Vec<Sample> = v
                        .into_iter()
                        .map(|s| Sample {
                            labels: self.drop_name(&s.labels),
                            t,
                            v: -s.v,
                        })
                        .collect();
                    check_unique(&out)?;
                    Value::Vector(out)
                }
                other => return exec(format!("unary minus on {}", other.type_name())),
            }),
            Expr::VectorSelector(vs) => Ok(Value::Vector(self.instant_selector(vs, t)?)),
            Expr::MatrixSelector(ms) => Ok(Value::Matrix(self.range_selector(ms, t)?.0)),
            Expr::Subquery(sq) => Ok(Value::Matrix(self.subquery(sq, t)?.0)),
            Expr::Aggregate(a) => aggregate::eval(self, a, t),
            Expr::Binary(b) => binary::eval(self, b, t),
            Expr::Call(c) => functions::call(self, c, t),
            Expr::Extension(_) => exec("extension expressions are not supported"),
        }
    }

    /// The latest sample of each series within the lookback, unless it is a staleness marker.
    pub(crate) fn instant_selector(
        &self,
        vs: &VectorSelector,
        t: i64,
    ) -> Result<Vec<Sample>, QueryError> {
        let rt = self.ref_time(t, &vs.at, &vs.offset);
        let series = self.data.get(&key(vs)).map(|d| d.as_slice()).unwrap_or(&[]);
        let mut cursors = self.cursors.borrow_mut();
        let cur = cursors
            .entry((key(vs), 0))
            .or_insert_with(|| vec![0; series.len()]);
        let mut out = Vec::new();
        for (s, c) in series.iter().zip(cur.iter_mut()) {
            let i = count_upto(&s.samples, *c, rt);
            *c = i;
            if i == 0 {
                continue;
            }
            let (st, v) = s.samples[i - 1];
            if st > rt - self.opts.lookback_ms && !is_stale(v) {
                out.push(Sample {
                    labels: s.labels.clone(),
                    t: st,
                    v,
                });
            }
        }
        self.tick(out.len())?;
        Ok(out)
    }

    /// The samples of each series in (ref - range, ref], without staleness markers; also the
    /// window's bounds, which rate extrapolation needs.
    pub(crate) fn range_selector(
        &self,
        ms: &MatrixSelector,
        t: i64,
    ) -> Result<(Vec<Series>, i64, i64), QueryError> {
        let vs = &ms.vs;
        let end = self.ref_time(t, &vs.at, &vs.offset);
        let start = end.saturating_sub(millis(&ms.range));
        let series = self.data.get(&key(vs)).map(|d| d.as_slice()).unwrap_or(&[]);
        let mut cursors = self.cursors.borrow_mut();
        let mut lo_cur = cursors
            .remove(&(key(vs), 1))
            .unwrap_or_else(|| vec![0; series.len()]);
        let hi_cur = cursors
            .entry((key(vs), 2))
            .or_insert_with(|| vec![0; series.len()]);
        let mut out = Vec::new();
        let mut n = 0;
        for (k, s) in series.iter().enumerate() {
            let lo = count_upto(&s.samples, lo_cur[k], start);
            let hi = count_upto(&s.samples, hi_cur[k], end);
            lo_cur[k] = lo;
            hi_cur[k] = hi;
            let points: Vec<(i64, f64)> = s.samples[lo..hi]
                .iter()
                .filter(|(_, v)| !is_stale(*v))
                .copied()
                .collect();
            if !points.is_empty() {
                n += points.len();
                out.push(Series {
                    labels: s.labels.clone(),
                    points,
                });
            }
        }
        cursors.insert((key(vs), 1), lo_cur);
        drop(cursors);
        self.tick(n)?;
        Ok((out, start, end))
    }

    /// Evaluates the inner expression at step-aligned times in (ref - range, ref].
    pub(crate) fn subquery(
        &self,
        sq: &SubqueryExpr,
        t: i64,
    ) -> Result<(Vec<Series>, i64, i64), QueryError> {
        let end = self.ref_time(t, &sq.at, &sq.offset);
        let start = end.saturating_sub(millis(&sq.range));
        let step = sq
            .step
            .as_ref()
            .map(millis)
            .unwrap_or(self.opts.subquery_step_ms)
            .max(1);
        let mut ts = start.div_euclid(step).saturating_mul(step);
        if ts <= start {
            ts = ts.saturating_add(step);
        }
        let mut out: Vec<Series> = Vec::new();
        let mut pos: FastMap<Labels, usize> = FastMap::default();
        while ts <= end {
            let samples = match self.eval(&sq.expr, ts)? {
                Value::Scalar(v) => vec![Sample {
                    labels: Labels::default(),
                    t: ts,
                    v,
                }],
                Value::Vector(v) => v,
                other => return exec(format!("subquery over {}", other.type_name())),
            };
            for s in samples {
                let i = *pos.entry(s.labels.clone()).or_insert_with(|| {
                    out.push(Series {
                        labels: s.labels,
                        points: Vec::new(),
                    });
                    out.len() - 1
                });
                out[i].points.push((ts, s.v));
            }
            // Subquery points are held samples too, and a selector-free inner expression
            // would otherwise never look at the clock.
            self.tick(out.len())?;
            match ts.checked_add(step) {
                Some(next) => ts = next,
                None => break,
            }
        }
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok((out, start, end))
    }

    /// A range-vector argument: a matrix selector or subquery, with its window.
    pub(crate) fn range_arg(
        &self,
        e: &Expr,
        t: i64,
    ) -> Result<(Vec<Series>, i64, i64), QueryError> {
        match e {
            Expr::MatrixSelector(ms) => self.range_selector(ms, t),
            Expr::Subquery(sq) => self.subquery(sq, t),
            Expr::Paren(p) => self.range_arg(&p.expr, t),
            _ => exec("expected a range vector argument"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::count_upto;

    #[test]
    fn cursor_answers_like_a_binary_search_from_any_hint() {
        let samples: Vec<(i64, f64)> = (0..50).map(|i| (i * 10, 0.0)).collect();
        for t in [-5, 0, 5, 10, 95, 200, 489, 490, 1000] {
            let want = samples.partition_point(|(st, _)| *st <= t);
            for hint in [0, 1, 7, 20, 49, 50, 80] {
                assert_eq!(count_upto(&samples, hint, t), want, "t={t} hint={hint}");
            }
        }
        assert_eq!(count_upto(&[], 3, 5), 0);
    }
}
