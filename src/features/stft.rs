//! Short-time Fourier transform as librosa's `stft(center=True, pad_mode='constant')` computes it:
//! periodic Hann window, frames centred on multiples of the hop with zero padding beyond the
//! signal, and the power `|X|²` of each frame's spectrum (bins `0..=n_fft/2`).
//!
//! Two real frames go through one complex FFT (frame `t` as the real part, `t + 1` as the
//! imaginary part) and are separated with the conjugate symmetry of real spectra:
//! `X_t[k] = (Z[k] + conj(Z[N-k])) / 2`, `X_{t+1}[k] = (Z[k] - conj(Z[N-k])) / 2i`. That costs
//! about half of two real FFTs (whose pre/post-processing is scalar). The FFT plan, window and
//! every buffer are made once; frames are handed to a callback, so no complex spectrogram is
//! stored and nothing is allocated per frame.

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftNum, FftPlanner};

/// Floating-point types the FFT can run in: f32 (fast) or f64 (librosa's own precision).
pub(crate) trait Real: FftNum {
    /// Converts a window value (or constant).
    fn widen_window(x: f64) -> Self;
    /// Converts a sample.
    fn sample(x: f32) -> Self;
    /// Rounds a power to the f32 it is stored as (librosa stores complex64).
    fn to_f32(self) -> f32;
}

impl Real for f32 {
    fn widen_window(x: f64) -> Self {
        x as f32
    }
    fn sample(x: f32) -> Self {
        x
    }
    fn to_f32(self) -> f32 {
        self
    }
}

impl Real for f64 {
    fn widen_window(x: f64) -> Self {
        x
    }
    fn sample(x: f32) -> Self {
        f64::from(x)
    }
    fn to_f32(self) -> f32 {
        self as f32
    }
}

/// The periodic ("fftbins=True") Hann window of length `n`: `0.5 - 0.5 cos(2πk/n)`.
pub fn hann_periodic(n: usize) -> Vec<f64> {
    (0..n)
        .map(|k| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * k as f64 / n as f64).cos())
        .collect()
}

/// A reusable power-spectrogram engine for one FFT size and hop, computing in `T`.
///
/// Precision: librosa computes the FFT in f64 and stores complex64. In f32 the rounding noise
/// sits about 110 dB below a clip's loudest bin, so with a `top_db` floor of 80 dB f32 stays
/// within 4e-4 dB of librosa (tests/parity.rs), 25× inside the tolerance; without a floor the
/// quietest bins need f64 (the extractor chooses).
#[derive(Clone)]
pub(crate) struct Stft<T: Real> {
    n_fft: usize,
    hop: usize,
    fft: Arc<dyn Fft<T>>,
    window: Vec<T>,
    buffer: Vec<Complex<T>>,
    scratch: Vec<Complex<T>>,
    /// `n_bins × BLOCK` powers, frame-minor: `block[k * BLOCK + j]` is bin `k` of frame `t0 + j`.
    block: Vec<f32>,
}

/// Frames per block handed to the callback. Frame-minor blocks let the mel projection run along
/// frames (vectorised, no ragged tails); even, since frames are transformed in pairs.
pub(crate) const BLOCK: usize = 8;

impl<T: Real> Stft<T> {
    /// Plans an FFT of `n_fft` points (even, ≥ 2) for frames `hop` samples apart (≥ 1).
    pub(crate) fn new(n_fft: usize, hop: usize) -> Self {
        let fft = FftPlanner::<T>::new().plan_fft_forward(n_fft);
        let window = hann_periodic(n_fft)
            .into_iter()
            .map(T::widen_window)
            .collect();
        let n_bins = n_fft / 2 + 1;
        Self {
            n_fft,
            hop,
            window,
            buffer: vec![Complex::new(T::zero(), T::zero()); n_fft],
            scratch: vec![Complex::new(T::zero(), T::zero()); fft.get_inplace_scratch_len()],
            block: vec![0.0; n_bins * BLOCK],
            fft,
        }
    }

    /// Number of frequency bins, `n_fft / 2 + 1`.
    #[cfg(test)]
    pub(crate) fn n_bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Number of centred frames for `n` samples: `1 + n / hop`.
    pub(crate) fn n_frames(&self, n: usize) -> usize {
        1 + n / self.hop
    }

    /// The part of `y` under frame `t` and the frame offset where it starts; `None` when the
    /// frame is all zeros (padding or digital silence), whose spectrum is exactly zero.
    fn frame_span<'a>(&self, y: &'a [f32], t: usize) -> Option<(usize, &'a [f32])> {
        let start = (t * self.hop) as isize - (self.n_fft / 2) as isize;
        let lo = start.max(0) as usize;
        let hi = (start + self.n_fft as isize).clamp(0, y.len() as isize) as usize;
        let inside = y.get(lo..hi)?;
        // OR of the bits without the sign: zero only for ±0.0. Chunked so it vectorises yet stops
        // early on the first sound.
        let silent = inside
            .chunks(256)
            .all(|c| c.iter().fold(0u32, |acc, &x| acc | (x.to_bits() << 1)) == 0);
        if silent {
            return None;
        }
        Some(((lo as isize - start) as usize, inside))
    }

    /// Writes the windowed frames `a` (real part) and `b` (imaginary part) into the FFT buffer,
    /// zero elsewhere.
    fn fill(&mut self, a: Option<(usize, &[f32])>, b: Option<(usize, &[f32])>) {
        let n = self.n_fft;
        match (a, b) {
            // The common case, both frames wholly inside the signal: one pass.
            (Some((0, xa)), Some((0, xb))) if xa.len() == n && xb.len() == n => {
                for (((c, &u), &v), &w) in self.buffer.iter_mut().zip(xa).zip(xb).zip(&self.window)
                {
                    *c = Complex::new(T::sample(u) * w, T::sample(v) * w);
                }
            }
            _ => {
                self.buffer.fill(Complex::new(T::zero(), T::zero()));
                if let Some((skip, xa)) = a {
                    let (buf, win) = (&mut self.buffer[skip..], &self.window[skip..]);
                    for ((c, &x), &w) in buf.iter_mut().zip(xa).zip(win) {
                        c.re = T::sample(x) * w;
                    }
                }
                if let Some((skip, xb)) = b {
                    let (buf, win) = (&mut self.buffer[skip..], &self.window[skip..]);
                    for ((c, &x), &w) in buf.iter_mut().zip(xb).zip(win) {
                        c.im = T::sample(x) * w;
                    }
                }
            }
        }
    }

    /// Calls `each(t0, count, block)` for consecutive blocks of `count <= BLOCK` frames starting
    /// at frame `t0`, where `block[k * BLOCK + j]` is `|X_{t0+j}[k]|²` for the `n_fft / 2 + 1`
    /// bins `k` (columns `j >= count` are zero).
    pub(crate) fn power_blocks(&mut self, y: &[f32], mut each: impl FnMut(usize, usize, &[f32])) {
        let frames = self.n_frames(y.len());
        for t0 in (0..frames).step_by(BLOCK) {
            let count = BLOCK.min(frames - t0);
            for j in (0..BLOCK).step_by(2) {
                let a = if j < count {
                    self.frame_span(y, t0 + j)
                } else {
                    None
                };
                let b = if j + 1 < count {
                    self.frame_span(y, t0 + j + 1)
                } else {
                    None
                };
                self.transform_pair(a, b, j);
            }
            each(t0, count, &self.block);
        }
    }

    /// Power spectra of frames `a` and `b` (`None`: silent) into block columns `j` and `j + 1`.
    fn transform_pair(&mut self, a: Option<(usize, &[f32])>, b: Option<(usize, &[f32])>, j: usize) {
        if a.is_none() && b.is_none() {
            for row in self.block.chunks_exact_mut(BLOCK) {
                row[j] = 0.0;
                row[j + 1] = 0.0;
            }
            return;
        }
        self.fill(a, b);
        self.fft
            .process_with_scratch(&mut self.buffer, &mut self.scratch);
        // X_a[k] = (Z[k] + conj(Z[n-k])) / 2 and X_b[k] = (Z[k] - conj(Z[n-k])) / 2i; bin 0 pairs
        // with itself. A silent frame paired with a loud one would pick up rounding noise, so
        // it is written as exact zeros.
        let quarter = T::widen_window(0.25);
        let (keep_a, keep_b) = (
            if a.is_some() { quarter } else { T::zero() },
            if b.is_some() { quarter } else { T::zero() },
        );
        let z = &self.buffer;
        let half = self.n_fft / 2;
        let mirrored = std::iter::once(&z[0]).chain(z[half..].iter().rev());
        for ((row, &u), &v) in self
            .block
            .chunks_exact_mut(BLOCK)
            .zip(&z[..=half])
            .zip(mirrored)
        {
            let (sr, si) = (u.re + v.re, u.im - v.im);
            let (dr, di) = (u.re - v.re, u.im + v.im);
            row[j] = (keep_a * (sr * sr + si * si)).to_f32();
            row[j + 1] = (keep_b * (dr * dr + di * di)).to_f32();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every frame's power spectrum, frame by frame.
    fn power_frames<T: Real>(stft: &mut Stft<T>, y: &[f32]) -> Vec<Vec<f32>> {
        let bins = stft.n_bins();
        let mut frames = Vec::new();
        stft.power_blocks(y, |_, count, block| {
            for j in 0..count {
                frames.push((0..bins).map(|k| block[k * BLOCK + j]).collect());
            }
        });
        frames
    }

    #[test]
    fn hann_is_periodic() {
        let w = hann_periodic(8);
        assert_eq!(w[0], 0.0);
        assert!((w[4] - 1.0).abs() < 1e-15);
        assert!((w[2] - 0.5).abs() < 1e-15);
        assert!((w[1] - w[7]).abs() < 1e-15);
    }

    #[test]
    fn frames_centre_on_hops_with_zero_padding() {
        // A unit impulse at sample 0: frame 0 sees it at its centre, weighted by w[n/2] = 1, so
        // its power is 1 in every bin; frame 1 (centred on sample 4) sees it at w[0] = 0.
        let mut stft = Stft::<f32>::new(8, 4);
        let mut y = vec![0.0f32; 8];
        y[0] = 1.0;
        let frames = power_frames(&mut stft, &y);
        assert_eq!(frames.len(), 3);
        assert_eq!(stft.n_bins(), 5);
        for &p in &frames[0] {
            assert!((p - 1.0).abs() < 1e-6, "{p}");
        }
        assert!(frames[1].iter().all(|&p| p == 0.0));
    }

    #[test]
    fn sine_peaks_in_its_bin() {
        let n_fft = 64;
        let mut stft = Stft::<f32>::new(n_fft, 16);
        let y: Vec<f32> = (0..256)
            .map(|i| (2.0 * std::f32::consts::PI * 8.0 * i as f32 / n_fft as f32).cos())
            .collect();
        let frames = power_frames(&mut stft, &y);
        assert_eq!(frames.len(), 17);
        let mid = &frames[8];
        let peak = (0..mid.len())
            .max_by(|&a, &b| mid[a].total_cmp(&mid[b]))
            .unwrap();
        assert_eq!(peak, 8);
        // Hann: |X[8]| = sum(w)/2 = n/4 for a unit cosine.
        assert!((mid[8] - 256.0).abs() < 1e-2, "{}", mid[8]);
        // f64 gives the same spectrum.
        let wide = power_frames(&mut Stft::<f64>::new(n_fft, 16), &y);
        for (a, b) in wide.iter().flatten().zip(frames.iter().flatten()) {
            assert!((a - b).abs() <= 1e-4 * a.abs().max(1e-3), "{a} {b}");
        }
    }
}
