//! Typed configuration: the sections of an experiment TOML file that `ser` reads.
//!
//! Every section deserialises with `deny_unknown_fields` and defaults to the report's values, so
//! an empty file means "the report's pipeline" and a typo is an error naming the key. The same
//! structs are written back (resolved, every field explicit) into each run directory.
//!
//! Values that parse but ask for absurd work or memory (10^9 epochs, an hour-long clip, an FFT of
//! a billion points) are refused past the `MAX_*` limits below, the error naming the key and the
//! limit; so is TOML nested deeper than [`MAX_TOML_DEPTH`].

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::base::device::BackendKind;
use crate::base::{Error, Result};

/// Longest clip `audio.max_samples` may ask for, in seconds at `audio.sample_rate` (13,230,000
/// samples at 22,050 Hz; the report's clips are 2.5 s). Every clip is held at this length.
pub const MAX_CLIP_SECONDS: usize = 600;
/// Largest `features.n_fft`, `features.frame_length` and `features.hop_length` (librosa: 2048,
/// 2048, 512): past it the FFT plan and the mel filterbank alone take hundreds of megabytes.
pub const MAX_FRAME: usize = 32_768;
/// Frames the `mfcc+deltas` delta window spans (librosa's `feature.delta` width): clips need at
/// least this many frames.
pub const DELTA_WIDTH: usize = 9;
/// Most mel bands (librosa: 128).
pub const MAX_MELS: usize = 512;
/// Most epochs (the report: 60).
pub const MAX_EPOCHS: usize = 10_000;
/// Largest batch (the report: 32).
pub const MAX_BATCH_SIZE: usize = 65_536;

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
    /// MFCCs, then their deltas and delta-deltas over 9 frames (librosa's `feature.delta`,
    /// orders 1 and 2), stacked: 3·n_mfcc × frames. Needs at least 9 frames per clip.
    #[serde(rename = "mfcc+deltas")]
    MfccDeltas,
    /// Spectral centroid, bandwidth and 85 % roll-off per frame (Hz, from the magnitude STFT),
    /// concatenated like `zcr+rms` (3 × frames).
    #[serde(rename = "spectral")]
    Spectral,
    /// ZCR, RMS, then the three `spectral` rows, concatenated (5 × frames).
    #[serde(rename = "zcr+rms+spectral")]
    ZcrRmsSpectral,
    /// Chroma (12 pitch classes from C, each frame scaled to a maximum of 1) from the power STFT:
    /// librosa's `chroma_stft` with `tuning=0.0` (A = 440 Hz, not estimated per clip), 12 × frames.
    #[serde(rename = "chroma")]
    Chroma,
}

impl FeatureKind {
    /// Every kind, in the order `--help` lists them.
    pub const ALL: [FeatureKind; 10] = [
        FeatureKind::ZcrRms,
        FeatureKind::Zcr,
        FeatureKind::Rms,
        FeatureKind::Energy,
        FeatureKind::MelDb,
        FeatureKind::Mfcc,
        FeatureKind::MfccDeltas,
        FeatureKind::Spectral,
        FeatureKind::ZcrRmsSpectral,
        FeatureKind::Chroma,
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
            FeatureKind::MfccDeltas => "mfcc+deltas",
            FeatureKind::Spectral => "spectral",
            FeatureKind::ZcrRmsSpectral => "zcr+rms+spectral",
            FeatureKind::Chroma => "chroma",
        }
    }

    /// True for kinds that are a matrix per clip (the 2D model's input).
    pub fn is_2d(self) -> bool {
        matches!(
            self,
            FeatureKind::MelDb | FeatureKind::Mfcc | FeatureKind::MfccDeltas | FeatureKind::Chroma
        )
    }

    /// True for kinds the GPU path (`--backend wgpu` for features) computes; the others are
    /// CPU only.
    pub fn has_gpu_kernels(self) -> bool {
        !matches!(
            self,
            FeatureKind::MfccDeltas
                | FeatureKind::Spectral
                | FeatureKind::ZcrRmsSpectral
                | FeatureKind::Chroma
        )
    }

    /// The kinds of one model input rank, for messages: `names(true)` = the 2D kinds.
    pub fn names(two_d: bool) -> String {
        let names: Vec<&str> = Self::ALL
            .iter()
            .filter(|k| k.is_2d() == two_d)
            .map(|k| k.name())
            .collect();
        names.join(" / ")
    }

    /// Features concatenated in a vector kind's item (2 for `zcr+rms`); 1 for the others (a
    /// matrix's rows are its first dimension).
    pub fn feature_rows(self) -> usize {
        match self {
            FeatureKind::ZcrRms => 2,
            _ => 1,
        }
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
    /// Synthetic corpus only: `grid` (`synth_actors` speakers × 12 sentences × 6 emotions) or
    /// `crema-d` (CREMA-D's exact 7,442 file names, for full-scale rehearsals). Left out of the
    /// resolved config when `grid`, so the ids of jobs made before it existed do not move.
    #[serde(skip_serializing_if = "SynthLayout::is_grid")]
    pub synth_layout: SynthLayout,
    /// Which emotion a clip is labelled with: `intended` (what the actor was asked to act; the
    /// report's) or `perceived` (CREMA-D's crowd vote, voice only).
    #[serde(skip_serializing_if = "LabelSource::is_intended")]
    pub labels: LabelSource,
    /// With perceived labels, clips whose vote is a tie: `drop` leaves them out, `intended`
    /// keeps a clip with its intended emotion when that is among the tied votes.
    #[serde(skip_serializing_if = "TieRule::is_drop")]
    pub ties: TieRule,
}

/// Where a clip's label comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LabelSource {
    /// The emotion the actor was asked to act (the file name's).
    #[default]
    Intended,
    /// The crowd's voice-only plurality vote (CREMA-D's `summaryTable.csv`).
    Perceived,
}

impl LabelSource {
    /// True for the default.
    pub fn is_intended(&self) -> bool {
        *self == LabelSource::Intended
    }
}

/// What perceived labels do with a tied vote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TieRule {
    /// Leave the clip out.
    #[default]
    Drop,
    /// Keep it with its intended emotion when that is among the tied votes, else leave it out.
    Intended,
}

impl TieRule {
    /// True for the default.
    pub fn is_drop(&self) -> bool {
        *self == TieRule::Drop
    }

    /// The name used in TOML.
    pub fn name(self) -> &'static str {
        match self {
            TieRule::Drop => "drop",
            TieRule::Intended => "intended",
        }
    }
}

/// Which clips a synthetic corpus has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SynthLayout {
    /// Every (actor, sentence, emotion, level) of the spec's counts: the small default corpus.
    #[default]
    Grid,
    /// CREMA-D's exact file set: the 7,442 names of its manifest (91 actors, 12 sentences, six
    /// emotions, four levels), each actor voiced with the sex CREMA-D's demographics give it.
    CremaD,
}

impl SynthLayout {
    /// True for the default layout.
    pub fn is_grid(&self) -> bool {
        *self == SynthLayout::Grid
    }
}

impl std::str::FromStr for SynthLayout {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "grid" => Ok(SynthLayout::Grid),
            "crema-d" => Ok(SynthLayout::CremaD),
            _ => Err(Error::Usage(format!(
                "unknown synthetic layout `{s}`: expected grid or crema-d"
            ))),
        }
    }
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            corpus: CorpusKind::CremaD,
            path: PathBuf::from("data/CREMA-D/AudioWAV"),
            include_boredom: false,
            synth_actors: 12,
            synth_seed: 0,
            synth_layout: SynthLayout::Grid,
            labels: LabelSource::Intended,
            ties: TieRule::Drop,
        }
    }
}

/// How items are divided into train / validation / test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SplitKind {
    /// Stratified by emotion; the report's protocol (test fraction, then validation of the rest).
    /// Speakers and sentences are shared between the parts.
    Random,
    /// Actor-disjoint train / validation / test: no speaker in two parts.
    Speaker,
    /// `folds` folds over actors; fold `fold` is the test part.
    SpeakerKfold,
    /// Sentence-disjoint (text-independent): no sentence in two parts.
    Sentence,
    /// Speaker- and sentence-disjoint at once: a clip is in a part when both its speaker and its
    /// sentence are; clips whose speaker and sentence fall in different parts are left out.
    #[serde(rename = "speaker+sentence")]
    SpeakerSentence,
}

impl SplitKind {
    /// The name used in TOML and in reports.
    pub fn name(self) -> &'static str {
        match self {
            SplitKind::Random => "random",
            SplitKind::Speaker => "speaker",
            SplitKind::SpeakerKfold => "speaker-kfold",
            SplitKind::Sentence => "sentence",
            SplitKind::SpeakerSentence => "speaker+sentence",
        }
    }

    /// Whether the parts are cut along speakers.
    pub fn by_speaker(self) -> bool {
        matches!(
            self,
            SplitKind::Speaker | SplitKind::SpeakerKfold | SplitKind::SpeakerSentence
        )
    }
}

/// Split parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SplitConfig {
    /// Split protocol.
    pub kind: SplitKind,
    /// Fraction of items (random), speakers (speaker) or sentences (sentence) in the test part.
    /// Report: 0.30.
    pub test: f64,
    /// Fraction of the remainder kept for validation. Report: 0.05.
    pub valid: f64,
    /// Seed of the split's shuffles.
    pub seed: u64,
    /// `speaker-kfold` only: number of folds.
    pub folds: usize,
    /// `speaker-kfold` only: which fold is the test part (0-based).
    pub fold: usize,
    /// Speaker splits: a fixed assignment of speakers to parts instead of a seeded draw —
    /// `"crema-d"` (the one `ser` ships for CREMA-D's 91 actors, balanced by sex and age) or a
    /// CSV file of `speaker,part` rows (`part`: train, valid or test). `test`, `valid` and
    /// `seed` then do not choose speakers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignment: Option<String>,
    /// Speaker splits: demographic attributes whose groups each part gets its share of
    /// (`sex`, `age` (decade), `race`, `ethnicity`; CREMA-D's actors).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub balance: Vec<String>,
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
            assignment: None,
            balance: Vec::new(),
        }
    }
}

/// The demographic attributes splits can balance and reports can group by.
pub const DEMOGRAPHICS: [&str; 4] = ["sex", "age", "race", "ethnicity"];

/// Which network a job trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// Conv1D stack over a vector per clip (the report's ZCR + RMS model).
    Cnn1d,
    /// Conv2D stack over a matrix per clip (the report's mel-spectrogram model).
    Cnn2d,
    /// Conv2D blocks as `cnn2d`, then a recurrent layer over the frames and attention pooling.
    Crnn,
}

impl ModelKind {
    /// The name used in TOML and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Cnn1d => "cnn1d",
            ModelKind::Cnn2d => "cnn2d",
            ModelKind::Crnn => "crnn",
        }
    }

    /// Whether the network takes a matrix per clip (`cnn2d`, `crnn`).
    pub fn is_2d(self) -> bool {
        self != ModelKind::Cnn1d
    }
}

/// The recurrent layer of a `crnn`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RnnKind {
    /// Bidirectional GRU: a GRU forwards and one backwards over the frames, concatenated.
    #[default]
    Bigru,
    /// GRU forwards over the frames.
    Gru,
    /// LSTM forwards over the frames.
    Lstm,
    /// Bidirectional LSTM.
    Bilstm,
}

impl RnnKind {
    /// The name used in TOML.
    pub fn name(self) -> &'static str {
        match self {
            RnnKind::Bigru => "bigru",
            RnnKind::Gru => "gru",
            RnnKind::Lstm => "lstm",
            RnnKind::Bilstm => "bilstm",
        }
    }

    /// Directions (1, or 2 for the bidirectional ones): the output width is `directions × units`.
    pub fn directions(self) -> usize {
        match self {
            RnnKind::Bigru | RnnKind::Bilstm => 2,
            RnnKind::Gru | RnnKind::Lstm => 1,
        }
    }

    /// Gates per direction, each an input and a hidden affine map: GRU 3, LSTM 4.
    pub fn gates(self) -> usize {
        match self {
            RnnKind::Bigru | RnnKind::Gru => 3,
            RnnKind::Lstm | RnnKind::Bilstm => 4,
        }
    }

    fn is_default(&self) -> bool {
        *self == RnnKind::default()
    }
}

impl std::fmt::Display for RnnKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Default `model.rnn_units`.
pub const DEFAULT_RNN_UNITS: usize = 64;
/// Most `model.rnn_units`.
pub const MAX_RNN_UNITS: usize = 4096;

fn is_default_rnn_units(units: &usize) -> bool {
    *units == DEFAULT_RNN_UNITS
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How a max-pool treats the border.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PoolPadding {
    /// No padding: `out = (in - size) / stride + 1` (Keras' default; the report's models).
    Valid,
    /// Pad so that `out = ceil(in / stride)` (Keras `padding="same"`): deep stacks stay valid.
    Same,
}

/// Max-pool after each conv layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PoolConfig {
    /// Window (a square window for `cnn2d`). Unset: the report's, 6 for `cnn1d`, 5 for `cnn2d`.
    pub size: Option<usize>,
    /// Step between windows. Report: 2.
    pub stride: usize,
    /// Border handling. Report: `valid`.
    pub padding: PoolPadding,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            size: None,
            stride: 2,
            padding: PoolPadding::Valid,
        }
    }
}

/// The network: per conv layer Conv (kernel, same padding) [+ batch norm] + ReLU + MaxPool; then
/// Flatten (`crnn`: a recurrent layer over the frames and attention pooling), Dense + ReLU,
/// Dropout, Dense(classes). Defaults are the report's 1D model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// `cnn1d`, `cnn2d` or `crnn`; must match the features (`cnn2d` / `crnn` for `mel-db` /
    /// `mfcc` / `mfcc+deltas` / `chroma`).
    pub kind: ModelKind,
    /// Filters of each conv layer; their count is the depth. Report: [512, 512, 128].
    pub filters: Vec<usize>,
    /// Conv kernel (a square kernel for `cnn2d`). Report: 5.
    pub kernel: usize,
    /// The max-pool after each conv layer.
    pub pool: PoolConfig,
    /// Units of the hidden dense layer. Report: 256.
    pub dense: usize,
    /// Dropout rate after the hidden dense layer, in [0, 1). Report: 0.4.
    pub dropout: f64,
    /// Batch normalisation between each conv and its ReLU (the report's prose, not its code).
    pub batch_norm: bool,
    /// Dropout rate after each conv block's pool, in [0, 1). Off (0) in the report; left out of
    /// the resolved config when 0, so old job ids do not move.
    #[serde(skip_serializing_if = "is_zero")]
    pub conv_dropout: f64,
    /// `crnn` only: the recurrent layer, `bigru` (default), `gru`, `lstm` or `bilstm`. Left out
    /// of the resolved config when default, so the ids of jobs made before it existed do not move.
    #[serde(skip_serializing_if = "RnnKind::is_default")]
    pub rnn: RnnKind,
    /// `crnn` only: hidden units per direction of the recurrent layer (and of the attention's
    /// scoring layer). Default 64; left out of the resolved config when default.
    #[serde(skip_serializing_if = "is_default_rnn_units")]
    pub rnn_units: usize,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            kind: ModelKind::Cnn1d,
            filters: vec![512, 512, 128],
            kernel: 5,
            pool: PoolConfig::default(),
            dense: 256,
            dropout: 0.4,
            batch_norm: false,
            conv_dropout: 0.0,
            rnn: RnnKind::default(),
            rnn_units: DEFAULT_RNN_UNITS,
        }
    }
}

impl ModelConfig {
    /// The pool window: the configured one, else the report's for this kind (1D: 6, 2D: 5).
    pub fn pool_size(&self) -> usize {
        self.pool.size.unwrap_or(match self.kind {
            ModelKind::Cnn1d => 6,
            ModelKind::Cnn2d | ModelKind::Crnn => 5,
        })
    }

    /// A copy with every defaulted-by-kind value written out (for the resolved config).
    pub fn resolved(&self) -> Self {
        let mut m = self.clone();
        m.pool.size = Some(self.pool_size());
        m
    }
}

/// Training: Adam on cross-entropy, mini-batches, per-epoch validation. Defaults are the report's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Passes over the training part. Report: 60.
    pub epochs: usize,
    /// Items per step. Report: 32.
    pub batch_size: usize,
    /// Adam learning rate. Report: 1e-4.
    pub lr: f64,
    /// Adam beta1 (Keras: 0.9).
    pub beta1: f64,
    /// Adam beta2 (Keras: 0.999).
    pub beta2: f64,
    /// Adam epsilon (Keras: 1e-7).
    pub epsilon: f64,
    /// Seed of the weight initialisation, the shuffles and the dropout masks.
    pub seed: u64,
    /// Shuffle the training part every epoch (Keras `fit` does).
    pub shuffle: bool,
    /// Stop when the validation loss has not improved for this many epochs; unset: never.
    pub patience: Option<usize>,
    /// Evaluate with the weights of the best validation loss instead of the last epoch's
    /// (the report: last epoch).
    pub keep_best: bool,
    /// `flex` (CPU) or `wgpu` (GPU).
    pub backend: BackendKind,
    /// wgpu adapter: 0 = the best one found (discrete GPU first, software Vulkan last), N > 0 =
    /// the N-th discrete GPU; ignored by `flex`.
    pub device: usize,
    // Regularisation (`train::augment`); each is off by default (the report's) and left out of
    // the resolved config while off, so old job ids do not move.
    /// Label smoothing ε in [0, 1): the loss's targets are (1 - ε)·onehot + ε / classes.
    #[serde(skip_serializing_if = "is_zero")]
    pub label_smoothing: f64,
    /// Per-class weights of the loss: `none`, or `balanced` (n / (classes · count) of the
    /// training part's labels).
    #[serde(skip_serializing_if = "ClassWeights::is_none")]
    pub class_weights: ClassWeights,
    /// Mixup's α: each batch is mixed with a permutation of itself by λ ~ Beta(α, α); 0 = off.
    #[serde(skip_serializing_if = "is_zero")]
    pub mixup: f64,
    /// SpecAugment masks on 2D features (all 0 = off).
    #[serde(skip_serializing_if = "SpecAugmentConfig::is_off")]
    pub spec_augment: SpecAugmentConfig,
    // Keys of issue 21 (recipe); each is left out of the resolved config at its default, so the
    // ids of jobs made before them do not move.
    /// `none` (the report) or `per-feature`: each feature row (ZCR, RMS; a mel band or MFCC)
    /// shifted and scaled by the mean and standard deviation of the training part.
    #[serde(skip_serializing_if = "Standardize::is_none")]
    pub standardize: Standardize,
    /// What early stopping and keep-best watch: `val_loss` (the report's) or `val_macro_f1`.
    #[serde(skip_serializing_if = "Monitor::is_val_loss")]
    pub monitor: Monitor,
    /// Learning-rate schedule over all steps: `constant` (the report), `cosine`, `one-cycle`.
    #[serde(skip_serializing_if = "ScheduleKind::is_constant")]
    pub schedule: ScheduleKind,
    /// Epochs of linear warm-up (from 0 to `lr`) before the schedule; not with `one-cycle`.
    #[serde(skip_serializing_if = "is_zero_usize")]
    pub warmup_epochs: usize,
    /// Where `cosine` ends (default 0).
    #[serde(skip_serializing_if = "is_zero")]
    pub min_lr: f64,
    /// Decoupled weight decay (AdamW): each step `w -= lr_t * weight_decay * w`. Report: 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub weight_decay: f64,
}

/// Largest mixup α: past a few, λ is nearly always about 0.5.
pub const MAX_MIXUP_ALPHA: f64 = 10.0;
/// Most SpecAugment masks per axis.
pub const MAX_SPEC_MASKS: usize = 64;

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

/// How the training loss weights each example by its class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClassWeights {
    /// Every example counts the same (the report's).
    #[default]
    None,
    /// scikit-learn's `balanced`: n / (classes · count of the class) in the training part.
    Balanced,
}

impl ClassWeights {
    /// True for the default.
    pub fn is_none(&self) -> bool {
        *self == ClassWeights::None
    }
}

/// SpecAugment (Park et al. 2019) on `[rows = frequency, cols = time]` items: each training item
/// gets `freq_masks` bands of rows and `time_masks` bands of columns, each of a width drawn in
/// `0..=max`, set to the item's mean.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpecAugmentConfig {
    /// Frequency masks per item.
    pub freq_masks: usize,
    /// Widest frequency mask (rows), F.
    pub freq_width: usize,
    /// Time masks per item.
    pub time_masks: usize,
    /// Widest time mask (columns), T.
    pub time_width: usize,
}

impl SpecAugmentConfig {
    /// True when it masks nothing and is the default (left out of the resolved config).
    pub fn is_off(&self) -> bool {
        *self == Self::default()
    }

    /// True when some mask is drawn.
    pub fn is_on(&self) -> bool {
        self.freq_masks > 0 || self.time_masks > 0
    }
}

fn is_zero_usize(v: &usize) -> bool {
    *v == 0
}

/// `train.standardize`: input standardisation fitted on the training part.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Standardize {
    /// The features as extracted (the report).
    #[default]
    None,
    /// One mean and standard deviation per feature row, over the training clips and frames.
    PerFeature,
}

impl Standardize {
    /// True for the default.
    pub fn is_none(&self) -> bool {
        *self == Standardize::None
    }
}

/// `train.monitor`: the validation measure that picks the best epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Monitor {
    /// Lowest validation loss (Keras' `EarlyStopping` default; the report).
    #[default]
    ValLoss,
    /// Highest validation macro F1 (ties: the earlier epoch).
    ValMacroF1,
}

impl Monitor {
    /// True for the default.
    pub fn is_val_loss(&self) -> bool {
        *self == Monitor::ValLoss
    }
}

/// `train.schedule`: the learning rate over the steps of a run (see `train::schedule`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScheduleKind {
    /// `lr` every step (the report).
    #[default]
    Constant,
    /// Half a cosine from `lr` down to `min_lr` over the steps after warm-up.
    Cosine,
    /// Smith's 1cycle: up from `lr / 25` to `lr` over the first 30 % of the steps, then a
    /// cosine down to `lr / 1e4`.
    OneCycle,
}

impl ScheduleKind {
    /// True for the default.
    pub fn is_constant(&self) -> bool {
        *self == ScheduleKind::Constant
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 60,
            batch_size: 32,
            lr: 1e-4,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-7,
            seed: 0,
            shuffle: true,
            patience: None,
            keep_best: false,
            backend: BackendKind::Flex,
            device: 0,
            label_smoothing: 0.0,
            class_weights: ClassWeights::None,
            mixup: 0.0,
            spec_augment: SpecAugmentConfig::default(),
            standardize: Standardize::None,
            monitor: Monitor::ValLoss,
            schedule: ScheduleKind::Constant,
            warmup_epochs: 0,
            min_lr: 0.0,
            weight_decay: 0.0,
        }
    }
}

impl ModelConfig {
    /// Checks values that parse but cannot build a model; `origin` names the file in errors.
    /// Shapes that collapse are checked once the input is known (`model::NetConfig::check`).
    pub fn validate(&self, origin: &Path) -> Result<()> {
        let bad = |key: &str, msg: String| Err(Error::config(origin, key, msg));
        if self.filters.is_empty() {
            return bad(
                "model.filters",
                "needs at least one conv layer (report: [512, 512, 128])".into(),
            );
        }
        if let Some(i) = self.filters.iter().position(|&f| f == 0) {
            return bad(
                "model.filters",
                format!(
                    "layer {} has 0 filters: every layer needs at least 1",
                    i + 1
                ),
            );
        }
        if self.kernel == 0 {
            return bad("model.kernel", "must be at least 1 (report: 5)".into());
        }
        if self.pool.size == Some(0) {
            return bad(
                "model.pool.size",
                "must be at least 1 (report: 6 for cnn1d, 5 for cnn2d)".into(),
            );
        }
        if self.pool.stride == 0 {
            return bad("model.pool.stride", "must be at least 1 (report: 2)".into());
        }
        if self.dense == 0 {
            return bad("model.dense", "must be at least 1 (report: 256)".into());
        }
        if !(self.dropout >= 0.0 && self.dropout < 1.0) {
            return bad(
                "model.dropout",
                format!("must be in [0, 1) (report: 0.4), got {}", self.dropout),
            );
        }
        if !(self.conv_dropout >= 0.0 && self.conv_dropout < 1.0) {
            return bad(
                "model.conv_dropout",
                format!(
                    "must be in [0, 1) (report: 0, off; 0.1 to 0.3 is usual), got {}",
                    self.conv_dropout
                ),
            );
        }
        if !(1..=MAX_RNN_UNITS).contains(&self.rnn_units) {
            return bad(
                "model.rnn_units",
                format!(
                    "must be between 1 and {MAX_RNN_UNITS} (default {DEFAULT_RNN_UNITS}), got {}",
                    self.rnn_units
                ),
            );
        }
        // Ignored by the CNNs, so set there it would only move the job's id.
        if self.kind != ModelKind::Crnn {
            if !self.rnn.is_default() {
                return bad(
                    "model.rnn",
                    format!(
                        "only applies to model.kind = \"crnn\" (this is {}): leave it out or \
                         use crnn",
                        self.kind
                    ),
                );
            }
            if !is_default_rnn_units(&self.rnn_units) {
                return bad(
                    "model.rnn_units",
                    format!(
                        "only applies to model.kind = \"crnn\" (this is {}): leave it out or \
                         use crnn",
                        self.kind
                    ),
                );
            }
        }
        Ok(())
    }
}

impl TrainConfig {
    /// Checks values that parse but cannot train; `origin` names the file in errors.
    pub fn validate(&self, origin: &Path) -> Result<()> {
        let bad = |key: &str, msg: String| Err(Error::config(origin, key, msg));
        for (key, v, max, report) in [
            ("train.epochs", self.epochs, MAX_EPOCHS, 60),
            ("train.batch_size", self.batch_size, MAX_BATCH_SIZE, 32),
        ] {
            if !(1..=max).contains(&v) {
                return bad(
                    key,
                    format!("must be between 1 and {max} (report: {report}), got {v}"),
                );
            }
        }
        // Adam moves each weight by about `lr` a step: past 1 nothing trains.
        if !(self.lr.is_finite() && self.lr > 0.0 && self.lr <= 1.0) {
            return bad(
                "train.lr",
                format!("must be in (0, 1] (report: 1e-4), got {}", self.lr),
            );
        }
        for (key, v) in [("train.beta1", self.beta1), ("train.beta2", self.beta2)] {
            if !(0.0..1.0).contains(&v) {
                return bad(key, format!("must be in [0, 1), got {v}"));
            }
        }
        if !(self.epsilon.is_finite() && self.epsilon > 0.0) {
            return bad(
                "train.epsilon",
                format!("must be positive (Keras: 1e-7), got {}", self.epsilon),
            );
        }
        if self.patience == Some(0) {
            return bad(
                "train.patience",
                "must be at least 1 epoch; leave it out to disable early stopping".into(),
            );
        }
        self.validate_regularisation(origin)?;
        self.validate_recipe(origin)
    }

    /// The regularisation keys (`label_smoothing`, `class_weights`, `mixup`, `spec_augment`).
    fn validate_regularisation(&self, origin: &Path) -> Result<()> {
        let bad = |key: &str, msg: String| Err(Error::config(origin, key, msg));
        if !(self.label_smoothing >= 0.0 && self.label_smoothing < 1.0) {
            return bad(
                "train.label_smoothing",
                format!(
                    "must be in [0, 1) (report: 0, off; 0.1 is usual), got {}",
                    self.label_smoothing
                ),
            );
        }
        if !(self.mixup >= 0.0 && self.mixup <= MAX_MIXUP_ALPHA) {
            return bad(
                "train.mixup",
                format!(
                    "is the α of Beta(α, α): must be in [0, {MAX_MIXUP_ALPHA}] (0 = off, the \
                     report's; 0.2 is usual), got {}",
                    self.mixup
                ),
            );
        }
        let s = &self.spec_augment;
        for (axis, masks, width) in [
            ("freq", s.freq_masks, s.freq_width),
            ("time", s.time_masks, s.time_width),
        ] {
            if masks > MAX_SPEC_MASKS {
                return bad(
                    &format!("train.spec_augment.{axis}_masks"),
                    format!(
                        "must be at most {MAX_SPEC_MASKS} (0 = off; 1 or 2 is usual), got {masks}"
                    ),
                );
            }
            if masks > 0 && width == 0 {
                return bad(
                    &format!("train.spec_augment.{axis}_width"),
                    format!(
                        "{axis}_masks = {masks} needs a widest mask of at least 1 {}",
                        if axis == "freq" { "row" } else { "column" }
                    ),
                );
            }
        }
        Ok(())
    }

    /// The checks of the issue-21 keys (schedule, warm-up, weight decay).
    fn validate_recipe(&self, origin: &Path) -> Result<()> {
        let bad = |key: &str, msg: String| Err(Error::config(origin, key, msg));
        if self.warmup_epochs > 0 && self.warmup_epochs >= self.epochs {
            return bad(
                "train.warmup_epochs",
                format!(
                    "must be less than train.epochs ({}), got {}; default 0",
                    self.epochs, self.warmup_epochs
                ),
            );
        }
        if self.warmup_epochs > 0 && self.schedule == ScheduleKind::OneCycle {
            return bad(
                "train.warmup_epochs",
                "one-cycle has its own warm-up (30 % of the steps): leave it at 0".into(),
            );
        }
        if !(self.min_lr.is_finite() && self.min_lr >= 0.0 && self.min_lr < self.lr) {
            return bad(
                "train.min_lr",
                format!(
                    "must be in [0, train.lr = {}), got {}; default 0",
                    self.lr, self.min_lr
                ),
            );
        }
        if self.min_lr > 0.0 && self.schedule != ScheduleKind::Cosine {
            return bad(
                "train.min_lr",
                "is where `cosine` ends: set train.schedule = \"cosine\" or leave it out".into(),
            );
        }
        if !(self.weight_decay.is_finite() && (0.0..=1.0).contains(&self.weight_decay)) {
            return bad(
                "train.weight_decay",
                format!(
                    "must be in [0, 1] (AdamW's usual: 0.01; report: 0), got {}",
                    self.weight_decay
                ),
            );
        }
        Ok(())
    }

    /// Whether a run's result depends on `train.epochs` beyond the number of epochs run: a
    /// schedule that spans the run. Such a run cannot simply be extended, nor continue another
    /// run's checkpoint (`runner::chain`). Early stopping does not: its decision after epoch k
    /// reads epochs 1..k only.
    pub fn depends_on_total_epochs(&self) -> bool {
        !self.schedule.is_constant()
    }
}

/// The sections of a config file. Sections it does not know are
/// rejected, so a misspelt section name cannot silently fall back to defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub data: DataConfig,
    pub audio: AudioConfig,
    pub features: FeatureConfig,
    pub split: SplitConfig,
    pub model: ModelConfig,
    pub train: TrainConfig,
    /// Left out of the resolved config when empty, so the ids of jobs made before it existed do
    /// not move.
    #[serde(skip_serializing_if = "EvalConfig::is_empty")]
    pub eval: EvalConfig,
}

/// `[eval]`: what a job evaluates its model on besides its own test part.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvalConfig {
    /// Other corpora, as `KIND:DIR` (`emodb:../shared/data/emodb/wav`): every clip of each whose
    /// class the model knows, evaluated after training (cross-corpus results).
    pub corpora: Vec<String>,
}

impl EvalConfig {
    /// True without other corpora.
    pub fn is_empty(&self) -> bool {
        self.corpora.is_empty()
    }

    /// The corpora, parsed; errors name the key and the entry.
    pub fn targets(&self, origin: &Path) -> Result<Vec<CorpusSpec>> {
        self.corpora
            .iter()
            .map(|c| {
                c.parse()
                    .map_err(|e: Error| Error::config(origin, "eval.corpora", e.to_string()))
            })
            .collect()
    }
}

/// A corpus named on the command line or in `[eval]`: `KIND:DIR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorpusSpec {
    pub kind: CorpusKind,
    pub path: PathBuf,
}

impl CorpusSpec {
    /// A short name for folders and tables: the kind and the last two parts of the path
    /// (`emodb-emodb-wav`), so two corpora of one kind get two names.
    pub fn name(&self) -> String {
        let tail: Vec<String> = self
            .path
            .components()
            .rev()
            .filter_map(|c| c.as_os_str().to_str())
            .filter(|s| !matches!(*s, "." | ".." | "/"))
            .take(2)
            .map(|s| {
                s.chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect()
            })
            .collect();
        let mut name = self.kind.name().to_string();
        for part in tail.iter().rev() {
            name.push('-');
            name.push_str(part);
        }
        name
    }
}

impl std::str::FromStr for CorpusSpec {
    type Err = Error;
    fn from_str(spec: &str) -> Result<Self> {
        let (kind, path) = spec.split_once(':').ok_or_else(|| {
            Error::Usage(format!(
                "{spec:?}: expected KIND:DIR, e.g. emodb:data/emodb/wav"
            ))
        })?;
        let kind: CorpusKind = kind
            .parse()
            .map_err(|e| Error::Usage(format!("{spec:?}: {e}")))?;
        if path.is_empty() {
            return Err(Error::Usage(format!(
                "{spec:?}: the directory is missing after the colon"
            )));
        }
        Ok(CorpusSpec {
            kind,
            path: PathBuf::from(path),
        })
    }
}

impl Config {
    /// Reads and validates a TOML config file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml(&text, path)
    }

    /// Parses TOML text; `origin` names the file in error messages.
    pub fn from_toml(text: &str, origin: &Path) -> Result<Self> {
        let config: Config = toml::from_str(text).map_err(|e| toml_error_in(origin, text, e))?;
        config.validate(origin)?;
        Ok(config)
    }

    /// Checks values that parse but cannot work (zero sizes, fractions out of range).
    pub fn validate(&self, origin: &Path) -> Result<()> {
        let bad = |key: &str, msg: String| Err(Error::config(origin, key, msg));
        let d = &self.data;
        let crema_d_names = d.corpus == CorpusKind::CremaD
            || (d.corpus == CorpusKind::Synth && d.synth_layout == SynthLayout::CremaD);
        if d.labels == LabelSource::Perceived && !crema_d_names {
            return bad(
                "data.labels",
                "perceived labels are CREMA-D's crowd votes: use them with corpus = \"crema-d\" \
                 (or corpus = \"synth\" with synth_layout = \"crema-d\")"
                    .into(),
            );
        }
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
        let longest = MAX_CLIP_SECONDS * a.sample_rate as usize;
        if a.max_samples > longest {
            return bad(
                "audio.max_samples",
                format!(
                    "{} samples is {:.0} s at {} Hz; clips may be at most {MAX_CLIP_SECONDS} s \
                     ({longest} samples) long (report: 56000)",
                    a.max_samples,
                    a.max_samples as f64 / a.sample_rate as f64,
                    a.sample_rate
                ),
            );
        }
        let f = &self.features;
        for (key, v, max, librosa) in [
            ("features.frame_length", f.frame_length, MAX_FRAME, 2048),
            ("features.hop_length", f.hop_length, MAX_FRAME, 512),
            ("features.n_fft", f.n_fft, MAX_FRAME, 2048),
            ("features.n_mels", f.n_mels, MAX_MELS, 128),
            ("features.n_mfcc", f.n_mfcc, MAX_MELS, 20),
        ] {
            if v == 0 {
                return bad(key, "must be at least 1".into());
            }
            if v > max {
                return bad(
                    key,
                    format!("{v} is past the limit of {max} (librosa: {librosa})"),
                );
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
        let frames = 1 + a.max_samples / f.hop_length;
        if f.kind == FeatureKind::MfccDeltas && frames < DELTA_WIDTH {
            return bad(
                "audio.max_samples",
                format!(
                    "features.kind `mfcc+deltas` needs at least {DELTA_WIDTH} frames per clip (the \
                     delta window), but {} samples at hop {} give {frames}: use max_samples >= {}",
                    a.max_samples,
                    f.hop_length,
                    (DELTA_WIDTH - 1) * f.hop_length
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
        if (s.assignment.is_some() || !s.balance.is_empty()) && !s.kind.by_speaker() {
            return bad(
                if s.assignment.is_some() {
                    "split.assignment"
                } else {
                    "split.balance"
                },
                format!(
                    "only applies to speaker splits (speaker, speaker-kfold, speaker+sentence), \
                     not `{}`",
                    s.kind.name()
                ),
            );
        }
        if s.assignment.is_some() && s.kind == SplitKind::SpeakerKfold {
            return bad(
                "split.assignment",
                "a fixed assignment has no folds: use kind = \"speaker\" or \"speaker+sentence\""
                    .into(),
            );
        }
        if let Some(a) = s
            .balance
            .iter()
            .find(|a| !DEMOGRAPHICS.contains(&a.as_str()))
        {
            return bad(
                "split.balance",
                format!(
                    "unknown attribute `{a}`: expected some of {}",
                    DEMOGRAPHICS.join(", ")
                ),
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
        self.model.validate(origin)?;
        self.train.validate(origin)?;
        self.eval.targets(origin)?;
        let m = &self.model;
        if m.kind.is_2d() && !f.kind.is_2d() {
            return bad(
                "model.kind",
                format!(
                    "{} needs a matrix per clip, but features.kind `{}` is a vector: use cnn1d, or {}",
                    m.kind,
                    f.kind,
                    FeatureKind::names(true)
                ),
            );
        }
        if m.kind == ModelKind::Cnn1d && f.kind.is_2d() {
            return bad(
                "model.kind",
                format!(
                    "cnn1d needs a vector per clip, but features.kind `{}` is a matrix: use cnn2d or crnn, or {}",
                    f.kind,
                    FeatureKind::names(false)
                ),
            );
        }
        if self.train.spec_augment.is_on() && !f.kind.is_2d() {
            return bad(
                "train.spec_augment",
                format!(
                    "spec_augment needs a 2D feature kind ({}), but features.kind `{}` \
                     is a vector: use a 2D kind, or leave the masks at 0",
                    FeatureKind::names(true),
                    f.kind
                ),
            );
        }
        Ok(())
    }
}

/// Command-line values that replace a config's (`--data`, `--backend`, `--device`): where and
/// how a job runs, never what it computes, so they leave job ids alone.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--data DIR`: the corpus directory.
    pub data: Option<PathBuf>,
    /// `--backend`.
    pub backend: Option<BackendKind>,
    /// `--device`: the GPU index.
    pub device: Option<usize>,
}

impl Overrides {
    /// Only `--data`.
    pub fn data(data: Option<PathBuf>) -> Self {
        Self {
            data,
            ..Self::default()
        }
    }

    /// `config` with the overrides applied.
    pub fn apply(&self, config: &Config) -> Config {
        let mut c = config.clone();
        if let Some(d) = &self.data {
            c.data.path = d.clone();
        }
        if let Some(b) = self.backend {
            c.train.backend = b;
        }
        if let Some(d) = self.device {
            c.train.device = d;
        }
        c
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

/// Deepest nesting (arrays, inline tables, dotted keys) the `toml` crate parses: its own limit,
/// checked while it reads, so a value nested thousands deep is an error, never a deep recursion.
/// `ser`'s files nest at most 3 deep (`[[grid.include]]` with a list of filters).
pub const MAX_TOML_DEPTH: usize = 80;

/// [`toml_error`] with the file's text at hand: when the message itself names no key (a value of
/// the wrong type, a number out of range), the key is read off the line the error points at,
/// qualified by the `[section]` above it (`train.epochs`).
pub fn toml_error_in(origin: &Path, text: &str, e: toml::de::Error) -> Error {
    if e.message().contains("recursion") {
        // toml's own words name no limit, and its excerpt of the line would repeat every bracket.
        // A dotted key too long comes without a position: the first line with that many dots.
        let at = e.span().map(|s| s.start).or_else(|| {
            let mut offset = 0;
            text.split_inclusive('\n').find_map(|l| {
                let head = l.split('=').next().unwrap_or("");
                let deep = head.matches('.').count() >= MAX_TOML_DEPTH;
                let start = offset;
                offset += l.len();
                deep.then_some(start)
            })
        });
        let mut key = at
            .and_then(|a| {
                key_at(text, a).or_else(|| {
                    let line = text[a..].lines().next()?.trim();
                    line.starts_with('[')
                        .then(|| line.trim_matches(['[', ']']).to_string())
                })
            })
            .unwrap_or_else(|| "(file)".into());
        if key.len() > 60 {
            let cut = (0..=60)
                .rev()
                .find(|&i| key.is_char_boundary(i))
                .unwrap_or(0);
            key = format!("{}...", &key[..cut]);
        }
        let line = at.map(|a| text[..a.min(text.len())].matches('\n').count() + 1);
        return Error::config(
            origin,
            key,
            format!(
                "{}nested deeper than {MAX_TOML_DEPTH} levels (arrays, inline tables or dotted \
                 keys), the most a file may nest; ser's settings nest at most 3 deep",
                line.map_or(String::new(), |l| format!("line {l}: "))
            ),
        );
    }
    // "unknown field `x`" names the key; "invalid type: integer `512`" quotes the value.
    let named = e.message().contains("field `");
    match e
        .span()
        .filter(|_| !named)
        .and_then(|s| key_at(text, s.start))
    {
        Some(key) => {
            let message = e.to_string().trim_end().replace('\n', "\n    ");
            Error::config(origin, key, message)
        }
        None => toml_error(origin, e),
    }
}

/// The dotted key of the `key = value` line holding byte `at`, with its section's name in front.
fn key_at(text: &str, at: usize) -> Option<String> {
    let at = at.min(text.len());
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("");
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"').to_string();
    if key.is_empty() || key.starts_with('[') {
        return None;
    }
    let section = text[..line_start].lines().rev().find_map(|l| {
        let l = l.trim();
        l.strip_prefix('[').map(|h| {
            h.trim_start_matches('[')
                .trim_end_matches(']')
                .trim()
                .to_string()
        })
    });
    Some(match section {
        Some(s) if !s.is_empty() => format!("{s}.{key}"),
        _ => key,
    })
}
