//! `ser plot ...`: figures of single clips (run and sweep figures are drawn by `train`/`report`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::base::Result;

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
            let out = out.unwrap_or_else(|| {
                PathBuf::from(file.file_stem().unwrap_or_default()).with_extension("png")
            });
            crate::plot::audio::write_for_file(&file, &cfg.audio, &cfg.features, features, &out)?;
            println!("{}", out.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}
