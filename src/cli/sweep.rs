//! `ser sweep`, `ser run` and `ser status`: an experiment's grid run here or submitted to Slurm
//! (then its report), one of its jobs rerun (or run as an array task), the jobs' states.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::base::{Error, Result};
use crate::cache::CacheOptions;
use crate::config::{BackendKind, Overrides};
use crate::experiment::{describe, Job};
use crate::job::JobOptions;
use crate::report;
use crate::rundir::RunDir;
use crate::runner::slurm::{self, SlurmOptions};
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
    ser sweep experiments/filters.toml --dry-run\n  \
    ser sweep experiments/filters.toml --executor slurm --partition gpu --gpus-per-job 1 \
    --time 12:00:00 --max-parallel 8\n\
    Killed or stopped, the same command again runs only the jobs that are not done; on Slurm, it \
    submits only the jobs neither done nor still in the queue.")]
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
    /// Jobs at once, or `auto`: small models side by side, one core each (the report's 1D grid
    /// runs 1.4× faster so on 2 cores), large ones one at a time with every core.
    #[arg(long, short = 'j', default_value = "auto", value_name = "N|auto")]
    jobs: Jobs,
    /// Threads of each job's tensor work (default: the cores divided among the jobs).
    #[arg(long, value_name = "T")]
    threads: Option<usize>,
    /// Run at most N jobs now; the rest stay for the next sweep.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Only the jobs whose settings match KEY=VALUE (a TOML value), repeated: all must match,
    /// e.g. --only features.kind=zcr+rms --only train.seed=0.
    #[arg(long, value_name = "KEY=VALUE")]
    only: Vec<String>,
    /// Where jobs run: here, or as a Slurm job array (sbatch; scripts in
    /// OUT/<experiment>/slurm/).
    #[arg(long, value_enum, default_value_t = Executor::Local)]
    executor: Executor,
    #[command(flatten)]
    slurm: SlurmFlags,
    #[command(flatten)]
    flags: RunFlags,
}

/// `--jobs N` or `--jobs auto` (`None`).
#[derive(Debug, Clone, Copy)]
pub struct Jobs(Option<usize>);

impl std::str::FromStr for Jobs {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s == "auto" {
            return Ok(Jobs(None));
        }
        match s.parse::<usize>() {
            Ok(n) if n > 0 => Ok(Jobs(Some(n))),
            _ => Err(format!(
                "`{s}`: expected a number of jobs (1 or more) or `auto`"
            )),
        }
    }
}

/// Where a sweep's jobs run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Executor {
    /// On this machine, `--jobs N` at a time.
    Local,
    /// As a Slurm job array: feature job, array, report job (sbatch).
    Slurm,
}

/// `--executor slurm`'s requests to `sbatch` (per job).
#[derive(Debug, Args)]
#[command(next_help_heading = "Slurm (--executor slurm)")]
pub struct SlurmFlags {
    /// Partition (sbatch --partition).
    #[arg(long, value_name = "P")]
    partition: Option<String>,
    /// Account (sbatch --account).
    #[arg(long, value_name = "A")]
    account: Option<String>,
    /// GPUs per job (sbatch --gpus); tasks then train with --backend wgpu (needs a `--features
    /// wgpu` build).
    #[arg(long, value_name = "N")]
    gpus_per_job: Option<usize>,
    /// CPUs per job (sbatch --cpus-per-task); also each task's --threads.
    #[arg(long, value_name = "N")]
    cpus_per_job: Option<usize>,
    /// Memory per job (sbatch --mem), e.g. 16G.
    #[arg(long, value_name = "M")]
    mem: Option<String>,
    /// Time limit per job (sbatch --time), e.g. 12:00:00 or 2-00:00:00.
    #[arg(long, value_name = "HH:MM:SS")]
    time: Option<String>,
    /// Array tasks running at once (the array's %K).
    #[arg(long, value_name = "K")]
    max_parallel: Option<usize>,
    /// One more sbatch argument, as is (repeat for several), e.g. --sbatch-arg=--qos=long.
    #[arg(long = "sbatch-arg", value_name = "ARG", allow_hyphen_values = true)]
    sbatch_args: Vec<String>,
    /// Block until the report job has run; exit 1 if any submitted job is not done.
    #[arg(long)]
    wait: bool,
}

impl SlurmFlags {
    /// The `sbatch` requests; `skip_bad` is the tasks' `--skip-bad`.
    fn options(&self, skip_bad: bool) -> SlurmOptions {
        SlurmOptions {
            partition: self.partition.clone(),
            account: self.account.clone(),
            gpus_per_job: self.gpus_per_job,
            cpus_per_job: self.cpus_per_job,
            mem: self.mem.clone(),
            time: self.time.clone(),
            max_parallel: self.max_parallel,
            sbatch_args: self.sbatch_args.clone(),
            skip_bad,
        }
    }

    /// The flags given, by name (they mean nothing to the local executor).
    fn given(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        let pairs = [
            ("--partition", self.partition.is_some()),
            ("--account", self.account.is_some()),
            ("--gpus-per-job", self.gpus_per_job.is_some()),
            ("--cpus-per-job", self.cpus_per_job.is_some()),
            ("--mem", self.mem.is_some()),
            ("--time", self.time.is_some()),
            ("--max-parallel", self.max_parallel.is_some()),
            ("--sbatch-arg", !self.sbatch_args.is_empty()),
            ("--wait", self.wait),
        ];
        for (flag, on) in pairs {
            if on {
                v.push(flag);
            }
        }
        v
    }
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
        required_unless_present_any = ["only", "job_list"],
        conflicts_with_all = ["only", "job_list"]
    )]
    job: Option<String>,
    /// Pick the job by its settings: KEY=VALUE (a TOML value), repeated until one job matches.
    #[arg(long, value_name = "KEY=VALUE", conflicts_with = "job_list")]
    only: Vec<String>,
    /// A file of job ids, one per line (what a Slurm submission freezes): run the one on line
    /// --job-index. A done job is left as it is, an unfinished one resumes.
    #[arg(long, value_name = "FILE", requires = "job_index")]
    job_list: Option<PathBuf>,
    /// The line of --job-list to run, from 0 (an array task's $SLURM_ARRAY_TASK_ID).
    #[arg(long, value_name = "I", requires = "job_list")]
    job_index: Option<usize>,
    #[command(flatten)]
    flags: RunFlags,
}

/// `ser status RESULTS`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  ser status results/filters")]
pub struct StatusArgs {
    /// An experiment's results folder (OUT/<experiment>).
    results: PathBuf,
}

pub fn sweep(args: SweepArgs, quiet: bool) -> Result<ExitCode> {
    let (exp, jobs) = runner::plan(&args.file)?;
    let jobs = if args.only.is_empty() {
        jobs
    } else {
        let picked: Vec<Job> = runner::matching(&exp, &jobs, &args.only)?
            .into_iter()
            .cloned()
            .collect();
        if picked.is_empty() {
            return Err(Error::Usage(format!(
                "{}: no job matches --only {}; `ser sweep {} --dry-run` lists the jobs",
                exp.file.display(),
                args.only.join(" --only "),
                args.file.display()
            )));
        }
        picked
    };
    let out = args.flags.out.join(&exp.name);
    if exp.search.is_some() && args.executor == Executor::Slurm {
        return Err(Error::Usage(format!(
            "{}: [search] (successive halving) runs here only: each cut waits on every point's \
             rung; leave out --executor slurm, or drop [search] to submit the whole grid",
            exp.file.display()
        )));
    }
    if args.executor == Executor::Slurm {
        return sweep_slurm(&args, &exp, &jobs, &out);
    }
    if let Some(flag) = args.slurm.given().first() {
        return Err(Error::Usage(format!(
            "{flag} is for `--executor slurm`; add that flag, or leave {flag} out to run here"
        )));
    }
    if args.dry_run {
        print!(
            "{}",
            runner::dry_run(&exp, &jobs, &out, &args.flags.overrides())
        );
        if let Some(search) = &exp.search {
            let seeds = exp.layout(&jobs)?.seeds;
            println!(
                "{}",
                runner::halving::plan_line(&exp, search, &jobs, &seeds)?
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let opts = SweepOptions {
        out: out.clone(),
        jobs: args.jobs.0,
        force: args.force,
        limit: args.limit,
        overrides: args.flags.overrides(),
        quiet,
        threads: args.threads,
        pause_after: None,
    };
    let trainer = args.flags.trainer(quiet);
    let outcome = match &exp.search {
        Some(search) => {
            let seeds = exp.layout(&jobs)?.seeds;
            let h = runner::halving::sweep(&exp, search, &jobs, &seeds, &trainer, &opts)?;
            if h.outcome.signal.is_none() && h.outcome.stopped.is_none() {
                eprintln!(
                    "{}: successive halving at epochs {}: {} grid point{} stopped, {} epochs \
                     trained of the full grid's {} ({:.0} %)",
                    exp.name,
                    h.rungs
                        .iter()
                        .map(|r| r.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    h.cuts.len(),
                    if h.cuts.len() == 1 { "" } else { "s" },
                    h.epochs,
                    h.full_epochs,
                    100.0 * h.epochs as f64 / h.full_epochs.max(1) as f64
                );
            }
            h.outcome
        }
        None => runner::sweep(&exp, &jobs, &trainer, &opts)?,
    };
    if let Some(signal) = outcome.signal {
        // Stopping promptly matters more than a summary (a cluster kills soon after SIGTERM).
        eprintln!(
            "{}: {}; {} of {} jobs done ({} now), {} interrupted{}: the same command again \
             resumes them from their last checkpoints",
            exp.name,
            Error::Interrupted { signal },
            outcome.done(),
            outcome.total,
            outcome.ran.len(),
            outcome.interrupted.len(),
            if outcome.interrupted.is_empty() {
                String::new()
            } else {
                format!(" ({})", outcome.interrupted.join(" "))
            }
        );
        return Err(Error::Interrupted { signal });
    }
    if let Some(why) = &outcome.stopped {
        // The summary would need the same storage; the jobs' files say where things stand.
        eprintln!(
            "{}: stopped: {why}\n{} of {} jobs done; make room (or choose --out / --cache on \
             another disk) and run the same command again: done jobs are kept, the rest resume",
            exp.name,
            outcome.done(),
            outcome.total
        );
        return Ok(ExitCode::from(1));
    }
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
        } + &if outcome.halted.is_empty() {
            String::new()
        } else {
            format!(", {} stopped by successive halving", outcome.halted.len())
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
    let out = args.flags.out.join(&exp.name);
    // An array task: the jobs on its line of the frozen list, in order (a chain continues the
    // shorter jobs' checkpoints); done stays done, and the report is the report job's (not one
    // per task). Otherwise the one job named, rerun from scratch.
    let task = args.job_list.as_deref().zip(args.job_index);
    let picked: Vec<Job> = match task {
        Some((list, index)) => slurm::jobs_of_task(&jobs, list, index)?
            .into_iter()
            .cloned()
            .collect(),
        None => vec![runner::select(&exp, &jobs, args.job.as_deref(), &args.only)?.clone()],
    };
    for job in &picked {
        eprintln!("{}: job {} ({})", exp.name, job.id, describe(&job.point));
    }
    let opts = SweepOptions {
        out: out.clone(),
        jobs: Some(1),
        force: task.is_none(),
        limit: None,
        overrides: args.flags.overrides(),
        quiet,
        threads: None,
        pause_after: None,
    };
    let outcome = runner::sweep(&exp, &picked, &args.flags.trainer(quiet), &opts)?;
    if let Some(signal) = outcome.signal {
        return Err(Error::Interrupted { signal });
    }
    if let Some(why) = &outcome.stopped {
        return Err(Error::job(&picked[0].id, format!("stopped: {why}")));
    }
    if let Some((id, message)) = outcome.failed.first() {
        return Err(Error::job(id, format!("failed: {message}")));
    }
    if let Some(id) = outcome.busy.first() {
        return Err(Error::job(
            id,
            format!(
                "is running in another process (it holds the lock in {})",
                out.join(id).display()
            ),
        ));
    }
    if outcome.ran.is_empty() {
        eprintln!("done already, left as it is");
    }
    for id in &outcome.ran {
        if let Some(text) = RunDir::new(out.join(id)).read_report() {
            println!("{text}");
        }
        println!("run directory: {}", out.join(id).display());
    }
    if task.is_some() {
        return Ok(ExitCode::SUCCESS);
    }
    let summary = report::load(&out)?;
    for w in report::write(&summary, false)?.warnings {
        tracing::warn!("{w}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `ser sweep --executor slurm`: writes the scripts, submits them (unless `--dry-run`), waits
/// (with `--wait`).
fn sweep_slurm(
    args: &SweepArgs,
    exp: &crate::experiment::Experiment,
    jobs: &[crate::experiment::Job],
    out: &Path,
) -> Result<ExitCode> {
    for (flag, given) in [
        ("--jobs", args.jobs.0.is_some()),
        ("--threads", args.threads.is_some()),
        ("--force", args.force),
    ] {
        if given {
            return Err(Error::Usage(format!(
                "{flag} is for the local executor; on Slurm, jobs run as array tasks (at once: \
                 --max-parallel; threads: --cpus-per-job), and a done job is rerun with \
                 `ser run FILE --job ID` in a job of your own"
            )));
        }
    }
    let absolute = |p: &Path| std::path::absolute(p).map_err(|e| Error::io(p, e));
    let paths = slurm::Paths {
        results: absolute(out)?,
        cache: absolute(&args.flags.cache)?,
        ser: std::env::current_exe().map_err(|e| Error::io("ser", e))?,
        workdir: absolute(Path::new("."))?,
    };
    let mut overrides = args.flags.overrides();
    if let Some(d) = &overrides.data {
        overrides.data = Some(absolute(d)?);
    }
    let opts = args.slurm.options(args.flags.skip_bad);
    let done = slurm::sweep(
        exp,
        jobs,
        &paths,
        &overrides,
        &opts,
        args.limit,
        args.dry_run,
    )?;
    let left_alone = if done.busy.is_empty() {
        String::new()
    } else {
        format!(
            ", {} still queued or running (left alone: {})",
            done.busy.len(),
            done.busy.join(" ")
        )
    };
    // Paths in hints are quoted where needed, so they can be pasted into a shell.
    let shown = |p: &Path| {
        let s = p.display().to_string();
        if s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,".contains(&b))
        {
            s
        } else {
            slurm::quote(&s)
        }
    };
    let Some(planned) = &done.planned else {
        eprintln!(
            "{}: nothing to submit: {} of {} jobs done{left_alone}",
            exp.name,
            done.done,
            jobs.len()
        );
        return Ok(ExitCode::SUCCESS);
    };
    let s = &planned.submission;
    let deferred = if done.deferred > 0 {
        format!(", {} left for the next submission (--limit)", done.deferred)
    } else {
        String::new()
    };
    if args.dry_run {
        print!("{}", planned.commands);
        eprintln!(
            "{}: {} jobs would be submitted as {} array tasks ({} done{left_alone}{deferred}); \
             nothing submitted. The scripts are in {}; `bash {}` submits them.",
            exp.name,
            s.jobs.len(),
            s.task_jobs().len(),
            done.done,
            planned.dir.display(),
            shown(&planned.dir.join("submit.sh"))
        );
        return Ok(ExitCode::SUCCESS);
    }
    let id = |j: &Option<String>| j.clone().unwrap_or_default();
    println!(
        "submitted {} jobs of {}: features {}, array {} (tasks 0-{}), report {}",
        s.jobs.len(),
        exp.name,
        id(&s.features_job),
        id(&s.array_job),
        s.task_jobs().len() - 1,
        id(&s.report_job)
    );
    eprintln!(
        "{} done before{left_alone}{deferred}. Logs: {}; progress: `ser status {}`.",
        done.done,
        planned.dir.join("logs").display(),
        shown(out)
    );
    if !args.slurm.wait {
        return Ok(ExitCode::SUCCESS);
    }
    slurm::wait(s, Duration::from_secs(5))?;
    let unfinished = slurm::unfinished(s, &paths.results);
    let summary = out.join("summary.md");
    if unfinished.is_empty() {
        if let Ok(text) = std::fs::read_to_string(&summary) {
            println!("{text}");
        }
        eprintln!("{}: all {} submitted jobs done", exp.name, s.jobs.len());
        return Ok(ExitCode::SUCCESS);
    }
    for (job, state) in &unfinished {
        let why = match state {
            crate::rundir::JobState::Failed(m) => m.lines().next().unwrap_or("").to_string(),
            other => format!("{} (killed, or out of time or memory?)", other.word()),
        };
        eprintln!("not done {job}: {why}");
    }
    eprintln!(
        "{}: {} of {} submitted jobs not done; logs in {}; the same command again submits them",
        exp.name,
        unfinished.len(),
        s.jobs.len(),
        planned.dir.join("logs").display()
    );
    Ok(ExitCode::from(1))
}

pub fn status(args: StatusArgs) -> Result<ExitCode> {
    let Some(exp) = crate::experiment::Experiment::read_copy(&args.results)? else {
        return Err(Error::Usage(format!(
            "{}: not an experiment's results folder (no experiment.toml in it); `ser sweep \
             FILE` makes one, under --out (default results/)",
            args.results.display()
        )));
    };
    let jobs = exp.jobs()?;
    let rows = runner::status::status(&jobs, &args.results)?;
    print!(
        "{}",
        runner::status::render(&exp, &jobs, &rows, &args.results)
    );
    Ok(ExitCode::SUCCESS)
}
