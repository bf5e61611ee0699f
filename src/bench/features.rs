//! `ser bench features`: clips per second for decode + resample + pad + both feature sets
//! (ZCR + RMS and the log-mel spectrogram), against librosa on the same files in the same run;
//! with `--backend wgpu` also the GPU kernels (`features::gpu`) on the same files: end to end
//! (decode on the CPU threads, then one GPU batch of 64 clips after another) and the kernels
//! alone (upload, four dispatches, read-back).

use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use crate::base::device::BackendKind;
use crate::base::{progress, Error, Result};
use crate::config::{AudioConfig, FeatureConfig};
use crate::features::Extractor;

/// The peer's timing driver, shipped inside the binary so the benchmark runs from anywhere.
const PEER_SCRIPT: &str = include_str!("../../scripts/peer_features_bench.py");

/// One measured case (a folder, or one file repeated).
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub name: String,
    pub clips: usize,
    pub threads: usize,
    /// Wall seconds of each timed pass.
    pub passes: Vec<f64>,
    pub clips_per_s: f64,
    /// The peer's clips/s on the same files (single process), when it ran.
    pub peer_clips_per_s: Option<f64>,
    pub peer_error: Option<String>,
    /// `clips_per_s / peer_clips_per_s`.
    pub ratio: Option<f64>,
    /// The GPU path on the same files (`--backend wgpu`).
    pub gpu: Option<GpuCase>,
}

/// The GPU path's timings of one case.
#[derive(Debug, Clone, Serialize)]
pub struct GpuCase {
    /// Adapter name, backend and type, as wgpu reports them.
    pub adapter: String,
    /// Wall seconds of each timed pass, decoding included.
    pub passes: Vec<f64>,
    pub clips_per_s: f64,
    /// Seconds of each pass spent in the GPU batches alone (upload, kernels, read-back).
    pub kernel_passes: Vec<f64>,
    pub kernel_clips_per_s: f64,
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct FeatureBench {
    pub corpus: Option<PathBuf>,
    pub repeat_file: Option<PathBuf>,
    pub repeats: usize,
    pub passes: usize,
    pub peer_python: Option<PathBuf>,
    pub peer_dir: PathBuf,
    /// `Wgpu`: also time the GPU path, on adapter `device`.
    pub backend: BackendKind,
    pub device: usize,
}

/// Audio files directly inside `dir` (by extension), sorted.
pub fn audio_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                matches!(
                    e.to_ascii_lowercase().as_str(),
                    "wav" | "flac" | "mp3" | "ogg"
                )
            })
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::Corpus {
            path: dir.to_path_buf(),
            message: "no audio files (wav, flac, mp3, ogg) in this folder".into(),
        });
    }
    Ok(files)
}

/// Runs every case and returns the results in order.
pub fn run(bench: &FeatureBench) -> Result<Vec<CaseResult>> {
    let mut cases: Vec<(String, Vec<PathBuf>)> = Vec::new();
    if let Some(dir) = &bench.corpus {
        cases.push((dir.display().to_string(), audio_files(dir)?));
    }
    if let Some(f) = &bench.repeat_file {
        cases.push((
            format!("{} ×{}", f.display(), bench.repeats),
            vec![f.clone(); bench.repeats],
        ));
    }
    if cases.is_empty() {
        return Err(Error::Usage(
            "nothing to measure: give --corpus DIR and/or --repeat-file FILE".into(),
        ));
    }
    let mut out = Vec::new();
    for (name, files) in cases {
        let mut result = time_ours(&name, &files, bench.passes)?;
        if bench.backend == BackendKind::Wgpu {
            result.gpu = Some(time_gpu(&files, bench.passes, bench.device)?);
        }
        match &bench.peer_python {
            Some(py) => match time_peer(py, &bench.peer_dir, &files, bench.passes) {
                Ok(cps) => {
                    result.peer_clips_per_s = Some(cps);
                    result.ratio = Some(result.clips_per_s / cps);
                }
                Err(e) => result.peer_error = Some(e.to_string()),
            },
            None => {
                result.peer_error =
                    Some("peer not run: pass --peer-python (see `just peer-setup`)".into())
            }
        }
        out.push(result);
    }
    Ok(out)
}

/// Our path over `files`: parallel over clips, each worker thread reusing its loader.
fn time_ours(name: &str, files: &[PathBuf], passes: usize) -> Result<CaseResult> {
    let audio = AudioConfig::default();
    let features = FeatureConfig::default();
    let extractor = Extractor::new(&features, audio.sample_rate)?;
    // Warm-up on one clip (page cache, lazy statics), excluded like the peer's first clip.
    one_clip(&audio, &mut extractor.clone(), &files[0])?;
    let threads = rayon::current_num_threads();
    let pb = progress::bar((passes * files.len()) as u64, "ser");
    let mut walls = Vec::new();
    for _ in 0..passes.max(1) {
        let t = Instant::now();
        let failed: Option<Error> = files
            .par_iter()
            .map_init(
                || extractor.clone(),
                |ex, f| {
                    let r = one_clip(&audio, ex, f);
                    pb.inc(1);
                    r
                },
            )
            .find_map_any(|r: Result<()>| r.err());
        if let Some(e) = failed {
            return Err(e);
        }
        walls.push(t.elapsed().as_secs_f64());
    }
    pb.finish_and_clear();
    let wall = super::median(&walls);
    Ok(CaseResult {
        name: name.to_string(),
        clips: files.len(),
        threads,
        passes: walls,
        clips_per_s: files.len() as f64 / wall,
        peer_clips_per_s: None,
        peer_error: None,
        ratio: None,
        gpu: None,
    })
}

/// The GPU path over `files`: batches of 64 clips decoded in parallel on the CPU, then
/// extracted on the GPU in one submission each.
#[cfg(feature = "wgpu")]
fn time_gpu(files: &[PathBuf], passes: usize, device: usize) -> Result<GpuCase> {
    use crate::features::gpu::GpuExtractor;
    const BATCH: usize = 64;
    let audio = AudioConfig::default();
    let gpu = GpuExtractor::new(&FeatureConfig::default(), audio.sample_rate, device)?;
    let decode = |chunk: &[PathBuf]| -> Result<Vec<Vec<f32>>> {
        chunk
            .par_iter()
            .map(|f| crate::audio::load_on_this_thread(&audio, f).map(|c| c.signal))
            .collect()
    };
    let extract = |signals: &[Vec<f32>]| -> Result<f64> {
        let t = Instant::now();
        let refs: Vec<&[f32]> = signals.iter().map(Vec::as_slice).collect();
        std::hint::black_box(gpu.extract(&refs)?);
        Ok(t.elapsed().as_secs_f64())
    };
    // Warm-up: one full batch (shader compilation, buffer allocation), excluded.
    extract(&decode(&files[..files.len().min(BATCH)])?)?;
    let pb = progress::bar((passes * files.len()) as u64, "ser (wgpu)");
    let (mut walls, mut kernels) = (Vec::new(), Vec::new());
    for _ in 0..passes.max(1) {
        let t = Instant::now();
        let mut k = 0.0;
        for chunk in files.chunks(BATCH) {
            k += extract(&decode(chunk)?)?;
            pb.inc(chunk.len() as u64);
        }
        walls.push(t.elapsed().as_secs_f64());
        kernels.push(k);
    }
    pb.finish_and_clear();
    Ok(GpuCase {
        adapter: gpu.adapter(),
        clips_per_s: files.len() as f64 / super::median(&walls),
        kernel_clips_per_s: files.len() as f64 / super::median(&kernels),
        passes: walls,
        kernel_passes: kernels,
    })
}

#[cfg(not(feature = "wgpu"))]
fn time_gpu(_: &[PathBuf], _: usize, _: usize) -> Result<GpuCase> {
    Err(crate::base::device::without_wgpu(
        "or leave out --backend wgpu",
    ))
}

/// Decode + resample + pad, then both feature sets, exactly what the report computes per clip.
fn one_clip(audio: &AudioConfig, ex: &mut Extractor, path: &Path) -> Result<()> {
    let clip = crate::audio::load_on_this_thread(audio, path)?;
    let zcr = ex.zcr(&clip.signal);
    let rms = ex.rms(&clip.signal);
    let mel = ex.mel_db(&clip.signal);
    std::hint::black_box((zcr, rms, mel));
    Ok(())
}

/// The peer's `features.extract` over the same files, single process; returns clips/s.
fn time_peer(python: &Path, peer_dir: &Path, files: &[PathBuf], passes: usize) -> Result<f64> {
    let script = std::env::temp_dir().join(format!("ser-peer-features-{}.py", std::process::id()));
    std::fs::write(&script, PEER_SCRIPT).map_err(|e| Error::io(&script, e))?;
    // One BLAS thread: librosa's fastest single-process setting here. With OpenBLAS's default
    // threads, its mel projection slows down up to 20× whenever another process uses a core,
    // which would flatter our ratio.
    let stdout = super::run_peer(
        std::process::Command::new(python)
            .env("OPENBLAS_NUM_THREADS", "1")
            .arg(&script)
            .arg(peer_dir)
            .arg(passes.to_string())
            .args(files),
        &format!("librosa ({} clips × {passes} passes)", files.len()),
    );
    let _ = std::fs::remove_file(&script);
    let stdout = stdout?;
    let peer = |message: String| Error::Command {
        program: python.display().to_string(),
        message,
    };
    let v: serde_json::Value = serde_json::from_slice(&stdout)
        .map_err(|e| peer(format!("the peer printed no JSON: {e}")))?;
    v["clips_per_s"]
        .as_f64()
        .ok_or_else(|| peer("the peer's JSON has no clips_per_s".into()))
}

/// The final table, as printed and as written into the README.
pub fn table(results: &[CaseResult]) -> String {
    let mut s = String::from(
        "| case | clips | ser clips/s | librosa clips/s | ratio |\n|---|---|---|---|---|\n",
    );
    for r in results {
        let peer = r
            .peer_clips_per_s
            .map(|v| format!("{v:.1}"))
            .unwrap_or_else(|| "—".into());
        let ratio = r
            .ratio
            .map(|v| format!("{v:.1}×"))
            .unwrap_or_else(|| "—".into());
        s += &format!(
            "| {} | {} | {:.1} ({} threads) | {peer} | {ratio} |\n",
            r.name, r.clips, r.clips_per_s, r.threads
        );
        if let Some(g) = &r.gpu {
            let ratio = r
                .peer_clips_per_s
                .map(|p| format!("{:.1}×", g.clips_per_s / p))
                .unwrap_or_else(|| "—".into());
            s += &format!(
                "| {} (wgpu) | {} | {:.1} (kernels alone: {:.1}) | {peer} | {ratio} |\n",
                r.name, r.clips, g.clips_per_s, g.kernel_clips_per_s
            );
        }
    }
    for r in results {
        if let Some(g) = &r.gpu {
            s += &format!("\n{} (wgpu): on {}", r.name, g.adapter);
        }
    }
    for r in results.iter().filter(|r| r.peer_error.is_some()) {
        s += &format!("\n{}: {}", r.name, r.peer_error.as_deref().unwrap_or(""));
    }
    s
}
