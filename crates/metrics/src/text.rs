//! The Prometheus text exposition format (what `/api/v1/import/prometheus` accepts).
//!
//! A whole body is parsed before anything is stored, so a bad line refuses the request.

use crate::labels::{valid_label_name, valid_metric_name, Labels, METRIC_NAME};
use crate::storage::Metadata;

/// One parsed sample; `t` is absent when the line carried no timestamp.
#[derive(Clone, Debug, PartialEq)]
pub struct TextSample {
    pub labels: Labels,
    pub t: Option<i64>,
    pub v: f64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Exposition {
    pub samples: Vec<TextSample>,
    pub metadata: Vec<(String, Metadata)>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("line {line}: {msg}")]
pub struct TextError {
    pub line: usize,
    pub msg: String,
}

/// Parses a body in the text format.
pub fn parse(body: &str) -> Result<Exposition, TextError> {
    let mut out = Exposition::default();
    for (i, raw) in body.lines().enumerate() {
        let line = raw.trim();
        let err = |msg: String| TextError { line: i + 1, msg };
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            comment(rest, &mut out).map_err(err)?;
            continue;
        }
        out.samples.push(sample_line(line).map_err(err)?);
    }
    Ok(out)
}

fn comment(rest: &str, out: &mut Exposition) -> Result<(), String> {
    let rest = rest.trim_start();
    let (kw, rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    if kw != "TYPE" && kw != "HELP" && kw != "UNIT" {
        return Ok(());
    }
    let rest = rest.trim_start();
    let (name, text) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    if !valid_metric_name(name) {
        return Err(format!("invalid metric name {name:?} in # {kw}"));
    }
    let entry = match out.metadata.iter_mut().find(|(n, _)| n == name) {
        Some(e) => e,
        None => {
            out.metadata.push((name.to_string(), Metadata::default()));
            let last = out.metadata.len() - 1;
            &mut out.metadata[last]
        }
    };
    let text = text.trim();
    match kw {
        "TYPE" => {
            const KINDS: [&str; 6] = [
                "counter",
                "gauge",
                "histogram",
                "summary",
                "untyped",
                "unknown",
            ];
            if !KINDS.contains(&text) {
                return Err(format!("invalid metric type {text:?}"));
            }
            entry.1.kind = if text == "untyped" { "unknown" } else { text }.to_string();
        }
        "HELP" => entry.1.help = unescape_help(text),
        _ => entry.1.unit = text.to_string(),
    }
    Ok(())
}

fn unescape_help(s: &str) -> String {
    s.replace("\\n", "\n").replace("\\\\", "\\")
}

/// Parses `name{a="b",...} value [timestamp]`.
pub fn sample_line(line: &str) -> Result<TextSample, String> {
    let (labels, rest) = series(line, true)?;
    let mut parts = rest.split_whitespace();
    let v = parts
        .next()
        .ok_or_else(|| "missing value".to_string())
        .and_then(parse_value)?;
    let t = match parts.next() {
        None => None,
        Some(ts) => Some(
            ts.parse::<i64>()
                .map_err(|_| format!("invalid timestamp {ts:?}"))?,
        ),
    };
    if let Some(extra) = parts.next() {
        return Err(format!("unexpected {extra:?} after the timestamp"));
    }
    Ok(TextSample { labels, t, v })
}

/// A sample value as Prometheus spells it (`1.5`, `-2e3`, `+Inf`, `NaN`).
pub fn parse_value(s: &str) -> Result<f64, String> {
    s.parse::<f64>().map_err(|_| format!("invalid value {s:?}"))
}

/// Parses a series `name{labels}` at the start of `s`, returning it and the rest.
/// Without `need_name`, a bare `{labels}` is accepted too.
pub fn series(s: &str, need_name: bool) -> Result<(Labels, &str), String> {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(s.len());
    let name = &s[..end];
    let mut pairs = Vec::new();
    if !name.is_empty() {
        if !valid_metric_name(name) {
            return Err(format!("invalid metric name {name:?}"));
        }
        pairs.push((METRIC_NAME.to_string(), name.to_string()));
    } else if need_name {
        return Err("missing metric name".into());
    }
    let mut rest = s[end..].trim_start();
    if let Some(body) = rest.strip_prefix('{') {
        let (more, after) = label_pairs(body)?;
        pairs.extend(more);
        rest = after;
    } else if name.is_empty() {
        return Err("expected a metric name or '{'".into());
    }
    let mut seen: Vec<&str> = Vec::new();
    for (n, _) in &pairs {
        if seen.contains(&n.as_str()) {
            return Err(format!("duplicate label name {n:?}"));
        }
        seen.push(n);
    }
    Ok((Labels::new(pairs), rest))
}

/// Parses `a="b", c="d"}` (the opening brace already consumed).
type Pairs = Vec<(String, String)>;

fn label_pairs(mut s: &str) -> Result<(Pairs, &str), String> {
    let mut pairs = Vec::new();
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix('}') {
            return Ok((pairs, rest));
        }
        let eq = s.find('=').ok_or("expected '=' in labels")?;
        let name = s[..eq].trim();
        if !valid_label_name(name) {
            return Err(format!("invalid label name {name:?}"));
        }
        let (value, rest) = quoted(s[eq + 1..].trim_start())?;
        pairs.push((name.to_string(), value));
        s = rest.trim_start();
        if let Some(rest) = s.strip_prefix(',') {
            s = rest;
        } else if !s.starts_with('}') {
            return Err("expected ',' or '}' after a label".into());
        }
    }
}

/// Reads a double-quoted string with `\\`, `\"` and `\n` escapes.
fn quoted(s: &str) -> Result<(String, &str), String> {
    let body = s
        .strip_prefix('"')
        .ok_or("expected '\"' before a label value")?;
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &body[i + 1..])),
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, '\\')) => out.push('\\'),
                Some((_, '"')) => out.push('"'),
                Some((_, o)) => {
                    out.push('\\');
                    out.push(o);
                }
                None => break,
            },
            c => out.push(c),
        }
    }
    Err("unterminated label value".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_exposition() {
        let body = "# HELP vm_cpu_seconds_total CPU time.\\nPer VM.\n# TYPE vm_cpu_seconds_total counter\n\
            vm_cpu_seconds_total{desk=\"d1\",note=\"a \\\"q\\\" \\\\ b\"} 12.5 1700000000000\n\
            vm_up 1\n  \n# just a comment\nx{} +Inf\ny{a=\"1\",} NaN -5\n";
        let e = parse(body).expect("parse");
        assert_eq!(e.samples.len(), 4);
        assert_eq!(e.samples[0].t, Some(1_700_000_000_000));
        assert_eq!(e.samples[0].labels.value("note"), "a \"q\" \\ b");
        assert_eq!(e.samples[1].t, None);
        assert!(e.samples[2].v.is_infinite());
        assert_eq!(e.samples[3].t, Some(-5));
        assert_eq!(e.metadata[0].1.kind, "counter");
        assert_eq!(e.metadata[0].1.help, "CPU time.\nPer VM.");
    }

    #[test]
    fn bad_lines_name_their_number() {
        for (body, line) in [
            ("a 1\nb{x=\"1\" 2\n", 2),
            ("a one\n", 1),
            ("a 1 2 3\n", 1),
            ("a 1 1.5\n", 1),
            ("{x=\"1\"} 1\n", 1),
            ("a{x=\"1\",x=\"2\"} 1\n", 1),
            ("a{1x=\"1\"} 1\n", 1),
            ("# TYPE a bogus\n", 1),
            ("a{x=\"1} 1\n", 1),
        ] {
            let err = parse(body).expect_err(body);
            assert_eq!(err.line, line, "{body}: {err}");
        }
    }
}
