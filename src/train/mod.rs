//! Training: the model of [`crate::model`] fitted to [`Examples`] (the data side, `data`) one
//! epoch at a time (`epoch`: Adam on cross-entropy, seeded shuffles and dropout, validation
//! every epoch), with early stopping, keep-best, per-epoch checkpoints and exact resume
//! ([`checkpoint`]), and optional regularisation ([`augment`]: label smoothing, class weights,
//! mixup, SpecAugment, conv dropout). Using a trained model is `crate::infer`'s.
//!
//! A run directory ([`RunDir`]) gets, in this order: `training.json` (the resolved
//! [`TrainingConfig`]), `history.csv` (one line per epoch as it finishes), `checkpoint/` (the
//! last finished epoch), and last `model.bpk` (the final weights: the last epoch's, or the best
//! validation loss's with `keep_best`).
//!
//! Reproducibility: every random draw comes from ChaCha8 generators derived from the seed —
//! stream 0 for the initial weights, stream `e` for epoch `e`'s shuffle and dropout masks, and
//! streams past 2^63 for each step's augmentation draws ([`augment`]) — so
//! an epoch does not depend on how the run got there, and a resumed run replays exactly what an
//! unbroken one does. On `flex` the same config and seed give bit-identical results (tested);
//! GPU reductions are not ordered, so `wgpu` runs agree only approximately.
//!
//! Why not burn-train's `Learner`: it brings its own data loader, checkpoint layout, metric
//! files and renderer. Bit-identical resume needs the shuffle and the dropout masks drawn from
//! per-epoch streams of the job's seed (the masks are an input of our models), a checkpoint that
//! refuses other data or another config (the fingerprint), the run-directory files above, and
//! one progress line per job when a sweep trains several jobs in one process; see
//! `docs/architecture.md`.

pub mod adam;
pub mod augment;
pub mod checkpoint;
mod data;
mod epoch;
pub mod schedule;
pub mod standardize;

pub use data::Examples;
pub use schedule::LrSchedule;
pub use standardize::Standardization;

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::config::Config;
use burn::module::Module;
use burn::optim::AdamConfig;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

use crate::base::device;
use crate::base::hash::hex_prefix;
use crate::base::{Error, Result};
use crate::config::{ModelConfig, Monitor, ScheduleKind, Standardize, TrainConfig};
use crate::eval::EpochRecord;
use crate::model::{check_batch_fits, Net, NetConfig};
use crate::rundir::RunDir;
use checkpoint::State;

/// Everything a training run needs besides the data: the `[model]` and `[train]` sections and
/// the class names (their count is the number of outputs).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainJob {
    /// The network.
    pub model: ModelConfig,
    /// Optimiser, epochs, seed, backend.
    pub train: TrainConfig,
    /// Class names, in label-index order.
    pub classes: Vec<String>,
    /// Stop, as if interrupted, once this epoch's checkpoint is written (tests, time slices);
    /// the next call resumes.
    pub stop_after: Option<usize>,
    /// Draw no progress bar.
    pub quiet: bool,
    /// Set by sweeps (the job id): the epoch bar is prefixed with it and cleared when the epoch
    /// ends, instead of staying on screen as one line per epoch.
    pub label: Option<String>,
    /// Feature rows of a 1D item (2 for `zcr+rms`: its ZCR and RMS halves), for
    /// `train.standardize = "per-feature"`; a 2D item's rows are its first dimension.
    pub feature_rows: usize,
}

impl TrainJob {
    /// A job with the given sections and classes.
    pub fn new(model: ModelConfig, train: TrainConfig, classes: Vec<String>) -> Self {
        Self {
            model,
            train,
            classes,
            stop_after: None,
            quiet: false,
            label: None,
            feature_rows: 1,
        }
    }

    /// The Burn configuration of this job for items of `input_shape`; fails when a value is out
    /// of range (as `Config::validate` does) or the network does not fit the input.
    pub fn training_config(&self, input_shape: &[usize]) -> Result<TrainingConfig> {
        // The sections were checked against their file when read; jobs built in code get the
        // same checks, reported against this placeholder origin.
        let origin = Path::new("(train job)");
        self.model.validate(origin)?;
        self.train.validate(origin)?;
        augment::check(&self.train, input_shape)?;
        let t = &self.train;
        let model = NetConfig::from_section(&self.model, input_shape, self.classes.len())?;
        Ok(TrainingConfig {
            model,
            optimizer: AdamConfig::new()
                .with_beta_1(t.beta1 as f32)
                .with_beta_2(t.beta2 as f32)
                .with_epsilon(t.epsilon as f32),
            epochs: t.epochs,
            batch_size: t.batch_size,
            lr: t.lr,
            seed: t.seed,
            shuffle: t.shuffle,
            patience: t.patience,
            keep_best: t.keep_best,
            classes: self.classes.clone(),
            standardize: (!t.standardize.is_none()).then_some(t.standardize),
            monitor: (!t.monitor.is_val_loss()).then_some(t.monitor),
            schedule: (!t.schedule.is_constant() || t.warmup_epochs > 0).then_some(LrSchedule {
                kind: t.schedule,
                warmup_epochs: t.warmup_epochs,
                min_lr: t.min_lr,
            }),
            weight_decay: (t.weight_decay != 0.0).then_some(t.weight_decay),
        })
    }
}

/// The resolved training configuration (Burn `Config`), saved as `training.json`.
#[derive(Config, Debug)]
pub struct TrainingConfig {
    /// The network.
    pub model: NetConfig,
    /// Adam (Keras' defaults: beta1 0.9, beta2 0.999, epsilon 1e-7).
    pub optimizer: AdamConfig,
    /// Epochs to train.
    pub epochs: usize,
    /// Items per step.
    pub batch_size: usize,
    /// Learning rate.
    pub lr: f64,
    /// Seed of initial weights, shuffles and dropout masks.
    pub seed: u64,
    /// Shuffle the training items each epoch.
    pub shuffle: bool,
    /// Early-stopping patience on the validation loss.
    pub patience: Option<usize>,
    /// Keep the best-validation-loss weights as the final model.
    pub keep_best: bool,
    /// Class names in label order.
    pub classes: Vec<String>,
    // Issue 21; `None` (absent from older `training.json` files) is the report's choice.
    /// Input standardisation fitted on the training part (`standardize.json` holds it).
    pub standardize: Option<Standardize>,
    /// What picks the best epoch (`None`: the validation loss).
    pub monitor: Option<Monitor>,
    /// Learning-rate schedule (`None`: `lr` every step).
    pub schedule: Option<LrSchedule>,
    /// Decoupled weight decay (AdamW).
    pub weight_decay: Option<f64>,
}

impl TrainingConfig {
    /// The learning rate of step `step` (0-based) of epoch `epoch` (1-based) of
    /// `steps_per_epoch`.
    pub fn lr_at(&self, epoch: usize, step: usize, steps_per_epoch: usize) -> f64 {
        match &self.schedule {
            None => self.lr,
            Some(s) => s.lr(
                self.lr,
                (epoch - 1) * steps_per_epoch + step,
                steps_per_epoch,
                self.epochs,
            ),
        }
    }

    /// What picks the best epoch.
    pub fn monitor(&self) -> Monitor {
        self.monitor.unwrap_or_default()
    }
}

/// What a training run produced.
#[derive(Debug)]
pub struct TrainOutcome {
    /// Every finished epoch (including those of earlier, interrupted starts).
    pub history: Vec<EpochRecord>,
    /// Epoch with the best monitored value (`train.monitor`; the last epoch without a
    /// validation part).
    pub best_epoch: usize,
    /// Early stopping ended the run before `epochs`.
    pub stopped_early: bool,
    /// False when `stop_after` interrupted the run (no final model yet).
    pub finished: bool,
    /// The epoch the run resumed after (`None`: started from scratch).
    pub resumed_from: Option<usize>,
    /// The job whose checkpoint this run continued (`job <id>, epoch <n>`), when it did.
    pub continued_from: Option<String>,
    /// `model.bpk` in the run directory (final weights), when finished.
    pub model_path: PathBuf,
    /// The final network, for inference (weights as in `model_path`).
    pub model: Net,
    /// The resolved configuration.
    pub config: TrainingConfig,
    /// Backend and device that trained it, e.g. `flex` or `wgpu:0`.
    pub backend: String,
    /// Parameters of the network (Keras' "Total params": with batch norm, its statistics too).
    pub params: usize,
    /// Wall time of this call, seconds.
    pub seconds: f64,
    /// The standardisation fitted on the training part (`train.standardize`), to apply to any
    /// input of `model` (also written to the run directory).
    pub standardize: Option<Standardization>,
}

/// Trains `job` on `train`, validating on `valid` after every epoch, in `run`; resumes from its
/// checkpoint when a previous start of the same job left one.
pub fn train(
    job: &TrainJob,
    train: &Examples,
    valid: &Examples,
    run: &RunDir,
) -> Result<TrainOutcome> {
    let started = Instant::now();
    let config = job.training_config(&train.shape)?;
    check_examples(&config, train, valid)?;
    // Fitted on the training part only, then applied alike to every part and later input.
    let standardize = match config.standardize {
        Some(Standardize::PerFeature) => {
            let rows = standardize::rows_of(&train.shape, job.feature_rows);
            Some(Standardization::fit(train, rows)?)
        }
        _ => None,
    };
    let scaled = match &standardize {
        Some(s) => Some((s.apply(train)?, s.apply(valid)?)),
        None => None,
    };
    let (train, valid) = scaled.as_ref().map_or((train, valid), |(t, v)| (t, v));
    let backend = device::label(job.train.backend, job.train.device);
    let device = device::device(job.train.backend, job.train.device)?.autodiff();
    let cap = device::buffer_cap(job.train.backend, job.train.device)?;
    check_batch_fits(
        &config.model,
        config.batch_size,
        cap.as_ref(),
        "train.batch_size",
    )?;
    let reg = augment::Regularisation::resolve(
        &job.model,
        &job.train,
        &train.labels,
        config.classes.len(),
    );
    augment::write_training(run, &config, reg.as_ref())?;
    if let Some(s) = &standardize {
        s.write(&run.standardize_file())?;
    }

    let mut model = config
        .model
        .init(&device, &mut ChaCha8Rng::seed_from_u64(config.seed))?;
    let params = model.num_params();
    let mut optim = adam::init_decoupled(&config.optimizer, config.weight_decay.unwrap_or(0.0));
    let ckpt_dir = run.checkpoint_dir();
    let fingerprint = fingerprint(&config, reg.as_ref(), train, valid);
    let mut state = checkpoint::start(&ckpt_dir, &fingerprint, config.epochs, &backend)?;
    let resumed_from = (state.epoch > 0).then_some(state.epoch);
    if resumed_from.is_some() {
        (model, optim) = checkpoint::load(&ckpt_dir, &state, model, optim)?;
        if state.backend != backend {
            tracing::warn!(
                "resuming on {backend} a run trained so far on {}: results will not be \
                 bit-identical to an unbroken run",
                state.backend
            );
        }
        tracing::info!("resuming after epoch {} of {}", state.epoch, config.epochs);
    }
    run.write_history(&state.history)?;

    let mut finished = true;
    while state.epoch < config.epochs && !state.stopped_early {
        // `stop_after` (successive halving) pauses the run at that epoch, also when a checkpoint
        // is already there or past it: the run goes on from it later.
        if job.stop_after.is_some_and(|s| state.epoch >= s) {
            finished = false;
            break;
        }
        let epoch = state.epoch + 1;
        let record;
        (model, record) = epoch::run(
            epoch,
            job,
            &config,
            model,
            &mut optim,
            (train, valid),
            &device,
        )?;
        end_epoch(run, &config, &model, &optim, record, &backend, &mut state)?;
    }

    if finished {
        if let Some(best) = checkpoint::best_weights(&ckpt_dir, &state).filter(|_| config.keep_best)
        {
            model = checkpoint::load_weights(model, &best)?;
        }
        checkpoint::save_weights(&model, &run.model_file())?;
    }
    let best_epoch = if state.best_epoch == 0 {
        state.epoch
    } else {
        state.best_epoch
    };
    Ok(TrainOutcome {
        history: state.history,
        best_epoch,
        stopped_early: state.stopped_early,
        finished,
        resumed_from,
        continued_from: state.continued_from.clone(),
        model_path: run.model_file(),
        model: model.valid(),
        config,
        backend,
        params,
        seconds: started.elapsed().as_secs_f64(),
        standardize,
    })
}

/// After an epoch: early-stopping bookkeeping, the checkpoint (with the best weights when they
/// are kept), and the epoch's line in `history.csv`.
fn end_epoch(
    run: &RunDir,
    config: &TrainingConfig,
    model: &Net,
    optim: &burn::optim::ModuleOptimizer,
    record: EpochRecord,
    backend: &str,
    state: &mut State,
) -> Result<()> {
    let epoch = record.epoch;
    let monitor = config.monitor();
    let improved = state.track_monitored(monitor, &record, config.patience);
    if state.stopped_early {
        let what = match monitor {
            Monitor::ValLoss => "validation loss",
            Monitor::ValMacroF1 => "validation macro F1",
        };
        tracing::info!(
            "early stopping after epoch {epoch}: no better {what} since epoch {}",
            state.best_epoch
        );
    }
    state.backend = backend.to_string();
    state.history.push(record.clone());
    let best = improved && config.keep_best;
    checkpoint::save(&run.checkpoint_dir(), epoch, model, optim, best, state)?;
    run.append_history(&record)
}

/// The parts must be usable: labels within the classes, one item shape, a validation part where
/// early stopping or keep-best need one.
fn check_examples(config: &TrainingConfig, train: &Examples, valid: &Examples) -> Result<()> {
    check_part(config, train, "training")?;
    if !valid.is_empty() {
        check_part(config, valid, "validation")?;
        if valid.shape != train.shape {
            return Err(Error::Data(format!(
                "validation items have shape {:?}, training items {:?}",
                valid.shape, train.shape
            )));
        }
    } else if config.patience.is_some() || config.keep_best {
        return Err(Error::config(
            Path::new("(train job)"),
            "train.patience",
            "train.patience and train.keep_best need a validation part (split.valid > 0)",
        ));
    }
    Ok(())
}

/// The configuration as the fingerprint reads it: the epoch count left out where extending the
/// run is possible, and keys added later left out while unset, so the checkpoints of runs
/// started before them still resume (the text is serde_json's pretty form).
fn fingerprint_text(config: &TrainingConfig) -> String {
    let mut c = config.clone();
    if c.schedule.is_none_or(|s| s.kind == ScheduleKind::Constant) {
        c.epochs = 0;
    }
    let mut text = c.to_string();
    for key in ["standardize", "monitor", "schedule", "weight_decay"] {
        text = text.replace(&format!(",\n  \"{key}\": null"), "");
    }
    text
}

fn check_part(config: &TrainingConfig, x: &Examples, what: &str) -> Result<()> {
    let n = config.classes.len();
    if x.is_empty() {
        return Err(Error::Data(format!("the {what} part is empty")));
    }
    if let Some((i, &l)) = x.labels.iter().enumerate().find(|(_, &l)| l >= n) {
        return Err(Error::Data(format!(
            "{what} item {i} has label {l}, but there are only {n} classes"
        )));
    }
    Ok(())
}

/// Digest of what decides the result except the epoch count (so a finished run can be extended):
/// the configuration, the regularisation (when on: a default run's digest is as before) and the
/// data. A schedule that spans the run makes the epoch count part of it (more epochs change the
/// rate of every step).
fn fingerprint(
    config: &TrainingConfig,
    reg: Option<&augment::Regularisation>,
    train: &Examples,
    valid: &Examples,
) -> String {
    let mut h = Sha256::new();
    h.update(fingerprint_text(config).as_bytes());
    if let Some(r) = reg {
        h.update(serde_json::to_string(r).unwrap_or_default().as_bytes());
    }
    h.update(train.digest().as_bytes());
    h.update(valid.digest().as_bytes());
    hex_prefix(&h.finalize(), 12)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PoolConfig;

    fn config(train: TrainConfig) -> TrainingConfig {
        let model = ModelConfig {
            filters: vec![4],
            kernel: 3,
            dense: 8,
            pool: PoolConfig {
                size: Some(2),
                ..PoolConfig::default()
            },
            ..ModelConfig::default()
        };
        TrainJob::new(model, train, vec!["a".into(), "b".into()])
            .training_config(&[24])
            .unwrap()
    }

    #[test]
    fn fingerprint_text_is_the_older_one_while_new_keys_are_unset() {
        let plain = fingerprint_text(&config(TrainConfig::default()));
        for key in ["standardize", "monitor", "schedule", "weight_decay"] {
            assert!(!plain.contains(&format!("\n  \"{key}\"")), "{plain}");
        }
        // What the text was before those keys: Burn puts optional fields last, and the last
        // one was `patience`.
        assert!(plain.ends_with("\"patience\": null\n}"), "{plain}");
        assert!(plain.contains("\"epochs\": 0,"), "{plain}");
        let cosine = fingerprint_text(&config(TrainConfig {
            schedule: ScheduleKind::Cosine,
            weight_decay: 0.01,
            ..TrainConfig::default()
        }));
        assert!(cosine.contains("\"epochs\": 60,"), "{cosine}");
        assert!(cosine.contains("\n  \"weight_decay\": 0.01"), "{cosine}");
        assert!(!cosine.contains("\"monitor\": null"), "{cosine}");
    }
}
