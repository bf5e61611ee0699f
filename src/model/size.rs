//! What a network would cost, worked out from its `[model]` section and input shape before
//! anything is built: its parameter count and its largest layer output. Past the limits below a
//! model is refused, so a typo such as `filters = [5120000]` is an error naming the key, not an
//! allocation of terabytes (or an overflow in the layer table's arithmetic) minutes later.
//!
//! Counted in `u128` with saturation, so no setting can overflow the count itself.

use super::{pool_len, thousands};
use crate::config::{ModelConfig, ModelKind};

/// Most parameters a model may have: 4 GB of f32 weights, about 16 GB with their gradients and
/// Adam's two moments. The report's models have under 3 million.
pub const MAX_PARAMS: u128 = 1_000_000_000;
/// Most bytes one layer's output may take over a batch (f32). The report's 2D model at batch 32
/// needs under 1 GB.
pub const MAX_ACTIVATION_BYTES: u128 = 16 << 30;
/// Most conv layers (`model.filters` entries). The report's models have 3 or 4.
pub const MAX_LAYERS: usize = 64;

/// A model's size, or why it is refused: the key to change and a message with the limit.
pub type SizeCheck = std::result::Result<Footprint, (&'static str, String)>;

/// What a model needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footprint {
    /// Parameters, trainable or not.
    pub params: u128,
    /// Values in the largest layer output of one item.
    pub largest_output: u128,
}

/// The footprint of `section` on inputs of `input_shape` (`[len]` or `[rows, cols]`) with
/// `n_classes` outputs, checked against the limits for batches of `batch` items. A shape that
/// collapses is left to the shape checks (`NetConfig::check`): the count stops there.
pub fn check_size(
    section: &ModelConfig,
    input_shape: &[usize],
    n_classes: usize,
    batch: usize,
) -> SizeCheck {
    if section.filters.len() > MAX_LAYERS {
        return Err((
            "model.filters",
            format!(
                "{} conv layers; at most {MAX_LAYERS} are supported (report: 3)",
                section.filters.len()
            ),
        ));
    }
    let wide = |v: usize| v as u128;
    let (pool, stride) = (section.pool_size(), section.pool.stride);
    // Spatial extent (length, or rows × cols) and the kernel's area.
    let k = wide(section.kernel);
    let area = match section.kind {
        ModelKind::Cnn1d => k,
        ModelKind::Cnn2d | ModelKind::Crnn => k.saturating_mul(k),
    };
    let mut dims = input_shape.to_vec();
    let bn = u128::from(section.batch_norm);
    let mut params = 0u128;
    // The layer with the most parameters and the one with the largest output, with their keys.
    let mut heaviest = (0u128, "model.filters");
    let mut largest = (0u128, "model.filters", "conv layer 1".to_string());
    let mut cin = 1u128;
    let mut collapsed = false;
    for (i, &f) in section.filters.iter().enumerate() {
        let f = wide(f);
        let conv = area
            .saturating_mul(cin)
            .saturating_mul(f)
            .saturating_add(f)
            .saturating_add(bn * 4 * f);
        params = params.saturating_add(conv);
        if conv > heaviest.0 {
            let key = if area > cin.max(f) {
                "model.kernel"
            } else {
                "model.filters"
            };
            heaviest = (conv, key);
        }
        // The conv keeps the extent ("same" padding); the pool shrinks it.
        let out = dims.iter().fold(f, |acc, &d| acc.saturating_mul(wide(d)));
        if out > largest.0 {
            largest = (out, "model.filters", format!("conv layer {}", i + 1));
        }
        match dims
            .iter()
            .map(|&d| pool_len(d, pool, stride, section.pool.padding))
            .collect::<Option<Vec<usize>>>()
        {
            Some(d) => dims = d,
            None => {
                collapsed = true;
                break;
            }
        }
        cin = f;
    }
    if !collapsed {
        let mut flat = dims.iter().fold(cin, |acc, &d| acc.saturating_mul(wide(d)));
        if section.kind == ModelKind::Crnn {
            // A sequence of `frames` steps of `rows × channels` values; then the recurrent layer
            // (per direction and gate an input and a hidden affine map, each with a bias) and the
            // attention pooling (width × units + units, and the units-long score vector).
            let frames = wide(dims.last().copied().unwrap_or(1));
            let features = flat / frames.max(1);
            let u = wide(section.rnn_units);
            let width = u.saturating_mul(wide(section.rnn.directions()));
            let rnn = features
                .saturating_add(u)
                .saturating_add(2)
                .saturating_mul(u)
                .saturating_mul(wide(section.rnn.gates() * section.rnn.directions()));
            let attention = width.saturating_mul(u).saturating_add(2 * u);
            params = params.saturating_add(rnn).saturating_add(attention);
            if rnn > heaviest.0 {
                let key = if u >= features {
                    "model.rnn_units"
                } else {
                    "model.filters"
                };
                heaviest = (rnn, key);
            }
            let states = frames.saturating_mul(width);
            if states > largest.0 {
                largest = (states, "model.rnn_units", "the recurrent layer".to_string());
            }
            flat = width;
        }
        let dense = wide(section.dense);
        let classes = wide(n_classes);
        let hidden = flat.saturating_mul(dense).saturating_add(dense);
        params = params
            .saturating_add(hidden)
            .saturating_add(dense.saturating_mul(classes).saturating_add(classes));
        if hidden > heaviest.0 {
            // The flatten's width comes from the last conv layer (a crnn's from its recurrent
            // layer): name the smaller factor's key.
            let key = if dense >= flat {
                "model.dense"
            } else if section.kind == ModelKind::Crnn {
                "model.rnn_units"
            } else {
                "model.filters"
            };
            heaviest = (hidden, key);
        }
        if dense > largest.0 {
            largest = (dense, "model.dense", "the dense layer".to_string());
        }
    }
    let (values, key, which) = largest;
    let item = values.saturating_mul(4);
    if item > MAX_ACTIVATION_BYTES {
        return Err((
            key,
            format!(
                "{which} would output {} values per clip ({} bytes of f32), more than the {} \
                 bytes one layer's output may take: use a smaller {key}",
                thousands(values),
                thousands(item),
                thousands(MAX_ACTIVATION_BYTES)
            ),
        ));
    }
    if params > MAX_PARAMS {
        return Err((
            heaviest.1,
            format!(
                "the model would have {} parameters ({} bytes of f32 weights), more than the {} \
                 a model may have: use fewer filters, a smaller dense layer or kernel, or more \
                 pooling",
                thousands(params),
                thousands(params.saturating_mul(4)),
                thousands(MAX_PARAMS)
            ),
        ));
    }
    let bytes = item.saturating_mul(wide(batch.max(1)));
    if bytes > MAX_ACTIVATION_BYTES {
        return Err((
            "train.batch_size",
            format!(
                "{which} would output {} bytes over a batch of {batch} ({} values per clip, f32), \
                 more than the {} bytes one layer's output may take: use train.batch_size = {} \
                 or less, or a smaller {key}",
                thousands(bytes),
                thousands(values),
                thousands(MAX_ACTIVATION_BYTES),
                MAX_ACTIVATION_BYTES / item.max(1)
            ),
        ));
    }
    Ok(Footprint {
        params,
        largest_output: values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_models_fit() {
        // 1D: 220 values (ZCR + RMS of 110 frames); 2D: 128 mel bands × 110 frames.
        let one = ModelConfig::default();
        let f = check_size(&one, &[220], 6, 32).unwrap();
        assert!(f.params < 5_000_000, "{f:?}");
        let two = ModelConfig {
            kind: ModelKind::Cnn2d,
            ..ModelConfig::default()
        };
        check_size(&two, &[128, 110], 6, 32).unwrap();
    }

    #[test]
    fn terabytes_are_refused_with_the_key() {
        let huge = ModelConfig {
            filters: vec![5_000_000, 5_000_000],
            ..ModelConfig::default()
        };
        let (key, msg) = check_size(&huge, &[220], 6, 32).unwrap_err();
        assert_eq!(key, "model.filters");
        assert!(msg.contains("1,000,000,000"), "{msg}");
        let wide = ModelConfig {
            filters: vec![8],
            dense: usize::MAX,
            ..ModelConfig::default()
        };
        let (key, _) = check_size(&wide, &[220], 6, 32).unwrap_err();
        assert_eq!(key, "model.dense");
        let batch = check_size(&ModelConfig::default(), &[220], 6, 1 << 30).unwrap_err();
        assert_eq!(batch.0, "train.batch_size", "{}", batch.1);
    }
}
