//! `ser sweep` and `ser run`: an experiment's grid run (then its report), one of its jobs rerun.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::base::{Error, Result};
use crate::cache::CacheOptions;
use crate::config::{BackendKind, Overrides};
use crate::experiment::describe;
use crate::job::JobOptions;
use crate::report;
use crate::rundir::RunDir;
use crate::runner::{self, LocalTrainer, SweepOptions};

/// Where and how jobs run (shared by `sweep` and `run`); none of it changes a job's id.
#[derive(Debug, Args)]
pub struct RunFlags {
    /// Corpus directory, overriding [data].path of every job.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Results root: jobs go to OUT/<experiment>/<job-id>/.
    #[arg(long, default_value = "results", value_name = "DIR")]
    out: PathBuf,
    /// Backend, overriding [train].backend: flex (CPU) or wgpu (GPU).
    #[arg(long)]
    backend: Option<BackendKind>,
    /// GPU index for wgpu, overriding [train].device.
    #[arg(long)]
    device: Option<usize>,
    /// Feature cache root.
    #[arg(
        long,
        default_value = "results/cache",
        env = "SER_CACHE",
        value_name = "DIR"
    )]
    cache: PathBuf,
    /// Leave out unreadable clips (listed) instead of failing.
    #[arg(long)]
    skip_bad: bool,
}

impl RunFlags {
    fn overrides(&self) -> Overrides {
        Overrides {
            data: self.data.clone(),
            backend: self.backend,
            device: self.device,
        }
    }

    fn trainer(&self, quiet: bool) -> LocalTrainer {
        LocalTrainer {
            options: JobOptions {
                cache: CacheOptions {
                    dir: self.cache.clone(),
                    skip_bad: self.skip_bad,
                    gpu: None,
                },
                quiet,
                label: None,
            },
        }
    }
}

/// `ser sweep FILE`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  ser sweep experiments/quickstart.toml\n  \
    ser sweep experiments/filters.toml --data /data/CREMA-D/AudioWAV --jobs 2\n  \
    ser sweep experiments/filters.toml --dry-run\n\
    Killed or stopped, the same command again runs only the jobs that are not done.")]
pub struct SweepArgs {
    /// Experiment file: a config ([data] [audio] [features] [split] [model] [train]) plus
    /// [grid] and [report].
    file: PathBuf,
    /// List the jobs, their ids and states; run nothing.
    #[arg(long)]
    dry_run: bool,
    /// Rerun jobs that are done, from scratch.
    #[arg(long)]
    force: bool,
    /// Jobs at once (threads; each job's tensor work is multi-threaded too).
    #[arg(long, short = 'j', default_value_t = 1, value_name = "N")]
    jobs: usize,
    /// Threads of each job's tensor work (default: the jobs share all cores). On 2 cores,
    /// `--jobs 2 --threads 1` trains two small models at once, one core each.
    #[arg(long, value_name = "T")]
    threads: Option<usize>,
    /// Run at most N jobs now; the rest stay for the next sweep.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    #[command(flatten)]
    flags: RunFlags,
}

/// `ser run FILE --job ID`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  ser run experiments/filters.toml --job 3f2a9c01d4 --backend wgpu\n  \
    ser run experiments/filters.toml --only \"model.filters=[128,64,32]\" --only train.seed=2\n\
    A done job is rerun from scratch; an unfinished one resumes."
)]
pub struct RunArgs {
    /// Experiment file.
    file: PathBuf,
    /// The job's id (as `ser sweep --dry-run` lists it; a unique prefix will do).
    #[arg(
        long,
        value_name = "ID",
        required_unless_present = "only",
        conflicts_with = "only"
    )]
    job: Option<String>,
    /// Pick the job by its settings: KEY=VALUE (a TOML value), repeated until one job matches.
    #[arg(long, value_name = "KEY=VALUE")]
    only: Vec<String>,
    #[command(flatten)]
    flags: RunFlags,
}

pub fn sweep(args: SweepArgs, quiet: bool) -> Result<ExitCode> {
    let (exp, jobs) = runner::plan(&args.file)?;
    let out = args.flags.out.join(&exp.name);
    if args.dry_run {
        print!(
            "{}",
            runner::dry_run(&exp, &jobs, &out, &args.flags.overrides())
        );
        return Ok(ExitCode::SUCCESS);
    }
    let opts = SweepOptions {
        out: out.clone(),
        jobs: args.jobs.max(1),
        force: args.force,
        limit: args.limit,
        overrides: args.flags.overrides(),
        quiet,
        threads: args.threads,
    };
    let outcome = runner::sweep(&exp, &jobs, &args.flags.trainer(quiet), &opts)?;
    let summary = report::load(&out)?;
    let written = report::write(&summary, false)?;
    for w in &written.warnings {
        tracing::warn!("{w}");
    }
    println!("{}", written.markdown);
    eprintln!(
        "{}: {} of {} jobs done ({} now, {} before), {} failed{}{} in {:.1} s; summary: {}",
        exp.name,
        outcome.done(),
        outcome.total,
        outcome.ran.len(),
        outcome.already_done,
        outcome.failed.len(),
        if outcome.deferred > 0 {
            format!(", {} left for the next sweep (--limit)", outcome.deferred)
        } else {
            String::new()
        },
        if outcome.busy.is_empty() {
            String::new()
        } else {
            format!(", {} running in another process", outcome.busy.len())
        },
        outcome.seconds,
        written.summary.display()
    );
    for (id, message) in &outcome.failed {
        eprintln!("failed {id}: {}", message.lines().next().unwrap_or(""));
    }
    Ok(if outcome.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub fn run(args: RunArgs, quiet: bool) -> Result<ExitCode> {
    let (exp, jobs) = runner::plan(&args.file)?;
    let job = runner::select(&exp, &jobs, args.job.as_deref(), &args.only)?;
    let out = args.flags.out.join(&exp.name);
    eprintln!("{}: job {} ({})", exp.name, job.id, describe(&job.point));
    let opts = SweepOptions {
        out: out.clone(),
        jobs: 1,
        force: true,
        limit: None,
        overrides: args.flags.overrides(),
        quiet,
        threads: None,
    };
    let outcome = runner::sweep(
        &exp,
        std::slice::from_ref(job),
        &args.flags.trainer(quiet),
        &opts,
    )?;
    let dir = out.join(&job.id);
    if let Some((_, message)) = outcome.failed.first() {
        return Err(Error::job(&job.id, format!("failed: {message}")));
    }
    if !outcome.busy.is_empty() {
        return Err(Error::job(
            &job.id,
            format!(
                "is running in another process (it holds the lock in {})",
                dir.display()
            ),
        ));
    }
    if let Some(text) = RunDir::new(&dir).read_report() {
        println!("{text}");
    }
    println!("run directory: {}", dir.display());
    let summary = report::load(&out)?;
    for w in report::write(&summary, false)?.warnings {
        tracing::warn!("{w}");
    }
    Ok(ExitCode::SUCCESS)
}
