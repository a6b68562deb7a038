//! Query values and errors.

use crate::labels::Labels;

/// One element of an instant vector. `t` is the stored sample's time for a plain selector
/// (what `timestamp()` reports) and the evaluation time otherwise.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    pub t: i64,
    pub v: f64,
}

/// One series of a range vector or of a range query's result.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub points: Vec<(i64, f64)>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Scalar(f64),
    String(String),
    Vector(Vec<Sample>),
    Matrix(Vec<Series>),
}

impl Value {
    /// The type name Prometheus uses in `resultType` and in messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar(_) => "scalar",
            Value::String(_) => "string",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
        }
    }
}

/// A query's annotations: warnings (the result may be wrong) and infos (it may not be what was
/// meant), with Prometheus 3's texts; each text once.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Notes {
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

impl Notes {
    pub fn warn(&mut self, msg: String) {
        if !self.warnings.contains(&msg) {
            self.warnings.push(msg);
        }
    }

    pub fn info(&mut self, msg: String) {
        if !self.infos.contains(&msg) {
            self.infos.push(msg);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.warnings.is_empty() && self.infos.is_empty()
    }
}

/// Prometheus's warning for a quantile outside [0, 1] (Go's `%g`).
pub(crate) fn invalid_quantile(q: f64) -> String {
    format!(
        "PromQL warning: quantile value should be between 0 and 1, got {}",
        format_value(q)
    )
}

/// A failed query, by the Prometheus API error class it maps to.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// The query or a parameter is malformed (`bad_data`, 400).
    #[error("{0}")]
    BadData(String),
    /// The query is valid but cannot be evaluated (`execution`, 422).
    #[error("{0}")]
    Execution(String),
    /// The query ran past its timeout (`timeout`, 503).
    #[error("{0}")]
    Timeout(String),
}

pub(crate) fn exec<T>(msg: impl Into<String>) -> Result<T, QueryError> {
    Err(QueryError::Execution(msg.into()))
}

/// Formats a float the way Prometheus's JSON does (Go's shortest `'f'` form).
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}
