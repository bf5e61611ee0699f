//! One epoch of training: the epoch's seeded shuffle, mini-batch steps (inputs as
//! [`augment`] masks and mixes them, forward with the epoch's dropout masks, cross-entropy or its
//! regularised form, backward, Adam at the step's scheduled rate), then the validation pass
//! (loss, accuracy, macro F1), with its progress bar.

use std::time::Instant;

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::augment::{self, Regularisation};
use super::data::{batch_tensors, dropout_mask, Examples};
use super::{TrainJob, TrainingConfig};
use crate::base::device::wait_for;
use crate::base::{interrupt, progress, Result};
use crate::eval::{self, EpochRecord};
use crate::model::Net;

/// Generator of epoch `epoch`: the seed's ChaCha8 stream `epoch` (stream 0 is the weights'), so
/// an epoch's shuffle and masks do not depend on how the run got there.
pub(super) fn epoch_rng(seed: u64, epoch: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(epoch as u64);
    rng
}

/// Trains `model` for epoch `epoch` on `train`, then validates on `valid` (NaN without one);
/// returns the updated model and the epoch's record.
pub(super) fn run(
    epoch: usize,
    job: &TrainJob,
    config: &TrainingConfig,
    mut model: Net,
    optim: &mut ModuleOptimizer,
    (train, valid): (&Examples, &Examples),
    device: &Device,
) -> Result<(Net, EpochRecord)> {
    let t0 = Instant::now();
    let mut rng = epoch_rng(config.seed, epoch);
    let mut order: Vec<usize> = (0..train.len()).collect();
    if config.shuffle {
        order.shuffle(&mut rng);
    }
    let steps = order.len().div_ceil(config.batch_size);
    let pb = epoch_bar(job, steps, epoch, config.epochs);
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let (mut loss_sum, mut correct) = (0.0f64, 0usize);
    let mut lr = config.lr;
    let keep = 1.0 - config.model.dropout();
    let dense = config.model.dense();
    let n_classes = config.classes.len();
    let reg = Regularisation::resolve(&job.model, &job.train, &train.labels, n_classes);
    let conv_keep = 1.0 - reg.as_ref().map_or(0.0, |r| r.conv_dropout);
    let conv_units = if conv_keep < 1.0 {
        config.model.conv_units()?
    } else {
        Vec::new()
    };
    for (step, idx) in order.chunks(config.batch_size).enumerate() {
        // A signal stops the run here; it resumes from the last finished epoch's checkpoint.
        interrupt::check()?;
        let b = idx.len();
        let key = (config.seed, epoch, step);
        let batch = augment::batch(train, idx, reg.as_ref(), key, n_classes, device);
        let mask = dropout_mask(&mut rng, b, dense, keep, device);
        let conv_masks = augment::conv_masks(&mut rng, b, &conv_units, conv_keep, device);
        let logits = model.forward_dropout(batch.x, &conv_masks, mask);
        let loss = augment::loss(&loss_fn, logits.clone(), batch.target);
        let batch_loss = f64::from(loss.clone().detach().into_scalar::<f32>());
        correct += count_correct(logits.detach(), &batch.labels);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        lr = config.lr_at(epoch, step, steps);
        model = optim.step(lr, model, grads);
        loss_sum += batch_loss * b as f64;
        if let Some(pb) = &pb {
            let seen: usize = (step * config.batch_size + b).min(order.len());
            pb.set_position(step as u64 + 1);
            pb.set_message(format!(
                "loss {:.4} acc {:.4}",
                loss_sum / seen as f64,
                correct as f64 / seen as f64
            ));
        }
    }
    let (val_loss, val_accuracy, val_macro_f1) = if valid.is_empty() {
        (f64::NAN, f64::NAN, f64::NAN)
    } else {
        let infer_device = device.clone().without_autodiff();
        validate(&model.valid(), valid, config, &infer_device)?
    };
    // GPU work is queued: wait for it, so that the epoch's seconds are its own.
    wait_for(device)?;
    let record = EpochRecord {
        epoch,
        loss: loss_sum / train.len() as f64,
        accuracy: correct as f64 / train.len() as f64,
        val_loss,
        val_accuracy,
        seconds: t0.elapsed().as_secs_f64(),
        val_macro_f1,
        lr,
    };
    finish_bar(job, pb, &record);
    tracing::debug!(
        "epoch {epoch}: loss {:.4} acc {:.4} val_loss {val_loss:.4} val_acc {val_accuracy:.4}",
        record.loss,
        record.accuracy
    );
    Ok((model, record))
}

/// Mean loss, accuracy and macro F1 of `model` (inference mode) over `x`.
fn validate(
    model: &Net,
    x: &Examples,
    config: &TrainingConfig,
    device: &Device,
) -> Result<(f64, f64, f64)> {
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let all: Vec<usize> = (0..x.len()).collect();
    let mut loss_sum = 0.0f64;
    let mut predicted = Vec::with_capacity(x.len());
    for idx in all.chunks(config.batch_size) {
        let (t, y) = batch_tensors(x, idx, device);
        let logits = model.forward(t, None);
        let loss = loss_fn.forward(logits.clone(), y).into_scalar::<f32>();
        loss_sum += f64::from(loss) * idx.len() as f64;
        predicted.extend(argmax(logits));
    }
    let metrics = eval::evaluate(&x.labels, &predicted, &config.classes)?;
    Ok((
        loss_sum / x.len() as f64,
        metrics.accuracy,
        metrics.macro_avg.f1,
    ))
}

fn argmax(logits: Tensor<2>) -> Vec<usize> {
    let pred = logits.argmax(1).into_data_as::<i64>();
    pred.iter::<i64>().map(|p| p as usize).collect()
}

/// Items whose largest logit is their label (`labels`: one per row of `logits`).
fn count_correct(logits: Tensor<2>, labels: &[usize]) -> usize {
    argmax(logits)
        .into_iter()
        .zip(labels)
        .filter(|&(p, &l)| p == l)
        .count()
}

/// The epoch's bar (none when quiet): steps done, rate, running loss and accuracy; prefixed with
/// the job id in sweeps.
fn epoch_bar(job: &TrainJob, steps: usize, epoch: usize, epochs: usize) -> Option<ProgressBar> {
    if job.quiet {
        return None;
    }
    let pb = progress::bar(steps as u64, "");
    if let Ok(style) = ProgressStyle::with_template(
        "{prefix:>12} [{bar:30}] {pos}/{len} {per_sec} eta {eta} {wide_msg}",
    ) {
        pb.set_style(style.progress_chars("=> "));
    }
    match &job.label {
        Some(label) => pb.set_prefix(format!("{label} epoch {epoch}/{epochs}")),
        None => pb.set_prefix(format!("epoch {epoch}/{epochs}")),
    }
    Some(pb)
}

/// In a sweep the bar goes (one line per running job); alone it stays as the epoch's line.
fn finish_bar(job: &TrainJob, pb: Option<ProgressBar>, r: &EpochRecord) {
    let Some(pb) = pb else { return };
    if job.label.is_some() {
        pb.finish_and_clear();
    } else {
        pb.finish_with_message(format!(
            "loss {:.4} acc {:.4} val_loss {:.4} val_acc {:.4} ({:.1} s)",
            r.loss, r.accuracy, r.val_loss, r.val_accuracy, r.seconds
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn epoch_streams_differ_and_repeat() {
        let a: u64 = epoch_rng(7, 1).random();
        let b: u64 = epoch_rng(7, 2).random();
        assert_ne!(a, b);
        assert_eq!(a, epoch_rng(7, 1).random::<u64>());
        // stream 0 is the weights' generator, not an epoch's
        let w: u64 = ChaCha8Rng::seed_from_u64(7).random();
        assert_ne!(w, a);
    }
}
