//! `ser data ...`: corpus checks, the synthetic corpus, splits.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::base::{progress, Result};
use crate::config::{CorpusKind, Overrides};
use crate::{corpus, split};

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Count clips per emotion, actor and level, summarise durations, list unreadable files;
    /// with --manifest, verify names, sizes and SHA-256 and list missing or altered files.
    #[command(
        after_help = "Example:\n  ser data check data/CREMA-D/AudioWAV --manifest ../shared/data/crema-d/audiowav-manifest.csv"
    )]
    Check {
        /// Corpus directory.
        dir: PathBuf,
        /// Corpus layout: crema-d, emodb or csv.
        #[arg(long, default_value = "crema-d")]
        kind: CorpusKind,
        /// Manifest `file,bytes,sha256` to verify the folder against.
        #[arg(long, value_name = "FILE")]
        manifest: Option<PathBuf>,
    },
    /// Write the deterministic synthetic corpus (CREMA-D layout, 16 kHz WAV).
    #[command(after_help = "Example:\n  ser data synth --out data/synth --actors 12 --seed 0")]
    Synth {
        /// Output directory (created; must not hold another corpus).
        #[arg(long)]
        out: PathBuf,
        /// Number of speakers.
        #[arg(long, default_value_t = 12)]
        actors: usize,
        /// Generator seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Split a corpus as a config says and write train/valid/test lists.
    #[command(
        after_help = "Example:\n  ser data split experiments/quickstart.toml --out /tmp/split"
    )]
    Split {
        /// Config file ([data] and [split] are read).
        config: PathBuf,
        /// Directory for train.txt, valid.txt, test.txt.
        #[arg(long)]
        out: PathBuf,
        /// Corpus directory, overriding [data].path.
        #[arg(long)]
        data: Option<PathBuf>,
    },
}

pub fn run(cmd: DataCommand) -> Result<ExitCode> {
    match cmd {
        DataCommand::Check {
            dir,
            kind,
            manifest,
        } => {
            let spinner = progress::spinner(format!("checking {}", dir.display()));
            let report = corpus::check::check(&dir, kind, manifest.as_deref());
            spinner.finish_and_clear();
            let report = report?;
            println!("{report}");
            Ok(if report.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        DataCommand::Synth { out, actors, seed } => {
            let spinner = progress::spinner(format!(
                "generating {actors} speakers into {}",
                out.display()
            ));
            let summary = corpus::synth::generate(&out, actors, seed);
            spinner.finish_and_clear();
            let summary = summary?;
            println!(
                "{} clips ({:.0} s of audio) written to {}",
                summary.files,
                summary.seconds,
                summary.dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        DataCommand::Split { config, out, data } => {
            let cfg = Overrides::data(data).apply(&crate::Config::from_file(&config)?);
            let corpus = corpus::open(&cfg.data)?;
            let split = split::make_split(&corpus, &cfg.split)?;
            split::write_lists(&out, &corpus, &split)?;
            println!("{}", split::describe(&corpus, &split));
            println!("lists written to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}
