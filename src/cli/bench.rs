//! `ser bench ...`: speed against the report's own stack, measured in the same run.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::base::Result;
use crate::bench;
use crate::config::BackendKind;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Clips/s for decode + resample + pad + ZCR/RMS + log-mel over a folder and/or one file
    /// repeated, beside librosa (the peer's features.py) on the same files in the same run.
    #[command(
        after_help = "Example:\n  ser bench features --corpus ../shared/data/emodb/wav \\\n      --repeat-file ../shared/parity/audio/resampled-16k.wav --peer-python /tmp/peer/.venv/bin/python"
    )]
    Features {
        /// Folder of audio files.
        #[arg(long)]
        corpus: Option<PathBuf>,
        /// One file processed --repeats times (e.g. a 16 kHz clip: resampling included).
        #[arg(long)]
        repeat_file: Option<PathBuf>,
        #[arg(long, default_value_t = 200)]
        repeats: usize,
        /// Timed passes (the median is reported).
        #[arg(long, default_value_t = 3)]
        passes: usize,
        /// Python of an environment with librosa 0.11 (also $SER_PEER_PYTHON); without it only ours runs.
        #[arg(long)]
        peer_python: Option<PathBuf>,
        /// The peer's folder (its features.py is imported).
        #[arg(long, default_value = "../shared/peer")]
        peer_dir: PathBuf,
        /// flex: the CPU path only; wgpu: also the GPU kernels on the same files (needs a build
        /// with `--features wgpu`).
        #[arg(long, default_value = "flex")]
        backend: BackendKind,
        /// wgpu adapter: 0 = the best found (discrete GPU first), N = the N-th discrete GPU.
        #[arg(long, default_value_t = 0)]
        device: usize,
        /// Also write the results as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Training samples/s and inference clips/s of the report's 1D and 2D networks on the CPU
    /// (batch 32, after warm-up steps), beside Keras (the peer's time_steps.py) in the same run.
    #[command(
        after_help = "Example:\n  ser bench train --corpus ../shared/data/emodb/wav --peer /tmp/peer --json results/bench-train.json\n\nThe peer needs tensorflow-cpu and its EmoDB feature cache: `just peer-setup-train`."
    )]
    Train {
        /// Which network: 1d (filters 512,512,128 on 220 values), 2d (128,64,32 on 128×110) or both.
        #[arg(long, value_enum, default_value_t = ModelChoice::Both)]
        model: ModelChoice,
        /// Timed steps (the median is reported); as many inference batches.
        #[arg(long, default_value_t = 10)]
        steps: usize,
        /// Untimed steps first.
        #[arg(long, default_value_t = 3)]
        warmup: usize,
        /// Items per step.
        #[arg(long, default_value_t = 32)]
        batch: usize,
        /// EmoDB folder for real features of the batch (without it: fixed random data).
        #[arg(long)]
        corpus: Option<PathBuf>,
        /// The peer's folder: a copy of ../shared/peer with `.venv` (tensorflow-cpu) and its
        /// EmoDB feature cache (also $SER_PEER_DIR).
        #[arg(long, env = "SER_PEER_DIR", default_value = "/tmp/peer")]
        peer: PathBuf,
        /// Measure ours only.
        #[arg(long)]
        no_peer: bool,
        /// Also time ours with Burn's own conv and pool kernels.
        #[arg(long)]
        burn_kernels: bool,
        /// flex: the CPU only; wgpu: also Burn's wgpu backend, beside the CPU figures (needs a
        /// build with `--features wgpu`).
        #[arg(long, default_value = "flex")]
        backend: BackendKind,
        /// wgpu adapter: 0 = the best found (discrete GPU first), N = the N-th discrete GPU.
        #[arg(long, default_value_t = 0)]
        device: usize,
        /// Turns of ours then Keras; the ratios are medians of the per-round ratios (steadier
        /// on a shared machine).
        #[arg(long, default_value_t = 1)]
        rounds: usize,
        /// Also write the results as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Wall time of a whole sweep, cold: the report's 1D CNN × 3 filter sets × 20 and 40 epochs ×
    /// seeds 0 1 2 on EmoDB (experiments/bench-sweep.toml), beside the peer's features.py +
    /// run_1d.py doing the same 18 trainings in the same run.
    #[command(
        after_help = "Example:\n  ser bench sweep --corpus ../shared/data/emodb/wav --peer /tmp/peer --setup auto --setup 1 --halving 10\n\nThe peer needs tensorflow-cpu and its copy of the clips: `just peer-setup-train`."
    )]
    Sweep {
        /// The EmoDB folder.
        #[arg(long, default_value = "../shared/data/emodb/wav")]
        corpus: PathBuf,
        /// Our setups, each run cold in turn: auto (`ser sweep`'s default), JOBS (sharing all
        /// cores) or JOBSxTHREADS per job.
        #[arg(
            long = "setup",
            value_name = "auto|JOBS[xTHREADS]",
            default_value = "auto"
        )]
        setups: Vec<bench::sweep::Setup>,
        /// The shorter epoch count E of the grid's epochs axis (E, 2E), both sides.
        #[arg(long, default_value_t = 20)]
        epochs: usize,
        /// Also search the 2E-epoch points by successive halving from this first rung, and say
        /// whether it keeps the full grid's best point.
        #[arg(long, value_name = "EPOCHS")]
        halving: Option<usize>,
        /// The peer's folder (also $SER_PEER_DIR).
        #[arg(long, env = "SER_PEER_DIR", default_value = "/tmp/peer")]
        peer: PathBuf,
        /// Measure ours only.
        #[arg(long)]
        no_peer: bool,
        /// Keep our runs in this folder (default: a temporary one, removed).
        #[arg(long, value_name = "DIR")]
        work: Option<PathBuf>,
        /// Also write the results as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// How long an experiment would take on this machine: a few real training steps of each of
    /// its networks, the corpus split as each job says, every epoch counted (early stopping not
    /// foreseen, features not included); says whether it finishes within a day on this CPU.
    #[command(
        after_help = "Example:\n  ser bench estimate experiments/filters.toml --data data/CREMA-D/AudioWAV\n  (no audio is decoded: a synthetic corpus in CREMA-D's layout counts the same clips)"
    )]
    Estimate {
        /// Experiment file.
        file: PathBuf,
        /// Corpus directory, overriding [data].path (its clips are counted and split).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// Untimed steps per network.
        #[arg(long, default_value_t = 1)]
        warmup: usize,
        /// Timed steps per network (the median is used).
        #[arg(long, default_value_t = 3)]
        steps: usize,
        /// Also write the figures as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

/// `--model` of `ser bench train`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModelChoice {
    #[value(name = "1d")]
    OneD,
    #[value(name = "2d")]
    TwoD,
    Both,
}

fn write_json<T: serde::Serialize>(path: Option<&std::path::Path>, value: &T) -> Result<()> {
    path.map_or(Ok(()), |p| bench::write_json(p, value))
}

pub fn run(cmd: BenchCommand) -> Result<ExitCode> {
    match cmd {
        BenchCommand::Features {
            corpus,
            repeat_file,
            repeats,
            passes,
            peer_python,
            peer_dir,
            backend,
            device,
            json,
        } => {
            let spec = bench::features::FeatureBench {
                corpus,
                repeat_file,
                repeats,
                passes,
                peer_python: bench::peer_python(peer_python.as_deref()),
                peer_dir,
                backend,
                device,
            };
            let results = bench::features::run(&spec)?;
            println!("{}", bench::features::table(&results));
            write_json(json.as_deref(), &results)?;
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Train {
            model,
            steps,
            warmup,
            batch,
            corpus,
            peer,
            no_peer,
            burn_kernels,
            backend,
            device,
            rounds,
            json,
        } => {
            use bench::train::BenchModel;
            let models = match model {
                ModelChoice::OneD => vec![BenchModel::Cnn1d],
                ModelChoice::TwoD => vec![BenchModel::Cnn2d],
                ModelChoice::Both => vec![BenchModel::Cnn1d, BenchModel::Cnn2d],
            };
            let spec = bench::train::TrainBench {
                models,
                steps,
                warmup,
                batch,
                corpus,
                peer: (!no_peer).then_some(peer),
                burn_kernels,
                backends: match backend {
                    BackendKind::Flex => vec![BackendKind::Flex],
                    BackendKind::Wgpu => vec![BackendKind::Flex, BackendKind::Wgpu],
                },
                device,
                rounds,
            };
            let results = bench::train::run(&spec)?;
            println!("{}", bench::train::table(&results));
            write_json(json.as_deref(), &results)?;
            // A backend that was asked for and failed is a failure, after its report.
            let failed = results.iter().any(|r| !r.failures.is_empty());
            Ok(if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        BenchCommand::Sweep {
            corpus,
            setups,
            epochs,
            halving,
            peer,
            no_peer,
            work,
            json,
        } => {
            let spec = bench::sweep::SweepBench {
                corpus,
                epochs: Some(epochs),
                halving,
                setups,
                peer: (!no_peer).then_some(peer),
                work,
            };
            let result = bench::sweep::run(&spec)?;
            println!("{}", bench::sweep::table(&result));
            write_json(json.as_deref(), &result)?;
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Estimate {
            file,
            data,
            warmup,
            steps,
            json,
        } => {
            let spec = bench::estimate::EstimateSpec {
                file,
                data,
                warmup,
                steps,
            };
            let estimate = bench::estimate::run(&spec)?;
            println!("{}", bench::estimate::table(&estimate));
            write_json(json.as_deref(), &estimate)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
