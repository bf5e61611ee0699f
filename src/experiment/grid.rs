//! `[grid]`: its axes, `[[grid.include]]` and `[[grid.exclude]]`, parsed from the file's table
//! and expanded into points (pure functions over TOML values).

use std::path::Path;

use toml::{Table, Value};

use super::point::{flatten, Point};
use crate::base::{Error, Result};

/// Most grid points one experiment may expand to (before excludes and duplicates are taken out).
/// Checked by counting, before any point is made: a grid of millions of jobs is a mistake, and
/// expanding it would take the memory and the minutes that the error saves.
pub const MAX_JOBS: u128 = 10_000;

/// `[grid]`: axes (dotted key → list of values), plus single combinations to add or drop.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grid {
    /// In file order; the product is taken in this order (first axis varies slowest).
    pub axes: Vec<(String, Vec<Value>)>,
    /// `[[grid.include]]`: points added, crossed with every axis they do not set.
    pub include: Vec<Point>,
    /// `[[grid.exclude]]`: patterns; a point of the product matching every key of one is dropped.
    pub exclude: Vec<Point>,
}

impl Grid {
    /// Points the grid expands to before excludes and duplicates: the product of the axes' lengths
    /// plus, per include, the product of the axes it does not set. Counted, not expanded
    /// (saturating: no grid overflows the count).
    pub fn point_count(&self) -> u128 {
        let product = |lens: &mut dyn Iterator<Item = usize>| {
            lens.fold(1u128, |n, len| n.saturating_mul(len as u128))
        };
        let mut n = product(&mut self.axes.iter().map(|(_, v)| v.len()));
        for inc in &self.include {
            let free = &mut self
                .axes
                .iter()
                .filter(|(k, _)| !inc.contains_key(k))
                .map(|(_, v)| v.len());
            n = n.saturating_add(product(free));
        }
        n
    }

    /// Refuses a grid of more than [`MAX_JOBS`] points, with the count and the axes' lengths.
    pub(super) fn check_count(&self, file: &Path) -> Result<()> {
        let n = self.point_count();
        if n <= MAX_JOBS {
            return Ok(());
        }
        let count = if n == u128::MAX {
            "more than 10^38".to_string()
        } else {
            n.to_string()
        };
        let lens: Vec<String> = self
            .axes
            .iter()
            .map(|(k, v)| format!("{k} {}", v.len()))
            .collect();
        let includes = if self.include.is_empty() {
            String::new()
        } else {
            format!(", plus {} includes", self.include.len())
        };
        Err(Error::config(
            file,
            "grid",
            format!(
                "expands to {count} jobs ({}{includes}), more than the {MAX_JOBS} one experiment \
                 may hold: shorten an axis, or split the experiment into several files",
                lens.join(" × ")
            ),
        ))
    }
}

pub(super) fn parse_grid(mut t: Table, file: &Path) -> Result<Grid> {
    let mut grid = Grid::default();
    for (which, list) in [
        ("include", &mut grid.include),
        ("exclude", &mut grid.exclude),
    ] {
        match t.remove(which) {
            None => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.into_iter().enumerate() {
                    let Value::Table(tab) = item else {
                        return Err(Error::config(
                            file,
                            format!("grid.{which}[{i}]"),
                            format!("must be a table: write it as [[grid.{which}]]"),
                        ));
                    };
                    let point = flatten(tab);
                    if let Some(k) = point.keys().find(|k| !k.contains('.')) {
                        return Err(Error::config(
                            file,
                            format!("grid.{which}[{i}].{k}"),
                            "keys are dotted paths into the config, quoted: \"train.epochs\" = 30",
                        ));
                    }
                    list.push(point);
                }
            }
            Some(_) => {
                return Err(Error::config(
                    file,
                    format!("grid.{which}"),
                    format!("must be an array of tables: [[grid.{which}]]"),
                ))
            }
        }
    }
    for (key, value) in t {
        if !key.contains('.') {
            return Err(Error::config(
                file,
                format!("grid.{key}"),
                "grid keys are dotted paths into the config, quoted: \"train.epochs\" = [30, 60]",
            ));
        }
        match value {
            Value::Array(values) if !values.is_empty() => grid.axes.push((key, values)),
            _ => {
                return Err(Error::config(
                    file,
                    format!("grid.\"{key}\""),
                    "must be a non-empty list of values, e.g. [30, 60] (a list-valued key takes \
                     a list of lists: [[512, 512, 128], [128, 64, 32]])",
                ))
            }
        }
    }
    Ok(grid)
}

/// `start` crossed with every value of every axis (first axis slowest).
pub(super) fn product(axes: &[(String, Vec<Value>)], start: &Point) -> Vec<Point> {
    let mut points = vec![start.clone()];
    for (key, values) in axes {
        points = points
            .into_iter()
            .flat_map(|p| {
                values.iter().map(move |v| {
                    let mut q = p.clone();
                    q.insert(key.clone(), v.clone());
                    q
                })
            })
            .collect();
    }
    points
}

pub(super) fn matches(point: &Point, pattern: &Point) -> bool {
    pattern.iter().all(|(k, v)| point.get(k) == Some(v))
}

pub(super) fn set_dotted(
    table: &mut Table,
    key: &str,
    value: Value,
) -> std::result::Result<(), String> {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().ok_or("empty key")?;
    let mut cur = table;
    for part in parts {
        let entry = cur
            .entry(part.to_string())
            .or_insert_with(|| Value::Table(Table::new()));
        cur = match entry {
            Value::Table(t) => t,
            _ => return Err(format!("`{part}` is not a table, so `{key}` cannot be set")),
        };
    }
    cur.insert(last.to_string(), value);
    Ok(())
}
