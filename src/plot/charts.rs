//! The comparison charts of a sweep: a grouped bar chart (one group per grid point, one bar per
//! metric, error bars of ± one standard deviation over seeds) and a line chart of a per-epoch
//! value (validation accuracy) with one line per grid point.

use std::path::Path;

use plotters::coord::ranged1d::SegmentValue;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{bounds, series_color, DrawResult, FONT};
use crate::error::Result;

/// One grid point of a bar chart: its label and one value per metric.
#[derive(Debug, Clone, PartialEq)]
pub struct BarGroup {
    pub label: String,
    /// `(mean, std)` per metric, in the chart's metric order; `std` is `None` for one seed.
    pub values: Vec<(f64, Option<f64>)>,
}

/// Writes a grouped bar chart of `groups` to `path`; `metrics` names the bars of each group.
pub fn write_bars(path: &Path, title: &str, metrics: &[String], groups: &[BarGroup]) -> Result<()> {
    let width = (200 + 60 * groups.len() as u32 * metrics.len().max(1) as u32).clamp(640, 2400);
    crate::figure!(path, (width, 520), |area| draw_bars(
        &area, title, metrics, groups
    ))
}

/// Draws the bar chart on `area`.
pub fn draw_bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
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
    let y_max = if top <= 1.0 { 1.0 } else { top * 1.1 };
    let label = |v: &SegmentValue<i32>| match v {
        SegmentValue::CenterOf(i) if (0..n).contains(i) => groups[*i as usize].label.clone(),
        _ => String::new(),
    };
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 20))
        .margin(14)
        .x_label_area_size(60)
        .y_label_area_size(56)
        .build_cartesian_2d((0..(n - 1).max(0)).into_segmented(), 0f64..y_max)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(groups.len().max(1))
        .x_label_formatter(&label)
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 14))
        .y_desc("score")
        .draw()?;
    // Bars are placed in pixel space within each group's segment.
    let (x_range, _) = chart.plotting_area().get_pixel_range();
    let seg = (x_range.end - x_range.start) as f64 / n.max(1) as f64;
    let bar = seg * 0.8 / k as f64;
    let to_y = |v: f64| {
        chart
            .plotting_area()
            .map_coordinate(&(SegmentValue::Exact(0), v))
            .1
    };
    let area_px = chart.plotting_area().strip_coord_spec();
    let x_of = |g: usize, j: usize| seg * g as f64 + seg * 0.1 + bar * j as f64;
    for (g, group) in groups.iter().enumerate() {
        for (j, &(mean, std)) in group.values.iter().enumerate() {
            let color = series_color(j);
            let x0 = x_of(g, j) as i32;
            let x1 = (x_of(g, j) + bar * 0.92) as i32;
            let y0 = to_y(0.0) - area_px.get_base_pixel().1;
            let y1 = to_y(mean) - area_px.get_base_pixel().1;
            area_px.draw(&Rectangle::new([(x0, y1), (x1, y0)], color.filled()))?;
            area_px.draw(&Text::new(
                format!("{mean:.3}"),
                (x0, y1 - 14),
                (FONT, 10).into_font(),
            ))?;
            if let Some(s) = std.filter(|s| *s > 0.0) {
                let xm = (x0 + x1) / 2;
                let ya = to_y(mean + s) - area_px.get_base_pixel().1;
                let yb = to_y((mean - s).max(0.0)) - area_px.get_base_pixel().1;
                let ink = BLACK.stroke_width(1);
                area_px.draw(&PathElement::new(vec![(xm, ya), (xm, yb)], ink))?;
                area_px.draw(&PathElement::new(vec![(xm - 4, ya), (xm + 4, ya)], ink))?;
                area_px.draw(&PathElement::new(vec![(xm - 4, yb), (xm + 4, yb)], ink))?;
            }
        }
    }
    // Legend: metric colours.
    for (j, name) in metrics.iter().enumerate() {
        let (x, y) = (10 + 140 * j as i32, 4);
        area_px.draw(&Rectangle::new(
            [(x, y), (x + 14, y + 12)],
            series_color(j).filled(),
        ))?;
        area_px.draw(&Text::new(
            name.clone(),
            (x + 18, y),
            (FONT, 12).into_font(),
        ))?;
    }
    Ok(())
}

/// One line of a line chart: a label and `(epoch, value)` points.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

/// Writes a line chart of `curves` (x = epoch) to `path`.
pub fn write_lines(path: &Path, title: &str, y_desc: &str, curves: &[Curve]) -> Result<()> {
    crate::figure!(path, (1000, 520), |area| draw_lines(
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
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 20))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(x_lo.min(1.0)..x_hi.max(2.0), y_lo..y_hi)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(y_desc)
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 14))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    for (i, c) in curves.iter().enumerate() {
        let color = series_color(i);
        chart
            .draw_series(LineSeries::new(c.points.clone(), color.stroke_width(2)))?
            .label(c.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
    }
    if !curves.is_empty() {
        chart
            .configure_series_labels()
            .label_font((FONT, 12))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .position(SeriesLabelPosition::LowerRight)
            .draw()?;
    }
    Ok(())
}
