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
    #[command(
        after_help = "Examples:\n  ser data synth --out data/synth --actors 12 --seed 0\n  ser data synth --out data/CREMA-D-synth --layout crema-d   # 7,442 clips, CREMA-D's names"
    )]
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
        /// `grid` (--actors speakers × 12 sentences × 6 emotions) or `crema-d` (CREMA-D's exact
        /// 7,442 file names, 91 actors, for a full-scale rehearsal without the audio).
        #[arg(long, default_value = "grid")]
        layout: crate::config::SynthLayout,
    },
    /// CREMA-D's human baseline: how often its crowd of untrained listeners named the intended
    /// emotion from the voice alone (plurality vote; ties counted as misses), overall and per
    /// emotion.
    #[command(
        name = "human-baseline",
        after_help = "Example:\n  ser data human-baseline   # 41.6% overall: the reference for CREMA-D model scores"
    )]
    HumanBaseline,
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
        DataCommand::Synth {
            out,
            actors,
            seed,
            layout,
        } => {
            let spec = corpus::synth::spec_for(layout, actors, seed);
            let spinner = progress::spinner(format!(
                "generating {} clips into {}",
                spec.file_count(),
                out.display()
            ));
            let summary = corpus::synth::generate_spec(&out, &spec);
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
        DataCommand::HumanBaseline => {
            let b = corpus::crema_d::meta::human_baseline()?;
            println!("CREMA-D listeners, voice only, against the intended emotion (crowd plurality vote; ties counted as misses):");
            println!("{:<8} {:>6} {:>9}", "emotion", "clips", "accuracy");
            for (emotion, clips, acc) in &b.per_emotion {
                println!("{emotion:<8} {clips:>6} {:>8.1}%", acc * 100.0);
            }
            println!("{:<8} {:>6} {:>8.1}%", "all", b.clips, b.accuracy * 100.0);
            println!("{} of {} clips have a tied vote.", b.ties, b.clips);
            Ok(ExitCode::SUCCESS)
        }
        DataCommand::Split { config, out, data } => {
            let cfg = Overrides::data(data).apply(&crate::Config::from_file(&config)?);
            let corpus = corpus::open(&cfg.data)?;
            let split = split::make_split(&corpus, &cfg.split)?;
            split::write_lists(&out, &corpus, &split)?;
            println!("{}", split::describe(&corpus, &split, &cfg.split));
            println!("lists written to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}
