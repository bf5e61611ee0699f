//! Training and inference: backend / device choice, the training loop (Adam on cross-entropy,
//! seeded shuffles and dropout, validation every epoch, early stopping, keep-best), per-epoch
//! checkpoints with exact resume, `history.csv`, and prediction from a finished run.
//!
//! A run directory gets, in this order:
//! - `training.json`: the resolved [`TrainingConfig`] (model, optimizer, classes), written first;
//! - `history.csv`: `epoch,loss,accuracy,val_loss,val_accuracy,seconds`, one line per epoch as it
//!   finishes;
//! - `checkpoint/`: the last finished epoch (see [`checkpoint`]);
//! - `model.bpk`: the final weights (the last epoch's, or the best validation loss's with
//!   `keep_best`), written last.
//!
//! Reproducibility: every random draw comes from ChaCha8 generators derived from the seed —
//! stream 0 for the initial weights, stream `e` for epoch `e`'s shuffle and dropout masks — so
//! an epoch does not depend on how the run got there, and a resumed run replays exactly what an
//! unbroken one does. On `flex` the same config and seed give bit-identical results (tested);
//! GPU reductions are not ordered, so `wgpu` runs agree only approximately.

pub mod adam;
pub mod checkpoint;
mod examples;

pub use checkpoint::EpochRecord;
pub use examples::Examples;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::config::Config;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};
use indicatif::ProgressStyle;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

use crate::config::{BackendKind, ModelConfig, TrainConfig};
use crate::error::{Error, Result};
use crate::model::{thousands, Net, NetConfig, SummaryRow};
use checkpoint::State;

/// Tells mimalloc (the `ser` binary's global allocator, and the examples') never to return freed
/// memory to the OS, so that a training step's large buffers are not page-faulted in again on
/// the next step. Call it once at start-up; harmless where mimalloc is linked but not the
/// global allocator.
pub fn keep_freed_memory() {
    extern "C" {
        /// mimalloc's `mi_option_set` (linked in with the allocator).
        fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    }
    /// `mi_option_purge_delay` in mimalloc v3's `mi_option_e`; -1: never purge.
    const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;
    // SAFETY: sets a plain option value; mimalloc reads it when it next purges.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

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
        }
    }

    /// The Burn configuration of this job for items of `input_shape`; fails when a value is out
    /// of range (as [`crate::config::Config::validate`] does) or the network does not fit the
    /// input.
    pub fn training_config(&self, input_shape: &[usize]) -> Result<TrainingConfig> {
        // The sections were checked against their file when read; jobs built in code get the
        // same checks, reported against this placeholder origin.
        let origin = Path::new("(train job)");
        self.model.validate(origin)?;
        self.train.validate(origin)?;
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
}

/// What a training run produced.
#[derive(Debug)]
pub struct TrainOutcome {
    /// Every finished epoch (including those of earlier, interrupted starts).
    pub history: Vec<EpochRecord>,
    /// Epoch with the lowest validation loss (the last epoch without a validation part).
    pub best_epoch: usize,
    /// Early stopping ended the run before `epochs`.
    pub stopped_early: bool,
    /// False when `stop_after` interrupted the run (no final model yet).
    pub finished: bool,
    /// The epoch the run resumed after (`None`: started from scratch).
    pub resumed_from: Option<usize>,
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
}

/// The device for `kind`, checked to work. For `wgpu`, `index` 0 is the best adapter wgpu
/// finds (a discrete GPU first, else an integrated one, else a software driver such as Mesa's
/// lavapipe; `CUBECL_WGPU_DEFAULT_DEVICE` overrides), and `index` N > 0 the N-th discrete GPU.
pub fn device(kind: BackendKind, index: usize) -> Result<Device> {
    match kind {
        BackendKind::Flex => Ok(Device::flex()),
        BackendKind::Wgpu => wgpu_device(index),
    }
}

/// `flex` or `wgpu:N`, as recorded in checkpoints and outcomes.
pub fn backend_label(kind: BackendKind, index: usize) -> String {
    match kind {
        BackendKind::Flex => "flex".into(),
        BackendKind::Wgpu => format!("wgpu:{index}"),
    }
}

/// The wgpu runtime of adapter `index` (0: the best one, N: the N-th discrete GPU), brought up
/// once per process and shared: Burn's device (training, inference) and the raw wgpu handles of
/// the same device and queue (the feature kernels, `features::gpu`). Going through Burn's
/// `init_with_setup` is what makes the two one device; a lazily created Burn device could not
/// hand its handles out.
#[cfg(feature = "wgpu")]
pub fn wgpu_runtime(index: usize) -> Result<(Device, burn::tensor::wgpu::WgpuSetup)> {
    use burn::tensor::wgpu::WgpuSetup;
    use burn::tensor::DeviceKind;
    use std::sync::Mutex;
    type Runtimes = Vec<(usize, Device, WgpuSetup)>;
    static RUNTIMES: Mutex<Runtimes> = Mutex::new(Vec::new());
    // Held while initialising, so two threads never register the same adapter twice (the
    // second registration would fail).
    let mut runtimes = RUNTIMES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, device, setup)) = runtimes.iter().find(|(i, ..)| *i == index) {
        return Ok((device.clone(), setup.clone()));
    }
    let kind = match index {
        0 => DeviceKind::DefaultDevice,
        n => DeviceKind::DiscreteGpu(n),
    };
    let result = quietly(|| Device::wgpu_options().device_kind(kind).init_with_setup());
    let why = match result {
        Ok(Ok((device, setup))) => {
            runtimes.push((index, device.clone(), setup.clone()));
            return Ok((device, setup));
        }
        Ok(Err(e)) => e.to_string(),
        Err(panic) => panic,
    };
    Err(wgpu_unusable(index, &why))
}

/// Runs `f`, turning a panic into its message without printing the default panic report (wgpu
/// and cubecl report some failures by panicking).
pub(crate) fn quietly<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    result.map_err(|payload| {
        crate::error::panic_message(&*payload).unwrap_or_else(|| "unknown failure".into())
    })
}

#[cfg(feature = "wgpu")]
fn wgpu_unusable(index: usize, why: &str) -> Error {
    let which = match index {
        0 => "no wgpu adapter (GPU or software Vulkan driver) is".to_string(),
        n => format!("discrete GPU #{n} is not"),
    };
    Error::Usage(format!(
        "--backend wgpu --device {index}: {which} usable ({why}); use --backend flex, \
         another --device, or install a Vulkan driver (Debian: mesa-vulkan-drivers)"
    ))
}

#[cfg(feature = "wgpu")]
fn wgpu_device(index: usize) -> Result<Device> {
    let (device, _) = wgpu_runtime(index)?;
    // Initialising acquired the device; a first tensor also proves that its kernels compile and
    // run, and fails here with one clear error rather than later with a backtrace.
    let probe = device.clone();
    match quietly(move || Tensor::<1>::zeros([1], &probe).into_data()) {
        Ok(_) => Ok(device),
        Err(why) => Err(wgpu_unusable(index, &why)),
    }
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device(_index: usize) -> Result<Device> {
    Err(Error::without_wgpu("or use --backend flex"))
}

/// The largest buffer one tensor may take on a device: wgpu binds each tensor as one storage
/// buffer and its adapter caps a binding (Mesa's lavapipe at 128 MiB); the CPU has no such cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BufferCap {
    /// The most bytes of one buffer.
    pub bytes: u64,
    /// The adapter, for messages (`wgpu:0 (llvmpipe (LLVM 15.0.6, 256 bits))`).
    pub device: String,
}

/// The [`BufferCap`] of the `kind` device `index`; `None` on the CPU.
pub fn buffer_cap(kind: BackendKind, index: usize) -> Result<Option<BufferCap>> {
    match kind {
        BackendKind::Flex => Ok(None),
        BackendKind::Wgpu => wgpu_buffer_cap(index).map(Some),
    }
}

#[cfg(feature = "wgpu")]
fn wgpu_buffer_cap(index: usize) -> Result<BufferCap> {
    let (_, setup) = wgpu_runtime(index)?;
    // What cubecl allocates at the most in one go (its page size), from the same two limits.
    let limits = setup.device.limits();
    Ok(BufferCap {
        bytes: limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size),
        device: format!("wgpu:{index} ({})", setup.adapter.get_info().name),
    })
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_buffer_cap(_index: usize) -> Result<BufferCap> {
    Err(Error::without_wgpu("or use --backend flex"))
}

/// Checks, before any work, that each layer's output for a batch of `batch` items fits in one
/// buffer under `cap`; `key` names the setting to lower. A layer over the cap would otherwise
/// fail deep inside Burn's kernels ("can't allocate buffer of size ...", or every candidate of
/// the conv autotune failing) after minutes of setup.
pub fn check_batch_fits(
    model: &NetConfig,
    batch: usize,
    cap: Option<&BufferCap>,
    key: &str,
) -> Result<()> {
    let Some(cap) = cap else { return Ok(()) };
    let (row, per_item) = largest_output(model)?;
    check_output_fits(&row, per_item, batch, cap, key)
}

/// The largest batch, up to `batch`, whose layer outputs fit under `cap` (at least 1: a model
/// that fails even then fails with [`check_batch_fits`]'s message).
pub fn batch_that_fits(model: &NetConfig, batch: usize, cap: Option<&BufferCap>) -> Result<usize> {
    let Some(cap) = cap else { return Ok(batch) };
    let (row, per_item) = largest_output(model)?;
    let fits = usize::try_from(cap.bytes / per_item).unwrap_or(usize::MAX);
    let batch = batch.min(fits).max(1);
    check_output_fits(&row, per_item, batch, cap, "the batch")?;
    Ok(batch)
}

/// [`check_batch_fits`] for a model's largest output `row` of `per_item` bytes an item.
fn check_output_fits(
    row: &SummaryRow,
    per_item: u64,
    batch: usize,
    cap: &BufferCap,
    key: &str,
) -> Result<()> {
    let bytes = per_item * batch as u64;
    if bytes <= cap.bytes {
        return Ok(());
    }
    let fits = cap.bytes / per_item;
    let fix = if fits == 0 {
        "a smaller model (fewer filters, or a larger pool stride)".to_string()
    } else {
        format!("{key} = {fits} or less")
    };
    Err(Error::Usage(format!(
        "{key} = {batch}: layer {} outputs {} bytes per batch ({batch} × {:?} f32), more than \
         the {} bytes one buffer may hold on {}; use {fix}, or --backend flex",
        row.layer,
        thousands(bytes as usize),
        row.output,
        thousands(cap.bytes as usize),
        cap.device
    )))
}

/// The layer with the largest output and its bytes per item (f32).
fn largest_output(model: &NetConfig) -> Result<(SummaryRow, u64)> {
    let summary = model.summary()?;
    let item_bytes = |r: &SummaryRow| r.output.iter().product::<usize>() as u64 * 4;
    let row = summary
        .rows
        .into_iter()
        .max_by_key(item_bytes)
        .ok_or_else(|| Error::Usage("the model has no layers".into()))?;
    let bytes = item_bytes(&row).max(1);
    Ok((row, bytes))
}

/// Waits until `device` has run all the work queued on it (a no-op on the CPU); for timings, as
/// a GPU backend returns before its kernels have run, and even a read-back does not always wait
/// for everything before it (seen with Burn 0.22's wgpu on lavapipe).
pub fn wait_for(device: &Device) -> Result<()> {
    device
        .sync()
        .map_err(|e| Error::Usage(format!("the {device:?} device failed: {e:?}")))
}

/// Trains `job` on `train`, validating on `valid` after every epoch, in `run_dir`; resumes from
/// `run_dir/checkpoint` when a previous start of the same job left one.
pub fn train(
    job: &TrainJob,
    train: &Examples,
    valid: &Examples,
    run_dir: &Path,
) -> Result<TrainOutcome> {
    let started = Instant::now();
    let config = job.training_config(&train.shape)?;
    check_examples(&config, train, "training")?;
    if !valid.is_empty() {
        check_examples(&config, valid, "validation")?;
        if valid.shape != train.shape {
            return Err(Error::Usage(format!(
                "validation items have shape {:?}, training items {:?}",
                valid.shape, train.shape
            )));
        }
    } else if config.patience.is_some() || config.keep_best {
        return Err(Error::Usage(
            "train.patience and train.keep_best need a validation part (split.valid > 0)".into(),
        ));
    }
    let backend = backend_label(job.train.backend, job.train.device);
    let device = device(job.train.backend, job.train.device)?.autodiff();
    let cap = buffer_cap(job.train.backend, job.train.device)?;
    check_batch_fits(
        &config.model,
        config.batch_size,
        cap.as_ref(),
        "train.batch_size",
    )?;

    let ckpt_dir = run_dir.join("checkpoint");
    fs::create_dir_all(&ckpt_dir).map_err(|e| Error::io(&ckpt_dir, e))?;
    checkpoint::write_atomic(
        &run_dir.join("training.json"),
        config.to_string().as_bytes(),
    )?;
    let fingerprint = fingerprint(&config, train, valid);

    let mut init_rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut model = config.model.init(&device, &mut init_rng)?;
    let params = model.num_params();
    let mut optim = adam::init(&config.optimizer);

    let mut state = match checkpoint::read_state(&ckpt_dir)? {
        Some(s) if s.fingerprint != fingerprint => {
            return Err(Error::train(
                &ckpt_dir,
                "this checkpoint was made with another config or other data; \
                 use a new run directory, or delete checkpoint/ to start over",
            ))
        }
        Some(s) if s.epoch > config.epochs => {
            return Err(Error::train(
                &ckpt_dir,
                format!(
                "the checkpoint is at epoch {}, past train.epochs = {}; use a new run directory",
                s.epoch, config.epochs
            ),
            ))
        }
        Some(s) => s,
        None => State {
            version: checkpoint::STATE_VERSION,
            fingerprint,
            epoch: 0,
            dir: String::new(),
            history: Vec::new(),
            best_epoch: 0,
            best_val_loss: None,
            best_file: None,
            since_best: 0,
            stopped_early: false,
            backend: backend.clone(),
        },
    };
    let resumed_from = (state.epoch > 0).then_some(state.epoch);
    if state.epoch > 0 {
        let dir = ckpt_dir.join(&state.dir);
        model = load_weights(model, &dir.join("model.bpk"))?;
        let opt_path = dir.join("optimizer.bpk");
        optim = optim
            .load(&opt_path)
            .map_err(|e| Error::train(&opt_path, format!("cannot load optimizer state: {e}")))?;
        if state.backend != backend {
            tracing::warn!(
                "resuming on {backend} a run trained so far on {}: results will not be bit-identical \
                 to an unbroken run",
                state.backend
            );
        }
        tracing::info!("resuming after epoch {} of {}", state.epoch, config.epochs);
    }
    let history_path = run_dir.join("history.csv");
    checkpoint::write_history(&history_path, &state.history)?;

    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let infer_device = device.clone().without_autodiff();
    let mut finished = true;
    while state.epoch < config.epochs && !state.stopped_early {
        let epoch = state.epoch + 1;
        let t0 = Instant::now();
        let mut rng = epoch_rng(config.seed, epoch);
        let mut order: Vec<usize> = (0..train.len()).collect();
        if config.shuffle {
            order.shuffle(&mut rng);
        }
        let steps = order.len().div_ceil(config.batch_size);
        let pb = epoch_bar(job, steps, epoch, config.epochs);
        let (mut loss_sum, mut correct) = (0.0f64, 0usize);
        let keep = 1.0 - config.model.dropout();
        let dense = config.model.dense();
        for (step, idx) in order.chunks(config.batch_size).enumerate() {
            let b = idx.len();
            let (x, y) = batch_tensors(train, idx, &device);
            let mask = dropout_mask(&mut rng, b, dense, keep, &device);
            let logits = model.forward(x, mask);
            let loss = loss_fn.forward(logits.clone(), y);
            let batch_loss = f64::from(loss.clone().detach().into_scalar::<f32>());
            correct += count_correct(logits.detach(), &train.labels, idx);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(config.lr, model, grads);
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
        let (val_loss, val_accuracy) = if valid.is_empty() {
            (f64::NAN, f64::NAN)
        } else {
            validate(&model.valid(), valid, config.batch_size, &infer_device)
        };
        // GPU work is queued: wait for it, so that the epoch's seconds are its own.
        wait_for(&device)?;
        let record = EpochRecord {
            epoch,
            loss: loss_sum / train.len() as f64,
            accuracy: correct as f64 / train.len() as f64,
            val_loss,
            val_accuracy,
            seconds: t0.elapsed().as_secs_f64(),
        };
        if job.label.is_some() {
            if let Some(pb) = &pb {
                pb.finish_and_clear();
            }
        } else if let Some(pb) = pb {
            pb.finish_with_message(format!(
                "loss {:.4} acc {:.4} val_loss {:.4} val_acc {:.4} ({:.1} s)",
                record.loss, record.accuracy, val_loss, val_accuracy, record.seconds
            ));
        }
        tracing::debug!(
            "epoch {epoch}: loss {:.4} acc {:.4} val_loss {val_loss:.4} val_acc {val_accuracy:.4}",
            record.loss,
            record.accuracy
        );

        let improved = track_best(&mut state, epoch, val_loss, config.patience);
        if state.stopped_early {
            tracing::info!(
                "early stopping after epoch {epoch}: no better validation loss since epoch {}",
                state.best_epoch
            );
        }
        let dir_name = checkpoint::epoch_dir_name(epoch);
        checkpoint::commit_dir(&ckpt_dir, &dir_name, |tmp| {
            save_weights(&model, &tmp.join("model.bpk"))?;
            let p = tmp.join("optimizer.bpk");
            optim
                .save(&p)
                .map_err(|e| Error::train(&p, format!("cannot save optimizer state: {e}")))
        })?;
        if improved && config.keep_best {
            let name = checkpoint::best_file_name(epoch);
            save_weights(&model, &ckpt_dir.join(&name))?;
            state.best_file = Some(name);
        }
        state.epoch = epoch;
        state.dir = dir_name;
        state.backend = backend.clone();
        state.history.push(record.clone());
        checkpoint::write_state(&ckpt_dir, &state)?;
        checkpoint::prune(&ckpt_dir, &state)?;
        checkpoint::append_history(&history_path, &record)?;
        if job.stop_after == Some(epoch) && epoch < config.epochs && !state.stopped_early {
            finished = false;
            break;
        }
    }

    let model_path = run_dir.join("model.bpk");
    if finished {
        if config.keep_best {
            if let Some(best) = &state.best_file {
                model = load_weights(model, &ckpt_dir.join(best))?;
            }
        }
        save_weights(&model, &model_path)?;
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
        model_path,
        model: model.valid(),
        config,
        backend,
        params,
        seconds: started.elapsed().as_secs_f64(),
    })
}

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
}

/// Loads `training.json` and `model.bpk` from a finished run onto the given backend.
pub fn load(run_dir: &Path, backend: BackendKind, index: usize) -> Result<Trained> {
    let cfg_path = run_dir.join("training.json");
    let config = TrainingConfig::load(&cfg_path).map_err(|e| {
        Error::train(
            &cfg_path,
            format!("cannot read the run's training config: {e}"),
        )
    })?;
    let device = device(backend, index)?;
    // Inference in batches of the run's batch size, or of fewer items where the device cannot
    // hold that many in one buffer (the probabilities do not depend on the batch).
    let cap = buffer_cap(backend, index)?;
    let batch_size = batch_that_fits(&config.model, config.batch_size, cap.as_ref())?;
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let model = config.model.init(&device, &mut rng)?;
    let model_path = run_dir.join("model.bpk");
    if !model_path.exists() {
        return Err(Error::train(
            &model_path,
            "no final model: the run has not finished (train it again to resume)",
        ));
    }
    let model = load_weights(model, &model_path)?;
    Ok(Trained {
        config,
        model,
        device,
        batch_size,
    })
}

impl Trained {
    /// Class probabilities for each item of `x`, `batch_size` items at a time.
    pub fn predict(&self, x: &Examples, batch_size: usize) -> Result<Vec<Vec<f32>>> {
        let expected = self.config.model.input_shape();
        if x.shape != expected {
            return Err(Error::Usage(format!(
                "items have shape {:?}, but the model was trained on {expected:?}",
                x.shape
            )));
        }
        Ok(predict_with(
            &self.model,
            x,
            batch_size.max(1),
            &self.device,
        ))
    }
}

/// Class probabilities for `x` from the finished run in `run_dir`, on the CPU.
pub fn predict(run_dir: &Path, x: &Examples) -> Result<Vec<Vec<f32>>> {
    let trained = load(run_dir, BackendKind::Flex, 0)?;
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

fn check_examples(config: &TrainingConfig, x: &Examples, what: &str) -> Result<()> {
    let n = config.classes.len();
    if x.is_empty() {
        return Err(Error::Usage(format!("the {what} part is empty")));
    }
    if let Some((i, &l)) = x.labels.iter().enumerate().find(|(_, &l)| l >= n) {
        return Err(Error::Usage(format!(
            "{what} item {i} has label {l}, but there are only {n} classes"
        )));
    }
    Ok(())
}

/// A dropout mask for `b` items × `units`: each value is `1 / keep` with probability `keep`,
/// else 0 (inverted dropout, as Keras and Burn scale it); `None` when nothing is dropped.
fn dropout_mask(
    rng: &mut ChaCha8Rng,
    b: usize,
    units: usize,
    keep: f64,
    device: &Device,
) -> Option<Tensor<2>> {
    if keep >= 1.0 {
        return None;
    }
    let scale = (1.0 / keep) as f32;
    let values: Vec<f32> = (0..b * units)
        .map(|_| {
            if rng.random::<f64>() < keep {
                scale
            } else {
                0.0
            }
        })
        .collect();
    Some(Tensor::from_data(
        TensorData::new(values, [b, units]),
        device,
    ))
}

/// Updates the best-epoch bookkeeping with `epoch`'s validation loss, as Keras' `EarlyStopping`
/// (monitor `val_loss`, `min_delta` 0) does; returns whether the loss improved.
fn track_best(state: &mut State, epoch: usize, val_loss: f64, patience: Option<usize>) -> bool {
    // NaN never improves (a diverged or absent validation).
    let improved = val_loss < state.best_val_loss.unwrap_or(f64::INFINITY);
    if improved {
        state.best_epoch = epoch;
        state.best_val_loss = Some(val_loss);
        state.since_best = 0;
    } else {
        state.since_best += 1;
        if patience.is_some_and(|p| state.since_best >= p) {
            state.stopped_early = true;
        }
    }
    improved
}

/// Generator of epoch `epoch`: the seed's ChaCha8 stream `epoch` (stream 0 is the weights').
fn epoch_rng(seed: u64, epoch: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(epoch as u64);
    rng
}

fn batch_tensors(x: &Examples, idx: &[usize], device: &Device) -> (Tensor<2>, Tensor<1, Int>) {
    let (data, labels) = x.gather(idx);
    let b = idx.len();
    (
        Tensor::from_data(TensorData::new(data, [b, x.item_len()]), device),
        Tensor::from_data(TensorData::new(labels, [b]), device),
    )
}

fn count_correct(logits: Tensor<2>, labels: &[usize], idx: &[usize]) -> usize {
    let pred = logits.argmax(1).into_data_as::<i64>();
    pred.iter::<i64>()
        .zip(idx)
        .filter(|(p, &i)| *p == labels[i] as i64)
        .count()
}

/// Mean loss and accuracy of `model` (inference mode) over `x`.
fn validate(model: &Net, x: &Examples, batch_size: usize, device: &Device) -> (f64, f64) {
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let all: Vec<usize> = (0..x.len()).collect();
    let (mut loss_sum, mut correct) = (0.0f64, 0usize);
    for idx in all.chunks(batch_size) {
        let (t, y) = batch_tensors(x, idx, device);
        let logits = model.forward(t, None);
        let loss = loss_fn.forward(logits.clone(), y).into_scalar::<f32>();
        loss_sum += f64::from(loss) * idx.len() as f64;
        correct += count_correct(logits, &x.labels, idx);
    }
    (loss_sum / x.len() as f64, correct as f64 / x.len() as f64)
}

fn epoch_bar(
    job: &TrainJob,
    steps: usize,
    epoch: usize,
    epochs: usize,
) -> Option<indicatif::ProgressBar> {
    if job.quiet {
        return None;
    }
    let pb = crate::progress::bar(steps as u64, "");
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

fn save_weights(model: &Net, path: &Path) -> Result<()> {
    model
        .clone()
        .save_file(path)
        .map_err(|e| Error::train(path, format!("cannot save weights: {e}")))
}

fn load_weights(model: Net, path: &Path) -> Result<Net> {
    model
        .try_load_file(path)
        .map_err(|e| Error::train(path, format!("cannot load weights: {e}")))
}

/// Digest of what decides the result except the epoch count (so a finished run can be extended):
/// the configuration and the data.
fn fingerprint(config: &TrainingConfig, train: &Examples, valid: &Examples) -> String {
    let mut c = config.clone();
    c.epochs = 0;
    let mut h = Sha256::new();
    h.update(c.to_string().as_bytes());
    h.update(train.digest().as_bytes());
    h.update(valid.digest().as_bytes());
    crate::cache::hex_prefix(&h.finalize(), 12)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_over_the_buffer_cap_is_refused_naming_layer_size_and_fix() {
        // The bench's 2D (128, 64, 32) network: the first conv outputs 128×110×128 f32 per
        // item, 7,208,960 bytes; lavapipe caps one buffer at 128 MiB.
        let model = NetConfig::Cnn2d(crate::model::Cnn2dConfig::new(
            [128, 110],
            6,
            vec![128, 64, 32],
        ));
        let cap = BufferCap {
            bytes: 128 << 20,
            device: "wgpu:0 (llvmpipe)".into(),
        };
        let e = check_batch_fits(&model, 32, Some(&cap), "--batch")
            .unwrap_err()
            .to_string();
        for part in [
            "--batch = 32",
            "230,686,720 bytes",
            "[128, 110, 128]",
            "134,217,728 bytes",
            "wgpu:0 (llvmpipe)",
            "--batch = 18 or less",
        ] {
            assert!(e.contains(part), "{part:?} not in {e}");
        }
        assert!(e.contains("conv2d"), "{e}");
        check_batch_fits(&model, 18, Some(&cap), "--batch").unwrap();
        check_batch_fits(&model, 4096, None, "--batch").unwrap();
        assert_eq!(batch_that_fits(&model, 32, Some(&cap)).unwrap(), 18);
        assert_eq!(batch_that_fits(&model, 8, Some(&cap)).unwrap(), 8);
        assert_eq!(batch_that_fits(&model, 32, None).unwrap(), 32);
        let tiny = BufferCap {
            bytes: 1 << 20,
            ..cap
        };
        let e = batch_that_fits(&model, 32, Some(&tiny))
            .unwrap_err()
            .to_string();
        assert!(e.contains("a smaller model"), "{e}");
    }

    fn fresh() -> State {
        State {
            version: checkpoint::STATE_VERSION,
            fingerprint: String::new(),
            epoch: 0,
            dir: String::new(),
            history: vec![],
            best_epoch: 0,
            best_val_loss: None,
            best_file: None,
            since_best: 0,
            stopped_early: false,
            backend: "flex".into(),
        }
    }

    #[test]
    fn early_stopping_follows_keras() {
        // patience 2: improves at 1, 2; worse at 3, 4 -> stop after 4 with best 2.
        let mut s = fresh();
        let losses = [1.0, 0.9, 0.95, 0.9, 0.5];
        let mut stopped_at = None;
        for (i, &l) in losses.iter().enumerate() {
            track_best(&mut s, i + 1, l, Some(2));
            if s.stopped_early {
                stopped_at = Some(i + 1);
                break;
            }
        }
        assert_eq!(stopped_at, Some(4));
        assert_eq!((s.best_epoch, s.best_val_loss), (2, Some(0.9)));
        // equal is not better (min_delta 0 means strictly lower)
        let mut s = fresh();
        assert!(track_best(&mut s, 1, 0.5, None));
        assert!(!track_best(&mut s, 2, 0.5, None));
        assert!(!track_best(&mut s, 3, f64::NAN, None));
        assert_eq!((s.best_epoch, s.since_best, s.stopped_early), (1, 2, false));
    }

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

    #[cfg(not(feature = "wgpu"))]
    #[test]
    fn wgpu_without_the_feature_says_how_to_rebuild() {
        let e = device(BackendKind::Wgpu, 0).unwrap_err().to_string();
        assert!(e.contains("--features wgpu"), "{e}");
    }
}
