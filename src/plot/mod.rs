//! Pictures, drawn with `plotters` into PNG or SVG (chosen by the file extension): the report's
//! per-clip feature figure ([`audio`]), training curves ([`curves`]), confusion matrices
//! ([`confusion`]) and the comparison charts of a sweep ([`charts`]).
//!
//! Text is rendered with DejaVu Sans embedded in the binary (`assets/fonts`, registered once
//! with plotters' `ab_glyph` backend), so charts come out the same on a headless machine with no
//! system fonts and no fontconfig.
//!
//! Each figure is a function from plain data to a drawing on any plotters backend; [`write_with`]
//! picks the backend from the path and writes through a temporary file, so a chart on disk is
//! always complete.

pub mod audio;
pub mod charts;
pub mod confusion;
pub mod curves;
pub mod reliability;

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;

use crate::base::{atomic, Error, Result};

/// The font family every chart uses.
pub const FONT: &str = "sans-serif";

static FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// What a figure function returns: plotters' errors, boxed.
pub type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TrueType font checked in with the source: a failure here is a
        // build defect, and every chart would then fail with a message saying so.
        if plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES).is_err() {
            tracing::error!("the embedded chart font could not be registered");
        }
    });
}

/// The output format, from the file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Png,
    Svg,
}

/// Runs `draw` on a temporary file beside `path` (same extension, so the bitmap encoder picks
/// the format) and renames it into place ([`atomic::write_with`]). Used through
/// [`figure!`](crate::figure).
pub fn write_with(path: &Path, draw: impl FnOnce(&Path, Kind) -> DrawResult) -> Result<()> {
    register_font();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let kind = match ext.as_deref() {
        Some("png") => Kind::Png,
        Some("svg") => Kind::Svg,
        _ => {
            return Err(Error::Plot {
                path: path.to_path_buf(),
                message: "the file name must end in .png or .svg".into(),
            })
        }
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    atomic::write_with(path, |tmp| {
        draw(tmp, kind).map_err(|e| Error::Plot {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    })
}

/// Linear interpolation through `stops` (RGB at evenly spaced positions) at `t` in 0..=1.
fn ramp(stops: &[(u8, u8, u8)], t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (stops.len() - 1) as f64;
    let i = (x.floor() as usize).min(stops.len() - 2);
    let f = x - i as f64;
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    let (a, b) = (stops[i], stops[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// matplotlib's `magma` (librosa's default for dB spectrograms), 9 stops.
pub fn magma(t: f64) -> RGBColor {
    ramp(
        &[
            (0, 0, 4),
            (28, 16, 68),
            (79, 18, 123),
            (129, 37, 129),
            (181, 54, 122),
            (229, 80, 100),
            (251, 135, 97),
            (254, 194, 135),
            (252, 253, 191),
        ],
        t,
    )
}

/// matplotlib's `Blues` (confusion matrices), 5 stops.
pub fn blues(t: f64) -> RGBColor {
    ramp(
        &[
            (247, 251, 255),
            (198, 219, 239),
            (107, 174, 214),
            (33, 113, 181),
            (8, 48, 107),
        ],
        t,
    )
}

/// Distinct series colours (matplotlib's `tab10`).
pub fn series_color(i: usize) -> RGBColor {
    const TAB10: [(u8, u8, u8); 10] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ];
    let (r, g, b) = TAB10[i % TAB10.len()];
    RGBColor(r, g, b)
}

/// A vertical colour bar in pixel coordinates of `area`: `color(t)` from t = 0 at `y1` (bottom)
/// to 1 at `y0`, `width` wide at `x0`, with five labels `label(t)` to its right.
fn colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    (x0, y0, y1, width): (i32, i32, i32, i32),
    color: impl Fn(f64) -> RGBColor,
    label: impl Fn(f64) -> String,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let steps = 100;
    let y_at = |t: f64| y1 - ((y1 - y0) as f64 * t) as i32;
    for s in 0..steps {
        let (a, b) = (s as f64 / steps as f64, (s + 1) as f64 / steps as f64);
        let fill = color(s as f64 / (steps - 1) as f64).filled();
        area.draw(&Rectangle::new(
            [(x0, y_at(b)), (x0 + width, y_at(a))],
            fill,
        ))?;
    }
    area.draw(&Rectangle::new(
        [(x0, y0), (x0 + width, y1)],
        BLACK.stroke_width(1),
    ))?;
    for k in 0..=4 {
        let t = k as f64 / 4.0;
        let text = Text::new(
            label(t),
            (x0 + width + 6, y_at(t) - 7),
            (FONT, 12).into_font(),
        );
        area.draw(&text)?;
    }
    Ok(())
}

/// Lower and upper bound of `values` (finite ones), widened when they are equal.
fn bounds(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.into_iter().filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        let pad = lo.abs().max(1.0) * 0.05;
        return (lo - pad, hi + pad);
    }
    (lo, hi)
}

/// Writes a figure: `figure!(path, (w, h), |area| draw_something(area, &data))`. The closure is
/// instantiated once per backend, PNG or SVG by the path's extension.
#[macro_export]
macro_rules! figure {
    ($path:expr, $size:expr, |$area:ident| $body:expr) => {{
        let path: &std::path::Path = $path;
        $crate::plot::write_with(path, |tmp, kind| match kind {
            $crate::plot::Kind::Png => {
                let $area = plotters::prelude::IntoDrawingArea::into_drawing_area(
                    plotters::prelude::BitMapBackend::new(tmp, $size),
                );
                $area.fill(&plotters::prelude::WHITE)?;
                $body?;
                $area.present()?;
                Ok(())
            }
            $crate::plot::Kind::Svg => {
                let $area = plotters::prelude::IntoDrawingArea::into_drawing_area(
                    plotters::prelude::SVGBackend::new(tmp, $size),
                );
                $area.fill(&plotters::prelude::WHITE)?;
                $body?;
                $area.present()?;
                Ok(())
            }
        })
    }};
}
