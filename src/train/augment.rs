//! Regularisation beyond the report's dense dropout, each off by default: label smoothing, class
//! weights and mixup on the loss, SpecAugment masks on 2D inputs, dropout after each conv block.
//!
//! - **Loss.** With smoothing ε, class weights w and mixup's λ, a batch's loss is
//!   `λ·L(y) + (1 - λ)·L(y[perm])` with `L(y) = Σ_i w_{y_i} CE(t_i, p_i) / Σ_i w_{y_i}` and
//!   targets `t_i = (1 - ε)·onehot(y_i) + ε/K`: the weighted mean normalised by the batch's sum of
//!   weights, as PyTorch's `CrossEntropyLoss(weight=…)` does (Keras' `class_weight` divides by
//!   the batch size instead; the two differ by a factor per batch, not in which way the weights
//!   pull). Without any of the three the loss is Burn's cross-entropy, as before, so a default
//!   run is bit-identical to one made before these options existed.
//! - **Validation** stays the plain cross-entropy: runs with and without regularisation report
//!   comparable `val_loss`, and early stopping and keep-best watch the same quantity.
//! - **Inputs.** SpecAugment masks each item first (bands of rows = frequency and columns =
//!   time, set to the item's mean: the paper's choice, and 0 on standardised inputs), then mixup
//!   mixes the batch with a permutation of itself. Training accuracy counts against the label
//!   with the larger share of a mixed item.
//! - **Randomness.** Masks, λ and the permutation come from the seed's ChaCha8 stream of the step
//!   ([`step_rng`]), apart from the weights' and the epochs' streams, so a resumed run replays
//!   them and switching them on leaves the shuffles and dropout masks as they were. Conv dropout
//!   masks are dropout masks: they come from the epoch's stream after the dense one.
//!
//! What a run used is recorded in `training.json` under `regularisation` (with the class weights
//! as numbers; absent when all is off) and read back with [`Regularisation::read`].

use std::path::Path;

use burn::nn::loss::CrossEntropyLoss;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::data::{batch_tensors, dropout_mask, Examples};
use super::TrainingConfig;
use crate::base::{Error, Result};
use crate::config::{ClassWeights, ModelConfig, SpecAugmentConfig, TrainConfig};
use crate::rundir::RunDir;

/// The regularisation of a run, resolved (class weights as numbers, in label order).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Regularisation {
    /// Label smoothing ε.
    pub label_smoothing: f64,
    /// Loss weight of each class (`train.class_weights = "balanced"`), none: all 1.
    pub class_weights: Option<Vec<f64>>,
    /// Mixup's α (0: off).
    pub mixup: f64,
    /// SpecAugment masks.
    pub spec_augment: SpecAugmentConfig,
    /// Dropout rate after each conv block (`model.conv_dropout`).
    pub conv_dropout: f64,
}

impl Regularisation {
    /// What `model` and `train` ask for, with class weights from the training part's `labels`
    /// over `n_classes`; `None` when everything is off (the report's training).
    pub fn resolve(
        model: &ModelConfig,
        train: &TrainConfig,
        labels: &[usize],
        n_classes: usize,
    ) -> Option<Self> {
        let r = Regularisation {
            label_smoothing: train.label_smoothing,
            class_weights: match train.class_weights {
                ClassWeights::None => None,
                ClassWeights::Balanced => Some(balanced_weights(labels, n_classes)),
            },
            mixup: train.mixup,
            spec_augment: train.spec_augment.clone(),
            conv_dropout: model.conv_dropout,
        };
        (r != Regularisation::default()).then_some(r)
    }

    /// The regularisation recorded in `run`'s `training.json` (`None`: none was on).
    pub fn read(run: &RunDir) -> Result<Option<Self>> {
        #[derive(Deserialize)]
        struct File {
            regularisation: Option<Regularisation>,
        }
        Ok(run.read_training::<File>()?.regularisation)
    }

    /// Whether the loss differs from plain cross-entropy.
    fn soft_loss(&self) -> bool {
        self.label_smoothing > 0.0 || self.class_weights.is_some() || self.mixup > 0.0
    }
}

/// scikit-learn's `balanced` class weights: `n / (K · count_k)` over the `K` classes that occur
/// in `labels`; a class that does not occur (never a label, so never weighted) gets 0.
pub fn balanced_weights(labels: &[usize], n_classes: usize) -> Vec<f64> {
    let mut counts = vec![0usize; n_classes];
    for &l in labels {
        counts[l] += 1;
    }
    let present = counts.iter().filter(|&&c| c > 0).count();
    counts
        .iter()
        .map(|&c| {
            if c == 0 {
                0.0
            } else {
                labels.len() as f64 / (present * c) as f64
            }
        })
        .collect()
}

/// Checks that the SpecAugment masks fit items of `input_shape` (`[rows, cols]`); the key in the
/// error is the one to change.
pub(super) fn check(train: &TrainConfig, input_shape: &[usize]) -> Result<()> {
    let s = &train.spec_augment;
    if !s.is_on() {
        return Ok(());
    }
    let origin = Path::new("(train job)");
    let &[rows, cols] = input_shape else {
        return Err(Error::config(
            origin,
            "train.spec_augment",
            format!(
                "spec_augment needs a 2D feature kind (mel-db / mfcc), but the items are \
                 {input_shape:?}: use a 2D kind, or leave the masks at 0"
            ),
        ));
    };
    for (key, width, len, what) in [
        ("train.spec_augment.freq_width", s.freq_width, rows, "rows"),
        (
            "train.spec_augment.time_width",
            s.time_width,
            cols,
            "columns",
        ),
    ] {
        if width > len {
            return Err(Error::config(
                origin,
                key,
                format!("{width} is wider than the items' {len} {what}: use at most {len}"),
            ));
        }
    }
    Ok(())
}

/// Writes `training.json`: the resolved configuration, plus `regularisation` when one is on (a
/// default run's file is as before; Burn's reader of the configuration ignores the extra key).
pub(super) fn write_training(
    run: &RunDir,
    config: &TrainingConfig,
    reg: Option<&Regularisation>,
) -> Result<()> {
    #[derive(Serialize)]
    struct File<'a> {
        #[serde(flatten)]
        config: &'a TrainingConfig,
        regularisation: &'a Regularisation,
    }
    match reg {
        None => run.write_training(config),
        Some(regularisation) => run.write_training(&File {
            config,
            regularisation,
        }),
    }
}

/// Generator of the augmentation draws of step `step` (0-based) of epoch `epoch`: the seed's
/// ChaCha8 stream `2^63 + epoch · 2^32 + step`, apart from the weights' (0) and the epochs'
/// (`epoch`) streams.
pub fn step_rng(seed: u64, epoch: usize, step: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream((1 << 63) | ((epoch as u64) << 32) | step as u64);
    rng
}

/// One training batch, augmented.
pub(super) struct Batch {
    /// Inputs `[batch, item_len]`.
    pub x: Tensor<2>,
    /// What the loss compares the logits with.
    pub target: Target,
    /// The label training accuracy counts against, per item.
    pub labels: Vec<usize>,
}

/// The loss's target.
pub(super) enum Target {
    /// Class indices `[batch]`: Burn's cross-entropy.
    Labels(Tensor<1, Int>),
    /// Per item and class, the weight of `-log p` in the loss `[batch, classes]`.
    Coefficients(Tensor<2>),
}

/// The items `idx` of `train` as step `step` of epoch `epoch` trains on them (`key` = seed,
/// epoch, step): as they are without `reg`, else masked and mixed as `reg` asks.
pub(super) fn batch(
    train: &Examples,
    idx: &[usize],
    reg: Option<&Regularisation>,
    (seed, epoch, step): (u64, usize, usize),
    n_classes: usize,
    device: &Device,
) -> Batch {
    let mut labels: Vec<usize> = idx.iter().map(|&i| train.labels[i]).collect();
    let reg = match reg {
        Some(r) if r.soft_loss() || r.spec_augment.is_on() => r,
        _ => {
            let (x, y) = batch_tensors(train, idx, device);
            return Batch {
                x,
                target: Target::Labels(y),
                labels,
            };
        }
    };
    let mut rng = step_rng(seed, epoch, step);
    let (b, n) = (idx.len(), train.item_len());
    let (mut data, ys) = train.gather(idx);
    if reg.spec_augment.is_on() {
        let [rows, cols] = [train.shape[0], train.shape[1]];
        for item in data.chunks_mut(n) {
            spec_augment(item, rows, cols, &reg.spec_augment, &mut rng);
        }
    }
    let mix = (reg.mixup > 0.0).then(|| {
        let lambda = beta(&mut rng, reg.mixup);
        let mut perm: Vec<usize> = (0..b).collect();
        perm.shuffle(&mut rng);
        mix_items(&mut data, n, &perm, lambda);
        (lambda, perm)
    });
    let x = Tensor::from_data(TensorData::new(data, [b, n]), device);
    let target = if reg.soft_loss() {
        let mix = mix.as_ref().map(|(l, p)| (*l, p.as_slice()));
        let c = loss_coefficients(
            &labels,
            n_classes,
            reg.label_smoothing,
            reg.class_weights.as_deref(),
            mix,
        );
        let c: Vec<f32> = c.into_iter().map(|v| v as f32).collect();
        Target::Coefficients(Tensor::from_data(
            TensorData::new(c, [b, n_classes]),
            device,
        ))
    } else {
        Target::Labels(Tensor::from_data(TensorData::new(ys, [b]), device))
    };
    if let Some((_, perm)) = mix.filter(|(lambda, _)| *lambda < 0.5) {
        labels = perm.iter().map(|&p| labels[p]).collect();
    }
    Batch { x, target, labels }
}

/// The batch loss of `logits` against `target`.
pub(super) fn loss(loss_fn: &CrossEntropyLoss, logits: Tensor<2>, target: Target) -> Tensor<1> {
    match target {
        Target::Labels(y) => loss_fn.forward(logits, y),
        Target::Coefficients(c) => weighted_cross_entropy(logits, c),
    }
}

/// `-Σ_ik c_ik · log softmax(logits)_ik`: the cross-entropy with the per-item, per-class
/// weights of [`loss_coefficients`].
///
/// # Shapes
/// - `logits`, `coefficients`: `[batch, classes]`
/// - output: `[1]`
pub fn weighted_cross_entropy(logits: Tensor<2>, coefficients: Tensor<2>) -> Tensor<1> {
    (log_softmax(logits, 1) * coefficients).sum().neg()
}

/// Dropout masks after the conv blocks, one `[b, units]` per block (`units` = channels × pooled
/// size), drawn from the epoch's generator; none when `keep` is 1.
pub(super) fn conv_masks(
    rng: &mut ChaCha8Rng,
    b: usize,
    units: &[usize],
    keep: f64,
    device: &Device,
) -> Vec<Tensor<2>> {
    units
        .iter()
        .filter_map(|&u| dropout_mask(rng, b, u, keep, device))
        .collect()
}

/// Per item `i` and class `k`, the weight of `-log p_ik` in the batch loss (row-major
/// `[labels.len(), n_classes]`): `w_{y_i} · t_ik / Σ_j w_{y_j}` with the smoothed targets
/// `t_i = (1 - eps)·onehot(y_i) + eps / n_classes` and class weights `w` (all 1 without);
/// with mixup `(λ, perm)`, `λ` times that plus `1 - λ` times the same for the labels `y[perm]`.
pub fn loss_coefficients(
    labels: &[usize],
    n_classes: usize,
    eps: f64,
    weights: Option<&[f64]>,
    mix: Option<(f64, &[usize])>,
) -> Vec<f64> {
    let b = labels.len();
    let mut c = vec![0.0f64; b * n_classes];
    let w = |y: usize| weights.map_or(1.0, |w| w[y]);
    let mut add = |share: f64, ys: &mut dyn Iterator<Item = usize>| {
        let ys: Vec<usize> = ys.collect();
        let total: f64 = ys.iter().map(|&y| w(y)).sum();
        if total <= 0.0 {
            return;
        }
        for (i, &y) in ys.iter().enumerate() {
            let scale = share * w(y) / total;
            let row = &mut c[i * n_classes..(i + 1) * n_classes];
            for (k, v) in row.iter_mut().enumerate() {
                let t = eps / n_classes as f64 + if k == y { 1.0 - eps } else { 0.0 };
                *v += scale * t;
            }
        }
    };
    match mix {
        None => add(1.0, &mut labels.iter().copied()),
        Some((lambda, perm)) => {
            add(lambda, &mut labels.iter().copied());
            add(1.0 - lambda, &mut perm.iter().map(|&p| labels[p]));
        }
    }
    c
}

/// Mixes items (`n` values each) in place: item `i` becomes `λ·x_i + (1 - λ)·x_perm[i]`.
pub fn mix_items(data: &mut [f32], n: usize, perm: &[usize], lambda: f64) {
    let orig = data.to_vec();
    let (a, b) = (lambda as f32, (1.0 - lambda) as f32);
    for (i, &p) in perm.iter().enumerate() {
        let other = &orig[p * n..(p + 1) * n];
        for (v, &o) in data[i * n..(i + 1) * n].iter_mut().zip(other) {
            *v = a * *v + b * o;
        }
    }
}

/// `count` bands `(start, width)` on an axis of `len`: each width uniform in
/// `0..=min(max_width, len)`, its start uniform where the band fits (SpecAugment's draw).
pub fn mask_bands(
    rng: &mut ChaCha8Rng,
    count: usize,
    max_width: usize,
    len: usize,
) -> Vec<(usize, usize)> {
    let max_width = max_width.min(len);
    (0..count)
        .map(|_| {
            let width = rng.random_range(0..=max_width);
            let start = rng.random_range(0..=len - width);
            (start, width)
        })
        .collect()
}

/// SpecAugment on one row-major `[rows, cols]` item in place: `freq_masks` bands of rows, then
/// `time_masks` bands of columns, set to the item's mean (taken before masking).
pub fn spec_augment(
    item: &mut [f32],
    rows: usize,
    cols: usize,
    cfg: &SpecAugmentConfig,
    rng: &mut ChaCha8Rng,
) {
    debug_assert_eq!(item.len(), rows * cols);
    let mean = (item.iter().map(|&v| f64::from(v)).sum::<f64>() / item.len() as f64) as f32;
    for (start, width) in mask_bands(rng, cfg.freq_masks, cfg.freq_width, rows) {
        item[start * cols..(start + width) * cols].fill(mean);
    }
    for (start, width) in mask_bands(rng, cfg.time_masks, cfg.time_width, cols) {
        for row in item.chunks_mut(cols) {
            row[start..start + width].fill(mean);
        }
    }
}

/// λ ~ Beta(α, α), from two Gamma(α) draws (Marsaglia and Tsang), in log space so that a small
/// α does not underflow both to 0.
pub fn beta(rng: &mut ChaCha8Rng, alpha: f64) -> f64 {
    let (lx, ly) = (ln_gamma_draw(rng, alpha), ln_gamma_draw(rng, alpha));
    1.0 / (1.0 + (ly - lx).exp())
}

/// The logarithm of a Gamma(a, 1) draw.
fn ln_gamma_draw(rng: &mut ChaCha8Rng, a: f64) -> f64 {
    if a < 1.0 {
        // Gamma(a) = Gamma(a + 1) · U^(1/a).
        let u: f64 = 1.0 - rng.random::<f64>();
        return ln_gamma_draw(rng, a + 1.0) + u.ln() / a;
    }
    let d = a - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = normal(rng);
        let v = (1.0 + c * x).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u: f64 = 1.0 - rng.random::<f64>();
        if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            return (d * v).ln();
        }
    }
}

/// A standard normal draw (Box-Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}
