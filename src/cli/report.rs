//! `ser report`: comparison tables and charts of experiments' results folders, and with
//! `--html` one self-contained page each.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use crate::base::Result;
use crate::report;

/// `ser report DIR...`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  ser report results/quickstart\n  \
    ser report results/quickstart --html          (also report.html: tables, charts, confusion matrices)\n  \
    ser report results/filters results/epochs   (side by side: also writes results/comparison.md)")]
pub struct ReportArgs {
    /// Results folders of experiments (OUT/<experiment>/).
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// With several folders: where comparison.md / comparison.csv go (default: the first
    /// folder's parent).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Also write report.html in each folder: the tables, the charts and every run's confusion
    /// matrix in one self-contained page (pictures inlined; opens offline).
    #[arg(long)]
    html: bool,
}

pub fn report(args: ReportArgs) -> Result<ExitCode> {
    let mut summaries = Vec::new();
    for dir in &args.dirs {
        let s = report::load(dir)?;
        let written = report::write(&s, args.html)?;
        for w in &written.warnings {
            tracing::warn!("{w}");
        }
        if args.dirs.len() == 1 {
            println!("{}", written.markdown);
        }
        eprintln!("wrote {}", written.summary.display());
        if let Some(page) = &written.html {
            eprintln!("wrote {}", page.display());
        }
        summaries.push(s);
    }
    if summaries.len() > 1 {
        let out = args.out.clone().unwrap_or_else(|| {
            args.dirs[0]
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
        });
        let (md, path) = report::write_comparison(&summaries, &out)?;
        println!("{md}");
        eprintln!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
