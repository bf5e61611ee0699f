//! MFCCs: an orthonormal DCT-II (`scipy.fft.dct(type=2, norm='ortho')`) along the mel axis of a
//! dB mel spectrogram, keeping the first coefficients, as `librosa.feature.mfcc` does.

use super::Matrix;

/// The first `n_out` rows of the orthonormal DCT-II matrix of size `n_in`, ready to multiply a
/// `n_in × frames` matrix from the left.
#[derive(Debug, Clone)]
pub struct Dct {
    n_out: usize,
    n_in: usize,
    /// Row-major `n_out × n_in`.
    basis: Vec<f64>,
}

impl Dct {
    /// Rows `k < n_out` of the DCT-II: `c_k sum_n x_n cos(pi k (2n + 1) / (2 n_in))` with
    /// `c_0 = sqrt(1/n_in)`, `c_k = sqrt(2/n_in)`.
    pub fn new(n_out: usize, n_in: usize) -> Self {
        let n = n_in as f64;
        let mut basis = Vec::with_capacity(n_out * n_in);
        for k in 0..n_out {
            let scale = if k == 0 {
                (1.0 / n).sqrt()
            } else {
                (2.0 / n).sqrt()
            };
            for i in 0..n_in {
                let arg = std::f64::consts::PI * k as f64 * (2 * i + 1) as f64 / (2.0 * n);
                basis.push(scale * arg.cos());
            }
        }
        Self { n_out, n_in, basis }
    }

    /// Transforms each column of `x` (`n_in × frames`) into `n_out × frames`.
    pub fn apply(&self, x: &Matrix) -> Matrix {
        debug_assert_eq!(x.rows, self.n_in);
        let frames = x.cols;
        let mut out = Matrix::zeros(self.n_out, frames);
        if frames == 0 {
            return out;
        }
        // f64 partial sums: the DC row adds 128 values of the same sign (about -100 dB each for
        // silence), where f32 would drift by ~1e-3.
        let mut acc = vec![0.0f64; frames];
        for (k, out_row) in out.data.chunks_exact_mut(frames).enumerate() {
            acc.fill(0.0);
            let coeffs = &self.basis[k * self.n_in..(k + 1) * self.n_in];
            // Row by row, so the inner loop runs along frames and vectorises.
            for (&c, in_row) in coeffs.iter().zip(x.data.chunks_exact(frames)) {
                for (a, &v) in acc.iter_mut().zip(in_row) {
                    *a += c * f64::from(v);
                }
            }
            for (o, &a) in out_row.iter_mut().zip(&acc) {
                *o = a as f32;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(v: &[f32]) -> Matrix {
        Matrix {
            rows: v.len(),
            cols: 1,
            data: v.to_vec(),
        }
    }

    #[test]
    fn ortho_dct_of_known_vector() {
        // scipy.fft.dct([1, 2, 3, 4], type=2, norm='ortho')
        //   = [5.0, -2.2304425, 0.0, -0.15851267]
        let y = Dct::new(4, 4).apply(&column(&[1.0, 2.0, 3.0, 4.0]));
        let want = [5.0, -2.230_442_5, 0.0, -0.158_512_67];
        for (g, w) in y.data.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{:?}", y.data);
        }
        // Orthonormal: energy is preserved.
        let e: f32 = y.data.iter().map(|v| v * v).sum();
        assert!((e - 30.0).abs() < 1e-4);
    }

    #[test]
    fn constant_input_has_only_dc() {
        let y = Dct::new(3, 128).apply(&column(&[-100.0; 128]));
        // librosa's silence/mfcc.npy: -1131.371 (= -100 sqrt(128)), then zeros.
        assert!((y.data[0] + 1_131.370_8).abs() < 1e-4, "{:?}", y.data);
        assert!(
            y.data[1].abs() < 1e-4 && y.data[2].abs() < 1e-4,
            "{:?}",
            y.data
        );
    }
}
