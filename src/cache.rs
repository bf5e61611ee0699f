//! The feature cache: every clip of a corpus decoded and featurised once, stored as `.npy`.
//!
//! A cache entry is keyed by a hash of everything its numbers depend on: the corpus root and
//! each file's name, size and modification time, the audio config and the feature config. Change
//! any of them and the key changes, so a stale entry is never read. An entry is a directory
//!
//! ```text
//! <cache>/<kind>-<key>/features.npy   f32, [clips, ...per-clip shape]  (numpy reads it as is)
//!                      files.txt      one corpus-relative path per row of features.npy
//!                      meta.json      configs, per-clip shape, skipped files; written last
//! ```
//!
//! built in a temporary sibling and renamed into place, so a killed extraction leaves nothing
//! that looks complete. Extraction runs in parallel (rayon), one loader + extractor per chunk of
//! clips; each worker thread keeps its loader (resamplers) for its life.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{AudioConfig, FeatureConfig, FeatureKind};
use crate::corpus::Corpus;
use crate::error::{Error, Result};
use crate::features::Extractor;
use crate::{npy, progress};

/// Bumped when the meaning of cached numbers changes (a feature fix), so old entries are not reused.
const CACHE_VERSION: u32 = 1;

/// Features of every usable clip of a corpus, one row per clip.
#[derive(Debug, Clone)]
pub struct FeatureTable {
    /// Feature kind of every row.
    pub kind: FeatureKind,
    /// Shape of one clip's features, e.g. `[220]` or `[128, 110]`.
    pub shape: Vec<usize>,
    /// Row-major `[rows, ...shape]` values.
    pub data: Vec<f32>,
    /// For each row, the index of its item in `Corpus::items`.
    pub items: Vec<usize>,
    /// Files left out with `skip_bad`, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
    /// Clips that are entirely silent (valid input, but worth a warning).
    pub silent: usize,
    /// Cache key (hex) and the entry's directory.
    pub key: String,
    pub dir: PathBuf,
    /// True when this call extracted the features; false when they came from the cache.
    pub extracted: bool,
}

impl FeatureTable {
    /// Values per row.
    pub fn row_len(&self) -> usize {
        self.shape.iter().product()
    }
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.items.len()
    }
    /// The features of row `r`.
    pub fn row(&self, r: usize) -> &[f32] {
        let n = self.row_len();
        &self.data[r * n..(r + 1) * n]
    }
}

/// How to use the cache.
#[derive(Debug, Clone)]
pub struct CacheOptions {
    /// Root of the cache (entries are subdirectories).
    pub dir: PathBuf,
    /// Leave out files that fail to load, listing them, instead of failing.
    pub skip_bad: bool,
    /// Extract on this wgpu adapter (`features::gpu`) instead of the CPU. The entry is the same
    /// (same key, `backend` in meta.json says which extracted it): the two agree to 1e-4 /
    /// 0.01 dB (tests/gpu.rs), the tolerance the CPU path itself holds against librosa.
    pub gpu: Option<usize>,
}

#[derive(Serialize, Deserialize)]
struct Meta {
    version: u32,
    key: String,
    corpus_root: PathBuf,
    audio: AudioConfig,
    features: FeatureConfig,
    shape: Vec<usize>,
    rows: usize,
    silent: usize,
    skipped: Vec<(PathBuf, String)>,
    /// `flex` or `wgpu:N`: where the features were computed (absent in older entries).
    #[serde(default)]
    backend: String,
}

/// The cache key of (corpus files, audio config, feature config): 16 hex digits of a SHA-256.
pub fn cache_key(corpus: &Corpus, audio: &AudioConfig, features: &FeatureConfig) -> Result<String> {
    let mut h = Sha256::new();
    h.update(format!("ser-cache v{CACHE_VERSION}\n"));
    let root = std::fs::canonicalize(&corpus.root).unwrap_or_else(|_| corpus.root.clone());
    h.update(format!("root {}\n", root.display()));
    h.update(serde_json::to_string(audio).map_err(|e| Error::Usage(e.to_string()))?);
    h.update(serde_json::to_string(features).map_err(|e| Error::Usage(e.to_string()))?);
    for item in &corpus.items {
        let md = std::fs::metadata(&item.path).map_err(|e| Error::io(&item.path, e))?;
        let mtime = md
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        h.update(format!(
            "\n{}\t{}\t{}",
            item.path.display(),
            md.len(),
            mtime
        ));
    }
    Ok(hex_prefix(&h.finalize(), 8))
}

/// The first `bytes` bytes of `digest` in lower-case hex: the short ids of cache entries,
/// checkpoints and jobs.
pub fn hex_prefix(digest: &[u8], bytes: usize) -> String {
    digest
        .iter()
        .take(bytes)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The features of `corpus` under `audio` + `features`: read from the cache when an entry with
/// the same key exists, otherwise extracted (in parallel) and stored.
pub fn features_for(
    corpus: &Corpus,
    audio: &AudioConfig,
    features: &FeatureConfig,
    opts: &CacheOptions,
) -> Result<FeatureTable> {
    let key = cache_key(corpus, audio, features)?;
    let dir = opts.dir.join(format!("{}-{key}", features.kind));
    if dir.join("meta.json").is_file() {
        match read_entry(&dir, corpus) {
            Ok(table) => {
                tracing::info!(
                    "features: {} clips from cache {}",
                    table.rows(),
                    dir.display()
                );
                return Ok(table);
            }
            Err(e) => tracing::warn!("cache entry unusable, extracting again: {e}"),
        }
    }
    let paths: Vec<&Path> = corpus.items.iter().map(|i| i.path.as_path()).collect();
    let label = format!("{} features", features.kind);
    let extracted = match opts.gpu {
        None => extract_all(&paths, audio, features, &label)?,
        Some(device) => extract_all_gpu(&paths, audio, features, &label, device)?,
    };
    let mut skipped = Vec::new();
    let mut data = Vec::with_capacity(extracted.row_len * corpus.items.len());
    let mut items = Vec::with_capacity(corpus.items.len());
    for (i, result) in extracted.rows.into_iter().enumerate() {
        match result {
            Ok(row) => {
                data.extend_from_slice(&row);
                items.push(i);
            }
            Err(e) => skipped.push((corpus.items[i].path.clone(), e.to_string())),
        }
    }
    if !skipped.is_empty() && !opts.skip_bad {
        return Err(batch_error(&skipped, corpus.items.len()));
    }
    for (path, why) in &skipped {
        tracing::warn!("skipped {}: {why}", path.display());
    }
    if !skipped.is_empty() {
        tracing::warn!(
            "skipped {} of {} files (--skip-bad)",
            skipped.len(),
            corpus.items.len()
        );
    }
    if extracted.silent > 0 {
        tracing::warn!(
            "{} of {} clips are entirely silent",
            extracted.silent,
            corpus.items.len()
        );
    }
    let table = FeatureTable {
        kind: features.kind,
        shape: extracted.shape,
        data,
        items,
        skipped,
        silent: extracted.silent,
        key,
        dir,
        extracted: true,
    };
    let backend = opts.gpu.map_or("flex".into(), |d| format!("wgpu:{d}"));
    write_entry(&table, corpus, audio, features, &backend)?;
    Ok(table)
}

/// Lists failures as one error (used when `skip_bad` is off).
pub fn batch_error(failures: &[(PathBuf, String)], total: usize) -> Error {
    const SHOWN: usize = 20;
    let mut details: Vec<String> = failures
        .iter()
        .take(SHOWN)
        .map(|(p, why)| format!("  {}: {why}", p.display()))
        .collect();
    if failures.len() > SHOWN {
        details.push(format!("  ... and {} more", failures.len() - SHOWN));
    }
    details.push("  (pass --skip-bad to leave these files out and go on)".into());
    Error::Batch {
        failed: failures.len(),
        total,
        details: details.join("\n"),
    }
}

/// What [`extract_all`] returns: one result per input, in input order.
pub struct Extracted {
    pub shape: Vec<usize>,
    pub row_len: usize,
    pub rows: Vec<Result<Vec<f32>>>,
    pub silent: usize,
}

/// Loads and featurises `paths` in parallel (model input of `features.kind`), with a progress bar.
pub fn extract_all(
    paths: &[&Path],
    audio: &AudioConfig,
    features: &FeatureConfig,
    label: &str,
) -> Result<Extracted> {
    let probe = Extractor::new(features, audio.sample_rate)?;
    let shape = probe.input_shape(audio.max_samples);
    let row_len = shape.iter().product();
    let pb = progress::bar(paths.len() as u64, label.to_string());
    let results: Vec<(Result<Vec<f32>>, bool)> = paths
        .par_iter()
        .map_init(
            || probe.clone(),
            |extractor, path| {
                let out = crate::audio::load_on_this_thread(audio, path).map(|clip| {
                    let silent = clip.signal.iter().all(|&x| x == 0.0);
                    (extractor.model_input(&clip.signal), silent)
                });
                pb.inc(1);
                match out {
                    Ok((row, silent)) => (Ok(row), silent),
                    Err(e) => (Err(e), false),
                }
            },
        )
        .collect();
    pb.finish_and_clear();
    let mut silent = 0;
    let rows = results
        .into_iter()
        .map(|(r, s)| {
            silent += s as usize;
            r
        })
        .collect();
    Ok(Extracted {
        shape,
        row_len,
        rows,
        silent,
    })
}

/// [`extract_all`] with the features computed on wgpu adapter `device`: clips are decoded in
/// parallel on the CPU, 64 at a time (bounding the audio held at once), and each 64 featurised
/// in one GPU batch.
#[cfg(feature = "wgpu")]
pub fn extract_all_gpu(
    paths: &[&Path],
    audio: &AudioConfig,
    features: &FeatureConfig,
    label: &str,
    device: usize,
) -> Result<Extracted> {
    let gpu = crate::features::gpu::GpuExtractor::new(features, audio.sample_rate, device)?;
    tracing::info!("features on {}", gpu.adapter());
    let shape = Extractor::new(features, audio.sample_rate)?.input_shape(audio.max_samples);
    let row_len = shape.iter().product();
    let pb = progress::bar(paths.len() as u64, format!("{label} (wgpu)"));
    let (mut rows, mut silent) = (Vec::with_capacity(paths.len()), 0);
    for chunk in paths.chunks(64) {
        let loaded: Vec<Result<Vec<f32>>> = chunk
            .par_iter()
            .map(|p| crate::audio::load_on_this_thread(audio, p).map(|c| c.signal))
            .collect();
        let signals: Vec<&[f32]> = loaded
            .iter()
            .filter_map(|r| r.as_ref().ok().map(Vec::as_slice))
            .collect();
        silent += signals
            .iter()
            .filter(|s| s.iter().all(|&x| x == 0.0))
            .count();
        let mut features = gpu.model_input(&signals)?.into_iter();
        for r in loaded {
            rows.push(r.and_then(|_| {
                features
                    .next()
                    .ok_or_else(|| Error::Usage("GPU features: fewer rows than clips".into()))
            }));
        }
        pb.inc(chunk.len() as u64);
    }
    pb.finish_and_clear();
    Ok(Extracted {
        shape,
        row_len,
        rows,
        silent,
    })
}

#[cfg(not(feature = "wgpu"))]
fn extract_all_gpu(
    _: &[&Path],
    _: &AudioConfig,
    _: &FeatureConfig,
    _: &str,
    _: usize,
) -> Result<Extracted> {
    Err(Error::without_wgpu("or extract with --backend flex"))
}

fn write_entry(
    table: &FeatureTable,
    corpus: &Corpus,
    audio: &AudioConfig,
    features: &FeatureConfig,
    backend: &str,
) -> Result<()> {
    let parent = table.dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let tmp = parent.join(format!(
        ".tmp-{}-{}",
        table
            .dir
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or("entry"),
        std::process::id()
    ));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let mut shape = vec![table.rows()];
    shape.extend_from_slice(&table.shape);
    npy::write_f32(tmp.join("features.npy"), &table.data, &shape)?;
    let files: String = table
        .items
        .iter()
        .map(|&i| {
            format!(
                "{}\n",
                relative(&corpus.items[i].path, &corpus.root).display()
            )
        })
        .collect();
    write_file(&tmp.join("files.txt"), files.as_bytes())?;
    let meta = Meta {
        version: CACHE_VERSION,
        key: table.key.clone(),
        corpus_root: corpus.root.clone(),
        audio: audio.clone(),
        features: features.clone(),
        shape: table.shape.clone(),
        rows: table.rows(),
        silent: table.silent,
        skipped: table.skipped.clone(),
        backend: backend.to_string(),
    };
    let json = serde_json::to_vec_pretty(&meta).map_err(|e| Error::Usage(e.to_string()))?;
    write_file(&tmp.join("meta.json"), &json)?;
    if table.dir.exists() {
        std::fs::remove_dir_all(&table.dir).map_err(|e| Error::io(&table.dir, e))?;
    }
    std::fs::rename(&tmp, &table.dir).map_err(|e| Error::io(&table.dir, e))?;
    tracing::info!("features cached in {}", table.dir.display());
    Ok(())
}

fn read_entry(dir: &Path, corpus: &Corpus) -> Result<FeatureTable> {
    let meta_path = dir.join("meta.json");
    let text = std::fs::read(&meta_path).map_err(|e| Error::io(&meta_path, e))?;
    let meta: Meta = serde_json::from_slice(&text).map_err(|e| Error::Npy {
        path: meta_path.clone(),
        message: format!("unreadable cache metadata: {e}"),
    })?;
    let features_path = dir.join("features.npy");
    let npy::Array { shape, data } = npy::read_f32(&features_path)?;
    let mut expected = vec![meta.rows];
    expected.extend_from_slice(&meta.shape);
    if shape != expected {
        return Err(Error::Npy {
            path: features_path,
            message: format!("shape {shape:?} does not match its metadata {expected:?}"),
        });
    }
    let files_path = dir.join("files.txt");
    let files = std::fs::read_to_string(&files_path).map_err(|e| Error::io(&files_path, e))?;
    let index: std::collections::HashMap<PathBuf, usize> = corpus
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| (relative(&item.path, &corpus.root), i))
        .collect();
    let items = files
        .lines()
        .map(|l| {
            index.get(Path::new(l)).copied().ok_or_else(|| Error::Npy {
                path: files_path.clone(),
                message: format!("cached file {l} is not in the corpus any more"),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if items.len() != meta.rows {
        return Err(Error::Npy {
            path: files_path,
            message: format!("{} files listed for {} rows", items.len(), meta.rows),
        });
    }
    Ok(FeatureTable {
        kind: meta.features.kind,
        shape: meta.shape,
        data,
        items,
        skipped: meta.skipped,
        silent: meta.silent,
        key: meta.key,
        dir: dir.to_path_buf(),
        extracted: false,
    })
}

fn relative(path: &Path, root: &Path) -> PathBuf {
    path.strip_prefix(root).unwrap_or(path).to_path_buf()
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}
