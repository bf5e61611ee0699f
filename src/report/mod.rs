//! Aggregation: an experiment's results folder → comparison tables (`summary.md`, `summary.csv`).
//!
//! A results folder holds one directory per job (`metrics.json` when done, `error.txt` when
//! failed) and `experiment.toml`, the experiment file as run. The grid of that file says which
//! jobs belong (directories of older grids are left out, jobs not run yet are listed) and its
//! `[report]` table lays the tables out:
//!
//! ```toml
//! [report]
//! rows = ["model.filters"]                    # default: the grid keys that vary, but seeds
//! tables_by = ["model.kind", "train.epochs"]  # one table per value; default: one table
//! metrics = ["accuracy", "f1_macro"]          # default: all of METRICS
//! seeds = ["train.seed"]                      # averaged over; default: varying `*.seed` keys
//! note = "free text printed under the title"
//!
//! [[report.reference]]                        # published numbers, shown beside ours
//! "model.filters" = [512, 512, 128]           # dotted keys: which rows it is for
//! "train.epochs" = 30
//! accuracy = 0.486789                         # metric names: the values
//! f1_macro = 0.471517
//! ```
//!
//! One row per grid point (every varying key but the seeds fixed): mean ± sample standard
//! deviation (n − 1) over the seeds, and n. Without `experiment.toml` (a folder of run
//! directories made by hand) the keys that differ between the runs' `config.toml` are the grid.
//!
//! [`write`] puts beside the tables, per table, a bar chart of accuracy and F-score per grid
//! point and a line chart of validation accuracy by epoch ([`charts`]), linked from
//! `summary.md`; with `html` also `report.html`, one self-contained page ([`html`]).

pub mod charts;
pub mod html;
mod table;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::{Table, Value};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::job::METRICS_FILE;
use crate::runner::grid::{self, config_value, Experiment, Job, Point};
use crate::runner::{JobState, EXPERIMENT_FILE};

pub use table::{
    blocks, compare_csv, compare_markdown, csv, markdown, markdown_with_charts, render_markdown,
    Block, TableCharts,
};

/// The metrics a table can show: name in `metrics.json` and `[report].metrics`, column head,
/// decimals.
pub const METRICS: [(&str, &str, usize); 6] = [
    ("accuracy", "acc", 4),
    ("f1_macro", "f-score (macro F1)", 4),
    ("f1_weighted", "weighted F1", 4),
    ("best_epoch", "best val epoch", 1),
    ("epochs_run", "epochs run", 1),
    ("train_seconds", "train s", 1),
];

/// Shown when `[report].metrics` is not set.
pub const DEFAULT_METRICS: [&str; 5] = [
    "accuracy",
    "f1_macro",
    "f1_weighted",
    "best_epoch",
    "train_seconds",
];

/// `[report]`, as written (also parsed with the whole experiment file, for `toml`'s errors).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LayoutFile {
    rows: Option<Vec<String>>,
    #[serde(default)]
    tables_by: Vec<String>,
    metrics: Option<Vec<String>>,
    seeds: Option<Vec<String>>,
    note: Option<String>,
    #[serde(default)]
    reference: Vec<Table>,
}

/// Published numbers for the rows whose keys match.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    /// Dotted keys and the values a row must have.
    pub when: Point,
    /// Metric name → published value.
    pub values: BTreeMap<String, f64>,
}

/// How an experiment's tables are laid out, resolved against its jobs.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Keys that label rows, in column order.
    pub rows: Vec<String>,
    /// Keys that split the rows into tables.
    pub tables_by: Vec<String>,
    /// Metric names, in column order.
    pub metrics: Vec<String>,
    /// Keys averaged over.
    pub seeds: Vec<String>,
    /// Printed under the title.
    pub note: Option<String>,
    /// Published numbers.
    pub references: Vec<Reference>,
}

/// One job and what its directory holds.
#[derive(Debug, Clone)]
pub struct JobResult {
    pub job: Job,
    pub state: JobState,
    /// The numbers of `metrics.json` (done jobs).
    pub metrics: BTreeMap<String, f64>,
}

/// Mean, sample standard deviation and count of one metric over a row's runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    pub mean: f64,
    /// `None` below two runs.
    pub std: Option<f64>,
    pub n: usize,
}

impl Stat {
    /// Of `values` (`None` when empty).
    pub fn of(values: &[f64]) -> Option<Stat> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let std = (n > 1).then(|| {
            let ss: f64 = values.iter().map(|v| (v - mean).powi(2)).sum();
            (ss / (n - 1) as f64).sqrt()
        });
        Some(Stat { mean, std, n })
    }
}

/// One row: a grid point without its seeds.
#[derive(Debug, Clone)]
pub struct Row {
    /// Values of the layout's `tables_by` keys.
    pub table: Vec<Value>,
    /// Values of the layout's `rows` keys.
    pub label: Vec<Value>,
    /// Per metric of the layout (same order): over the done runs.
    pub stats: Vec<Option<Stat>>,
    /// Per metric: the published value, if a reference matches.
    pub reference: Vec<Option<f64>>,
    /// One of the row's jobs (its settings are the row's).
    pub job: Job,
    /// Indices into [`Summary::jobs`] of all the row's jobs, in grid order.
    pub runs: Vec<usize>,
    /// Runs done, failed, not run yet.
    pub done: usize,
    pub failed: usize,
    pub pending: usize,
}

/// An experiment's results, aggregated.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The experiment's name (the folder's name).
    pub name: String,
    /// The results folder.
    pub dir: PathBuf,
    pub layout: Layout,
    /// Settings every job shares that differ from the report's defaults (`key = value`).
    pub fixed: Vec<(String, Value)>,
    /// Every job of the grid, in grid order.
    pub jobs: Vec<JobResult>,
    /// In table order (first appearance in the grid).
    pub rows: Vec<Row>,
    /// Job directories in the folder that are not in the grid (an older version of it).
    pub stale: usize,
}

impl Summary {
    /// Jobs in each state: done, failed, other (pending, started, running).
    pub fn counts(&self) -> (usize, usize, usize) {
        let done = self
            .jobs
            .iter()
            .filter(|j| j.state == JobState::Done)
            .count();
        let failed = self
            .jobs
            .iter()
            .filter(|j| matches!(j.state, JobState::Failed(_)))
            .count();
        (done, failed, self.jobs.len() - done - failed)
    }
}

/// The layout of `exp`'s tables for its `jobs`: checks `[report]` before a sweep runs.
pub fn layout_for(exp: &Experiment, jobs: &[Job]) -> Result<Layout> {
    layout(&exp.report, &exp.varying_keys(jobs), jobs, &exp.file)
}

/// Reads and aggregates the results folder `dir`.
pub fn load(dir: &Path) -> Result<Summary> {
    if !dir.is_dir() {
        return Err(Error::Usage(format!(
            "{}: no such results folder (ser sweep writes results/<experiment>/)",
            dir.display()
        )));
    }
    let name = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| dir.display().to_string());
    let exp_file = dir.join(EXPERIMENT_FILE);
    let (jobs, grid_keys, report_table, origin) = if exp_file.is_file() {
        let exp = Experiment::from_file(&exp_file)?;
        let jobs = exp.jobs()?;
        let keys = exp.varying_keys(&jobs);
        (jobs, keys, exp.report.clone(), exp_file.clone())
    } else {
        let jobs = jobs_from_dirs(dir)?;
        let keys = differing_keys(&jobs);
        let jobs = jobs
            .into_iter()
            .map(|mut j| {
                j.point = keys
                    .iter()
                    .filter_map(|k| config_value(&j.config, k).map(|v| (k.clone(), v)))
                    .collect();
                j
            })
            .collect();
        (jobs, keys, Table::new(), dir.to_path_buf())
    };
    let layout = layout(&report_table, &grid_keys, &jobs, &origin)?;
    let in_grid: std::collections::HashSet<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
    let stale = run_dirs(dir)?
        .iter()
        .filter(|d| {
            d.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !in_grid.contains(n))
        })
        .count();
    let results: Vec<JobResult> = jobs
        .into_iter()
        .map(|job| {
            let jd = dir.join(&job.id);
            let state = JobState::of(&jd);
            let metrics = if state == JobState::Done {
                read_metrics(&jd.join(METRICS_FILE))?
            } else {
                BTreeMap::new()
            };
            Ok(JobResult {
                job,
                state,
                metrics,
            })
        })
        .collect::<Result<_>>()?;
    let rows = aggregate(&results, &layout);
    let fixed = fixed_settings(&results, &grid_keys);
    Ok(Summary {
        name,
        dir: dir.to_path_buf(),
        layout,
        fixed,
        jobs: results,
        rows,
        stale,
    })
}

/// What [`write`] wrote.
#[derive(Debug, Clone)]
pub struct Written {
    /// `summary.md`.
    pub markdown: String,
    /// The charts per table (file names in the folder).
    pub charts: Vec<TableCharts>,
    /// `report.html`, when asked for.
    pub html: Option<PathBuf>,
    /// What was left out and why (a run's missing `history.csv`, an unreadable picture): the
    /// report is complete otherwise.
    pub warnings: Vec<String>,
}

/// The self-contained page [`write`] writes with `html`.
pub const HTML_FILE: &str = "report.html";

/// Writes the charts, `summary.md` (linking them) and `summary.csv` into the summary's folder,
/// and with `html` also `report.html`. Every file is written atomically. A chart or picture
/// that cannot be drawn or read is a warning, not an error: the tables matter most.
pub fn write(summary: &Summary, html: bool) -> Result<Written> {
    let (charts, mut warnings) = charts::write(summary);
    let blocks = blocks(summary, &charts);
    let md = render_markdown(&blocks);
    let w = |name: &str, text: &str| {
        crate::train::checkpoint::write_atomic(&summary.dir.join(name), text.as_bytes())
    };
    w("summary.md", &md)?;
    w("summary.csv", &csv(summary))?;
    let html = if html {
        let (page, more) = html::render(summary, &blocks);
        warnings.extend(more);
        w(HTML_FILE, &page)?;
        Some(summary.dir.join(HTML_FILE))
    } else {
        None
    };
    Ok(Written {
        markdown: md,
        charts,
        html,
        warnings,
    })
}

fn read_metrics(path: &Path) -> Result<BTreeMap<String, f64>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::Usage(format!("{}: not a metrics file: {e}", path.display())))?;
    Ok(v.as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_f64().map(|x| (k.clone(), x)))
                .collect()
        })
        .unwrap_or_default())
}

/// The subdirectories of `dir` that are run directories (hold `config.toml` or a job's files).
fn run_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let p = entry.map_err(|e| Error::io(dir, e))?.path();
        let is_run = [
            "config.toml",
            METRICS_FILE,
            crate::runner::state::ERROR_FILE,
        ]
        .iter()
        .any(|f| p.join(f).is_file());
        if p.is_dir() && is_run {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// Jobs of a folder without `experiment.toml`: each run directory with its `config.toml`.
fn jobs_from_dirs(dir: &Path) -> Result<Vec<Job>> {
    let mut jobs = Vec::new();
    for d in run_dirs(dir)? {
        let cfg = d.join("config.toml");
        if !cfg.is_file() {
            continue;
        }
        jobs.push(Job {
            id: d
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            point: Point::new(),
            config: Config::from_file(&cfg)?,
        });
    }
    if jobs.is_empty() {
        return Err(Error::Usage(format!(
            "{}: no run directories (with config.toml) and no {EXPERIMENT_FILE}: is this a \
             results folder of `ser sweep`?",
            dir.display()
        )));
    }
    Ok(jobs)
}

/// Every dotted leaf of a config (arrays are leaves).
fn leaves(config: &Config) -> Vec<(String, Value)> {
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

/// Where the runs run never makes them different experiments.
const NOT_SETTINGS: [&str; 2] = ["train.backend", "train.device"];

/// Keys whose values differ between the jobs' configs.
fn differing_keys(jobs: &[Job]) -> Vec<String> {
    let Some(first) = jobs.first() else {
        return Vec::new();
    };
    let all: Vec<Vec<(String, Value)>> = jobs.iter().map(|j| leaves(&j.config)).collect();
    let mut keys: Vec<String> = leaves(&first.config)
        .into_iter()
        .map(|(k, _)| k)
        .chain(all.iter().flatten().map(|(k, _)| k.clone()))
        .filter(|k| !NOT_SETTINGS.contains(&k.as_str()))
        .collect();
    let mut seen = std::collections::HashSet::new();
    keys.retain(|k| seen.insert(k.clone()));
    keys.retain(|k| {
        let vals: Vec<Option<Value>> = jobs.iter().map(|j| config_value(&j.config, k)).collect();
        vals.iter().any(|v| *v != vals[0])
    });
    keys
}

/// Settings all jobs share that differ from the defaults (what the reader should know).
fn fixed_settings(jobs: &[JobResult], varying: &[String]) -> Vec<(String, Value)> {
    let Some(first) = jobs.first() else {
        return Vec::new();
    };
    let defaults: BTreeMap<String, Value> = leaves(&Config::default()).into_iter().collect();
    leaves(&first.job.config)
        .into_iter()
        .filter(|(k, v)| {
            !varying.contains(k)
                && !NOT_SETTINGS.contains(&k.as_str())
                && defaults.get(k) != Some(v)
                && jobs
                    .iter()
                    .all(|j| config_value(&j.job.config, k).as_ref() == Some(v))
        })
        .collect()
}

/// Resolves `[report]` against the grid: defaults, and checks that name the key.
fn layout(t: &Table, grid_keys: &[String], jobs: &[Job], origin: &Path) -> Result<Layout> {
    let file: LayoutFile = t.clone().try_into().map_err(|e: toml::de::Error| {
        let key = e
            .message()
            .split('`')
            .nth(1)
            .map_or_else(|| "report".to_string(), |k| format!("report.{k}"));
        Error::config(origin, key, e.message().trim_end().to_string())
    })?;
    let bad = |key: &str, msg: String| Err(Error::config(origin, key, msg));
    let known = |k: &str| {
        grid_keys.iter().any(|g| g == k) || jobs.iter().any(|j| grid::value_of(j, k).is_some())
    };
    let seeds = file.seeds.clone().unwrap_or_else(|| {
        grid_keys
            .iter()
            // The split's seed too: the report's protocol draws split and weights from one seed
            // (`random_state`), so both vary together; to compare splits, name it in `rows`.
            .filter(|k| {
                k.ends_with(".seed")
                    && !file.rows.iter().flatten().any(|r| r == *k)
                    && !file.tables_by.contains(k)
            })
            .cloned()
            .collect()
    });
    for (what, keys) in [
        ("report.rows", file.rows.as_deref().unwrap_or(&[])),
        ("report.tables_by", &file.tables_by[..]),
        ("report.seeds", &seeds[..]),
    ] {
        if let Some(k) = keys.iter().find(|k| !known(k)) {
            return bad(
                what,
                format!("`{k}` is not a key of the config (write dotted keys such as \"model.filters\")"),
            );
        }
    }
    let tables_by = file.tables_by.clone();
    let mut rows = file.rows.clone().unwrap_or_default();
    // Every varying key that is neither a seed nor a table key labels rows: never average over
    // a setting silently.
    for k in grid_keys {
        if !seeds.contains(k) && !tables_by.contains(k) && !rows.contains(k) {
            rows.push(k.clone());
        }
    }
    let metrics: Vec<String> = file
        .metrics
        .clone()
        .unwrap_or_else(|| DEFAULT_METRICS.iter().map(|s| s.to_string()).collect());
    let names: Vec<&str> = METRICS.iter().map(|m| m.0).collect();
    if let Some(m) = metrics.iter().find(|m| !names.contains(&m.as_str())) {
        return bad(
            "report.metrics",
            format!(
                "unknown metric `{m}`: expected some of {}",
                names.join(", ")
            ),
        );
    }
    let mut references = Vec::new();
    for (i, r) in file.reference.iter().enumerate() {
        let mut reference = Reference {
            when: Point::new(),
            values: BTreeMap::new(),
        };
        for (k, v) in flatten(r) {
            if k.contains('.') {
                if !known(&k) {
                    return bad(
                        &format!("report.reference[{i}].\"{k}\""),
                        "is not a key of the config".into(),
                    );
                }
                reference.when.insert(k, v);
            } else if names.contains(&k.as_str()) {
                let x = v.as_float().or_else(|| v.as_integer().map(|i| i as f64));
                match x {
                    Some(x) => {
                        reference.values.insert(k, x);
                    }
                    None => {
                        return bad(
                            &format!("report.reference[{i}].{k}"),
                            format!("expected a number, got {v}"),
                        )
                    }
                }
            } else {
                return bad(
                    &format!("report.reference[{i}].{k}"),
                    format!(
                        "expected a dotted config key (\"train.epochs\") or a metric ({})",
                        names.join(", ")
                    ),
                );
            }
        }
        references.push(reference);
    }
    Ok(Layout {
        rows,
        tables_by,
        metrics,
        seeds,
        note: file.note,
        references,
    })
}

/// `[[report.reference]]` tables may nest (`model.filters` unquoted makes a table).
fn flatten(t: &Table) -> Vec<(String, Value)> {
    fn walk(prefix: &str, t: &Table, out: &mut Vec<(String, Value)>) {
        for (k, v) in t {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                Value::Table(inner) => walk(&key, inner, out),
                other => out.push((key, other.clone())),
            }
        }
    }
    let mut out = Vec::new();
    walk("", t, &mut out);
    out
}

/// Groups the jobs into rows (every non-seed key fixed), in order of first appearance.
fn aggregate(jobs: &[JobResult], layout: &Layout) -> Vec<Row> {
    let key_of = |j: &Job, keys: &[String]| -> Vec<Value> {
        keys.iter()
            .map(|k| grid::value_of(j, k).unwrap_or_else(|| Value::String("—".into())))
            .collect()
    };
    let mut order: Vec<(Vec<Value>, Vec<Value>)> = Vec::new();
    let mut members: Vec<Vec<(usize, &JobResult)>> = Vec::new();
    for (i, j) in jobs.iter().enumerate() {
        let k = (
            key_of(&j.job, &layout.tables_by),
            key_of(&j.job, &layout.rows),
        );
        match order.iter().position(|o| *o == k) {
            Some(at) => members[at].push((i, j)),
            None => {
                order.push(k);
                members.push(vec![(i, j)]);
            }
        }
    }
    // Tables in order of first appearance, rows in order within each.
    let mut tables: Vec<Vec<Value>> = Vec::new();
    for (t, _) in &order {
        if !tables.contains(t) {
            tables.push(t.clone());
        }
    }
    let mut rows = Vec::new();
    for t in &tables {
        for ((tk, label), indexed) in order.iter().zip(&members).filter(|((tk, _), _)| tk == t) {
            let group: Vec<&JobResult> = indexed.iter().map(|(_, j)| *j).collect();
            let done: Vec<&&JobResult> =
                group.iter().filter(|j| j.state == JobState::Done).collect();
            let stats = layout
                .metrics
                .iter()
                .map(|m| {
                    let vals: Vec<f64> = done
                        .iter()
                        .filter_map(|j| j.metrics.get(m).copied())
                        .collect();
                    Stat::of(&vals)
                })
                .collect();
            let first = &group[0].job;
            let reference = layout
                .metrics
                .iter()
                .map(|m| {
                    layout
                        .references
                        .iter()
                        .find(|r| {
                            r.when
                                .iter()
                                .all(|(k, v)| grid::value_of(first, k).as_ref() == Some(v))
                        })
                        .and_then(|r| r.values.get(m).copied())
                })
                .collect();
            rows.push(Row {
                job: first.clone(),
                runs: indexed.iter().map(|(i, _)| *i).collect(),
                table: tk.clone(),
                label: label.clone(),
                stats,
                reference,
                done: done.len(),
                failed: group
                    .iter()
                    .filter(|j| matches!(j.state, JobState::Failed(_)))
                    .count(),
                pending: group.len()
                    - done.len()
                    - group
                        .iter()
                        .filter(|j| matches!(j.state, JobState::Failed(_)))
                        .count(),
            });
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_std() {
        let s = Stat::of(&[0.5, 0.6, 0.7]).unwrap();
        assert!((s.mean - 0.6).abs() < 1e-12);
        assert!((s.std.unwrap() - 0.1).abs() < 1e-12);
        assert_eq!(s.n, 3);
        assert_eq!(Stat::of(&[0.5]).unwrap().std, None);
        assert_eq!(Stat::of(&[]), None);
    }
}
