//! One scrape's samples grouped by metric family, rendered in the Prometheus text format for
//! `/metrics` and turned into label sets for the embedded engine.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use deskd_metrics::labels::Labels;
use deskd_metrics::storage::Metadata;

/// The full label set of a series of family `name`: `labels` plus `__name__`.
pub fn series_labels(name: &str, labels: &[(&str, &str)]) -> Labels {
    let mut pairs: Vec<(String, String)> = Vec::with_capacity(labels.len() + 1);
    pairs.extend(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    pairs.push(("__name__".to_string(), name.to_string()));
    Labels::new(pairs)
}

/// Counter or gauge, as `# TYPE` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

#[derive(Debug, Clone)]
struct Family {
    kind: Kind,
    help: &'static str,
    /// Full label sets (`__name__` included), built once: the engine and the staleness
    /// bookkeeping share them (`Labels` clones are reference counts).
    samples: Vec<(Labels, f64)>,
}

/// The samples of one scrape, taken at `at_ms`.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    pub at_ms: i64,
    families: BTreeMap<&'static str, Family>,
}

impl Scrape {
    pub fn new(at_ms: i64) -> Self {
        Scrape {
            at_ms,
            families: BTreeMap::new(),
        }
    }

    /// Adds one sample of the family `name`.
    pub fn add(
        &mut self,
        name: &'static str,
        kind: Kind,
        help: &'static str,
        labels: &[(&str, &str)],
        value: f64,
    ) {
        self.add_labeled(name, kind, help, series_labels(name, labels), value);
    }

    /// Adds one sample whose full label set (`__name__` = `name` included) the caller built,
    /// typically once for many scrapes.
    pub fn add_labeled(
        &mut self,
        name: &'static str,
        kind: Kind,
        help: &'static str,
        labels: Labels,
        value: f64,
    ) {
        let f = self.families.entry(name).or_insert_with(|| Family {
            kind,
            help,
            samples: Vec::new(),
        });
        f.samples.push((labels, value));
    }

    /// How many samples the scrape holds.
    pub fn len(&self) -> usize {
        self.families.values().map(|f| f.samples.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every sample as a full label set (`__name__` included) with its value.
    pub fn series(&self) -> impl Iterator<Item = (Labels, f64)> + '_ {
        self.families
            .values()
            .flat_map(|f| f.samples.iter().map(|(l, v)| (l.clone(), *v)))
    }

    /// `# TYPE` and `# HELP` of each family.
    pub fn metadata(&self) -> Vec<(String, Metadata)> {
        self.families
            .iter()
            .map(|(name, f)| {
                let meta = Metadata {
                    kind: f.kind.as_str().to_string(),
                    help: f.help.to_string(),
                    unit: String::new(),
                };
                (name.to_string(), meta)
            })
            .collect()
    }

    /// The Prometheus text exposition format (version 0.0.4), without timestamps.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, f) in &self.families {
            let _ = writeln!(out, "# HELP {name} {}", escape_help(f.help));
            let _ = writeln!(out, "# TYPE {name} {}", f.kind.as_str());
            for (labels, v) in &f.samples {
                out.push_str(name);
                let mut pairs = labels.iter().filter(|(k, _)| *k != "__name__").peekable();
                if pairs.peek().is_some() {
                    out.push('{');
                    for (i, (k, val)) in pairs.enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        let _ = write!(out, "{k}=\"{}\"", escape_value(val));
                    }
                    out.push('}');
                }
                let _ = writeln!(out, " {}", format_value(*v));
            }
        }
        out
    }
}

fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_value(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_what_the_engine_parses_back() {
        let mut s = Scrape::new(1);
        s.add(
            "up",
            Kind::Gauge,
            "target answered",
            &[("job", "node"), ("host_id", "h\"1")],
            1.0,
        );
        s.add("node_load1", Kind::Gauge, "load", &[], 0.5);
        let text = s.render();
        let parsed = deskd_metrics::text::parse(&text).expect("parses");
        assert_eq!(parsed.samples.len(), 2);
        assert!(
            text.contains(r#"up{host_id="h\"1",job="node"} 1"#),
            "{text}"
        );
        assert_eq!(s.series().count(), 2);
        assert_eq!(s.metadata().len(), 2);
    }
}
