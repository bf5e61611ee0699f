//! Slurm as a process sees it: the job it runs in (Slurm's environment variables) and the queue
//! (`squeue`), where Slurm is installed. Nothing here submits; `runner::slurm` does. `sacct` is
//! not used: clusters without an accounting database do not have it.

use std::process::Command;

/// The Slurm job this process runs in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ThisJob {
    /// `SLURM_JOB_ID`: this job's own id (an array task has one of its own).
    pub job_id: String,
    /// `SLURM_ARRAY_JOB_ID`: the array's id, for an array task.
    pub array_job_id: Option<String>,
    /// `SLURM_ARRAY_TASK_ID`: the task's index in its array.
    pub task_id: Option<String>,
    /// `SLURMD_NODENAME`: the node it runs on.
    pub node: Option<String>,
}

/// The Slurm job of this process, when it runs under Slurm.
pub fn this_job() -> Option<ThisJob> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    Some(ThisJob {
        job_id: var("SLURM_JOB_ID")?,
        array_job_id: var("SLURM_ARRAY_JOB_ID"),
        task_id: var("SLURM_ARRAY_TASK_ID"),
        node: var("SLURMD_NODENAME"),
    })
}

/// One job (or array task) in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// `123` or `123_4` (array task 4 of array 123), as `squeue` shows it.
    pub id: String,
    /// The array's id (`%F`; the job's own id outside arrays).
    pub array_job_id: String,
    /// The task's index in its array (`%K`), for array tasks.
    pub task: Option<usize>,
    /// `PENDING`, `RUNNING`, `COMPLETING`, ...
    pub state: String,
    /// The node it runs on (empty while pending).
    pub node: String,
}

/// Every job in the queue, array tasks one by one; `None` where `squeue` is not installed or
/// cannot reach the controller.
pub fn queue() -> Option<Vec<Queued>> {
    let out = Command::new("squeue")
        .args(["-h", "-r", "-o", "%i|%F|%K|%T|%N"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(parse_queue_line)
            .collect(),
    )
}

fn parse_queue_line(line: &str) -> Option<Queued> {
    let mut f = line.trim().split('|');
    Some(Queued {
        id: f.next()?.to_string(),
        array_job_id: f.next()?.to_string(),
        task: f.next()?.parse().ok(),
        state: f.next()?.to_string(),
        node: f.next().unwrap_or("").to_string(),
    })
}

/// Whether job `id` (a job's or an array task's own id) is still queued or running:
/// `None` where `squeue` cannot say.
pub fn job_alive(id: &str) -> Option<bool> {
    let out = Command::new("squeue")
        .args(["-h", "-j", id, "-o", "%T"])
        .output()
        .ok()?;
    if !out.status.success() {
        // An id the controller no longer knows is an ended job; anything else is not knowing.
        let err = String::from_utf8_lossy(&out.stderr);
        return err.contains("Invalid job id").then_some(false);
    }
    Some(!String::from_utf8_lossy(&out.stdout).trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_lines_parse() {
        let q = parse_queue_line("12_3|12|3|RUNNING|vm").unwrap();
        assert_eq!(
            (q.id.as_str(), q.task, q.state.as_str()),
            ("12_3", Some(3), "RUNNING")
        );
        let q = parse_queue_line("40|40|N/A|PENDING|").unwrap();
        assert_eq!(
            (q.array_job_id.as_str(), q.task, q.node.as_str()),
            ("40", None, "")
        );
        assert!(parse_queue_line("garbage").is_none());
    }
}
