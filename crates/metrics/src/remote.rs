//! Prometheus remote write (protocol 1.0): snappy-compressed protobuf `WriteRequest`s.

use crate::labels::{valid_label_name, Labels};
use crate::storage::Metadata;

#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricMetadata {
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    #[prost(string, tag = "4")]
    pub help: String,
    #[prost(string, tag = "5")]
    pub unit: String,
}

/// A decoded request: its samples and metadata, ready for one all-or-nothing append.
pub struct Decoded {
    pub samples: Vec<(Labels, i64, f64)>,
    pub metadata: Vec<(String, Metadata)>,
}

const TYPES: [&str; 8] = [
    "unknown",
    "counter",
    "gauge",
    "histogram",
    "gaugehistogram",
    "summary",
    "info",
    "stateset",
];

/// Decompresses and decodes a request body, checking every label name.
pub fn decode(body: &[u8]) -> Result<Decoded, String> {
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| format!("snappy: {e}"))?;
    let req = <WriteRequest as prost::Message>::decode(raw.as_slice())
        .map_err(|e| format!("protobuf: {e}"))?;
    let mut samples = Vec::new();
    for ts in req.timeseries {
        let mut pairs = Vec::with_capacity(ts.labels.len());
        for l in ts.labels {
            if !valid_label_name(&l.name) {
                return Err(format!("invalid label name {:?}", l.name));
            }
            pairs.push((l.name, l.value));
        }
        let labels = Labels::new(pairs);
        if labels.name().is_none() {
            return Err(format!("series {labels} has no metric name"));
        }
        for s in ts.samples {
            samples.push((labels.clone(), s.timestamp, s.value));
        }
    }
    let metadata = req
        .metadata
        .into_iter()
        .map(|m| {
            let kind = usize::try_from(m.r#type)
                .ok()
                .and_then(|i| TYPES.get(i))
                .unwrap_or(&"unknown");
            (
                m.metric_family_name,
                Metadata {
                    kind: kind.to_string(),
                    help: m.help,
                    unit: m.unit,
                },
            )
        })
        .collect();
    Ok(Decoded { samples, metadata })
}
