//! Sweeps on a Slurm cluster: what `ser sweep FILE --executor slurm` submits, instead of running
//! the jobs here. Three `sbatch` submissions, their scripts written under
//! `<results>/<experiment>/slurm/` for people to read and reuse:
//!
//! 1. `features.sbatch`: the feature cache, once per distinct feature set (`ser features cache`);
//! 2. `array.sbatch`: one job array over the jobs not done yet, frozen in a list
//!    (`jobs-<stamp>.txt`); task `i` runs `ser run FILE --job-list LIST --job-index i`; throttled
//!    to `K` at once with `%K`; after (1) succeeded (`afterok`);
//! 3. `report.sbatch`: `ser report` after the array, whatever its tasks did (`afterany`), so a
//!    failed task still gets a summary that lists it.
//!
//! Every path and name in a script is single-quoted for the shell, and user-chosen values never
//! reach an `#SBATCH` line (they are `sbatch` arguments, passed without a shell): an experiment
//! or folder called `x; rm -rf ~` is just a name. Each submission is recorded
//! (`submission-<stamp>.json`: the list and the three job ids), so a later submission of the same
//! sweep leaves alone what the queue still holds and sends only what is missing or failed.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::base::slurm::{self, Queued};
use crate::base::{atomic, Error, Result};
use crate::config::Overrides;
use crate::experiment::{Experiment, Job};
use crate::rundir::{JobState, RunDir};

/// What `sbatch` is asked for, per job.
#[derive(Debug, Clone, Default)]
pub struct SlurmOptions {
    /// `--partition`.
    pub partition: Option<String>,
    /// `--account`.
    pub account: Option<String>,
    /// GPUs per job (`--gpus`): the tasks then train with `--backend wgpu`.
    pub gpus_per_job: Option<usize>,
    /// CPUs per job (`--cpus-per-task`): the tasks' `--threads`.
    pub cpus_per_job: Option<usize>,
    /// `--mem`, e.g. `16G`.
    pub mem: Option<String>,
    /// `--time`, `HH:MM:SS`.
    pub time: Option<String>,
    /// Array tasks at once (`%K`).
    pub max_parallel: Option<usize>,
    /// More `sbatch` arguments, passed as they are.
    pub sbatch_args: Vec<String>,
    /// The tasks leave out unreadable clips (`--skip-bad`) instead of failing.
    pub skip_bad: bool,
}

/// Where the sweep's files are, as the scripts see them (absolute).
#[derive(Debug, Clone)]
pub struct Paths {
    /// The experiment's results folder (`<out>/<experiment>`).
    pub results: PathBuf,
    /// The feature cache root.
    pub cache: PathBuf,
    /// The `ser` binary the tasks run.
    pub ser: PathBuf,
    /// The folder jobs start in (relative paths of the experiment resolve from it).
    pub workdir: PathBuf,
}

/// A submission's record (`slurm/submission-<stamp>.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    /// When it was made (also in its file names).
    pub stamp: String,
    /// The experiment file as submitted (a copy: editing the original after submitting changes
    /// nothing the queue holds).
    pub experiment: PathBuf,
    /// The frozen job list: task `i` runs the jobs on line `i`.
    pub list: PathBuf,
    /// The job ids of the list, in order.
    pub jobs: Vec<String>,
    /// The job ids of each array task, in the order it runs them: a chain of jobs that share
    /// their first epochs (`runner::chain`) is one task. Empty in records made before chains:
    /// then task `i` runs job `i`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<Vec<String>>,
    /// Slurm job ids of the three submissions (`None` in a dry run).
    pub features_job: Option<String>,
    pub array_job: Option<String>,
    pub report_job: Option<String>,
}

impl Submission {
    /// The job ids of each array task.
    pub fn task_jobs(&self) -> Vec<Vec<String>> {
        if self.tasks.is_empty() {
            self.jobs.iter().map(|id| vec![id.clone()]).collect()
        } else {
            self.tasks.clone()
        }
    }
}

/// What a submission would send, or sent.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The scripts and the list, written.
    pub dir: PathBuf,
    pub submission: Submission,
    /// The `sbatch` calls, as a shell script (`submit.sh`) a person can rerun.
    pub commands: String,
}

/// What `ser sweep --executor slurm` did.
#[derive(Debug, Clone)]
pub struct SlurmSweep {
    /// Jobs already done (left out).
    pub done: usize,
    /// Jobs left out because the queue still holds them (an earlier submission), or a live
    /// process or Slurm job holds their lock.
    pub busy: Vec<String>,
    /// Jobs left for a later submission (`--limit`).
    pub deferred: usize,
    /// The scripts written and, unless a dry run, submitted; `None` when nothing is left to run.
    pub planned: Option<Planned>,
}

/// Refuses options no task could honour, before anything is written or submitted.
pub fn check(opts: &SlurmOptions) -> Result<()> {
    if opts.gpus_per_job.is_some_and(|g| g > 0) && !cfg!(feature = "wgpu") {
        return Err(Error::Usage(
            "--gpus-per-job: this `ser` was built without the wgpu backend, so its tasks could \
             not use a GPU; rebuild with `cargo build --release --features wgpu` and submit \
             again (or leave --gpus-per-job out to train on CPUs)"
                .into(),
        ));
    }
    if opts.max_parallel == Some(0) || opts.cpus_per_job == Some(0) {
        return Err(Error::Usage(
            "--max-parallel and --cpus-per-job must be at least 1".into(),
        ));
    }
    if let Some(t) = &opts.time {
        // Slurm's forms: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S.
        let ok = !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_digit() || b == b':' || b == b'-')
            && t.matches('-').count() <= 1
            && t.matches(':').count() <= 2
            && !t.starts_with([':', '-'])
            && !t.ends_with([':', '-']);
        if !ok {
            return Err(Error::Usage(format!(
                "--time {t:?}: not a Slurm time limit; write HH:MM:SS (e.g. 12:00:00) or \
                 D-HH:MM:SS (e.g. 2-00:00:00)"
            )));
        }
    }
    if let Some(m) = &opts.mem {
        let digits = m.trim_end_matches(['K', 'M', 'G', 'T']);
        if digits.is_empty()
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || m.len() - digits.len() > 1
        {
            return Err(Error::Usage(format!(
                "--mem {m:?}: not a Slurm memory size; write a number with an optional unit \
                 K, M, G or T (e.g. 16G)"
            )));
        }
    }
    for (flag, v) in [
        ("--partition", &opts.partition),
        ("--account", &opts.account),
    ] {
        if v.as_ref()
            .is_some_and(|v| v.is_empty() || v.contains(char::is_whitespace))
        {
            return Err(Error::Usage(format!(
                "{flag} {v:?}: Slurm names have no spaces and are not empty"
            )));
        }
    }
    Ok(())
}

/// The jobs of a submission that are not done now (after `--wait`), with their state.
pub fn unfinished(s: &Submission, results: &Path) -> Vec<(String, JobState)> {
    s.jobs
        .iter()
        .map(|id| (id.clone(), RunDir::new(results.join(id)).state()))
        .filter(|(_, st)| *st != JobState::Done)
        .collect()
}

/// Submits the jobs of `exp` that are not done, running or queued (at most `limit`): writes the
/// scripts, then (unless `dry_run`) the three `sbatch` calls.
#[allow(clippy::too_many_arguments)]
pub fn sweep(
    exp: &Experiment,
    jobs: &[Job],
    paths: &Paths,
    overrides: &Overrides,
    opts: &SlurmOptions,
    limit: Option<usize>,
    dry_run: bool,
) -> Result<SlurmSweep> {
    check(opts)?;
    let (mut todo, busy, done) = to_submit(jobs, &paths.results)?;
    let deferred = limit.map_or(0, |l| todo.len().saturating_sub(l));
    todo.truncate(todo.len() - deferred);
    let planned = if todo.is_empty() {
        None
    } else {
        let mut p = plan(exp, &todo, paths, overrides, opts)?;
        if !dry_run {
            submit(exp, &mut p, paths, opts)?;
        }
        Some(p)
    };
    Ok(SlurmSweep {
        done,
        busy,
        deferred,
        planned,
    })
}

/// The jobs to submit: neither done, nor running (a live lock), nor still queued by an earlier
/// submission; and the ones left alone because of the last two.
pub fn to_submit<'a>(
    jobs: &'a [Job],
    results: &Path,
) -> Result<(Vec<&'a Job>, Vec<String>, usize)> {
    let queued = queued_jobs(results)?;
    let (mut todo, mut busy, mut done) = (Vec::new(), Vec::new(), 0);
    for job in jobs {
        match RunDir::new(results.join(&job.id)).state() {
            JobState::Done => done += 1,
            JobState::Running(_) => busy.push(job.id.clone()),
            _ if queued.contains_key(&job.id) => busy.push(job.id.clone()),
            _ => todo.push(job),
        }
    }
    Ok((todo, busy, done))
}

/// The jobs earlier submissions still have in the queue (pending or running), by job id: the
/// `squeue` entry of its array task. Empty where `squeue` cannot say.
pub fn queued_jobs(results: &Path) -> Result<BTreeMap<String, Queued>> {
    let subs = submissions(results)?;
    if subs.is_empty() {
        return Ok(BTreeMap::new());
    }
    Ok(queued_in(&subs, slurm::queue().as_deref()))
}

/// The jobs of `subs` that `queue` holds, by job id (a later submission's task wins).
pub fn queued_in(subs: &[Submission], queue: Option<&[Queued]>) -> BTreeMap<String, Queued> {
    let mut out = BTreeMap::new();
    let Some(queue) = queue else { return out };
    for sub in subs {
        let Some(array) = &sub.array_job else {
            continue;
        };
        let tasks = sub.task_jobs();
        for q in queue.iter().filter(|q| &q.array_job_id == array) {
            for id in q.task.and_then(|t| tasks.get(t)).into_iter().flatten() {
                out.insert(id.clone(), q.clone());
            }
        }
    }
    out
}

/// The jobs of array task `index`: line `index` (from 0) of the frozen `list` (job ids, space
/// separated: a chain runs in that order), found in `jobs`.
pub fn jobs_of_task<'a>(jobs: &'a [Job], list: &Path, index: usize) -> Result<Vec<&'a Job>> {
    let text = std::fs::read_to_string(list).map_err(|e| Error::io(list, e))?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let line = lines.get(index).ok_or_else(|| {
        Error::Usage(format!(
            "--job-index {index}: {} lists {} tasks (indices 0 to {})",
            list.display(),
            lines.len(),
            lines.len().saturating_sub(1)
        ))
    })?;
    line.split_whitespace()
        .map(|id| {
            jobs.iter().find(|j| j.id == id).ok_or_else(|| {
                Error::format(
                    list,
                    format!(
                        "line {}: job {id} is not a job of the experiment file given; pass the \
                         file the list was made from (slurm/submitted-<stamp>/ keeps it)",
                        index + 1
                    ),
                )
            })
        })
        .collect()
}

/// Every submission recorded in the results folder, oldest first.
pub fn submissions(results: &Path) -> Result<Vec<Submission>> {
    let dir = results.join("slurm");
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(&dir, e)),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("submission-") && n.ends_with(".json"))
        })
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
            serde_json::from_str(&text)
                .map_err(|e| Error::format(p, format!("not a submission record: {e}")))
        })
        .collect()
}

/// Writes the scripts, the frozen list and `submit.sh` for `jobs` of `exp`; submits nothing.
pub fn plan(
    exp: &Experiment,
    jobs: &[&Job],
    paths: &Paths,
    overrides: &Overrides,
    opts: &SlurmOptions,
) -> Result<Planned> {
    check(opts)?;
    let dir = paths.results.join("slurm");
    std::fs::create_dir_all(dir.join("logs")).map_err(|e| Error::io(&dir, e))?;
    exp.write_copy(&paths.results)?;
    let stamp = stamp();
    // The experiment as submitted, under its own name (the name is the results folder's; the
    // job ids do not depend on where the file is).
    let frozen = dir.join(format!("submitted-{stamp}"));
    std::fs::create_dir_all(&frozen).map_err(|e| Error::io(&frozen, e))?;
    let file = frozen.join(format!("{}.toml", exp.name));
    atomic::write(&file, exp.text.as_bytes())?;
    let list = dir.join(format!("jobs-{stamp}.txt"));
    let ids: Vec<String> = jobs.iter().map(|j| j.id.clone()).collect();
    // One task per chain of jobs sharing their first epochs, so no task waits on another's
    // checkpoint; the jobs of a line run in order.
    let owned: Vec<Job> = jobs.iter().map(|&j| j.clone()).collect();
    let tasks: Vec<Vec<String>> = super::chain::chains(&owned, overrides)
        .units
        .iter()
        .map(|u| u.iter().map(|&i| ids[i].clone()).collect())
        .collect();
    let lines: Vec<String> = tasks.iter().map(|t| t.join(" ")).collect();
    atomic::write(&list, (lines.join("\n") + "\n").as_bytes())?;

    let q = |p: &Path| quote(&p.display().to_string());
    let data = overrides
        .data
        .as_ref()
        .map(|d| format!(" --data {}", q(d)))
        .unwrap_or_default();
    let out = paths.results.parent().unwrap_or(Path::new("."));
    let skip_bad = if opts.skip_bad { " --skip-bad" } else { "" };
    let mut run = format!(
        "--out {} --cache {}{data}{skip_bad}",
        q(out),
        q(&paths.cache)
    );
    let threads = opts
        .cpus_per_job
        .map(|c| format!(" --threads {c}"))
        .unwrap_or_default();
    if opts.gpus_per_job.is_some_and(|g| g > 0) {
        run += " --backend wgpu";
    } else if let Some(b) = overrides.backend {
        run += &format!(" --backend {b}");
    }
    if let Some(d) = overrides.device {
        run += &format!(" --device {d}");
    }
    let ser = q(&paths.ser);
    let scripts = [
        (
            "features.sbatch",
            "the feature cache, once per distinct feature set of the experiment",
            format!(
                "exec {ser} -q{threads} features cache {} --cache {}{data}{skip_bad}",
                q(&file),
                q(&paths.cache),
            ),
        ),
        (
            "array.sbatch",
            "array task i trains and evaluates the jobs on line i of the list given to it",
            format!(
                "exec {ser} -q{threads} run {} --job-list \"$1\" --job-index \"$SLURM_ARRAY_TASK_ID\" {run}",
                q(&file)
            ),
        ),
        (
            "report.sbatch",
            "the summary of the results folder, after the array",
            format!("exec {ser} -q report {}", q(&paths.results)),
        ),
    ];
    for (name, what, body) in &scripts {
        let text = format!(
            "#!/bin/bash\n# ser sweep {}: {what}.\n# Submitted by submit.sh (dependencies and \
             resources are its sbatch arguments).\nset -euo pipefail\n{body}\n",
            exp.name.replace('\n', " ")
        );
        atomic::write(&dir.join(name), text.as_bytes())?;
        set_executable(&dir.join(name))?;
    }
    let submission = Submission {
        stamp: stamp.clone(),
        experiment: file.clone(),
        list: list.clone(),
        jobs: ids,
        tasks,
        features_job: None,
        array_job: None,
        report_job: None,
    };
    let commands = submit_script(exp, &submission, &dir, paths, opts);
    atomic::write(&dir.join("submit.sh"), commands.as_bytes())?;
    set_executable(&dir.join("submit.sh"))?;
    Ok(Planned {
        dir,
        submission,
        commands,
    })
}

/// The three `sbatch` calls of a plan: each argument as `sbatch` gets it.
fn sbatch_calls(
    exp: &Experiment,
    s: &Submission,
    dir: &Path,
    paths: &Paths,
    opts: &SlurmOptions,
) -> [Vec<String>; 3] {
    let name = format!("ser-{}", job_name(&exp.name));
    let log = |what: &str| dir.join("logs").join(what).display().to_string();
    let mut resources: Vec<String> = Vec::new();
    if let Some(p) = &opts.partition {
        resources.push(format!("--partition={p}"));
    }
    if let Some(a) = &opts.account {
        resources.push(format!("--account={a}"));
    }
    if let Some(t) = &opts.time {
        resources.push(format!("--time={t}"));
    }
    let base = |suffix: &str, output: String| {
        let mut v = vec![
            "--parsable".to_string(),
            format!("--job-name={name}-{suffix}"),
            format!("--chdir={}", paths.workdir.display()),
            format!("--output={output}"),
        ];
        v.extend(resources.iter().cloned());
        v
    };
    let mut features = base("features", log("features-%j.log"));
    if let Some(c) = opts.cpus_per_job {
        features.push(format!("--cpus-per-task={c}"));
    }
    features.extend(opts.sbatch_args.iter().cloned());
    features.push(dir.join("features.sbatch").display().to_string());

    let mut array = base("array", log("%A_%a.log"));
    // A failed feature job would otherwise leave the array (and so the report) pending forever.
    array.push("--kill-on-invalid-dep=yes".into());
    let n = s.task_jobs().len().max(1);
    array.push(match opts.max_parallel {
        Some(k) => format!("--array=0-{}%{k}", n - 1),
        None => format!("--array=0-{}", n - 1),
    });
    if let Some(c) = opts.cpus_per_job {
        array.push(format!("--cpus-per-task={c}"));
    }
    if let Some(g) = opts.gpus_per_job.filter(|g| *g > 0) {
        array.push(format!("--gpus={g}"));
    }
    if let Some(m) = &opts.mem {
        array.push(format!("--mem={m}"));
    }
    array.extend(opts.sbatch_args.iter().cloned());
    array.push(dir.join("array.sbatch").display().to_string());
    array.push(s.list.display().to_string());

    let mut report = base("report", log("report-%j.log"));
    report.extend(opts.sbatch_args.iter().cloned());
    report.push(dir.join("report.sbatch").display().to_string());
    [features, array, report]
}

/// `submit.sh`: the three calls as a person would type them, dependencies chained.
fn submit_script(
    exp: &Experiment,
    s: &Submission,
    dir: &Path,
    paths: &Paths,
    opts: &SlurmOptions,
) -> String {
    let [f, a, r] = sbatch_calls(exp, s, dir, paths, opts);
    let line =
        |args: &[String]| -> String { args.iter().map(|x| quote(x)).collect::<Vec<_>>().join(" ") };
    format!(
        "#!/bin/bash\n# The submission of `ser sweep --executor slurm` ({} jobs of {}), to read \
         or to run again.\nset -euo pipefail\n\
         features=$(sbatch {})\n\
         array=$(sbatch --dependency=afterok:\"$features\" {})\n\
         report=$(sbatch --dependency=afterany:\"$array\" {})\n\
         echo \"features $features, array $array, report $report\"\n",
        s.jobs.len(),
        exp.name.replace('\n', " "),
        line(&f),
        line(&a),
        line(&r)
    )
}

/// Submits a plan: the three `sbatch` calls, chained; records the submission.
pub fn submit(
    exp: &Experiment,
    planned: &mut Planned,
    paths: &Paths,
    opts: &SlurmOptions,
) -> Result<()> {
    let [f, a, r] = sbatch_calls(exp, &planned.submission, &planned.dir, paths, opts);
    let features = sbatch(&f, None)?;
    let array = sbatch(&a, Some(format!("afterok:{features}")))?;
    let report = sbatch(&r, Some(format!("afterany:{array}")))?;
    let s = &mut planned.submission;
    s.features_job = Some(features);
    s.array_job = Some(array);
    s.report_job = Some(report);
    let path = planned.dir.join(format!("submission-{}.json", s.stamp));
    let text = serde_json::to_string_pretty(s).map_err(|e| Error::format(&path, e.to_string()))?;
    atomic::write(&path, text.as_bytes())
}

/// Runs `sbatch --parsable ARGS` (with a dependency); returns the job id.
fn sbatch(args: &[String], dependency: Option<String>) -> Result<String> {
    let mut cmd = Command::new("sbatch");
    if let Some(d) = dependency {
        cmd.arg(format!("--dependency={d}"));
    }
    cmd.args(args);
    let out = cmd.output().map_err(|e| Error::Command {
        program: "sbatch".into(),
        message: format!("cannot run it ({e}): is Slurm's client installed and on PATH?"),
    })?;
    if !out.status.success() {
        return Err(Error::Command {
            program: "sbatch".into(),
            message: format!(
                "refused the submission ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    // `--parsable` prints `JOBID` or `JOBID;CLUSTER`.
    let text = String::from_utf8_lossy(&out.stdout);
    let id = text.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::Command {
            program: "sbatch".into(),
            message: format!("printed no job id: `{}`", text.trim()),
        });
    }
    Ok(id)
}

/// Blocks until the submission's report job has left the queue (polling `squeue`).
pub fn wait(s: &Submission, poll: Duration) -> Result<()> {
    let Some(report) = &s.report_job else {
        return Ok(());
    };
    loop {
        let ids: HashSet<String> = match slurm::queue() {
            Some(q) => q.into_iter().map(|j| j.array_job_id).collect(),
            None => {
                return Err(Error::Command {
                    program: "squeue".into(),
                    message: "cannot read the queue to wait for the sweep; check `squeue`".into(),
                })
            }
        };
        if !ids.contains(report) {
            return Ok(());
        }
        std::thread::sleep(poll);
    }
}

/// `value` single-quoted for a POSIX shell (`'` written as `'\''`).
pub fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

/// A Slurm job name from an experiment's name: letters, digits, `.`, `_` and `-` only.
fn job_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    if s.is_empty() {
        "sweep".into()
    } else {
        s
    }
}

/// `20261207-153012-123`: seconds since the epoch as a sortable UTC-free stamp, plus millis.
fn stamp() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}-{:03}", d.as_secs(), d.subsec_millis())
}

fn set_executable(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| Error::io(path, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_hostile_names_inert() {
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("x; rm -rf ~"), "'x; rm -rf ~'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(job_name("x; rm -rf ~"), "x__rm_-rf__");
        assert_eq!(job_name(""), "sweep");
    }
}
