//! Successive halving (`[search] kind = "halving"`): every grid point trains `min_epochs`, the
//! better 1/eta by validation macro F1 go on to eta times as many epochs, and so on; the
//! survivors train to `train.epochs` and are evaluated on test as usual.
//!
//! A grid point is a job's grid values less the seed keys (`[report] seeds`): its seeds (and
//! folds) are scored together, by their mean. Each rung is an ordinary run of the runner with
//! `pause_after` (a paused job keeps its checkpoint, its test part unread), so the points that go
//! on continue where they paused, and the results of the survivors are exactly those of training
//! them alone. The cut reads validation only: `history.csv` at the rung's epoch. A rerun replays
//! the same cuts from the same histories (training is deterministic on CPU), so a killed search
//! resumes; a cut job is recorded in `halted.txt` (state `halted`), never trained further and
//! never evaluated on test, and `summary.md` lists when each point was stopped and why.

use std::path::Path;

use super::executor::{run_jobs, SweepOptions, SweepOutcome};
use super::Trainer;
use crate::base::{Error, Result};
use crate::experiment::search::write_cuts;
use crate::experiment::{describe, Cut, Experiment, Job, Search};
use crate::rundir::RunDir;

/// What a search did: the rungs, the cuts, and the final run of the survivors.
#[derive(Debug, Clone, Default)]
pub struct Halving {
    pub rungs: Vec<usize>,
    pub cuts: Vec<Cut>,
    /// The survivors' final run (with the rungs' failures added).
    pub outcome: SweepOutcome,
    /// Epochs the search trains in all (for each job, up to where it stops).
    pub epochs: usize,
    /// Epochs the full grid would train.
    pub full_epochs: usize,
}

/// The rungs for `jobs`, or why successive halving cannot run them: one epoch count across the
/// grid, a validation part to rank by, a first rung below the end.
pub fn rungs(exp: &Experiment, search: &Search, jobs: &[Job]) -> Result<Vec<usize>> {
    let epochs = jobs.first().map_or(0, |j| j.config.train.epochs);
    if let Some(j) = jobs.iter().find(|j| j.config.train.epochs != epochs) {
        return Err(Error::config(
            &exp.file,
            "train.epochs",
            format!(
                "successive halving needs one epoch count across the grid ({} has {}, {} has \
                 {epochs}); drop train.epochs from [grid] or [search]",
                j.id, j.config.train.epochs, jobs[0].id
            ),
        ));
    }
    if let Some(j) = jobs.iter().find(|j| j.config.split.valid <= 0.0) {
        return Err(Error::config(
            &exp.file,
            "split.valid",
            format!(
                "successive halving ranks points on the validation part, and job {} has none; \
                 set split.valid (e.g. 0.1)",
                j.id
            ),
        ));
    }
    let rungs = search.rungs(epochs);
    if rungs.is_empty() {
        return Err(Error::config(
            &exp.file,
            "search.min_epochs",
            format!(
                "{} is not below train.epochs = {epochs}: nothing would be cut",
                search.min_epochs
            ),
        ));
    }
    Ok(rungs)
}

/// What `--dry-run` says of the search: points, rungs and the epochs it trains at most.
pub fn plan_line(
    exp: &Experiment,
    search: &Search,
    jobs: &[Job],
    seeds: &[String],
) -> Result<String> {
    let rungs = rungs(exp, search, jobs)?;
    let points = points(jobs, seeds);
    let epochs = jobs.first().map_or(0, |j| j.config.train.epochs);
    let per_point = jobs.len() as f64 / points.len().max(1) as f64;
    let (mut alive, mut total) = (points.len(), 0.0);
    for &r in &rungs {
        if alive <= 1 {
            break;
        }
        let keep = search.keep(alive);
        total += (alive - keep) as f64 * per_point * r as f64;
        alive = keep;
    }
    total += alive as f64 * per_point * epochs as f64;
    let full = jobs.len() * epochs;
    Ok(format!(
        "successive halving: {} grid points ({} job{} each), cut to the best 1/{} by validation \
         macro F1 after epochs {}; about {total:.0} epochs of the full grid's {full} ({:.0} %)",
        points.len(),
        per_point,
        if per_point == 1.0 { "" } else { "s" },
        search.eta,
        rungs
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        100.0 * total / full.max(1) as f64
    ))
}

/// The grid points of `jobs` (job indices per point, grid order), their values less `seeds`.
pub fn points(jobs: &[Job], seeds: &[String]) -> Vec<(String, Vec<usize>)> {
    let mut points: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, j) in jobs.iter().enumerate() {
        let mut p = j.point.clone();
        p.retain(|k, _| !seeds.contains(k));
        let label = describe(&p);
        match points.iter_mut().find(|(l, _)| *l == label) {
            Some((_, members)) => members.push(i),
            None => points.push((label, vec![i])),
        }
    }
    points
}

/// Runs the search over `jobs` into `opts.out` (after copying the experiment file there).
pub fn sweep(
    exp: &Experiment,
    search: &Search,
    jobs: &[Job],
    seeds: &[String],
    trainer: &dyn Trainer,
    opts: &SweepOptions,
) -> Result<Halving> {
    let started = std::time::Instant::now();
    let rungs = rungs(exp, search, jobs)?;
    exp.write_copy(&opts.out)?;
    let points = points(jobs, seeds);
    let epochs = jobs.first().map_or(0, |j| j.config.train.epochs);
    let mut alive: Vec<usize> = (0..points.len()).collect();
    let mut out = Halving {
        rungs: rungs.clone(),
        full_epochs: epochs * jobs.len(),
        ..Halving::default()
    };
    let mut failed = Vec::new();
    for (k, &rung) in rungs.iter().enumerate() {
        if alive.len() <= 1 {
            break;
        }
        let now: Vec<Job> = alive
            .iter()
            .flat_map(|&p| points[p].1.iter().map(|&i| jobs[i].clone()))
            .collect();
        tracing::info!(
            "successive halving: {} points ({} jobs) to epoch {rung}",
            alive.len(),
            now.len()
        );
        let ran = run_jobs(
            &now,
            trainer,
            &SweepOptions {
                pause_after: Some(rung),
                ..opts.clone()
            },
        )?;
        failed.extend(ran.failed.iter().cloned());
        if ran.signal.is_some() || ran.stopped.is_some() {
            out.outcome = ran;
            return Ok(out);
        }
        let mut scored: Vec<(usize, f64)> = alive
            .iter()
            .map(|&p| (p, score(&points[p].1, jobs, &opts.out, rung)))
            .collect();
        // Best first; NaN (no validation value) last; ties keep grid order (a stable sort).
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scored.sort_by_key(|s| s.1.is_nan());
        let keep = search.keep(alive.len());
        let next = rungs.get(k + 1).copied().unwrap_or(epochs);
        for (rank, &(p, f1)) in scored.iter().enumerate().skip(keep) {
            let cut = Cut {
                epoch: rung,
                point: points[p].0.clone(),
                jobs: points[p].1.iter().map(|&i| jobs[i].id.clone()).collect(),
                val_macro_f1: Some(f1).filter(|v| v.is_finite()),
                rank: rank + 1,
                of: scored.len(),
            };
            let note = format!(
                "stopped by successive halving after epoch {rung}: validation macro F1 {f1:.4} \
                 (mean of {} run{}), rank {} of {}; the best {keep} went on to epoch {next}",
                cut.jobs.len(),
                if cut.jobs.len() == 1 { "" } else { "s" },
                cut.rank,
                cut.of
            );
            for &i in &points[p].1 {
                let run = RunDir::new(opts.out.join(&jobs[i].id));
                if !run.is_done() {
                    run.write_halted(&note)?;
                }
            }
            out.epochs += rung * cut.jobs.len();
            out.cuts.push(cut);
        }
        let mut kept: Vec<usize> = scored[..keep].iter().map(|s| s.0).collect();
        kept.sort();
        alive = kept;
    }
    write_cuts(&opts.out, &out.cuts)?;
    let survivors: Vec<Job> = alive
        .iter()
        .flat_map(|&p| points[p].1.iter().map(|&i| jobs[i].clone()))
        .collect();
    out.epochs += epochs * survivors.len();
    let mut last = run_jobs(&survivors, trainer, opts)?;
    failed.retain(|f| !last.ran.contains(&f.0) && !last.failed.iter().any(|g| g.0 == f.0));
    last.failed.extend(failed);
    last.total = jobs.len();
    last.seconds = started.elapsed().as_secs_f64();
    last.halted = out.cuts.iter().flat_map(|c| c.jobs.clone()).collect();
    out.outcome = last;
    Ok(out)
}

/// The mean validation macro F1 at `epoch` over the jobs `members` (a job that ended earlier,
/// by early stopping, counts with its last epoch); NaN where none has one.
fn score(members: &[usize], jobs: &[Job], out: &Path, epoch: usize) -> f64 {
    let values: Vec<f64> = members
        .iter()
        .filter_map(|&i| {
            let history = RunDir::new(out.join(&jobs[i].id)).read_history().ok()?;
            let at = history.iter().take_while(|r| r.epoch <= epoch).last()?;
            Some(at.val_macro_f1).filter(|v| v.is_finite())
        })
        .collect();
    if values.is_empty() {
        f64::NAN
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::SearchKind;

    #[test]
    fn rungs_multiply_by_eta_below_the_epoch_count() {
        let s = |min_epochs, eta| Search {
            kind: SearchKind::Halving,
            min_epochs,
            eta,
        };
        assert_eq!(s(5, 2).rungs(40), vec![5, 10, 20]);
        assert_eq!(s(5, 3).rungs(40), vec![5, 15]);
        assert_eq!(s(4, 2).rungs(4), Vec::<usize>::new());
        assert_eq!(s(1, 2).rungs(3), vec![1, 2]);
    }
}
