//! Shared epoch prefixes: jobs that differ only in `train.epochs` train once.
//!
//! Training is a fold over epochs whose state (weights, optimizer moments, best-epoch and
//! early-stopping bookkeeping, history) is the checkpoint, and every random draw comes from a
//! stream seeded by (seed, epoch, step). So the 60-epoch job of a grid that also has a 30-epoch
//! job with the same everything else can start from the 30-epoch job's epoch-30 checkpoint: what
//! it computes from there is what it would have computed alone, bit for bit on CPU. Early
//! stopping qualifies (its decision at epoch k reads epochs 1..k only); a learning-rate schedule
//! that spans the run does not (30 and 60 epochs change the rate of every step), and neither does
//! anything else that reads the epoch count, so those jobs train alone and `--dry-run` says why.
//!
//! A chain (jobs of one config in ascending epochs) is one unit of work: a worker runs it in
//! order, and under Slurm it is one array task, so no task waits on another's checkpoint.

use std::collections::BTreeMap;

use crate::config::{Config, Overrides};
use crate::experiment::Job;

/// How the jobs of a sweep share their training.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Chains {
    /// Units of work, in grid order of their first job: job indices (into the slice given) in
    /// ascending `train.epochs`; a job that shares with none is a unit of one.
    pub units: Vec<Vec<usize>>,
    /// For each job, the job whose checkpoint it continues from (the next shorter one of its
    /// chain).
    pub source: Vec<Option<usize>>,
    /// Jobs that differ only in `train.epochs` but each train alone, with why.
    pub alone: Vec<(Vec<usize>, String)>,
}

impl Chains {
    /// The epochs job `i` trains itself: all of them, or those after its source's.
    pub fn epochs_trained(&self, jobs: &[Job], i: usize) -> usize {
        let own = jobs[i].config.train.epochs;
        self.source[i].map_or(own, |s| own - jobs[s].config.train.epochs)
    }
}

/// Groups `jobs` (configs as `overrides` resolve them) into chains.
pub fn chains(jobs: &[Job], overrides: &Overrides) -> Chains {
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        let key = key_of(&overrides.apply(&job.config));
        let members = groups.entry(key.clone()).or_default();
        if members.is_empty() {
            order.push(key);
        }
        members.push(i);
    }
    let mut out = Chains {
        units: Vec::new(),
        source: vec![None; jobs.len()],
        alone: Vec::new(),
    };
    for key in order {
        let mut members = groups.remove(&key).unwrap_or_default();
        let config = overrides.apply(&jobs[members[0]].config);
        match (members.len(), why_alone(&config)) {
            (1, _) => out.units.push(members),
            (_, Some(why)) => {
                out.alone.push((members.clone(), why));
                out.units.extend(members.into_iter().map(|i| vec![i]));
            }
            (_, None) => {
                members.sort_by_key(|&i| (jobs[i].config.train.epochs, i));
                for pair in members.windows(2) {
                    out.source[pair[1]] = Some(pair[0]);
                }
                out.units.push(members);
            }
        }
    }
    out
}

/// Why jobs of `config` that differ only in `train.epochs` cannot share their training, if they
/// cannot: what in the config reads the total epoch count.
pub fn why_alone(config: &Config) -> Option<String> {
    let t = &config.train;
    t.depends_on_total_epochs().then(|| {
        let name = serde_json::to_value(t.schedule)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        format!(
            "train.schedule = {name:?} spans train.epochs (the rate of every step depends on it)"
        )
    })
}

/// Everything that decides a job's result except `train.epochs`.
fn key_of(config: &Config) -> String {
    let mut c = config.clone();
    c.train.epochs = 0;
    serde_json::to_string(&c).unwrap_or_default()
}

/// The dry run's summary line: epochs trained with shared prefixes against training each job
/// alone, over `todo` (indices of the jobs not done).
pub fn savings_line(jobs: &[Job], chains: &Chains, todo: &[usize]) -> Option<String> {
    let alone: usize = todo.iter().map(|&i| jobs[i].config.train.epochs).sum();
    let shared: usize = todo.iter().map(|&i| chains.epochs_trained(jobs, i)).sum();
    (alone > shared).then(|| {
        format!(
            "epochs to train: {shared} with shared prefixes, {alone} alone ({} saved, {:.0} %)\n",
            alone - shared,
            100.0 * (alone - shared) as f64 / alone as f64
        )
    })
}
