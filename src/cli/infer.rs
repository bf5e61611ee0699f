//! `ser eval` and `ser predict`: a finished run's model re-evaluated, or applied to audio files.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::base::{Error, Result};
use crate::cache::CacheOptions;
use crate::config::BackendKind;
use crate::infer::{self, EvalOptions, EvalTarget};

/// `ser eval RUN_DIR`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  ser eval results/train/baseline\n  ser eval results/train/baseline --corpus emodb:data/emodb/wav   (trained on CREMA-D, tested on EmoDB)"
)]
pub struct EvalArgs {
    /// Run directory written by `ser train` or a sweep.
    run_dir: PathBuf,
    /// Evaluate on every clip of this corpus instead of the run's test split: KIND:DIR with KIND
    /// one of crema-d, emodb, csv, synth. Clips of classes the model does not know are left out.
    #[arg(long, value_name = "KIND:DIR")]
    corpus: Option<String>,
    /// Eval directory (default: RUN_DIR/eval/test or RUN_DIR/eval/<kind>-<dir>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Backend to run the model on: flex (CPU) or wgpu (GPU).
    #[arg(long, default_value = "flex")]
    backend: BackendKind,
    /// wgpu adapter: 0 = best found (discrete GPU first), N = the N-th discrete GPU.
    #[arg(long, default_value_t = 0)]
    device: usize,
    /// Feature cache root.
    #[arg(long, default_value = "results/cache", env = "SER_CACHE")]
    cache: PathBuf,
    /// Leave out unreadable clips (listed) instead of failing.
    #[arg(long)]
    skip_bad: bool,
}

/// `ser predict RUN_DIR FILE...`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  ser predict results/train/baseline clip.wav other.mp3\n  ser predict results/train/baseline *.wav --json > predictions.json"
)]
pub struct PredictArgs {
    /// Run directory written by `ser train` or a sweep.
    run_dir: PathBuf,
    /// Audio files (any format symphonia decodes; any sample rate, length or channel count).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Print JSON (one object with the classes and a prediction per file) instead of a table.
    #[arg(long)]
    json: bool,
    /// Backend to run the model on: flex (CPU) or wgpu (GPU).
    #[arg(long, default_value = "flex")]
    backend: BackendKind,
    /// wgpu adapter: 0 = best found (discrete GPU first), N = the N-th discrete GPU.
    #[arg(long, default_value_t = 0)]
    device: usize,
    /// Temperature-scaled probabilities (the temperature fitted on the run's validation part,
    /// `temperature` in its metrics.json): how sure it says it is, not which class it picks.
    #[arg(long)]
    calibrated: bool,
    /// Abstain (emotion `-`, JSON `null`) where the top probability is below P, e.g. 0.5.
    #[arg(long, value_name = "P")]
    min_confidence: Option<f64>,
}

pub fn eval(args: EvalArgs) -> Result<ExitCode> {
    let target = match &args.corpus {
        Some(spec) => EvalTarget::parse_corpus(spec)?,
        None => EvalTarget::TestSplit,
    };
    let opts = EvalOptions {
        cache: CacheOptions {
            dir: args.cache,
            skip_bad: args.skip_bad,
            gpu: None,
        },
        out: args.out,
        backend: args.backend,
        device: args.device,
    };
    let s = infer::evaluate_run(&args.run_dir, &target, &opts)?;
    println!("{}", s.metrics.report_text(4));
    println!(
        "accuracy {:.4}  macro F1 {:.4}  weighted F1 {:.4}  on {} clips",
        s.metrics.accuracy, s.metrics.macro_avg.f1, s.metrics.weighted_avg.f1, s.metrics.total
    );
    if s.unknown_class > 0 {
        println!(
            "left out {} clips of classes the model does not know",
            s.unknown_class
        );
    }
    println!("eval directory: {}", s.dir.display());
    Ok(ExitCode::SUCCESS)
}

pub fn predict(args: PredictArgs) -> Result<ExitCode> {
    if let Some(p) = args.min_confidence.filter(|p| !(0.0..=1.0).contains(p)) {
        return Err(Error::Usage(format!(
            "--min-confidence {p}: a probability, between 0 and 1"
        )));
    }
    let (classes, mut predictions) =
        infer::predict_files(&args.run_dir, &args.files, args.backend, args.device)?;
    if args.calibrated {
        let metrics = crate::rundir::RunDir::new(&args.run_dir).read_metrics()?;
        let Some(&t) = metrics.get("temperature") else {
            return Err(Error::Usage(format!(
                "--calibrated: {} has no fitted temperature (a run made before calibration, or \
                 without a validation part); leave --calibrated out, or train it again",
                args.run_dir.display()
            )));
        };
        for p in &mut predictions {
            p.probabilities = crate::eval::calibration::scale(&p.probabilities, t);
        }
    }
    if let Some(min) = args.min_confidence {
        for p in &mut predictions {
            let top = p.probabilities.iter().cloned().fold(0.0f32, f32::max);
            if f64::from(top) < min {
                p.emotion = None;
            }
        }
    }
    if args.json {
        let out = serde_json::json!({ "classes": classes, "predictions": predictions });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return Ok(ExitCode::SUCCESS);
    }
    let width = predictions
        .iter()
        .map(|p| p.path.display().to_string().chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut header = format!("{:<width$}  {:<7}", "file", "emotion");
    for c in &classes {
        header += &format!("  {c:>6}");
    }
    println!("{header}");
    for p in &predictions {
        let emotion = p.emotion.as_deref().unwrap_or("-");
        let mut line = format!("{:<width$}  {:<7}", p.path.display().to_string(), emotion);
        for v in &p.probabilities {
            line += &format!("  {v:>6.3}");
        }
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}
