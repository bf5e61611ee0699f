//! `ser plot ...`: figures of single clips (run and sweep figures are drawn by `train`/`report`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::audio::Loader;
use crate::error::Result;
use crate::features::Extractor;
use crate::plot::audio::AudioFigure;

#[derive(Debug, Subcommand)]
pub enum PlotCommand {
    /// The report's clip figure: waveform, zero-crossing rate, RMS energy and the mel
    /// spectrogram (dB, mel-spaced Hz axis, colour bar), sharing the time axis.
    #[command(
        after_help = "Examples:\n  ser plot audio clip.wav                 # clip.png beside the clip\n  ser plot audio clip.wav --features --out input.svg   # the padded model input"
    )]
    Audio {
        /// An audio file (any format symphonia decodes; any rate or channel count).
        file: PathBuf,
        /// Output image, .png or .svg (default: the file's name with .png, in the current folder).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Draw the padded/truncated clip the models see (config's max_samples), not the clip as
        /// loaded.
        #[arg(long)]
        features: bool,
        /// Config whose [audio] and [features] sections to use (default: the report's).
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

pub fn run(cmd: PlotCommand) -> Result<ExitCode> {
    match cmd {
        PlotCommand::Audio {
            file,
            out,
            features,
            config,
        } => {
            let cfg = super::load_config(config.as_ref())?;
            let mut clip = Loader::new(&cfg.audio).load(&file)?;
            if !features {
                // The clip as loaded: the same decode and resampling, fitted to its own length.
                let mut natural = cfg.audio.clone();
                natural.max_samples = clip.loaded_len.max(1);
                clip = Loader::new(&natural).load(&file)?;
            }
            let mut extractor = Extractor::new(&cfg.features, cfg.audio.sample_rate)?;
            let set = extractor.all(&clip.signal);
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "clip".into());
            let fig = AudioFigure {
                title: if features {
                    format!("{name} (model input: {} samples)", clip.signal.len())
                } else {
                    name.clone()
                },
                sample_rate: cfg.audio.sample_rate,
                hop: cfg.features.hop_length,
                signal: &clip.signal,
                zcr: &set.zcr,
                rms: &set.rms,
                mel_db: &set.mel_db,
                fmin: cfg.features.fmin,
                fmax: cfg
                    .features
                    .fmax
                    .unwrap_or(cfg.audio.sample_rate as f64 / 2.0),
            };
            let out = out.unwrap_or_else(|| {
                PathBuf::from(file.file_stem().unwrap_or_default()).with_extension("png")
            });
            crate::plot::audio::write(&out, &fig)?;
            println!("{}", out.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}
