//! `ser data ...`: corpus checks, downloads, the synthetic corpus, splits.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Subcommand, ValueEnum};

use crate::base::{progress, Error, Result};
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
    /// Download a corpus's audio (CREMA-D: the 7,442 files of the official AudioWAV folder) into
    /// OUT/AudioWAV, or take it from a local zip archive; every file is verified (size, SHA-256)
    /// before it is put in place, and files already verified are skipped, so a rerun resumes.
    #[command(
        after_help = "Examples:\n  ser data fetch crema-d --out data/CREMA-D\n  ser data fetch crema-d --out data/CREMA-D --from-zip ~/Downloads/cremad.zip\n\nExit status 1 when some files could not be had (listed with the reason); run it again to retry them."
    )]
    Fetch {
        /// The corpus: crema-d.
        corpus: FetchCorpus,
        /// Corpus folder; the files go to OUT/AudioWAV/.
        #[arg(long)]
        out: PathBuf,
        /// Files downloaded at once.
        #[arg(long, default_value_t = 8, value_name = "N")]
        jobs: usize,
        /// URL of the folder serving the files (a mirror); a file's URL is this plus its name.
        #[arg(long, default_value = corpus::fetch::CREMA_D_BASE_URL, value_name = "URL")]
        base_url: String,
        /// Manifest `file,bytes,sha256` to fetch and verify instead of the built-in one.
        #[arg(long, value_name = "FILE")]
        manifest: Option<PathBuf>,
        /// Take the files from this zip archive instead of downloading (entries matched by file
        /// name, in any folder).
        #[arg(long, value_name = "FILE", conflicts_with_all = ["jobs", "base_url", "retries", "retry_delay_ms", "timeout"])]
        from_zip: Option<PathBuf>,
        /// Further tries of a file after a transient failure (connection, cut transfer, 5xx,
        /// timeout, a body that does not verify).
        #[arg(long, default_value_t = 4, value_name = "N")]
        retries: u32,
        /// Wait before the first retry, in milliseconds; it doubles with each retry.
        #[arg(long, default_value_t = 1000, value_name = "MS")]
        retry_delay_ms: u64,
        /// Limit for one request, connect to last byte, in seconds.
        #[arg(long, default_value_t = 60.0, value_name = "SECONDS")]
        timeout: f64,
    },
}

/// Corpora `ser data fetch` can get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FetchCorpus {
    /// CREMA-D's AudioWAV folder (7,442 clips, 606 MB).
    #[value(name = "crema-d")]
    CremaD,
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
        DataCommand::Fetch {
            corpus: FetchCorpus::CremaD,
            out,
            jobs,
            base_url,
            manifest,
            from_zip,
            retries,
            retry_delay_ms,
            timeout,
        } => {
            let manifest = match &manifest {
                Some(path) => corpus::check::read_manifest(path)?,
                None => corpus::crema_d::meta::manifest()?,
            };
            let report = match &from_zip {
                Some(archive) => corpus::fetch::from_zip(archive, &manifest, &out)?,
                None => {
                    let timeout = Duration::try_from_secs_f64(timeout)
                        .ok()
                        .filter(|t| !t.is_zero())
                        .ok_or_else(|| {
                            Error::Usage(format!(
                                "--timeout {timeout}: expected a positive number of seconds"
                            ))
                        })?;
                    let opts = corpus::fetch::DownloadOptions {
                        base_url,
                        jobs,
                        retries,
                        retry_delay: Duration::from_millis(retry_delay_ms),
                        timeout,
                        ..Default::default()
                    };
                    corpus::fetch::download(&manifest, &out, &opts)?
                }
            };
            print!("{report}");
            match report.error() {
                Some(e) => Err(e),
                None => Ok(ExitCode::SUCCESS),
            }
        }
    }
}
