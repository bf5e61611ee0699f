//! Inference: a trained model applied to data. [`Trained`] is a finished run's network loaded
//! onto a device; [`predict_with`] gives class probabilities in batches; [`evaluate`] holds the
//! two uses of a finished run, re-evaluation (`ser eval`: its own test split or another corpus)
//! and prediction for audio files (`ser predict`).
//!
//! Everything reads only what the run directory holds: `config.toml` (audio and feature
//! settings), `training.json` (network and class names), `model.bpk`, `standardize.json` where
//! training standardised its inputs, and for re-evaluation the split lists.

pub mod evaluate;

pub use evaluate::{
    evaluate_run, predict_files, predictions_of, EvalOptions, EvalSummary, EvalTarget, Prediction,
};

use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::base::device::{self, BackendKind};
use crate::base::{Error, Result};
use crate::model::{batch_that_fits, Net};
use crate::rundir::RunDir;
use crate::train::checkpoint::load_weights;
use crate::train::{Examples, Standardization, TrainingConfig};

/// A trained network loaded from a run directory, ready for inference.
#[derive(Debug)]
pub struct Trained {
    /// The run's configuration (`training.json`).
    pub config: TrainingConfig,
    /// The network with the run's final weights.
    pub model: Net,
    /// Where it runs.
    pub device: Device,
    /// Items per inference batch: the run's batch size, or fewer where the device needs.
    pub batch_size: usize,
    /// The training part's standardisation, applied to every input (`train.standardize`).
    pub standardize: Option<Standardization>,
}

impl Trained {
    /// Loads the finished run's training config and final weights onto the given backend.
    pub fn load(run: &RunDir, backend: BackendKind, index: usize) -> Result<Trained> {
        let config: TrainingConfig = run.read_training()?;
        let device = device::device(backend, index)?;
        // Inference in batches of the run's batch size, or of fewer items where the device
        // cannot hold that many in one buffer (the probabilities do not depend on the batch).
        let cap = device::buffer_cap(backend, index)?;
        let batch_size = batch_that_fits(&config.model, config.batch_size, cap.as_ref())?;
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let model = config.model.init(&device, &mut rng)?;
        let model_path = run.model_file();
        if !model_path.exists() {
            return Err(Error::train(
                &model_path,
                "no final model: the run has not finished (train it again to resume)",
            ));
        }
        let model = load_weights(model, &model_path)?;
        let standardize = match config.standardize {
            Some(_) => Some(Standardization::read(&run.standardize_file())?),
            None => None,
        };
        Ok(Trained {
            config,
            model,
            device,
            batch_size,
            standardize,
        })
    }

    /// Class probabilities for each item of `x` (standardised as in training), `batch_size`
    /// items at a time.
    pub fn predict(&self, x: &Examples, batch_size: usize) -> Result<Vec<Vec<f32>>> {
        let expected = self.config.model.input_shape();
        if x.shape != expected {
            return Err(Error::Data(format!(
                "items have shape {:?}, but the model was trained on {expected:?}",
                x.shape
            )));
        }
        let scaled = match &self.standardize {
            Some(s) => Some(s.apply(x)?),
            None => None,
        };
        Ok(predict_with(
            &self.model,
            scaled.as_ref().unwrap_or(x),
            batch_size.max(1),
            &self.device,
        ))
    }
}

/// Class probabilities for `x` from the finished run in `run`, on the CPU.
pub fn predict(run: &RunDir, x: &Examples) -> Result<Vec<Vec<f32>>> {
    let trained = Trained::load(run, BackendKind::Flex, 0)?;
    trained.predict(x, trained.batch_size)
}

/// Class probabilities of `model` (inference mode, on `device`) for every item of `x`.
pub fn predict_with(
    model: &Net,
    x: &Examples,
    batch_size: usize,
    device: &Device,
) -> Vec<Vec<f32>> {
    let all: Vec<usize> = (0..x.len()).collect();
    let mut out = Vec::with_capacity(x.len());
    for idx in all.chunks(batch_size.max(1)) {
        let (data, _) = x.gather(idx);
        let t = Tensor::<2>::from_data(TensorData::new(data, [idx.len(), x.item_len()]), device);
        let probs = model.probabilities(t).into_data_as::<f32>();
        let values: Vec<f32> = probs.iter::<f32>().collect();
        let k = values.len() / idx.len().max(1);
        out.extend(values.chunks(k.max(1)).map(<[f32]>::to_vec));
    }
    out
}
