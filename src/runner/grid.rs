//! Grid expansion: an experiment file (a base config plus `[grid]`) into jobs.
//!
//! Pure functions over TOML values: no I/O beyond reading the file, no training. A job is a fully
//! resolved [`Config`]; its id is a short hash of that config in canonical form (keys sorted),
//! so ids do not depend on key order in the file and change whenever anything that affects the
//! result changes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::{Table, Value};

use crate::config::{toml_error, Config};
use crate::error::{Error, Result};

/// One experiment file, parsed.
#[derive(Debug, Clone)]
pub struct Experiment {
    /// Name (the file stem): results go to `results/<name>/`.
    pub name: String,
    pub file: PathBuf,
    /// The base config: every section but `[grid]` and `[report]`.
    pub base: Table,
    pub grid: Grid,
    /// The `[report]` table, passed to the report stage as is.
    pub report: Table,
}

/// `[grid]`: axes (dotted key → list of values), plus single combinations to add or drop.
#[derive(Debug, Clone, Default)]
pub struct Grid {
    /// In file order; the product is taken in this order (first axis varies slowest).
    pub axes: Vec<(String, Vec<Value>)>,
    pub include: Vec<Point>,
    pub exclude: Vec<Point>,
}

/// Values of some dotted keys: one grid point, or a pattern for include/exclude.
pub type Point = BTreeMap<String, Value>;

/// A job: a grid point and the config it resolves to.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    /// The grid keys' values for this job (what distinguishes it in tables).
    pub point: Point,
    pub config: Config,
}

impl Experiment {
    /// Reads an experiment file; errors name the file and the key.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("experiment")
            .to_string();
        Self::from_toml(&text, path, name)
    }

    /// Parses experiment TOML; `file` names it in errors.
    pub fn from_toml(text: &str, file: &Path, name: String) -> Result<Self> {
        let mut base: Table = toml::from_str(text).map_err(|e| toml_error(file, e))?;
        let grid = match base.remove("grid") {
            None => Grid::default(),
            Some(Value::Table(t)) => parse_grid(t, file)?,
            Some(_) => return Err(Error::config(file, "grid", "must be a table of `\"section.key\" = [values]`")),
        };
        let report = match base.remove("report") {
            None => Table::new(),
            Some(Value::Table(t)) => t,
            Some(_) => return Err(Error::config(file, "report", "must be a table")),
        };
        let exp = Experiment {
            name,
            file: file.to_path_buf(),
            base,
            grid,
            report,
        };
        // The base alone must already be a valid config: catches typos outside the grid early.
        exp.resolve(&Point::new())?;
        Ok(exp)
    }

    /// The config for one grid point: the base with the point's values set.
    pub fn resolve(&self, point: &Point) -> Result<Config> {
        let mut table = self.base.clone();
        for (key, value) in point {
            set_dotted(&mut table, key, value.clone()).map_err(|m| Error::config(&self.file, key, m))?;
        }
        let config = Config::deserialize(Value::Table(table)).map_err(|e| {
            let msg = e.to_string();
            let key = msg.split('`').nth(1).unwrap_or("(grid point)").to_string();
            let at = if point.is_empty() {
                String::new()
            } else {
                format!(" (grid point {})", describe(point))
            };
            Error::config(&self.file, key, format!("{}{at}", msg.trim_end()))
        })?;
        config.validate(&self.file).map_err(|e| match e {
            Error::Config { file, key, message } if !point.is_empty() => Error::Config {
                file,
                key,
                message: format!("{message} (grid point {})", describe(point)),
            },
            other => other,
        })?;
        Ok(config)
    }

    /// Every job: the product of the axes, minus excluded points, plus included ones, in a
    /// stable order; duplicates (same id) are kept once.
    pub fn jobs(&self) -> Result<Vec<Job>> {
        let mut points: Vec<Point> = product(&self.grid.axes);
        points.retain(|p| !self.grid.exclude.iter().any(|pat| matches(p, pat)));
        points.extend(self.grid.include.iter().cloned());
        let mut seen = std::collections::HashSet::new();
        let mut jobs = Vec::new();
        for point in points {
            let config = self.resolve(&point)?;
            let id = job_id(&config);
            if seen.insert(id.clone()) {
                jobs.push(Job { id, point, config });
            }
        }
        Ok(jobs)
    }

    /// The grid keys whose values differ between jobs, in axis order then include-only keys.
    pub fn varying_keys(&self, jobs: &[Job]) -> Vec<String> {
        let mut keys: Vec<String> = self.grid.axes.iter().map(|(k, _)| k.clone()).collect();
        for p in &self.grid.include {
            for k in p.keys() {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
        }
        keys.retain(|k| {
            let first = jobs.first().and_then(|j| j.point.get(k));
            jobs.iter().any(|j| j.point.get(k) != first)
        });
        keys
    }
}

fn parse_grid(mut t: Table, file: &Path) -> Result<Grid> {
    let mut grid = Grid::default();
    for (which, list) in [("include", &mut grid.include), ("exclude", &mut grid.exclude)] {
        match t.remove(which) {
            None => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.into_iter().enumerate() {
                    let Value::Table(tab) = item else {
                        return Err(Error::config(file, format!("grid.{which}[{i}]"), "must be a table"));
                    };
                    list.push(flatten_point(tab));
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
                    "must be a non-empty list of values, e.g. [30, 60]",
                ))
            }
        }
    }
    Ok(grid)
}

/// `[[grid.include]]` tables may be written with quoted dotted keys or nested tables; both
/// become dotted keys.
fn flatten_point(t: Table) -> Point {
    fn walk(prefix: &str, t: Table, out: &mut Point) {
        for (k, v) in t {
            let key = if prefix.is_empty() { k } else { format!("{prefix}.{k}") };
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

fn product(axes: &[(String, Vec<Value>)]) -> Vec<Point> {
    let mut points = vec![Point::new()];
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
    if axes.is_empty() {
        // No axes: the base config alone is the one job.
        return vec![Point::new()];
    }
    points
}

fn matches(point: &Point, pattern: &Point) -> bool {
    pattern.iter().all(|(k, v)| point.get(k) == Some(v))
}

fn set_dotted(table: &mut Table, key: &str, value: Value) -> std::result::Result<(), String> {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().ok_or("empty key")?;
    let mut cur = table;
    for part in parts {
        let entry = cur.entry(part.to_string()).or_insert_with(|| Value::Table(Table::new()));
        cur = match entry {
            Value::Table(t) => t,
            _ => return Err(format!("`{part}` is not a table, so `{key}` cannot be set")),
        };
    }
    cur.insert(last.to_string(), value);
    Ok(())
}

/// `model.filters=[128, 64, 32], train.seed=2`
pub fn describe(point: &Point) -> String {
    point
        .iter()
        .map(|(k, v)| format!("{k}={}", v.to_string().trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Short hash of the resolved config in canonical form. Fields that cannot change the result
/// (which GPU, how progress is shown) are left out by [`Config::identity`].
pub fn job_id(config: &Config) -> String {
    let canonical = serde_json::to_value(config.identity()).unwrap_or(serde_json::Value::Null);
    // serde_json's Map is a BTreeMap: keys come out sorted whatever order the file had.
    let text = canonical.to_string();
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(5).map(|b| format!("{b:02x}")).collect()
}
