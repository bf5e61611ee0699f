//! The report's per-clip figure (`plot_mel_spectogram`): stacked panels sharing the time axis —
//! waveform, zero-crossing rate, RMS energy, and the mel spectrogram in dB on a mel-spaced axis
//! labelled in Hz (as `librosa.display.specshow(y_axis="mel")`) with a colour bar.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{bounds, colour_bar, magma, series_color, DrawResult, FONT};
use crate::audio::Loader;
use crate::base::Result;
use crate::config::{AudioConfig, FeatureConfig};
use crate::features::{hz_to_mel, mel_to_hz, Extractor, Matrix};

/// Everything the figure shows, computed by the caller from one clip.
#[derive(Debug, Clone)]
pub struct AudioFigure<'a> {
    /// Title (usually the file name).
    pub title: String,
    /// Samples per second of `signal`.
    pub sample_rate: u32,
    /// Samples between frames.
    pub hop: usize,
    /// The clip as the features saw it.
    pub signal: &'a [f32],
    /// ZCR per centred frame.
    pub zcr: &'a [f32],
    /// RMS per centred frame.
    pub rms: &'a [f32],
    /// `power_to_db(mel)`, `n_mels × frames`.
    pub mel_db: &'a Matrix,
    /// Lowest and highest mel filter frequencies, Hz.
    pub fmin: f64,
    pub fmax: f64,
}

/// Writes the figure to `path` (`.png` or `.svg`).
pub fn write(path: &Path, fig: &AudioFigure<'_>) -> Result<()> {
    crate::figure!(path, (1100, 1000), |area| draw(&area, fig))
}

/// Draws the figure of the audio file `file` to `out` (`ser plot audio`): the clip as loaded
/// (decoded and resampled, at its own length), or with `model_input` the padded or truncated
/// clip the models see.
pub fn write_for_file(
    file: &Path,
    audio: &AudioConfig,
    features: &FeatureConfig,
    model_input: bool,
    out: &Path,
) -> Result<()> {
    let mut clip = Loader::new(audio).load(file)?;
    if !model_input {
        // The clip as loaded: the same decode and resampling, fitted to its own length.
        let mut natural = audio.clone();
        natural.max_samples = clip.loaded_len.max(1);
        clip = Loader::new(&natural).load(file)?;
    }
    let set = Extractor::new(features, audio.sample_rate)?.all(&clip.signal);
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "clip".into());
    let fig = AudioFigure {
        title: if model_input {
            format!("{name} (model input: {} samples)", clip.signal.len())
        } else {
            name
        },
        sample_rate: audio.sample_rate,
        hop: features.hop_length,
        signal: &clip.signal,
        zcr: &set.zcr,
        rms: &set.rms,
        mel_db: &set.mel_db,
        fmin: features.fmin,
        fmax: features.fmax.unwrap_or(audio.sample_rate as f64 / 2.0),
    };
    write(out, &fig)
}

/// Draws the figure on `area`.
pub fn draw<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, fig: &AudioFigure<'_>) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let sr = fig.sample_rate.max(1) as f64;
    let frame_time = |i: usize| (i * fig.hop) as f64 / sr;
    let duration = (fig.signal.len() as f64 / sr).max(frame_time(fig.mel_db.cols.max(1)));
    let titled = area.titled(&fig.title, (FONT, 22))?;
    let (top, spec) = titled.split_vertically(titled.dim_in_pixel().1 * 53 / 100);
    let lines = top.split_evenly((3, 1));
    // Same left/right margins in every panel, so the time axes line up; the right margin holds
    // the spectrogram's colour bar.
    let (left, right) = (70u32, 110u32);

    // Waveform, decimated to min/max pairs per pixel column so long clips stay light.
    let columns = 1000usize;
    let per = fig.signal.len().div_ceil(columns).max(1);
    let mut wave = Vec::with_capacity(2 * columns);
    for (c, chunk) in fig.signal.chunks(per).enumerate() {
        let t = (c * per) as f64 / sr;
        let (lo, hi) = chunk
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        wave.push((t, lo as f64));
        wave.push((t, hi as f64));
    }
    let amp = fig
        .signal
        .iter()
        .fold(0f32, |m, v| m.max(v.abs()))
        .max(1e-6) as f64;
    line_panel(
        &lines[0],
        "waveform",
        "amplitude",
        duration,
        (-amp, amp),
        wave,
        0,
        (left, right),
    )?;
    let frames = |v: &[f32]| -> Vec<(f64, f64)> {
        v.iter()
            .enumerate()
            .map(|(i, &x)| (frame_time(i), x as f64))
            .collect()
    };
    let zcr = frames(fig.zcr);
    let (_, zmax) = bounds(zcr.iter().map(|p| p.1));
    line_panel(
        &lines[1],
        "zero-crossing rate",
        "ZCR",
        duration,
        (0.0, zmax * 1.1),
        zcr,
        1,
        (left, right),
    )?;
    let rms = frames(fig.rms);
    let (_, rmax) = bounds(rms.iter().map(|p| p.1));
    line_panel(
        &lines[2],
        "RMS energy",
        "RMS",
        duration,
        (0.0, rmax * 1.1),
        rms,
        2,
        (left, right),
    )?;

    // Mel spectrogram: y in mel-band units, labelled with the band's frequency in Hz.
    let m = fig.mel_db;
    let n_mels = m.rows.max(1) as f64;
    let (mel_lo, mel_hi) = (hz_to_mel(fig.fmin), hz_to_mel(fig.fmax));
    let hz_at = move |band: f64| mel_to_hz(mel_lo + (mel_hi - mel_lo) * band / n_mels);
    let (db_lo, db_hi) = bounds(m.data.iter().map(|&v| v as f64));
    let mut chart = ChartBuilder::on(&spec)
        .caption("mel spectrogram (dB)", (FONT, 16))
        .margin(8)
        .margin_right(right)
        .x_label_area_size(36)
        .y_label_area_size(left)
        .build_cartesian_2d(0f64..duration, 0f64..n_mels)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("time (s)")
        .y_desc("Hz")
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 13))
        .y_labels(8)
        .y_label_formatter(&|v| format!("{:.0}", hz_at(*v)))
        .draw()?;
    let dt = fig.hop as f64 / sr;
    chart.draw_series((0..m.rows).flat_map(|r| {
        (0..m.cols).map(move |c| {
            let t0 = frame_time(c) - dt / 2.0;
            let v = m.data[r * m.cols + c] as f64;
            let f = (v - db_lo) / (db_hi - db_lo);
            Rectangle::new(
                [
                    (t0.max(0.0), r as f64),
                    ((t0 + dt).min(duration), r as f64 + 1.0),
                ],
                magma(f).filled(),
            )
        })
    }))?;
    let (w, h) = spec.dim_in_pixel();
    let bar = (w as i32 - right as i32 + 20, 30, h as i32 - 44, 16);
    colour_bar(&spec, bar, magma, |t| {
        format!("{:+.0} dB", db_lo + (db_hi - db_lo) * t)
    })?;
    Ok(())
}

/// One line panel of the stack.
#[allow(clippy::too_many_arguments)]
fn line_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    y_desc: &str,
    duration: f64,
    y: (f64, f64),
    points: Vec<(f64, f64)>,
    color: usize,
    (left, right): (u32, u32),
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let y = if y.1 > y.0 { y } else { (y.0, y.0 + 1.0) };
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 16))
        .margin(8)
        .margin_right(right)
        .x_label_area_size(24)
        .y_label_area_size(left)
        .build_cartesian_2d(0f64..duration, y.0..y.1)?;
    chart
        .configure_mesh()
        .y_desc(y_desc)
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 13))
        .y_labels(4)
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    chart.draw_series(LineSeries::new(points, series_color(color).stroke_width(1)))?;
    Ok(())
}
