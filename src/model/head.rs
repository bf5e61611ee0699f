//! The classifier every network ends in: flatten (`crnn`: attention pooling) → Dense + ReLU → Dropout (the mask comes from the
//! caller) → Dense to the class logits.

use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use rand_chacha::ChaCha8Rng;

use super::{glorot_uniform, zeros, SummaryRow};

/// The hidden and output dense layers for `flat` inputs, Glorot-uniform weights drawn from `rng`
/// (hidden first) and zero biases, as Keras initialises them.
pub(super) fn init(
    flat: usize,
    dense: usize,
    n_classes: usize,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> (Linear, Linear) {
    let mut hidden = LinearConfig::new(flat, dense).init(device);
    hidden.weight = glorot_uniform([flat, dense], flat, dense, rng, device);
    hidden.bias = Some(zeros(dense, device));
    let mut output = LinearConfig::new(dense, n_classes).init(device);
    output.weight = glorot_uniform([dense, n_classes], dense, n_classes, rng, device);
    output.bias = Some(zeros(n_classes, device));
    (hidden, output)
}

/// Logits of the flattened conv outputs `flat` (`[batch, flat]`); `mask` is the dropout mask
/// (`[batch, dense]`), `None` in inference.
pub(super) fn forward(
    hidden: &Linear,
    output: &Linear,
    flat: Tensor<2>,
    mask: Option<Tensor<2>>,
) -> Tensor<2> {
    let mut z = relu(hidden.forward(flat));
    if let Some(mask) = mask {
        z = z * mask;
    }
    output.forward(z)
}

/// The head's rows of the Keras-like layer table.
pub(super) fn summary_rows(flat: usize, dense: usize, n_classes: usize) -> Vec<SummaryRow> {
    let mut rows = vec![SummaryRow::new("flatten (Flatten)", vec![flat], 0)];
    rows.extend(dense_rows(flat, dense, n_classes));
    rows
}

/// The head's rows after its input of width `flat` (a `crnn`'s pooled sequence: no flatten).
pub(super) fn dense_rows(flat: usize, dense: usize, n_classes: usize) -> Vec<SummaryRow> {
    vec![
        SummaryRow::new("dense (Dense)", vec![dense], flat * dense + dense),
        SummaryRow::new("dropout (Dropout)", vec![dense], 0),
        SummaryRow::new(
            "dense_1 (Dense)",
            vec![n_classes],
            dense * n_classes + n_classes,
        ),
    ]
}
