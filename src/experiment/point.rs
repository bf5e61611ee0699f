//! Points of a grid (dotted keys → values), the values of a key in a job or config, and how
//! they are shown in tables, file names and on the command line.

use std::collections::BTreeMap;

use toml::{Table, Value};

use super::Job;
use crate::base::{Error, Result};
use crate::config::Config;

/// Values of some dotted keys: one grid point, or a pattern for include/exclude.
pub type Point = BTreeMap<String, Value>;

/// The value of dotted `key` for `job`: its grid point's, else its resolved config's.
pub fn value_of(job: &Job, key: &str) -> Option<Value> {
    job.point
        .get(key)
        .cloned()
        .or_else(|| config_value(&job.config, key))
}

/// The value of dotted `key` in `config` (as TOML writes it), if set.
pub fn config_value(config: &Config, key: &str) -> Option<Value> {
    let mut v = Value::try_from(config).ok()?;
    for part in key.split('.') {
        v = v.as_table()?.get(part)?.clone();
    }
    Some(v)
}

/// A value as the tables print it: TOML, strings unquoted (`[128, 64, 32]`, `cnn2d`, `30`).
pub fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string().trim().to_string(),
    }
}

/// `model.filters=[128, 64, 32], train.seed=2`
pub fn describe(point: &Point) -> String {
    point
        .iter()
        .map(|(k, v)| format!("{k}={}", show(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses `key=value` as given to `ser run --only`: the value is TOML (`[128, 64, 32]`, `2`,
/// `"mel-db"`), or a bare word taken as a string (`mel-db`).
pub fn parse_assignment(text: &str) -> Result<(String, Value)> {
    let (key, value) = text.split_once('=').ok_or_else(|| {
        Error::Usage(format!(
            "--only {text}: expected key=value, e.g. --only train.seed=2 or --only \"model.filters=[128,64,32]\""
        ))
    })?;
    let key = key.trim().to_string();
    let value = value.trim();
    let parsed = toml::from_str::<Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| Value::String(value.to_string()));
    Ok((key, parsed))
}

/// A table of dotted keys as a point: `[[grid.include]]` and `[[report.reference]]` tables may be
/// written with quoted dotted keys or nested tables, and both become dotted keys (a table under
/// a key that is already dotted is a value).
pub fn flatten(t: Table) -> Point {
    fn walk(prefix: &str, t: Table, out: &mut Point) {
        for (k, v) in t {
            let key = if prefix.is_empty() {
                k
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                Value::Table(inner) if !key.contains('.') => walk(&key, inner, out),
                other => {
                    out.insert(key, other);
                }
            }
        }
    }
    let mut out = Point::new();
    walk("", t, &mut out);
    out
}

/// Every dotted leaf of a config (arrays are leaves), in the config's order.
pub fn leaves(config: &Config) -> Vec<(String, Value)> {
    fn walk(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
        match v {
            Value::Table(t) => {
                for (k, v) in t {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            other => out.push((prefix.to_string(), other.clone())),
        }
    }
    let mut out = Vec::new();
    if let Ok(v) = Value::try_from(config) {
        walk("", &v, &mut out);
    }
    out
}
