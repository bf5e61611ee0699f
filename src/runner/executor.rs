//! Runs jobs on this machine: the ones not done yet, `--jobs N` at a time, each under its lock.
//!
//! 1. Jobs whose directory has `metrics.json` are skipped (`--force` empties and reruns them).
//! 2. The features of every distinct (corpus, audio, features) among the remaining jobs are
//!    prepared one set after the other ([`Trainer::prepare`]; extraction itself is parallel), so
//!    jobs running side by side only ever read the cache.
//! 3. N worker threads take jobs in grid order. A job locked by a live process (another sweep)
//!    is left to it; a failure (an error or a panic) is written to `error.txt` and the sweep goes
//!    on. One progress bar counts jobs done / total with the ETA; the running jobs' epoch bars sit
//!    under it.
//! 4. On SIGINT / SIGTERM ([`interrupt`]) no further job starts; running ones stop at their next
//!    training step and are recorded as interrupted (`interrupted.txt`, not `error.txt`), to
//!    resume from their last checkpoint on the next sweep.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use super::{chain, packing, Trainer};
use crate::base::device::{self, BackendKind};
use crate::base::error::catch_panic;
use crate::base::{interrupt, progress, Error, Result};
use crate::config::{Config, Overrides};
use crate::experiment::{Experiment, Job};
use crate::rundir::{JobState, RunDir};
use crate::train::checkpoint;

/// How to run a set of jobs.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// The experiment's results folder: job `id` runs in `<out>/<id>/`.
    pub out: PathBuf,
    /// Jobs at once (at least 1); `None`: chosen from the models' sizes and the cores
    /// (`--jobs auto`, see [`super::packing`]).
    pub jobs: Option<usize>,
    /// Rerun jobs that are done, from scratch.
    pub force: bool,
    /// Run at most this many jobs now; the rest stay pending for the next sweep.
    pub limit: Option<usize>,
    /// Command-line values applied to every job's config.
    pub overrides: Overrides,
    /// No progress bar.
    pub quiet: bool,
    /// Rayon threads of each job's tensor work (its own pool per job thread); `None`: all jobs
    /// share the global pool (one thread per core).
    pub threads: Option<usize>,
    /// Train up to this epoch only, for now (a rung of successive halving): such jobs end
    /// paused, not done, their test part unread.
    pub pause_after: Option<usize>,
}

impl SweepOptions {
    /// Defaults for a results folder: jobs packed automatically, nothing forced, no limit.
    pub fn new(out: impl Into<PathBuf>) -> Self {
        Self {
            out: out.into(),
            jobs: None,
            force: false,
            limit: None,
            overrides: Overrides::default(),
            quiet: false,
            threads: None,
            pause_after: None,
        }
    }
}

/// What a sweep did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SweepOutcome {
    /// Jobs in the grid.
    pub total: usize,
    /// Done before this sweep started (skipped).
    pub already_done: usize,
    /// Ids run to completion now.
    pub ran: Vec<String>,
    /// Ids that failed now, with the message.
    pub failed: Vec<(String, String)>,
    /// Ids left alone because a live process (another sweep) holds their lock.
    pub busy: Vec<String>,
    /// Jobs not started because of `limit`.
    pub deferred: usize,
    /// Ids stopped by a signal now (they resume on the next sweep).
    pub interrupted: Vec<String>,
    /// Ids paused at `pause_after` now (successive halving).
    pub paused: Vec<String>,
    /// Ids left stopped by successive halving (`halted.txt`), not run.
    pub halted: Vec<String>,
    /// The signal that stopped the sweep, if one did (jobs after it were not started).
    pub signal: Option<i32>,
    /// Why the sweep stopped early without a signal: the storage refused a write (full disk,
    /// quota, read-only), which every later job would hit too; the message names the path.
    pub stopped: Option<String>,
    /// Wall time of the sweep.
    pub seconds: f64,
}

impl SweepOutcome {
    /// Jobs done now or before.
    pub fn done(&self) -> usize {
        self.already_done + self.ran.len()
    }
}

/// Runs the experiment's `jobs` into `opts.out`, after copying the experiment file there (for
/// `ser report`).
pub fn sweep(
    exp: &Experiment,
    jobs: &[Job],
    trainer: &dyn Trainer,
    opts: &SweepOptions,
) -> Result<SweepOutcome> {
    exp.write_copy(&opts.out)?;
    run_jobs(jobs, trainer, opts)
}

/// Runs every job of `jobs` that is not done (all of them with `force`), at most `opts.limit`.
pub fn run_jobs(jobs: &[Job], trainer: &dyn Trainer, opts: &SweepOptions) -> Result<SweepOutcome> {
    let started = Instant::now();
    let mut outcome = SweepOutcome {
        total: jobs.len(),
        ..SweepOutcome::default()
    };
    let chains = chain::chains(jobs, &opts.overrides);
    let todo_idx = to_run(jobs, opts, &mut outcome);
    let todo: Vec<&Job> = todo_idx.iter().map(|&i| &jobs[i]).collect();
    if todo.is_empty() {
        outcome.seconds = started.elapsed().as_secs_f64();
        return Ok(outcome);
    }
    let configs: Vec<Config> = todo
        .iter()
        .map(|j| opts.overrides.apply(&j.config))
        .collect();
    let units = units_of(&chains, &todo_idx);
    let pack = packing::packing(
        &configs,
        units.len(),
        packing::cores(),
        opts.jobs,
        opts.threads,
    );
    tracing::info!(
        "{} of {} jobs to run ({} done before), {} at a time{}{}",
        todo.len(),
        jobs.len(),
        outcome.already_done,
        pack.jobs,
        pack.threads
            .map(|t| format!(", {t} thread{} each", if t == 1 { "" } else { "s" }))
            .unwrap_or_default(),
        if pack.auto { " (--jobs auto)" } else { "" }
    );
    check_devices(&configs)?;
    let prepared = prepare_features(&configs, trainer);
    // A signal during the features: the jobs would fail on a half-prepared cache; stop instead.
    let (results, stopped) = match interrupt::requested() {
        Some(_) => (Vec::new(), None),
        None => {
            let work = Work {
                todo: &todo,
                configs: &configs,
                units,
                sources: todo_idx
                    .iter()
                    .map(|&i| chains.source[i].map(|s| &jobs[s]))
                    .collect(),
            };
            run_in_parallel(&work, pack, &prepared, trainer, opts)?
        }
    };
    outcome.stopped = stopped;
    for (i, ran) in results {
        let id = todo[i].id.clone();
        match ran {
            Ran::Done => outcome.ran.push(id),
            Ran::AlreadyDone => outcome.already_done += 1,
            Ran::Failed(m, _) => outcome.failed.push((id, m)),
            Ran::Busy => outcome.busy.push(id),
            Ran::Interrupted => outcome.interrupted.push(id),
            Ran::Paused => outcome.paused.push(id),
        }
    }
    outcome.signal = interrupt::requested();
    outcome.seconds = started.elapsed().as_secs_f64();
    Ok(outcome)
}

/// The jobs to run now (indices into `jobs`), in grid order: those not done (all with `force`),
/// at most `limit`; counts the rest in `outcome`.
fn to_run(jobs: &[Job], opts: &SweepOptions, outcome: &mut SweepOutcome) -> Vec<usize> {
    let mut todo: Vec<usize> = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        let run = RunDir::new(opts.out.join(&job.id));
        if opts.force {
            todo.push(i);
        } else if run.is_done() {
            outcome.already_done += 1;
        } else if run.read_halted().is_some() {
            // Stopped by successive halving: stays stopped (--force trains it again).
            outcome.halted.push(job.id.clone());
        } else {
            todo.push(i);
        }
    }
    if let Some(limit) = opts.limit {
        if todo.len() > limit {
            outcome.deferred = todo.len() - limit;
            todo.truncate(limit);
        }
    }
    todo
}

/// A backend this build or machine lacks fails every job: say so once, before anything (a
/// forced rerun would otherwise have emptied done jobs first).
fn check_devices(configs: &[Config]) -> Result<()> {
    let mut devices: Vec<(BackendKind, usize)> = Vec::new();
    for c in configs {
        let d = (c.train.backend, c.train.device);
        if !devices.contains(&d) {
            device::device(d.0, d.1)?;
            devices.push(d);
        }
    }
    Ok(())
}

/// Features once per distinct (corpus, audio, features), before any job runs; per feature set,
/// the error of a preparation that failed (it fails the jobs that need it).
fn prepare_features(configs: &[Config], trainer: &dyn Trainer) -> BTreeMap<String, Option<String>> {
    let mut prepared: BTreeMap<String, Option<String>> = BTreeMap::new();
    for config in feature_sets(configs) {
        if interrupt::requested().is_some() {
            break;
        }
        let key = feature_key(config);
        let result = match trainer.prepare(config) {
            Ok(()) => None,
            // Not a failure of the features: the sweep stops (see run_jobs).
            Err(e) if e.is_interrupted() => Some(e.to_string()),
            Err(e) => {
                tracing::error!("features for {}: {e}", config.data.path.display());
                Some(e.to_string())
            }
        };
        prepared.insert(key, result);
    }
    prepared
}

/// What each job did, by index into `todo` in order, and why the sweep stopped early (the
/// storage refused a write), if it did.
type Ranned = (Vec<(usize, Ran)>, Option<String>);

/// The jobs to run and how they share training: units of work (positions in `todo`, each
/// unit's jobs in the order they run) and the job whose checkpoint each continues, if any.
struct Work<'a> {
    todo: &'a [&'a Job],
    configs: &'a [Config],
    units: Vec<Vec<usize>>,
    sources: Vec<Option<&'a Job>>,
}

/// The chains' units restricted to the jobs to run (`todo`, indices into the sweep's jobs), as
/// positions in `todo`, in the order of their first job.
fn units_of(chains: &chain::Chains, todo: &[usize]) -> Vec<Vec<usize>> {
    let position: BTreeMap<usize, usize> = todo.iter().enumerate().map(|(p, &i)| (i, p)).collect();
    let mut units: Vec<Vec<usize>> = chains
        .units
        .iter()
        .map(|u| {
            u.iter()
                .filter_map(|i| position.get(i).copied())
                .collect::<Vec<_>>()
        })
        .filter(|u| !u.is_empty())
        .collect();
    units.sort_by_key(|u| u.iter().min().copied());
    units
}

/// Runs the units of `work` on `pack.jobs` threads taking units in order (a unit's jobs one after
/// the other), behind the sweep's bar; what happened to each job, by index into `todo`, in order.
fn run_in_parallel(
    work: &Work,
    pack: packing::Packing,
    prepared: &BTreeMap<String, Option<String>>,
    trainer: &dyn Trainer,
    opts: &SweepOptions,
) -> Result<Ranned> {
    let pb = (!opts.quiet).then(|| jobs_bar(work.todo.len()));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Ran)>> = Mutex::new(Vec::new());
    let failures = AtomicUsize::new(0);
    let stop: Mutex<Option<String>> = Mutex::new(None);
    let one = |i: usize| {
        let (job, config) = (work.todo[i], &work.configs[i]);
        let prep_error = prepared.get(&feature_key(config)).cloned().flatten();
        let ran = run_one(job, config, work.sources[i], prep_error, trainer, opts);
        if let Ran::Failed(_, storage) = &ran {
            failures.fetch_add(1, Ordering::SeqCst);
            if let (Some(why), Ok(mut s)) = (storage, stop.lock()) {
                s.get_or_insert_with(|| why.clone());
            }
        }
        if let Some(pb) = &pb {
            if pb.position() == 0 {
                // A rate to estimate from only once a job has finished.
                pb.set_style(jobs_style(true));
            }
            pb.inc(1);
            let f = failures.load(Ordering::SeqCst);
            if f > 0 {
                pb.set_message(format!("{f} failed"));
            }
        }
        if let Ok(mut r) = results.lock() {
            r.push((i, ran));
        }
    };
    // After a signal, or once the storage refuses writes, no job starts.
    let stopping = || interrupt::requested().is_some() || stop.lock().map_or(true, |s| s.is_some());
    let work_loop = || loop {
        if stopping() {
            break;
        }
        let u = next.fetch_add(1, Ordering::SeqCst);
        let Some(unit) = work.units.get(u) else { break };
        for &i in unit {
            if stopping() {
                break;
            }
            one(i);
        }
    };
    // With `threads`, each job thread runs its jobs inside a pool of its own, so N jobs × T
    // threads never oversubscribe the cores (all tensor and GEMM work goes to the current pool).
    let threads = pack.jobs.clamp(1, work.units.len().max(1));
    let pools = match pack.threads {
        Some(t) => (0..threads)
            .map(|_| job_pool(t.max(1)).map(Some))
            .collect::<Result<Vec<_>>>()?,
        None => (0..threads).map(|_| None).collect(),
    };
    std::thread::scope(|s| {
        for p in &pools {
            s.spawn(|| match p {
                Some(p) => p.install(work_loop),
                None => work_loop(),
            });
        }
    });
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|(i, _)| *i);
    Ok((results, stop.into_inner().unwrap_or_default()))
}

/// A rayon pool of `threads` threads for one job thread's tensor work.
fn job_pool(threads: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| {
            Error::device(
                "flex",
                format!("cannot start {threads} threads per job: {e}"),
            )
        })
}

/// The overall bar: jobs done / total and elapsed time; the estimated time left once a job has
/// finished (before that there is no rate to estimate from).
fn jobs_bar(len: usize) -> indicatif::ProgressBar {
    let pb = progress::bar(len as u64, "");
    pb.set_style(jobs_style(false));
    pb.set_prefix("sweep");
    pb
}

fn jobs_style(with_eta: bool) -> indicatif::ProgressStyle {
    let eta = if with_eta {
        "eta {eta}"
    } else {
        "eta after the first job"
    };
    let template = format!(
        "{{prefix:>12}} [{{bar:30}}] {{pos}}/{{len}} jobs, {{elapsed}} so far, {eta} {{wide_msg}}"
    );
    indicatif::ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// What happened to one job.
enum Ran {
    Done,
    /// Another sweep finished it between the first look and taking the lock.
    AlreadyDone,
    /// The message, and what the storage refused when that was the cause.
    Failed(String, Option<String>),
    Busy,
    /// Stopped by a signal: recorded in `interrupted.txt`, resumes next time.
    Interrupted,
    /// Trained up to `pause_after`, to go on later.
    Paused,
}

fn run_one(
    job: &Job,
    config: &Config,
    source: Option<&Job>,
    prep_error: Option<String>,
    trainer: &dyn Trainer,
    opts: &SweepOptions,
) -> Ran {
    let dir = opts.out.join(&job.id);
    let run = RunDir::new(&dir);
    let lock = match run.lock() {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            tracing::warn!("{}: running in another process, left to it", job.id);
            return Ran::Busy;
        }
        Err(e) => {
            let storage = e.storage_problem().map(|w| format!("{w}: {e}"));
            return Ran::Failed(e.to_string(), storage);
        }
    };
    // The message recorded in error.txt and the sweep's summary: the job's own error, a panic,
    // or its features' failure.
    let result = (|| -> std::result::Result<Ran, Error> {
        if run.state() == JobState::Done {
            if !opts.force {
                return Ok(Ran::AlreadyDone);
            }
            run.clear()?;
        }
        run.remove_error()?;
        if let Some(e) = prep_error {
            return Err(Error::Data(format!("preparing the features failed: {e}")));
        }
        if let Some(source) = source {
            continue_source(job, source, &run, opts);
        }
        match catch_panic(|| trainer.run(&job.id, config, &dir, opts.pause_after)) {
            Ok(Ok(true)) => Ok(Ran::Done),
            Ok(Ok(false)) => Ok(Ran::Paused),
            Ok(Err(e)) => Err(e),
            // Error::Data shows the message as it is (what error.txt always said).
            Err(what) => Err(Error::Data(format!("panicked: {what}"))),
        }
    })();
    let ran = match result {
        Ok(r) => r,
        Err(e) if e.is_interrupted() => {
            tracing::warn!("{}: {e}", job.id);
            if let Err(w) = run.write_interrupted(&e.to_string()) {
                tracing::error!("{w}");
            }
            Ran::Interrupted
        }
        Err(e) => {
            let message = e.to_string();
            tracing::error!("{} failed: {message}", job.id);
            if let Err(w) = run.write_error(&message) {
                tracing::error!("{w}");
            }
            let storage = e.storage_problem().map(|w| format!("{w}: {message}"));
            Ran::Failed(message, storage)
        }
    };
    drop(lock);
    ran
}

/// Starts `job` from the checkpoint of `source` (the next shorter job of its chain) where that
/// one has trained further than `job` itself; a source that is running elsewhere, or whose
/// checkpoint cannot be copied, leaves `job` to train alone (said, not an error: the result is
/// the same, only slower).
fn continue_source(job: &Job, source: &Job, run: &RunDir, opts: &SweepOptions) {
    let from = RunDir::new(opts.out.join(&source.id));
    if let JobState::Running(owner) = from.state() {
        tracing::info!(
            "{}: trains alone ({} is running in {owner})",
            job.id,
            source.id
        );
        return;
    }
    let origin = format!("job {}", source.id);
    match checkpoint::continue_from(&from.checkpoint_dir(), &run.checkpoint_dir(), &origin) {
        Ok(Some(epoch)) => tracing::info!(
            "{}: continues {origin} after its epoch {epoch} (shared epoch prefix)",
            job.id
        ),
        Ok(None) => {}
        Err(e) => tracing::warn!("{}: trains alone: cannot continue {origin}: {e}", job.id),
    }
}

/// One config per distinct feature set among `configs` (corpus, audio and features), in order:
/// what `ser features cache EXPERIMENT` and a sweep's first step extract.
pub fn feature_sets(configs: &[Config]) -> Vec<&Config> {
    let mut seen = std::collections::HashSet::new();
    configs
        .iter()
        .filter(|c| seen.insert(feature_key(c)))
        .collect()
}

/// What decides a job's features: corpus, audio and feature sections.
fn feature_key(config: &Config) -> String {
    serde_json::to_string(&(&config.data, &config.audio, &config.features)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Writes `metrics.json` at once; fails jobs whose seed is in `fail`; counts calls.
    struct Mock {
        fail: Vec<u64>,
        prepared: Mutex<Vec<String>>,
        ran: AtomicUsize,
    }

    impl Trainer for Mock {
        fn prepare(&self, config: &Config) -> Result<()> {
            self.prepared
                .lock()
                .unwrap()
                .push(config.features.kind.to_string());
            Ok(())
        }
        fn run(&self, _id: &str, config: &Config, dir: &Path, _: Option<usize>) -> Result<bool> {
            self.ran.fetch_add(1, Ordering::SeqCst);
            if self.fail.contains(&config.train.seed) {
                return Err(Error::Data(format!("seed {} is cursed", config.train.seed)));
            }
            if config.train.seed == 99 {
                panic!("a bug");
            }
            let classes = ["a".to_string(), "b".to_string()];
            let metrics = crate::eval::evaluate(&[0, 1], &[0, 1], &classes)?;
            RunDir::new(dir).write_metrics(&metrics, serde_json::json!({}))?;
            Ok(true)
        }
    }

    fn mock(fail: &[u64]) -> Mock {
        Mock {
            fail: fail.to_vec(),
            prepared: Mutex::new(Vec::new()),
            ran: AtomicUsize::new(0),
        }
    }

    fn experiment(seeds: &str) -> Experiment {
        Experiment::from_toml(
            &format!(
                "[data]\ncorpus = \"synth\"\n[model]\nfilters = [4]\ndense = 4\n\
                 [grid]\n\"train.seed\" = {seeds}\n\
                 [[grid.include]]\n\"model.kind\" = \"cnn2d\"\n\"features.kind\" = \"mel-db\"\n"
            ),
            Path::new("exp.toml"),
            "exp".into(),
        )
        .unwrap()
    }

    #[test]
    fn runs_each_job_once_prepares_each_feature_set_once_and_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let exp = experiment("[1, 2, 3]");
        let jobs = exp.jobs().unwrap();
        assert_eq!(jobs.len(), 6);
        let mut opts = SweepOptions::new(dir.path().join("exp"));
        opts.quiet = true;
        opts.jobs = Some(3);
        opts.limit = Some(4);
        let m = mock(&[]);
        let first = sweep(&exp, &jobs, &m, &opts).unwrap();
        assert_eq!((first.ran.len(), first.deferred), (4, 2));
        assert_eq!(*m.prepared.lock().unwrap(), ["zcr+rms", "mel-db"]);
        assert!(Experiment::read_copy(&dir.path().join("exp"))
            .unwrap()
            .is_some());
        opts.limit = None;
        let m = mock(&[]);
        let second = sweep(&exp, &jobs, &m, &opts).unwrap();
        assert_eq!((second.already_done, second.ran.len()), (4, 2));
        assert_eq!(m.ran.load(Ordering::SeqCst), 2);
        assert_eq!(*m.prepared.lock().unwrap(), ["mel-db"]);
        opts.force = true;
        let m = mock(&[]);
        let forced = sweep(&exp, &jobs, &m, &opts).unwrap();
        assert_eq!(forced.ran.len(), 6);
    }

    #[test]
    fn failures_are_recorded_and_the_sweep_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let exp = experiment("[1, 2, 99]");
        let jobs = exp.jobs().unwrap();
        let mut opts = SweepOptions::new(dir.path().join("exp"));
        opts.quiet = true;
        opts.jobs = Some(2);
        let out = sweep(&exp, &jobs, &mock(&[2]), &opts).unwrap();
        // seed 2 fails in both kinds, 99 panics in both
        assert_eq!(out.failed.len(), 4, "{out:?}");
        assert_eq!(out.ran.len(), 2);
        let (id, msg) = &out.failed[0];
        assert!(msg.contains("cursed"), "{msg}");
        let text = RunDir::new(opts.out.join(id)).read_error().unwrap();
        assert!(text.contains("cursed"));
        assert!(out
            .failed
            .iter()
            .any(|(_, m)| m.contains("panicked: a bug")));
        // A rerun retries the failed jobs only; this time they pass and error.txt goes.
        let again = sweep(&exp, &jobs, &mock(&[99]), &opts).unwrap();
        assert_eq!((again.already_done, again.ran.len()), (2, 2));
        assert_eq!(RunDir::new(opts.out.join(id)).read_error(), None);
    }
}
