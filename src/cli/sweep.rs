//! `ser sweep` and `ser run`: an experiment's grid run (then its report), one of its jobs rerun.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use crate::cache::CacheOptions;
use crate::config::BackendKind;
use crate::error::{Error, Result};
use crate::job::JobOptions;
use crate::report;
use crate::runner::grid::{describe, parse_assignment, show, value_of};
use crate::runner::{self, Experiment, Job, JobState, LocalTrainer, Overrides, SweepOptions};

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

/// Reads the experiment and its jobs, with `[report]` checked too.
fn plan(file: &Path) -> Result<(Experiment, Vec<Job>)> {
    let exp = Experiment::from_file(file)?;
    let jobs = exp.jobs()?;
    report::layout_for(&exp, &jobs)?;
    Ok((exp, jobs))
}

pub fn sweep(args: SweepArgs, quiet: bool) -> Result<ExitCode> {
    let (exp, jobs) = plan(&args.file)?;
    let out = args.flags.out.join(&exp.name);
    if args.dry_run {
        print!("{}", dry_run(&exp, &jobs, &out, &args.flags.overrides()));
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
        out.join("summary.md").display()
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

/// The job list of `--dry-run`: id, state and the grid keys' values, then what would run.
fn dry_run(exp: &Experiment, jobs: &[Job], out: &Path, overrides: &Overrides) -> String {
    let keys = exp.grid_keys();
    let mut head = vec!["job".to_string(), "state".to_string()];
    head.extend(keys.iter().cloned());
    let mut rows = vec![head];
    let mut done = 0;
    for j in jobs {
        let state = JobState::of(&out.join(&j.id));
        done += (state == JobState::Done) as usize;
        let mut row = vec![j.id.clone(), state.word().to_string()];
        row.extend(
            keys.iter()
                .map(|k| value_of(j, k).map(|v| show(&v)).unwrap_or_default()),
        );
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut text = format!(
        "{}: {} jobs → {}/\n",
        exp.file.display(),
        jobs.len(),
        out.display()
    );
    for r in &rows {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        text += cells.join("  ").trim_end();
        text += "\n";
    }
    let mut sets: Vec<String> = Vec::new();
    for j in jobs {
        let c = overrides.apply(&j.config);
        let s = format!(
            "{} {} ({})",
            c.data.corpus.name(),
            c.features.kind,
            c.data.path.display()
        );
        if !sets.contains(&s) {
            sets.push(s);
        }
    }
    text += &format!(
        "{done} done, {} to run; features: {} distinct set{} ({})\n",
        jobs.len() - done,
        sets.len(),
        if sets.len() == 1 { "" } else { "s" },
        sets.join("; ")
    );
    text
}

pub fn run(args: RunArgs, quiet: bool) -> Result<ExitCode> {
    let (exp, jobs) = plan(&args.file)?;
    let job = select(&exp, &jobs, args.job.as_deref(), &args.only)?;
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
    if let Some((_, message)) = outcome.failed.first() {
        return Err(Error::Usage(format!("job {} failed: {message}", job.id)));
    }
    if !outcome.busy.is_empty() {
        return Err(Error::Usage(format!(
            "job {} is running in another process ({}/{}/lock)",
            job.id,
            out.display(),
            job.id
        )));
    }
    let dir = out.join(&job.id);
    if let Ok(text) = std::fs::read_to_string(dir.join("report.txt")) {
        println!("{text}");
    }
    println!("run directory: {}", dir.display());
    let summary = report::load(&out)?;
    for w in report::write(&summary, false)?.warnings {
        tracing::warn!("{w}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The one job `--job` or `--only` names; errors list the candidates.
fn select<'a>(
    exp: &Experiment,
    jobs: &'a [Job],
    id: Option<&str>,
    only: &[String],
) -> Result<&'a Job> {
    let list = |js: &[&Job]| -> String {
        js.iter()
            .take(12)
            .map(|j| format!("\n  {}  {}", j.id, describe(&j.point)))
            .collect()
    };
    let matching: Vec<&Job> = match id {
        Some(id) => jobs.iter().filter(|j| j.id.starts_with(id)).collect(),
        None => {
            let wanted = only
                .iter()
                .map(|a| parse_assignment(a))
                .collect::<Result<Vec<_>>>()?;
            for (k, _) in &wanted {
                if jobs.iter().all(|j| value_of(j, k).is_none()) {
                    return Err(Error::config(
                        &exp.file,
                        k.clone(),
                        format!("--only {k}: not a key of this experiment's configs"),
                    ));
                }
            }
            jobs.iter()
                .filter(|j| {
                    wanted
                        .iter()
                        .all(|(k, v)| value_of(j, k).as_ref() == Some(v))
                })
                .collect()
        }
    };
    let what = id.map_or_else(|| only.join(" "), |i| format!("--job {i}"));
    match matching.as_slice() {
        [one] => Ok(*one),
        [] => Err(Error::Usage(format!(
            "{}: no job matches {what}; the jobs are:{}",
            exp.file.display(),
            list(&jobs.iter().collect::<Vec<_>>())
        ))),
        many => Err(Error::Usage(format!(
            "{}: {} jobs match {what}; add --only KEY=VALUE until one does:{}",
            exp.file.display(),
            many.len(),
            list(many)
        ))),
    }
}
