//! `ser features ...`: features of single files (numpy-readable), or of a corpus into the cache.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::base::Result;
use crate::cache::{self, CacheOptions};
use crate::config::{BackendKind, Overrides};
use crate::corpus;
use crate::features::export;

#[derive(Debug, Subcommand)]
pub enum FeaturesCommand {
    /// Write, per input, DIR/<stem>/{signal,zcr,rms,mel_db,mfcc}.npy: the padded mono signal and
    /// its features, laid out like librosa's (numpy loads them as is).
    #[command(
        after_help = "Example:\n  ser features extract a.wav b.flac --out features/\n  python -c \"import numpy; print(numpy.load('features/a/mel_db.npy').shape)\"  # (128, 110)"
    )]
    Extract {
        /// Audio files (WAV, FLAC, MP3, OGG/Vorbis; any rate, any channel count).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Config file whose [audio] and [features] sections to use (default: the report's).
        #[arg(long)]
        config: Option<PathBuf>,
        #[command(flatten)]
        on: Where,
    },
    /// Extract the model input of a config's corpus into the feature cache (what a sweep does
    /// first); for an experiment file, every distinct feature set of its grid. A second run with
    /// the same files and config does no work.
    #[command(after_help = "Example:\n  ser features cache experiments/quickstart.toml")]
    Cache {
        /// Config or experiment file ([data], [audio], [features] and the [grid] are read).
        config: PathBuf,
        /// Corpus directory, overriding [data].path.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Cache root.
        #[arg(long, default_value = "results/cache", env = "SER_CACHE")]
        cache: PathBuf,
        #[command(flatten)]
        on: Where,
    },
}

/// Where features are computed, and what to do with files that cannot be read.
#[derive(Debug, Args)]
pub struct Where {
    /// Leave out files that cannot be read (listed) instead of failing.
    #[arg(long)]
    skip_bad: bool,
    /// Where to compute: flex (CPU) or wgpu (the WGSL kernels in shaders/, batches of clips on
    /// the GPU; needs a `--features wgpu` build). A cache entry is the same either way (same
    /// key; the values agree to 1e-4 / 0.01 dB, tests/gpu.rs), its metadata records which.
    #[arg(long, default_value = "flex")]
    backend: BackendKind,
    /// wgpu adapter: 0 = best found (discrete GPU first), N = the N-th discrete GPU.
    #[arg(long, default_value_t = 0)]
    device: usize,
}

impl Where {
    /// The GPU adapter to compute on, if any.
    fn gpu(&self) -> Option<usize> {
        (self.backend == BackendKind::Wgpu).then_some(self.device)
    }
}

pub fn run(cmd: FeaturesCommand) -> Result<ExitCode> {
    match cmd {
        FeaturesCommand::Extract {
            files,
            out,
            config,
            on,
        } => {
            let cfg = super::load_config(config.as_ref())?;
            let gpu = on.gpu();
            let done = export::export(&files, &out, &cfg.audio, &cfg.features, gpu, on.skip_bad)?;
            for (f, why) in &done.skipped {
                eprintln!("skipped {}: {why}", f.display());
            }
            println!(
                "{} of {} files written to {}{}",
                done.written,
                files.len(),
                out.display(),
                if gpu.is_some() {
                    format!(", on {}", done.device)
                } else {
                    String::new()
                }
            );
            if !done.skipped.is_empty() {
                println!("{} files skipped (--skip-bad)", done.skipped.len());
            }
            Ok(ExitCode::SUCCESS)
        }
        FeaturesCommand::Cache {
            config,
            data,
            cache,
            on,
        } => {
            let overrides = Overrides::data(data);
            let configs: Vec<crate::Config> = crate::runner::plan(&config)?
                .1
                .iter()
                .map(|j| overrides.apply(&j.config))
                .collect();
            let opts = CacheOptions {
                dir: cache,
                skip_bad: on.skip_bad,
                gpu: on.gpu(),
            };
            for cfg in crate::runner::feature_sets(&configs) {
                let corpus = corpus::open(&cfg.data)?;
                let table = cache::features_for(&corpus, &cfg.audio, &cfg.features, &opts)?;
                println!(
                    "{} clips × {:?} ({}) {} {}",
                    table.rows(),
                    table.shape,
                    table.kind,
                    if table.extracted {
                        "extracted into"
                    } else {
                        "read from cache"
                    },
                    table.dir.display()
                );
                if !table.skipped.is_empty() {
                    println!(
                        "{} files skipped (listed in the entry's metadata, {})",
                        table.skipped.len(),
                        table.dir.display()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
