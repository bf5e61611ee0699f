//! The 2D network (the report's mel-spectrogram model): Conv2d stacks over one matrix per clip.
//!
//! Report layout, filters (512, 512, 128) on 128 × 110: 128×110 → 62×53 → 29×25 → 13×11 after the
//! pools, flatten 18,304, Dense 256, Dense 6: 12,893,574 parameters.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, Linear, PaddingConfig2d};
use burn::tensor::{Device, Tensor};
use rand_chacha::ChaCha8Rng;

use super::summary::{Summary, SummaryRow};
use super::{glorot_uniform, keras_batch_norm, pool_len, zeros};
use crate::base::{Error, Result};
use crate::config::PoolPadding;

/// Configuration of [`Cnn2d`]. `new([rows, cols], n_classes, filters)`; the rest defaults to the
/// report's values. Kernels and pool windows are square.
#[derive(Config, Debug)]
pub struct Cnn2dConfig {
    /// Rows × columns per clip (report: 128 mel bands × 110 frames).
    pub input: [usize; 2],
    /// Output classes (report: 6).
    pub n_classes: usize,
    /// Filters per conv layer; their count is the depth (report: [512, 512, 128]).
    pub filters: Vec<usize>,
    /// Conv kernel side (`same` padding, stride 1).
    #[config(default = 5)]
    pub kernel: usize,
    /// Max-pool window side.
    #[config(default = 5)]
    pub pool_size: usize,
    /// Max-pool stride (both axes).
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

/// The 2D CNN. Build it with [`Cnn2dConfig::init`].
#[derive(Module, Debug)]
pub struct Cnn2d {
    /// Rows of an input item (the flat input is reshaped to `[batch, 1, rows, cols]`).
    pub rows: usize,
    /// Columns of an input item.
    pub cols: usize,
    /// One conv per layer.
    pub convs: Vec<Conv2d>,
    /// One batch norm per layer, or none.
    pub norms: Vec<BatchNorm>,
    /// The max-pool applied after every layer.
    pub pool: MaxPool2d,
    /// Dense + ReLU after the flatten.
    pub hidden: Linear,
    /// Dense to the class logits.
    pub output: Linear,
}

impl Cnn2dConfig {
    /// `[rows, cols]` after each layer's pool; fails naming the first layer whose output would
    /// be empty.
    pub fn sizes(&self) -> Result<Vec<[usize; 2]>> {
        self.sizes_in("cnn2d")
    }

    /// [`Self::sizes`], errors naming the network `name` (the conv part of a `crnn` too).
    pub(super) fn sizes_in(&self, name: &str) -> Result<Vec<[usize; 2]>> {
        let [mut rows, mut cols] = self.input;
        if rows == 0 || cols == 0 {
            return Err(Error::Model(format!(
                "{name}: the input {rows} × {cols} is empty"
            )));
        }
        let mut out = Vec::with_capacity(self.filters.len());
        for layer in 1..=self.filters.len() {
            let pool = |n| pool_len(n, self.pool_size, self.pool_stride, self.pool_padding);
            match (pool(rows), pool(cols)) {
                (Some(r), Some(c)) => {
                    rows = r;
                    cols = c;
                }
                _ => {
                    return Err(Error::Model(format!(
                        "{name} layer {layer} of {}: max-pool {s}×{s} (stride {}, valid) on {rows} × {cols} \
                         would reach size 0; use fewer layers, a smaller model.pool.size, or \
                         model.pool.padding = \"same\"",
                        self.filters.len(),
                        self.pool_stride,
                        s = self.pool_size,
                    )))
                }
            }
            out.push([rows, cols]);
        }
        Ok(out)
    }

    /// The Keras-like layer table (fails like [`Self::sizes`]).
    pub fn summary(&self) -> Result<Summary> {
        let (mut rows, [h, w], cin) = self.conv_rows(&self.sizes()?);
        let flat = h * w * cin;
        rows.extend(super::head::summary_rows(flat, self.dense, self.n_classes));
        Ok(Summary::new(
            "cnn2d",
            vec![self.input[0], self.input[1], 1],
            rows,
        ))
    }

    /// The conv layers' rows for pooled `sizes`, with the last pool's `[rows, cols]` and channels.
    pub(super) fn conv_rows(&self, sizes: &[[usize; 2]]) -> (Vec<SummaryRow>, [usize; 2], usize) {
        let k = self.kernel;
        let mut rows = Vec::new();
        let [mut h, mut w] = self.input;
        let mut cin = 1;
        for (i, (&f, &[ph, pw])) in self.filters.iter().zip(sizes).enumerate() {
            let n = i + 1;
            rows.push(SummaryRow::new(
                format!("conv2d_{n} (Conv2D)"),
                vec![h, w, f],
                k * k * cin * f + f,
            ));
            if self.batch_norm {
                rows.push(SummaryRow::batch_norm(n, vec![h, w, f], f));
            }
            rows.push(SummaryRow::new(
                format!("max_pooling2d_{n} (MaxPooling2D)"),
                vec![ph, pw, f],
                0,
            ));
            (h, w, cin) = (ph, pw, f);
        }
        (rows, [h, w], cin)
    }

    /// Builds the network on `device`, weights drawn from `rng` (Glorot-uniform, zero biases).
    pub fn init(&self, device: &Device, rng: &mut ChaCha8Rng) -> Result<Cnn2d> {
        let sizes = self.sizes()?;
        let (convs, norms, pool) = self.init_convs(device, rng);
        let [h, w] = sizes.last().copied().unwrap_or(self.input);
        let flat = h * w * self.filters.last().copied().unwrap_or(1);
        let (hidden, output) = super::head::init(flat, self.dense, self.n_classes, rng, device);
        Ok(Cnn2d {
            rows: self.input[0],
            cols: self.input[1],
            convs,
            norms,
            pool,
            hidden,
            output,
        })
    }

    /// The conv layers (weights drawn from `rng`, first to last), their norms and the pool.
    pub(super) fn init_convs(
        &self,
        device: &Device,
        rng: &mut ChaCha8Rng,
    ) -> (Vec<Conv2d>, Vec<BatchNorm>, MaxPool2d) {
        let k = self.kernel;
        let mut convs = Vec::new();
        let mut norms = Vec::new();
        let mut cin = 1;
        for &f in &self.filters {
            let mut conv = Conv2dConfig::new([cin, f], [k, k])
                .with_padding(PaddingConfig2d::Same)
                .init(device);
            conv.weight = glorot_uniform([f, cin, k, k], k * k * cin, k * k * f, rng, device);
            conv.bias = Some(zeros(f, device));
            convs.push(conv);
            if self.batch_norm {
                norms.push(keras_batch_norm(f, device));
            }
            cin = f;
        }
        let padding = match self.pool_padding {
            PoolPadding::Valid => PaddingConfig2d::Valid,
            PoolPadding::Same => PaddingConfig2d::Same,
        };
        let pool = MaxPool2dConfig::new([self.pool_size, self.pool_size])
            .with_strides([self.pool_stride, self.pool_stride])
            .with_padding(padding)
            .init();
        (convs, norms, pool)
    }
}

impl Cnn2d {
    /// Logits for a batch; see [`super::Net::forward`].
    ///
    /// # Shapes
    /// - `x`: `[batch, rows * cols]` (row-major items)
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
        let [batch, _] = x.dims();
        let h = forward_convs(
            &self.convs,
            &self.norms,
            &self.pool,
            x.reshape([batch, 1, self.rows, self.cols]),
            conv_masks,
        );
        // Channel-major flatten ([channels, rows, cols]); Keras' is channels-last (module doc).
        let flat: Tensor<2> = h.flatten(1, 3);
        super::head::forward(&self.hidden, &self.output, flat, dropout_mask)
    }
}

/// The conv layers over `h`, each followed by its norm (if any), ReLU and the max-pool.
///
/// # Shapes
/// - `h`: `[batch, 1, rows, cols]`
/// - output: `[batch, filters, rows', cols']` (after the last pool)
pub(super) fn forward_convs(
    convs: &[Conv2d],
    norms: &[BatchNorm],
    pool: &MaxPool2d,
    mut h: Tensor<4>,
    conv_masks: &[Tensor<2>],
) -> Tensor<4> {
    for (i, conv) in convs.iter().enumerate() {
        // relu(pool(h)) == pool(relu(h)) (both monotone): the ReLU runs on the pooled,
        // smaller tensor, inside the pool pass with our kernels; without a norm between
        // them, conv, ReLU and pool are one op (`ops::conv2d_relu_pool`).
        h = match norms.get(i) {
            Some(norm) => {
                let c = norm.forward(super::ops::conv2d(conv, h));
                super::ops::max_pool2d_relu(pool, c)
            }
            None => super::ops::conv2d_relu_pool(conv, pool, h),
        };
        if let Some(mask) = conv_masks.get(i) {
            let dims = h.dims();
            h = h * mask.clone().reshape(dims);
        }
    }
    h
}
