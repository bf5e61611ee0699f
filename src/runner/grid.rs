//! Grid expansion: an experiment file (a base config plus `[grid]`) into jobs.
//!
//! Pure functions over TOML values: no I/O beyond reading the file, no training. A job is a fully
//! resolved [`Config`]; its id is a short hash of that config in canonical form (keys sorted,
//! defaults written out), so ids do not depend on key order in the file and change whenever
//! anything that affects the result changes. Fields that only say *how* a job runs (the backend,
//! the GPU index) are left out, so a job rerun on a GPU keeps its id and its directory.
//!
//! ```toml
//! [grid]
//! "model.filters" = [[512, 512, 128], [128, 64, 32]]   # axes: dotted key = list of values
//! "train.seed" = [1, 2, 3]
//!
//! [[grid.exclude]]                                      # drop every point matching all keys
//! "model.filters" = [512, 512, 128]
//! "train.seed" = 3
//!
//! [[grid.include]]                                      # add points: these keys, crossed
//! "model.kind" = "cnn2d"                                # with every axis they do not set
//! "features.kind" = "mel-db"
//! "model.filters" = [128, 64, 32]
//! ```

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::{Table, Value};

use crate::config::{
    toml_error_in, AudioConfig, Config, DataConfig, FeatureConfig, ModelConfig, SplitConfig,
    TrainConfig,
};
use crate::error::{Error, Result};

/// One experiment file, parsed.
#[derive(Debug, Clone)]
pub struct Experiment {
    /// Name (the file stem): results go to `<out>/<name>/`.
    pub name: String,
    /// Where it was read from (named in errors).
    pub file: PathBuf,
    /// The file's text, copied into the results folder so `ser report` can lay out its tables.
    pub text: String,
    /// The base config: every section but `[grid]` and `[report]`.
    pub base: Table,
    /// The `[grid]` table.
    pub grid: Grid,
    /// The `[report]` table, read by the report stage (`report::Layout`).
    pub report: Table,
}

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

/// Values of some dotted keys: one grid point, or a pattern for include/exclude.
pub type Point = BTreeMap<String, Value>;

/// A job: a grid point and the config it resolves to.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Short hash of the resolved config (see [`job_id`]); the job's directory name.
    pub id: String,
    /// The grid keys' values for this job (what distinguishes it in tables).
    pub point: Point,
    /// The resolved config, as the file gives it (before command-line overrides).
    pub config: Config,
}

/// The sections of an experiment file, typed: parsing the text into this gives `toml`'s own
/// errors (line, column, key) for the base config.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // only parsed for its errors; the values are read from the table
struct FileSections {
    #[serde(default)]
    data: DataConfig,
    #[serde(default)]
    audio: AudioConfig,
    #[serde(default)]
    features: FeatureConfig,
    #[serde(default)]
    split: SplitConfig,
    #[serde(default)]
    model: ModelConfig,
    #[serde(default)]
    train: TrainConfig,
    #[serde(default)]
    grid: Option<Table>,
    #[serde(default)]
    report: Option<crate::report::LayoutFile>,
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

    /// Parses experiment TOML; `file` names it in errors, `name` is the results folder's name.
    pub fn from_toml(text: &str, file: &Path, name: String) -> Result<Self> {
        toml::from_str::<FileSections>(text).map_err(|e| toml_error_in(file, text, e))?;
        let mut base: Table = toml::from_str(text).map_err(|e| toml_error_in(file, text, e))?;
        let grid = match base.remove("grid") {
            None => Grid::default(),
            Some(Value::Table(t)) => parse_grid(t, file)?,
            Some(_) => {
                return Err(Error::config(
                    file,
                    "grid",
                    "must be a table of `\"section.key\" = [values]`",
                ))
            }
        };
        let report = match base.remove("report") {
            None => Table::new(),
            Some(Value::Table(t)) => t,
            Some(_) => return Err(Error::config(file, "report", "must be a table")),
        };
        let exp = Experiment {
            name,
            file: file.to_path_buf(),
            text: text.to_string(),
            base,
            grid,
            report,
        };
        // The base alone must already be a valid config: catches typos outside the grid early.
        exp.resolve(&Point::new())?;
        exp.check_patterns()?;
        Ok(exp)
    }

    /// The config for one grid point: the base with the point's values set. Errors name the
    /// file, the grid key at fault and the point.
    pub fn resolve(&self, point: &Point) -> Result<Config> {
        let at = |message: String| {
            if point.is_empty() {
                message
            } else {
                format!("{message} (grid point {})", describe(point))
            }
        };
        let config = match self.deserialize(point) {
            Ok(c) => c,
            Err(message) => {
                // Which key broke it: the first that fails on its own over the base.
                let key = point
                    .iter()
                    .find(|(k, v)| {
                        let one = Point::from([((*k).clone(), (*v).clone())]);
                        self.deserialize(&one).is_err()
                    })
                    .map(|(k, _)| k.clone())
                    .or_else(|| message.split('`').nth(1).map(str::to_string))
                    .unwrap_or_else(|| "grid".into());
                return Err(Error::config(&self.file, key, at(message)));
            }
        };
        config.validate(&self.file).map_err(|e| match e {
            Error::Config { file, key, message } => Error::Config {
                file,
                key,
                message: at(message),
            },
            other => other,
        })?;
        check_model_fits(&config).map_err(|m| Error::config(&self.file, "model", at(m)))?;
        Ok(config)
    }

    fn deserialize(&self, point: &Point) -> std::result::Result<Config, String> {
        let mut table = self.base.clone();
        for (key, value) in point {
            set_dotted(&mut table, key, value.clone())?;
        }
        Value::Table(table)
            .try_into::<Config>()
            .map_err(|e| e.to_string().trim_end().to_string())
    }

    /// The grid's points: the product of the axes minus excluded points, then the included
    /// points (each crossed with the axes it does not set), in a stable order.
    pub fn points(&self) -> Vec<Point> {
        let mut points = product(&self.grid.axes, &Point::new());
        points.retain(|p| !self.grid.exclude.iter().any(|pat| matches(p, pat)));
        for inc in &self.grid.include {
            let free: Vec<(String, Vec<Value>)> = self
                .grid
                .axes
                .iter()
                .filter(|(k, _)| !inc.contains_key(k))
                .cloned()
                .collect();
            points.extend(product(&free, inc));
        }
        points
    }

    /// Every job, in grid order; points that resolve to the same config (same id) are kept once.
    pub fn jobs(&self) -> Result<Vec<Job>> {
        let mut seen = HashSet::new();
        let mut jobs = Vec::new();
        for point in self.points() {
            let config = self.resolve(&point)?;
            let id = job_id(&config);
            if seen.insert(id.clone()) {
                jobs.push(Job { id, point, config });
            }
        }
        Ok(jobs)
    }

    /// Every grid key (axes in file order, then keys only includes set).
    pub fn grid_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.grid.axes.iter().map(|(k, _)| k.clone()).collect();
        for p in &self.grid.include {
            for k in p.keys() {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
        }
        keys
    }

    /// The grid keys whose values differ between `jobs` (a key a job's point lacks counts with
    /// the job's resolved value).
    pub fn varying_keys(&self, jobs: &[Job]) -> Vec<String> {
        let mut keys = self.grid_keys();
        keys.retain(|k| {
            let values: Vec<Option<Value>> = jobs.iter().map(|j| value_of(j, k)).collect();
            values.iter().any(|v| *v != values[0])
        });
        keys
    }

    /// Exclude patterns must name grid axes and match something: a typo would silently drop
    /// nothing.
    fn check_patterns(&self) -> Result<()> {
        let axes: Vec<&str> = self.grid.axes.iter().map(|(k, _)| k.as_str()).collect();
        let all = product(&self.grid.axes, &Point::new());
        for (i, pat) in self.grid.exclude.iter().enumerate() {
            if let Some(k) = pat.keys().find(|k| !axes.contains(&k.as_str())) {
                return Err(Error::config(
                    &self.file,
                    format!("grid.exclude[{i}].\"{k}\""),
                    format!(
                        "is not a grid axis: exclude patterns match values of the axes ({})",
                        axes.join(", ")
                    ),
                ));
            }
            if !all.iter().any(|p| matches(p, pat)) {
                return Err(Error::config(
                    &self.file,
                    format!("grid.exclude[{i}]"),
                    format!(
                        "matches no grid point ({}): check its values",
                        describe(pat)
                    ),
                ));
            }
        }
        Ok(())
    }
}

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

/// A model that collapses for its input (too many pooling layers for the frames) is an
/// impossible value of the experiment: found here, before anything runs.
fn check_model_fits(config: &Config) -> std::result::Result<(), String> {
    let extractor = crate::features::Extractor::new(&config.features, config.audio.sample_rate)
        .map_err(|e| e.to_string())?;
    let shape = extractor.input_shape(config.audio.max_samples);
    let classes = if config.data.include_boredom { 7 } else { 6 };
    crate::model::NetConfig::from_section(&config.model, &shape, classes)
        .map(|_| ())
        .map_err(|e| match e {
            Error::Model(m) => m,
            other => other.to_string(),
        })
}

fn parse_grid(mut t: Table, file: &Path) -> Result<Grid> {
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
                    let point = flatten_point(tab);
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

/// `[[grid.include]]` tables may be written with quoted dotted keys or nested tables; both
/// become dotted keys.
fn flatten_point(t: Table) -> Point {
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

/// `start` crossed with every value of every axis (first axis slowest).
fn product(axes: &[(String, Vec<Value>)], start: &Point) -> Vec<Point> {
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

fn matches(point: &Point, pattern: &Point) -> bool {
    pattern.iter().all(|(k, v)| point.get(k) == Some(v))
}

fn set_dotted(table: &mut Table, key: &str, value: Value) -> std::result::Result<(), String> {
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

/// The result-relevant part of a config, canonical: defaults written out (the pool window),
/// keys sorted at every level, and without the fields that only choose where it runs
/// (`train.backend`, `train.device`).
pub fn identity(config: &Config) -> serde_json::Value {
    let mut c = config.clone();
    c.model = c.model.resolved();
    let mut v = serde_json::to_value(&c).unwrap_or(serde_json::Value::Null);
    if let Some(train) = v.get_mut("train").and_then(|t| t.as_object_mut()) {
        train.remove("backend");
        train.remove("device");
    }
    sort_keys(v)
}

fn sort_keys(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(map) => {
            let sorted: BTreeMap<String, serde_json::Value> =
                map.into_iter().map(|(k, v)| (k, sort_keys(v))).collect();
            serde_json::Value::Object(sorted.into_iter().collect())
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(sort_keys).collect())
        }
        other => other,
    }
}

/// Ten hex digits of a SHA-256 of [`identity`] (written without spaces, keys sorted).
pub fn job_id(config: &Config) -> String {
    let text = format!("ser-job v1\n{}", identity(config));
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(5).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp(text: &str) -> Result<Experiment> {
        Experiment::from_toml(text, Path::new("exp.toml"), "exp".into())
    }

    const BASE: &str = "[data]\ncorpus = \"synth\"\npath = \"data/synth\"\n\
        [model]\nfilters = [8, 8]\ndense = 16\n[train]\nepochs = 2\n";

    #[test]
    fn product_in_axis_order() {
        let e = exp(&format!(
            "{BASE}[grid]\n\"model.filters\" = [[8], [4, 4]]\n\"train.seed\" = [1, 2, 3]\n"
        ))
        .unwrap();
        let jobs = e.jobs().unwrap();
        assert_eq!(jobs.len(), 6);
        assert_eq!(jobs[0].config.model.filters, vec![8]);
        assert_eq!(jobs[0].config.train.seed, 1);
        assert_eq!(jobs[1].config.train.seed, 2);
        assert_eq!(jobs[3].config.model.filters, vec![4, 4]);
        let ids: HashSet<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
        assert_eq!(ids.len(), 6);
        assert_eq!(e.varying_keys(&jobs), ["model.filters", "train.seed"]);
    }

    #[test]
    fn include_crosses_free_axes_and_exclude_drops() {
        let e = exp(&format!(
            "{BASE}[grid]\n\"model.filters\" = [[8], [4, 4]]\n\"train.seed\" = [1, 2]\n\
             [[grid.exclude]]\n\"model.filters\" = [4, 4]\n\"train.seed\" = 2\n\
             [[grid.include]]\n\"model.kind\" = \"cnn2d\"\n\"features.kind\" = \"mel-db\"\n\
             \"model.filters\" = [2]\n"
        ))
        .unwrap();
        let jobs = e.jobs().unwrap();
        let seen: Vec<(Vec<usize>, u64)> = jobs
            .iter()
            .map(|j| (j.config.model.filters.clone(), j.config.train.seed))
            .collect();
        assert_eq!(
            seen,
            [
                (vec![8], 1),
                (vec![8], 2),
                (vec![4, 4], 1),
                (vec![2], 1),
                (vec![2], 2)
            ]
        );
        assert!(jobs[3..]
            .iter()
            .all(|j| j.config.model.kind == crate::config::ModelKind::Cnn2d));
        assert_eq!(
            e.varying_keys(&jobs),
            ["model.filters", "train.seed", "features.kind", "model.kind"]
        );
    }

    #[test]
    fn ids_ignore_key_order_and_where_it_runs() {
        let a = exp(&format!("{BASE}[grid]\n\"train.seed\" = [1]\n")).unwrap();
        let b = exp(
            "[train]\nepochs = 2\n[model]\ndense = 16\nfilters = [8, 8]\n\
             [data]\npath = \"data/synth\"\ncorpus = \"synth\"\n\
             [grid]\n\"train.seed\" = [1]\n",
        )
        .unwrap();
        let (ja, jb) = (a.jobs().unwrap(), b.jobs().unwrap());
        assert_eq!(ja[0].id, jb[0].id);
        let mut c = ja[0].config.clone();
        c.train.backend = crate::config::BackendKind::Wgpu;
        c.train.device = 3;
        c.model.pool.size = Some(6); // the default for cnn1d, written out
        assert_eq!(job_id(&c), ja[0].id);
        c.train.lr = 2e-4;
        assert_ne!(job_id(&c), ja[0].id);
        let mut d = ja[0].config.clone();
        d.train.epochs = 3;
        assert_ne!(job_id(&d), ja[0].id);
    }

    #[test]
    fn errors_name_the_key() {
        let err = |t: &str| exp(t).and_then(|e| e.jobs()).unwrap_err().to_string();
        let e = err(&format!("{BASE}[grid]\n\"model.filter\" = [[8]]\n"));
        assert!(e.contains("exp.toml: model.filter:"), "{e}");
        let e = err(&format!("{BASE}[grid]\n\"train.epochs\" = [\"thirty\"]\n"));
        assert!(e.contains("train.epochs") && e.contains("thirty"), "{e}");
        let e = err(&format!("{BASE}[grid]\n\"train.epochs\" = 30\n"));
        assert!(
            e.contains("grid.\"train.epochs\"") && e.contains("list"),
            "{e}"
        );
        let e = err(&format!("{BASE}[grid]\nepochs = [30]\n"));
        assert!(e.contains("grid.epochs") && e.contains("dotted"), "{e}");
        let e = err(&format!("{BASE}[grid]\n\"train.dropout\" = [0.1]\n"));
        assert!(e.contains("train.dropout"), "{e}");
        let e = err(&format!("{BASE}[grid]\n\"model.dropout\" = [0.2, 1.5]\n"));
        assert!(e.contains("model.dropout") && e.contains("[0, 1)"), "{e}");
        let e = err(&format!(
            "{BASE}[grid]\n\"train.seed\" = [1]\n[[grid.exclude]]\n\"train.seed\" = 5\n"
        ));
        assert!(
            e.contains("grid.exclude[0]") && e.contains("matches no"),
            "{e}"
        );
        let e = err("[train]\nepochs = \"x\"\n");
        assert!(e.contains("exp.toml: train.epochs:"), "{e}");
        let e = err("[trian]\nepochs = 3\n");
        assert!(e.contains("trian"), "{e}");
        // A model that collapses on its input is caught before anything runs.
        let e = err(&format!(
            "{BASE}[grid]\n\"model.filters\" = [[4], [4, 4, 4, 4, 4, 4, 4, 4]]\n"
        ));
        assert!(
            e.contains("exp.toml: model:") && e.contains("grid point"),
            "{e}"
        );
    }

    #[test]
    fn only_values_parse_as_toml_or_words() {
        let (k, v) = parse_assignment("model.filters=[128,64,32]").unwrap();
        assert_eq!(k, "model.filters");
        assert_eq!(show(&v), "[128, 64, 32]");
        assert_eq!(
            parse_assignment("train.seed=2").unwrap().1,
            Value::Integer(2)
        );
        assert_eq!(
            parse_assignment("features.kind=mel-db").unwrap().1,
            Value::String("mel-db".into())
        );
        assert!(parse_assignment("seed").is_err());
    }
}
