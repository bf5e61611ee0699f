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

/// Jobs at once × rayon threads per job (`None`: the jobs share the global pool); `auto`: as
/// `ser sweep` chooses by default (`--jobs auto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Setup {
    /// `None`: `--jobs auto`.
    pub jobs: Option<usize>,
    pub threads: Option<usize>,
}

impl std::fmt::Display for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.jobs, self.threads) {
            (None, _) => write!(f, "--jobs auto"),
            (Some(j), Some(t)) => write!(f, "--jobs {j} --threads {t}"),
            (Some(j), None) => write!(f, "--jobs {j}"),
        }
    }
}

impl FromStr for Setup {
    type Err = String;

    /// `auto`, `2x1` (2 jobs, 1 thread each) or `1` (1 job, all cores).
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let bad = || format!("`{s}`: expected auto, JOBS or JOBSxTHREADS, e.g. 1 or 2x1");
        let num = |t: &str| t.trim().parse::<usize>().ok().filter(|&n| n > 0);
        if s == "auto" {
            return Ok(Setup {
                jobs: None,
                threads: None,
            });
        }
        match s.split_once('x') {
            Some((j, t)) => Ok(Setup {
                jobs: Some(num(j).ok_or_else(bad)?),
                threads: Some(num(t).ok_or_else(bad)?),
            }),
            None => Ok(Setup {
                jobs: Some(num(s).ok_or_else(bad)?),
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
    /// The shorter epoch count E: the file's axis (20, 40) becomes (E, 2E); `None`: as the file.
    pub epochs: Option<usize>,
    /// Also run the grid's longest trainings as a successive-halving search with this first
    /// rung (`[search] kind = "halving"`, eta 2), and say whether it keeps the full grid's best.
    pub halving: Option<usize>,
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
    /// Mean test accuracy over the seeds per grid point, e.g. `512,512,128 @40`.
    pub accuracy: BTreeMap<String, f64>,
    /// Mean validation macro F1 at the last epoch over the seeds per grid point (ours only).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub val_macro_f1: BTreeMap<String, f64>,
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
    /// Epoch-trainings the grid asks for, and those ours trains with shared prefixes.
    pub epochs_asked: usize,
    pub epochs_trained: usize,
    /// The successive-halving variant, when asked for.
    pub halving: Option<HalvingBench>,
}

/// The successive-halving variant: the grid's longest trainings searched by halving.
#[derive(Debug, Clone, Serialize)]
pub struct HalvingBench {
    /// The first rung and the rungs.
    pub min_epochs: usize,
    pub rungs: Vec<usize>,
    /// Wall time, cold (features included), seconds.
    pub total_s: f64,
    /// Epochs it trained, of the full grid's (at the longest epoch count).
    pub epochs: usize,
    pub full_epochs: usize,
    /// The grid point it kept.
    pub survivor: String,
    /// The full grid's best point at the same epoch count: by mean test accuracy, and by mean
    /// validation macro F1 at the last epoch (what halving ranks by), from the first setup's run.
    pub full_best_by_test: Option<String>,
    pub full_best_by_val: Option<String>,
    /// The survivor's mean test accuracy (the same runs as the full grid's, bit for bit).
    pub survivor_accuracy: Option<f64>,
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

/// A job's grid point (filters and epochs) as a label: `512,512,128 @40`.
fn point_label(job: &Job) -> String {
    format!("{} @{}", filters_label(job), job.config.train.epochs)
}

/// The benchmark's jobs, for `corpus` and `epochs`.
fn jobs(bench: &SweepBench) -> Result<(Experiment, Vec<Job>)> {
    let exp = Experiment::from_toml(
        EXPERIMENT,
        Path::new("experiments/bench-sweep.toml"),
        "bench-sweep".into(),
    )?;
    let mut jobs = exp.jobs()?;
    let shortest = jobs
        .iter()
        .map(|j| j.config.train.epochs)
        .min()
        .unwrap_or(1);
    for j in &mut jobs {
        j.config.data.path = bench.corpus.clone();
        if let Some(e) = bench.epochs {
            j.config.train.epochs = j.config.train.epochs * e / shortest;
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
    let halving = match bench.halving {
        Some(min_epochs) => {
            let dir = work.join("ser-halving");
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            }
            let r = time_halving(&exp, &jobs, min_epochs, &dir, ours.first());
            if temp {
                let _ = std::fs::remove_dir_all(&dir);
            }
            Some(r?)
        }
        None => None,
    };
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
    let chains = runner::chain::chains(&jobs, &Default::default());
    Ok(SweepBenchResult {
        trainings: jobs.len(),
        epochs: jobs
            .iter()
            .map(|j| j.config.train.epochs)
            .max()
            .unwrap_or(0),
        clips: bench.corpus.display().to_string(),
        ours,
        peer,
        peer_error,
        ratios,
        epochs_asked: jobs.iter().map(|j| j.config.train.epochs).sum(),
        epochs_trained: (0..jobs.len())
            .map(|i| chains.epochs_trained(&jobs, i))
            .sum(),
        halving,
    })
}

/// The runner's trainer, quiet, with its feature cache in `dir/cache` (empty: a cold start).
fn quiet_trainer(dir: &Path) -> LocalTrainer {
    LocalTrainer {
        options: JobOptions {
            cache: CacheOptions {
                dir: dir.join("cache"),
                skip_bad: false,
                gpu: None,
            },
            quiet: true,
            label: None,
        },
    }
}

/// Our sweep in `dir` (empty cache): features first (timed apart), then the jobs and the summary,
/// as `ser sweep` runs them.
fn time_ours(exp: &Experiment, jobs: &[Job], setup: Setup, dir: &Path) -> Result<SideResult> {
    let load0 = super::load_avg();
    let trainer = quiet_trainer(dir);
    let out = dir.join(&exp.name);
    let t = Instant::now();
    // The sweep would prepare them itself; done here first only to time the two phases apart.
    if let Some(j) = jobs.first() {
        trainer.prepare(&j.config)?;
    }
    let features_s = t.elapsed().as_secs_f64();
    let opts = SweepOptions {
        jobs: setup.jobs,
        threads: setup.threads,
        ..SweepOptions::new(&out)
    };
    let outcome = runner::sweep(exp, jobs, &trainer, &opts)?;
    if let Some((id, message)) = outcome.failed.first() {
        return Err(Error::job(id, format!("failed in bench sweep: {message}")));
    }
    crate::report::write(&crate::report::load(&out)?, false)?;
    let total_s = t.elapsed().as_secs_f64();
    let (accuracy, val_macro_f1) = scores(&out, jobs)?;
    Ok(SideResult {
        who: format!("ser {setup}"),
        features_s,
        trainings_s: total_s - features_s,
        total_s,
        accuracy,
        val_macro_f1,
        load_avg: [load0, super::load_avg()],
    })
}

/// Per grid point, over its seeds: mean test accuracy and mean last-epoch validation macro F1 of
/// the done runs of `jobs` in `out`.
type PointScores = (BTreeMap<String, f64>, BTreeMap<String, f64>);

fn scores(out: &Path, jobs: &[Job]) -> Result<PointScores> {
    let mut acc: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut f1: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for j in jobs {
        let run = RunDir::new(out.join(&j.id));
        if !run.is_done() {
            continue;
        }
        if let Some(&a) = run.read_metrics()?.get("accuracy") {
            acc.entry(point_label(j)).or_default().push(a);
        }
        if let Some(last) = run.read_history()?.last() {
            f1.entry(point_label(j))
                .or_default()
                .push(last.val_macro_f1);
        }
    }
    let means = |m: BTreeMap<String, Vec<f64>>| m.into_iter().map(|(k, v)| (k, mean(&v))).collect();
    Ok((means(acc), means(f1)))
}

/// The best key of `scores` (the first of a tie, in key order).
fn best(scores: &BTreeMap<String, f64>) -> Option<String> {
    scores
        .iter()
        .fold(None, |b: Option<(&String, f64)>, (k, &v)| match b {
            Some((_, bv)) if bv >= v => b,
            _ => Some((k, v)),
        })
        .map(|(k, _)| k.clone())
}

/// The grid's longest trainings as a successive-halving search (`--jobs auto`), cold in `dir`;
/// compared with `full` (a full run of the whole grid) at the same epoch count.
fn time_halving(
    exp: &Experiment,
    jobs: &[Job],
    min_epochs: usize,
    dir: &Path,
    full: Option<&SideResult>,
) -> Result<HalvingBench> {
    let longest = jobs
        .iter()
        .map(|j| j.config.train.epochs)
        .max()
        .unwrap_or(0);
    let jobs: Vec<Job> = jobs
        .iter()
        .filter(|j| j.config.train.epochs == longest)
        .cloned()
        .collect();
    let search = crate::experiment::Search {
        kind: crate::experiment::SearchKind::Halving,
        min_epochs,
        eta: 2,
    };
    let seeds = exp.layout(&jobs)?.seeds;
    let trainer = quiet_trainer(dir);
    let out = dir.join(&exp.name);
    let t = Instant::now();
    let h = runner::halving::sweep(
        exp,
        &search,
        &jobs,
        &seeds,
        &trainer,
        &SweepOptions::new(&out),
    )?;
    if let Some((id, message)) = h.outcome.failed.first() {
        return Err(Error::job(
            id,
            format!("failed in bench sweep (halving): {message}"),
        ));
    }
    let total_s = t.elapsed().as_secs_f64();
    let (accuracy, _) = scores(&out, &jobs)?;
    let at_longest = |m: &BTreeMap<String, f64>| -> BTreeMap<String, f64> {
        m.iter()
            .filter(|(k, _)| k.ends_with(&format!(" @{longest}")))
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    };
    let survivor = accuracy.keys().next().cloned().unwrap_or_default();
    Ok(HalvingBench {
        min_epochs,
        rungs: h.rungs,
        total_s,
        epochs: h.epochs,
        full_epochs: h.full_epochs,
        survivor_accuracy: accuracy.get(&survivor).copied(),
        survivor,
        full_best_by_test: full.and_then(|f| best(&at_longest(&f.accuracy))),
        full_best_by_val: full.and_then(|f| best(&at_longest(&f.val_macro_f1))),
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
    // Grid points (filter set, epochs) in the grid's order, each with its seeds: one process
    // each, as the peer's README runs run_1d.py once per configuration.
    let mut sets: Vec<(String, usize, Vec<u64>)> = Vec::new();
    for j in jobs {
        let (label, epochs) = (filters_label(j), j.config.train.epochs);
        match sets
            .iter_mut()
            .find(|(l, e, _)| *l == label && *e == epochs)
        {
            Some((_, _, seeds)) => seeds.push(j.config.train.seed),
            None => sets.push((label, epochs, vec![j.config.train.seed])),
        }
    }

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
    for (label, epochs, seeds) in &sets {
        if result.is_err() {
            break;
        }
        let epochs = epochs.to_string();
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
            &format!(
                "keras 1d ({label}) × {epochs} epochs × {} seeds",
                seeds.len()
            ),
        )
        .and_then(|_| {
            let path = dir.join("results").join(format!(
                "{PEER_PREFIX}1d_{}_random_summary.json",
                filters.join("-")
            ));
            let v = super::read_json(&path)?;
            if let Some(a) = v["test_accuracy"]["mean"].as_f64() {
                accuracy.insert(format!("{label} @{epochs}"), a);
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
        val_macro_f1: BTreeMap::new(),
        load_avg: [load0, super::load_avg()],
    })
}

/// The final table, as printed and as written into the README.
pub fn table(r: &SweepBenchResult) -> String {
    let mut s = format!(
        "{} trainings (1D CNN, 3 filter sets × epochs (E, 2E) up to {} × seeds 0 1 2) on {}, \
         cold; {} epochs asked, {} trained by ser with shared prefixes\n\n\
         | who | features s | trainings s | total s | × peer |\n|---|---|---|---|---|\n",
        r.trainings, r.epochs, r.clips, r.epochs_asked, r.epochs_trained
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
    if let Some(h) = &r.halving {
        let same =
            match (&h.full_best_by_test, &h.full_best_by_val) {
                (Some(t), Some(v)) => format!(
                "the full grid's best at {} epochs: {t} by test accuracy ({}), {v} by validation \
                 macro F1 ({})",
                r.epochs,
                if *t == h.survivor { "same" } else { "different" },
                if *v == h.survivor { "same" } else { "different" },
            ),
                _ => "no full run to compare with".into(),
            };
        s += &format!(
            "\nsuccessive halving over the {}-epoch points (first rung {}, rungs {:?}, eta 2): \
             {:.1} s, {} of {} epochs; kept {} (test accuracy {}); {same}\n",
            r.epochs,
            h.min_epochs,
            h.rungs,
            h.total_s,
            h.epochs,
            h.full_epochs,
            h.survivor,
            h.survivor_accuracy
                .map_or("—".to_string(), |a| format!("{a:.3}")),
        );
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
                jobs: Some(2),
                threads: Some(1)
            })
        );
        assert_eq!(
            "1".parse::<Setup>(),
            Ok(Setup {
                jobs: Some(1),
                threads: None
            })
        );
        assert_eq!(
            "auto".parse::<Setup>(),
            Ok(Setup {
                jobs: None,
                threads: None
            })
        );
        assert!("0x1".parse::<Setup>().is_err());
        assert!("2x".parse::<Setup>().is_err());
        assert!("two".parse::<Setup>().is_err());
    }

    #[test]
    fn the_embedded_sweep_is_eighteen_paired_trainings_in_nine_chains() {
        let bench = SweepBench {
            corpus: "wav".into(),
            epochs: Some(3),
            halving: None,
            setups: vec![],
            peer: None,
            work: None,
        };
        let (_, jobs) = jobs(&bench).unwrap();
        assert_eq!(jobs.len(), 18);
        let mut seen: Vec<(String, u64)> = jobs
            .iter()
            .map(|j| (point_label(j), j.config.train.seed))
            .collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 18);
        let mut epochs: Vec<usize> = jobs.iter().map(|j| j.config.train.epochs).collect();
        epochs.sort();
        epochs.dedup();
        assert_eq!(epochs, [3, 6]);
        // Each 6-epoch job continues its 3-epoch twin: 9 chains.
        assert_eq!(
            runner::chain::chains(&jobs, &Default::default())
                .units
                .len(),
            9
        );
        assert!(jobs.iter().all(|j| j.config.data.path == Path::new("wav")));
    }
}
