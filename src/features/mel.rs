//! The mel filterbank of `librosa.filters.mel(htk=False, norm='slaney')`, stored sparsely.
//!
//! Every step mirrors librosa 0.11 (and NumPy's `linspace` / `rfftfreq`) in f64, and the weights
//! are rounded to f32 exactly where librosa's float32 basis rounds them, so the basis matches
//! librosa's bit for bit up to the last ulp of `ln`/`exp`. Each filter is non-zero on one
//! contiguous bin range; only that range is kept, about 2 weights per bin instead of 128.

use super::stft::BLOCK;
use super::Matrix;

/// Width of one mel in the linear part of the Slaney scale (Hz).
const F_SP: f64 = 200.0 / 3.0;
/// Where the Slaney scale turns logarithmic (Hz).
const MIN_LOG_HZ: f64 = 1000.0;
/// The mel value at `MIN_LOG_HZ`.
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

fn logstep() -> f64 {
    6.4f64.ln() / 27.0
}

/// Hertz to Slaney mels (`librosa.hz_to_mel(htk=False)`).
pub fn hz_to_mel(hz: f64) -> f64 {
    if hz >= MIN_LOG_HZ {
        MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / logstep()
    } else {
        hz / F_SP
    }
}

/// Slaney mels to hertz (`librosa.mel_to_hz(htk=False)`).
pub fn mel_to_hz(mel: f64) -> f64 {
    if mel >= MIN_LOG_MEL {
        MIN_LOG_HZ * (logstep() * (mel - MIN_LOG_MEL)).exp()
    } else {
        F_SP * mel
    }
}

/// `n` frequencies evenly spaced in mels from `fmin` to `fmax` (`librosa.mel_frequencies`), with
/// NumPy's `linspace` arithmetic (`i * step + start`, last point exactly the end).
pub fn mel_frequencies(n: usize, fmin: f64, fmax: f64) -> Vec<f64> {
    let (lo, hi) = (hz_to_mel(fmin), hz_to_mel(fmax));
    let step = if n > 1 {
        (hi - lo) / (n - 1) as f64
    } else {
        0.0
    };
    (0..n)
        .map(|i| {
            let m = if n > 1 && i == n - 1 {
                hi
            } else {
                i as f64 * step + lo
            };
            mel_to_hz(m)
        })
        .collect()
}

/// Centre frequency of each FFT bin, `k * sr / n_fft` for `k` in `0..=n_fft/2`, as NumPy's
/// `rfftfreq(n_fft, 1/sr)` rounds it.
pub fn fft_frequencies(sample_rate: f64, n_fft: usize) -> Vec<f64> {
    let val = 1.0 / (n_fft as f64 * (1.0 / sample_rate));
    (0..=n_fft / 2).map(|k| k as f64 * val).collect()
}

/// The dense mel basis, `n_mels × (n_fft/2 + 1)`, equal to
/// `librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)`.
pub fn mel_basis(sample_rate: f64, n_fft: usize, n_mels: usize, fmin: f64, fmax: f64) -> Matrix {
    let n_bins = n_fft / 2 + 1;
    let fftfreqs = fft_frequencies(sample_rate, n_fft);
    let mel_f = mel_frequencies(n_mels + 2, fmin, fmax);
    let mut data = vec![0.0f32; n_mels * n_bins];
    for (i, row) in data.chunks_exact_mut(n_bins).enumerate() {
        let (lower_fdiff, upper_fdiff) = (mel_f[i + 1] - mel_f[i], mel_f[i + 2] - mel_f[i + 1]);
        // librosa stores the triangle in float32, then scales that float32 by the f64 norm.
        let enorm = 2.0 / (mel_f[i + 2] - mel_f[i]);
        for (w, &f) in row.iter_mut().zip(&fftfreqs) {
            let lower = -(mel_f[i] - f) / lower_fdiff;
            let upper = (mel_f[i + 2] - f) / upper_fdiff;
            let tri = 0.0f64.max(lower.min(upper)) as f32;
            *w = (f64::from(tri) * enorm) as f32;
        }
    }
    Matrix {
        rows: n_mels,
        cols: n_bins,
        data,
    }
}

/// A mel filterbank keeping each filter's non-zero bin range only.
#[derive(Debug, Clone)]
pub(crate) struct MelBank {
    /// First FFT bin of each filter's range.
    starts: Vec<usize>,
    /// Filter `m`'s weights are `weights[offsets[m]..offsets[m + 1]]`.
    offsets: Vec<usize>,
    weights: Vec<f32>,
}

impl MelBank {
    /// Builds the sparse form of [`mel_basis`].
    pub(crate) fn new(sample_rate: f64, n_fft: usize, n_mels: usize, fmin: f64, fmax: f64) -> Self {
        let dense = mel_basis(sample_rate, n_fft, n_mels, fmin, fmax);
        let mut starts = Vec::with_capacity(n_mels);
        let mut offsets = Vec::with_capacity(n_mels + 1);
        let mut weights = Vec::new();
        offsets.push(0);
        for row in dense.data.chunks_exact(dense.cols) {
            let first = row.iter().position(|&w| w != 0.0);
            let last = row.iter().rposition(|&w| w != 0.0);
            match (first, last) {
                (Some(a), Some(b)) => {
                    starts.push(a);
                    weights.extend_from_slice(&row[a..=b]);
                }
                // An empty filter (too many mels for the FFT size): librosa keeps a zero row.
                _ => starts.push(0),
            }
            offsets.push(weights.len());
        }
        Self {
            starts,
            offsets,
            weights,
        }
    }

    /// Number of filters.
    pub(crate) fn n_mels(&self) -> usize {
        self.starts.len()
    }

    /// Projects a frame-minor power block (`block[k * BLOCK + j]`, see `Stft::power_blocks`)
    /// onto every filter, writing frame `j < count` of filter `m` to `out[m * stride + t0 + j]`.
    pub(crate) fn project_block(
        &self,
        block: &[f32],
        t0: usize,
        count: usize,
        out: &mut [f32],
        stride: usize,
    ) {
        for (m, &start) in self.starts.iter().enumerate() {
            let w = &self.weights[self.offsets[m]..self.offsets[m + 1]];
            let rows = &block[start * BLOCK..(start + w.len()) * BLOCK];
            let mut acc = [0.0f32; BLOCK];
            for (&wk, row) in w.iter().zip(rows.chunks_exact(BLOCK)) {
                for (a, &p) in acc.iter_mut().zip(row) {
                    *a += wk * p;
                }
            }
            let at = m * stride + t0;
            out[at..at + count].copy_from_slice(&acc[..count]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slaney_scale_is_linear_then_logarithmic() {
        assert_eq!(hz_to_mel(0.0), 0.0);
        assert!((hz_to_mel(500.0) - 7.5).abs() < 1e-12);
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
        assert!((hz_to_mel(6400.0) - 42.0).abs() < 1e-12); // 15 + 27 log steps of 6.4^(1/27)
        for &hz in &[0.0, 123.4, 999.0, 1000.0, 4321.0, 11025.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9);
        }
    }

    #[test]
    fn basis_matches_librosa_spot_values() {
        // librosa 0.11: b = librosa.filters.mel(sr=22050, n_fft=2048) (float32), and
        // librosa.mel_frequencies(130, fmin=0, fmax=11025).
        let b = mel_basis(22050.0, 2048, 128, 0.0, 11025.0);
        assert_eq!((b.rows, b.cols), (128, 1025));
        let spots: [(usize, usize, f32); 7] = [
            (0, 1, 0.016_182_853),
            (0, 2, 0.032_365_706),
            (0, 3, 0.028_990_088),
            (1, 3, 0.009_779_235),
            (127, 1000, 0.003_126_247),
            (127, 1023, 0.000_130_260_3),
            (127, 1024, 0.0),
        ];
        for (m, k, want) in spots {
            let got = b.get(m, k);
            assert!(
                (got - want).abs() <= 2.0 * f32::EPSILON * want,
                "({m}, {k}): {got} vs {want}"
            );
        }
        // Non-zero bin ranges (np.nonzero) and row sums.
        let range = |m: usize| {
            let r = b.row(m);
            (
                r.iter().position(|&w| w != 0.0),
                r.iter().rposition(|&w| w != 0.0),
            )
        };
        assert_eq!(range(0), (Some(1), Some(4)));
        assert_eq!(range(1), (Some(3), Some(7)));
        assert_eq!(range(40), (Some(96), Some(101)));
        assert_eq!(range(127), (Some(971), Some(1023)));
        for (m, want) in [
            (0, 0.090_345_881_879_329_68),
            (40, 0.090_865_378_384_478_39),
            (127, 0.092_869_242_198_503_34),
        ] {
            let sum: f64 = b.row(m).iter().map(|&w| f64::from(w)).sum();
            assert!((sum - want).abs() < 1e-7 * want, "row {m}: {sum} vs {want}");
        }
        let mel_f = mel_frequencies(130, 0.0, 11025.0);
        assert!(
            (mel_f[1] - 25.793_588_878_635_166).abs() < 1e-9,
            "{}",
            mel_f[1]
        );
        assert!(
            (mel_f[64] - 1_956.474_671_764_885_2).abs() < 1e-9,
            "{}",
            mel_f[64]
        );
        assert_eq!(mel_f[129], 11025.0);
    }

    #[test]
    fn sparse_projection_equals_dense_product() {
        let b = mel_basis(16000.0, 512, 40, 20.0, 7600.0);
        let bank = MelBank::new(16000.0, 512, 40, 20.0, 7600.0);
        assert_eq!(bank.n_mels(), 40);
        // Two frames in block columns 0 and 1, written to output columns 1 and 2 of 4.
        let power = |j: usize, k: usize| ((k * 37 + j * 11) % 101) as f32 / 7.0;
        let mut block = vec![0.0f32; 257 * BLOCK];
        for k in 0..257 {
            for j in 0..2 {
                block[k * BLOCK + j] = power(j, k);
            }
        }
        let mut out = vec![-1.0f32; 40 * 4];
        bank.project_block(&block, 1, 2, &mut out, 4);
        for m in 0..40 {
            for j in 0..2 {
                let dense: f64 = (0..257)
                    .map(|k| f64::from(b.get(m, k)) * f64::from(power(j, k)))
                    .sum();
                let got = f64::from(out[m * 4 + 1 + j]);
                assert!(
                    (got - dense).abs() <= 1e-5 * dense.abs().max(1e-6),
                    "{m}: {got} {dense}"
                );
            }
            assert_eq!((out[m * 4], out[m * 4 + 3]), (-1.0, -1.0));
        }
    }
}
