//! The audio stage: file → mono f32 at the configured rate → fixed length, as `librosa.load`
//! followed by the report's pad-or-truncate.
//!
//! - [`decode`] / [`probe`] (symphonia): WAV, FLAC, MP3, OGG/Vorbis; mono by channel mean.
//! - [`Resampler`] (rubato sinc, aligned like soxr): one per `(from, to)` pair, reused.
//! - [`fit_length`]: first `max_samples`, or centred zero padding (floor half in front).
//! - [`Loader`]: the three together, one resampler per source rate, reading only as much of a
//!   long WAV file as the fixed length needs.

mod clip;
mod decode;
mod resample;

use std::collections::HashMap;
use std::path::Path;

pub use clip::fit_length;
pub use decode::{decode, probe, AudioInfo, Decoded};
pub use resample::{resampled_len, Resampler};

use crate::base::{Error, Result};
use crate::config::AudioConfig;

/// One clip as the feature stage sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Clip {
    /// Mono signal at the configured rate, exactly `max_samples` long.
    pub signal: Vec<f32>,
    /// The file's own sample rate (Hz).
    pub source_rate: u32,
    /// Channels in the file (mixed down by their mean).
    pub channels: usize,
    /// Samples after resampling, before [`fit_length`] (librosa's `len(y)` after `load`).
    pub loaded_len: usize,
}

/// decode → mono → resample to `cfg.sample_rate` → [`fit_length`]; keeps one [`Resampler`] per
/// source rate. Not `Sync`: give each worker thread its own.
#[derive(Debug)]
pub struct Loader {
    sample_rate: u32,
    max_samples: usize,
    resamplers: HashMap<u32, Resampler>,
}

impl Loader {
    /// A loader for the given target rate and fixed length.
    pub fn new(cfg: &AudioConfig) -> Self {
        Self {
            sample_rate: cfg.sample_rate,
            max_samples: cfg.max_samples,
            resamplers: HashMap::new(),
        }
    }

    /// Loads one clip. Same result as `fit_length(resample(decode(path)), max_samples)`, but a
    /// WAV longer than needed is read (and resampled) only as far as the kept samples need.
    pub fn load(&mut self, path: &Path) -> Result<Clip> {
        let (to, max) = (self.sample_rate, self.max_samples);
        let resamplers = &mut self.resamplers;
        let mut build_err = None;
        let (decoded, total) = decode::decode_prefix(path, |from| {
            match resamplers.entry(from) {
                std::collections::hash_map::Entry::Occupied(e) => e.get().input_needed(max),
                std::collections::hash_map::Entry::Vacant(v) => {
                    match Resampler::build(from, to) {
                        Ok(r) => v.insert(r).input_needed(max),
                        Err(msg) => {
                            build_err = Some(msg);
                            // Decode nothing more than a header's worth; the error follows.
                            1
                        }
                    }
                }
            }
        })?;
        if let Some(message) = build_err {
            return Err(Error::Resample {
                path: path.to_path_buf(),
                message,
            });
        }
        let from = decoded.sample_rate;
        let loaded = resampled_len(total, from, to);
        let loaded_len = usize::try_from(loaded)
            .map_err(|_| Error::decode(path, format!("{total} frames is too long to load")))?;
        let keep = loaded_len.min(max);
        let signal = if from == to {
            clip::fit_length_vec(decoded.samples, max)
        } else {
            let resampler = self
                .resamplers
                .get_mut(&from)
                .ok_or_else(|| Error::Resample {
                    path: path.to_path_buf(),
                    message: format!("no resampler for {from} Hz"),
                })?;
            let full = usize::try_from(total)
                .map_err(|_| Error::decode(path, format!("{total} frames is too long to load")))?;
            let resampled = resampler
                .process_prefix(&decoded.samples, full, keep)
                .map_err(|message| Error::Resample {
                    path: path.to_path_buf(),
                    message,
                })?;
            clip::fit_length_vec(resampled, max)
        };
        Ok(Clip {
            signal,
            source_rate: from,
            channels: decoded.channels,
            loaded_len,
        })
    }
}

thread_local! {
    /// One loader per worker thread and audio config, kept for the thread's life: building a
    /// parity-grade resampler costs several milliseconds, far more than resampling one clip.
    static LOADERS: std::cell::RefCell<Vec<(crate::config::AudioConfig, Loader)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Loads `path` with this thread's [`Loader`] for `cfg` (built on first use, then reused).
pub fn load_on_this_thread(
    cfg: &crate::config::AudioConfig,
    path: &std::path::Path,
) -> crate::base::Result<Clip> {
    LOADERS.with(|cell| {
        let mut loaders = cell.borrow_mut();
        let i = match loaders.iter().position(|(c, _)| c == cfg) {
            Some(i) => i,
            None => {
                loaders.push((cfg.clone(), Loader::new(cfg)));
                loaders.len() - 1
            }
        };
        loaders[i].1.load(path)
    })
}
