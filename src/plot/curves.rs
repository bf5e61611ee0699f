//! `curves.png` of a training run: loss and accuracy per epoch, training and validation, with
//! the epoch of the best validation loss marked.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{bounds, series_color, DrawResult, FONT};
use crate::base::Result;
use crate::eval::EpochRecord;

/// Reads one number off an epoch.
type Value = fn(&EpochRecord) -> f64;

/// Writes the two-panel curves figure of `history` to `path` (`.png` or `.svg`), marking
/// `best_epoch` (1-based; 0 = none).
pub fn write(path: &Path, history: &[EpochRecord], best_epoch: usize) -> Result<()> {
    crate::figure!(path, (1000, 420), |area| draw(&area, history, best_epoch))
}

/// Draws the figure on `area`.
pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    history: &[EpochRecord],
    best_epoch: usize,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let panels = area.split_evenly((1, 2));
    let last = history.last().map_or(1, |r| r.epoch).max(2) as f64;
    let metrics: [(&str, Value, Value); 2] = [
        ("loss", |r| r.loss, |r| r.val_loss),
        ("accuracy", |r| r.accuracy, |r| r.val_accuracy),
    ];
    for (panel, (name, train, valid)) in panels.iter().zip(metrics) {
        let (mut lo, mut hi) = bounds(history.iter().flat_map(|r| [train(r), valid(r)]));
        if name == "accuracy" {
            (lo, hi) = (0.0, 1.0);
        } else {
            let pad = (hi - lo) * 0.08;
            (lo, hi) = ((lo - pad).max(0.0), hi + pad);
        }
        let mut chart = ChartBuilder::on(panel)
            .caption(name, (FONT, 20))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(52)
            .build_cartesian_2d(1f64..last, lo..hi)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_desc(name)
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        for (i, (label, f)) in [("train", train), ("validation", valid)].iter().enumerate() {
            let color = series_color(i);
            let points: Vec<(f64, f64)> = history
                .iter()
                .map(|r| (r.epoch as f64, f(r)))
                .filter(|p| p.1.is_finite())
                .collect();
            if points.is_empty() {
                continue;
            }
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
                .label(*label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
            if points.len() <= 60 {
                chart.draw_series(points.iter().map(|&p| Circle::new(p, 2, color.filled())))?;
            }
        }
        if best_epoch > 0 {
            let x = best_epoch as f64;
            let grey = RGBColor(110, 110, 110);
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(x, lo), (x, hi)],
                    6,
                    4,
                    grey.stroke_width(1),
                ))?
                .label(format!("best validation loss (epoch {best_epoch})"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], grey));
        }
        chart
            .configure_series_labels()
            .label_font((FONT, 12))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .position(if name == "loss" {
                SeriesLabelPosition::UpperRight
            } else {
                SeriesLabelPosition::LowerRight
            })
            .draw()?;
    }
    Ok(())
}
