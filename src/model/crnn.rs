//! The convolutional-recurrent network: the 2D network's conv blocks over one matrix per clip,
//! then a recurrent layer over the pooled frames and attention pooling over time, then the head.
//!
//! After the conv blocks, `[channels, rows', frames']` is read as a sequence of `frames'` steps,
//! each step the channel-major `channels × rows'` values of its column (Burn is channels-first;
//! Keras' `Reshape` of a channels-last tensor orders each step's values the other way round, with
//! the same parameter count). The recurrent layer is Burn's (`Gru`, `BiGru`, `Lstm`, `BiLstm`);
//! its gates each hold an input and a hidden affine map, both with a bias, so a GRU direction has
//! `3 (in·u + u·u + 2u)` parameters (Keras' `reset_after` GRU has as many) and an LSTM direction
//! `4 (in·u + u·u + 2u)` (Keras' has one bias per gate: `u` fewer per gate).
//!
//! Attention pooling scores each step, `e_t = v · tanh(W h_t + b)`, and returns
//! `Σ_t softmax(e)_t h_t`: `W` is `width × units`, `v` has `units` entries, no bias.
//!
//! Initialisation follows Keras where it can, drawn from the job's generator like the CNNs':
//! Glorot-uniform input and hidden kernels (Keras draws the hidden ones orthogonal), zero biases,
//! and an LSTM forget-gate bias of 1 (Keras' `unit_forget_bias`).

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::pool::MaxPool2d;
use burn::nn::{
    BatchNorm, BiGru, BiGruConfig, BiLstm, BiLstmConfig, GateController, Gru, GruConfig, Linear,
    LinearConfig, Lstm, LstmConfig,
};
use burn::tensor::activation::{softmax, tanh};
use burn::tensor::{Device, Tensor, TensorData};
use rand_chacha::ChaCha8Rng;

use super::summary::{Summary, SummaryRow};
use super::{glorot_uniform, zeros, Cnn2dConfig};
use crate::base::Result;
use crate::config::{PoolPadding, RnnKind};

/// Configuration of [`Crnn`]. `new([rows, cols], n_classes, filters)`; the conv settings default
/// to the 2D network's, the recurrent layer to a BiGRU of 64 units per direction.
#[derive(Config, Debug)]
pub struct CrnnConfig {
    /// Rows × columns (frequency × frames) per clip.
    pub input: [usize; 2],
    /// Output classes.
    pub n_classes: usize,
    /// Filters per conv layer; their count is the depth.
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
    /// Batch norm between each conv and its ReLU.
    #[config(default = false)]
    pub batch_norm: bool,
    /// The recurrent layer.
    #[config(default = "RnnKind::Bigru")]
    pub rnn: RnnKind,
    /// Hidden units per direction of the recurrent layer, and of the attention's scoring layer.
    #[config(default = 64)]
    pub rnn_units: usize,
    /// Units of the hidden dense layer.
    #[config(default = 256)]
    pub dense: usize,
    /// Dropout rate after the hidden dense layer.
    #[config(default = 0.4)]
    pub dropout: f64,
}

/// The recurrent layer of a [`Crnn`].
// One per run, built once and passed by reference: the size gap costs nothing (and Burn's
// `Module` derive has no boxed variants).
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Recurrent {
    /// `gru`.
    Gru(Gru),
    /// `bigru`.
    BiGru(BiGru),
    /// `lstm`.
    Lstm(Lstm),
    /// `bilstm`.
    BiLstm(BiLstm),
}

/// The CRNN. Build it with [`CrnnConfig::init`].
#[derive(Module, Debug)]
pub struct Crnn {
    /// Rows of an input item (the flat input is reshaped to `[batch, 1, rows, cols]`).
    pub rows: usize,
    /// Columns (frames) of an input item.
    pub cols: usize,
    /// One conv per layer.
    pub convs: Vec<Conv2d>,
    /// One batch norm per layer, or none.
    pub norms: Vec<BatchNorm>,
    /// The max-pool applied after every conv layer.
    pub pool: MaxPool2d,
    /// The recurrent layer over the pooled frames.
    pub rnn: Recurrent,
    /// Attention: `W h_t + b` (width → units).
    pub attention: Linear,
    /// Attention: the score `v · tanh(..)` (units → 1, no bias).
    pub score: Linear,
    /// Dense + ReLU after the pooling.
    pub hidden: Linear,
    /// Dense to the class logits.
    pub output: Linear,
}

impl CrnnConfig {
    /// The conv part, as the 2D network configures it (the head's settings are unused).
    fn convs(&self) -> Cnn2dConfig {
        Cnn2dConfig::new(self.input, self.n_classes, self.filters.clone())
            .with_kernel(self.kernel)
            .with_pool_size(self.pool_size)
            .with_pool_stride(self.pool_stride)
            .with_pool_padding(self.pool_padding)
            .with_batch_norm(self.batch_norm)
    }

    /// `[rows, cols]` after each conv layer's pool; fails naming the first layer whose output
    /// would be empty (no frame left for the recurrent layer included).
    pub fn sizes(&self) -> Result<Vec<[usize; 2]>> {
        self.convs().sizes_in("crnn")
    }

    /// Steps and values per step of the sequence the recurrent layer reads.
    fn sequence(&self, sizes: &[[usize; 2]]) -> (usize, usize) {
        let [rows, frames] = sizes.last().copied().unwrap_or(self.input);
        (frames, rows * self.filters.last().copied().unwrap_or(1))
    }

    /// Output width of the recurrent layer (units × directions).
    pub fn width(&self) -> usize {
        self.rnn_units * self.rnn.directions()
    }

    /// The Keras-like layer table (fails like [`Self::sizes`]).
    pub fn summary(&self) -> Result<Summary> {
        let sizes = self.sizes()?;
        let (mut rows, _, _) = self.convs().conv_rows(&sizes);
        let (steps, features) = self.sequence(&sizes);
        let (u, width) = (self.rnn_units, self.width());
        rows.push(SummaryRow::new(
            "reshape (Reshape)",
            vec![steps, features],
            0,
        ));
        let per_direction = self.rnn.gates() * (features * u + u * u + 2 * u);
        let layer = match self.rnn {
            RnnKind::Gru => "gru (GRU)",
            RnnKind::Lstm => "lstm (LSTM)",
            RnnKind::Bigru => "bidirectional (Bidirectional GRU)",
            RnnKind::Bilstm => "bidirectional (Bidirectional LSTM)",
        };
        rows.push(SummaryRow::new(
            layer,
            vec![steps, width],
            self.rnn.directions() * per_direction,
        ));
        rows.push(SummaryRow::new(
            "attention (AttentionPooling)",
            vec![width],
            width * u + 2 * u,
        ));
        rows.extend(super::head::dense_rows(width, self.dense, self.n_classes));
        Ok(Summary::new(
            "crnn",
            vec![self.input[0], self.input[1], 1],
            rows,
        ))
    }

    /// Builds the network on `device`, weights drawn from `rng` in layer order (module doc).
    pub fn init(&self, device: &Device, rng: &mut ChaCha8Rng) -> Result<Crnn> {
        let sizes = self.sizes()?;
        let (convs, norms, pool) = self.convs().init_convs(device, rng);
        let (_, features) = self.sequence(&sizes);
        let u = self.rnn_units;
        let rnn = match self.rnn {
            RnnKind::Gru => {
                let mut gru = GruConfig::new(features, u, true).init(device);
                keras_gru(&mut gru, features, u, rng, device);
                Recurrent::Gru(gru)
            }
            RnnKind::Bigru => {
                let mut gru = BiGruConfig::new(features, u, true).init(device);
                keras_gru(&mut gru.forward, features, u, rng, device);
                keras_gru(&mut gru.reverse, features, u, rng, device);
                Recurrent::BiGru(gru)
            }
            RnnKind::Lstm => {
                let mut lstm = LstmConfig::new(features, u, true).init(device);
                keras_lstm(&mut lstm, features, u, rng, device);
                Recurrent::Lstm(lstm)
            }
            RnnKind::Bilstm => {
                let mut lstm = BiLstmConfig::new(features, u, true).init(device);
                keras_lstm(&mut lstm.forward, features, u, rng, device);
                keras_lstm(&mut lstm.reverse, features, u, rng, device);
                Recurrent::BiLstm(lstm)
            }
        };
        let width = self.width();
        let mut attention = LinearConfig::new(width, u).init(device);
        attention.weight = glorot_uniform([width, u], width, u, rng, device);
        attention.bias = Some(zeros(u, device));
        let mut score = LinearConfig::new(u, 1).with_bias(false).init(device);
        score.weight = glorot_uniform([u, 1], u, 1, rng, device);
        let (hidden, output) = super::head::init(width, self.dense, self.n_classes, rng, device);
        Ok(Crnn {
            rows: self.input[0],
            cols: self.input[1],
            convs,
            norms,
            pool,
            rnn,
            attention,
            score,
            hidden,
            output,
        })
    }
}

/// Keras' GRU initialisation of `gru` (update, reset, new gate; input kernel, then hidden).
fn keras_gru(gru: &mut Gru, d_in: usize, u: usize, rng: &mut ChaCha8Rng, device: &Device) {
    for gate in [&mut gru.update_gate, &mut gru.reset_gate, &mut gru.new_gate] {
        keras_gate(gate, d_in, u, 0.0, rng, device);
    }
}

/// Keras' LSTM initialisation of `lstm` (input, forget, output, cell gate), forget bias 1.
fn keras_lstm(lstm: &mut Lstm, d_in: usize, u: usize, rng: &mut ChaCha8Rng, device: &Device) {
    keras_gate(&mut lstm.input_gate, d_in, u, 0.0, rng, device);
    if let Some(forget) = lstm.forget_gate.as_mut() {
        keras_gate(forget, d_in, u, 1.0, rng, device);
    }
    keras_gate(&mut lstm.output_gate, d_in, u, 0.0, rng, device);
    keras_gate(&mut lstm.cell_gate, d_in, u, 0.0, rng, device);
}

/// Glorot-uniform kernels for one gate; its input bias is `bias` and its hidden bias zero (Burn
/// keeps both; their sum is what Keras' single bias is).
fn keras_gate(
    gate: &mut GateController,
    d_in: usize,
    u: usize,
    bias: f32,
    rng: &mut ChaCha8Rng,
    device: &Device,
) {
    gate.input_transform.weight = glorot_uniform([d_in, u], d_in, u, rng, device);
    gate.input_transform.bias = Some(burn::module::Param::from_data(
        TensorData::new(vec![bias; u], [u]),
        device,
    ));
    gate.hidden_transform.weight = glorot_uniform([u, u], u, u, rng, device);
    gate.hidden_transform.bias = Some(zeros(u, device));
}

impl Crnn {
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
        let h = super::cnn2d::forward_convs(
            &self.convs,
            &self.norms,
            &self.pool,
            x.reshape([batch, 1, self.rows, self.cols]),
            conv_masks,
        );
        let [_, channels, rows, frames] = h.dims();
        // [batch, channels, rows, frames] -> one step per frame of its channels × rows values.
        let seq: Tensor<3> = h
            .permute([0, 3, 1, 2])
            .reshape([batch, frames, channels * rows]);
        let states = match &self.rnn {
            Recurrent::Gru(m) => m.forward(seq, None),
            Recurrent::BiGru(m) => m.forward(seq, None).0,
            Recurrent::Lstm(m) => m.forward(seq, None).0,
            Recurrent::BiLstm(m) => m.forward(seq, None).0,
        };
        let pooled = attention_pool(&self.attention, &self.score, states);
        super::head::forward(&self.hidden, &self.output, pooled, dropout_mask)
    }
}

/// `Σ_t α_t h_t` with `α = softmax_t(v · tanh(W h_t + b))`.
///
/// # Shapes
/// - `states`: `[batch, steps, width]`
/// - output: `[batch, width]`
fn attention_pool(attention: &Linear, score: &Linear, states: Tensor<3>) -> Tensor<2> {
    let [batch, _, width] = states.dims();
    let e = score.forward(tanh(attention.forward(states.clone())));
    let alpha = softmax(e, 1);
    (states * alpha).sum_dim(1).reshape([batch, width])
}
