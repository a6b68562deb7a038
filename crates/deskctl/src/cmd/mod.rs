//! One module per group of nouns; each declares its clap subcommands and runs them.

pub mod catalog;
pub mod desk;
pub mod fleet;
pub mod monitor;
pub mod users;

use clap::Args;
use deskd_wire::paging::PageQuery;
use serde_json::Value;

use crate::client::Session;
use crate::error::{Failure, Outcome};
use crate::output::{self, Columns, Format};
use crate::resources::{self, Resource};

/// What every command gets: the session and the output format.
pub struct Ctx {
    pub s: Session,
    pub format: Format,
}

/// Paging and sorting flags of every `list`.
#[derive(Args, Debug, Clone, Default)]
pub struct ListArgs {
    /// Sort by a field, `FIELD` or `FIELD:desc` (wire name like `desk_name`, or query key).
    #[arg(long, value_name = "FIELD[:desc]")]
    pub sort: Option<String>,
    /// Page to show, 1 = the first.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i64).range(1..))]
    pub page: i64,
    /// Items per page.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..=1000))]
    pub limit: i64,
    /// Every page.
    #[arg(long, conflicts_with = "page")]
    pub all: bool,
}

impl ListArgs {
    /// The page query of these flags (renames: wire field → query key where they differ).
    pub fn query(&self, renames: &[(&str, &str)]) -> Outcome<PageQuery> {
        let mut q = PageQuery {
            page: Some(self.page - 1),
            limit: Some(self.limit),
            ..PageQuery::default()
        };
        if let Some(spec) = &self.sort {
            q.sort_arr.push(resources::sort(spec, renames)?);
        }
        Ok(q)
    }
}

/// Lists `r` with `q` (one page, or all of them) and prints it.
pub fn list_and_print<T>(
    ctx: &mut Ctx,
    r: &Resource,
    q: &PageQuery,
    all: bool,
    cols: &Columns,
) -> Outcome
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    let items: Vec<T> = if all {
        resources::all(&mut ctx.s, r, q)?
    } else {
        let p: deskd_wire::paging::PageData<T> = resources::page(&mut ctx.s, r, q)?;
        if ctx.format == Format::Table || ctx.format == Format::Wide {
            let shown = p.item_arr.len() as i64;
            let first = q.page.unwrap_or(0) * q.limit.unwrap_or(0);
            if p.total > first + shown {
                eprintln!(
                    "{}-{} of {} (--page N for more, --all for every page)",
                    first + 1,
                    first + shown,
                    p.total
                );
            }
        }
        p.item_arr
    };
    output::list(&items, ctx.format, cols)
}

/// Prints a synchronous call's result: the object, or "ok" for an empty reply.
pub fn done(ctx: &Ctx, what: &str, data: &Option<Value>) -> Outcome {
    match data {
        Some(v) if !v.is_null() => output::one(v, ctx.format),
        _ => {
            println!("{what}: ok");
            Ok(())
        }
    }
}

/// Reads a CSV file into rows of (line number, header → value).
pub fn read_csv(
    path: &std::path::Path,
) -> Outcome<Vec<(u64, std::collections::HashMap<String, String>)>> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(path)
        .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let map = headers
            .iter()
            .cloned()
            .zip(rec.iter().map(str::to_string))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        rows.push((line, map));
    }
    Ok(rows)
}

/// The first of `names` present in a CSV row.
pub fn col<'a>(
    row: &'a std::collections::HashMap<String, String>,
    names: &[&str],
) -> Option<&'a str> {
    names.iter().find_map(|n| row.get(*n)).map(String::as_str)
}
