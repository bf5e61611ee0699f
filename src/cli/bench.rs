//! `ser bench ...`: speed against the report's own stack, measured in the same run.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::bench;
use crate::error::{Error, Result};

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
        /// Also write the results as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
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
            json,
        } => {
            let spec = bench::features::FeatureBench {
                corpus,
                repeat_file,
                repeats,
                passes,
                peer_python: bench::peer_python(peer_python.as_deref()),
                peer_dir,
            };
            let results = bench::features::run(&spec)?;
            println!("{}", bench::features::table(&results));
            if let Some(path) = json {
                let text = serde_json::to_string_pretty(&results)
                    .map_err(|e| Error::Usage(e.to_string()))?;
                std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
