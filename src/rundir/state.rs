//! The state of one job's run directory, read from the files in it (done = `metrics.json`,
//! failed = `error.txt`, running = a live `lock`, interrupted = `interrupted.txt`, halted =
//! `halted.txt`, started = a `checkpoint/`), and the lock that keeps two sweeps from running the same job.
//!
//! A lock is a file created exclusively: `pid host [slurm JOBID]`. A lock left by a process that
//! is gone (same host, pid not alive) is stale and taken over; so is one whose Slurm job has
//! ended, even from another host (the queue says so); any other lock from another host is
//! respected, since its pid cannot be checked from here.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::RunDir;
use crate::base::{slurm, Error, Result};

/// What a job's directory says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    /// `metrics.json` exists.
    Done,
    /// `error.txt` exists (and no `metrics.json`): the message.
    Failed(String),
    /// A live process holds the lock: `pid@host`.
    Running(String),
    /// Stopped by a signal (`interrupted.txt`): resumes, not a failure.
    Interrupted(String),
    /// Stopped at a rung of successive halving (`halted.txt`): its grid point was among the
    /// worse on validation; not run further, not evaluated on test.
    Halted(String),
    /// Started before (a checkpoint, a stale lock) but neither done nor failed: resumes.
    Started,
    /// Nothing there yet.
    Pending,
}

impl JobState {
    /// Reads the state of the job in `run`.
    pub fn of(run: &RunDir) -> JobState {
        if run.is_done() {
            return JobState::Done;
        }
        if let Some(owner) = read_lock(&run.lock_file()) {
            if !owner.is_stale() {
                return JobState::Running(owner.to_string());
            }
        }
        if let Some(msg) = run.read_halted() {
            return JobState::Halted(msg);
        }
        if let Some(msg) = run.read_error() {
            return JobState::Failed(msg);
        }
        if let Some(msg) = run.read_interrupted() {
            return JobState::Interrupted(msg);
        }
        if run.checkpoint_dir().is_dir() {
            JobState::Started
        } else {
            JobState::Pending
        }
    }

    /// One word for listings: `done`, `failed`, `running`, `interrupted`, `halted`, `started`,
    /// `pending`.
    pub fn word(&self) -> &'static str {
        match self {
            JobState::Done => "done",
            JobState::Failed(_) => "failed",
            JobState::Running(_) => "running",
            JobState::Interrupted(_) => "interrupted",
            JobState::Halted(_) => "halted",
            JobState::Started => "started",
            JobState::Pending => "pending",
        }
    }
}

/// Who holds a lock.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Owner {
    pid: u32,
    host: String,
    /// The Slurm job the process ran in, if any.
    slurm_job: Option<String>,
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {} on {}", self.pid, self.host)?;
        if let Some(j) = &self.slurm_job {
            write!(f, " (Slurm job {j})")?;
        }
        Ok(())
    }
}

impl Owner {
    fn me() -> Owner {
        Owner {
            pid: std::process::id(),
            host: hostname(),
            slurm_job: slurm::this_job().map(|j| j.job_id),
        }
    }

    /// True when the owner is known to be gone: same host and no such process, or a Slurm job
    /// the queue no longer has (from any host).
    fn is_stale(&self) -> bool {
        if self.host == hostname() {
            return !process_alive(self.pid);
        }
        self.slurm_job
            .as_deref()
            .is_some_and(|j| slurm::job_alive(j) == Some(false))
    }

    /// The lock file's line.
    fn line(&self) -> String {
        match &self.slurm_job {
            Some(j) => format!("{} {} slurm {j}", self.pid, self.host),
            None => format!("{} {}", self.pid, self.host),
        }
    }
}

fn read_lock(path: &Path) -> Option<Owner> {
    read_lock_text(&fs::read_to_string(path).ok()?)
}

fn read_lock_text(text: &str) -> Option<Owner> {
    let mut words = text.split_whitespace();
    let pid = words.next()?.parse().ok()?;
    let host = words.next().unwrap_or("").to_string();
    let slurm_job = match (words.next(), words.next()) {
        (Some("slurm"), Some(j)) => Some(j.to_string()),
        _ => None,
    };
    Some(Owner {
        pid,
        host,
        slurm_job,
    })
}

/// This machine's name (Linux: the kernel's; elsewhere `$HOSTNAME`), `unknown` if neither.
pub fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// Whether a process with this pid is alive (Linux: `/proc/<pid>/stat` exists and is not a
/// zombie, as a killed process is until its parent reaps it; elsewhere `kill -0`).
fn process_alive(pid: u32) -> bool {
    if Path::new("/proc/self").exists() {
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        // "pid (command) S ...": the state follows the last ')'.
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next());
        return !matches!(state, Some("Z") | Some("X") | Some("x"));
    }
    std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(true)
}

/// A held job lock; dropping it removes the lock file.
#[derive(Debug)]
pub struct JobLock {
    path: PathBuf,
}

impl JobLock {
    /// Takes the lock of the job in `run` (creating the folder). `Ok(None)` when a live process
    /// holds it; a stale lock (its process is gone) is taken over.
    pub fn acquire(run: &RunDir) -> Result<Option<JobLock>> {
        run.create()?;
        let dir = run.path();
        let path = run.lock_file();
        for _ in 0..3 {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    writeln!(f, "{}", Owner::me().line()).map_err(|e| Error::io(&path, e))?;
                    return Ok(Some(JobLock { path }));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    match read_lock(&path) {
                        Some(owner) if !owner.is_stale() => return Ok(None),
                        Some(owner) => {
                            tracing::warn!(
                                "{}: taking over the lock of {owner}, which is gone",
                                dir.display()
                            );
                            let _ = fs::remove_file(&path);
                        }
                        // Being written right now, or garbage: look again shortly.
                        None => std::thread::sleep(std::time::Duration::from_millis(50)),
                    }
                }
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
        // Still unreadable after retries: a lock file that is not ours and never completes.
        if read_lock(&path).is_none() {
            let _ = fs::remove_file(&path);
        }
        Ok(None)
    }
}

impl Drop for JobLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_follow_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path().join("job"));
        assert_eq!(run.state(), JobState::Pending);
        fs::create_dir_all(run.checkpoint_dir()).unwrap();
        assert_eq!(run.state(), JobState::Started);
        run.write_error("boom").unwrap();
        assert_eq!(run.state(), JobState::Failed("boom".into()));
        let classes = ["a".to_string(), "b".to_string()];
        let metrics = crate::eval::evaluate(&[0, 1], &[0, 1], &classes).unwrap();
        run.write_metrics(&metrics, serde_json::json!({})).unwrap();
        assert_eq!(run.state(), JobState::Done);
        run.clear().unwrap();
        assert_eq!(run.state(), JobState::Pending);
    }

    #[test]
    fn a_live_lock_holds_and_a_dead_one_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path().join("job"));
        let lock_file = run.lock_file();
        let lock = run.lock().unwrap().expect("free lock");
        // Held by this (live) process: a second taker is refused.
        assert!(run.lock().unwrap().is_none());
        assert!(matches!(run.state(), JobState::Running(_)));
        drop(lock);
        assert!(!lock_file.exists());
        // A lock of a process that is gone (pids are below 2^22 on Linux) is stale.
        fs::write(&lock_file, format!("4294967 {}\n", hostname())).unwrap();
        assert_eq!(run.state(), JobState::Pending);
        let taken = run.lock().unwrap().expect("stale lock taken over");
        let text = fs::read_to_string(&lock_file).unwrap();
        assert!(text.starts_with(&std::process::id().to_string()), "{text}");
        drop(taken);
        // A killed process its parent has not reaped yet (a zombie) is gone too.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        fs::write(&lock_file, format!("{} {}\n", child.id(), hostname())).unwrap();
        assert_eq!(run.state(), JobState::Pending);
        child.wait().unwrap();
        // Another host's lock is respected.
        fs::write(&lock_file, "1 some-other-host\n").unwrap();
        assert!(run.lock().unwrap().is_none());
    }

    #[test]
    fn locks_record_their_slurm_job() {
        let owner = read_lock_text("12 node-7 slurm 345\n").unwrap();
        assert_eq!(owner.slurm_job.as_deref(), Some("345"));
        assert_eq!(owner.to_string(), "pid 12 on node-7 (Slurm job 345)");
        assert_eq!(read_lock_text(&owner.line()).unwrap(), owner);
        // Locks written before Slurm support: pid and host only.
        let old = read_lock_text("12 node-7\n").unwrap();
        assert_eq!((old.host.as_str(), old.slurm_job), ("node-7", None));
        assert!(read_lock_text("").is_none());
    }
}
