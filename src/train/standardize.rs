//! `train.standardize = "per-feature"`: each feature row of an item (the ZCR and the RMS half of
//! a `zcr+rms` vector; a mel band or MFCC of a matrix) shifted by its mean and divided by its
//! standard deviation, both over every training clip and frame. Fitted on the training part
//! only, written beside the model as `standardize.json` ([`crate::rundir::RunDir`] names it),
//! and applied alike to validation, test and every later input (`ser eval`, `ser predict`).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Examples;
use crate::base::{atomic, Error, Result};

/// Mean and standard deviation (population, as scikit-learn's `StandardScaler`) of each row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardization {
    /// Values per item (the rows are its consecutive equal parts).
    pub item_len: usize,
    /// Mean of each row.
    pub mean: Vec<f64>,
    /// Standard deviation of each row (1 where a row is constant, so nothing divides by 0).
    pub std: Vec<f64>,
}

/// Feature rows of items of `shape`: a matrix's rows, else `rows_1d`.
pub fn rows_of(shape: &[usize], rows_1d: usize) -> usize {
    match shape {
        [rows, _] => *rows,
        _ => rows_1d.max(1),
    }
}

impl Standardization {
    /// The statistics of `x`'s items split into `rows` rows.
    pub fn fit(x: &Examples, rows: usize) -> Result<Self> {
        let item_len = x.item_len();
        if rows == 0 || item_len % rows != 0 || x.is_empty() {
            return Err(Error::Data(format!(
                "train.standardize: {} items of {item_len} values do not make {rows} feature rows",
                x.len()
            )));
        }
        let cols = item_len / rows;
        let n = (x.len() * cols) as f64;
        let (mut mean, mut std) = (vec![0.0f64; rows], vec![0.0f64; rows]);
        for item in x.data.chunks(item_len) {
            for (r, row) in item.chunks(cols).enumerate() {
                mean[r] += row.iter().map(|&v| f64::from(v)).sum::<f64>();
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        // Two passes: the squares of deviations, not of values, so no cancellation.
        for item in x.data.chunks(item_len) {
            for (r, row) in item.chunks(cols).enumerate() {
                std[r] += row
                    .iter()
                    .map(|&v| (f64::from(v) - mean[r]).powi(2))
                    .sum::<f64>();
            }
        }
        for s in &mut std {
            *s = (*s / n).sqrt();
            if !(*s > 0.0 && s.is_finite()) {
                *s = 1.0;
            }
        }
        Ok(Self {
            item_len,
            mean,
            std,
        })
    }

    /// `x` with every value `(v − mean) / std` of its row.
    pub fn apply(&self, x: &Examples) -> Result<Examples> {
        if x.item_len() != self.item_len {
            return Err(Error::Data(format!(
                "standardisation fitted on items of {} values, given items of {}",
                self.item_len,
                x.item_len()
            )));
        }
        let cols = self.item_len / self.mean.len().max(1);
        let data = x
            .data
            .chunks(self.item_len)
            .flat_map(|item| {
                item.chunks(cols).enumerate().flat_map(|(r, row)| {
                    let (m, s) = (self.mean[r], self.std[r]);
                    row.iter().map(move |&v| ((f64::from(v) - m) / s) as f32)
                })
            })
            .collect();
        Examples::new(x.shape.clone(), data, x.labels.clone())
    }

    /// Writes the statistics to `path` (JSON).
    pub fn write(&self, path: &Path) -> Result<()> {
        let text =
            serde_json::to_string_pretty(self).map_err(|e| Error::format(path, e.to_string()))?;
        atomic::write(path, text.as_bytes())
    }

    /// Reads statistics written by [`Standardization::write`].
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let s: Self =
            serde_json::from_str(&text).map_err(|e| Error::format(path, e.to_string()))?;
        let rows = s.mean.len();
        if rows == 0 || rows != s.std.len() || s.item_len % rows != 0 {
            return Err(Error::format(path, "mean and std do not match item_len"));
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_row_statistics_by_hand() {
        // Two items of 2 rows × 3 frames: item a = [1, 2, 3 | 10, 10, 10], item b = [5, 6, 7 | 10, 10, 10].
        let x = Examples::new(
            vec![6],
            vec![1., 2., 3., 10., 10., 10., 5., 6., 7., 10., 10., 10.],
            vec![0, 1],
        )
        .unwrap();
        let s = Standardization::fit(&x, 2).unwrap();
        // row 0: mean (1+2+3+5+6+7)/6 = 4, squared deviations 9+4+1+1+4+9 = 28 → std √(28/6)
        assert_eq!(s.mean, vec![4.0, 10.0]);
        assert_eq!(s.std[0], (28.0f64 / 6.0).sqrt());
        // row 1 is constant: std 1, not 0 (no NaN)
        assert_eq!(s.std[1], 1.0);
        let y = s.apply(&x).unwrap();
        assert!(y.data.iter().all(|v| v.is_finite()));
        assert_eq!(y.data[0], ((1.0 - 4.0) / (28.0f64 / 6.0).sqrt()) as f32);
        assert_eq!(&y.data[3..6], &[0.0, 0.0, 0.0]);
        // a matrix's rows are its first dimension
        assert_eq!(rows_of(&[128, 40], 2), 128);
        assert_eq!(rows_of(&[80], 2), 2);
        assert!(Standardization::fit(&x, 4).is_err());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        s.write(&path).unwrap();
        assert_eq!(Standardization::read(&path).unwrap(), s);
    }
}
