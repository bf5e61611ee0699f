//! What a results folder's jobs are doing (`ser status`): done / running / queued / failed /
//! started / pending per job, from the run directories, enriched by the Slurm queue where there
//! is one.
//!
//! The run directories say done (`metrics.json`), failed (`error.txt`), running (a live lock) and
//! started (a checkpoint). The queue adds what only Slurm knows: a task waiting for a node
//! (`queued`), and a task that ended without a word (killed by `scancel`, a time or memory limit:
//! `failed`, its log named), which the run directory alone shows as merely started.

use std::collections::BTreeMap;
use std::path::Path;

use super::slurm::{self, Submission};
use crate::base::Result;
use crate::experiment::{show, value_of, Experiment, Job};
use crate::rundir::{JobState, RunDir};

/// One job's line.
#[derive(Debug, Clone, PartialEq)]
pub struct JobStatus {
    pub id: String,
    /// `done`, `running`, `queued`, `failed`, `interrupted`, `started` or `pending`.
    pub state: &'static str,
    /// Where and why: accuracy, error, owner, Slurm task and log.
    pub detail: String,
}

/// The states of every job of `exp` in its results folder `out`.
pub fn status(jobs: &[Job], out: &Path) -> Result<Vec<JobStatus>> {
    let subs = slurm::submissions(out)?;
    let queue = if subs.is_empty() {
        None
    } else {
        crate::base::slurm::queue()
    };
    let queued = slurm::queued_in(&subs, queue.as_deref());
    // The latest submission of each job: its array task, for the log's name.
    let mut last: BTreeMap<String, (&Submission, usize)> = BTreeMap::new();
    for s in &subs {
        for (i, ids) in s.task_jobs().into_iter().enumerate() {
            for id in ids {
                last.insert(id, (s, i));
            }
        }
    }
    let log = |id: &str| -> Option<String> {
        let (s, i) = last.get(id)?;
        let array = s.array_job.as_ref()?;
        Some(format!("{array}_{i}, log slurm/logs/{array}_{i}.log"))
    };
    let mut rows = Vec::new();
    for job in jobs {
        let run = RunDir::new(out.join(&job.id));
        let state = run.state();
        let (word, detail) = match (&state, queued.get(&job.id)) {
            (JobState::Done, _) => ("done", done_detail(&run)),
            (JobState::Running(owner), q) => (
                "running",
                match q {
                    Some(q) => format!("Slurm {} on {}", q.id, q.node),
                    None => owner.clone(),
                },
            ),
            (_, Some(q)) if q.state == "PENDING" => ("queued", format!("Slurm {}", q.id)),
            (_, Some(q)) => (
                "running",
                format!("Slurm {} {} on {}", q.id, q.state, q.node),
            ),
            (JobState::Failed(m), _) => (
                "failed",
                format!(
                    "{}{}",
                    m.lines().next().unwrap_or(""),
                    log(&job.id)
                        .map(|l| format!(" (Slurm {l})"))
                        .unwrap_or_default()
                ),
            ),
            (JobState::Interrupted(m), _) => ("interrupted", m.clone()),
            (JobState::Halted(m), _) => ("halted", m.clone()),
            // Submitted, gone from the queue, neither done nor failed: killed or out of time.
            (_, None) if queue.is_some() && log(&job.id).is_some() => (
                "failed",
                format!(
                    "ended without a result in Slurm {}: killed, or out of time or memory; \
                     submit again to resume it{}",
                    log(&job.id).unwrap_or_default(),
                    if state == JobState::Started {
                        " from its checkpoint"
                    } else {
                        ""
                    }
                ),
            ),
            (JobState::Started, _) => ("started", "has a checkpoint: resumes".into()),
            _ => ("pending", String::new()),
        };
        rows.push(JobStatus {
            id: job.id.clone(),
            state: word,
            detail,
        });
    }
    Ok(rows)
}

fn done_detail(run: &RunDir) -> String {
    run.read_metrics()
        .ok()
        .and_then(|m| m.get("accuracy").copied())
        .map(|a| format!("accuracy {a:.4}"))
        .unwrap_or_default()
}

/// `ser status`'s text: one line per job (id, state, grid values, detail), then the counts.
pub fn render(exp: &Experiment, jobs: &[Job], rows: &[JobStatus], out: &Path) -> String {
    let keys = exp.grid_keys();
    let mut table = vec![{
        let mut h = vec!["job".to_string(), "state".to_string()];
        h.extend(keys.iter().cloned());
        h.push("detail".into());
        h
    }];
    for (job, row) in jobs.iter().zip(rows) {
        let mut r = vec![job.id.clone(), row.state.to_string()];
        r.extend(
            keys.iter()
                .map(|k| value_of(job, k).map(|v| show(&v)).unwrap_or_default()),
        );
        r.push(row.detail.clone());
        table.push(r);
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in rows {
        *counts.entry(r.state).or_default() += 1;
    }
    let order = [
        "done",
        "running",
        "queued",
        "failed",
        "interrupted",
        "halted",
        "started",
        "pending",
    ];
    let summary: Vec<String> = order
        .iter()
        .filter_map(|s| counts.get(s).map(|n| format!("{n} {s}")))
        .collect();
    format!(
        "{} jobs in {}/\n{}{}\n",
        jobs.len(),
        out.display(),
        super::plan::aligned(&table),
        summary.join(", ")
    )
}
