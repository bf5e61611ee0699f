//! Typed configuration: the sections of an experiment TOML file that `ser` reads.
//!
//! Every section deserialises with `deny_unknown_fields` and defaults to the report's values, so
//! an empty file means "the report's pipeline" and a typo is an error naming the key. The same
//! structs are written back (resolved, every field explicit) into each run directory.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Audio loading: target sample rate and fixed clip length.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AudioConfig {
    /// Rate every clip is resampled to (Hz). Report: 22,050 (librosa.load's default).
    pub sample_rate: u32,
    /// Clips are cut or centre-padded to this many samples. Report: 56,000 (110 frames at hop 512).
    pub max_samples: usize,
}

impl Default for AudioConfig {
    fn default() -> Self {
        Self {
            sample_rate: 22_050,
            max_samples: 56_000,
        }
    }
}

/// Which features a model sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FeatureKind {
    /// Zero-crossing rate then RMS per frame, concatenated: the report's 1D input (2 × frames).
    #[serde(rename = "zcr+rms")]
    ZcrRms,
    /// Zero-crossing rate per frame (frames).
    #[serde(rename = "zcr")]
    Zcr,
    /// RMS energy per frame (frames).
    #[serde(rename = "rms")]
    Rms,
    /// Frame energy, the sum of squares per frame (frames), as the report's notebook plots it.
    #[serde(rename = "energy")]
    Energy,
    /// Log-mel spectrogram, `power_to_db(ref = max)`: the report's 2D input (n_mels × frames).
    #[serde(rename = "mel-db")]
    MelDb,
    /// MFCCs, DCT-II (ortho) of `power_to_db(mel, ref = 1)` (n_mfcc × frames).
    #[serde(rename = "mfcc")]
    Mfcc,
}

impl FeatureKind {
    /// Every kind, in the order `--help` lists them.
    pub const ALL: [FeatureKind; 6] = [
        FeatureKind::ZcrRms,
        FeatureKind::Zcr,
        FeatureKind::Rms,
        FeatureKind::Energy,
        FeatureKind::MelDb,
        FeatureKind::Mfcc,
    ];

    /// The name used in TOML and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            FeatureKind::ZcrRms => "zcr+rms",
            FeatureKind::Zcr => "zcr",
            FeatureKind::Rms => "rms",
            FeatureKind::Energy => "energy",
            FeatureKind::MelDb => "mel-db",
            FeatureKind::Mfcc => "mfcc",
        }
    }

    /// True for kinds that are a matrix per clip (the 2D model's input).
    pub fn is_2d(self) -> bool {
        matches!(self, FeatureKind::MelDb | FeatureKind::Mfcc)
    }
}

impl std::fmt::Display for FeatureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Feature extraction parameters. Defaults are librosa's (and so the report's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeatureConfig {
    /// What the model sees.
    pub kind: FeatureKind,
    /// Frame length of ZCR, RMS and energy (samples). librosa: 2048.
    pub frame_length: usize,
    /// Hop between frames for every feature (samples). librosa: 512.
    pub hop_length: usize,
    /// FFT size (and Hann window length) of the spectrogram. librosa: 2048.
    pub n_fft: usize,
    /// Number of mel bands. librosa: 128.
    pub n_mels: usize,
    /// Lowest mel band edge (Hz). librosa: 0.
    pub fmin: f64,
    /// Highest mel band edge (Hz); `None` means half the sample rate. librosa: sr / 2.
    pub fmax: Option<f64>,
    /// Number of MFCCs kept. librosa: 20.
    pub n_mfcc: usize,
    /// Floor of `power_to_db`, in dB below the maximum; `None` disables it. librosa: 80.
    pub top_db: Option<f64>,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        Self {
            kind: FeatureKind::ZcrRms,
            frame_length: 2048,
            hop_length: 512,
            n_fft: 2048,
            n_mels: 128,
            fmin: 0.0,
            fmax: None,
            n_mfcc: 20,
            top_db: Some(80.0),
        }
    }
}

/// Which corpus reader to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CorpusKind {
    /// A directory of `AAAA_SSS_EEE_LL.wav` files (CREMA-D's `AudioWAV/`).
    CremaD,
    /// A directory of EmoDB `SSTTTEV.wav` files.
    Emodb,
    /// A folder with a CSV manifest `path,label[,speaker]`.
    Csv,
    /// The embedded synthetic corpus, generated on first use into `path`.
    Synth,
}

impl CorpusKind {
    /// The name used in TOML and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            CorpusKind::CremaD => "crema-d",
            CorpusKind::Emodb => "emodb",
            CorpusKind::Csv => "csv",
            CorpusKind::Synth => "synth",
        }
    }
}

impl std::str::FromStr for CorpusKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "crema-d" | "cremad" => Ok(CorpusKind::CremaD),
            "emodb" => Ok(CorpusKind::Emodb),
            "csv" => Ok(CorpusKind::Csv),
            "synth" => Ok(CorpusKind::Synth),
            _ => Err(Error::Usage(format!(
                "unknown corpus kind `{s}`: expected crema-d, emodb, csv or synth"
            ))),
        }
    }
}

/// Where the clips come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// Corpus reader.
    pub corpus: CorpusKind,
    /// Corpus directory (for `csv`: the manifest file or the folder holding `manifest.csv`).
    pub path: PathBuf,
    /// Keep EmoDB's boredom as a seventh class (`BOR`) instead of leaving it out.
    pub include_boredom: bool,
    /// Synthetic corpus only: number of speakers.
    pub synth_actors: usize,
    /// Synthetic corpus only: generator seed.
    pub synth_seed: u64,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            corpus: CorpusKind::CremaD,
            path: PathBuf::from("data/CREMA-D/AudioWAV"),
            include_boredom: false,
            synth_actors: 12,
            synth_seed: 0,
        }
    }
}

/// How items are divided into train / validation / test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SplitKind {
    /// Stratified by emotion; the report's protocol (test fraction, then validation of the rest).
    Random,
    /// Actor-disjoint train / validation / test: no speaker in two parts.
    Speaker,
    /// `folds` folds over actors; fold `fold` is the test part.
    SpeakerKfold,
}

/// Split parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SplitConfig {
    /// Split protocol.
    pub kind: SplitKind,
    /// Fraction of items (random) or speakers (speaker) in the test part. Report: 0.30.
    pub test: f64,
    /// Fraction of the remainder kept for validation. Report: 0.05.
    pub valid: f64,
    /// Seed of the split's shuffles.
    pub seed: u64,
    /// `speaker-kfold` only: number of folds.
    pub folds: usize,
    /// `speaker-kfold` only: which fold is the test part (0-based).
    pub fold: usize,
}

impl Default for SplitConfig {
    fn default() -> Self {
        Self {
            kind: SplitKind::Random,
            test: 0.30,
            valid: 0.05,
            seed: 0,
            folds: 5,
            fold: 0,
        }
    }
}

/// The sections of a config file that the feature layer reads. Sections it does not know are
/// rejected, so a misspelt section name cannot silently fall back to defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub data: DataConfig,
    pub audio: AudioConfig,
    pub features: FeatureConfig,
    pub split: SplitConfig,
}

impl Config {
    /// Reads and validates a TOML config file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml(&text, path)
    }

    /// Parses TOML text; `origin` names the file in error messages.
    pub fn from_toml(text: &str, origin: &Path) -> Result<Self> {
        let config: Config = toml::from_str(text).map_err(|e| toml_error(origin, e))?;
        config.validate(origin)?;
        Ok(config)
    }

    /// Checks values that parse but cannot work (zero sizes, fractions out of range).
    pub fn validate(&self, origin: &Path) -> Result<()> {
        let bad = |key: &str, msg: String| Err(Error::config(origin, key, msg));
        let a = &self.audio;
        if a.sample_rate < 1000 || a.sample_rate > 384_000 {
            return bad(
                "audio.sample_rate",
                format!(
                    "{} Hz is not a usable rate: expected 1000..=384000 (report: 22050)",
                    a.sample_rate
                ),
            );
        }
        if a.max_samples == 0 {
            return bad(
                "audio.max_samples",
                "must be at least 1 (report: 56000)".into(),
            );
        }
        let f = &self.features;
        for (key, v) in [
            ("features.frame_length", f.frame_length),
            ("features.hop_length", f.hop_length),
            ("features.n_fft", f.n_fft),
            ("features.n_mels", f.n_mels),
            ("features.n_mfcc", f.n_mfcc),
        ] {
            if v == 0 {
                return bad(key, "must be at least 1".into());
            }
        }
        if f.n_fft < 2 || f.frame_length < 2 {
            return bad(
                "features.n_fft",
                "n_fft and frame_length must be at least 2".into(),
            );
        }
        if f.n_mfcc > f.n_mels {
            return bad(
                "features.n_mfcc",
                format!(
                    "{} MFCCs cannot come from {} mel bands: use n_mfcc <= n_mels",
                    f.n_mfcc, f.n_mels
                ),
            );
        }
        let nyquist = self.audio.sample_rate as f64 / 2.0;
        let fmax = f.fmax.unwrap_or(nyquist);
        if !(f.fmin >= 0.0 && f.fmin < fmax && fmax <= nyquist) {
            return bad(
                "features.fmax",
                format!("need 0 <= fmin < fmax <= sample_rate / 2 ({nyquist} Hz); got fmin {}, fmax {fmax}", f.fmin),
            );
        }
        if let Some(t) = f.top_db {
            if t.is_nan() || t <= 0.0 {
                return bad(
                    "features.top_db",
                    format!("must be positive (librosa: 80), got {t}"),
                );
            }
        }
        let s = &self.split;
        if !(s.test > 0.0 && s.test < 1.0) {
            return bad(
                "split.test",
                format!("must be in (0, 1) (report: 0.30), got {}", s.test),
            );
        }
        if !(s.valid >= 0.0 && s.valid < 1.0) {
            return bad(
                "split.valid",
                format!("must be in [0, 1) (report: 0.05), got {}", s.valid),
            );
        }
        if s.kind == SplitKind::SpeakerKfold && (s.folds < 2 || s.fold >= s.folds) {
            return bad(
                "split.fold",
                format!(
                    "need folds >= 2 and 0 <= fold < folds; got folds {}, fold {}",
                    s.folds, s.fold
                ),
            );
        }
        Ok(())
    }
}

/// Turns a `toml` error into one that names the file, the key and the line.
pub fn toml_error(origin: &Path, e: toml::de::Error) -> Error {
    let key = e.message().split('`').nth(1).unwrap_or("").to_string();
    let message = e.to_string().trim_end().replace('\n', "\n    ");
    Error::config(
        origin,
        if key.is_empty() {
            "(file)".to_string()
        } else {
            key
        },
        message,
    )
}
