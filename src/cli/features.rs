//! `ser features ...`: features of single files (numpy-readable), or of a corpus into the cache.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use rayon::prelude::*;

use crate::audio::Loader;
use crate::cache::{self, CacheOptions};
use crate::error::{Error, Result};
use crate::features::Extractor;
use crate::{corpus, npy, progress};

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
        /// Leave out files that cannot be read (listed at the end) instead of failing.
        #[arg(long)]
        skip_bad: bool,
    },
    /// Extract the model input of a config's corpus into the feature cache (what a sweep does
    /// first); a second run with the same files and config does no work.
    #[command(after_help = "Example:\n  ser features cache experiments/quickstart.toml")]
    Cache {
        /// Config file ([data], [audio], [features] are read).
        config: PathBuf,
        /// Corpus directory, overriding [data].path.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Cache root.
        #[arg(long, default_value = "results/cache", env = "SER_CACHE")]
        cache: PathBuf,
        /// Leave out files that cannot be read (listed) instead of failing.
        #[arg(long)]
        skip_bad: bool,
    },
}

pub fn run(cmd: FeaturesCommand) -> Result<ExitCode> {
    match cmd {
        FeaturesCommand::Extract {
            files,
            out,
            config,
            skip_bad,
        } => extract(&files, &out, config.as_ref(), skip_bad),
        FeaturesCommand::Cache {
            config,
            data,
            cache,
            skip_bad,
        } => {
            let mut cfg = crate::Config::from_file(&config)?;
            if let Some(d) = data {
                cfg.data.path = d;
            }
            let corpus = corpus::open(&cfg.data)?;
            let opts = CacheOptions {
                dir: cache,
                skip_bad,
            };
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
                    "{} files skipped (listed in {}/meta.json)",
                    table.skipped.len(),
                    table.dir.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn extract(
    files: &[PathBuf],
    out: &Path,
    config: Option<&PathBuf>,
    skip_bad: bool,
) -> Result<ExitCode> {
    let cfg = super::load_config(config)?;
    let origin = config
        .map(|p| p.as_path())
        .unwrap_or(Path::new("(defaults)"));
    cfg.validate(origin)?;
    let stems = unique_stems(files)?;
    let extractor = Extractor::new(&cfg.features, cfg.audio.sample_rate)?;
    let pb = progress::bar(files.len() as u64, "extract");
    let failures: Vec<(PathBuf, String)> = files
        .par_iter()
        .zip(stems.par_iter())
        .map_init(
            || (Loader::new(&cfg.audio), extractor.clone()),
            |(loader, ex), (file, stem)| {
                let r = loader.load(file).and_then(|clip| {
                    let dir = out.join(stem);
                    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
                    write_all(&dir, &clip.signal, ex)
                });
                pb.inc(1);
                r.err().map(|e| (file.clone(), e.to_string()))
            },
        )
        .flatten()
        .collect();
    pb.finish_and_clear();
    let done = files.len() - failures.len();
    if !failures.is_empty() && !skip_bad {
        return Err(cache::batch_error(&failures, files.len()));
    }
    for (f, why) in &failures {
        eprintln!("skipped {}: {why}", f.display());
    }
    println!(
        "{done} of {} files written to {}",
        files.len(),
        out.display()
    );
    if !failures.is_empty() {
        println!("{} files skipped (--skip-bad)", failures.len());
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the signal and every feature of one clip, with librosa's dtypes (ZCR as float64).
fn write_all(dir: &Path, signal: &[f32], ex: &mut Extractor) -> Result<()> {
    let f = ex.all(signal);
    npy::write_f32(dir.join("signal.npy"), signal, &[signal.len()])?;
    let zcr: Vec<f64> = f.zcr.iter().map(|&v| v as f64).collect();
    npy::write_f64(dir.join("zcr.npy"), &zcr, &[zcr.len()])?;
    npy::write_f32(dir.join("rms.npy"), &f.rms, &[f.rms.len()])?;
    npy::write_f32(
        dir.join("mel_db.npy"),
        &f.mel_db.data,
        &[f.mel_db.rows, f.mel_db.cols],
    )?;
    npy::write_f32(
        dir.join("mfcc.npy"),
        &f.mfcc.data,
        &[f.mfcc.rows, f.mfcc.cols],
    )?;
    Ok(())
}

/// Output folder names: file stems, which must not collide (two `a.wav` from different folders).
fn unique_stems(files: &[PathBuf]) -> Result<Vec<String>> {
    let mut seen = std::collections::HashMap::new();
    files
        .iter()
        .map(|f| {
            let stem = f
                .file_stem()
                .and_then(|s| s.to_str())
                .ok_or_else(|| Error::Usage(format!("{}: file name is not valid UTF-8", f.display())))?
                .to_string();
            if let Some(prev) = seen.insert(stem.clone(), f.clone()) {
                return Err(Error::Usage(format!(
                    "{} and {} would both write to <out>/{stem}/: extract them into different --out folders",
                    prev.display(),
                    f.display()
                )));
            }
            Ok(stem)
        })
        .collect()
}
