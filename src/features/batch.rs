//! Features of many audio files at once, on the CPU or the GPU, with a progress bar.
//!
//! Clips are decoded in parallel on the CPU (one loader per worker thread). On the CPU each
//! worker featurises its clips with its own [`Extractor`]; on the GPU (`features::gpu`)
//! clips go 64 at a time (bounding the audio held at once) through the WGSL kernels, one batch
//! per dispatch. One result per file, in input order: a file that cannot be read is an `Err` in
//! its row, never a failed batch.

use std::path::Path;

use rayon::prelude::*;

use super::{Extractor, FeatureSet};
use crate::audio::load_on_this_thread;
use crate::base::{interrupt, progress, Result};
use crate::config::{AudioConfig, FeatureConfig};

/// Clips decoded and featurised per GPU batch.
#[cfg(feature = "wgpu")]
const GPU_CHUNK: usize = 64;

/// What [`model_inputs`] and [`for_each`] return: one result per input, in input order.
#[derive(Debug)]
pub struct Extracted<T> {
    /// Shape of one clip's model input, e.g. `[220]` or `[128, 110]`.
    pub shape: Vec<usize>,
    /// Values per model input.
    pub row_len: usize,
    /// Per file: its value, or why it could not be read.
    pub rows: Vec<Result<T>>,
    /// Clips that are entirely silent (valid input, but worth a warning).
    pub silent: usize,
    /// Where the features were computed: `flex`, or the GPU adapter's description.
    pub device: String,
}

/// The model input of `features.kind` for every file, flattened row-major; on wgpu adapter
/// `gpu` when given, else on the CPU.
pub fn model_inputs(
    paths: &[&Path],
    audio: &AudioConfig,
    features: &FeatureConfig,
    gpu: Option<usize>,
    label: &str,
) -> Result<Extracted<Vec<f32>>> {
    run(paths, audio, features, gpu, label, ModelInput, |_, _, v| {
        Ok(v)
    })
}

/// Calls `each(index, signal, features)` with every file's padded signal and all its features
/// (as [`Extractor::all`] computes them); returns `each`'s results. On the CPU `each` runs on
/// the worker threads, on the GPU after each batch.
pub fn for_each<T: Send>(
    paths: &[&Path],
    audio: &AudioConfig,
    features: &FeatureConfig,
    gpu: Option<usize>,
    label: &str,
    each: impl Fn(usize, &[f32], FeatureSet) -> Result<T> + Sync,
) -> Result<Extracted<T>> {
    run(paths, audio, features, gpu, label, AllFeatures, each)
}

/// What to compute per clip, on either backend.
trait PerClip: Sync {
    type Out: Send;
    /// Whether the result depends on `features.kind` (which the GPU may not compute).
    const USES_KIND: bool;
    fn cpu(&self, extractor: &mut Extractor, signal: &[f32]) -> Self::Out;
    #[cfg(feature = "wgpu")]
    fn gpu(&self, gpu: &super::gpu::GpuExtractor, signals: &[&[f32]]) -> Result<Vec<Self::Out>>;
}

/// The model input of the configured kind.
struct ModelInput;

impl PerClip for ModelInput {
    type Out = Vec<f32>;
    const USES_KIND: bool = true;
    fn cpu(&self, extractor: &mut Extractor, signal: &[f32]) -> Vec<f32> {
        extractor.model_input(signal)
    }
    #[cfg(feature = "wgpu")]
    fn gpu(&self, gpu: &super::gpu::GpuExtractor, signals: &[&[f32]]) -> Result<Vec<Vec<f32>>> {
        gpu.model_input(signals)
    }
}

/// Every feature.
struct AllFeatures;

impl PerClip for AllFeatures {
    type Out = FeatureSet;
    const USES_KIND: bool = false;
    fn cpu(&self, extractor: &mut Extractor, signal: &[f32]) -> FeatureSet {
        extractor.all(signal)
    }
    #[cfg(feature = "wgpu")]
    fn gpu(&self, gpu: &super::gpu::GpuExtractor, signals: &[&[f32]]) -> Result<Vec<FeatureSet>> {
        gpu.all(signals)
    }
}

fn run<P: PerClip, T: Send>(
    paths: &[&Path],
    audio: &AudioConfig,
    features: &FeatureConfig,
    gpu: Option<usize>,
    label: &str,
    per: P,
    each: impl Fn(usize, &[f32], P::Out) -> Result<T> + Sync,
) -> Result<Extracted<T>> {
    let probe = Extractor::new(features, audio.sample_rate)?;
    if gpu.is_some() && P::USES_KIND && !features.kind.has_gpu_kernels() {
        // Refused before any file is decoded, with or without a wgpu build.
        return Err(crate::base::Error::device(
            "wgpu",
            format!(
                "the GPU features cannot do features.kind `{}` (CPU only): use --backend flex",
                features.kind
            ),
        ));
    }
    let shape = probe.input_shape(audio.max_samples);
    let row_len = shape.iter().product();
    let (rows, silent, device) = match gpu {
        None => {
            let (rows, silent) = on_cpu(paths, audio, &probe, label, &per, &each);
            (rows, silent, "flex".to_string())
        }
        Some(device) => on_gpu(paths, audio, features, device, label, &per, &each)?,
    };
    // Rows cut short by a signal are not bad files: the whole extraction stops.
    interrupt::check()?;
    Ok(Extracted {
        shape,
        row_len,
        rows,
        silent,
        device,
    })
}

fn is_silent(signal: &[f32]) -> bool {
    signal.iter().all(|&x| x == 0.0)
}

fn on_cpu<P: PerClip, T: Send>(
    paths: &[&Path],
    audio: &AudioConfig,
    probe: &Extractor,
    label: &str,
    per: &P,
    each: &(impl Fn(usize, &[f32], P::Out) -> Result<T> + Sync),
) -> (Vec<Result<T>>, usize) {
    let pb = progress::bar(paths.len() as u64, label.to_string());
    let results: Vec<(Result<T>, bool)> = paths
        .par_iter()
        .enumerate()
        .map_init(
            || probe.clone(),
            |extractor, (i, path)| {
                // After a signal the remaining clips are skipped (the caller sees `check` fail).
                let out = interrupt::check()
                    .and_then(|()| load_on_this_thread(audio, path))
                    .and_then(|clip| {
                        let silent = is_silent(&clip.signal);
                        let value = per.cpu(extractor, &clip.signal);
                        each(i, &clip.signal, value).map(|v| (v, silent))
                    });
                pb.inc(1);
                match out {
                    Ok((v, silent)) => (Ok(v), silent),
                    Err(e) => (Err(e), false),
                }
            },
        )
        .collect();
    pb.finish_and_clear();
    let silent = results.iter().filter(|(_, s)| *s).count();
    (results.into_iter().map(|(r, _)| r).collect(), silent)
}

#[cfg(feature = "wgpu")]
fn on_gpu<P: PerClip, T: Send>(
    paths: &[&Path],
    audio: &AudioConfig,
    features: &FeatureConfig,
    device: usize,
    label: &str,
    per: &P,
    each: &(impl Fn(usize, &[f32], P::Out) -> Result<T> + Sync),
) -> Result<(Vec<Result<T>>, usize, String)> {
    use crate::base::Error;
    let gpu = super::gpu::GpuExtractor::new(features, audio.sample_rate, device)?;
    tracing::info!("features on {}", gpu.adapter());
    let pb = progress::bar(paths.len() as u64, format!("{label} (wgpu)"));
    let (mut rows, mut silent) = (Vec::with_capacity(paths.len()), 0);
    for (c, chunk) in paths.chunks(GPU_CHUNK).enumerate() {
        crate::base::interrupt::check()?;
        let loaded: Vec<Result<Vec<f32>>> = chunk
            .par_iter()
            .map(|p| load_on_this_thread(audio, p).map(|c| c.signal))
            .collect();
        let signals: Vec<&[f32]> = loaded
            .iter()
            .filter_map(|r| r.as_ref().ok().map(Vec::as_slice))
            .collect();
        silent += signals.iter().filter(|s| is_silent(s)).count();
        let mut values = per.gpu(&gpu, &signals)?.into_iter();
        for (k, r) in loaded.into_iter().enumerate() {
            let i = c * GPU_CHUNK + k;
            rows.push(r.and_then(|signal| {
                let v = values
                    .next()
                    .ok_or_else(|| Error::Data("GPU features: fewer rows than clips".into()))?;
                each(i, &signal, v)
            }));
        }
        pb.inc(chunk.len() as u64);
    }
    pb.finish_and_clear();
    Ok((rows, silent, gpu.adapter()))
}

#[cfg(not(feature = "wgpu"))]
fn on_gpu<P: PerClip, T: Send>(
    _: &[&Path],
    _: &AudioConfig,
    _: &FeatureConfig,
    _: usize,
    _: &str,
    _: &P,
    _: &(impl Fn(usize, &[f32], P::Out) -> Result<T> + Sync),
) -> Result<(Vec<Result<T>>, usize, String)> {
    Err(crate::base::device::without_wgpu(
        "or compute features with --backend flex",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FeatureKind;

    #[test]
    fn gpu_refuses_cpu_only_kinds_before_decoding() {
        let features = FeatureConfig {
            kind: FeatureKind::Chroma,
            ..FeatureConfig::default()
        };
        let missing = Path::new("/nonexistent/clip.wav");
        let err = model_inputs(&[missing], &AudioConfig::default(), &features, Some(0), "t")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("features.kind `chroma`") && err.contains("--backend flex"),
            "{err}"
        );
        // On the CPU the same kind runs (the missing file is a bad row, not a failed batch).
        let done = model_inputs(&[missing], &AudioConfig::default(), &features, None, "t").unwrap();
        assert_eq!(done.shape, vec![12, 110]);
        assert!(done.rows[0].is_err());
    }
}
