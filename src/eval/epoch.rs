//! [`EpochRecord`]: what one epoch of training measured, as `history.csv` and checkpoints keep it
//! and the training-curve figures draw it.

use serde::{Deserialize, Serialize};

/// One epoch of training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch's items (with dropout, as Keras reports it).
    pub loss: f64,
    /// Training accuracy over the epoch's items.
    pub accuracy: f64,
    /// Mean validation loss (NaN without a validation part; `null` in JSON).
    #[serde(with = "nan_as_null")]
    pub val_loss: f64,
    /// Validation accuracy (NaN without a validation part; `null` in JSON).
    #[serde(with = "nan_as_null")]
    pub val_accuracy: f64,
    /// Wall time of the epoch (training and validation), seconds.
    pub seconds: f64,
    /// Validation macro F1 (NaN without a validation part, and in records made before it).
    #[serde(with = "nan_as_null", default = "nan")]
    pub val_macro_f1: f64,
    /// Learning rate of the epoch's last step (NaN in records made before it).
    #[serde(with = "nan_as_null", default = "nan")]
    pub lr: f64,
}

fn nan() -> f64 {
    f64::NAN
}

/// JSON has no NaN: write it as `null` and read `null` back as NaN.
mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_nan() {
            s.serialize_none()
        } else {
            s.serialize_f64(*v)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}
