//! One job: a resolved config in, a trained and evaluated run directory out.
//!
//! The path of the data, end to end: corpus → cached features → split → train (resumable) →
//! evaluate on the test part → metrics. The run directory gets, in this order: `config.toml`
//! (the resolved config), `split/` (the file lists), what training writes (`training.json`,
//! `history.csv`, `checkpoint/`, `model.bpk`), then `run.json`, `curves.png`, `report.txt`,
//! `confusion.csv`, `confusion_normalized.csv`, `confusion.png`, and last, atomically, `metrics.json`: its presence means the job
//! is done, and a crash at any point before leaves none.

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;

use crate::cache::{self, CacheOptions, FeatureTable};
use crate::config::Config;
use crate::corpus::{self, Corpus};
use crate::error::{Error, Result};
use crate::eval::{self, Metrics};
use crate::split;
use crate::train::{self, Examples, TrainJob};

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

/// The marker of a finished run.
pub const METRICS_FILE: &str = "metrics.json";

/// Trains and evaluates `config` into `run_dir` (resuming a checkpoint left there).
pub fn run(config: &Config, run_dir: &Path, opts: &JobOptions) -> Result<JobSummary> {
    let started = Instant::now();
    let start_time = unix_now();
    std::fs::create_dir_all(run_dir).map_err(|e| Error::io(run_dir, e))?;
    let resolved = toml::to_string(config).map_err(|e| Error::Usage(format!("config: {e}")))?;
    train::checkpoint::write_atomic(&run_dir.join("config.toml"), resolved.as_bytes())?;

    let corpus = corpus::open(&config.data)?;
    let table = cache::features_for(&corpus, &config.audio, &config.features, &opts.cache)?;
    // Split only what has features: with --skip-bad, unreadable clips are out of every part.
    let usable = subset(&corpus, &table);
    let parts = split::make_split(&usable, &config.split)?;
    split::write_lists(&run_dir.join("split"), &usable, &parts)?;
    let examples = |idx: &[usize]| -> Result<Examples> {
        let n = table.row_len();
        let mut data = Vec::with_capacity(idx.len() * n);
        let mut labels = Vec::with_capacity(idx.len());
        for &row in idx {
            data.extend_from_slice(table.row(row));
            labels.push(usable.items[row].label);
        }
        Examples::new(table.shape.clone(), data, labels)
    };
    let (train_x, valid_x, test_x) = (
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
    let outcome = train::train(&job, &train_x, &valid_x, run_dir)?;
    let device = train::device(config.train.backend, config.train.device)?;
    let probabilities =
        train::predict_with(&outcome.model, &test_x, config.train.batch_size, &device);
    let predicted = eval::argmax_rows(&probabilities);
    let metrics = eval::evaluate(&test_x.labels, &predicted, &corpus.classes)?;

    let run_info = json!({
        "seed": config.train.seed,
        "split_seed": config.split.seed,
        "backend": outcome.backend,
        "device": config.train.device,
        // CPU threads of the tensor work (the job's pool under `ser sweep --threads`).
        "threads": rayon::current_num_threads(),
        "versions": { "ser": env!("CARGO_PKG_VERSION"), "burn": "0.22.1", "rustc": option_env!("SER_RUSTC_VERSION").unwrap_or("unknown") },
        "git_commit": git_commit(),
        "start_unix": start_time,
        "end_unix": unix_now(),
        "wall_seconds": started.elapsed().as_secs_f64(),
        "train_seconds": outcome.history.iter().map(|r| r.seconds).sum::<f64>(),
        "resumed_from_epoch": outcome.resumed_from,
        "feature_cache": table.dir,
        "parts": { "train": parts.train.len(), "valid": parts.valid.len(), "test": parts.test.len() },
        "skipped_files": table.skipped.len(),
        "params": outcome.params,
    });
    train::checkpoint::write_atomic(
        &run_dir.join("run.json"),
        serde_json::to_string_pretty(&run_info)
            .unwrap_or_default()
            .as_bytes(),
    )?;
    let extra = json!({
        "best_epoch": outcome.best_epoch,
        "epochs_run": outcome.history.len(),
        "stopped_early": outcome.stopped_early,
        "train_seconds": run_info["train_seconds"].clone(),
        "backend": outcome.backend,
    });
    // Figures are for people: a failure to draw one is logged, never a failed job.
    if let Err(e) = crate::plot::curves::write(
        &run_dir.join("curves.png"),
        &outcome.history,
        outcome.best_epoch,
    ) {
        tracing::warn!("{e}");
    }
    write_metrics(run_dir, &metrics, extra)?;
    Ok(JobSummary {
        run_dir: run_dir.to_path_buf(),
        metrics,
        best_epoch: outcome.best_epoch,
        epochs_run: outcome.history.len(),
        train_seconds: outcome.history.iter().map(|r| r.seconds).sum(),
        backend: outcome.backend,
    })
}

/// Writes `report.txt`, `confusion.csv`, `confusion_normalized.csv`, `confusion.png` and, last
/// and atomically,
/// `metrics.json` (the metrics plus the fields of `extra`) into `dir`.
pub fn write_metrics(dir: &Path, metrics: &Metrics, extra: serde_json::Value) -> Result<()> {
    let write =
        |name: &str, text: &str| train::checkpoint::write_atomic(&dir.join(name), text.as_bytes());
    write("report.txt", &metrics.report_text(2))?;
    write("confusion.csv", &metrics.confusion_csv())?;
    write(
        "confusion_normalized.csv",
        &metrics.confusion_normalized_csv(),
    )?;
    let title = format!(
        "accuracy {:.3}, macro F1 {:.3} ({} clips)",
        metrics.accuracy, metrics.macro_avg.f1, metrics.total
    );
    if let Err(e) = crate::plot::confusion::write(&dir.join("confusion.png"), metrics, &title) {
        tracing::warn!("{e}");
    }
    let mut m = metrics.to_json();
    if let (Some(m), serde_json::Value::Object(extra)) = (m.as_object_mut(), extra) {
        m.extend(extra);
    }
    write(
        METRICS_FILE,
        &serde_json::to_string_pretty(&m).unwrap_or_default(),
    )
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
