//! The report's networks as Burn modules: [`Cnn1d`] over a vector per clip (ZCR + RMS) and
//! [`Cnn2d`] over a matrix per clip (log-mel), built from `#[derive(Config)]` structs, plus a
//! Keras-like [`Summary`]; and beside them [`Crnn`], the 2D conv blocks followed by a recurrent
//! layer over the frames and attention pooling instead of the flatten (its module doc).
//!
//! The CNNs are: per conv layer Conv (kernel k, stride 1, `same` padding) [+ batch norm] + ReLU +
//! MaxPool; then Flatten, Dense + ReLU, Dropout, Dense(classes) giving logits (the softmax lives in
//! the loss and in [`Net::probabilities`]).
//!
//! Choices that matter when comparing with the Keras peer:
//! - **Initialisation** is Keras': Glorot-uniform kernels (`limit = sqrt(6 / (fan_in + fan_out))`,
//!   fans = receptive field × channels for convs, in / out for dense) and zero biases. Burn's
//!   defaults differ (Kaiming-uniform with a `1/sqrt(3)` gain, and random biases), so the weights
//!   are drawn here, from a ChaCha8 generator seeded by the job's seed: the same seed gives the same
//!   initial weights on every backend and in every thread, independent of Burn's global RNG.
//! - **Dropout** masks come from the caller ([`Net::forward`] takes the mask), drawn from the
//!   training loop's seeded generator, so a resumed run replays the same masks.
//! - **Flatten order**: Burn is channels-first, so the flatten is channel-major (`[channels,
//!   length]`), where Keras flattens channels-last (`[length, channels]`). The parameter count is
//!   the same; only the row order of the first dense kernel differs.
//! - **Batch norm** (optional, off in the report's code) uses Keras' momentum 0.99 and epsilon
//!   1e-3 (Burn's `momentum` is `1 - keras_momentum`).

mod cnn1d;
mod cnn2d;
mod crnn;
mod fit;
mod head;
pub mod ops;
mod size;
mod summary;

pub use cnn1d::{Cnn1d, Cnn1dConfig};
pub use cnn2d::{Cnn2d, Cnn2dConfig};
pub use crnn::{Crnn, CrnnConfig, Recurrent};
pub use fit::{batch_that_fits, check_batch_fits};
pub use size::{check_size, Footprint, MAX_ACTIVATION_BYTES, MAX_LAYERS, MAX_PARAMS};
pub use summary::{thousands, Summary, SummaryRow};

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{BatchNorm, BatchNormConfig};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::base::{Error, Result};
use crate::config::{ModelConfig, ModelKind, PoolPadding};

/// A network's configuration: what `model.json` in a run directory holds.
#[derive(Config, Debug)]
pub enum NetConfig {
    /// The 1D network.
    Cnn1d(Cnn1dConfig),
    /// The 2D network.
    Cnn2d(Cnn2dConfig),
    /// The convolutional-recurrent network.
    Crnn(CrnnConfig),
}

/// Any network; the training loop and inference work on this.
// One per run, built once and passed by reference: the size gap costs nothing (and Burn's
// `Module` derive has no boxed variants).
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Net {
    /// The 1D network.
    Cnn1d(Cnn1d),
    /// The 2D network.
    Cnn2d(Cnn2d),
    /// The convolutional-recurrent network.
    Crnn(Crnn),
}

impl NetConfig {
    /// The configuration for `section` on inputs of `input_shape` (`[len]` for `cnn1d`,
    /// `[rows, cols]` for `cnn2d` and `crnn`) with `n_classes` outputs. Fails, naming the layer and the size
    /// it would reach, when the input does not fit the network.
    pub fn from_section(
        section: &ModelConfig,
        input_shape: &[usize],
        n_classes: usize,
    ) -> Result<Self> {
        if n_classes < 2 {
            return Err(Error::Model(format!(
                "a classifier needs at least 2 classes, got {n_classes}"
            )));
        }
        // The settings both networks take from `[model]`, on either's config.
        macro_rules! from_section {
            ($config:expr) => {
                $config
                    .with_kernel(section.kernel)
                    .with_pool_size(section.pool_size())
                    .with_pool_stride(section.pool.stride)
                    .with_pool_padding(section.pool.padding)
                    .with_dense(section.dense)
                    .with_dropout(section.dropout)
                    .with_batch_norm(section.batch_norm)
            };
        }
        let filters = section.filters.clone();
        let config =
            match (section.kind, input_shape) {
                (ModelKind::Cnn1d, &[len]) => {
                    NetConfig::Cnn1d(from_section!(Cnn1dConfig::new(len, n_classes, filters)))
                }
                (ModelKind::Cnn2d, &[rows, cols]) => NetConfig::Cnn2d(from_section!(
                    Cnn2dConfig::new([rows, cols], n_classes, filters)
                )),
                (ModelKind::Crnn, &[rows, cols]) => NetConfig::Crnn(
                    from_section!(CrnnConfig::new([rows, cols], n_classes, filters))
                        .with_rnn(section.rnn)
                        .with_rnn_units(section.rnn_units),
                ),
                (kind, shape) => {
                    return Err(Error::Model(format!(
                    "{kind} takes {} per clip, but the features are {shape:?}: use {} (model.kind)",
                    if kind == ModelKind::Cnn1d {
                        "a vector [len]"
                    } else {
                        "a matrix [rows, cols]"
                    },
                    if shape.len() == 2 { "cnn2d or crnn" } else { "cnn1d" }
                )))
                }
            };
        // Before the layer table: its arithmetic is in `usize` and a huge model would overflow it.
        check_size(section, input_shape, n_classes, 1)
            .map_err(|(key, message)| Error::Model(format!("{key}: {message}")))?;
        config.check()?;
        Ok(config)
    }

    /// Checks that `section` builds a network for inputs of `input_shape`, whatever the number
    /// of classes: that only sizes the output layer, so it cannot make a shape collapse (an
    /// experiment's grid is checked this way before its corpus is read).
    pub fn check_section(section: &ModelConfig, input_shape: &[usize]) -> Result<()> {
        Self::from_section(section, input_shape, 2).map(|_| ())
    }

    /// Checks that every layer keeps a non-empty output for this input.
    pub fn check(&self) -> Result<()> {
        self.summary().map(|_| ())
    }

    /// The Keras-like layer table; fails like [`Self::check`].
    pub fn summary(&self) -> Result<Summary> {
        match self {
            NetConfig::Cnn1d(c) => c.summary(),
            NetConfig::Cnn2d(c) => c.summary(),
            NetConfig::Crnn(c) => c.summary(),
        }
    }

    /// The shape of one input item (`[len]` or `[rows, cols]`).
    pub fn input_shape(&self) -> Vec<usize> {
        match self {
            NetConfig::Cnn1d(c) => vec![c.input_len],
            NetConfig::Cnn2d(c) => c.input.to_vec(),
            NetConfig::Crnn(c) => c.input.to_vec(),
        }
    }

    /// Number of classes (outputs).
    pub fn n_classes(&self) -> usize {
        match self {
            NetConfig::Cnn1d(c) => c.n_classes,
            NetConfig::Cnn2d(c) => c.n_classes,
            NetConfig::Crnn(c) => c.n_classes,
        }
    }

    /// Units of the hidden dense layer (the dropout mask's width).
    pub fn dense(&self) -> usize {
        match self {
            NetConfig::Cnn1d(c) => c.dense,
            NetConfig::Cnn2d(c) => c.dense,
            NetConfig::Crnn(c) => c.dense,
        }
    }

    /// Values each conv block outputs per item (channels × pooled size): the widths of the
    /// conv dropout masks of [`Net::forward_dropout`].
    pub fn conv_units(&self) -> Result<Vec<usize>> {
        Ok(match self {
            NetConfig::Cnn1d(c) => c
                .lengths()?
                .iter()
                .zip(&c.filters)
                .map(|(l, f)| l * f)
                .collect(),
            NetConfig::Cnn2d(c) => c
                .sizes()?
                .iter()
                .zip(&c.filters)
                .map(|([h, w], f)| h * w * f)
                .collect(),
            NetConfig::Crnn(c) => c
                .sizes()?
                .iter()
                .zip(&c.filters)
                .map(|([h, w], f)| h * w * f)
                .collect(),
        })
    }

    /// Dropout rate after the hidden dense layer.
    pub fn dropout(&self) -> f64 {
        match self {
            NetConfig::Cnn1d(c) => c.dropout,
            NetConfig::Cnn2d(c) => c.dropout,
            NetConfig::Crnn(c) => c.dropout,
        }
    }

    /// Builds the network on `device` with Keras' initialisation drawn from `rng`.
    pub fn init(&self, device: &Device, rng: &mut ChaCha8Rng) -> Result<Net> {
        Ok(match self {
            NetConfig::Cnn1d(c) => Net::Cnn1d(c.init(device, rng)?),
            NetConfig::Cnn2d(c) => Net::Cnn2d(c.init(device, rng)?),
            NetConfig::Crnn(c) => Net::Crnn(c.init(device, rng)?),
        })
    }
}

impl Net {
    /// Logits for a batch of flattened items.
    ///
    /// `dropout_mask` holds, per item and hidden unit, `0` (dropped) or `1 / (1 - rate)` (kept);
    /// `None` means no dropout (inference).
    ///
    /// # Shapes
    /// - `x`: `[batch, features]` (items flattened row-major: `len`, or `rows * cols`)
    /// - `dropout_mask`: `[batch, dense]`
    /// - output: `[batch, n_classes]`
    pub fn forward(&self, x: Tensor<2>, dropout_mask: Option<Tensor<2>>) -> Tensor<2> {
        self.forward_dropout(x, &[], dropout_mask)
    }

    /// [`Self::forward`] with dropout after the conv blocks too: `conv_masks` holds one mask per
    /// block (the first blocks' when shorter; empty: none), each item's values (channel-major,
    /// as the block's output) `0` or `1 / (1 - rate)`. The masks multiply the pooled outputs, so
    /// the fused conv + ReLU + pool op stays as it is.
    ///
    /// # Shapes
    /// - `x`: `[batch, features]`
    /// - `conv_masks[i]`: `[batch, conv_units[i]]` (see [`NetConfig::conv_units`])
    /// - `dropout_mask`: `[batch, dense]`
    /// - output: `[batch, n_classes]`
    pub fn forward_dropout(
        &self,
        x: Tensor<2>,
        conv_masks: &[Tensor<2>],
        dropout_mask: Option<Tensor<2>>,
    ) -> Tensor<2> {
        match self {
            Net::Cnn1d(m) => m.forward_dropout(x, conv_masks, dropout_mask),
            Net::Cnn2d(m) => m.forward_dropout(x, conv_masks, dropout_mask),
            Net::Crnn(m) => m.forward_dropout(x, conv_masks, dropout_mask),
        }
    }

    /// Class probabilities (softmax of the logits) without dropout.
    ///
    /// # Shapes
    /// - `x`: `[batch, features]`
    /// - output: `[batch, n_classes]`
    pub fn probabilities(&self, x: Tensor<2>) -> Tensor<2> {
        softmax(self.forward(x, None), 1)
    }
}

/// Output size of a max-pool over `len` values, or `None` when nothing would be left.
pub fn pool_len(len: usize, size: usize, stride: usize, padding: PoolPadding) -> Option<usize> {
    match padding {
        PoolPadding::Valid if len >= size => Some((len - size) / stride + 1),
        PoolPadding::Valid => None,
        PoolPadding::Same if len > 0 => Some(len.div_ceil(stride)),
        PoolPadding::Same => None,
    }
}

/// A Keras `glorot_uniform` parameter: `U(-l, l)` with `l = sqrt(6 / (fan_in + fan_out))`.
pub(crate) fn glorot_uniform<const D: usize>(
    shape: [usize; D],
    fan_in: usize,
    fan_out: usize,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Param<Tensor<D>> {
    let limit = (6.0 / (fan_in + fan_out) as f64).sqrt() as f32;
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|_| rng.random_range(-limit..limit)).collect();
    Param::from_data(TensorData::new(values, shape), device)
}

/// A zero parameter (Keras' bias initialiser).
pub(crate) fn zeros(len: usize, device: &Device) -> Param<Tensor<1>> {
    Param::from_data(TensorData::new(vec![0.0f32; len], [len]), device)
}

/// Batch norm with Keras' defaults (momentum 0.99, epsilon 1e-3).
pub(crate) fn keras_batch_norm(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels)
        .with_momentum(0.01)
        .with_epsilon(1e-3)
        .init(device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_lengths_match_keras() {
        // The report's 1D chain: 220 -> 108 -> 52 -> 24.
        assert_eq!(pool_len(220, 6, 2, PoolPadding::Valid), Some(108));
        assert_eq!(pool_len(108, 6, 2, PoolPadding::Valid), Some(52));
        assert_eq!(pool_len(52, 6, 2, PoolPadding::Valid), Some(24));
        assert_eq!(pool_len(5, 6, 2, PoolPadding::Valid), None);
        assert_eq!(pool_len(6, 6, 2, PoolPadding::Valid), Some(1));
        assert_eq!(pool_len(5, 6, 2, PoolPadding::Same), Some(3));
        assert_eq!(pool_len(1, 6, 2, PoolPadding::Same), Some(1));
    }
}
