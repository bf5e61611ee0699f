//! Aggregation: experiments' results folders → comparison tables, charts and pages.
//!
//! [`load`] reads a folder into a [`Summary`] (`summary`: one row per grid point, mean ± sample
//! std over the seeds, laid out by the experiment's `[report]`); [`write()`](fn@write) puts beside the runs
//! `summary.md` and `summary.csv` (`table`), per table a bar chart of accuracy and F-score per
//! grid point and a line chart of validation accuracy by epoch ([`charts`]), linked from
//! `summary.md`, and with `html` also `report.html`, one self-contained page ([`html`]).
//! [`write_comparison`] sets several experiments side by side; [`compare`] pairs two systems run
//! by run and clip by clip and says whether their difference is significant (`--compare`).

pub mod charts;
pub mod compare;
pub mod external;
pub mod html;
mod summary;
mod table;

use std::path::{Path, PathBuf};

use crate::base::{atomic, Error, Result};

pub use summary::{load, JobResult, Row, Stat, Summary};
pub use table::{
    blocks, compare_csv, compare_markdown, csv, markdown, markdown_with_charts, render_markdown,
    Block, TableCharts,
};

/// What [`write()`](fn@write) wrote.
#[derive(Debug, Clone)]
pub struct Written {
    /// `summary.md`'s text.
    pub markdown: String,
    /// Where `summary.md` is.
    pub summary: PathBuf,
    /// The charts per table (file names in the folder).
    pub charts: Vec<TableCharts>,
    /// `report.html`, when asked for.
    pub html: Option<PathBuf>,
    /// What was left out and why (a run's missing `history.csv`, an unreadable picture): the
    /// report is complete otherwise.
    pub warnings: Vec<String>,
}

/// The self-contained page [`write()`](fn@write) writes with `html`.
pub const HTML_FILE: &str = "report.html";

/// Writes the charts, `summary.md` (linking them) and `summary.csv` into the summary's folder,
/// and with `html` also `report.html`. Every file is written atomically. A chart or picture
/// that cannot be drawn or read is a warning, not an error: the tables matter most.
pub fn write(summary: &Summary, html: bool) -> Result<Written> {
    let (charts, mut warnings) = charts::write(summary);
    let blocks = blocks(summary, &charts);
    let md = render_markdown(&blocks);
    let w = |name: &str, text: &str| atomic::write(&summary.dir.join(name), text.as_bytes());
    let summary_md = summary.dir.join("summary.md");
    atomic::write(&summary_md, md.as_bytes())?;
    w("summary.csv", &csv(summary))?;
    let html = if html {
        let (page, more) = html::render(summary, &blocks);
        warnings.extend(more);
        w(HTML_FILE, &page)?;
        Some(summary.dir.join(HTML_FILE))
    } else {
        None
    };
    Ok(Written {
        markdown: md,
        summary: summary_md,
        charts,
        html,
        warnings,
    })
}

/// Writes `comparison.md` and `comparison.csv` of `summaries` (side by side) into `out`;
/// returns the Markdown and the path of `comparison.md`.
pub fn write_comparison(summaries: &[Summary], out: &Path) -> Result<(String, PathBuf)> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let md = compare_markdown(summaries);
    let path = out.join("comparison.md");
    atomic::write(&path, md.as_bytes())?;
    atomic::write(
        &out.join("comparison.csv"),
        compare_csv(summaries).as_bytes(),
    )?;
    Ok((md, path))
}
