//! `ser bench sweep`: what users feel, a whole sweep's wall time, cold, beside the peer doing the
//! same trainings in the same run.
//!
//! The sweep is `experiments/bench-sweep.toml` (embedded): the report's 1D CNN over three filter
//! sets × seeds 0, 1, 2, 20 epochs, on the EmoDB dev set. Ours runs in-process through the runner
//! exactly as `ser sweep` does (feature extraction into an empty cache, the jobs, the summary),
//! once per setup (`--jobs` × `--threads` per job), each in a fresh folder. The peer runs the way
//! its README does: `features.py` (librosa, always from scratch) then one Python process per
//! filter set training its seeds (`scripts/peer_sweep_1d.py`, the peer's `run_1d.py` with the
//! filters as an option). Ratio = peer wall time / ours (> 1: ser is faster).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::time::Instant;

use serde::Serialize;

use crate::base::{Error, Result};
use crate::cache::CacheOptions;
use crate::experiment::{Experiment, Job};
use crate::job::JobOptions;
use crate::rundir::RunDir;
use crate::runner::{self, LocalTrainer, SweepOptions, Trainer};

/// The benchmark's experiment file.
pub const EXPERIMENT: &str = include_str!("../../experiments/bench-sweep.toml");

const PEER_SCRIPT: &str = include_str!("../../scripts/peer_sweep_1d.py");

/// Result-file prefix of the peer's runs (kept apart from its own `dev_` results).
const PEER_PREFIX: &str = "sersweep_";

/// Jobs at once × rayon threads per job (`None`: the jobs share the global pool).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Setup {
    pub jobs: usize,
    pub threads: Option<usize>,
}

impl std::fmt::Display for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.threads {
            Some(t) => write!(f, "--jobs {} --threads {t}", self.jobs),
            None => write!(f, "--jobs {}", self.jobs),
        }
    }
}

impl FromStr for Setup {
    type Err = String;

    /// `2x1` (2 jobs, 1 thread each) or `1` (1 job, all cores).
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let bad = || format!("`{s}`: expected JOBS or JOBSxTHREADS, e.g. 1 or 2x1");
        let num = |t: &str| t.trim().parse::<usize>().ok().filter(|&n| n > 0);
        match s.split_once('x') {
            Some((j, t)) => Ok(Setup {
                jobs: num(j).ok_or_else(bad)?,
                threads: Some(num(t).ok_or_else(bad)?),
            }),
            None => Ok(Setup {
                jobs: num(s).ok_or_else(bad)?,
                threads: None,
            }),
        }
    }
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct SweepBench {
    /// The EmoDB folder (`../shared/data/emodb/wav`).
    pub corpus: PathBuf,
    /// Epochs of every training (the file's 20 when `None`).
    pub epochs: Option<usize>,
    /// Our setups, each timed cold in turn.
    pub setups: Vec<Setup>,
    /// The peer's folder (with `.venv` and `.data/emodb/wav`); `None`: ours only.
    pub peer: Option<PathBuf>,
    /// Where the runs go (kept); `None`: a temporary folder, removed afterwards.
    pub work: Option<PathBuf>,
}

/// One side's timing.
#[derive(Debug, Clone, Serialize)]
pub struct SideResult {
    /// `ser --jobs 2 --threads 1` or `peer (librosa + Keras)`.
    pub who: String,
    /// Feature extraction, cold.
    pub features_s: f64,
    /// The trainings (ours: jobs and the summary; the peer: its processes, start-up included).
    pub trainings_s: f64,
    /// `features_s + trainings_s`.
    pub total_s: f64,
    /// Mean test accuracy over the seeds per filter set, e.g. `512,512,128`.
    pub accuracy: BTreeMap<String, f64>,
    /// `/proc/loadavg` (1 min) before and after.
    pub load_avg: [Option<f64>; 2],
}

/// The benchmark's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct SweepBenchResult {
    pub trainings: usize,
    pub epochs: usize,
    pub clips: String,
    pub ours: Vec<SideResult>,
    pub peer: Option<SideResult>,
    pub peer_error: Option<String>,
    /// Peer total / ours total, per setup (> 1: ser is faster).
    pub ratios: Vec<Option<f64>>,
}

/// The filter set of a job as a label: `512,512,128`.
fn filters_label(job: &Job) -> String {
    let f: Vec<String> = job
        .config
        .model
        .filters
        .iter()
        .map(|f| f.to_string())
        .collect();
    f.join(",")
}

/// The benchmark's jobs, for `corpus` and `epochs`.
fn jobs(bench: &SweepBench) -> Result<(Experiment, Vec<Job>)> {
    let exp = Experiment::from_toml(
        EXPERIMENT,
        Path::new("experiments/bench-sweep.toml"),
        "bench-sweep".into(),
    )?;
    let mut jobs = exp.jobs()?;
    for j in &mut jobs {
        j.config.data.path = bench.corpus.clone();
        if let Some(e) = bench.epochs {
            j.config.train.epochs = e;
        }
        if j.config.split.seed != j.config.train.seed {
            // The peer draws split and weights from one seed; the file must pair them too.
            return Err(Error::config(
                "experiments/bench-sweep.toml",
                "split.seed",
                format!(
                    "job {}: split.seed {} ≠ train.seed {} (the peer draws both from one seed)",
                    j.id, j.config.split.seed, j.config.train.seed
                ),
            ));
        }
    }
    Ok((exp, jobs))
}

/// Runs every setup, then the peer.
pub fn run(bench: &SweepBench) -> Result<SweepBenchResult> {
    if bench.epochs.is_some_and(|e| e < 2) {
        // The peer's run_seeds reports the median epoch time after the first: it needs two.
        return Err(Error::Usage("--epochs must be at least 2".into()));
    }
    if bench.setups.is_empty() {
        return Err(Error::Usage("no --setup given".into()));
    }
    let (exp, jobs) = jobs(bench)?;
    let temp = bench.work.is_none();
    let work = bench.work.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("ser-bench-sweep-{}", std::process::id()))
    });
    let peer_problem = bench
        .peer
        .as_deref()
        .map(peer_missing)
        .unwrap_or_else(|| Some("peer not run (--no-peer)".to_string()));
    let mut ours = Vec::new();
    for (i, setup) in bench.setups.iter().enumerate() {
        let dir = work.join(format!("ser-{i}"));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        let r = time_ours(&exp, &jobs, *setup, &dir);
        if temp {
            let _ = std::fs::remove_dir_all(&dir);
        }
        ours.push(r?);
    }
    let (peer, peer_error) = match (&bench.peer, peer_problem) {
        (Some(dir), None) => match time_peer(dir, &jobs) {
            Ok(p) => (Some(p), None),
            Err(e) => (None, Some(e.to_string())),
        },
        (_, problem) => (None, problem),
    };
    if temp {
        let _ = std::fs::remove_dir_all(&work);
    }
    let ratios = ours
        .iter()
        .map(|o| peer.as_ref().map(|p| p.total_s / o.total_s))
        .collect();
    Ok(SweepBenchResult {
        trainings: jobs.len(),
        epochs: jobs.first().map_or(0, |j| j.config.train.epochs),
        clips: bench.corpus.display().to_string(),
        ours,
        peer,
        peer_error,
        ratios,
    })
}

/// Our sweep in `dir` (empty cache): features first (timed apart), then the jobs and the summary,
/// as `ser sweep` runs them.
fn time_ours(exp: &Experiment, jobs: &[Job], setup: Setup, dir: &Path) -> Result<SideResult> {
    let load0 = super::load_avg();
    let trainer = LocalTrainer {
        options: JobOptions {
            cache: CacheOptions {
                dir: dir.join("cache"),
                skip_bad: false,
                gpu: None,
            },
            quiet: true,
            label: None,
        },
    };
    let out = dir.join(&exp.name);
    let t = Instant::now();
    // The sweep would prepare them itself; done here first only to time the two phases apart.
    if let Some(j) = jobs.first() {
        trainer.prepare(&j.config)?;
    }
    let features_s = t.elapsed().as_secs_f64();
    let opts = SweepOptions {
        jobs: Some(setup.jobs),
        threads: setup.threads,
        ..SweepOptions::new(&out)
    };
    let outcome = runner::sweep(exp, jobs, &trainer, &opts)?;
    if let Some((id, message)) = outcome.failed.first() {
        return Err(Error::job(id, format!("failed in bench sweep: {message}")));
    }
    crate::report::write(&crate::report::load(&out)?, false)?;
    let total_s = t.elapsed().as_secs_f64();
    let mut acc: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for j in jobs {
        let metrics = RunDir::new(out.join(&j.id)).read_metrics()?;
        if let Some(&a) = metrics.get("accuracy") {
            acc.entry(filters_label(j)).or_default().push(a);
        }
    }
    Ok(SideResult {
        who: format!("ser {setup}"),
        features_s,
        trainings_s: total_s - features_s,
        total_s,
        accuracy: acc.into_iter().map(|(k, v)| (k, mean(&v))).collect(),
        load_avg: [load0, super::load_avg()],
    })
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// Why the peer in `dir` cannot run, or `None` when it can.
fn peer_missing(dir: &Path) -> Option<String> {
    let checks = [
        (dir.join(".venv/bin/python"), "its Python environment"),
        (dir.join("features.py"), "features.py"),
        (dir.join(".data/emodb/wav"), "its copy of the EmoDB clips"),
    ];
    checks.iter().find(|(p, _)| !p.exists()).map(|(p, what)| {
        format!(
            "peer not run: {what} is missing ({}); set it up with `just peer-setup-train`, or pass \
             --no-peer",
            p.display()
        )
    })
}

/// The peer: `features.py` from scratch, then one process per filter set training its seeds.
fn time_peer(dir: &Path, jobs: &[Job]) -> Result<SideResult> {
    let load0 = super::load_avg();
    let python = dir.join(".venv/bin/python");
    let speakers = super::train::PEER_SPEAKERS;
    let script = std::env::temp_dir().join(format!("ser-peer-sweep-{}.py", std::process::id()));
    std::fs::write(&script, PEER_SCRIPT).map_err(|e| Error::io(&script, e))?;
    // Filter sets in the grid's order, each with its seeds.
    let mut sets: Vec<(String, Vec<u64>)> = Vec::new();
    for j in jobs {
        let label = filters_label(j);
        match sets.iter_mut().find(|(l, _)| *l == label) {
            Some((_, seeds)) => seeds.push(j.config.train.seed),
            None => sets.push((label, vec![j.config.train.seed])),
        }
    }
    let epochs = jobs
        .first()
        .map_or(0, |j| j.config.train.epochs)
        .to_string();

    let t = Instant::now();
    let features = super::run_peer(
        Command::new(&python).current_dir(dir).args([
            "features.py",
            "--speakers",
            speakers,
            "--prefix",
            PEER_PREFIX,
        ]),
        "peer features (librosa)",
    );
    let features_s = t.elapsed().as_secs_f64();
    let mut result = features.map(|_| ());
    let mut accuracy = BTreeMap::new();
    for (label, seeds) in &sets {
        if result.is_err() {
            break;
        }
        let filters: Vec<&str> = label.split(',').collect();
        let seeds: Vec<String> = seeds.iter().map(u64::to_string).collect();
        result = super::run_peer(
            Command::new(&python)
                .current_dir(dir)
                .env("SER_PEER_DIR", dir)
                .env("TF_CPP_MIN_LOG_LEVEL", "2")
                .arg(&script)
                .args(["--speakers", speakers, "--prefix", PEER_PREFIX])
                .args([
                    "--split", "random", "--epochs", &epochs, "--force", "--seeds",
                ])
                .args(&seeds)
                .arg("--filters")
                .args(&filters),
            &format!("keras 1d ({label}) × {} seeds", seeds.len()),
        )
        .and_then(|_| {
            let path = dir.join("results").join(format!(
                "{PEER_PREFIX}1d_{}_random_summary.json",
                filters.join("-")
            ));
            let v = super::read_json(&path)?;
            if let Some(a) = v["test_accuracy"]["mean"].as_f64() {
                accuracy.insert(label.clone(), a);
            }
            Ok(())
        });
    }
    let total_s = t.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&script);
    result?;
    Ok(SideResult {
        who: "peer (librosa + Keras)".into(),
        features_s,
        trainings_s: total_s - features_s,
        total_s,
        accuracy,
        load_avg: [load0, super::load_avg()],
    })
}

/// The final table, as printed and as written into the README.
pub fn table(r: &SweepBenchResult) -> String {
    let mut s = format!(
        "{} trainings × {} epochs (1D CNN, 3 filter sets × seeds 0 1 2) on {}, cold\n\n\
         | who | features s | trainings s | total s | × peer |\n|---|---|---|---|---|\n",
        r.trainings, r.epochs, r.clips
    );
    let fmt = |v: Option<f64>| v.map_or_else(|| "—".to_string(), |v| format!("{v:.2}"));
    let rows = r
        .ours
        .iter()
        .zip(r.ratios.iter().copied())
        .chain(r.peer.iter().map(|p| (p, None)));
    for (side, ratio) in rows {
        s += &format!(
            "| {} | {:.1} | {:.1} | {:.1} | {} |\n",
            side.who,
            side.features_s,
            side.trainings_s,
            side.total_s,
            fmt(ratio)
        );
    }
    s += "\n× peer = the peer's total / ours (> 1: ser is faster)\n";
    s += "\nmean test accuracy over the seeds:\n";
    for side in r.ours.iter().chain(&r.peer) {
        let acc: Vec<String> = side
            .accuracy
            .iter()
            .map(|(k, v)| format!("({k}) {v:.3}"))
            .collect();
        let load = |v: Option<f64>| v.map_or_else(|| "?".to_string(), |v| format!("{v:.2}"));
        s += &format!(
            "{}: {}; load avg {} → {}\n",
            side.who,
            acc.join(", "),
            load(side.load_avg[0]),
            load(side.load_avg[1])
        );
    }
    if let Some(e) = &r.peer_error {
        s += &format!("{e}\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setups_parse() {
        assert_eq!(
            "2x1".parse::<Setup>(),
            Ok(Setup {
                jobs: 2,
                threads: Some(1)
            })
        );
        assert_eq!(
            "1".parse::<Setup>(),
            Ok(Setup {
                jobs: 1,
                threads: None
            })
        );
        assert!("0x1".parse::<Setup>().is_err());
        assert!("2x".parse::<Setup>().is_err());
        assert!("two".parse::<Setup>().is_err());
    }

    #[test]
    fn the_embedded_sweep_is_nine_paired_trainings() {
        let bench = SweepBench {
            corpus: "wav".into(),
            epochs: Some(3),
            setups: vec![],
            peer: None,
            work: None,
        };
        let (_, jobs) = jobs(&bench).unwrap();
        assert_eq!(jobs.len(), 9);
        let mut seen: Vec<(String, u64)> = jobs
            .iter()
            .map(|j| (filters_label(j), j.config.train.seed))
            .collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 9);
        assert!(jobs.iter().all(|j| j.config.train.epochs == 3));
        assert!(jobs.iter().all(|j| j.config.data.path == Path::new("wav")));
    }
}
