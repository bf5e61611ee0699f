//! The experiment runner: an experiment file's grid → jobs → run directories.
//!
//! - [`grid`]: pure expansion of `[grid]` (product, `[[grid.include]]`, `[[grid.exclude]]`) into
//!   [`Job`]s, each a resolved config with a stable id (a short hash of the result-relevant
//!   config, see [`grid::job_id`]).
//! - [`state`]: what a job directory says (done = `metrics.json`, failed = `error.txt`, running =
//!   a live `lock`) and the per-job lock that two sweeps on one results folder share.
//! - [`executor`]: runs the jobs that are not done, `--jobs N` at a time on threads, behind one
//!   progress bar; features are prepared once per distinct (corpus, audio, features) first.
//!
//! Training itself is behind the [`Trainer`] trait: [`LocalTrainer`] calls [`crate::job::run`];
//! tests use a mock that writes `metrics.json` at once.
//!
//! ```text
//! <out>/<experiment>/experiment.toml   the experiment file, as run (read by `ser report`)
//!                    <job-id>/         one run directory per job (see crate::job)
//!                    summary.md/.csv   written by crate::report at the end
//! ```

pub mod executor;
pub mod grid;
pub mod state;

use std::path::{Path, PathBuf};

use crate::cache::{self, CacheOptions};
use crate::config::{BackendKind, Config};
use crate::error::Result;
use crate::job::{self, JobOptions};

pub use executor::{run_jobs, sweep, SweepOptions, SweepOutcome};
pub use grid::{Experiment, Job, Point};
pub use state::{JobLock, JobState};

/// Name of the experiment file's copy in its results folder.
pub const EXPERIMENT_FILE: &str = "experiment.toml";

/// Trains one job; the executor calls it from several threads at once.
pub trait Trainer: Sync {
    /// Makes the features `config` needs ready (the cache), once per distinct (corpus, audio,
    /// features) before any job runs, so parallel jobs never extract the same features twice.
    fn prepare(&self, config: &Config) -> Result<()>;
    /// Trains and evaluates `config` into `run_dir`; `id` labels its progress.
    fn run(&self, id: &str, config: &Config, run_dir: &Path) -> Result<()>;
}

/// The real trainer: [`crate::job::run`] on this machine, features through the cache.
#[derive(Debug, Clone, Default)]
pub struct LocalTrainer {
    /// Cache root, `--skip-bad`, quiet; the label is set per job.
    pub options: JobOptions,
}

impl Trainer for LocalTrainer {
    fn prepare(&self, config: &Config) -> Result<()> {
        let corpus = crate::corpus::open(&config.data)?;
        let table = cache::features_for(
            &corpus,
            &config.audio,
            &config.features,
            &CacheOptions {
                dir: self.options.cache_dir.clone(),
                skip_bad: self.options.skip_bad,
                gpu: None,
            },
        )?;
        tracing::info!(
            "features: {} clips × {:?} ({}) {}",
            table.rows(),
            table.shape,
            table.kind,
            if table.extracted {
                "extracted"
            } else {
                "from the cache"
            }
        );
        Ok(())
    }

    fn run(&self, id: &str, config: &Config, run_dir: &Path) -> Result<()> {
        let opts = JobOptions {
            label: Some(id.to_string()),
            ..self.options.clone()
        };
        let s = job::run(config, run_dir, &opts)?;
        tracing::info!(
            "{id}: accuracy {:.4}, macro F1 {:.4} ({} epochs, {:.1} s on {})",
            s.metrics.accuracy,
            s.metrics.macro_avg.f1,
            s.epochs_run,
            s.train_seconds,
            s.backend
        );
        Ok(())
    }
}

/// Command-line values that replace the file's for every job. They change where and how jobs
/// run, not their ids (see [`grid::identity`]).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--data DIR`: the corpus directory.
    pub data: Option<PathBuf>,
    /// `--backend`.
    pub backend: Option<BackendKind>,
    /// `--device`: the GPU index.
    pub device: Option<usize>,
}

impl Overrides {
    /// `config` with the overrides applied.
    pub fn apply(&self, config: &Config) -> Config {
        let mut c = config.clone();
        if let Some(d) = &self.data {
            c.data.path = d.clone();
        }
        if let Some(b) = self.backend {
            c.train.backend = b;
        }
        if let Some(d) = self.device {
            c.train.device = d;
        }
        c
    }
}
