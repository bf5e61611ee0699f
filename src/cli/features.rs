//! `ser features ...`: features of single files (numpy-readable), or of a corpus into the cache.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use rayon::prelude::*;

use crate::audio::Loader;
use crate::cache::{self, CacheOptions};
use crate::config::BackendKind;
use crate::error::{Error, Result};
use crate::features::{Extractor, Matrix};
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
        /// Where to compute: flex (CPU) or wgpu (the WGSL kernels in shaders/, batches of clips
        /// on the GPU; needs a `--features wgpu` build).
        #[arg(long, default_value = "flex")]
        backend: BackendKind,
        /// wgpu adapter: 0 = best found (discrete GPU first), N = the N-th discrete GPU.
        #[arg(long, default_value_t = 0)]
        device: usize,
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
        /// Where to extract: flex (CPU) or wgpu (GPU kernels). Both fill the same entry (same
        /// key): their values agree to 1e-4 / 0.01 dB (tests/gpu.rs); meta.json records which.
        #[arg(long, default_value = "flex")]
        backend: BackendKind,
        /// wgpu adapter: 0 = best found (discrete GPU first), N = the N-th discrete GPU.
        #[arg(long, default_value_t = 0)]
        device: usize,
    },
}

pub fn run(cmd: FeaturesCommand) -> Result<ExitCode> {
    match cmd {
        FeaturesCommand::Extract {
            files,
            out,
            config,
            skip_bad,
            backend,
            device,
        } => {
            let gpu = (backend == BackendKind::Wgpu).then_some(device);
            extract(&files, &out, config.as_ref(), skip_bad, gpu)
        }
        FeaturesCommand::Cache {
            config,
            data,
            cache,
            skip_bad,
            backend,
            device,
        } => {
            let mut cfg = crate::Config::from_file(&config)?;
            if let Some(d) = data {
                cfg.data.path = d;
            }
            let corpus = corpus::open(&cfg.data)?;
            let opts = CacheOptions {
                dir: cache,
                skip_bad,
                gpu: (backend == BackendKind::Wgpu).then_some(device),
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
    gpu: Option<usize>,
) -> Result<ExitCode> {
    let cfg = super::load_config(config)?;
    let origin = config
        .map(|p| p.as_path())
        .unwrap_or(Path::new("(defaults)"));
    cfg.validate(origin)?;
    let stems = unique_stems(files)?;
    let (failures, on) = match gpu {
        None => (extract_cpu(files, &stems, out, &cfg)?, String::new()),
        Some(device) => extract_gpu(files, &stems, out, &cfg, device)?,
    };
    let done = files.len() - failures.len();
    if !failures.is_empty() && !skip_bad {
        return Err(cache::batch_error(&failures, files.len()));
    }
    for (f, why) in &failures {
        eprintln!("skipped {}: {why}", f.display());
    }
    println!(
        "{done} of {} files written to {}{on}",
        files.len(),
        out.display()
    );
    if !failures.is_empty() {
        println!("{} files skipped (--skip-bad)", failures.len());
    }
    Ok(ExitCode::SUCCESS)
}

/// Every file decoded and featurised on the CPU, in parallel; returns the failures.
fn extract_cpu(
    files: &[PathBuf],
    stems: &[String],
    out: &Path,
    cfg: &crate::Config,
) -> Result<Vec<(PathBuf, String)>> {
    let extractor = Extractor::new(&cfg.features, cfg.audio.sample_rate)?;
    let pb = progress::bar(files.len() as u64, "extract");
    let failures = files
        .par_iter()
        .zip(stems.par_iter())
        .map_init(
            || (Loader::new(&cfg.audio), extractor.clone()),
            |(loader, ex), (file, stem)| {
                let r = loader.load(file).and_then(|clip| {
                    let f = ex.all(&clip.signal);
                    write_all(
                        &out.join(stem),
                        &clip.signal,
                        &f.zcr,
                        &f.rms,
                        &f.mel_db,
                        &f.mfcc,
                    )
                });
                pb.inc(1);
                r.err().map(|e| (file.clone(), e.to_string()))
            },
        )
        .flatten()
        .collect();
    pb.finish_and_clear();
    Ok(failures)
}

/// Files decoded on the CPU (in parallel), featurised on the GPU a batch at a time; returns
/// the failures and ", on <adapter>" for the summary line.
#[cfg(feature = "wgpu")]
fn extract_gpu(
    files: &[PathBuf],
    stems: &[String],
    out: &Path,
    cfg: &crate::Config,
    device: usize,
) -> Result<(Vec<(PathBuf, String)>, String)> {
    use crate::features::gpu::GpuExtractor;
    let gpu = GpuExtractor::new(&cfg.features, cfg.audio.sample_rate, device)?;
    let pb = progress::bar(files.len() as u64, "extract (wgpu)");
    let mut failures = Vec::new();
    // Batches of 64 clips bound the decoded audio held at once, whatever the file count.
    let named: Vec<(&PathBuf, &String)> = files.iter().zip(stems).collect();
    for chunk in named.chunks(64) {
        let loaded: Vec<_> = chunk
            .par_iter()
            .map(|(file, _)| crate::audio::load_on_this_thread(&cfg.audio, file))
            .collect();
        let mut ok = Vec::new();
        for ((file, stem), clip) in chunk.iter().zip(loaded) {
            match clip {
                Ok(clip) => ok.push((*file, *stem, clip.signal)),
                Err(e) => failures.push(((*file).clone(), e.to_string())),
            }
        }
        let signals: Vec<&[f32]> = ok.iter().map(|(_, _, s)| s.as_slice()).collect();
        let batch = gpu.extract(&signals)?;
        for (i, (file, stem, signal)) in ok.iter().enumerate() {
            let mfcc = gpu.mfcc(&batch, i);
            let r = write_all(
                &out.join(stem),
                signal,
                batch.zcr(i),
                batch.rms(i),
                &batch.mel_db(i),
                &mfcc,
            );
            if let Err(e) = r {
                failures.push(((*file).clone(), e.to_string()));
            }
        }
        pb.inc(chunk.len() as u64);
    }
    pb.finish_and_clear();
    Ok((failures, format!(", on {}", gpu.adapter())))
}

#[cfg(not(feature = "wgpu"))]
fn extract_gpu(
    _: &[PathBuf],
    _: &[String],
    _: &Path,
    _: &crate::Config,
    _: usize,
) -> Result<(Vec<(PathBuf, String)>, String)> {
    Err(Error::without_wgpu("or use --backend flex"))
}

/// Writes the signal and the features of one clip into `dir` (created), with librosa's dtypes
/// (ZCR as float64).
fn write_all(
    dir: &Path,
    signal: &[f32],
    zcr: &[f32],
    rms: &[f32],
    mel_db: &Matrix,
    mfcc: &Matrix,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    npy::write_f32(dir.join("signal.npy"), signal, &[signal.len()])?;
    let zcr: Vec<f64> = zcr.iter().map(|&v| v as f64).collect();
    npy::write_f64(dir.join("zcr.npy"), &zcr, &[zcr.len()])?;
    npy::write_f32(dir.join("rms.npy"), rms, &[rms.len()])?;
    npy::write_f32(dir.join("mel_db.npy"), &mel_db.data, &mel_db.shape())?;
    npy::write_f32(dir.join("mfcc.npy"), &mfcc.data, &mfcc.shape())?;
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
