//! The command line: clap definitions, one file per command group, each a thin mapping from
//! flags onto library calls and a print of what they return. Errors are printed once, here, and
//! turned into the exit code ([`Error::exit_code`]; `ser --help` lists the codes).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::base::{Error, Result};

mod bench;
mod data;
mod features;
mod infer;
mod plot;
mod report;
mod sweep;
mod train;

/// Speech emotion recognition experiments: report-exact features, corpora, splits.
#[derive(Debug, Parser)]
#[command(name = "ser", version, about, long_about = None, propagate_version = true)]
#[command(
    after_help = "Examples:\n  ser sweep experiments/quickstart.toml\n  ser sweep experiments/filters.toml --executor slurm --time 04:00:00\n  ser status results/filters\n  ser report results/quickstart\n  ser run experiments/quickstart.toml --only \"model.filters=[16,8]\" --only train.seed=0\n  ser predict results/quickstart/<job-id> clip.wav\n  ser plot audio clip.wav\n  ser data fetch crema-d --out data/CREMA-D\n  ser data check data/CREMA-D/AudioWAV --manifest audiowav-manifest.csv\n  ser bench features --corpus ../shared/data/emodb/wav\n\nExit status:\n  0  success\n  1  failure: something went wrong doing the work (I/O, audio, data, a device, a job or run\n     that failed; `ser sweep`: some jobs failed, the rest are done)\n  2  usage: bad arguments, or a config / experiment file that is invalid (nothing ran)\n  130, 143  stopped by Ctrl-C / SIGTERM (train, sweep, run, features): the job is recorded as\n     interrupted and the same command resumes it; a second Ctrl-C ends it at once"
)]
pub struct Cli {
    /// More log output (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Only warnings and errors; no progress bars.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Worker threads for parallel work (default: all cores).
    #[arg(long, global = true, value_name = "N")]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Corpora: download CREMA-D, check a folder against a manifest, generate the synthetic
    /// corpus, show a split.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Features: extract them for files, or for a whole corpus into the cache.
    #[command(subcommand)]
    Features(features::FeaturesCommand),
    /// Train and evaluate one config into a run directory (resumes after a kill).
    Train(train::TrainArgs),
    /// Run an experiment's grid (resumes: jobs already done are skipped), then its report.
    Sweep(sweep::SweepArgs),
    /// Rerun one job of an experiment (e.g. on a GPU with --backend wgpu).
    Run(sweep::RunArgs),
    /// Done / running / queued / failed per job of a results folder (with Slurm's queue).
    Status(sweep::StatusArgs),
    /// Write comparison tables and charts of experiments' results folders (summary.md, charts,
    /// summary.csv; --html: one self-contained report.html).
    Report(report::ReportArgs),
    /// Re-evaluate a finished run's model on its test split or on another corpus.
    Eval(infer::EvalArgs),
    /// Predict the emotion of audio files with a finished run's model.
    Predict(infer::PredictArgs),
    /// Figures: the report's per-clip feature plot.
    #[command(subcommand)]
    Plot(plot::PlotCommand),
    /// Models: print a config's layer table and parameter count.
    #[command(subcommand)]
    Model(train::ModelCommand),
    /// Benchmarks against the report's own stack, measured in the same run.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

/// Parses `args`, runs the command, prints any error once and returns the exit code.
pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    crate::base::progress::init_logging(cli.verbose, cli.quiet);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let quiet = cli.quiet;
    if let Some(n) = cli.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
            .map_err(|e| Error::Usage(format!("--threads {n}: {e}")))?;
    }
    // Commands that stop cleanly at their next step on Ctrl-C / SIGTERM (and resume when run
    // again); the others keep the default: the signal ends them at once.
    if matches!(
        cli.command,
        Command::Train(_) | Command::Sweep(_) | Command::Run(_) | Command::Features(_)
    ) {
        crate::base::interrupt::install()?;
    }
    match cli.command {
        Command::Data(cmd) => data::run(cmd),
        Command::Features(cmd) => features::run(cmd),
        Command::Bench(cmd) => bench::run(cmd),
        Command::Train(args) => train::train(args, quiet),
        Command::Model(cmd) => train::model(cmd),
        Command::Sweep(args) => sweep::sweep(args, quiet),
        Command::Run(args) => sweep::run(args, quiet),
        Command::Status(args) => sweep::status(args),
        Command::Report(args) => report::report(args),
        Command::Eval(args) => infer::eval(args),
        Command::Plot(cmd) => plot::run(cmd),
        Command::Predict(args) => infer::predict(args),
    }
}

/// Reads `--config FILE` if given, else the report's defaults.
fn load_config(path: Option<&PathBuf>) -> Result<crate::Config> {
    match path {
        Some(p) => crate::Config::from_file(p),
        None => Ok(crate::Config::default()),
    }
}
