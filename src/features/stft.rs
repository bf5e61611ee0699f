//! Short-time Fourier transform as librosa's `stft(center=True, pad_mode='constant')` computes it:
//! periodic Hann window, frames centred on multiples of the hop with zero padding beyond the
//! signal, and the power `|X|²` of each real FFT frame.
//!
//! The FFT plan, window and every buffer are made once; frames are produced one at a time and
//! handed to a callback, so no spectrogram is ever stored and nothing is allocated per frame.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

/// Precision of the FFT. librosa computes in f64 and stores complex64; f32 meets the parity
/// tolerances (see tests/parity.rs) at about half the cost.
type Real = f32;

/// The periodic ("fftbins=True") Hann window of length `n`: `0.5 - 0.5 cos(2πk/n)`.
pub fn hann_periodic(n: usize) -> Vec<f64> {
    (0..n)
        .map(|k| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * k as f64 / n as f64).cos())
        .collect()
}

/// A reusable power-spectrogram engine for one FFT size and hop.
#[derive(Clone)]
pub(crate) struct Stft {
    n_fft: usize,
    hop: usize,
    fft: Arc<dyn RealToComplex<Real>>,
    window: Vec<Real>,
    frame: Vec<Real>,
    spectrum: Vec<Complex<Real>>,
    scratch: Vec<Complex<Real>>,
    power: Vec<f32>,
}

impl Stft {
    /// Plans an FFT of `n_fft` points (even, ≥ 2) for frames `hop` samples apart (≥ 1).
    pub(crate) fn new(n_fft: usize, hop: usize) -> Self {
        let fft = RealFftPlanner::<Real>::new().plan_fft_forward(n_fft);
        let window = hann_periodic(n_fft).iter().map(|&w| w as Real).collect();
        Self {
            n_fft,
            hop,
            window,
            frame: fft.make_input_vec(),
            spectrum: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            power: vec![0.0; n_fft / 2 + 1],
            fft,
        }
    }

    /// Number of frequency bins, `n_fft / 2 + 1`.
    pub(crate) fn n_bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Number of centred frames for `n` samples: `1 + n / hop`.
    pub(crate) fn n_frames(&self, n: usize) -> usize {
        1 + n / self.hop
    }

    /// Calls `each(t, power)` for every frame `t` in order, `power` holding `|X_t[k]|²` for the
    /// `n_fft / 2 + 1` bins.
    pub(crate) fn power_frames(&mut self, y: &[f32], mut each: impl FnMut(usize, &[f32])) {
        let n = y.len() as isize;
        let half = (self.n_fft / 2) as isize;
        for t in 0..self.n_frames(y.len()) {
            let start = (t * self.hop) as isize - half;
            let lo = start.max(0);
            let hi = (start + self.n_fft as isize).min(n);
            let inside = if lo < hi {
                &y[lo as usize..hi as usize]
            } else {
                &[][..]
            };
            // Frames of pure zero padding or digital silence are common (short clips are padded
            // to a fixed length); their spectrum is exactly zero, so the FFT is skipped.
            if inside.iter().all(|&x| x == 0.0) {
                self.power.fill(0.0);
                each(t, &self.power);
                continue;
            }
            let skip = (lo - start) as usize;
            self.frame[..skip].fill(0.0);
            let end = skip + inside.len();
            for ((out, &x), &w) in self.frame[skip..end]
                .iter_mut()
                .zip(inside)
                .zip(&self.window[skip..end])
            {
                *out = x as Real * w;
            }
            self.frame[end..].fill(0.0);
            // Lengths are fixed at construction from the plan itself, so this cannot fail.
            if let Err(e) =
                self.fft
                    .process_with_scratch(&mut self.frame, &mut self.spectrum, &mut self.scratch)
            {
                unreachable!("FFT buffers sized by their own plan: {e}");
            }
            for (p, c) in self.power.iter_mut().zip(&self.spectrum) {
                *p = (c.re * c.re + c.im * c.im) as f32;
            }
            each(t, &self.power);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut stft = Stft::new(8, 4);
        let mut y = vec![0.0f32; 8];
        y[0] = 1.0;
        let mut frames = Vec::new();
        stft.power_frames(&y, |t, p| frames.push((t, p.to_vec())));
        assert_eq!(frames.len(), 3);
        assert_eq!(stft.n_bins(), 5);
        for &p in &frames[0].1 {
            assert!((p - 1.0).abs() < 1e-6, "{p}");
        }
        assert!(frames[1].1.iter().all(|&p| p == 0.0));
    }

    #[test]
    fn sine_peaks_in_its_bin() {
        let n_fft = 64;
        let mut stft = Stft::new(n_fft, 16);
        let y: Vec<f32> = (0..256)
            .map(|i| (2.0 * std::f32::consts::PI * 8.0 * i as f32 / n_fft as f32).cos())
            .collect();
        let mut mid = Vec::new();
        stft.power_frames(&y, |t, p| {
            if t == 8 {
                mid = p.to_vec();
            }
        });
        let peak = (0..mid.len())
            .max_by(|&a, &b| mid[a].total_cmp(&mid[b]))
            .unwrap();
        assert_eq!(peak, 8);
        // Hann: |X[8]| = sum(w)/2 = n/4 for a unit cosine.
        assert!((mid[8] - 256.0).abs() < 1e-2, "{}", mid[8]);
    }
}
