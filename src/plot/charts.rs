//! The comparison charts of a sweep: a grouped bar chart (one group per grid point, one bar per
//! metric, error bars of ± one standard deviation over seeds) and a line chart of a per-epoch
//! value (validation accuracy) with one line per grid point.
//!
//! Legends sit outside the plotting area (a strip above the bars, a column right of the lines),
//! so they never hide data however many grid points there are.

use std::path::Path;

use plotters::coord::ranged1d::SegmentValue;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{bounds, series_color, DrawResult, FONT};
use crate::base::Result;

/// One grid point of a bar chart: its label and one value per metric.
#[derive(Debug, Clone, PartialEq)]
pub struct BarGroup {
    pub label: String,
    /// `(mean, std)` per metric, in the chart's metric order; `std` is `None` for one seed.
    pub values: Vec<(f64, Option<f64>)>,
}

/// Approximate width in pixels of `text` at 12 px DejaVu Sans (average advance ≈ 0.6 em plus
/// slack): enough to size charts so labels do not overlap, without measuring glyphs.
fn text_px(text: &str) -> u32 {
    (text.chars().count() as u32 * 15).div_ceil(2)
}

/// What the bars and whiskers of a bar chart are, printed in its legend strip.
const BARS_NOTE: &str = "bars: mean over seeds; whiskers: ± 1 std";

/// Pixel width of a bar chart titled `title` of `groups` with `k` bars each: every group at
/// least as wide as its label, the whole at least as wide as the title.
pub fn bars_width(title: &str, k: usize, groups: &[BarGroup]) -> u32 {
    let per_group = groups
        .iter()
        .map(|g| text_px(&g.label) + 20)
        .max()
        .unwrap_or(0)
        .max(60 * k.max(1) as u32);
    // The title is set at 20 px: 20/12 of the width estimated at 12 px.
    let title_px = text_px(title) * 5 / 3 + 40;
    (120 + per_group * groups.len() as u32)
        .max(title_px)
        .clamp(640, 2400)
}

/// Writes a grouped bar chart of `groups` to `path`; `metrics` names the bars of each group,
/// `x_desc` the grid keys the labels are values of.
pub fn write_bars(
    path: &Path,
    title: &str,
    x_desc: &str,
    metrics: &[String],
    groups: &[BarGroup],
) -> Result<()> {
    let width = bars_width(title, metrics.len(), groups);
    crate::figure!(path, (width, 520), |area| draw_bars(
        &area, title, x_desc, metrics, groups
    ))
}

/// Draws the bar chart on `area`.
pub fn draw_bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    x_desc: &str,
    metrics: &[String],
    groups: &[BarGroup],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let n = groups.len() as i32;
    let k = metrics.len().max(1);
    let top = groups
        .iter()
        .flat_map(|g| g.values.iter().map(|(m, s)| m + s.unwrap_or(0.0)))
        .fold(0f64, f64::max);
    // Scores live in 0..1; room above the tallest bar for its value and error bar.
    let y_max = if top <= 0.9 { 1.0 } else { top * 1.1 };
    let label = |v: &SegmentValue<i32>| match v {
        SegmentValue::CenterOf(i) if (0..n).contains(i) => groups[*i as usize].label.clone(),
        _ => String::new(),
    };
    let body = area.titled(title, (FONT, 20))?;
    // Legend: a strip of its own above the plot, so tall bars never run under it.
    let (legend, body) = body.split_vertically(26);
    let mut x = 70;
    for (j, name) in metrics.iter().enumerate() {
        legend.draw(&Rectangle::new(
            [(x, 6), (x + 14, 18)],
            series_color(j).filled(),
        ))?;
        legend.draw(&Text::new(
            name.clone(),
            (x + 20, 5),
            (FONT, 13).into_font(),
        ))?;
        x += 20 + text_px(name) as i32 + 30;
    }
    let (w, _) = legend.dim_in_pixel();
    let note_x = (w as i32 - 14 - text_px(BARS_NOTE) as i32).max(x);
    legend.draw(&Text::new(
        BARS_NOTE,
        (note_x, 5),
        (FONT, 12).into_font().color(&RGBColor(90, 90, 90)),
    ))?;
    let mut chart = ChartBuilder::on(&body)
        .margin(14)
        .margin_top(4)
        .x_label_area_size(50)
        .y_label_area_size(56)
        .build_cartesian_2d((0..(n - 1).max(0)).into_segmented(), 0f64..y_max)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(groups.len().max(1))
        .x_label_formatter(&label)
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 14))
        .x_desc(x_desc)
        .y_desc("score")
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    // Bars are placed in pixel space within each group's segment.
    let (x_range, _) = chart.plotting_area().get_pixel_range();
    let seg = (x_range.end - x_range.start) as f64 / n.max(1) as f64;
    let bar = seg * 0.8 / k as f64;
    let area_px = chart.plotting_area().strip_coord_spec();
    let base = area_px.get_base_pixel().1;
    let to_y = |v: f64| {
        chart
            .plotting_area()
            .map_coordinate(&(SegmentValue::Exact(0), v))
            .1
            - base
    };
    let x_of = |g: usize, j: usize| seg * g as f64 + seg * 0.1 + bar * j as f64;
    for (g, group) in groups.iter().enumerate() {
        for (j, &(mean, std)) in group.values.iter().enumerate() {
            if !mean.is_finite() {
                continue;
            }
            let color = series_color(j);
            let x0 = x_of(g, j) as i32;
            let x1 = (x_of(g, j) + bar * 0.92) as i32;
            area_px.draw(&Rectangle::new(
                [(x0, to_y(mean)), (x1, to_y(0.0))],
                color.filled(),
            ))?;
            let std = std.filter(|s| *s > 0.0 && s.is_finite());
            if let Some(s) = std {
                let xm = (x0 + x1) / 2;
                let ya = to_y(mean + s);
                let yb = to_y((mean - s).max(0.0));
                let ink = BLACK.stroke_width(1);
                area_px.draw(&PathElement::new(vec![(xm, ya), (xm, yb)], ink))?;
                area_px.draw(&PathElement::new(vec![(xm - 4, ya), (xm + 4, ya)], ink))?;
                area_px.draw(&PathElement::new(vec![(xm - 4, yb), (xm + 4, yb)], ink))?;
            }
            // The value above the bar and its error bar, centred on the bar.
            let text = format!("{mean:.3}");
            let xt = (x0 + x1) / 2 - (text_px(&text) as i32 * 10 / 12) / 2;
            area_px.draw(&Text::new(
                text,
                (xt, to_y(mean + std.unwrap_or(0.0)) - 14),
                (FONT, 10).into_font(),
            ))?;
        }
    }
    Ok(())
}

/// One line of a line chart: a label and `(epoch, value)` points.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

/// Width of the legend column right of a line chart of `curves`.
fn legend_px(curves: &[Curve]) -> u32 {
    let widest = curves.iter().map(|c| text_px(&c.label)).max().unwrap_or(0);
    (widest + 50).clamp(120, 420)
}

/// Pixel size of a line chart of `curves`: the plot 900 wide, the legend beside it, and tall
/// enough for one legend line per curve.
pub fn lines_size(curves: &[Curve]) -> (u32, u32) {
    (
        900 + legend_px(curves),
        (120 + 20 * curves.len() as u32).max(520),
    )
}

/// Writes a line chart of `curves` (x = epoch) to `path`.
pub fn write_lines(path: &Path, title: &str, y_desc: &str, curves: &[Curve]) -> Result<()> {
    crate::figure!(path, lines_size(curves), |area| draw_lines(
        &area, title, y_desc, curves
    ))
}

/// Draws the line chart on `area`.
pub fn draw_lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    y_desc: &str,
    curves: &[Curve],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (x_lo, x_hi) = bounds(curves.iter().flat_map(|c| c.points.iter().map(|p| p.0)));
    let (y_lo, y_hi) = bounds(curves.iter().flat_map(|c| c.points.iter().map(|p| p.1)));
    let (y_lo, y_hi) = if y_lo >= 0.0 && y_hi <= 1.0 {
        (0.0, 1.0)
    } else {
        (y_lo, y_hi)
    };
    let body = area.titled(title, (FONT, 20))?;
    let (w, _) = body.dim_in_pixel();
    let (plot, legend) = body.split_horizontally(w.saturating_sub(legend_px(curves)));
    let mut chart = ChartBuilder::on(&plot)
        .margin(14)
        .margin_top(4)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(x_lo.min(1.0)..x_hi.max(2.0), y_lo..y_hi)?;
    // Whole epochs only on the axis (a 3-epoch run would otherwise show 1.0, 1.2, ...).
    let epochs = (x_hi.max(2.0) - x_lo.min(1.0)).round() as usize + 1;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .x_labels(epochs.min(12))
        .x_label_formatter(&|x| {
            if (x - x.round()).abs() < 1e-9 {
                format!("{x:.0}")
            } else {
                String::new()
            }
        })
        .y_desc(y_desc)
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 14))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    for (i, c) in curves.iter().enumerate() {
        let color = series_color(i);
        let points: Vec<(f64, f64)> = c
            .points
            .iter()
            .copied()
            .filter(|p| p.1.is_finite())
            .collect();
        chart.draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?;
        if points.len() <= 60 {
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
        }
    }
    // Legend: its own column, one line per curve, in the curves' colours.
    for (i, c) in curves.iter().enumerate() {
        let y = 16 + 20 * i as i32;
        let color = series_color(i);
        legend.draw(&PathElement::new(
            vec![(4, y + 7), (26, y + 7)],
            color.stroke_width(3),
        ))?;
        legend.draw(&Text::new(c.label.clone(), (32, y), (FONT, 12).into_font()))?;
    }
    Ok(())
}
