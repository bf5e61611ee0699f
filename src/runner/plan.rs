//! Before anything runs: an experiment read and checked whole ([`plan`]), the job list a dry run
//! prints ([`dry_run`]), and the one job `ser run --job ID | --only KEY=VALUE` names ([`select`]).

use std::path::Path;

use super::chain;
use crate::base::{Error, Result};
use crate::config::Overrides;
use crate::experiment::{describe, parse_assignment, show, value_of, Experiment, Job};
use crate::rundir::{JobState, RunDir};

/// Reads the experiment file and its jobs, with `[report]` checked too, so that a typo in the
/// layout fails before hours of training rather than after.
pub fn plan(file: &Path) -> Result<(Experiment, Vec<Job>)> {
    let exp = Experiment::from_file(file)?;
    let jobs = exp.jobs()?;
    exp.layout(&jobs)?;
    Ok((exp, jobs))
}

/// The job list of `--dry-run`: id, state (from the run directories under `out`) and the grid
/// keys' values, then what would run and the distinct feature sets it needs.
pub fn dry_run(exp: &Experiment, jobs: &[Job], out: &Path, overrides: &Overrides) -> String {
    let keys = exp.grid_keys();
    let chains = chain::chains(jobs, overrides);
    let mut head = vec!["job".to_string(), "state".to_string(), "trains".to_string()];
    head.extend(keys.iter().cloned());
    let mut rows = vec![head];
    let mut todo = Vec::new();
    for (i, j) in jobs.iter().enumerate() {
        let state = RunDir::new(out.join(&j.id)).state();
        if state != JobState::Done {
            todo.push(i);
        }
        let epochs = j.config.train.epochs;
        let trains = match chains.source[i] {
            Some(s) => format!(
                "epochs {}-{epochs} after {}",
                jobs[s].config.train.epochs + 1,
                jobs[s].id
            ),
            None => format!("epochs 1-{epochs}"),
        };
        let mut row = vec![j.id.clone(), state.word().to_string(), trains];
        row.extend(
            keys.iter()
                .map(|k| value_of(j, k).map(|v| show(&v)).unwrap_or_default()),
        );
        rows.push(row);
    }
    let mut text = format!(
        "{}: {} jobs → {}/\n",
        exp.file.display(),
        jobs.len(),
        out.display()
    );
    text += &aligned(&rows);
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
    for (members, why) in &chains.alone {
        let ids: Vec<&str> = members.iter().map(|&i| jobs[i].id.as_str()).collect();
        text += &format!(
            "{} differ only in train.epochs but train alone: {why}\n",
            ids.join(", ")
        );
    }
    text += &chain::savings_line(jobs, &chains, &todo).unwrap_or_default();
    text += &format!(
        "{} done, {} to run; features: {} distinct set{} ({})\n",
        jobs.len() - todo.len(),
        todo.len(),
        sets.len(),
        if sets.len() == 1 { "" } else { "s" },
        sets.join("; ")
    );
    text
}

/// `rows` as left-aligned columns, two spaces apart.
pub(crate) fn aligned(rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        text += cells.join("  ").trim_end();
        text += "\n";
    }
    text
}

/// The jobs whose settings match every `KEY=VALUE` of `only` (TOML values; all jobs when
/// empty); a key that no job has is an error naming it.
pub fn matching<'a>(exp: &Experiment, jobs: &'a [Job], only: &[String]) -> Result<Vec<&'a Job>> {
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
    Ok(jobs
        .iter()
        .filter(|j| {
            wanted
                .iter()
                .all(|(k, v)| value_of(j, k).as_ref() == Some(v))
        })
        .collect())
}

/// The one job `id` (a unique prefix will do) or `only` (`KEY=VALUE` assignments, TOML values)
/// names; errors list the candidates.
pub fn select<'a>(
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
        None => matching(exp, jobs, only)?,
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
