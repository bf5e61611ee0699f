//! `ser report --compare A B`: two systems, paired on the same test clips, with the statistics
//! a reviewer asks for ([`crate::eval::stats`]).
//!
//! A side is a results folder (`results/<experiment>`) or one grid point of it
//! (`DIR:key=value,...`). Its finished runs are paired with the other side's by training seed
//! and split (`train.seed`, `split.seed`, `split.fold`): the same split gives the same test
//! clips, which is checked on the runs' `predictions.csv`. Per pair: accuracy and macro F1 of
//! each and the difference B − A (from the predictions), and McNemar's exact test on the clips
//! where the two disagree. Over the pairs: the mean difference with a 95% bootstrap interval
//! that resamples speakers, Wilcoxon's signed-rank test of the per-pair differences, and
//! McNemar's test on the pooled discordant clips; Holm's correction over those three tests (and,
//! separately, over the per-pair McNemar tests). Every verdict is "significant at 0.05 (Holm)"
//! or "not significant"; nothing is a best of N. Runs made before runs wrote `predictions.csv`
//! still pair by their metrics; their McNemar and bootstrap cells say `n/a`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use toml::Value;

use crate::base::{atomic, csv, Error, Result};
use crate::eval::stats::{self, Bootstrap, Counts, PairBySpeaker, Wilcoxon};
use crate::eval::Predictions;
use crate::experiment::{describe, parse_assignment, show, value_of, Job};
use crate::rundir::{JobState, RunDir};

use super::external::{self, External};
use super::summary::load;
use super::table::md_text;

/// The keys that make two runs a pair: the same seeds give the same split, so the same clips.
pub const PAIR_KEYS: [&str; 3] = ["train.seed", "split.seed", "split.fold"];

/// Speaker-bootstrap resamples by default.
pub const RESAMPLES: usize = 10_000;

/// The bootstrap's seed: fixed, so a comparison prints the same interval every time.
pub const BOOTSTRAP_SEED: u64 = 0;

/// The level every verdict is taken at, after Holm's correction.
pub const ALPHA: f64 = 0.05;

/// One side of a comparison: a results folder, optionally narrowed to one grid point.
#[derive(Debug, Clone, PartialEq)]
pub struct Side {
    /// As given on the command line (shown in the tables).
    pub label: String,
    pub dir: PathBuf,
    /// `key = value` every chosen run must have.
    pub select: Vec<(String, Value)>,
    /// `ext:DIR`: another system's predictions, one `seed-<N>.csv` per run ([`external`]).
    pub external: bool,
}

impl Side {
    /// Parses `DIR` or `DIR:key=value,...` (values in TOML, commas inside brackets belong to the
    /// value: `results/f:model.filters=[4,8],train.epochs=30`). A path that is a folder is taken
    /// whole, even with a `:` in its name. `ext:DIR` is another system's predictions.
    pub fn parse(spec: &str) -> Result<Side> {
        if let Some(dir) = spec.strip_prefix(external::PREFIX) {
            if dir.is_empty() {
                return Err(Error::Usage(format!(
                    "--compare {spec}: name the folder of the seed-<N>.csv files, e.g. \
                     ext:results/peer"
                )));
            }
            return Ok(Side {
                label: spec.to_string(),
                dir: PathBuf::from(dir),
                select: Vec::new(),
                external: true,
            });
        }
        let whole = Side {
            label: spec.to_string(),
            dir: PathBuf::from(spec),
            select: Vec::new(),
            external: false,
        };
        if Path::new(spec).is_dir() {
            return Ok(whole);
        }
        let Some((dir, rest)) = spec
            .rsplit_once(':')
            .filter(|(d, r)| !d.is_empty() && r.contains('='))
        else {
            return Ok(whole);
        };
        let mut select = Vec::new();
        for part in split_top_level(rest) {
            if !part.contains('=') {
                return Err(Error::Usage(format!(
                    "--compare {spec}: `{part}` is not key=value (e.g. {dir}:model.filters=[4])"
                )));
            }
            select.push(parse_assignment(&part)?);
        }
        Ok(Side {
            label: spec.to_string(),
            dir: PathBuf::from(dir),
            select,
            external: false,
        })
    }
}

/// `a=[1,2],b=3` → `a=[1,2]`, `b=3`: commas inside brackets or quotes stay.
fn split_top_level(text: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth, mut quoted) = (Vec::new(), String::new(), 0i32, false);
    for ch in text.chars() {
        match ch {
            '"' => quoted = !quoted,
            '[' | '{' if !quoted => depth += 1,
            ']' | '}' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                out.push(std::mem::take(&mut cur).trim().to_string());
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

/// One pair of runs (same seeds, so the same test clips).
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    /// `train.seed=0, split.seed=0` (with `split.fold` where the runs vary it).
    pub key: String,
    /// The run directories' names (job ids) of A and B.
    pub runs: (String, String),
    /// Accuracy and macro F1 of A and of B: from the predictions where both runs have them,
    /// else from `metrics.json` (4 decimals).
    pub accuracy: (f64, f64),
    pub f1_macro: (f64, f64),
    /// Test clips, and McNemar's counts on them (`None` without both `predictions.csv`).
    pub clips: Option<usize>,
    pub mcnemar: Option<McNemar>,
}

/// McNemar's counts and test on one set of paired clips.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct McNemar {
    /// Clips A got right and B wrong.
    pub a_only: usize,
    /// Clips B got right and A wrong.
    pub b_only: usize,
    /// Exact two-sided p.
    pub p: f64,
    /// Holm-adjusted over the tests of its family.
    pub p_holm: f64,
}

/// A test over all pairs, with its Holm-adjusted p.
#[derive(Debug, Clone, PartialEq)]
pub struct Test {
    pub name: String,
    /// What it was computed on (`2 pairs`, `86 clips`).
    pub over: String,
    /// Its statistic in words (`W+ = 3, W− = 0 (exact)`).
    pub statistic: String,
    pub p: f64,
    pub p_holm: f64,
}

impl Test {
    /// "significant at 0.05 (Holm)" or "not significant".
    pub fn verdict(&self) -> &'static str {
        verdict(self.p_holm)
    }
}

fn verdict(p_holm: f64) -> &'static str {
    if p_holm < ALPHA {
        "significant at 0.05 (Holm)"
    } else {
        "not significant"
    }
}

/// Everything `ser report --compare` says.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub a: Side,
    pub b: Side,
    /// In pair-key order.
    pub pairs: Vec<Pair>,
    /// Mean over the pairs of B − A.
    pub mean_accuracy_diff: f64,
    pub mean_f1_diff: f64,
    /// The speaker bootstrap over the pairs with predictions (and speakers), and over how many
    /// pairs and speakers it ran.
    pub bootstrap: Option<Bootstrap>,
    pub bootstrap_pairs: usize,
    pub speakers: usize,
    /// Wilcoxon on accuracy, Wilcoxon on macro F1, pooled McNemar (when any pair has clips).
    pub tests: Vec<Test>,
    /// Runs left out and why (no partner, not finished), and what is unavailable.
    pub notes: Vec<String>,
}

fn pair_key(job: &Job, with_fold: bool) -> String {
    let keys = if with_fold {
        &PAIR_KEYS[..]
    } else {
        &PAIR_KEYS[..2]
    };
    keys.iter()
        .map(|k| {
            let v = value_of(job, k).map_or_else(|| "-".into(), |v| show(&v));
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The finished runs `side` chooses (not finished ones are noted).
fn chosen_runs(side: &Side, notes: &mut Vec<String>) -> Result<Vec<(Job, RunDir)>> {
    let summary = load(&side.dir)?;
    for (k, _) in &side.select {
        if summary.jobs.iter().all(|j| value_of(&j.job, k).is_none()) {
            return Err(Error::Usage(format!(
                "--compare {}: `{k}` is not a key of the runs' configs",
                side.label
            )));
        }
    }
    let chosen: Vec<_> = summary
        .jobs
        .iter()
        .filter(|j| {
            side.select
                .iter()
                .all(|(k, v)| value_of(&j.job, k).as_ref() == Some(v))
        })
        .collect();
    let not_done = chosen.iter().filter(|j| j.state != JobState::Done).count();
    if not_done > 0 {
        notes.push(format!(
            "{}: {not_done} run(s) not finished, left out",
            side.label
        ));
    }
    let runs: Vec<(Job, RunDir)> = chosen
        .iter()
        .filter(|j| j.state == JobState::Done)
        .map(|j| (j.job.clone(), RunDir::new(summary.dir.join(&j.job.id))))
        .collect();
    if runs.is_empty() {
        return Err(Error::Usage(format!(
            "--compare {}: no finished runs{}",
            side.label,
            if side.select.is_empty() { "" } else { " match" }
        )));
    }
    Ok(runs)
}

/// `runs` by pair key; an error when two share one (the side must name one grid point).
fn by_pair_key(
    side: &Side,
    runs: Vec<(Job, RunDir)>,
    fold: bool,
) -> Result<BTreeMap<String, (Job, RunDir)>> {
    let mut out: BTreeMap<String, (Job, RunDir)> = BTreeMap::new();
    for (job, run) in runs {
        let key = pair_key(&job, fold);
        if let Some((other, _)) = out.get(&key) {
            let example: Vec<String> = job
                .point
                .iter()
                .filter(|(k, _)| !PAIR_KEYS.contains(&k.as_str()))
                .map(|(k, v)| format!("{k}={}", show(v).replace(' ', "")))
                .collect();
            return Err(Error::Usage(format!(
                "--compare {}: two runs share {key} ({} and {}): name one grid point, e.g. \
                 {}:{}",
                side.label,
                describe(&other.point),
                describe(&job.point),
                side.dir.display(),
                example.join(",")
            )));
        }
        out.insert(key, (job, run));
    }
    Ok(out)
}

/// A run's predictions: its own `predictions.csv`, else a `ser eval RUN` re-evaluation's on the
/// test split (runs made before runs wrote it).
fn predictions_of(run: &RunDir) -> Result<Option<Predictions>> {
    match run.read_predictions()? {
        Some(p) => Ok(Some(p)),
        None => run.eval_dir("test").read_predictions(),
    }
}

/// What the pairs add up to, before the tests over them.
#[derive(Default)]
struct Tally {
    pairs: Vec<Pair>,
    boot_pairs: Vec<PairBySpeaker>,
    speakers: HashMap<String, usize>,
    /// Pooled McNemar counts (A only right, B only right) and clips.
    pooled: (usize, usize, usize),
    notes: Vec<String>,
}

impl Tally {
    /// Adds `pair`, scored clip by clip on `pa` and `pb` where both are given.
    fn add(&mut self, mut pair: Pair, preds: Option<(&Predictions, &Predictions)>) {
        let key = pair.key.clone();
        match preds {
            Some((pa, pb)) => match paired_clips(pa, pb, &mut self.speakers) {
                Ok((clips, a_only, b_only, by_speaker, (ca, cb))) => {
                    // Exact, where metrics.json rounds to 4 decimals.
                    pair.accuracy = (ca.accuracy(), cb.accuracy());
                    pair.f1_macro = (ca.macro_f1(), cb.macro_f1());
                    pair.clips = Some(clips);
                    pair.mcnemar = Some(McNemar {
                        a_only,
                        b_only,
                        p: stats::mcnemar_exact(a_only, b_only),
                        p_holm: f64::NAN,
                    });
                    self.pooled.0 += a_only;
                    self.pooled.1 += b_only;
                    self.pooled.2 += clips;
                    match by_speaker {
                        Some(s) => self.boot_pairs.push(s),
                        None => self.notes.push(format!(
                            "{key}: predictions.csv without speakers: left out of the bootstrap"
                        )),
                    }
                }
                Err(why) => self.notes.push(format!("{key}: {why}; McNemar n/a")),
            },
            None => self.notes.push(format!(
                "{key}: no predictions.csv (a run made before runs wrote it; `ser eval RUN` \
                 writes one): McNemar and bootstrap n/a for this pair"
            )),
        }
        self.pairs.push(pair);
    }
}

/// Compares side `b` against side `a` (differences are B − A), `resamples` bootstrap draws.
pub fn compare(a: &Side, b: &Side, resamples: usize) -> Result<Comparison> {
    let tally = match (a.external, b.external) {
        (true, true) => {
            return Err(Error::Usage(format!(
                "--compare {} {}: both sides are external predictions; one must be a ser \
                 results folder (its runs give the test clips and the speakers)",
                a.label, b.label
            )))
        }
        (false, false) => tally_runs(a, b)?,
        (true, false) => tally_external(b, a, true)?,
        (false, true) => tally_external(a, b, false)?,
    };
    Ok(finish(a, b, tally, resamples))
}

/// Two ser sides: runs paired by [`PAIR_KEYS`].
fn tally_runs(a: &Side, b: &Side) -> Result<Tally> {
    let mut t = Tally::default();
    let (chosen_a, chosen_b) = (chosen_runs(a, &mut t.notes)?, chosen_runs(b, &mut t.notes)?);
    // Folds are shown (and keyed) only where some run uses one other than 0.
    let fold = chosen_a
        .iter()
        .chain(&chosen_b)
        .any(|(j, _)| j.config.split.fold != 0);
    let runs_a = by_pair_key(a, chosen_a, fold)?;
    let runs_b = by_pair_key(b, chosen_b, fold)?;
    for (side, mine, theirs) in [(a, &runs_a, &runs_b), (b, &runs_b, &runs_a)] {
        for key in mine.keys().filter(|k| !theirs.contains_key(*k)) {
            t.notes.push(format!(
                "{}: the run with {key} has no partner, left out",
                side.label
            ));
        }
    }
    for (key, (job_a, run_a)) in &runs_a {
        let Some((job_b, run_b)) = runs_b.get(key) else {
            continue;
        };
        let pair = Pair {
            key: key.clone(),
            runs: (job_a.id.clone(), job_b.id.clone()),
            accuracy: (metric(run_a, "accuracy")?, metric(run_b, "accuracy")?),
            f1_macro: (metric(run_a, "f1_macro")?, metric(run_b, "f1_macro")?),
            clips: None,
            mcnemar: None,
        };
        let (pa, pb) = (predictions_of(run_a)?, predictions_of(run_b)?);
        t.add(pair, pa.as_ref().zip(pb.as_ref()));
    }
    if t.pairs.is_empty() {
        return Err(Error::Usage(format!(
            "--compare {} {}: no two runs share {}: compare runs made with the same seeds",
            a.label,
            b.label,
            PAIR_KEYS.join(", ")
        )));
    }
    Ok(t)
}

/// A ser side against external predictions (`ext_first`: the external side is A): the file
/// `seed-<N>.csv` pairs with the run of `train.seed = N`. Every seed must have its partner and
/// every file the run's test clips.
fn tally_external(ser: &Side, ext: &Side, ext_first: bool) -> Result<Tally> {
    let mut t = Tally::default();
    let files = external::seed_files(&ext.dir)?;
    let mut runs: BTreeMap<u64, (Job, RunDir)> = BTreeMap::new();
    for (job, run) in chosen_runs(ser, &mut t.notes)? {
        let seed = job.config.train.seed;
        if let Some((other, _)) = runs.get(&seed) {
            return Err(Error::Usage(format!(
                "--compare {} {}: two runs have train.seed={seed} ({} and {}): name one grid \
                 point (DIR:key=value,...), one run per seed",
                ser.label,
                ext.label,
                describe(&other.point),
                describe(&job.point),
            )));
        }
        runs.insert(seed, (job, run));
    }
    let lonely_files: Vec<String> = files
        .keys()
        .filter(|s| !runs.contains_key(s))
        .map(|s| format!("seed-{s}.csv"))
        .collect();
    let lonely_runs: Vec<String> = runs
        .keys()
        .filter(|s| !files.contains_key(s))
        .map(|s| format!("train.seed={s}"))
        .collect();
    if !lonely_files.is_empty() || !lonely_runs.is_empty() {
        let mut why = Vec::new();
        if !lonely_files.is_empty() {
            why.push(format!(
                "{} of {} have no run with that train.seed in {}",
                lonely_files.join(", "),
                ext.label,
                ser.label
            ));
        }
        if !lonely_runs.is_empty() {
            why.push(format!(
                "the runs with {} of {} have no seed-<N>.csv in {}",
                lonely_runs.join(", "),
                ser.label,
                ext.dir.display()
            ));
        }
        return Err(Error::Usage(format!(
            "--compare: every seed needs a partner (seed-N.csv pairs with the run of \
             train.seed = N): {}",
            why.join("; ")
        )));
    }
    for (seed, (job, run)) in &runs {
        let ser_file = run.path().join("predictions.csv");
        let Some(ser_preds) = predictions_of(run)? else {
            return Err(Error::Usage(format!(
                "--compare {}: the run {} has no predictions.csv (made before runs wrote it): \
                 `ser eval {}` writes one",
                ser.label,
                job.id,
                run.path().display()
            )));
        };
        let ext_preds = External::read(&files[seed])?.align(&ser_preds, &ser_file)?;
        let name = format!("seed-{seed}.csv");
        let (runs, preds) = if ext_first {
            ((name, job.id.clone()), (&ext_preds, &ser_preds))
        } else {
            ((job.id.clone(), name), (&ser_preds, &ext_preds))
        };
        let pair = Pair {
            key: pair_key(job, job.config.split.fold != 0),
            runs,
            accuracy: (f64::NAN, f64::NAN),
            f1_macro: (f64::NAN, f64::NAN),
            clips: None,
            mcnemar: None,
        };
        t.add(pair, Some(preds));
    }
    if let Some(why) = t.notes.iter().find(|n| n.ends_with("McNemar n/a")) {
        // Aligned predictions always pair; anything else is a bug to report, not a result.
        return Err(Error::Usage(format!("--compare: {why}")));
    }
    Ok(t)
}

/// A number of a run's `metrics.json`.
fn metric(run: &RunDir, name: &str) -> Result<f64> {
    run.read_metrics()?.get(name).copied().ok_or_else(|| {
        Error::format(
            run.path().join("metrics.json"),
            format!("no `{name}`: the run's metrics are damaged; run it again"),
        )
    })
}

/// The tests over the pairs of `t`, with Holm's corrections.
fn finish(a: &Side, b: &Side, t: Tally, resamples: usize) -> Comparison {
    let Tally {
        mut pairs,
        boot_pairs,
        speakers,
        pooled: (pooled_a, pooled_b, pooled_clips),
        notes,
    } = t;
    // Per-pair McNemar tests: one family.
    let with_clips: Vec<usize> = (0..pairs.len())
        .filter(|&i| pairs[i].mcnemar.is_some())
        .collect();
    let ps: Vec<f64> = with_clips
        .iter()
        .filter_map(|&i| pairs[i].mcnemar.map(|m| m.p))
        .collect();
    for (&i, adj) in with_clips.iter().zip(stats::holm(&ps)) {
        if let Some(m) = pairs[i].mcnemar.as_mut() {
            m.p_holm = adj;
        }
    }

    let n = pairs.len() as f64;
    let d_acc: Vec<f64> = pairs.iter().map(|p| p.accuracy.1 - p.accuracy.0).collect();
    let d_f1: Vec<f64> = pairs.iter().map(|p| p.f1_macro.1 - p.f1_macro.0).collect();
    let wilcoxon_test = |name: &str, d: &[f64]| {
        let w: Wilcoxon = stats::wilcoxon(d);
        Test {
            name: name.into(),
            over: format!("{} pairs ({} zero)", d.len(), w.zeros),
            statistic: format!(
                "W+ = {}, W− = {} ({})",
                w.w_plus,
                w.w_minus,
                if w.exact { "exact" } else { "normal approx." }
            ),
            p: w.p,
            p_holm: f64::NAN,
        }
    };
    let mut tests = vec![
        wilcoxon_test("Wilcoxon signed-rank, Δ accuracy", &d_acc),
        wilcoxon_test("Wilcoxon signed-rank, Δ macro F1", &d_f1),
    ];
    if !with_clips.is_empty() {
        tests.push(Test {
            name: "McNemar exact, pooled clips".into(),
            over: format!("{pooled_clips} clips of {} pairs", with_clips.len()),
            statistic: format!("A only right {pooled_a}, B only right {pooled_b}"),
            p: stats::mcnemar_exact(pooled_a, pooled_b),
            p_holm: f64::NAN,
        });
    }
    let adjusted = stats::holm(&tests.iter().map(|t| t.p).collect::<Vec<_>>());
    for (t, adj) in tests.iter_mut().zip(adjusted) {
        t.p_holm = adj;
    }
    let bootstrap =
        stats::speaker_bootstrap(&boot_pairs, speakers.len(), resamples, BOOTSTRAP_SEED);
    Comparison {
        a: a.clone(),
        b: b.clone(),
        mean_accuracy_diff: d_acc.iter().sum::<f64>() / n,
        mean_f1_diff: d_f1.iter().sum::<f64>() / n,
        bootstrap,
        bootstrap_pairs: boot_pairs.len(),
        speakers: speakers.len(),
        pairs,
        tests,
        notes,
    }
}

/// Clips, McNemar's counts (A only right, B only right), the per-speaker counts (`None` without
/// speakers) and the counts over all clips of A and B.
type PairedClips = (usize, usize, usize, Option<PairBySpeaker>, (Counts, Counts));

/// [`PairedClips`] of two runs' predictions on the same clips; an error in words when they are
/// not the same clips.
fn paired_clips(
    a: &Predictions,
    b: &Predictions,
    speakers: &mut HashMap<String, usize>,
) -> std::result::Result<PairedClips, String> {
    if a.classes != b.classes {
        return Err(format!(
            "the runs know different classes ({} / {})",
            a.classes.join(" "),
            b.classes.join(" ")
        ));
    }
    let class = |name: &str| a.classes.iter().position(|c| c == name);
    let of_b: HashMap<&str, usize> = b
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.path.as_str(), i))
        .collect();
    let shared = a
        .rows
        .iter()
        .filter(|r| of_b.contains_key(r.path.as_str()))
        .count();
    if shared != a.rows.len() || shared != b.rows.len() {
        return Err(format!(
            "the runs' test clips differ ({} and {} clips, {shared} shared): not the same split",
            a.rows.len(),
            b.rows.len()
        ));
    }
    let k = a.classes.len();
    let has_speakers = a.rows.iter().all(|r| !r.speaker.is_empty());
    let mut by_speaker: BTreeMap<usize, (Counts, Counts)> = BTreeMap::new();
    let (mut a_only, mut b_only) = (0, 0);
    let (mut all_a, mut all_b) = (Counts::new(k), Counts::new(k));
    for ra in &a.rows {
        let rb = &b.rows[of_b[ra.path.as_str()]];
        let (Some(t), Some(pa), Some(pb)) =
            (class(&ra.truth), class(&ra.predicted), class(&rb.predicted))
        else {
            return Err(format!("{}: a class the runs do not know", ra.path));
        };
        let (ok_a, ok_b) = (pa == t, pb == t);
        all_a.add(t, pa);
        all_b.add(t, pb);
        a_only += usize::from(ok_a && !ok_b);
        b_only += usize::from(ok_b && !ok_a);
        if has_speakers {
            let next = speakers.len();
            let s = *speakers.entry(ra.speaker.clone()).or_insert(next);
            let e = by_speaker
                .entry(s)
                .or_insert_with(|| (Counts::new(k), Counts::new(k)));
            e.0.add(t, pa);
            e.1.add(t, pb);
        }
    }
    let by_speaker = has_speakers.then(|| {
        by_speaker
            .into_iter()
            .map(|(s, (ca, cb))| (s, ca, cb))
            .collect()
    });
    Ok((a.rows.len(), a_only, b_only, by_speaker, (all_a, all_b)))
}

fn signed(v: f64) -> String {
    format!("{v:+.4}")
}

fn p_cell(p: f64) -> String {
    if p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

/// The comparison as Markdown.
pub fn markdown(c: &Comparison) -> String {
    let t = md_text;
    let pairing = if c.a.external || c.b.external {
        "External predictions (`ext:DIR`) are paired by seed: `seed-N.csv` with the run of \
         train.seed = N; each file's clips are that run's test clips, with the same true labels \
         (checked), and its speakers are the run's."
            .to_string()
    } else {
        format!(
            "Runs are paired by {}: the same split, so the same test clips.",
            PAIR_KEYS.join(", ")
        )
    };
    let mut md = format!(
        "# Comparison: B = {} against A = {}\n\n{pairing} Differences are B − A.\n\n",
        t(&c.b.label),
        t(&c.a.label),
    );
    md += "| pair | clips | acc A | acc B | Δ acc | F1 A | F1 B | Δ F1 | A only right | B only right | McNemar p | Holm p | verdict |\n";
    md += "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    for p in &c.pairs {
        let (clips, a_only, b_only, pm, ph, v) = match (p.clips, p.mcnemar) {
            (Some(n), Some(m)) => (
                n.to_string(),
                m.a_only.to_string(),
                m.b_only.to_string(),
                p_cell(m.p),
                p_cell(m.p_holm),
                verdict(m.p_holm),
            ),
            _ => Default::default(),
        };
        let na = |s: String| if s.is_empty() { "n/a".to_string() } else { s };
        md += &format!(
            "| {} | {} | {:.4} | {:.4} | {} | {:.4} | {:.4} | {} | {} | {} | {} | {} | {} |\n",
            t(&p.key),
            na(clips),
            p.accuracy.0,
            p.accuracy.1,
            signed(p.accuracy.1 - p.accuracy.0),
            p.f1_macro.0,
            p.f1_macro.1,
            signed(p.f1_macro.1 - p.f1_macro.0),
            na(a_only),
            na(b_only),
            na(pm),
            na(ph),
            if v.is_empty() { "n/a" } else { v },
        );
    }
    let interval = |f: &dyn Fn(&Bootstrap) -> stats::Interval| {
        c.bootstrap.as_ref().map_or_else(
            || "n/a".to_string(),
            |b| {
                let i = f(b);
                format!("[{}, {}]", signed(i.low), signed(i.high))
            },
        )
    };
    md += &format!(
        "\n| over the {} pairs | Δ accuracy | Δ macro F1 |\n|---|---|---|\n\
         | mean | {} | {} |\n\
         | 95% speaker-bootstrap interval ({} pairs, {} speakers resampled, {} resamples) | {} | {} |\n",
        c.pairs.len(),
        signed(c.mean_accuracy_diff),
        signed(c.mean_f1_diff),
        c.bootstrap_pairs,
        c.speakers,
        c.bootstrap.map_or(0, |b| b.resamples),
        interval(&|b| b.accuracy),
        interval(&|b| b.f1_macro),
    );
    md += "\n| test | over | statistic | p | Holm p | verdict |\n|---|---|---|---|---|---|\n";
    for test in &c.tests {
        md += &format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            test.name,
            test.over,
            test.statistic,
            p_cell(test.p),
            p_cell(test.p_holm),
            test.verdict()
        );
    }
    md += "\nHolm's correction runs over the tests of each table. \"Not significant\" means these \
           runs do not show a difference at the 0.05 level; it is not evidence that the systems \
           are equal.\n";
    for n in &c.notes {
        md += &format!("\n- {}", t(n));
    }
    if !c.notes.is_empty() {
        md.push('\n');
    }
    md
}

/// The comparison as CSV: one line per pair, then the mean, then one line per test.
pub fn to_csv(c: &Comparison) -> String {
    let mut out = String::from(
        "row,clips,accuracy_a,accuracy_b,accuracy_diff,f1_macro_a,f1_macro_b,f1_macro_diff,\
         a_only_right,b_only_right,low_accuracy_diff,high_accuracy_diff,low_f1_macro_diff,\
         high_f1_macro_diff,p,p_holm,verdict\n",
    );
    let opt = |v: Option<String>| v.unwrap_or_default();
    for p in &c.pairs {
        let m = p.mcnemar;
        out += &format!(
            "{},{},{},{},{},{},{},{},{},{},,,,,{},{},{}\n",
            csv::field(&p.key),
            opt(p.clips.map(|n| n.to_string())),
            p.accuracy.0,
            p.accuracy.1,
            p.accuracy.1 - p.accuracy.0,
            p.f1_macro.0,
            p.f1_macro.1,
            p.f1_macro.1 - p.f1_macro.0,
            opt(m.map(|m| m.a_only.to_string())),
            opt(m.map(|m| m.b_only.to_string())),
            opt(m.map(|m| m.p.to_string())),
            opt(m.map(|m| m.p_holm.to_string())),
            m.map_or("", |m| verdict(m.p_holm)),
        );
    }
    let b = c.bootstrap;
    out += &format!(
        "mean,,,,{},,,{},,,{},{},{},{},,,\n",
        c.mean_accuracy_diff,
        c.mean_f1_diff,
        opt(b.map(|b| b.accuracy.low.to_string())),
        opt(b.map(|b| b.accuracy.high.to_string())),
        opt(b.map(|b| b.f1_macro.low.to_string())),
        opt(b.map(|b| b.f1_macro.high.to_string())),
    );
    for t in &c.tests {
        out += &format!(
            "{},,,,,,,,,,,,,,{},{},{}\n",
            csv::field(&t.name),
            t.p,
            t.p_holm,
            t.verdict()
        );
    }
    out
}

/// Writes `comparison-stats.md` and `comparison-stats.csv` into `out` (atomically); returns
/// the Markdown and the path of the `.md`.
pub fn write(c: &Comparison, out: &Path) -> Result<(String, PathBuf)> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let md = markdown(c);
    let path = out.join("comparison-stats.md");
    atomic::write(&path, md.as_bytes())?;
    atomic::write(&out.join("comparison-stats.csv"), to_csv(c).as_bytes())?;
    Ok((md, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sides_are_folders_or_grid_points() {
        let s = Side::parse("results/f:model.filters=[4, 8],train.seed=1").unwrap();
        assert_eq!(s.dir, PathBuf::from("results/f"));
        assert_eq!(s.select.len(), 2);
        assert_eq!(s.select[0].0, "model.filters");
        assert_eq!(show(&s.select[0].1), "[4, 8]");
        assert_eq!(s.select[1], ("train.seed".to_string(), Value::Integer(1)));
        let s = Side::parse("results/f").unwrap();
        assert!(s.select.is_empty() && s.dir == Path::new("results/f"));
        let e = Side::parse("results/f:a=1,b").unwrap_err().to_string();
        assert!(e.contains("`b` is not key=value"), "{e}");
    }
}
