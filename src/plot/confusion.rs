//! `confusion.png` of an evaluated run: a heat map of the row-normalised confusion matrix (so
//! each true class reads as a distribution whatever its support), with the counts and the
//! fraction in every cell and the class names on both axes.

use std::path::Path;

use plotters::coord::ranged1d::SegmentValue;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{blues, colour_bar, DrawResult, FONT};
use crate::base::Result;
use crate::eval::Metrics;

/// Writes the confusion heat map of `metrics` to `path` (`.png` or `.svg`), titled `title`.
pub fn write(path: &Path, metrics: &Metrics, title: &str) -> Result<()> {
    let n = metrics.confusion.len() as u32;
    let side = (140 + 80 * n).clamp(420, 1400);
    crate::figure!(path, (side + 90, side), |area| draw(&area, metrics, title))
}

/// Draws the heat map on `area`.
pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    metrics: &Metrics,
    title: &str,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let names = metrics.classes();
    let n = names.len() as i32;
    let norm = metrics.confusion_normalized();
    // Rows are drawn top-down in class order: row t sits at y = n - 1 - t.
    let flip = |y: i32| n - 1 - y;
    let name_at = |v: &SegmentValue<i32>, flipped: bool| match v {
        SegmentValue::CenterOf(i) if (0..n).contains(i) => {
            let i = if flipped { flip(*i) } else { *i };
            names[i as usize].clone()
        }
        _ => String::new(),
    };
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 20))
        .margin(16)
        .margin_right(90)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(
            (0..(n - 1).max(0)).into_segmented(),
            (0..(n - 1).max(0)).into_segmented(),
        )?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("predicted")
        .y_desc("true")
        .x_labels(n as usize)
        .y_labels(n as usize)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .x_label_formatter(&|v| name_at(v, false))
        .y_label_formatter(&|v| name_at(v, true))
        .draw()?;
    let cell = |x: i32, y: i32| {
        [
            (SegmentValue::Exact(x), SegmentValue::Exact(y)),
            (SegmentValue::Exact(x + 1), SegmentValue::Exact(y + 1)),
        ]
    };
    for t in 0..n {
        for p in 0..n {
            let f = norm[t as usize][p as usize];
            chart.draw_series(std::iter::once(Rectangle::new(
                cell(p, flip(t)),
                blues(f).filled(),
            )))?;
            let ink = if f > 0.5 { WHITE } else { BLACK };
            let style = TextStyle::from((FONT, 14).into_font())
                .color(&ink)
                .pos(Pos::new(HPos::Center, VPos::Center));
            let text = format!("{}\n{:.2}", metrics.confusion[t as usize][p as usize], f);
            for (k, line) in text.lines().enumerate() {
                // Two lines around the cell centre: the count above, the fraction below.
                let centre = (SegmentValue::CenterOf(p), SegmentValue::CenterOf(flip(t)));
                let offset = if k == 0 { -9 } else { 9 };
                chart.plotting_area().draw(
                    &(EmptyElement::at(centre)
                        + Text::new(line.to_string(), (0, offset), style.clone())),
                )?;
            }
        }
    }
    // Colour bar: the fraction of the true class, 0 at the bottom to 1 at the top.
    let (w, h) = area.dim_in_pixel();
    colour_bar(area, (w as i32 - 70, 60, h as i32 - 70, 18), blues, |t| {
        format!("{t:.2}")
    })?;
    Ok(())
}
