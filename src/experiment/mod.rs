//! Experiments: the experiment-file schema and what it means. A file is a base config (the
//! sections `ser train` reads) plus `[grid]` ([`grid`]: axes, includes, excludes) and `[report]`
//! ([`layout`]: how tables are laid out); its points ([`point`]) resolve to jobs, each a fully
//! resolved [`Config`] with a stable id ([`id`]). The runner runs the jobs, the report reads them
//! back; neither imports the other, both read this.
//!
//! Pure functions over TOML values: no I/O beyond reading the file (and a CSV corpus's manifest
//! for [`Experiment::models`]), no training. Ids leave out the fields that only say *how* a job
//! runs (the backend, the GPU index), so a job rerun on a GPU keeps its id and its directory.
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

pub mod grid;
pub mod id;
pub mod layout;
pub mod point;
pub mod search;

pub use grid::{Grid, MAX_JOBS};
pub use id::{identity, job_id};
pub use layout::{Layout, Reference, DEFAULT_METRICS, METRICS};
pub use point::{config_value, describe, leaves, parse_assignment, show, value_of, Point};
pub use search::{Cut, Search, SearchKind};

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::{Table, Value};

use crate::base::{atomic, Error, Result};
use crate::config::{
    toml_error_in, AudioConfig, Config, DataConfig, EvalConfig, FeatureConfig, ModelConfig,
    SplitConfig, TrainConfig,
};
use crate::corpus;
use crate::features::Extractor;
use crate::model::{check_size, NetConfig};
use grid::{matches, parse_grid, product, set_dotted};

/// Name of the experiment file's copy in its results folder (what `ser report` reads).
const COPY: &str = "experiment.toml";

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
    /// The `[report]` table ([`layout`]).
    pub report: Table,
    /// `[search]`: successive halving instead of training every point to the end.
    pub search: Option<Search>,
}

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
    eval: EvalConfig,
    #[serde(default)]
    grid: Option<Table>,
    #[serde(default)]
    report: Option<layout::LayoutFile>,
    #[serde(default)]
    search: Option<Search>,
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
            Some(Value::Table(t)) => {
                let grid = parse_grid(t, file)?;
                grid.check_count(file)?;
                grid
            }
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
        let search = match base.remove("search") {
            None => None,
            Some(v) => {
                let s = Search::deserialize(v).map_err(|e| {
                    Error::config(
                        file,
                        "search",
                        format!("{e} (see `[search]` in the README)"),
                    )
                })?;
                s.check(file)?;
                Some(s)
            }
        };
        let exp = Experiment {
            name,
            file: file.to_path_buf(),
            text: text.to_string(),
            base,
            grid,
            report,
            search,
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
        check_model_fits(&config).map_err(|(key, m)| Error::config(&self.file, key, at(m)))?;
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

    /// The layout of the tables for `jobs` (defaults filled in, every key checked): checks
    /// `[report]` before a sweep runs, and lays out its summary after.
    pub fn layout(&self, jobs: &[Job]) -> Result<Layout> {
        layout::resolve(&self.report, &self.varying_keys(jobs), jobs, &self.file)
    }

    /// Each distinct network of the grid, at the first job that gives it, labelled by the grid
    /// keys whose values tell those jobs apart (a grid of one network, or a plain config, gives
    /// one network under an empty label). For `ser model summary`.
    pub fn models(&self) -> Result<Vec<(Point, NetConfig)>> {
        let mut distinct: Vec<(Job, NetConfig)> = Vec::new();
        for job in self.jobs()? {
            let c = &job.config;
            let shape =
                Extractor::new(&c.features, c.audio.sample_rate)?.input_shape(c.audio.max_samples);
            let classes = corpus::classes_of(&c.data)?;
            let net = NetConfig::from_section(&c.model, &shape, classes.len())?;
            if !distinct
                .iter()
                .any(|(_, n)| n.to_string() == net.to_string())
            {
                distinct.push((job, net));
            }
        }
        let jobs: Vec<Job> = distinct.iter().map(|(j, _)| j.clone()).collect();
        let keys = self.varying_keys(&jobs);
        Ok(distinct
            .into_iter()
            .map(|(job, net)| {
                let label = keys
                    .iter()
                    .filter_map(|k| value_of(&job, k).map(|v| (k.clone(), v)))
                    .collect();
                (label, net)
            })
            .collect())
    }

    /// Copies the file, as run, into the results folder `dir` (for `ser report`).
    pub fn write_copy(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        atomic::write(&dir.join(COPY), self.text.as_bytes())
    }

    /// The experiment whose copy the results folder `dir` holds, if any.
    pub fn read_copy(dir: &Path) -> Result<Option<Experiment>> {
        let path = dir.join(COPY);
        if !path.is_file() {
            return Ok(None);
        }
        Experiment::from_file(&path).map(Some)
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

/// A model that collapses for its input (too many pooling layers for the frames), or that would
/// need more parameters or activation memory than the limits allow (`model::check_size`, at the
/// configured batch size), is an impossible value of the experiment: found here, before anything
/// runs. The error is the key to change and the message.
fn check_model_fits(config: &Config) -> std::result::Result<(), (&'static str, String)> {
    let extractor = Extractor::new(&config.features, config.audio.sample_rate)
        .map_err(|e| ("features", e.to_string()))?;
    let shape = extractor.input_shape(config.audio.max_samples);
    // The class count only sizes the output layer; 2 until the corpus is read.
    check_size(&config.model, &shape, 2, config.train.batch_size)?;
    NetConfig::check_section(&config.model, &shape).map_err(|e| match e {
        Error::Model(m) => ("model", m),
        other => ("model", other.to_string()),
    })
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
