//! Features of single files written for other tools: per input, `OUT/<stem>/signal.npy`,
//! `zcr.npy`, `rms.npy`, `mel_db.npy` and `mfcc.npy`, laid out and typed as librosa returns them
//! (ZCR as float64), so numpy loads them as is (`ser features extract`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{batch, FeatureSet};
use crate::base::{Error, Result};
use crate::config::{AudioConfig, FeatureConfig};
use crate::npy;

/// What [`export`] did.
#[derive(Debug)]
pub struct Exported {
    /// Files whose features were written.
    pub written: usize,
    /// Files that could not be read or written, with the reason (only with `skip_bad`).
    pub skipped: Vec<(PathBuf, String)>,
    /// Where the features were computed: `flex`, or the GPU adapter.
    pub device: String,
}

/// Writes the signal and features of every file into `out/<stem>/`; on wgpu adapter `gpu` when
/// given. A file that cannot be read fails the call (listing every such file) unless
/// `skip_bad`, when it is left out and listed.
pub fn export(
    files: &[PathBuf],
    out: &Path,
    audio: &AudioConfig,
    features: &FeatureConfig,
    gpu: Option<usize>,
    skip_bad: bool,
) -> Result<Exported> {
    let stems = unique_stems(files)?;
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let done = batch::for_each(&paths, audio, features, gpu, "extract", |i, signal, f| {
        write_all(&out.join(&stems[i]), signal, &f)
    })?;
    let failures: Vec<(PathBuf, String)> = files
        .iter()
        .zip(done.rows)
        .filter_map(|(f, r)| r.err().map(|e| (f.clone(), e.to_string())))
        .collect();
    if !failures.is_empty() && !skip_bad {
        return Err(Error::batch(&failures, files.len()));
    }
    Ok(Exported {
        written: files.len() - failures.len(),
        skipped: failures,
        device: done.device,
    })
}

/// Writes the signal and the features of one clip into `dir` (created), with librosa's dtypes.
fn write_all(dir: &Path, signal: &[f32], f: &FeatureSet) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    npy::write_f32(dir.join("signal.npy"), signal, &[signal.len()])?;
    let zcr: Vec<f64> = f.zcr.iter().map(|&v| v as f64).collect();
    npy::write_f64(dir.join("zcr.npy"), &zcr, &[zcr.len()])?;
    npy::write_f32(dir.join("rms.npy"), &f.rms, &[f.rms.len()])?;
    npy::write_f32(dir.join("mel_db.npy"), &f.mel_db.data, &f.mel_db.shape())?;
    npy::write_f32(dir.join("mfcc.npy"), &f.mfcc.data, &f.mfcc.shape())?;
    Ok(())
}

/// Output folder names: file stems, which must not collide (two `a.wav` from different folders).
fn unique_stems(files: &[PathBuf]) -> Result<Vec<String>> {
    let mut seen = HashMap::new();
    files
        .iter()
        .map(|f| {
            let stem = f
                .file_stem()
                .and_then(|s| s.to_str())
                .ok_or_else(|| {
                    Error::Usage(format!("{}: file name is not valid UTF-8", f.display()))
                })?
                .to_string();
            if let Some(prev) = seen.insert(stem.clone(), f.clone()) {
                return Err(Error::Usage(format!(
                    "{} and {} would both write to <out>/{stem}/: extract them into different \
                     --out folders",
                    prev.display(),
                    f.display()
                )));
            }
            Ok(stem)
        })
        .collect()
}
