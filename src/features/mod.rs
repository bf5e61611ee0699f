//! Feature extraction, numerically equal to librosa 0.11: zero-crossing rate, RMS, frame energy,
//! mel power spectrogram, `power_to_db`, MFCC and its deltas, spectral shape and chroma.
//!
//! [`Extractor`] holds everything that depends only on the configuration (FFT plan, window, mel
//! filterbank, DCT matrix) and the scratch buffers, so extracting a clip allocates only its
//! outputs. It is `Clone` + `Send`: give each worker thread its own copy (e.g. rayon's
//! `map_init`).
//!
//! | feature | librosa call it equals |
//! |---|---|
//! | [`Extractor::zcr`] | `feature.zero_crossing_rate(y, frame_length, hop_length)[0]` |
//! | [`Extractor::rms`] | `feature.rms(y=y, frame_length, hop_length)[0]` |
//! | [`Extractor::energy`] | the report notebook's `sum(y[i:i+frame]**2)` per hop (not librosa) |
//! | [`Extractor::mel_power`] | `feature.melspectrogram(y=y, sr=sr)` (power 2, Slaney mel) |
//! | [`Extractor::mel_db`] | `power_to_db(melspectrogram(y=y, sr=sr), ref=np.max)` |
//! | [`Extractor::mfcc`] | `feature.mfcc(y=y, sr=sr)` |
//! | [`Extractor::mfcc_deltas`] | `vstack([M, feature.delta(M), feature.delta(M, order=2)])`, `M` the MFCCs |
//! | [`Extractor::spectral`] | `feature.spectral_centroid`, `spectral_bandwidth`, `spectral_rolloff` (defaults) |
//! | [`Extractor::chroma`] | `feature.chroma_stft(y=y, sr=sr, tuning=0.0)` |
//!
//! `tests/parity.rs` checks every value against librosa's own output (the last three against
//! `tests/fixtures/parity-extra`, made by `scripts/parity_extra.py`). The GPU path has no
//! kernels for `mfcc+deltas`, `spectral`, `zcr+rms+spectral` and `chroma`: it refuses them. With `--features wgpu`,
//! `gpu::GpuExtractor` computes ZCR, RMS and mel dB of whole batches with the WGSL kernels in
//! `shaders/` (checked against this extractor by `tests/gpu.rs`). [`batch`] runs either over many
//! files (decoded in parallel); [`export`] writes a file's features as `.npy`, librosa's layout.

mod db;
mod delta;
mod frames;
pub mod batch;
pub mod export;
#[cfg(feature = "wgpu")]
pub mod gpu;
mod mel;
mod mfcc;
mod spectral;
mod stft;

pub use db::{power_to_db, DbRef, AMIN};
pub use delta::{delta, savgol_weights};
pub use frames::{centred_frames, energy_frames};
pub use mel::{fft_frequencies, hz_to_mel, mel_basis, mel_frequencies, mel_to_hz};
pub use mfcc::Dct;
pub use spectral::{chroma, chroma_filters, spectral_shape, ROLL_PERCENT};
pub use stft::hann_periodic;

use crate::base::{Error, Result};
use crate::config::{FeatureConfig, FeatureKind, DELTA_WIDTH};

/// Row-major 2-D array (rows × cols), e.g. mel bands × frames.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    /// Number of rows (mel bands, coefficients).
    pub rows: usize,
    /// Number of columns (frames).
    pub cols: usize,
    /// `rows * cols` values; element `(r, c)` is `data[r * cols + c]`.
    pub data: Vec<f32>,
}

impl Matrix {
    /// A `rows × cols` matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// Element `(r, c)`. Panics when out of range, like slice indexing.
    pub fn get(&self, r: usize, c: usize) -> f32 {
        assert!(
            r < self.rows && c < self.cols,
            "({r}, {c}) outside {}×{}",
            self.rows,
            self.cols
        );
        self.data[r * self.cols + c]
    }

    /// Row `r` as a slice.
    pub fn row(&self, r: usize) -> &[f32] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }

    /// `[rows, cols]`, the shape to store it with.
    pub fn shape(&self) -> [usize; 2] {
        [self.rows, self.cols]
    }
}

/// Every feature of one clip.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureSet {
    /// Zero-crossing rate per centred frame.
    pub zcr: Vec<f32>,
    /// RMS per centred frame.
    pub rms: Vec<f32>,
    /// Sum of squares per uncentred frame (`ceil(n / hop)` values).
    pub energy: Vec<f32>,
    /// `power_to_db(mel power, ref=max)`, `n_mels × frames`.
    pub mel_db: Matrix,
    /// MFCCs, `n_mfcc × frames`.
    pub mfcc: Matrix,
}

/// The STFT in the precision the dB floor needs (see [`stft::Stft`]).
#[derive(Clone)]
enum Spectrum {
    /// `top_db` ≤ 100 dB: f32 rounding noise stays below the floor.
    Single(stft::Stft<f32>),
    /// No floor (or a deeper one): bins far below the maximum need f64, as librosa uses.
    Double(stft::Stft<f64>),
}

/// Deepest `top_db` for which the f32 FFT keeps every unfloored bin within 0.01 dB of librosa.
const F32_TOP_DB_LIMIT: f64 = 100.0;

/// Plans (FFT), window, mel basis and scratch buffers built once and reused for every clip.
#[derive(Clone)]
pub struct Extractor {
    kind: FeatureKind,
    frame_length: usize,
    hop: usize,
    n_mfcc: usize,
    top_db: Option<f32>,
    stft: Spectrum,
    mel: mel::MelBank,
    dct: Dct,
    sample_rate: f64,
    n_fft: usize,
    /// Bin frequencies (Hz) for the spectral shape.
    freq: Vec<f64>,
    /// The chroma filterbank, built only for the `chroma` kind (it is 12 × bins).
    chroma: Option<Matrix>,
}

impl std::fmt::Debug for Extractor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extractor")
            .field("kind", &self.kind)
            .field("frame_length", &self.frame_length)
            .field("hop", &self.hop)
            .field("n_mels", &self.mel.n_mels())
            .field("n_mfcc", &self.n_mfcc)
            .finish_non_exhaustive()
    }
}

/// A feature setting that cannot work; Config::validate names the file before this is reached.
fn bad(key: &str, message: impl std::fmt::Display) -> Error {
    Error::config("(config)", format!("features.{key}"), message.to_string())
}

impl Extractor {
    /// Checks `cfg` and builds the FFT plan, window, mel filterbank and DCT for `sample_rate`.
    pub fn new(cfg: &FeatureConfig, sample_rate: u32) -> Result<Self> {
        if sample_rate == 0 {
            return Err(Error::config(
                "(config)",
                "audio.sample_rate",
                "must be positive",
            ));
        }
        let sr = f64::from(sample_rate);
        if cfg.hop_length == 0 {
            return Err(bad("hop_length", "must be at least 1"));
        }
        // Centred frames of odd length would need librosa's other frame count; nobody uses them.
        for (key, v) in [("frame_length", cfg.frame_length), ("n_fft", cfg.n_fft)] {
            if v < 2 || v % 2 != 0 {
                return Err(bad(key, format!("must be even and at least 2 (got {v})")));
            }
        }
        if cfg.n_mels == 0 {
            return Err(bad("n_mels", "must be at least 1"));
        }
        if cfg.n_mfcc == 0 || cfg.n_mfcc > cfg.n_mels {
            return Err(bad(
                "n_mfcc",
                format!(
                    "must be between 1 and n_mels = {} (got {})",
                    cfg.n_mels, cfg.n_mfcc
                ),
            ));
        }
        let fmax = cfg.fmax.unwrap_or(sr / 2.0);
        if !(cfg.fmin.is_finite() && cfg.fmin >= 0.0) {
            return Err(bad(
                "fmin",
                format!("must be a frequency ≥ 0 Hz (got {})", cfg.fmin),
            ));
        }
        if !(fmax.is_finite() && fmax > cfg.fmin && fmax <= sr / 2.0) {
            return Err(bad(
                "fmax",
                format!(
                    "must lie above fmin = {} Hz and at most half the sample rate, {} Hz (got {fmax})",
                    cfg.fmin,
                    sr / 2.0
                ),
            ));
        }
        if let Some(t) = cfg.top_db {
            if !(t.is_finite() && t >= 0.0) {
                return Err(bad("top_db", format!("must be ≥ 0 dB (got {t})")));
            }
        }
        Ok(Self {
            kind: cfg.kind,
            frame_length: cfg.frame_length,
            hop: cfg.hop_length,
            n_mfcc: cfg.n_mfcc,
            top_db: cfg.top_db.map(|t| t as f32),
            stft: match cfg.top_db {
                Some(t) if t <= F32_TOP_DB_LIMIT => {
                    Spectrum::Single(stft::Stft::new(cfg.n_fft, cfg.hop_length))
                }
                _ => Spectrum::Double(stft::Stft::new(cfg.n_fft, cfg.hop_length)),
            },
            mel: mel::MelBank::new(sr, cfg.n_fft, cfg.n_mels, cfg.fmin, fmax),
            dct: Dct::new(cfg.n_mfcc, cfg.n_mels),
            sample_rate: sr,
            n_fft: cfg.n_fft,
            freq: fft_frequencies(sr, cfg.n_fft),
            chroma: (cfg.kind == FeatureKind::Chroma).then(|| chroma_filters(sr, cfg.n_fft)),
        })
    }

    /// The feature kind [`Extractor::model_input`] produces.
    pub fn kind(&self) -> FeatureKind {
        self.kind
    }

    /// Number of centred frames for `n_samples`: `1 + n / hop` (110 for 56,000 at hop 512).
    pub fn n_frames(&self, n_samples: usize) -> usize {
        frames::centred_frames(n_samples, self.hop)
    }

    /// Zero-crossing rate per centred frame (librosa's `zero_crossing_rate`).
    pub fn zcr(&self, y: &[f32]) -> Vec<f32> {
        frames::zcr(y, self.frame_length, self.hop)
    }

    /// RMS per centred, zero-padded frame (librosa's `rms`).
    pub fn rms(&self, y: &[f32]) -> Vec<f32> {
        frames::rms(y, self.frame_length, self.hop)
    }

    /// The report notebook's frame energy: sum of squares of `y[i..i + frame_length]` for every
    /// `i` that is a multiple of the hop (uncentred; `ceil(n / hop)` values).
    pub fn energy(&self, y: &[f32]) -> Vec<f32> {
        frames::energy(y, self.frame_length, self.hop)
    }

    /// Mel power spectrogram, `n_mels × frames` (librosa's `melspectrogram`, power 2).
    pub fn mel_power(&mut self, y: &[f32]) -> Matrix {
        let frames = self.n_frames(y.len());
        let mut out = Matrix::zeros(self.mel.n_mels(), frames);
        let mel = &self.mel;
        let mut each = |t0: usize, count: usize, block: &[f32]| {
            mel.project_block(block, t0, count, &mut out.data, frames)
        };
        match &mut self.stft {
            Spectrum::Single(s) => s.power_blocks(y, &mut each),
            Spectrum::Double(s) => s.power_blocks(y, &mut each),
        }
        out
    }

    /// `power_to_db(mel_power, ref=max, amin=1e-10, top_db)`, `n_mels × frames`.
    pub fn mel_db(&mut self, y: &[f32]) -> Matrix {
        let mut m = self.mel_power(y);
        let ref_power = db::max_of(&m.data);
        db::log_power_in_place(&mut m.data, AMIN);
        db::finish_db_in_place(&mut m.data, ref_power, AMIN, self.top_db);
        m
    }

    /// MFCCs, `n_mfcc × frames`: orthonormal DCT-II of `power_to_db(mel_power, ref=1.0)`.
    pub fn mfcc(&mut self, y: &[f32]) -> Matrix {
        let mut m = self.mel_power(y);
        db::log_power_in_place(&mut m.data, AMIN);
        db::finish_db_in_place(&mut m.data, 1.0, AMIN, self.top_db);
        self.dct.apply(&m)
    }

    /// Power spectrogram `|X|²`, `(n_fft/2 + 1) × frames` (librosa's `stft` with power 2).
    pub fn power_spectrogram(&mut self, y: &[f32]) -> Matrix {
        let frames = self.n_frames(y.len());
        let mut out = Matrix::zeros(self.freq.len(), frames);
        let mut each = |t0: usize, count: usize, block: &[f32]| {
            for (k, row) in block.chunks_exact(stft::BLOCK).enumerate() {
                let at = k * frames + t0;
                out.data[at..at + count].copy_from_slice(&row[..count]);
            }
        };
        match &mut self.stft {
            Spectrum::Single(s) => s.power_blocks(y, &mut each),
            Spectrum::Double(s) => s.power_blocks(y, &mut each),
        }
        out
    }

    /// MFCCs stacked with their deltas and delta-deltas (width 9, librosa's `feature.delta`
    /// orders 1 and 2 of the MFCCs), `3·n_mfcc × frames`.
    pub fn mfcc_deltas(&mut self, y: &[f32]) -> Matrix {
        let m = self.mfcc(y);
        let d1 = delta(&m, DELTA_WIDTH, 1);
        let d2 = delta(&m, DELTA_WIDTH, 2);
        let mut data = m.data;
        data.extend(d1.data);
        data.extend(d2.data);
        Matrix {
            rows: 3 * m.rows,
            cols: m.cols,
            data,
        }
    }

    /// Spectral centroid, bandwidth (p = 2) and roll-off (85 %) per frame in Hz, rows 0..3 of a
    /// `3 × frames` matrix (librosa's `spectral_centroid` / `_bandwidth` / `_rolloff`).
    pub fn spectral(&mut self, y: &[f32]) -> Matrix {
        let power = self.power_spectrogram(y);
        spectral_shape(&power, &self.freq)
    }

    /// Chroma, `12 × frames`: librosa's `chroma_stft(y=y, sr=sr, tuning=0.0)`.
    pub fn chroma(&mut self, y: &[f32]) -> Matrix {
        let power = self.power_spectrogram(y);
        let (sr, n_fft) = (self.sample_rate, self.n_fft);
        let filters = self.chroma.get_or_insert_with(|| chroma_filters(sr, n_fft));
        chroma(filters, &power)
    }

    /// Every feature, computing the STFT and the logarithms once for both `mel_db` and `mfcc`.
    pub fn all(&mut self, y: &[f32]) -> FeatureSet {
        let mut log_mel = self.mel_power(y);
        let ref_power = db::max_of(&log_mel.data);
        db::log_power_in_place(&mut log_mel.data, AMIN);
        let mut mel_db = log_mel.clone();
        db::finish_db_in_place(&mut mel_db.data, ref_power, AMIN, self.top_db);
        db::finish_db_in_place(&mut log_mel.data, 1.0, AMIN, self.top_db);
        FeatureSet {
            zcr: self.zcr(y),
            rms: self.rms(y),
            energy: self.energy(y),
            mel_db,
            mfcc: self.dct.apply(&log_mel),
        }
    }

    /// The model input for the configured kind, flattened row-major; its shape is
    /// [`Extractor::input_shape`]. `zcr+rms` is the ZCR values followed by the RMS values (the
    /// report's 220-vector for 56,000 samples).
    pub fn model_input(&mut self, y: &[f32]) -> Vec<f32> {
        match self.kind {
            FeatureKind::ZcrRms => {
                let mut v = self.zcr(y);
                v.extend(self.rms(y));
                v
            }
            FeatureKind::Zcr => self.zcr(y),
            FeatureKind::Rms => self.rms(y),
            FeatureKind::Energy => self.energy(y),
            FeatureKind::MelDb => self.mel_db(y).data,
            FeatureKind::Mfcc => self.mfcc(y).data,
            FeatureKind::MfccDeltas => self.mfcc_deltas(y).data,
            FeatureKind::Spectral => self.spectral(y).data,
            FeatureKind::ZcrRmsSpectral => {
                let mut v = self.zcr(y);
                v.extend(self.rms(y));
                v.extend(self.spectral(y).data);
                v
            }
            FeatureKind::Chroma => self.chroma(y).data,
        }
    }

    /// Shape of [`Extractor::model_input`] for a clip of `n_samples`: `[2 * frames]`, `[frames]`,
    /// `[ceil(n / hop)]` (energy), `[n_mels, frames]`, `[n_mfcc, frames]`, `[3 * n_mfcc, frames]`,
    /// `[3 * frames]` (spectral), `[5 * frames]` (zcr+rms+spectral) or `[12, frames]` (chroma).
    pub fn input_shape(&self, n_samples: usize) -> Vec<usize> {
        let frames = self.n_frames(n_samples);
        let per_frame = values_per_frame(self.kind, self.mel.n_mels(), self.n_mfcc);
        match self.kind {
            FeatureKind::Energy => vec![frames::energy_frames(n_samples, self.hop)],
            k if k.is_2d() => vec![per_frame, frames],
            _ => vec![per_frame * frames],
        }
    }
}

/// Values of `kind`'s model input per frame: the rows a matrix kind stacks, or the per-frame
/// features a vector kind concatenates (2 for `zcr+rms`); `n_mels` and `n_mfcc` as configured.
pub fn values_per_frame(kind: FeatureKind, n_mels: usize, n_mfcc: usize) -> usize {
    match kind {
        FeatureKind::ZcrRms => 2,
        FeatureKind::Zcr | FeatureKind::Rms | FeatureKind::Energy => 1,
        FeatureKind::MelDb => n_mels,
        FeatureKind::Mfcc => n_mfcc,
        FeatureKind::MfccDeltas => 3 * n_mfcc,
        FeatureKind::Spectral => 3,
        FeatureKind::ZcrRmsSpectral => 5,
        FeatureKind::Chroma => 12,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| 0.3 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 22_050.0).sin())
            .collect()
    }

    #[test]
    fn frame_counts_and_shapes_for_the_report_clip() {
        let mut cfg = FeatureConfig::default();
        let ex = Extractor::new(&cfg, 22_050).unwrap();
        assert_eq!(ex.n_frames(56_000), 110);
        assert_eq!(ex.n_frames(0), 1);
        assert_eq!(ex.n_frames(511), 1);
        assert_eq!(ex.n_frames(512), 2);
        assert_eq!(ex.input_shape(56_000), vec![220]);
        for (kind, shape) in [
            (FeatureKind::Zcr, vec![110]),
            (FeatureKind::Rms, vec![110]),
            (FeatureKind::Energy, vec![110]),
            (FeatureKind::MelDb, vec![128, 110]),
            (FeatureKind::Mfcc, vec![20, 110]),
            (FeatureKind::MfccDeltas, vec![60, 110]),
            (FeatureKind::Spectral, vec![330]),
            (FeatureKind::ZcrRmsSpectral, vec![550]),
            (FeatureKind::Chroma, vec![12, 110]),
        ] {
            cfg.kind = kind;
            let mut ex = Extractor::new(&cfg, 22_050).unwrap();
            assert_eq!(ex.input_shape(56_000), shape, "{kind}");
            let y = tone(56_000);
            assert_eq!(
                ex.model_input(&y).len(),
                shape.iter().product::<usize>(),
                "{kind}"
            );
        }
    }

    #[test]
    fn all_agrees_with_the_single_features() {
        let mut ex = Extractor::new(&FeatureConfig::default(), 22_050).unwrap();
        let y = tone(20_000);
        let set = ex.all(&y);
        assert_eq!(set.zcr, ex.zcr(&y));
        assert_eq!(set.rms, ex.rms(&y));
        assert_eq!(set.energy, ex.energy(&y));
        let (db, mfcc) = (ex.mel_db(&y), ex.mfcc(&y));
        assert_eq!(set.mel_db.shape(), db.shape());
        assert_eq!(set.mfcc.shape(), mfcc.shape());
        for (a, b) in set.mel_db.data.iter().zip(&db.data) {
            assert!((a - b).abs() < 1e-4);
        }
        assert_eq!(set.mfcc, mfcc);
        assert_eq!(db::max_of(&db.data), 0.0);
        let mut zr = ex.clone();
        zr.kind = FeatureKind::ZcrRms;
        let v = zr.model_input(&y);
        assert_eq!(&v[..set.zcr.len()], &set.zcr[..]);
        assert_eq!(&v[set.zcr.len()..], &set.rms[..]);
        // zcr+rms+spectral is zcr+rms followed by the three spectral rows.
        zr.kind = FeatureKind::ZcrRmsSpectral;
        let w = zr.model_input(&y);
        assert_eq!(&w[..v.len()], &v[..]);
        assert_eq!(&w[v.len()..], &ex.spectral(&y).data[..]);
        // mfcc+deltas starts with the MFCCs; the 440 Hz tone's centroid sits near 440 Hz.
        let md = ex.mfcc_deltas(&y);
        assert_eq!(&md.data[..set.mfcc.data.len()], &set.mfcc.data[..]);
        let centroid = ex.spectral(&y).get(0, 10);
        assert!((centroid - 440.0).abs() < 40.0, "{centroid}");
        let chroma = ex.chroma(&y);
        assert_eq!(chroma.get(9, 10), 1.0, "A is the loudest pitch class");
    }

    #[test]
    fn empty_and_silent_clips_give_finite_features() {
        let mut ex = Extractor::new(&FeatureConfig::default(), 22_050).unwrap();
        let set = ex.all(&[]);
        assert_eq!(set.zcr, vec![0.0]);
        assert_eq!(set.mel_db.shape(), [128, 1]);
        let set = ex.all(&vec![0.0; 30_000]);
        assert!(set.mel_db.data.iter().all(|&v| v == 0.0));
        assert!(set.mfcc.data.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn rejects_impossible_configs_naming_the_key() {
        let base = FeatureConfig::default();
        let cases: Vec<(FeatureConfig, &str)> = vec![
            (
                FeatureConfig {
                    hop_length: 0,
                    ..base.clone()
                },
                "hop_length",
            ),
            (
                FeatureConfig {
                    n_fft: 2047,
                    ..base.clone()
                },
                "n_fft",
            ),
            (
                FeatureConfig {
                    frame_length: 0,
                    ..base.clone()
                },
                "frame_length",
            ),
            (
                FeatureConfig {
                    n_mels: 0,
                    ..base.clone()
                },
                "n_mels",
            ),
            (
                FeatureConfig {
                    n_mfcc: 200,
                    ..base.clone()
                },
                "n_mfcc",
            ),
            (
                FeatureConfig {
                    fmin: -1.0,
                    ..base.clone()
                },
                "fmin",
            ),
            (
                FeatureConfig {
                    fmax: Some(20_000.0),
                    ..base.clone()
                },
                "fmax",
            ),
            (
                FeatureConfig {
                    top_db: Some(-3.0),
                    ..base.clone()
                },
                "top_db",
            ),
        ];
        for (cfg, key) in cases {
            let msg = Extractor::new(&cfg, 22_050).unwrap_err().to_string();
            assert!(msg.contains(key), "{key}: {msg}");
        }
        assert!(Extractor::new(&base, 0).is_err());
    }
}
