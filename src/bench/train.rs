//! `ser bench train`: training and inference speed of the report's networks on the CPU backend
//! (`flex`), against Keras (the peer's `time_steps.py`) on the same cores in the same run.
//!
//! One fixed batch of 32 items is trained on repeatedly, as the peer does: after `warmup` steps,
//! each of `steps` steps (forward with a dropout mask, cross-entropy, backward, Adam) is timed and
//! the median is reported, then the same for inference (class probabilities of the batch).
//!
//! With `rounds` > 1, ours and Keras take turns that many times and each ratio is the median of
//! the per-round ratios: on a shared machine the speed of both drifts by ±30% over minutes
//! (measured), and a ratio of two measurements taken side by side drifts much less than either.
//! `--backend wgpu` adds rows for Burn's wgpu backend (its own kernels) beside the CPU ones. The
//! batch is real EmoDB features computed by our extractor when a corpus folder is given (the
//! peer uses its own librosa features of the same clips), else fixed random data of the right
//! shape and range. Neither the values nor the labels change the amount of work.
//!
//! Models: the report's 1D network (filters 512, 512, 128 on the 220-value ZCR + RMS vector) and
//! the 2D network with filters 128, 64, 32 on the 128 × 110 log-mel matrix, 6 classes each.
//! Seconds per epoch are the median step times the steps of one CREMA-D epoch (4,948 training
//! clips at batch 32: 155 steps), without validation.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::base::device::{self, BackendKind};
use crate::base::error::quietly;
use crate::base::{progress, Error, Result};
use crate::config::{AudioConfig, FeatureConfig};
use crate::features::Extractor;
use crate::model::{self, Cnn1dConfig, Cnn2dConfig, NetConfig};

/// Training clips of CREMA-D in the report's split (70% of 7,442, then 95% of that).
pub const CREMA_D_TRAIN_CLIPS: usize = 4948;

/// The speakers of the EmoDB clips in `../shared/data/emodb` (the peer's `--speakers`).
pub(crate) const PEER_SPEAKERS: &str = "03,08,09,10,11,12,13";

/// Which network to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum BenchModel {
    /// 1D CNN, filters 512, 512, 128, on 220 values.
    #[serde(rename = "1d")]
    Cnn1d,
    /// 2D CNN, filters 128, 64, 32, on 128 × 110.
    #[serde(rename = "2d")]
    Cnn2d,
}

impl BenchModel {
    /// Conv filters per layer.
    pub fn filters(self) -> [usize; 3] {
        match self {
            BenchModel::Cnn1d => [512, 512, 128],
            BenchModel::Cnn2d => [128, 64, 32],
        }
    }

    /// `1d (512,512,128)`.
    pub fn label(self) -> String {
        let [a, b, c] = self.filters();
        match self {
            BenchModel::Cnn1d => format!("1d ({a},{b},{c})"),
            BenchModel::Cnn2d => format!("2d ({a},{b},{c})"),
        }
    }

    fn config(self) -> NetConfig {
        match self {
            BenchModel::Cnn1d => NetConfig::Cnn1d(Cnn1dConfig::new(220, 6, self.filters().into())),
            BenchModel::Cnn2d => {
                NetConfig::Cnn2d(Cnn2dConfig::new([128, 110], 6, self.filters().into()))
            }
        }
    }

    fn peer_name(self) -> &'static str {
        match self {
            BenchModel::Cnn1d => "1d",
            BenchModel::Cnn2d => "2d",
        }
    }
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct TrainBench {
    /// The networks, in order.
    pub models: Vec<BenchModel>,
    /// Timed steps (the median is reported).
    pub steps: usize,
    /// Untimed steps first.
    pub warmup: usize,
    /// Items per step.
    pub batch: usize,
    /// EmoDB folder for the batch's features; `None`: fixed random data.
    pub corpus: Option<PathBuf>,
    /// The peer's folder (with `.venv` and the feature cache); `None`: ours only.
    pub peer: Option<PathBuf>,
    /// Also time ours with Burn's own conv and pool kernels (the state before `model::ops`).
    pub burn_kernels: bool,
    /// Backends of ours, in order (`flex` is the CPU).
    pub backends: Vec<BackendKind>,
    /// wgpu adapter (see [`crate::base::device::device`]).
    pub device: usize,
    /// Turns of ours then Keras (see the module doc).
    pub rounds: usize,
}

/// Timings of one implementation.
#[derive(Debug, Clone, Serialize)]
pub struct Timing {
    /// Who: `ser flex (own kernels)`, `ser flex (burn kernels)`, `ser wgpu:0`, `keras`.
    pub name: String,
    /// Seconds of each warm-up training step.
    pub warmup_steps_s: Vec<f64>,
    /// Seconds of each timed training step.
    pub steps_s: Vec<f64>,
    pub median_step_s: f64,
    /// `batch / median_step_s`.
    pub train_samples_per_s: f64,
    /// `median_step_s × 155` (one CREMA-D training epoch, no validation).
    pub crema_d_epoch_s: f64,
    /// Seconds of each timed inference batch.
    pub infer_batches_s: Vec<f64>,
    pub median_infer_batch_s: f64,
    /// `batch / median_infer_batch_s`.
    pub infer_clips_per_s: f64,
    /// Per round: median step seconds and median inference batch seconds.
    pub rounds: Vec<[f64; 2]>,
}

/// The raw times of one round of one implementation.
#[derive(Debug, Clone, Default)]
pub(super) struct Round {
    pub warmup: Vec<f64>,
    pub steps: Vec<f64>,
    pub infer: Vec<f64>,
}

impl Timing {
    /// All rounds' times pooled (medians over every timed step), and each round's medians.
    fn new(name: &str, batch: usize, rounds: &[Round]) -> Self {
        let all = |f: fn(&Round) -> &Vec<f64>| -> Vec<f64> {
            rounds.iter().flat_map(|r| f(r).iter().copied()).collect()
        };
        let (steps, infer) = (all(|r| &r.steps), all(|r| &r.infer));
        let median_step_s = super::median(&steps);
        let median_infer_batch_s = super::median(&infer);
        Self {
            name: name.to_string(),
            warmup_steps_s: all(|r| &r.warmup),
            steps_s: steps,
            median_step_s,
            train_samples_per_s: batch as f64 / median_step_s,
            crema_d_epoch_s: median_step_s * CREMA_D_TRAIN_CLIPS.div_ceil(batch) as f64,
            infer_batches_s: infer,
            median_infer_batch_s,
            infer_clips_per_s: batch as f64 / median_infer_batch_s,
            rounds: rounds
                .iter()
                .map(|r| [super::median(&r.steps), super::median(&r.infer)])
                .collect(),
        }
    }

    /// `other`'s time / ours, training and inference: the median of the per-round ratios when
    /// both have the same rounds, else the ratio of the pooled medians.
    fn ratio_to(&self, other: &Timing) -> [f64; 2] {
        if self.rounds.len() == other.rounds.len() && !self.rounds.is_empty() {
            let per = |i: usize| -> Vec<f64> {
                self.rounds
                    .iter()
                    .zip(&other.rounds)
                    .map(|(o, k)| k[i] / o[i])
                    .collect()
            };
            [super::median(&per(0)), super::median(&per(1))]
        } else {
            [
                other.median_step_s / self.median_step_s,
                other.median_infer_batch_s / self.median_infer_batch_s,
            ]
        }
    }
}

/// One network's results.
#[derive(Debug, Clone, Serialize)]
pub struct ModelResult {
    /// `1d (512,512,128)`.
    pub model: String,
    pub params: usize,
    /// One item's shape.
    pub input: Vec<usize>,
    pub batch: usize,
    /// Where the batch came from.
    pub data: String,
    /// Rayon threads of our side.
    pub threads: usize,
    /// Ours: own kernels first, then (with `burn_kernels`) Burn's.
    pub ours: Vec<Timing>,
    /// Keras, when it ran.
    pub peer: Option<Timing>,
    /// Backends of ours whose timing failed (a GPU backend on a driver that cannot run the
    /// model): who and why.
    pub failures: Vec<(String, String)>,
    /// Why the peer did not run or failed.
    pub peer_error: Option<String>,
    /// Keras step time / our first timing's step time (> 1: we are faster); the median over
    /// rounds of the per-round ratios.
    pub train_ratio: Option<f64>,
    /// Keras inference time per batch / ours, likewise.
    pub infer_ratio: Option<f64>,
    /// Turns of ours then Keras.
    pub rounds: usize,
    /// `/proc/loadavg` (1 min) before and after this model's measurements.
    pub load_avg: [Option<f64>; 2],
}

/// Runs every model and returns the results in order.
pub fn run(bench: &TrainBench) -> Result<Vec<ModelResult>> {
    if bench.steps == 0 || bench.batch == 0 || bench.rounds == 0 {
        return Err(Error::Usage(
            "--steps, --batch and --rounds must be at least 1".into(),
        ));
    }
    if bench.backends.is_empty() {
        return Err(Error::Usage("--backend: name at least one backend".into()));
    }
    // Every device first, so a missing GPU is reported before minutes of CPU timing.
    let devices = bench
        .backends
        .iter()
        .map(|&kind| {
            let device = device::device(kind, bench.device)?;
            Ok((kind, device, device::buffer_cap(kind, bench.device)?))
        })
        .collect::<Result<Vec<_>>>()?;
    let peer_problem = bench
        .peer
        .as_deref()
        .map(peer_missing)
        .unwrap_or_else(|| Some("peer not run (--no-peer)".to_string()));
    let mut out = Vec::new();
    for &which in &bench.models {
        let load0 = super::load_avg();
        let config = which.config();
        let (x, labels, data) = batch(which, bench.batch, bench.corpus.as_deref())?;
        // Who we time: (name, device, own kernels); Burn's kernels only matter on the CPU.
        // `failed` starts with the backends that cannot hold a batch of this model in one
        // buffer: they are reported in their row, untimed.
        let mut who: Vec<(String, &Device, bool)> = Vec::new();
        let mut failed: Vec<Option<String>> = Vec::new();
        for (kind, device, cap) in &devices {
            let label = device::label(*kind, bench.device);
            if *kind == BackendKind::Flex {
                who.push((format!("ser {label} (own kernels)"), device, true));
                failed.push(None);
                if bench.burn_kernels {
                    who.push((format!("ser {label} (burn kernels)"), device, false));
                    failed.push(None);
                }
            } else {
                who.push((format!("ser {label}"), device, true));
                let fits = model::check_batch_fits(&config, bench.batch, cap.as_ref(), "--batch");
                failed.push(fits.err().map(|e| e.to_string()));
            }
        }
        let mut ours_rounds = vec![Vec::new(); who.len()];
        let mut peer_rounds = Vec::new();
        let mut peer_error = peer_problem.clone();
        let mut params = 0;
        for _ in 0..bench.rounds {
            let all = who.iter().zip(&mut ours_rounds).zip(&mut failed);
            for (i, (((name, device, own), rounds), failed)) in all.enumerate() {
                if failed.is_some() {
                    continue;
                }
                model::ops::set_own_kernels(*own);
                // A GPU backend may fail by panicking (wgpu, cubecl); the CPU figures and the
                // other backends still stand, so that failure is reported in its row.
                let timed = quietly(|| time_ours(&config, &x, &labels, bench, device, name))
                    .unwrap_or_else(|panic| Err(Error::device(name.clone(), panic)));
                model::ops::set_own_kernels(true);
                match timed {
                    Ok((round, p)) => {
                        params = p;
                        rounds.push(round);
                    }
                    Err(e) if i > 0 => *failed = Some(e.to_string()),
                    Err(e) => return Err(e),
                }
            }
            if let (Some(dir), None) = (&bench.peer, &peer_error) {
                match time_peer(dir, which, bench) {
                    Ok(round) => peer_rounds.push(round),
                    Err(e) => peer_error = Some(e.to_string()),
                }
            }
        }
        let ours: Vec<Timing> = who
            .iter()
            .zip(&ours_rounds)
            .zip(&failed)
            .filter(|(_, failed)| failed.is_none())
            .map(|(((name, ..), rounds), _)| Timing::new(name, bench.batch, rounds))
            .collect();
        let failures: Vec<(String, String)> = who
            .iter()
            .zip(failed)
            .filter_map(|((name, ..), failed)| failed.map(|f| (name.clone(), f)))
            .collect();
        // A peer that failed in a later round still gave whole rounds before it; its ratios
        // pair only when every round ran.
        let peer =
            (!peer_rounds.is_empty()).then(|| Timing::new("keras", bench.batch, &peer_rounds));
        let ratios = peer.as_ref().map(|p| ours[0].ratio_to(p));
        out.push(ModelResult {
            model: which.label(),
            params,
            input: config.input_shape(),
            batch: bench.batch,
            data,
            threads: rayon::current_num_threads(),
            ours,
            failures,
            peer,
            peer_error,
            train_ratio: ratios.map(|r| r[0]),
            infer_ratio: ratios.map(|r| r[1]),
            rounds: bench.rounds,
            load_avg: [load0, super::load_avg()],
        });
    }
    Ok(out)
}

/// The batch for `which`: flattened items and labels, and a description of where they came from.
fn batch(
    which: BenchModel,
    batch: usize,
    corpus: Option<&Path>,
) -> Result<(Vec<f32>, Vec<i64>, String)> {
    let Some(dir) = corpus else {
        // Fixed random data in the features' ranges (ZCR, RMS: [0, 0.5); log-mel: [-80, 0) dB).
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let (len, lo, hi) = match which {
            BenchModel::Cnn1d => (220, 0.0f32, 0.5f32),
            BenchModel::Cnn2d => (128 * 110, -80.0, 0.0),
        };
        let x = (0..batch * len).map(|_| rng.random_range(lo..hi)).collect();
        let y = (0..batch).map(|i| (i % 6) as i64).collect();
        return Ok((x, y, "fixed random data (seed 0)".into()));
    };
    let corpus = crate::corpus::emodb::read_dir(dir, false)?;
    let n = corpus.items.len();
    if n == 0 {
        return Err(Error::Corpus {
            path: dir.to_path_buf(),
            message: "no clips".into(),
        });
    }
    let audio = AudioConfig::default();
    let mut ex = Extractor::new(&FeatureConfig::default(), audio.sample_rate)?;
    let (mut x, mut y) = (Vec::new(), Vec::new());
    // Evenly spread over the sorted clips (speakers and emotions mixed); repeats if too few.
    for i in 0..batch {
        let item = &corpus.items[(i * n / batch.min(n).max(1)) % n];
        let clip = crate::audio::load_on_this_thread(&audio, &item.path)?;
        match which {
            BenchModel::Cnn1d => {
                x.extend(ex.zcr(&clip.signal));
                x.extend(ex.rms(&clip.signal));
            }
            BenchModel::Cnn2d => x.extend(ex.mel_db(&clip.signal).data),
        }
        y.push(item.label as i64);
    }
    let want = batch * which.config().input_shape().iter().product::<usize>();
    if x.len() != want {
        return Err(Error::Data(format!(
            "features of {} do not have the report's shape (2.0 s clips at 22,050 Hz expected)",
            dir.display()
        )));
    }
    Ok((
        x,
        y,
        format!("EmoDB features of {batch} clips of {}", dir.display()),
    ))
}

/// One round of our training steps and inference batches on `device`; returns the times and
/// the parameter count.
pub(super) fn time_ours(
    config: &NetConfig,
    x: &[f32],
    labels: &[i64],
    bench: &TrainBench,
    device: &Device,
    name: &str,
) -> Result<(Round, usize)> {
    let device = device.clone().autodiff();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut net = config.init(&device, &mut rng)?;
    let params = net.num_params();
    let b = bench.batch;
    let item = x.len() / b;
    let xs = Tensor::<2>::from_data(TensorData::new(x.to_vec(), [b, item]), &device);
    let ys = Tensor::<1, Int>::from_data(TensorData::new(labels.to_vec(), [b]), &device);
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let mut optim = crate::train::adam::init(&AdamConfig::new().with_epsilon(1e-7));
    let dense = config.dense();
    let keep = 1.0 - config.dropout();
    let pb = progress::bar(
        (2 * (bench.warmup + bench.steps)) as u64,
        format!("{name} {}", config_label(config)),
    );
    let (mut warm, mut steps) = (Vec::new(), Vec::new());
    for i in 0..bench.warmup + bench.steps {
        let t = Instant::now();
        // The training loop's step (src/train): dropout mask, forward, loss, backward, Adam.
        let mask: Vec<f32> = (0..b * dense)
            .map(|_| {
                if rng.random::<f64>() < keep {
                    (1.0 / keep) as f32
                } else {
                    0.0
                }
            })
            .collect();
        let mask = Tensor::<2>::from_data(TensorData::new(mask, [b, dense]), &device);
        let logits = net.forward(xs.clone(), Some(mask));
        let loss = loss_fn.forward(logits, ys.clone());
        let value = loss.clone().detach().try_into_scalar::<f32>();
        std::hint::black_box(value.map_err(|e| Error::device(name, format!("{e:?}")))?);
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        net = optim.step(1e-4, net, grads);
        device::wait_for(&device)?;
        let dt = t.elapsed().as_secs_f64();
        if i < bench.warmup {
            warm.push(dt);
        } else {
            steps.push(dt);
        }
        pb.inc(1);
    }
    let infer_device = device.without_autodiff();
    let valid = net.valid();
    let xi = Tensor::<2>::from_data(TensorData::new(x.to_vec(), [b, item]), &infer_device);
    let mut infer = Vec::new();
    for i in 0..bench.warmup + bench.steps {
        let t = Instant::now();
        let p = valid.probabilities(xi.clone()).into_data();
        device::wait_for(&infer_device)?;
        std::hint::black_box(p);
        if i >= bench.warmup {
            infer.push(t.elapsed().as_secs_f64());
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    Ok((
        Round {
            warmup: warm,
            steps,
            infer,
        },
        params,
    ))
}

fn config_label(config: &NetConfig) -> String {
    match config {
        NetConfig::Cnn1d(c) => format!("1d {:?}", c.filters),
        NetConfig::Cnn2d(c) => format!("2d {:?}", c.filters),
        NetConfig::Crnn(c) => format!("crnn {:?} {} {}", c.filters, c.rnn, c.rnn_units),
    }
}

/// Why the peer in `dir` cannot run, or `None` when it can.
fn peer_missing(dir: &Path) -> Option<String> {
    let cache = dir
        .join(".data/features")
        .join(format!("speakers-{}", PEER_SPEAKERS.replace(',', "-")))
        .join("meta.npz");
    let checks = [
        (dir.join(".venv/bin/python"), "its Python environment"),
        (dir.join("time_steps.py"), "time_steps.py"),
        (cache, "the EmoDB feature cache"),
    ];
    checks.iter().find(|(p, _)| !p.exists()).map(|(p, what)| {
        format!(
            "peer not run: {what} is missing ({}); set it up with `just peer-setup-train`, or pass \
             --no-peer",
            p.display()
        )
    })
}

/// One round of the peer's `time_steps.py` for `which` (Keras `train_on_batch` /
/// `predict_on_batch` on a fixed batch of its EmoDB features), same warm-up and step counts.
fn time_peer(dir: &Path, which: BenchModel, bench: &TrainBench) -> Result<Round> {
    let python = dir.join(".venv/bin/python");
    let prefix = "sertrain_";
    let filters = which.filters().map(|f| f.to_string());
    super::run_peer(
        Command::new(&python)
            .current_dir(dir)
            .env("TF_CPP_MIN_LOG_LEVEL", "2")
            .arg("time_steps.py")
            .args(["--speakers", PEER_SPEAKERS, "--prefix", prefix])
            .args(["--model", which.peer_name(), "--filters"])
            .args(&filters)
            .args(["--batch", &bench.batch.to_string()])
            .args(["--warmup", &bench.warmup.max(1).to_string()])
            .args(["--steps", &bench.steps.to_string()])
            .args(["--predict-steps", &bench.steps.to_string()]),
        &format!("keras {}", which.label()),
    )?;
    let path = dir.join("results").join(format!(
        "{prefix}steps_{}_{}.json",
        which.peer_name(),
        filters.join("-")
    ));
    let v = super::read_json(&path)?;
    let list = |v: &serde_json::Value| -> Vec<f64> {
        v.as_array()
            .map(|a| a.iter().filter_map(serde_json::Value::as_f64).collect())
            .unwrap_or_default()
    };
    let steps = list(&v["steps_s"]);
    let infer = list(&v["predict"]["batches_s"]);
    if steps.is_empty() || infer.is_empty() {
        return Err(Error::format(&path, "no steps_s / predict.batches_s"));
    }
    Ok(Round {
        warmup: list(&v["warmup_steps_s"]),
        steps,
        infer,
    })
}

/// The final table: per model, ours (each kernel set) and Keras, with the ratios.
pub fn table(results: &[ModelResult]) -> String {
    let mut s = String::from(
        "| model | who | train step s | train samples/s | s/epoch (CREMA-D, 4,948 clips) | infer ms/batch | infer clips/s | train ×Keras | infer ×Keras |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for r in results {
        let rows = r.ours.iter().map(|t| (t, true));
        for (t, ours) in rows.chain(r.peer.iter().map(|t| (t, false))) {
            let ratios = r.peer.as_ref().filter(|_| ours).map(|k| t.ratio_to(k));
            let cell = |i: usize| {
                ratios
                    .map(|r| format!("{:.2}", r[i]))
                    .unwrap_or_else(|| "—".into())
            };
            s += &format!(
                "| {} | {} | {:.3} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} |\n",
                r.model,
                t.name,
                t.median_step_s,
                t.train_samples_per_s,
                t.crema_d_epoch_s,
                1e3 * t.median_infer_batch_s,
                t.infer_clips_per_s,
                cell(0),
                cell(1),
            );
        }
    }
    s += "\nratio = Keras time / ours (> 1: ser is faster); medians of the timed steps, batch ";
    if let Some(r) = results.first() {
        s += &r.batch.to_string();
        if r.rounds > 1 {
            s += &format!(
                "; {} rounds of ours then Keras, ratio = median of the per-round ratios",
                r.rounds
            );
        }
    }
    for r in results {
        s += &format!(
            "\n{}: {}; {} threads; load avg {} → {}",
            r.model,
            r.data,
            r.threads,
            fmt_load(r.load_avg[0]),
            fmt_load(r.load_avg[1])
        );
        if let Some(e) = &r.peer_error {
            s += &format!("\n{}: {e}", r.model);
        }
        for (who, why) in &r.failures {
            // The first lines say what failed; a driver's whole report can run to pages.
            let short: Vec<&str> = why.lines().take(6).collect();
            s += &format!("\n{}: {who} failed: {}", r.model, short.join(" / "));
        }
    }
    s
}

fn fmt_load(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.2}")).unwrap_or_else(|| "?".into())
}
