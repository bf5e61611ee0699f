//! Delta features along time, librosa 0.11's `feature.delta(data, width, order)`: SciPy's
//! Savitzky–Golay derivative filter `savgol_filter(data, width, deriv=order, polyorder=order,
//! mode='interp', axis=-1)`.
//!
//! Away from the edges the result is a fixed correlation with the filter's weights; within
//! `width / 2` frames of either end (`mode='interp'`) it is the derivative of the polynomial
//! least-squares fitted to the first (last) `width` frames, evaluated at that frame. Both are
//! one weight vector per output position ([`savgol_weights`]), computed in f64 as SciPy does.

use super::Matrix;

/// Weights `w` such that `Σ w[i] x[i]` is the `deriv`-th derivative, at position `pos`, of the
/// degree-`polyorder` polynomial least-squares fitted to `x[0..window]` (unit spacing). Zeros
/// when the fit is not determined (`window <= polyorder`) or `deriv > polyorder`.
pub fn savgol_weights(window: usize, polyorder: usize, deriv: usize, pos: f64) -> Vec<f64> {
    let p = polyorder + 1;
    if window < p || deriv > polyorder {
        return vec![0.0; window];
    }
    // Columns (i - pos)^j; the fitted coefficients are (AᵀA)⁻¹Aᵀx, and the derivative at pos is
    // deriv! · c[deriv], so the weights are deriv! · A z with (AᵀA) z = e[deriv].
    let a: Vec<Vec<f64>> = (0..window)
        .map(|i| {
            let x = i as f64 - pos;
            (0..p).map(|j| x.powi(j as i32)).collect()
        })
        .collect();
    let mut m = vec![vec![0.0; p + 1]; p];
    for (r, row) in m.iter_mut().enumerate() {
        for c in 0..p {
            row[c] = a.iter().map(|ai| ai[r] * ai[c]).sum();
        }
        row[p] = if r == deriv { 1.0 } else { 0.0 };
    }
    let Some(z) = solve(m) else {
        return vec![0.0; window];
    };
    let factorial: f64 = (1..=deriv).map(|k| k as f64).product();
    a.iter()
        .map(|ai| factorial * ai.iter().zip(&z).map(|(x, zj)| x * zj).sum::<f64>())
        .collect()
}

/// Gauss–Jordan elimination with partial pivoting on an augmented `p × (p + 1)` system.
fn solve(mut m: Vec<Vec<f64>>) -> Option<Vec<f64>> {
    let p = m.len();
    for col in 0..p {
        let pivot = (col..p).max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs()))?;
        if m[pivot][col].abs() < 1e-300 {
            return None;
        }
        m.swap(col, pivot);
        let pivot_row = m[col].clone();
        for (r, row) in m.iter_mut().enumerate() {
            if r != col {
                let f = row[col] / pivot_row[col];
                for (x, &v) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                    *x -= f * v;
                }
            }
        }
    }
    Some((0..p).map(|r| m[r][p] / m[r][r]).collect())
}

/// `librosa.feature.delta(x, width, order)` of every row of `x` (time along columns).
///
/// librosa refuses rows shorter than `width`; here a shorter row is fitted whole (the same
/// polynomial for every frame), and a row too short for any fit (`≤ order` frames) gives zeros.
pub fn delta(x: &Matrix, width: usize, order: usize) -> Matrix {
    let n = x.cols;
    let mut out = Matrix::zeros(x.rows, n);
    if n == 0 {
        return out;
    }
    let window = width.min(n);
    let half = window / 2;
    // (first input frame, weights) for every output frame.
    let plan: Vec<(usize, Vec<f64>)> = if n < width {
        (0..n)
            .map(|t| (0, savgol_weights(n, order, order, t as f64)))
            .collect()
    } else {
        let centre = savgol_weights(window, order, order, half as f64);
        (0..n)
            .map(|t| {
                if t < half {
                    (0, savgol_weights(window, order, order, t as f64))
                } else if t + half >= n {
                    let start = n - window;
                    (
                        start,
                        savgol_weights(window, order, order, (t - start) as f64),
                    )
                } else {
                    (t - half, centre.clone())
                }
            })
            .collect()
    };
    for r in 0..x.rows {
        let row = x.row(r);
        for (t, (start, w)) in plan.iter().enumerate() {
            let v: f64 = w
                .iter()
                .zip(&row[*start..*start + w.len()])
                .map(|(&wi, &xi)| wi * f64::from(xi))
                .sum();
            out.data[r * n + t] = v as f32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `scipy.signal.savgol_coeffs(9, 1, deriv=1, use='dot')` is k / 60 for k = -4..4, and
    /// `savgol_coeffs(9, 2, deriv=2, use='dot')` is 2 (k² - 20/3) / 308.
    #[test]
    fn centre_weights_are_scipys() {
        let w1 = savgol_weights(9, 1, 1, 4.0);
        let w2 = savgol_weights(9, 2, 2, 4.0);
        for (i, k) in (-4i32..=4).enumerate() {
            assert!((w1[i] - f64::from(k) / 60.0).abs() < 1e-15, "{i}");
            let want = 2.0 * (f64::from(k * k) - 20.0 / 3.0) / 308.0;
            assert!((w2[i] - want).abs() < 1e-14, "{i}");
        }
    }

    /// Deltas of a quadratic are exact everywhere, edges included (the fit reproduces it).
    #[test]
    fn quadratic_rows_have_exact_derivatives() {
        let n = 20;
        let x = Matrix {
            rows: 1,
            cols: n,
            data: (0..n)
                .map(|t| 0.5 * (t * t) as f32 - 3.0 * t as f32)
                .collect(),
        };
        let d2 = delta(&x, 9, 2);
        assert!(d2.data.iter().all(|&v| (v - 1.0).abs() < 1e-5), "{d2:?}");
        // A line's slope, again at every frame.
        let line = Matrix {
            rows: 1,
            cols: n,
            data: (0..n).map(|t| 2.0 * t as f32 + 1.0).collect(),
        };
        assert!(delta(&line, 9, 1)
            .data
            .iter()
            .all(|&v| (v - 2.0).abs() < 1e-5));
    }

    /// Edge frames use the end window's fit, not zero padding: scipy's
    /// `savgol_filter([0, 0, 0, 0, 0, 0, 0, 0, 0, 9], 9, 1, deriv=1, mode='interp')` is 0 on
    /// frames 0..=4 and 0.6 on 5..=9 (frames 6..=9 take the last window's slope); with
    /// `polyorder=2, deriv=2` it is 0 then 6/11.
    #[test]
    fn interp_edges_fit_the_end_windows() {
        let mut data = vec![0.0f32; 10];
        data[9] = 9.0;
        let x = Matrix {
            rows: 1,
            cols: 10,
            data,
        };
        let d = delta(&x, 9, 1);
        let want = [0.0, 0.0, 0.0, 0.0, 0.0, 0.6, 0.6, 0.6, 0.6, 0.6];
        for (t, (&g, &w)) in d.data.iter().zip(&want).enumerate() {
            assert!((g - w).abs() < 1e-6, "frame {t}: {g} vs {w}");
        }
        let d2 = delta(&x, 9, 2);
        for (t, &g) in d2.data.iter().enumerate() {
            let w = if t < 5 { 0.0 } else { 6.0 / 11.0 };
            assert!((g - w).abs() < 1e-6, "order 2, frame {t}: {g} vs {w}");
        }
    }

    #[test]
    fn short_rows_never_panic() {
        for n in 0..9 {
            let x = Matrix {
                rows: 2,
                cols: n,
                data: (0..2 * n).map(|v| v as f32).collect(),
            };
            for order in [1, 2] {
                let d = delta(&x, 9, order);
                assert_eq!(d.shape(), [2, n]);
                assert!(d.data.iter().all(|v| v.is_finite()));
            }
        }
    }
}
