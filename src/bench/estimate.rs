//! `ser bench estimate FILE`: how long an experiment would take on this machine, before it
//! runs. Each distinct network of the grid (at its batch size) is timed for a few real training
//! steps and inference batches on random inputs of its shape (the CPU backend, all cores, as
//! `ser sweep --jobs 1` trains); the corpus is read (no audio decoded) and split as each job
//! says, to count its training and validation clips; a job's time is its epochs × (training
//! steps + validation batches). Early stopping is not foreseen: every epoch is counted.
//! Feature extraction is not included (`ser features cache` measures it; it runs once per
//! feature set).

use std::collections::BTreeMap;
use std::path::PathBuf;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::train::{time_ours, TrainBench};
use crate::base::device::BackendKind;
use crate::base::Result;
use crate::config::{Config, Overrides};
use crate::corpus;
use crate::experiment::{describe, Experiment, Point};
use crate::features::Extractor;
use crate::model::NetConfig;
use crate::split;

/// What to estimate.
#[derive(Debug, Clone)]
pub struct EstimateSpec {
    /// The experiment file.
    pub file: PathBuf,
    /// Corpus directory, overriding `[data].path` (to count clips; no audio is decoded).
    pub data: Option<PathBuf>,
    /// Untimed steps before the timed ones.
    pub warmup: usize,
    /// Timed steps (the median is used).
    pub steps: usize,
}

/// The jobs that train one network at one batch size.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    /// The grid point of the group's first job (seeds left out), e.g. `model.kind=cnn2d`.
    pub point: String,
    /// Parameters of the network.
    pub params: usize,
    pub batch: usize,
    pub jobs: usize,
    /// Epochs of all its jobs together.
    pub epochs: usize,
    /// Median seconds of a training step, and of an inference batch.
    pub step_s: f64,
    pub infer_batch_s: f64,
    /// Seconds of one epoch of its first job: training steps plus validation batches.
    pub epoch_s: f64,
    /// All its jobs, hours.
    pub hours: f64,
}

/// An experiment's projected wall time on this machine.
#[derive(Debug, Clone, Serialize)]
pub struct Estimate {
    pub file: PathBuf,
    pub jobs: usize,
    pub groups: Vec<Group>,
    /// Every job one after the other, hours.
    pub hours: f64,
    /// Rayon threads the steps ran on.
    pub threads: usize,
}

/// Jobs gathered under one network and batch size, before timing.
struct Pending {
    key: String,
    /// The first job's config (overrides applied).
    config: Config,
    point: Point,
    net: NetConfig,
    /// `(epochs, training clips, validation clips)` per job.
    members: Vec<(usize, usize, usize)>,
}

/// Times every distinct network of the experiment and projects its jobs' wall time.
pub fn run(spec: &EstimateSpec) -> Result<Estimate> {
    let exp = Experiment::from_file(&spec.file)?;
    let jobs = exp.jobs()?;
    let overrides = Overrides::data(spec.data.clone());
    // Per job: its group key, and its training / validation clip counts.
    let mut sizes: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut groups: Vec<Pending> = Vec::new();
    for job in &jobs {
        let c = overrides.apply(&job.config);
        let split_key = serde_json::to_string(&(&c.data, &c.split)).unwrap_or_default();
        if !sizes.contains_key(&split_key) {
            let corpus = corpus::open(&c.data)?;
            let parts = split::make_split(&corpus, &c.split)?;
            sizes.insert(split_key.clone(), (parts.train.len(), parts.valid.len()));
        }
        let (train, valid) = sizes[&split_key];
        let shape =
            Extractor::new(&c.features, c.audio.sample_rate)?.input_shape(c.audio.max_samples);
        let classes = corpus::classes_of(&c.data)?.len();
        let net = NetConfig::from_section(&c.model, &shape, classes)?;
        let key = format!("{net} batch {}", c.train.batch_size);
        let entry = (c.train.epochs, train, valid);
        match groups.iter_mut().find(|g| g.key == key) {
            Some(g) => g.members.push(entry),
            None => {
                let point = job
                    .point
                    .iter()
                    .filter(|(k, _)| !k.ends_with(".seed"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                groups.push(Pending {
                    key,
                    config: c,
                    point,
                    net,
                    members: vec![entry],
                });
            }
        }
    }
    let mut out = Vec::new();
    for g in groups {
        out.push(time_group(spec, &g.config, &g.point, &g.net, &g.members)?);
    }
    Ok(Estimate {
        file: spec.file.clone(),
        jobs: jobs.len(),
        hours: out.iter().map(|g| g.hours).sum(),
        groups: out,
        threads: rayon::current_num_threads(),
    })
}

/// Times one network and projects its jobs (`(epochs, train clips, valid clips)` each).
fn time_group(
    spec: &EstimateSpec,
    config: &Config,
    point: &Point,
    net: &NetConfig,
    members: &[(usize, usize, usize)],
) -> Result<Group> {
    let batch = config.train.batch_size;
    let bench = TrainBench {
        models: Vec::new(),
        steps: spec.steps.max(1),
        warmup: spec.warmup,
        batch,
        corpus: None,
        peer: None,
        burn_kernels: false,
        backends: vec![BackendKind::Flex],
        device: 0,
        rounds: 1,
    };
    let item: usize = net.input_shape().iter().product();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    // Inputs in the features' ranges; the time of a step does not depend on the values.
    let x: Vec<f32> = (0..batch * item)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    let labels: Vec<i64> = (0..batch).map(|i| (i % net.n_classes()) as i64).collect();
    let label = if point.is_empty() {
        "(base config)".to_string()
    } else {
        describe(point)
    };
    let (round, params) = time_ours(
        net,
        &x,
        &labels,
        &bench,
        &burn::tensor::Device::flex(),
        &label,
    )?;
    let (step_s, infer_batch_s) = (super::median(&round.steps), super::median(&round.infer));
    let epoch = |train: usize, valid: usize| {
        train.div_ceil(batch) as f64 * step_s + valid.div_ceil(batch) as f64 * infer_batch_s
    };
    let seconds: f64 = members
        .iter()
        .map(|&(epochs, train, valid)| epochs as f64 * epoch(train, valid))
        .sum();
    let (_, train, valid) = members[0];
    Ok(Group {
        point: label,
        params,
        batch,
        jobs: members.len(),
        epochs: members.iter().map(|m| m.0).sum(),
        step_s,
        infer_batch_s,
        epoch_s: epoch(train, valid),
        hours: seconds / 3600.0,
    })
}

/// The estimate as a table, with the total and whether a day on this CPU is enough.
pub fn table(e: &Estimate) -> String {
    let mut s = format!(
        "{}: {} jobs, projected on this CPU ({} threads, jobs one after the other)\n\n",
        e.file.display(),
        e.jobs,
        e.threads
    );
    s += "| network (first grid point) | params | batch | jobs | epochs | step s | epoch s | hours |\n";
    s += "|---|---|---|---|---|---|---|---|\n";
    for g in &e.groups {
        s += &format!(
            "| {} | {} | {} | {} | {} | {:.3} | {:.1} | {:.1} |\n",
            g.point,
            crate::model::thousands(g.params),
            g.batch,
            g.jobs,
            g.epochs,
            g.step_s,
            g.epoch_s,
            g.hours
        );
    }
    s += &format!(
        "\ntotal: {:.1} hours ({:.1} days){}\n",
        e.hours,
        e.hours / 24.0,
        if e.hours > 24.0 {
            " — more than a day on this CPU: a GPU (--backend wgpu) or a cluster is needed to \
             finish it in one"
        } else {
            " — finishes within a day on this CPU"
        }
    );
    s
}
