//! The state of one job's directory, read from the files in it, and the lock that keeps two
//! sweeps from running the same job.
//!
//! ```text
//! <out>/<experiment>/<job-id>/
//!   metrics.json   done (written last by `job::run`)
//!   error.txt      failed: the error message (removed when the job starts again)
//!   lock           "pid hostname" of the process running it now
//!   checkpoint/    a started job resumes from here
//! ```
//!
//! A lock is a file created exclusively. A lock left by a process that is gone (same host, pid
//! not alive) is stale and taken over; a lock from another host is respected, since its pid
//! cannot be checked from here.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::job::METRICS_FILE;

/// The message of a failed job.
pub const ERROR_FILE: &str = "error.txt";
/// The lock of a running job.
pub const LOCK_FILE: &str = "lock";

/// What a job's directory says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    /// `metrics.json` exists.
    Done,
    /// `error.txt` exists (and no `metrics.json`): the message.
    Failed(String),
    /// A live process holds the lock: `pid@host`.
    Running(String),
    /// Started before (a checkpoint, a stale lock) but neither done nor failed: resumes.
    Started,
    /// Nothing there yet.
    Pending,
}

impl JobState {
    /// Reads the state of the job in `dir`.
    pub fn of(dir: &Path) -> JobState {
        if dir.join(METRICS_FILE).is_file() {
            return JobState::Done;
        }
        if let Some(owner) = read_lock(&dir.join(LOCK_FILE)) {
            if !owner.is_stale() {
                return JobState::Running(owner.to_string());
            }
        }
        if let Ok(msg) = fs::read_to_string(dir.join(ERROR_FILE)) {
            return JobState::Failed(msg.trim_end().to_string());
        }
        if dir.join("checkpoint").is_dir() {
            JobState::Started
        } else {
            JobState::Pending
        }
    }

    /// One word for listings: `done`, `failed`, `running`, `started`, `pending`.
    pub fn word(&self) -> &'static str {
        match self {
            JobState::Done => "done",
            JobState::Failed(_) => "failed",
            JobState::Running(_) => "running",
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
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {} on {}", self.pid, self.host)
    }
}

impl Owner {
    fn me() -> Owner {
        Owner {
            pid: std::process::id(),
            host: hostname(),
        }
    }

    /// True when the owner is known to be gone: same host, and no such process.
    fn is_stale(&self) -> bool {
        self.host == hostname() && !process_alive(self.pid)
    }
}

fn read_lock(path: &Path) -> Option<Owner> {
    let text = fs::read_to_string(path).ok()?;
    let mut words = text.split_whitespace();
    let pid = words.next()?.parse().ok()?;
    let host = words.next().unwrap_or("").to_string();
    Some(Owner { pid, host })
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
    /// Takes the lock of the job in `dir` (creating `dir`). `Ok(None)` when a live process holds
    /// it; a stale lock (its process is gone) is taken over.
    pub fn acquire(dir: &Path) -> Result<Option<JobLock>> {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(LOCK_FILE);
        for _ in 0..3 {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    let me = Owner::me();
                    writeln!(f, "{} {}", me.pid, me.host).map_err(|e| Error::io(&path, e))?;
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
        match read_lock(&path) {
            Some(_) => Ok(None),
            None => {
                let _ = fs::remove_file(&path);
                Ok(None)
            }
        }
    }
}

impl Drop for JobLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Writes `error.txt` for a failed job.
pub fn record_failure(dir: &Path, message: &str) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    crate::train::checkpoint::write_atomic(&dir.join(ERROR_FILE), format!("{message}\n").as_bytes())
}

/// Empties `dir` except its lock (`--force`: the job starts from scratch).
pub fn clear(dir: &Path) -> Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        if entry.file_name() == LOCK_FILE {
            continue;
        }
        let p = entry.path();
        let r = if p.is_dir() {
            fs::remove_dir_all(&p)
        } else {
            fs::remove_file(&p)
        };
        r.map_err(|e| Error::io(&p, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_follow_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("job");
        assert_eq!(JobState::of(&d), JobState::Pending);
        fs::create_dir_all(d.join("checkpoint")).unwrap();
        assert_eq!(JobState::of(&d), JobState::Started);
        record_failure(&d, "boom").unwrap();
        assert_eq!(JobState::of(&d), JobState::Failed("boom".into()));
        fs::write(d.join(METRICS_FILE), "{}").unwrap();
        assert_eq!(JobState::of(&d), JobState::Done);
        clear(&d).unwrap();
        assert_eq!(JobState::of(&d), JobState::Pending);
    }

    #[test]
    fn a_live_lock_holds_and_a_dead_one_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("job");
        let lock = JobLock::acquire(&d).unwrap().expect("free lock");
        // Held by this (live) process: a second taker is refused.
        assert!(JobLock::acquire(&d).unwrap().is_none());
        assert!(matches!(JobState::of(&d), JobState::Running(_)));
        drop(lock);
        assert!(!d.join(LOCK_FILE).exists());
        // A lock of a process that is gone (pids are below 2^22 on Linux) is stale.
        fs::write(d.join(LOCK_FILE), format!("4294967 {}\n", hostname())).unwrap();
        assert_eq!(JobState::of(&d), JobState::Pending);
        let taken = JobLock::acquire(&d)
            .unwrap()
            .expect("stale lock taken over");
        let text = fs::read_to_string(d.join(LOCK_FILE)).unwrap();
        assert!(text.starts_with(&std::process::id().to_string()), "{text}");
        drop(taken);
        // A killed process its parent has not reaped yet (a zombie) is gone too.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        fs::write(
            d.join(LOCK_FILE),
            format!("{} {}\n", child.id(), hostname()),
        )
        .unwrap();
        assert_eq!(JobState::of(&d), JobState::Pending);
        child.wait().unwrap();
        // Another host's lock is respected.
        fs::write(d.join(LOCK_FILE), "1 some-other-host\n").unwrap();
        assert!(JobLock::acquire(&d).unwrap().is_none());
    }
}
