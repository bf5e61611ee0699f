//! The experiment runner: an experiment's jobs → run directories, on this machine or as a Slurm
//! job array.
//!
//! - [`executor`]: runs the jobs that are not done, `--jobs N` at a time on threads, behind one
//!   progress bar, each under its run directory's lock (see [`crate::rundir`]); features are
//!   prepared once per distinct (corpus, audio, features) first.
//! - [`chain`]: jobs that differ only in `train.epochs` share their first epochs (the longer
//!   continues the shorter's checkpoint, bit-identical on CPU); a chain is one unit of work.
//! - [`packing`]: `--jobs auto`, jobs side by side for small models, every core for large ones.
//! - [`halving`]: `[search] kind = "halving"`, successive halving on validation macro F1 over
//!   rungs of the runner with `pause_after`.
//! - [`plan`](mod@plan): what a sweep would do (`--dry-run`) and which job `ser run --job / --only` names.
//! - [`slurm`]: the same jobs as a Slurm job array instead (`--executor slurm`): scripts written
//!   under the results folder, submitted with `sbatch`, tasks running `ser run --job-list`.
//! - [`status`]: done / running / queued / failed per job of a results folder, with the Slurm
//!   queue where there is one (`ser status`).
//!
//! Training itself is behind the [`Trainer`] trait: [`LocalTrainer`] calls [`crate::job::run`];
//! tests use a mock that writes `metrics.json` at once.
//!
//! ```text
//! <out>/<experiment>/experiment.toml   the experiment file, as run (read by `ser report`)
//!                    <job-id>/         one run directory per job (see crate::rundir)
//!                    summary.md/.csv   written by crate::report at the end
//!                    slurm/            sbatch scripts, job lists, submissions, task logs
//! ```

pub mod chain;
pub mod executor;
pub mod halving;
pub mod packing;
pub mod plan;
pub mod slurm;
pub mod status;

use std::path::Path;

use crate::base::Result;
use crate::cache;
use crate::config::Config;
use crate::job::{self, JobOptions};

pub use executor::{feature_sets, run_jobs, sweep, SweepOptions, SweepOutcome};
pub use plan::{dry_run, matching, plan, select};

/// Trains one job; the executor calls it from several threads at once.
pub trait Trainer: Sync {
    /// Makes the features `config` needs ready (the cache), once per distinct (corpus, audio,
    /// features) before any job runs, so parallel jobs never extract the same features twice.
    fn prepare(&self, config: &Config) -> Result<()>;
    /// Trains and evaluates `config` into `run_dir`; `id` labels its progress. With
    /// `pause_after`, trains up to that epoch only and returns `false` (paused, the test part
    /// unread) unless the run ended there or before (`true`: done).
    fn run(
        &self,
        id: &str,
        config: &Config,
        run_dir: &Path,
        pause_after: Option<usize>,
    ) -> Result<bool>;
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
            &self.options.cache,
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

    fn run(
        &self,
        id: &str,
        config: &Config,
        run_dir: &Path,
        pause_after: Option<usize>,
    ) -> Result<bool> {
        let opts = JobOptions {
            label: Some(id.to_string()),
            ..self.options.clone()
        };
        let Some(s) = job::run_until(config, run_dir, &opts, pause_after)? else {
            return Ok(false);
        };
        tracing::info!(
            "{id}: accuracy {:.4}, macro F1 {:.4} ({} epochs, {:.1} s on {})",
            s.metrics.accuracy,
            s.metrics.macro_avg.f1,
            s.epochs_run,
            s.train_seconds,
            s.backend
        );
        Ok(true)
    }
}
