//! `ser train` and `ser model summary`: one config trained and evaluated; a model's layout.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::base::{Error, Result};
use crate::cache::CacheOptions;
use crate::config::{BackendKind, Overrides};
use crate::experiment::{describe, Experiment};
use crate::job::{self, JobOptions};

/// `ser train CONFIG`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  ser train my-config.toml --out results/one-run\n  (run it again after a kill: it resumes from the last finished epoch)\n\nA file with a [grid] of several jobs is an experiment: `ser sweep` runs it, `ser run --job ID` one of its jobs."
)]
pub struct TrainArgs {
    /// Config file ([data] [audio] [features] [split] [model] [train]); an experiment file whose
    /// grid has one job will do.
    config: PathBuf,
    /// Run directory (default: results/train/<config stem>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Corpus directory, overriding [data].path.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Backend, overriding [train].backend: flex (CPU) or wgpu (GPU).
    #[arg(long)]
    backend: Option<BackendKind>,
    /// wgpu adapter, overriding [train].device: 0 = best found (discrete GPU first), N = the
    /// N-th discrete GPU.
    #[arg(long)]
    device: Option<usize>,
    /// Feature cache root.
    #[arg(long, default_value = "results/cache", env = "SER_CACHE")]
    cache: PathBuf,
    /// Leave out unreadable clips (listed) instead of failing.
    #[arg(long)]
    skip_bad: bool,
}

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Print a Keras-like table of a config's model: layer, output shape, parameters, total.
    /// For an experiment file, each distinct model of its grid, labelled by grid point.
    #[command(after_help = "Example:\n  ser model summary experiments/baseline.toml")]
    Summary {
        /// Config or experiment file ([model], [features], [audio] and [data] are read).
        config: PathBuf,
    },
}

pub fn train(args: TrainArgs, quiet: bool) -> Result<ExitCode> {
    let exp = Experiment::from_file(&args.config)?;
    let cfg = match exp.jobs()?.as_slice() {
        [one] => one.config.clone(),
        many => {
            return Err(Error::Usage(format!(
                "{} is an experiment of {} jobs: run them all with `ser sweep {0}`, or one with \
                 `ser run {0} --job ID` (`ser sweep {0} --dry-run` lists the ids)",
                args.config.display(),
                many.len()
            )))
        }
    };
    let overrides = Overrides {
        data: args.data,
        backend: args.backend,
        device: args.device,
    };
    let cfg = overrides.apply(&cfg);
    let out = args.out.unwrap_or_else(|| {
        let stem = args
            .config
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("run");
        PathBuf::from("results/train").join(stem)
    });
    let opts = JobOptions {
        cache: CacheOptions {
            dir: args.cache,
            skip_bad: args.skip_bad,
            gpu: None,
        },
        quiet,
        label: None,
    };
    let s = job::run(&cfg, &out, &opts)?;
    println!("{}", s.metrics.report_text(4));
    println!(
        "accuracy {:.4}  macro F1 {:.4}  weighted F1 {:.4}  best epoch {}  {} epochs in {:.1} s on {}",
        s.metrics.accuracy,
        s.metrics.macro_avg.f1,
        s.metrics.weighted_avg.f1,
        s.best_epoch,
        s.epochs_run,
        s.train_seconds,
        s.backend
    );
    println!("run directory: {}", s.run_dir.display());
    Ok(ExitCode::SUCCESS)
}

pub fn model(cmd: ModelCommand) -> Result<ExitCode> {
    match cmd {
        ModelCommand::Summary { config } => {
            for (i, (label, net)) in Experiment::from_file(&config)?.models()?.iter().enumerate() {
                if i > 0 {
                    println!();
                }
                if !label.is_empty() {
                    println!("grid point {}", describe(label));
                }
                println!("{}", net.summary()?);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
