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
//! built whole ([`atomic::write_dir`]), so a killed extraction leaves nothing that looks
//! complete. `meta.json` records the SHA-256 of the other two files: an entry damaged since
//! (a disk error, a copy cut short) is reported by path and extracted again. Extraction is [`batch`]'s: in parallel on the CPU, or on the GPU.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::base::device::{self, BackendKind};
use crate::base::hash::{self, file_sha256, hex_prefix};
use crate::base::{atomic, Error, Result};
use crate::config::{AudioConfig, FeatureConfig, FeatureKind};
use crate::corpus::Corpus;
use crate::features::batch;
use crate::npy;

/// Bumped when the meaning of cached numbers changes (a feature fix), so old entries are not reused.
const CACHE_VERSION: u32 = 1;

const FEATURES: &str = "features.npy";
const FILES: &str = "files.txt";
const META: &str = "meta.json";

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
    /// SHA-256 of `features.npy` and `files.txt` (absent in older entries: not checked).
    #[serde(default)]
    checksums: BTreeMap<String, String>,
}

/// The cache key of (corpus files, audio config, feature config): 16 hex digits of a SHA-256.
pub fn cache_key(corpus: &Corpus, audio: &AudioConfig, features: &FeatureConfig) -> Result<String> {
    let mut h = Sha256::new();
    h.update(format!("ser-cache v{CACHE_VERSION}\n"));
    let root = std::fs::canonicalize(&corpus.root).unwrap_or_else(|_| corpus.root.clone());
    h.update(format!("root {}\n", root.display()));
    let json = |e: serde_json::Error| Error::format(&corpus.root, e.to_string());
    h.update(serde_json::to_string(audio).map_err(json)?);
    h.update(serde_json::to_string(features).map_err(json)?);
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
    if dir.join(META).is_file() {
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
    let extracted = batch::model_inputs(&paths, audio, features, opts.gpu, &label)?;
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
        return Err(Error::batch(&skipped, corpus.items.len()));
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
    let backend = match opts.gpu {
        None => device::label(BackendKind::Flex, 0),
        Some(d) => device::label(BackendKind::Wgpu, d),
    };
    write_entry(&table, corpus, audio, features, &backend)?;
    Ok(table)
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
    let mut meta = Meta {
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
        checksums: BTreeMap::new(),
    };
    atomic::write_dir(&table.dir, |tmp| {
        let mut shape = vec![table.rows()];
        shape.extend_from_slice(&table.shape);
        npy::write_f32(tmp.join(FEATURES), &table.data, &shape)?;
        let path = tmp.join(FILES);
        std::fs::write(&path, files.as_bytes()).map_err(|e| Error::io(&path, e))?;
        for name in [FEATURES, FILES] {
            let p = tmp.join(name);
            let sum = file_sha256(&p).map_err(|e| Error::io(&p, e))?;
            meta.checksums.insert(name.to_string(), sum);
        }
        // Last: an entry is complete when its metadata is there.
        let path = tmp.join(META);
        let json =
            serde_json::to_vec_pretty(&meta).map_err(|e| Error::format(&path, e.to_string()))?;
        std::fs::write(&path, json).map_err(|e| Error::io(&path, e))
    })?;
    tracing::info!("features cached in {}", table.dir.display());
    Ok(())
}

fn read_entry(dir: &Path, corpus: &Corpus) -> Result<FeatureTable> {
    let meta_path = dir.join(META);
    let text = std::fs::read(&meta_path).map_err(|e| Error::io(&meta_path, e))?;
    let meta: Meta = serde_json::from_slice(&text)
        .map_err(|e| Error::format(&meta_path, format!("unreadable cache metadata: {e}")))?;
    if let Some((path, why)) = hash::mismatch(dir, &meta.checksums, "meta.json") {
        return Err(Error::format(&path, format!("damaged cache file: {why}")));
    }
    let features_path = dir.join(FEATURES);
    let npy::Array { shape, data } = npy::read_f32(&features_path)?;
    let mut expected = vec![meta.rows];
    expected.extend_from_slice(&meta.shape);
    if shape != expected {
        return Err(Error::format(
            &features_path,
            format!("shape {shape:?} does not match its metadata {expected:?}"),
        ));
    }
    let files_path = dir.join(FILES);
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
            index.get(Path::new(l)).copied().ok_or_else(|| {
                Error::format(
                    &files_path,
                    format!("cached file {l} is not in the corpus any more"),
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if items.len() != meta.rows {
        return Err(Error::format(
            &files_path,
            format!("{} files listed for {} rows", items.len(), meta.rows),
        ));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CorpusKind;

    /// The key hashes the feature config's JSON: every kind gets its own entries, and the JSON
    /// (so the key) of the kinds that existed before is pinned, so their entries stay valid.
    #[test]
    fn every_kind_has_its_own_key_and_old_keys_stay() {
        let corpus = Corpus {
            kind: CorpusKind::Csv,
            root: PathBuf::from("/nonexistent/ser-cache-key-corpus"),
            classes: vec![],
            items: vec![],
            demographics: BTreeMap::new(),
            notes: vec![],
        };
        let audio = AudioConfig::default();
        let key = |kind| {
            let features = FeatureConfig {
                kind,
                ..FeatureConfig::default()
            };
            cache_key(&corpus, &audio, &features).unwrap()
        };
        let mut keys: Vec<String> = FeatureKind::ALL.iter().map(|&k| key(k)).collect();
        assert_eq!(
            serde_json::to_string(&FeatureConfig::default()).unwrap(),
            "{\"kind\":\"zcr+rms\",\"frame_length\":2048,\"hop_length\":512,\"n_fft\":2048,\
             \"n_mels\":128,\"fmin\":0.0,\"fmax\":null,\"n_mfcc\":20,\"top_db\":80.0}"
        );
        assert_eq!(key(FeatureKind::ZcrRms), "14acd6437a3409ec");
        assert_eq!(key(FeatureKind::MelDb), "6272e6ea575474ff");
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), FeatureKind::ALL.len());
    }
}
