//! `ser report`: comparison tables and charts of experiments' results folders, and with
//! `--html` one self-contained page each.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use crate::base::{Error, Result};
use crate::report;

/// `ser report DIR...`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  ser report results/quickstart\n  \
    ser report results/quickstart --html          (also report.html: tables, charts, confusion matrices)\n  \
    ser report results/filters results/epochs   (side by side: also writes results/comparison.md)\n  \
    ser report --compare results/filters results/filters-speaker\n  \
    ser report --compare \"results/filters:model.filters=[128,64,32]\" \"results/filters:model.filters=[256,128,64]\"\n                                              (paired tests: comparison-stats.md in the first folder)\n  \
    ser report --compare results/emodb-peer10 ext:results/emodb-peer10/peer-keras\n                                              \
    (another system's predictions: one seed-N.csv per run, columns clip,true,predicted[,one\n                                              \
    probability column per class]; seed-N.csv pairs with the run of train.seed = N, its clips must\n                                              \
    be that run's test clips, by path or file name)")]
pub struct ReportArgs {
    /// Results folders of experiments (OUT/<experiment>/).
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// With several folders: where comparison.md / comparison.csv go (default: the first
    /// folder's parent); with --compare: where comparison-stats.md / .csv go (default: A's
    /// folder).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Also write report.html in each folder: the tables, the charts and every run's confusion
    /// matrix in one self-contained page (pictures inlined; opens offline).
    #[arg(long)]
    html: bool,
    /// Compare two systems, A then B (`DIR`, one grid point `DIR:key=value,...`, or another
    /// system's predictions `ext:DIR` of seed-N.csv files): runs paired by seeds, differences B − A with a speaker-bootstrap interval, McNemar and Wilcoxon tests
    /// with Holm's correction; writes comparison-stats.md / .csv (in --out, default A's folder).
    #[arg(long)]
    compare: bool,
    /// With --compare: bootstrap resamples.
    #[arg(long, value_name = "N", default_value_t = report::compare::RESAMPLES)]
    resamples: usize,
}

pub fn report(args: ReportArgs) -> Result<ExitCode> {
    if args.compare {
        return compare(&args);
    }
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

/// `ser report --compare A B`.
fn compare(args: &ReportArgs) -> Result<ExitCode> {
    let [a, b] = args.dirs.as_slice() else {
        return Err(Error::Usage(format!(
            "--compare takes two results folders (or grid points DIR:key=value), A then B; got {}",
            args.dirs.len()
        )));
    };
    let side = |p: &PathBuf| report::compare::Side::parse(&p.to_string_lossy());
    let (a, b) = (side(a)?, side(b)?);
    if args.resamples == 0 {
        return Err(Error::Usage("--resamples must be at least 1".into()));
    }
    let c = report::compare::compare(&a, &b, args.resamples)?;
    let out = args.out.clone().unwrap_or_else(|| a.dir.clone());
    let (md, path) = report::compare::write(&c, &out)?;
    println!("{md}");
    eprintln!("wrote {}", path.display());
    Ok(ExitCode::SUCCESS)
}
