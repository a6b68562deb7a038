//! `deskctl metrics …` and `deskctl alerts` (chapter 7 and 6.7): the Prometheus-compatible
//! read API deskd serves behind its token.

use clap::Subcommand;
use deskd_wire::usage::{ResourceUsageData, ResourceUsageRequest};
use reqwest::Method;
use serde_json::{json, Value};

use super::Ctx;
use crate::error::{Failure, Outcome};
use crate::output::{self, Columns, Format};

#[derive(Subcommand, Debug)]
pub enum MetricsCmd {
    /// A PromQL instant query.
    Query {
        expr: String,
        /// Evaluation time (RFC 3339 or Unix seconds; default now).
        #[arg(long)]
        time: Option<String>,
    },
    /// A PromQL range query.
    Range {
        expr: String,
        /// RFC 3339 or Unix seconds.
        #[arg(long)]
        start: String,
        #[arg(long)]
        end: String,
        /// Seconds or a duration (`30s`, `1m`).
        #[arg(long, default_value = "60s")]
        step: String,
    },
    /// Fleet CPU, memory or disk: capacity and share in use (6.7).
    Usage {
        /// CPU | MEM | DISK
        resource: String,
    },
    /// The exporters deskd scrapes and how their last scrape went.
    Targets,
    /// Recording and alerting rule groups.
    Rules,
    /// Label names, or the values of one label.
    Labels { name: Option<String> },
    /// Re-read the rule file (a bad file is refused and the rules in force stay).
    Reload,
}

/// One series of a query result as a table row: its labels and its value(s).
fn rows(data: &Value) -> Vec<Value> {
    let result = data["result"].as_array().cloned().unwrap_or_default();
    result
        .into_iter()
        .map(|r| {
            let labels = r["metric"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default();
            let value = if r["values"].is_array() {
                json!(
                    r["values"]
                        .as_array()
                        .map(|v| v.len())
                        .unwrap_or(0)
                        .to_string()
                        + " points"
                )
            } else {
                r["value"][1].clone()
            };
            json!({"metric": labels, "value": value})
        })
        .collect()
}

fn print_result(ctx: &Ctx, data: &Value) -> Outcome {
    match ctx.format {
        Format::Json | Format::Yaml => output::one(data, ctx.format),
        _ => output::list(
            &rows(data),
            ctx.format,
            &Columns {
                table: &["metric", "value"],
                wide: &[],
            },
        ),
    }
}

pub fn run(ctx: &mut Ctx, cmd: MetricsCmd) -> Outcome {
    match cmd {
        MetricsCmd::Query { expr, time } => {
            let mut q = vec![("query", expr)];
            if let Some(t) = time {
                q.push(("time", t));
            }
            let d = ctx.s.prometheus("/api/v1/query", &q)?;
            print_result(ctx, &d)
        }
        MetricsCmd::Range {
            expr,
            start,
            end,
            step,
        } => {
            let q = vec![
                ("query", expr),
                ("start", start),
                ("end", end),
                ("step", step),
            ];
            let d = ctx.s.prometheus("/api/v1/query_range", &q)?;
            print_result(ctx, &d)
        }
        MetricsCmd::Usage { resource } => {
            let body = ResourceUsageRequest {
                server_resource_type: resource,
            };
            let d: ResourceUsageData =
                ctx.s
                    .call(Method::PUT, "/v1/rccp/server/resource/usage", &body)?;
            output::one(&d, ctx.format)
        }
        MetricsCmd::Targets => {
            let d = ctx.s.prometheus("/api/v1/targets", &[])?;
            let active = d["activeTargets"].as_array().cloned().unwrap_or_default();
            output::list(
                &active,
                ctx.format,
                &Columns {
                    table: &["scrapeUrl", "health", "lastScrape", "lastError"],
                    wide: &["labels", "lastScrapeDuration"],
                },
            )
        }
        MetricsCmd::Rules => {
            let d = ctx.s.prometheus("/api/v1/rules", &[])?;
            let mut rules = Vec::new();
            for g in d["groups"].as_array().into_iter().flatten() {
                for r in g["rules"].as_array().into_iter().flatten() {
                    let mut r = r.clone();
                    r["group"] = g["name"].clone();
                    rules.push(r);
                }
            }
            output::list(
                &rules,
                ctx.format,
                &Columns {
                    table: &["group", "name", "type", "health", "state"],
                    wide: &["query", "lastError"],
                },
            )
        }
        MetricsCmd::Labels { name } => {
            let path = match &name {
                Some(n) if n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                    format!("/api/v1/label/{n}/values")
                }
                Some(n) => return Err(Failure::usage(format!("`{n}` is not a label name"))),
                None => "/api/v1/labels".to_string(),
            };
            let d = ctx.s.prometheus(&path, &[])?;
            match ctx.format {
                Format::Json | Format::Yaml => output::one(&d, ctx.format),
                _ => {
                    for v in d.as_array().into_iter().flatten() {
                        println!("{}", v.as_str().unwrap_or_default());
                    }
                    Ok(())
                }
            }
        }
        MetricsCmd::Reload => {
            ctx.s.reload_rules()?;
            println!("rules reloaded");
            Ok(())
        }
    }
}

/// `deskctl alerts`: the alerts pending or firing now.
pub fn alerts(ctx: &mut Ctx) -> Outcome {
    let d = ctx.s.prometheus("/api/v1/alerts", &[])?;
    let alerts = d["alerts"]
        .as_array()
        .ok_or_else(|| Failure::Unreachable("/api/v1/alerts: no `alerts` list".into()))?
        .iter()
        .map(|a| {
            let mut a = a.clone();
            a["alertname"] = a["labels"]["alertname"].clone();
            a
        })
        .collect::<Vec<_>>();
    output::list(
        &alerts,
        ctx.format,
        &Columns {
            table: &["alertname", "state", "activeAt", "value"],
            wide: &["labels", "annotations"],
        },
    )
}
