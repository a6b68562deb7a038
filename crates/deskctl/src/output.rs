//! Printing results: `-o table` (aligned, fits the terminal), `wide`, `json`, `yaml`.
//!
//! JSON and YAML print the wire objects themselves (field names as on the wire); the tables
//! pick columns from the same serialized objects, so a column is named by its wire field.

use clap::ValueEnum;
use comfy_table::{presets, ContentArrangement, Table};
use serde::Serialize;
use serde_json::Value;

use crate::error::{Failure, Outcome};

/// The `-o` formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// Aligned columns that fit the terminal.
    #[default]
    Table,
    /// Every listed column.
    Wide,
    /// A JSON array (or object) of the API's objects, field names as on the wire.
    Json,
    /// The same as YAML.
    Yaml,
}

/// Which wire fields a resource's table shows: `table` always, `wide` after them with `-o wide`.
pub struct Columns {
    pub table: &'static [&'static str],
    pub wide: &'static [&'static str],
}

fn to_value<T: Serialize>(v: &T) -> Outcome<Value> {
    serde_json::to_value(v).map_err(|e| Failure::usage(format!("cannot render: {e}")))
}

/// A cell: strings bare, null empty, anything else as JSON.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(cell).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

fn table() -> Table {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Dynamic);
    t
}

/// Prints a list of wire objects.
pub fn list<T: Serialize>(items: &[T], format: Format, cols: &Columns) -> Outcome {
    match format {
        Format::Json => print_json(&to_value(&items)?),
        Format::Yaml => print_yaml(&to_value(&items)?),
        Format::Table | Format::Wide => {
            let mut names: Vec<&str> = cols.table.to_vec();
            if format == Format::Wide {
                names.extend_from_slice(cols.wide);
            }
            let mut t = table();
            t.set_header(names.iter().map(|n| n.to_uppercase()));
            for item in items {
                let v = to_value(item)?;
                t.add_row(names.iter().map(|n| cell(&v[*n])));
            }
            println!("{t}");
            Ok(())
        }
    }
}

/// Prints one wire object (a table of its fields, one a line).
pub fn one<T: Serialize>(item: &T, format: Format) -> Outcome {
    let v = to_value(item)?;
    match format {
        Format::Json => print_json(&v),
        Format::Yaml => print_yaml(&v),
        Format::Table | Format::Wide => {
            let Value::Object(map) = &v else {
                println!("{}", cell(&v));
                return Ok(());
            };
            let mut t = table();
            for (k, val) in map {
                t.add_row(vec![k.clone(), cell(val)]);
            }
            println!("{t}");
            Ok(())
        }
    }
}

fn print_json(v: &Value) -> Outcome {
    let s = serde_json::to_string_pretty(v).map_err(|e| Failure::usage(e.to_string()))?;
    println!("{s}");
    Ok(())
}

fn print_yaml(v: &Value) -> Outcome {
    let s = serde_yaml::to_string(v).map_err(|e| Failure::usage(e.to_string()))?;
    print!("{s}");
    Ok(())
}
