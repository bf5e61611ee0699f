//! The 1D network (the report's ZCR + RMS model): Conv1d stacks over one vector per clip.
//!
//! Report layout, filters (512, 512, 128) on 220 values: lengths 220 → 108 → 52 → 24 after the
//! pools, flatten 3,072, Dense 256, Dense 6: 2,430,342 parameters.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::pool::{MaxPool1d, MaxPool1dConfig};
use burn::nn::{BatchNorm, Linear, PaddingConfig1d};
use burn::tensor::{Device, Tensor};
use rand_chacha::ChaCha8Rng;

use super::summary::{Summary, SummaryRow};
use super::{glorot_uniform, keras_batch_norm, pool_len, zeros};
use crate::base::{Error, Result};
use crate::config::PoolPadding;

/// Configuration of [`Cnn1d`]. `new(input_len, n_classes, filters)`; the rest defaults to the
/// report's values.
#[derive(Config, Debug)]
pub struct Cnn1dConfig {
    /// Values per clip (report: 220 = ZCR and RMS of 110 frames).
    pub input_len: usize,
    /// Output classes (report: 6).
    pub n_classes: usize,
    /// Filters per conv layer; their count is the depth (report: [512, 512, 128]).
    pub filters: Vec<usize>,
    /// Conv kernel length (`same` padding, stride 1).
    #[config(default = 5)]
    pub kernel: usize,
    /// Max-pool window.
    #[config(default = 6)]
    pub pool_size: usize,
    /// Max-pool stride.
    #[config(default = 2)]
    pub pool_stride: usize,
    /// Max-pool border handling.
    #[config(default = "PoolPadding::Valid")]
    pub pool_padding: PoolPadding,
    /// Units of the hidden dense layer.
    #[config(default = 256)]
    pub dense: usize,
    /// Dropout rate after the hidden dense layer.
    #[config(default = 0.4)]
    pub dropout: f64,
    /// Batch norm between each conv and its ReLU.
    #[config(default = false)]
    pub batch_norm: bool,
}

/// The 1D CNN. Build it with [`Cnn1dConfig::init`].
#[derive(Module, Debug)]
pub struct Cnn1d {
    /// One conv per layer.
    pub convs: Vec<Conv1d>,
    /// One batch norm per layer, or none.
    pub norms: Vec<BatchNorm>,
    /// The max-pool applied after every layer.
    pub pool: MaxPool1d,
    /// Dense + ReLU after the flatten.
    pub hidden: Linear,
    /// Dense to the class logits.
    pub output: Linear,
}

impl Cnn1dConfig {
    /// Length after each layer's pool; fails naming the first layer whose output would be empty.
    pub fn lengths(&self) -> Result<Vec<usize>> {
        let mut len = self.input_len;
        if len == 0 {
            return Err(Error::Model("cnn1d: the input has length 0".into()));
        }
        let mut out = Vec::with_capacity(self.filters.len());
        for layer in 1..=self.filters.len() {
            len = pool_len(len, self.pool_size, self.pool_stride, self.pool_padding).ok_or_else(|| {
                Error::Model(format!(
                    "cnn1d layer {layer} of {}: max-pool {} (stride {}, valid) on length {len} would reach length 0; \
                     use fewer layers, a smaller model.pool.size, or model.pool.padding = \"same\"",
                    self.filters.len(),
                    self.pool_size,
                    self.pool_stride
                ))
            })?;
            out.push(len);
        }
        Ok(out)
    }

    /// The Keras-like layer table (fails like [`Self::lengths`]).
    pub fn summary(&self) -> Result<Summary> {
        let lengths = self.lengths()?;
        let k = self.kernel;
        let mut rows = Vec::new();
        let mut len = self.input_len;
        let mut cin = 1;
        for (i, (&f, &pooled)) in self.filters.iter().zip(&lengths).enumerate() {
            let n = i + 1;
            rows.push(SummaryRow::new(
                format!("conv1d_{n} (Conv1D)"),
                vec![len, f],
                k * cin * f + f,
            ));
            if self.batch_norm {
                rows.push(SummaryRow::batch_norm(n, vec![len, f], f));
            }
            rows.push(SummaryRow::new(
                format!("max_pooling1d_{n} (MaxPooling1D)"),
                vec![pooled, f],
                0,
            ));
            len = pooled;
            cin = f;
        }
        let flat = len * cin;
        rows.extend(super::head::summary_rows(flat, self.dense, self.n_classes));
        Ok(Summary::new("cnn1d", vec![self.input_len, 1], rows))
    }

    /// Builds the network on `device`, weights drawn from `rng` (Glorot-uniform, zero biases).
    pub fn init(&self, device: &Device, rng: &mut ChaCha8Rng) -> Result<Cnn1d> {
        let lengths = self.lengths()?;
        let k = self.kernel;
        let mut convs = Vec::new();
        let mut norms = Vec::new();
        let mut cin = 1;
        for &f in &self.filters {
            let mut conv = Conv1dConfig::new(cin, f, k)
                .with_padding(PaddingConfig1d::Same)
                .init(device);
            conv.weight = glorot_uniform([f, cin, k], k * cin, k * f, rng, device);
            conv.bias = Some(zeros(f, device));
            convs.push(conv);
            if self.batch_norm {
                norms.push(keras_batch_norm(f, device));
            }
            cin = f;
        }
        let flat = lengths.last().copied().unwrap_or(self.input_len) * cin;
        let (hidden, output) = super::head::init(flat, self.dense, self.n_classes, rng, device);
        let padding = match self.pool_padding {
            PoolPadding::Valid => PaddingConfig1d::Valid,
            PoolPadding::Same => PaddingConfig1d::Same,
        };
        let pool = MaxPool1dConfig::new(self.pool_size)
            .with_stride(self.pool_stride)
            .with_padding(padding)
            .init();
        Ok(Cnn1d {
            convs,
            norms,
            pool,
            hidden,
            output,
        })
    }
}

impl Cnn1d {
    /// Logits for a batch; see [`super::Net::forward`].
    ///
    /// # Shapes
    /// - `x`: `[batch, input_len]`
    /// - `dropout_mask`: `[batch, dense]`
    /// - output: `[batch, n_classes]`
    pub fn forward(&self, x: Tensor<2>, dropout_mask: Option<Tensor<2>>) -> Tensor<2> {
        self.forward_dropout(x, &[], dropout_mask)
    }

    /// [`Self::forward`] with dropout masks after the conv blocks; see
    /// [`super::Net::forward_dropout`].
    pub fn forward_dropout(
        &self,
        x: Tensor<2>,
        conv_masks: &[Tensor<2>],
        dropout_mask: Option<Tensor<2>>,
    ) -> Tensor<2> {
        let [batch, len] = x.dims();
        let mut h: Tensor<3> = x.reshape([batch, 1, len]);
        for (i, conv) in self.convs.iter().enumerate() {
            // relu(pool(h)) == pool(relu(h)) (both monotone): the ReLU runs on the pooled,
            // smaller tensor, inside the pool pass with our kernels; without a norm between
            // them, conv, ReLU and pool are one op (`ops::conv1d_relu_pool`).
            h = match self.norms.get(i) {
                Some(norm) => {
                    let c = norm.forward(super::ops::conv1d(conv, h));
                    super::ops::max_pool1d_relu(&self.pool, c)
                }
                None => super::ops::conv1d_relu_pool(conv, &self.pool, h),
            };
            if let Some(mask) = conv_masks.get(i) {
                let dims = h.dims();
                h = h * mask.clone().reshape(dims);
            }
        }
        // Channel-major flatten ([channels, length]); Keras' is length-major (see module doc).
        let flat: Tensor<2> = h.flatten(1, 2);
        super::head::forward(&self.hidden, &self.output, flat, dropout_mask)
    }
}
