//! Parser of Prometheus's PromQL test language (`promql/promqltest/test.go` of Prometheus 3.5):
//! `load[_with_nhcb] STEP`, `clear`, `eval[_fail|_warn|_info|_ordered] instant [at T] EXPR`,
//! `eval[_fail|_warn|_info] range from T to T step S EXPR`, `expect fail|warn|no_warn|info|no_info|
//! ordered [msg:|regex: …]`, `expected_fail_message`, `expected_fail_regexp`, and the series
//! notation `name{labels} 1+2x3 _ stale _x2 {{histogram}}`.

use deskd_metrics::labels::Labels;
use deskd_metrics::storage::stale_nan;
use deskd_metrics::text;

/// One value of a series description.
#[derive(Clone, Debug, PartialEq)]
pub enum SeqValue {
    Float(f64),
    /// `_`: no sample at this step.
    Omitted,
    /// A native histogram in `{{…}}` notation, kept as written.
    Histogram(String),
}

#[derive(Clone, Debug)]
pub struct SeriesDef {
    pub labels: Labels,
    pub values: Vec<SeqValue>,
}

#[derive(Clone, Debug)]
pub enum Command {
    Clear,
    Load {
        step_ms: i64,
        nhcb: bool,
        series: Vec<SeriesDef>,
    },
    Eval(Box<Eval>),
    /// An `eval` (a case) or `load` that did not parse, with why.
    BadEval(String),
    BadLoad(String),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Instant(i64),
    Range { start: i64, end: i64, step: i64 },
}

/// A message expectation: exact text or a regular expression.
#[derive(Clone, Debug)]
pub enum Matcher {
    Exact(String),
    Regex(regex::Regex),
}

impl Matcher {
    pub fn matches(&self, s: &str) -> bool {
        match self {
            Matcher::Exact(m) => m == s,
            Matcher::Regex(r) => r.is_match(s),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Expect {
    Ordered,
    Fail,
    Warn,
    NoWarn,
    Info,
    NoInfo,
}

/// What an `eval` expects: a scalar, or series (with their 1-based position) and values.
#[derive(Clone, Debug)]
pub enum Expected {
    Scalar(f64),
    Series(Vec<(usize, Labels, Vec<SeqValue>)>),
}

#[derive(Clone, Debug)]
pub struct Eval {
    pub expr: String,
    pub kind: Kind,
    pub ordered: bool,
    pub fail: bool,
    pub warn: bool,
    pub info: bool,
    pub fail_message: Option<Matcher>,
    pub expects: Vec<(Expect, Matcher)>,
    pub expected: Expected,
    /// deskd's own files: an instant case may expect a range vector's points.
    pub lenient: bool,
}

impl Eval {
    pub fn is_ordered(&self) -> bool {
        self.ordered || self.expects.iter().any(|(e, _)| *e == Expect::Ordered)
    }

    pub fn is_fail(&self) -> bool {
        self.fail || self.expects.iter().any(|(e, _)| *e == Expect::Fail)
    }

    /// Whether the expected result holds a native histogram.
    pub fn expects_histogram(&self) -> bool {
        match &self.expected {
            Expected::Scalar(_) => false,
            Expected::Series(s) => s
                .iter()
                .any(|(_, _, v)| v.iter().any(|x| matches!(x, SeqValue::Histogram(_)))),
        }
    }
}

/// Commands with the (1-based) line each starts on.
/// With `lenient` (deskd's own files), an instant case may list several values (a range
/// vector's points) and a range case may end before it starts (to expect the error).
pub fn parse(src: &str, lenient: bool) -> Result<Vec<(usize, Command)>, String> {
    let lines: Vec<&str> = src
        .split('\n')
        .map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                ""
            } else {
                l
            }
        })
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if l.is_empty() {
            i += 1;
            continue;
        }
        let start = i;
        let body_end = lines[i + 1..]
            .iter()
            .position(|l| l.is_empty())
            .map(|p| i + 1 + p)
            .unwrap_or(lines.len());
        let body = &lines[i + 1..body_end];
        let word = l.split([' ', '\t']).next().unwrap_or("").to_lowercase();
        if word == "clear" {
            out.push((start + 1, Command::Clear));
            i += 1;
            continue;
        }
        let cmd = if word.starts_with("load") {
            parse_load(l, body).unwrap_or_else(Command::BadLoad)
        } else if word.starts_with("eval") {
            parse_eval(l, body, lenient)
                .map(|e| Command::Eval(Box::new(e)))
                .unwrap_or_else(Command::BadEval)
        } else {
            return Err(format!("line {}: invalid command {l:?}", start + 1));
        };
        out.push((start + 1, cmd));
        i = body_end;
    }
    Ok(out)
}

fn parse_load(line: &str, body: &[&str]) -> Result<Command, String> {
    let (head, step) = line.split_once([' ', '\t']).ok_or("load needs a step")?;
    let nhcb = match head {
        "load" => false,
        "load_with_nhcb" => true,
        _ => return Err(format!("invalid load command {head:?}")),
    };
    let series = body
        .iter()
        .map(|l| series_def(l))
        .collect::<Result<_, _>>()?;
    Ok(Command::Load {
        step_ms: duration_ms(step.trim())?,
        nhcb,
        series,
    })
}

fn parse_eval(line: &str, body: &[&str], lenient: bool) -> Result<Eval, String> {
    let (head, rest) = line.split_once([' ', '\t']).ok_or("eval needs a query")?;
    let modifier = head.strip_prefix("eval").unwrap_or("");
    let rest = rest.trim_start();
    let (kind, expr) = if let Some(r) = rest.strip_prefix("instant") {
        let r = r.trim_start();
        match r.strip_prefix("at ") {
            Some(r) => {
                let r = r.trim_start();
                let (t, expr) = r.split_once([' ', '\t']).ok_or("missing query")?;
                (Kind::Instant(duration_ms(t)?), expr.trim())
            }
            None => (Kind::Instant(0), r),
        }
    } else if let Some(r) = rest.strip_prefix("range from ") {
        let w: Vec<&str> = r.trim_start().splitn(6, ' ').collect();
        if w.len() != 6 || w[1] != "to" || w[3] != "step" {
            return Err("expected: range from T to T step S EXPR".into());
        }
        let (start, end, step) = (duration_ms(w[0])?, duration_ms(w[2])?, duration_ms(w[4])?);
        if end < start && !lenient {
            return Err("end timestamp is before start timestamp".into());
        }
        (Kind::Range { start, end, step }, w[5].trim())
    } else {
        return Err("expected 'instant' or 'range from'".into());
    };
    let mut ev = Eval {
        expr: expr.to_string(),
        kind,
        ordered: modifier == "_ordered",
        fail: modifier == "_fail",
        warn: modifier == "_warn",
        info: modifier == "_info",
        fail_message: None,
        expects: Vec::new(),
        expected: Expected::Series(Vec::new()),
        lenient,
    };
    if !["", "_ordered", "_fail", "_warn", "_info"].contains(&modifier)
        || (ev.ordered && matches!(kind, Kind::Range { .. }))
    {
        return Err(format!("invalid eval modifier {head:?}"));
    }
    let mut series = Vec::new();
    for l in body {
        if ev.fail {
            if let Some(m) = l.strip_prefix("expected_fail_message") {
                ev.fail_message = Some(Matcher::Exact(m.trim().to_string()));
                break;
            }
            if let Some(r) = l.strip_prefix("expected_fail_regexp") {
                let re = regex::Regex::new(r.trim()).map_err(|e| e.to_string())?;
                ev.fail_message = Some(Matcher::Regex(re));
                break;
            }
        }
        if l.split(' ').next() == Some("expect") {
            ev.expects.push(expect_line(l)?);
            continue;
        }
        if let Ok(v) = number(l) {
            ev.expected = Expected::Scalar(v);
            return Ok(ev);
        }
        let def = series_def(l)?;
        if def.values.len() > 1 && matches!(kind, Kind::Instant(_)) && !lenient {
            return Err("expecting multiple values in instant evaluation not allowed".into());
        }
        series.push((series.len() + 1, def.labels, def.values));
    }
    ev.expected = Expected::Series(series);
    Ok(ev)
}

fn expect_line(l: &str) -> Result<(Expect, Matcher), String> {
    let rest = l["expect".len()..].trim();
    let (kind, tail) = rest.split_once(' ').unwrap_or((rest, ""));
    let kind = match kind {
        "ordered" => Expect::Ordered,
        "fail" => Expect::Fail,
        "warn" => Expect::Warn,
        "no_warn" => Expect::NoWarn,
        "info" => Expect::Info,
        "no_info" => Expect::NoInfo,
        _ => return Err(format!("invalid expect type {kind:?}")),
    };
    let tail = tail.trim();
    let m = if let Some(m) = tail.strip_prefix("msg:") {
        Matcher::Exact(m.trim().to_string())
    } else if let Some(r) = tail.strip_prefix("regex:") {
        Matcher::Regex(regex::Regex::new(r.trim()).map_err(|e| e.to_string())?)
    } else if tail.is_empty() {
        Matcher::Regex(regex::Regex::new("^.*$").map_err(|e| e.to_string())?)
    } else {
        return Err(format!("invalid expect line {l:?}"));
    };
    Ok((kind, m))
}

/// A test-file time: a Prometheus duration (`1h5m`, `0s`, units y w d h m s ms) or plain
/// seconds; in ms.
pub fn duration_ms(s: &str) -> Result<i64, String> {
    if let Ok(secs) = s.parse::<f64>() {
        return Ok((secs * 1000.0).round() as i64);
    }
    let bad = || format!("bad duration {s:?}");
    let mut rest = s;
    let mut total = 0i64;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let n: i64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let ms = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "y" => 365 * 86_400_000,
            _ => return Err(bad()),
        };
        total += n * ms;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// A number as Go's `strconv` reads it in the test files (ints in any base, floats, Inf, NaN).
pub fn number(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        let v = i64::from_str_radix(hex, 16).map_err(|e| e.to_string())? as f64;
        return Ok(if neg { -v } else { v });
    }
    let lower = body.to_ascii_lowercase();
    if !["inf", "infinity", "nan"].contains(&lower.as_str())
        && !body.starts_with(|c: char| c.is_ascii_digit() || c == '.')
    {
        return Err(format!("not a number: {s:?}"));
    }
    let v = text::parse_value(body)?;
    Ok(if neg { -v } else { v })
}

/// A `name{labels} values…` line.
pub fn series_def(line: &str) -> Result<SeriesDef, String> {
    let line = line.trim();
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(line.len());
    // A bare name followed by blanks has no braces: `name {{histogram}}` is not `name{labels}`.
    let (labels, rest) = if name_end > 0 && line[name_end..].starts_with(char::is_whitespace) {
        (text::series(&line[..name_end], true)?.0, &line[name_end..])
    } else {
        text::series(line, false)?
    };
    let mut values = Vec::new();
    for tok in tokens(rest) {
        expand(&tok, &mut values)?;
    }
    Ok(SeriesDef { labels, values })
}

/// Splits a value sequence at blanks outside `{{…}}`.
fn tokens(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0i32;
    for c in s.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if c.is_whitespace() && depth == 0 {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Expands one token: `_`, `stale`, `N`, `_xN`, `a+bxN`, `a-bxN`, `axN` (N+1 values), or a
/// histogram `{{…}}` with the same repetition forms.
fn expand(tok: &str, out: &mut Vec<SeqValue>) -> Result<(), String> {
    if tok.starts_with("{{") {
        let reps = match tok.rfind("}}x") {
            Some(i) => {
                tok[i + 3..]
                    .parse::<usize>()
                    .map_err(|e| format!("{tok}: {e}"))?
                    + 1
            }
            None => 1,
        };
        out.extend(std::iter::repeat_n(
            SeqValue::Histogram(tok.to_string()),
            reps,
        ));
        return Ok(());
    }
    match tok {
        "_" => out.push(SeqValue::Omitted),
        "stale" => out.push(SeqValue::Float(stale_nan())),
        _ => match tok
            .rsplit_once('x')
            .filter(|(b, n)| !b.is_empty() && n.parse::<usize>().is_ok())
        {
            Some((base, n)) => {
                let n: usize = n.parse().map_err(|e| format!("{tok}: {e}"))?;
                if base == "_" {
                    out.extend(std::iter::repeat_n(SeqValue::Omitted, n));
                    return Ok(());
                }
                let split = base
                    .char_indices()
                    .skip(1)
                    .find(|(i, c)| (*c == '+' || *c == '-') && !base[..*i].ends_with(['e', 'E']))
                    .map(|(i, _)| i);
                let (start, inc) = match split {
                    Some(i) => (number(&base[..i])?, number(&base[i..])?),
                    None => (number(base)?, 0.0),
                };
                let mut v = start;
                for _ in 0..=n {
                    out.push(SeqValue::Float(v));
                    v += inc;
                }
            }
            None => out.push(SeqValue::Float(number(tok)?)),
        },
    }
    Ok(())
}

#[test]
fn value_notation() {
    let mut v = Vec::new();
    for t in [
        "1+2x2",
        "_",
        "stale",
        "-1-1x1",
        "_x2",
        "3x1",
        "1e3",
        "{{schema:0 sum:1}}x1",
    ] {
        expand(t, &mut v).expect("expand");
    }
    let f = |x: f64| SeqValue::Float(x);
    assert_eq!(v.len(), 14);
    assert_eq!(v[0..3], [f(1.0), f(3.0), f(5.0)]);
    assert_eq!(v[3], SeqValue::Omitted);
    assert_eq!(v[5..7], [f(-1.0), f(-2.0)]);
    assert_eq!(v[7..9], [SeqValue::Omitted, SeqValue::Omitted]);
    assert_eq!(v[9..11], [f(3.0), f(3.0)]);
    assert_eq!(v[11], f(1000.0));
    assert!(matches!(v[13], SeqValue::Histogram(_)));
    assert_eq!(
        tokens("1 {{a b}}+{{c}}x2  _"),
        ["1", "{{a b}}+{{c}}x2", "_"]
    );
}
