//! [`Summary`]: an experiment's results folder read back and aggregated, one [`Row`] per grid
//! point without its seeds (mean ± sample standard deviation over the seeds, and n).
//!
//! The experiment's copy in the folder says which jobs belong (directories of older grids are
//! left out and counted, jobs not run yet are listed) and lays the rows out; without it (a folder
//! of run directories made by hand) the keys that differ between the runs' configs are the grid.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use toml::{Table, Value};

use crate::base::{Error, Result};
use crate::config::Config;
use crate::eval::stats::{self, Interval};
use crate::eval::{GroupScore, GroupScores, Predictions};
use crate::experiment::search::read_cuts;
use crate::experiment::Cut;
use crate::experiment::{config_value, layout, leaves, value_of, Experiment, Job, Layout, Point};
use crate::rundir::{JobState, RunDir};
use crate::split::Facts;

/// One job and what its directory holds.
#[derive(Debug, Clone)]
pub struct JobResult {
    pub job: Job,
    pub state: JobState,
    /// The numbers of `metrics.json` (done jobs).
    pub metrics: BTreeMap<String, f64>,
    /// Accuracy and F1 per demographic group (done jobs on corpora with demographics).
    pub groups: GroupScores,
    /// What the split's parts share, as the run recorded it (done jobs of this `ser`).
    pub facts: Option<Facts>,
    /// Accuracy and F1 on other corpora (`[eval] corpora`), by corpus name.
    pub other_corpora: BTreeMap<String, GroupScore>,
    /// The run's test predictions (done runs that wrote `predictions.csv`).
    pub predictions: Option<Predictions>,
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
    /// 95% speaker-bootstrap interval of the mean accuracy over the done runs with predictions
    /// (`ci_runs` of them).
    pub accuracy_ci: Option<Interval>,
    pub ci_runs: usize,
    /// Runs done, failed, stopped by successive halving, not run yet.
    pub done: usize,
    pub failed: usize,
    pub halted: usize,
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
    /// Grid points stopped by successive halving (`[search]`), in the order they were cut.
    pub cuts: Vec<Cut>,
    /// In table order (first appearance in the grid).
    pub rows: Vec<Row>,
    /// Job directories in the folder that are not in the grid (an older version of it).
    pub stale: usize,
}

impl Summary {
    /// Jobs in each state: done, failed, stopped by successive halving, other (pending,
    /// started, running).
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let count =
            |of: &dyn Fn(&JobState) -> bool| self.jobs.iter().filter(|j| of(&j.state)).count();
        let done = count(&|st| *st == JobState::Done);
        let failed = count(&|st| matches!(st, JobState::Failed(_)));
        let halted = count(&|st| matches!(st, JobState::Halted(_)));
        (
            done,
            failed,
            halted,
            self.jobs.len() - done - failed - halted,
        )
    }
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
    let (jobs, grid_keys, report_table, origin) = if let Some(exp) = Experiment::read_copy(dir)? {
        let jobs = exp.jobs()?;
        let keys = exp.varying_keys(&jobs);
        (jobs, keys, exp.report.clone(), exp.file.clone())
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
    let layout = layout::resolve(&report_table, &grid_keys, &jobs, &origin)?;
    let in_grid: HashSet<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
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
            let run = RunDir::new(dir.join(&job.id));
            let state = run.state();
            let done = state == JobState::Done;
            Ok(JobResult {
                job,
                metrics: if done {
                    run.read_metrics()?
                } else {
                    BTreeMap::new()
                },
                groups: if done {
                    run.read_groups()?
                } else {
                    GroupScores::new()
                },
                facts: if done { run.read_split_facts()? } else { None },
                other_corpora: if done {
                    run.read_other_corpora()?
                } else {
                    BTreeMap::new()
                },
                // A damaged file costs the interval, never the report.
                predictions: if done {
                    run.read_predictions().unwrap_or_else(|e| {
                        tracing::warn!("{e}: left out of the accuracy interval");
                        None
                    })
                } else {
                    None
                },
                state,
            })
        })
        .collect::<Result<_>>()?;
    let mut layout = layout;
    // CREMA-D's listeners on the same test clips, beside the model, unless metrics were chosen.
    let human = "human_accuracy".to_string();
    if !layout.metrics_given
        && !layout.metrics.contains(&human)
        && results.iter().any(|j| j.metrics.contains_key(&human))
    {
        let at = layout
            .metrics
            .iter()
            .position(|m| m == "accuracy")
            .map_or(0, |p| p + 1);
        layout.metrics.insert(at, human);
    }
    let rows = aggregate(&results, &layout);
    let fixed = fixed_settings(&results, &grid_keys);
    Ok(Summary {
        name,
        dir: dir.to_path_buf(),
        layout,
        fixed,
        jobs: results,
        cuts: read_cuts(dir)?,
        rows,
        stale,
    })
}

/// The subdirectories of `dir` that are run directories (hold a config or a job's files).
fn run_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let p = entry.map_err(|e| Error::io(dir, e))?.path();
        if RunDir::new(&p).looks_like_run() {
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
        let run = RunDir::new(&d);
        if !run.has_config() {
            continue;
        }
        jobs.push(Job {
            id: d
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            point: Point::new(),
            config: run.read_config()?,
        });
    }
    if jobs.is_empty() {
        return Err(Error::Usage(format!(
            "{}: holds no run directories and no copy of an experiment file: is this a \
             results folder of `ser sweep`?",
            dir.display()
        )));
    }
    Ok(jobs)
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

/// Groups the jobs into rows (every non-seed key fixed), in order of first appearance.
fn aggregate(jobs: &[JobResult], layout: &Layout) -> Vec<Row> {
    let key_of = |j: &Job, keys: &[String]| -> Vec<Value> {
        keys.iter()
            .map(|k| value_of(j, k).unwrap_or_else(|| Value::String("—".into())))
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
            let count =
                |of: &dyn Fn(&JobState) -> bool| group.iter().filter(|j| of(&j.state)).count();
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
            let mut speakers = Vec::new();
            let by_speaker: Vec<_> = done
                .iter()
                .filter_map(|j| j.predictions.as_ref())
                .filter_map(|p| stats::speaker_counts(p, &mut speakers))
                .collect();
            let accuracy_ci = stats::speaker_bootstrap_accuracy(
                &by_speaker,
                speakers.len(),
                super::compare::RESAMPLES,
                super::compare::BOOTSTRAP_SEED,
            );
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
                                .all(|(k, v)| value_of(first, k).as_ref() == Some(v))
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
                accuracy_ci,
                ci_runs: by_speaker.len(),
                done: done.len(),
                failed: count(&|st| matches!(st, JobState::Failed(_))),
                halted: count(&|st| matches!(st, JobState::Halted(_))),
                pending: count(&|st| {
                    !matches!(
                        st,
                        JobState::Done | JobState::Failed(_) | JobState::Halted(_)
                    )
                }),
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
