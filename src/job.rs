//! One job: a resolved config in, a trained and evaluated run directory out.
//!
//! The path of the data, end to end: corpus → cached features → split → train (resumable) →
//! evaluate on the test part → metrics. The run directory ([`RunDir`]) gets, in this order: the
//! resolved config, the split lists, what training writes, then `run.json`, the figures and the
//! evaluation files (with `predictions.csv`, one line per test clip), and last, atomically,
//! `metrics.json`: its presence means the job is done, and a crash at any point before leaves
//! none.

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;

use crate::base::{device, slurm};
use crate::base::{Error, Result};
use crate::cache::{self, CacheOptions, FeatureTable};
use std::collections::BTreeMap;

use crate::config::{Config, LabelSource, DEMOGRAPHICS};
use crate::corpus::{self, Corpus};
use crate::eval::calibration::{self, calibration};
use crate::eval::{self, GroupScore, GroupScores, Metrics};
use crate::infer::{evaluate_run, predict_with, predictions_of, EvalOptions, EvalTarget};
use crate::rundir::RunDir;
use crate::split::{self, Facts, Split};
use crate::train::{self, Examples, TrainJob, TrainOutcome};

/// How to run a job (nothing here changes its result).
#[derive(Debug, Clone)]
pub struct JobOptions {
    /// Feature cache root and `--skip-bad`.
    pub cache: CacheOptions,
    /// No progress bars.
    pub quiet: bool,
    /// Sweeps set this to the job id: epoch bars are prefixed with it and cleared after each
    /// epoch (see [`TrainJob::label`]).
    pub label: Option<String>,
}

impl Default for JobOptions {
    fn default() -> Self {
        Self {
            cache: CacheOptions {
                dir: PathBuf::from("results/cache"),
                skip_bad: false,
                gpu: None,
            },
            quiet: false,
            label: None,
        }
    }
}

/// What a finished job produced.
#[derive(Debug)]
pub struct JobSummary {
    pub run_dir: PathBuf,
    pub metrics: Metrics,
    pub best_epoch: usize,
    pub epochs_run: usize,
    pub train_seconds: f64,
    pub backend: String,
}

/// Trains and evaluates `config` into `run_dir` (resuming a checkpoint left there).
pub fn run(config: &Config, run_dir: &Path, opts: &JobOptions) -> Result<JobSummary> {
    run_until(config, run_dir, opts, None)?
        .ok_or_else(|| Error::job(run_dir.display().to_string(), "paused with no pause asked"))
}

/// [`run`], or, with `pause_after`, training up to that epoch and no further for now (successive
/// halving, `runner::halving`): `None` then, with the checkpoint left for a later call and the
/// test part unread.
pub fn run_until(
    config: &Config,
    run_dir: &Path,
    opts: &JobOptions,
    pause_after: Option<usize>,
) -> Result<Option<JobSummary>> {
    let started = Instant::now();
    let start_time = unix_now();
    let run = RunDir::new(run_dir);
    run.write_config(config)?;

    let corpus = corpus::open(&config.data)?;
    let table = cache::features_for(&corpus, &config.audio, &config.features, &opts.cache)?;
    // Split only what has features: with --skip-bad, unreadable clips are out of every part.
    let usable = subset(&corpus, &table);
    let parts = split::make_split(&usable, &config.split)?;
    split::write_lists(&run.split_dir(), &usable, &parts)?;
    let examples = |idx: &[usize]| examples_of(&table, &usable, idx);
    let (train_x, mut valid_x, mut test_x) = (
        examples(&parts.train)?,
        examples(&parts.valid)?,
        examples(&parts.test)?,
    );

    let mut job = TrainJob::new(
        config.model.clone(),
        config.train.clone(),
        corpus.classes.clone(),
    );
    job.quiet = opts.quiet;
    job.label = opts.label.clone();
    job.feature_rows = config.features.kind.feature_rows();
    job.stop_after = pause_after;
    let outcome = train::train(&job, &train_x, &valid_x, &run)?;
    if !outcome.finished {
        return Ok(None);
    }
    // The model sees its inputs as training did: standardised with the training part's values.
    if let Some(s) = &outcome.standardize {
        (valid_x, test_x) = (s.apply(&valid_x)?, s.apply(&test_x)?);
    }
    let device = device::device(config.train.backend, config.train.device)?;
    let probabilities = predict_with(&outcome.model, &test_x, config.train.batch_size, &device);
    let predicted = eval::argmax_rows(&probabilities);
    let metrics = eval::evaluate(&test_x.labels, &predicted, &corpus.classes)?;

    let train_seconds: f64 = outcome.history.iter().map(|r| r.seconds).sum();
    let facts = Facts::of(&usable, &parts, &config.split);
    let mut info = run_info(config, &outcome, &table, &parts, (start_time, started));
    info["split"] = json!(facts);
    info["corpus_notes"] = json!(usable.notes);
    run.write_run_info(&info)?;
    run.write_curves(&outcome.history, outcome.best_epoch);
    let mut extra = json!({
        "best_epoch": outcome.best_epoch,
        "epochs_run": outcome.history.len(),
        "stopped_early": outcome.stopped_early,
        "train_seconds": train_seconds,
        "backend": outcome.backend,
    });
    // The listeners' accuracy on the same test clips answers the same question only when the
    // labels are the intended emotions.
    if config.data.labels == LabelSource::Intended {
        if let Some(h) = usable.listeners_accuracy(&parts.test)? {
            extra["human_accuracy"] = json!(h);
        }
    }
    let groups = group_scores(&usable, &parts.test, &test_x.labels, &predicted)?;
    if !groups.is_empty() {
        extra["groups"] = json!(groups);
    }
    // How far the test probabilities can be taken at their word (ECE, reliability diagram).
    if let Some(cal) = calibration(&probabilities, &test_x.labels, calibration::BINS) {
        run.write_reliability(&cal);
        extra["calibration"] = json!(cal);
    }
    // Temperature scaling, fitted on the validation part only (the test part stays unseen), for
    // `ser predict --calibrated`; the test ECE after it says whether it helped.
    if !valid_x.is_empty() {
        let valid_p = predict_with(&outcome.model, &valid_x, config.train.batch_size, &device);
        if let Some(t) = calibration::fit_temperature(&valid_p, &valid_x.labels) {
            extra["temperature"] = json!(t);
            let scaled: Vec<Vec<f32>> = probabilities
                .iter()
                .map(|r| calibration::scale(r, t))
                .collect();
            if let Some(after) = calibration(&scaled, &test_x.labels, calibration::BINS) {
                extra["calibration"]["ece_after_temperature"] = json!(after.ece);
            }
        }
    }
    let others = other_corpora(config, run_dir, opts)?;
    if !others.is_empty() {
        extra["other_corpora"] = json!(others);
    }
    // Per-clip predictions: what `ser report --compare` pairs clip by clip and resamples by
    // speaker. Written before the metrics, so a done run has them.
    run.write_predictions(&predictions_of(
        &usable,
        &corpus.classes,
        &parts.test,
        &probabilities,
        &predicted,
    ))?;
    run.write_metrics(&metrics, extra)?;
    Ok(Some(JobSummary {
        run_dir: run_dir.to_path_buf(),
        metrics,
        best_epoch: outcome.best_epoch,
        epochs_run: outcome.history.len(),
        train_seconds,
        backend: outcome.backend,
    }))
}

/// The trained model evaluated on each corpus of `[eval] corpora` (every clip of a class it
/// knows), into `RUN/eval/<name>/`; accuracy, macro F1 and clips by corpus name.
fn other_corpora(
    config: &Config,
    run_dir: &Path,
    opts: &JobOptions,
) -> Result<BTreeMap<String, GroupScore>> {
    let mut out = BTreeMap::new();
    for target in config.eval.targets(Path::new("(config)"))? {
        let name = target.name();
        let eval = EvalOptions {
            cache: opts.cache.clone(),
            out: None,
            backend: config.train.backend,
            device: config.train.device,
        };
        let corpus = EvalTarget::Corpus {
            kind: target.kind,
            path: target.path,
        };
        let s = evaluate_run(run_dir, &corpus, &eval)?;
        tracing::info!(
            "evaluated on {name}: accuracy {:.4}, macro F1 {:.4} ({} clips)",
            s.metrics.accuracy,
            s.metrics.macro_avg.f1,
            s.metrics.total
        );
        out.insert(
            name,
            GroupScore {
                accuracy: s.metrics.accuracy,
                f1_macro: s.metrics.macro_avg.f1,
                n: s.metrics.total,
            },
        );
    }
    Ok(out)
}

/// Accuracy, macro F1 and clip count of the test clips of each demographic group (`sex`, `age`
/// band, `race`, `ethnicity` → value → scores), where the corpus has demographics.
fn group_scores(
    corpus: &Corpus,
    test: &[usize],
    labels: &[usize],
    predicted: &[usize],
) -> Result<GroupScores> {
    let mut out = GroupScores::new();
    if corpus.demographics.is_empty() {
        return Ok(out);
    }
    for attribute in DEMOGRAPHICS {
        let mut by_value: BTreeMap<String, (Vec<usize>, Vec<usize>)> = BTreeMap::new();
        for ((&i, &y), &p) in test.iter().zip(labels).zip(predicted) {
            let value = corpus
                .demographics
                .get(&corpus.items[i].speaker)
                .and_then(|a| a.attribute(attribute))
                .unwrap_or_else(|| "unknown".into());
            let entry = by_value.entry(value).or_default();
            entry.0.push(y);
            entry.1.push(p);
        }
        let mut groups = BTreeMap::new();
        for (value, (y, p)) in by_value {
            let m = eval::evaluate(&y, &p, &corpus.classes)?;
            groups.insert(
                value,
                GroupScore {
                    accuracy: m.accuracy,
                    f1_macro: m.macro_avg.f1,
                    n: m.total,
                },
            );
        }
        out.insert(attribute.to_string(), groups);
    }
    Ok(out)
}

/// The items at `idx` (rows of `table`) with their labels.
fn examples_of(table: &FeatureTable, usable: &Corpus, idx: &[usize]) -> Result<Examples> {
    let n = table.row_len();
    let mut data = Vec::with_capacity(idx.len() * n);
    let mut labels = Vec::with_capacity(idx.len());
    for &row in idx {
        data.extend_from_slice(table.row(row));
        labels.push(usable.items[row].label);
    }
    Examples::new(table.shape.clone(), data, labels)
}

/// What `run.json` records: how the run was made.
fn run_info(
    config: &Config,
    outcome: &TrainOutcome,
    table: &FeatureTable,
    parts: &Split,
    (start_time, started): (f64, Instant),
) -> serde_json::Value {
    json!({
        "seed": config.train.seed,
        "split_seed": config.split.seed,
        "backend": outcome.backend,
        "device": config.train.device,
        // CPU threads of the tensor work (the job's pool under `ser sweep --threads`).
        "threads": rayon::current_num_threads(),
        "versions": {
            "ser": env!("CARGO_PKG_VERSION"),
            "burn": "0.22.1",
            "rustc": option_env!("SER_RUSTC_VERSION").unwrap_or("unknown"),
        },
        "git_commit": git_commit(),
        "start_unix": start_time,
        "end_unix": unix_now(),
        "wall_seconds": started.elapsed().as_secs_f64(),
        "train_seconds": outcome.history.iter().map(|r| r.seconds).sum::<f64>(),
        "resumed_from_epoch": outcome.resumed_from,
        // Shared epoch prefixes (runner::chain): the shorter job whose checkpoint this one
        // continued.
        "continued_from": outcome.continued_from,
        "feature_cache": table.dir,
        "parts": {
            "train": parts.train.len(),
            "valid": parts.valid.len(),
            "test": parts.test.len(),
        },
        "skipped_files": table.skipped.len(),
        "params": outcome.params,
        // The Slurm job and array task that ran it, and the node (absent outside Slurm).
        "slurm": slurm::this_job(),
    })
}

/// The corpus restricted to the clips that have features (in table row order).
fn subset(corpus: &Corpus, table: &FeatureTable) -> Corpus {
    Corpus {
        kind: corpus.kind,
        root: corpus.root.clone(),
        classes: corpus.classes.clone(),
        items: table
            .items
            .iter()
            .map(|&i| corpus.items[i].clone())
            .collect(),
        demographics: corpus.demographics.clone(),
        notes: corpus.notes.clone(),
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The commit of the checkout `ser` runs in, if it is a git checkout.
fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
