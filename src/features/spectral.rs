//! Spectral shape and chroma per frame, as librosa 0.11 computes them from the STFT:
//! `spectral_centroid`, `spectral_bandwidth` (p = 2) and `spectral_rolloff` (0.85) on the
//! magnitude, `chroma_stft` on the power (with `tuning=0.0`, see [`chroma_filters`]).
//!
//! The arithmetic follows librosa's dtypes where they decide a result: the normalised spectrum is
//! stored as f32 before it meets the f64 frequencies, and the roll-off's running sum is an f32
//! sum in bin order compared with an f32 threshold, so the same bin crosses it.

use super::Matrix;

/// librosa's `util.tiny` of f32: frames whose norm is below it are left unnormalised (all zero).
const TINY_F32: f64 = f32::MIN_POSITIVE as f64;

/// Fraction of a frame's magnitude below the roll-off frequency (librosa: 0.85).
pub const ROLL_PERCENT: f32 = 0.85;

/// Centroid, bandwidth and roll-off (Hz) of every frame of a power spectrogram
/// (`bins × frames`, bins `0..=n_fft/2` at `freq`): rows 0, 1, 2 of a `3 × frames` matrix.
pub fn spectral_shape(power: &Matrix, freq: &[f64]) -> Matrix {
    assert_eq!(power.rows, freq.len(), "one frequency per bin");
    let frames = power.cols;
    let mut out = Matrix::zeros(3, frames);
    let mut mag = vec![0f32; power.rows];
    let mut norm = vec![0f32; power.rows];
    for t in 0..frames {
        for (k, m) in mag.iter_mut().enumerate() {
            *m = power.data[k * frames + t].sqrt();
        }
        // util.normalize(S, norm=1): a silent frame stays zero (centroid and bandwidth 0 Hz).
        let total: f64 = mag.iter().map(|&m| f64::from(m)).sum();
        let length = if total < TINY_F32 { 1.0 } else { total };
        for (n, &m) in norm.iter_mut().zip(&mag) {
            *n = (f64::from(m) / length) as f32;
        }
        let centroid: f64 = norm.iter().zip(freq).map(|(&n, &f)| f * f64::from(n)).sum();
        let spread: f64 = norm
            .iter()
            .zip(freq)
            .map(|(&n, &f)| f64::from(n) * (f - centroid).powi(2))
            .sum();
        out.data[t] = centroid as f32;
        out.data[frames + t] = spread.sqrt() as f32;
        out.data[2 * frames + t] = rolloff(&mag, freq) as f32;
    }
    out
}

/// The lowest bin frequency where the f32 running sum of `mag` reaches 85 % of its total
/// (`nanmin(where(cumsum(S) < 0.85 * total, nan, 1) * freq)`); 0 Hz for a silent frame.
fn rolloff(mag: &[f32], freq: &[f64]) -> f64 {
    let total: f32 = mag.iter().sum();
    let threshold = ROLL_PERCENT * total;
    let mut running = 0f32;
    for (&m, &f) in mag.iter().zip(freq) {
        running += m;
        if running >= threshold {
            return f;
        }
    }
    // Unreachable for finite input (the last running sum is the total); NaN sums end here.
    freq.last().copied().unwrap_or(0.0)
}

/// librosa's `filters.chroma(sr=sr, n_fft=n_fft, tuning=0.0)` (12 bins, centred on octave 5
/// with a 2-octave Gaussian, columns L2-normalised, row 0 = C), `12 × (n_fft/2 + 1)`, f32.
///
/// `tuning` is fixed at 0 (A = 440 Hz): librosa's `chroma_stft` default estimates a tuning per
/// clip from its pitch track, which would give every clip its own filterbank and make a clip's
/// chroma depend on a histogram peak that flips with small changes in the signal.
pub fn chroma_filters(sample_rate: f64, n_fft: usize) -> Matrix {
    const N_CHROMA: usize = 12;
    let nc = N_CHROMA as f64;
    let step = sample_rate / n_fft as f64;
    // hz_to_octs(f, tuning=0) = log2(f / (440 / 16)); bin 0 (0 Hz) is put 1.5 octaves below bin 1.
    let mut frqbins: Vec<f64> = (1..n_fft)
        .map(|i| nc * (i as f64 * step / (440.0 / 16.0)).log2())
        .collect();
    frqbins.insert(0, frqbins.first().copied().unwrap_or(0.0) - 1.5 * nc);
    let binwidth: Vec<f64> = (0..n_fft)
        .map(|i| match frqbins.get(i + 1) {
            Some(next) => (next - frqbins[i]).max(1.0),
            None => 1.0,
        })
        .collect();
    let half = (nc / 2.0).round();
    let mut wts = vec![0f64; N_CHROMA * n_fft];
    for i in 0..n_fft {
        for c in 0..N_CHROMA {
            let d = (frqbins[i] - c as f64 + half + 10.0 * nc).rem_euclid(nc) - half;
            wts[c * n_fft + i] = (-0.5 * (2.0 * d / binwidth[i]).powi(2)).exp();
        }
        let norm = (0..N_CHROMA)
            .map(|c| wts[c * n_fft + i].powi(2))
            .sum::<f64>()
            .sqrt();
        let length = if norm < f64::MIN_POSITIVE { 1.0 } else { norm };
        let octave = (-0.5 * ((frqbins[i] / nc - 5.0) / 2.0).powi(2)).exp();
        for c in 0..N_CHROMA {
            wts[c * n_fft + i] = wts[c * n_fft + i] / length * octave;
        }
    }
    // np.roll(wts, -3, axis=0): the row for A (index 0 above) moves to 9, so row 0 is C.
    let bins = n_fft / 2 + 1;
    let mut out = Matrix::zeros(N_CHROMA, bins);
    for r in 0..N_CHROMA {
        let src = (r + 3) % N_CHROMA;
        for k in 0..bins {
            out.data[r * bins + k] = wts[src * n_fft + k] as f32;
        }
    }
    out
}

/// `chroma_stft(S=power, tuning=0.0)`: `filters · power`, each frame divided by its largest
/// chroma value (a silent frame stays zero), `12 × frames`.
pub fn chroma(filters: &Matrix, power: &Matrix) -> Matrix {
    assert_eq!(filters.cols, power.rows, "one filter weight per bin");
    let frames = power.cols;
    let mut raw = vec![0f64; filters.rows * frames];
    for (c, w) in filters.data.chunks_exact(filters.cols).enumerate() {
        let acc = &mut raw[c * frames..(c + 1) * frames];
        for (&wk, p) in w.iter().zip(power.data.chunks_exact(frames)) {
            if wk != 0.0 {
                for (a, &v) in acc.iter_mut().zip(p) {
                    *a += f64::from(wk) * f64::from(v);
                }
            }
        }
    }
    let mut out = Matrix::zeros(filters.rows, frames);
    for t in 0..frames {
        let peak = (0..filters.rows)
            .map(|c| raw[c * frames + t].abs())
            .fold(0.0, f64::max);
        let length = if peak < TINY_F32 { 1.0 } else { peak };
        for c in 0..filters.rows {
            out.data[c * frames + t] = (raw[c * frames + t] / length) as f32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::fft_frequencies;

    #[test]
    fn a_single_bin_has_its_frequency_as_centroid_and_rolloff() {
        let freq = fft_frequencies(22_050.0, 16);
        let mut power = Matrix::zeros(9, 2);
        power.data[3 * 2] = 4.0; // frame 0: all energy in bin 3; frame 1 silent
        let s = spectral_shape(&power, &freq);
        assert_eq!(s.get(0, 0), freq[3] as f32);
        assert_eq!(s.get(1, 0), 0.0);
        assert_eq!(s.get(2, 0), freq[3] as f32);
        assert_eq!((s.get(0, 1), s.get(1, 1), s.get(2, 1)), (0.0, 0.0, 0.0));
    }

    #[test]
    fn two_equal_bins_centre_between_them() {
        let freq = [0.0, 100.0, 200.0, 300.0];
        let mut power = Matrix::zeros(4, 1);
        power.data[1] = 1.0;
        power.data[3] = 1.0;
        let s = spectral_shape(&power, &freq);
        assert!((s.get(0, 0) - 200.0).abs() < 1e-4);
        assert!((s.get(1, 0) - 100.0).abs() < 1e-4);
        // 85 % of the magnitude is reached only at the upper bin.
        assert_eq!(s.get(2, 0), 300.0);
    }

    /// librosa 0.11 `filters.chroma(sr=22050, n_fft=2048, tuning=0.0)` spot values.
    #[test]
    fn chroma_filters_match_librosa_spots() {
        let f = chroma_filters(22_050.0, 2048);
        assert_eq!(f.shape(), [12, 1025]);
        for (r, k, want) in [
            (0, 0, 0.000_137_684_21_f32),
            (9, 41, 0.866_205_63),
            (0, 24, 0.643_508),
            (4, 100, 2.355_483_7e-11),
            (7, 300, 0.444_875_33),
            (2, 1024, 4.542_092_6e-8),
        ] {
            let got = f.get(r, k);
            assert!(
                (got - want).abs() <= 1e-5 * want.abs(),
                "chroma filter ({r}, {k}): {got} vs {want}"
            );
        }
    }

    #[test]
    fn chroma_is_max_normalised_and_silence_stays_zero() {
        let f = chroma_filters(22_050.0, 2048);
        let mut power = Matrix::zeros(1025, 2);
        power.data[41 * 2] = 1.0; // 441 Hz in frame 0: peak at A
        let c = chroma(&f, &power);
        assert_eq!(c.get(9, 0), 1.0);
        assert!((0..12).all(|r| c.get(r, 0) <= 1.0 && c.get(r, 1) == 0.0));
    }
}
