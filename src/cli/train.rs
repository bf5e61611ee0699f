//! `ser train` and `ser model summary`: one config trained and evaluated; a model's layout.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::cache::CacheOptions;
use crate::config::BackendKind;
use crate::error::Result;
use crate::job::{self, JobOptions};

/// `ser train CONFIG`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  ser train experiments/quickstart.toml --out results/one-run\n  (run it again after a kill: it resumes from the last finished epoch)"
)]
pub struct TrainArgs {
    /// Config file ([data] [audio] [features] [split] [model] [train]).
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
    #[command(after_help = "Example:\n  ser model summary experiments/quickstart.toml")]
    Summary {
        /// Config file ([model], [features] and [audio] are read).
        config: PathBuf,
    },
}

pub fn train(args: TrainArgs, quiet: bool) -> Result<ExitCode> {
    let mut cfg = crate::Config::from_file(&args.config)?;
    if let Some(d) = args.data {
        cfg.data.path = d;
    }
    if let Some(b) = args.backend {
        cfg.train.backend = b;
    }
    if let Some(d) = args.device {
        cfg.train.device = d;
    }
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
            let cfg = crate::Config::from_file(&config)?;
            let extractor = crate::features::Extractor::new(&cfg.features, cfg.audio.sample_rate)?;
            let shape = extractor.input_shape(cfg.audio.max_samples);
            let classes = if cfg.data.include_boredom { 7 } else { 6 };
            let net = crate::model::NetConfig::from_section(&cfg.model, &shape, classes)?;
            println!("{}", net.summary()?);
            Ok(ExitCode::SUCCESS)
        }
    }
}
