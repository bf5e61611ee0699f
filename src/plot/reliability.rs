//! `reliability.png` of a run: the reliability diagram of its test predictions (accuracy per
//! confidence bin against the diagonal of perfect calibration), with the ECE in the title.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{series_color, DrawResult, FONT};
use crate::base::Result;
use crate::eval::calibration::Calibration;

/// Writes the diagram of `cal` to `path` (`.png` or `.svg`).
pub fn write(path: &Path, cal: &Calibration) -> Result<()> {
    crate::figure!(path, (520, 500), |area| draw(&area, cal))
}

/// Draws the diagram on `area`.
pub fn draw<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, cal: &Calibration) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let title = format!(
        "reliability: ECE {:.3}, mean confidence {:.3}",
        cal.ece, cal.mean_confidence
    );
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 17))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(52)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
    chart
        .configure_mesh()
        .x_desc("confidence (top probability)")
        .y_desc("accuracy")
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    let color = series_color(0);
    chart
        .draw_series(cal.bins.iter().filter_map(|b| {
            b.accuracy
                .map(|a| Rectangle::new([(b.lo, 0.0), (b.hi, a)], color.mix(0.6).filled()))
        }))?
        .label("accuracy of the clips in the bin")
        .legend(move |(x, y)| {
            Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.mix(0.6).filled())
        });
    let grey = RGBColor(110, 110, 110);
    chart
        .draw_series(DashedLineSeries::new(
            vec![(0.0, 0.0), (1.0, 1.0)],
            6,
            4,
            grey.stroke_width(1),
        ))?
        .label("perfect calibration")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], grey));
    chart
        .configure_series_labels()
        .label_font((FONT, 12))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    Ok(())
}
