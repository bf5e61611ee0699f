//! The data side of training: [`Examples`] (feature arrays with their labels, as the training
//! loop and inference read them) and the tensors made of them per batch: inputs, labels and the
//! dropout masks drawn from the epoch's generator.

use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

use crate::base::hash::hex_prefix;
use crate::base::{Error, Result};

/// Items of one shape with their class labels: `data` holds `labels.len()` items, each
/// `shape.iter().product()` values, row-major (`[len]` for 1D features, `[rows, cols]` for 2D).
#[derive(Debug, Clone, PartialEq)]
pub struct Examples {
    /// Shape of one item.
    pub shape: Vec<usize>,
    /// All items, one after the other.
    pub data: Vec<f32>,
    /// Class index of each item (ignored by prediction).
    pub labels: Vec<usize>,
}

impl Examples {
    /// Checks that `data` holds exactly `labels.len()` items of `shape`.
    pub fn new(shape: Vec<usize>, data: Vec<f32>, labels: Vec<usize>) -> Result<Self> {
        let item: usize = shape.iter().product();
        if shape.is_empty() || item == 0 {
            return Err(Error::Data(format!(
                "examples: item shape {shape:?} is empty"
            )));
        }
        if data.len() != item * labels.len() {
            return Err(Error::Data(format!(
                "examples: {} values do not make {} items of shape {shape:?} ({} values)",
                data.len(),
                labels.len(),
                item * labels.len()
            )));
        }
        Ok(Self {
            shape,
            data,
            labels,
        })
    }

    /// Items without labels (for prediction); every label is 0.
    pub fn unlabelled(shape: Vec<usize>, data: Vec<f32>) -> Result<Self> {
        let item: usize = shape.iter().product::<usize>().max(1);
        let n = data.len() / item;
        Self::new(shape, data, vec![0; n])
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no items.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Values per item.
    pub fn item_len(&self) -> usize {
        self.shape.iter().product()
    }

    /// The items at `indices`, concatenated, and their labels.
    pub(crate) fn gather(&self, indices: &[usize]) -> (Vec<f32>, Vec<i64>) {
        let n = self.item_len();
        let mut data = Vec::with_capacity(indices.len() * n);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            data.extend_from_slice(&self.data[i * n..(i + 1) * n]);
            labels.push(self.labels[i] as i64);
        }
        (data, labels)
    }

    /// A digest of shape, values and labels: a checkpoint only resumes on the same data.
    pub(crate) fn digest(&self) -> String {
        let mut h = Sha256::new();
        for &d in &self.shape {
            h.update((d as u64).to_le_bytes());
        }
        h.update((self.data.len() as u64).to_le_bytes());
        for v in &self.data {
            h.update(v.to_bits().to_le_bytes());
        }
        for &l in &self.labels {
            h.update((l as u64).to_le_bytes());
        }
        hex_prefix(&h.finalize(), 12)
    }
}

/// The items at `idx` as an input tensor `[batch, item_len]` and their labels `[batch]`.
pub(crate) fn batch_tensors(
    x: &Examples,
    idx: &[usize],
    device: &Device,
) -> (Tensor<2>, Tensor<1, Int>) {
    let (data, labels) = x.gather(idx);
    let b = idx.len();
    (
        Tensor::from_data(TensorData::new(data, [b, x.item_len()]), device),
        Tensor::from_data(TensorData::new(labels, [b]), device),
    )
}

/// A dropout mask for `b` items × `units`: each value is `1 / keep` with probability `keep`,
/// else 0 (inverted dropout, as Keras and Burn scale it); `None` when nothing is dropped.
pub(crate) fn dropout_mask(
    rng: &mut ChaCha8Rng,
    b: usize,
    units: usize,
    keep: f64,
    device: &Device,
) -> Option<Tensor<2>> {
    if keep >= 1.0 {
        return None;
    }
    let scale = (1.0 / keep) as f32;
    let values: Vec<f32> = (0..b * units)
        .map(|_| {
            if rng.random::<f64>() < keep {
                scale
            } else {
                0.0
            }
        })
        .collect();
    Some(Tensor::from_data(
        TensorData::new(values, [b, units]),
        device,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_is_checked() {
        assert!(Examples::new(vec![3], vec![0.0; 6], vec![0, 1]).is_ok());
        let e = Examples::new(vec![3], vec![0.0; 5], vec![0, 1]).unwrap_err();
        assert!(
            e.to_string().contains("5 values do not make 2 items"),
            "{e}"
        );
        assert!(Examples::new(vec![0], vec![], vec![]).is_err());
    }

    #[test]
    fn gather_and_digest() {
        let x = Examples::new(vec![2], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], vec![0, 1, 2]).unwrap();
        assert_eq!(x.gather(&[2, 0]), (vec![5.0, 6.0, 1.0, 2.0], vec![2, 0]));
        let mut y = x.clone();
        assert_eq!(x.digest(), y.digest());
        y.labels[0] = 1;
        assert_ne!(x.digest(), y.digest());
    }
}
