//! [`RunDir`]: one run directory, the only place that names its files. Each file's writer and
//! reader sit side by side here; every write is atomic ([`atomic`]).
//!
//! ```text
//! <run>/config.toml      the resolved config                       written first (job)
//!       split/           train.txt, valid.txt, test.txt            (split's list format)
//!       training.json    the resolved training config              (train)
//!       history.csv      one line per finished epoch, as it ends   (train)
//!       checkpoint/      the last finished epoch                   (train::checkpoint)
//!       model.bpk        the final weights                         (train, last)
//!       run.json         seed, backend, versions, commit, times, split facts (job)
//!       curves.png       loss and accuracy per epoch
//!       report.txt       per-class precision / recall / F1 (sklearn's layout)
//!       confusion.csv, confusion_normalized.csv, confusion.png
//!       predictions.csv  per test clip: path, true, predicted, speaker, probabilities
//!       metrics.json     written last: its presence means "done"
//!       error.txt        a failed job's message (runner)
//!       lock             the process running it now (runner, see [`JobLock`])
//!       eval/<target>/   re-evaluations: the metrics files above plus predictions.csv
//! ```

mod state;

pub use state::{hostname, JobLock, JobState};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::base::{atomic, Error, Result};
use crate::config::Config;
use crate::eval::{EpochRecord, GroupScore, GroupScores, Metrics, Predictions};
use crate::split::Facts;

const CONFIG: &str = "config.toml";
const SPLIT: &str = "split";
const TRAINING: &str = "training.json";
const STANDARDIZE: &str = "standardize.json";
const HISTORY: &str = "history.csv";
const CHECKPOINT: &str = "checkpoint";
const MODEL: &str = "model.bpk";
const RUN_INFO: &str = "run.json";
const CURVES: &str = "curves.png";
const REPORT: &str = "report.txt";
const CONFUSION: &str = "confusion.csv";
const CONFUSION_NORMALIZED: &str = "confusion_normalized.csv";
const CONFUSION_PNG: &str = "confusion.png";
const PREDICTIONS: &str = "predictions.csv";
const METRICS: &str = "metrics.json";
const ERROR: &str = "error.txt";
const INTERRUPTED: &str = "interrupted.txt";
const HALTED: &str = "halted.txt";
const RELIABILITY: &str = "reliability.png";
const LOCK: &str = "lock";
const EVAL: &str = "eval";

/// The `history.csv` header.
const HISTORY_HEADER: &str = "epoch,loss,accuracy,val_loss,val_accuracy,val_macro_f1,lr,seconds";

/// A run directory (or an eval directory inside one, which holds the metrics files of a
/// re-evaluation). Holding one creates nothing; the writers create the folder as needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// The run directory at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates the folder (and its parents).
    pub fn create(&self) -> Result<()> {
        std::fs::create_dir_all(&self.path).map_err(|e| Error::io(&self.path, e))
    }

    /// The eval directory of a re-evaluation named `target` (`test`, `emodb-wav`).
    pub fn eval_dir(&self, target: &str) -> RunDir {
        RunDir::new(self.path.join(EVAL).join(target))
    }

    /// Whether the folder holds a run's files (its config, metrics or error), as opposed to
    /// any other folder beside run directories.
    pub fn looks_like_run(&self) -> bool {
        self.path.is_dir()
            && [CONFIG, METRICS, ERROR]
                .iter()
                .any(|f| self.path.join(f).is_file())
    }

    // --- config.toml -------------------------------------------------------------------------

    /// Writes the resolved config.
    pub fn write_config(&self, config: &Config) -> Result<()> {
        let path = self.path.join(CONFIG);
        let text = toml::to_string(config).map_err(|e| Error::format(&path, e.to_string()))?;
        self.create()?;
        atomic::write(&path, text.as_bytes())
    }

    /// Whether the run has its config (every run directory made by `ser` does).
    pub fn has_config(&self) -> bool {
        self.path.join(CONFIG).is_file()
    }

    /// The config the run was made with.
    pub fn read_config(&self) -> Result<Config> {
        if !self.has_config() {
            return Err(Error::Usage(format!(
                "{} is not a run directory: it has no {CONFIG} (make one with `ser train`)",
                self.path.display()
            )));
        }
        Config::from_file(&self.path.join(CONFIG))
    }

    // --- split/ ------------------------------------------------------------------------------

    /// The folder of the run's split lists (their format is `split`'s).
    pub fn split_dir(&self) -> PathBuf {
        self.path.join(SPLIT)
    }

    // --- training.json -----------------------------------------------------------------------

    /// Writes the resolved training configuration (pretty JSON, as Burn's `Config` writes it).
    pub fn write_training<T: Serialize>(&self, training: &T) -> Result<()> {
        let path = self.path.join(TRAINING);
        let text = serde_json::to_string_pretty(training)
            .map_err(|e| Error::format(&path, e.to_string()))?;
        self.create()?;
        atomic::write(&path, text.as_bytes())
    }

    /// Reads the training configuration back.
    pub fn read_training<T: DeserializeOwned>(&self) -> Result<T> {
        let path = self.path.join(TRAINING);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        serde_json::from_str(&text)
            .map_err(|e| Error::train(&path, format!("cannot read the run's training config: {e}")))
    }

    // --- history.csv -------------------------------------------------------------------------

    /// Rewrites `history.csv` from `history` (on start and resume, so it matches the checkpoint).
    pub fn write_history(&self, history: &[EpochRecord]) -> Result<()> {
        let mut text = String::from(HISTORY_HEADER);
        text.push('\n');
        for r in history {
            text += &history_line(r);
            text.push('\n');
        }
        self.create()?;
        atomic::write(&self.path.join(HISTORY), text.as_bytes())
    }

    /// Appends one epoch to `history.csv`. Appending is not atomic, but a line cut short by a
    /// kill is rewritten from the checkpoint on resume ([`RunDir::write_history`]).
    pub fn append_history(&self, record: &EpochRecord) -> Result<()> {
        use std::io::Write;
        let path = self.path.join(HISTORY);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        writeln!(f, "{}", history_line(record)).map_err(|e| Error::io(&path, e))
    }

    /// Reads `history.csv`, columns found by name: `epoch` is required, any other column that
    /// is absent reads as NaN. Errors name the file and the line.
    pub fn read_history(&self) -> Result<Vec<EpochRecord>> {
        let path = self.path.join(HISTORY);
        let bad = |message: String| Error::format(&path, message);
        let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => bad("missing".into()),
            _ => bad(format!("unreadable: {e}")),
        })?;
        let mut lines = text.lines().enumerate();
        let header: Vec<&str> = lines
            .next()
            .map(|(_, h)| h.split(',').map(str::trim).collect())
            .unwrap_or_default();
        let col = |name: &str| header.iter().position(|h| *h == name);
        let epoch_col = col("epoch")
            .ok_or_else(|| bad(format!("no `epoch` column (header `{}`)", header.join(","))))?;
        let cols = [
            "loss",
            "accuracy",
            "val_loss",
            "val_accuracy",
            "seconds",
            "val_macro_f1",
            "lr",
        ]
        .map(col);
        let mut out = Vec::new();
        for (i, line) in lines.filter(|(_, l)| !l.trim().is_empty()) {
            let cells: Vec<&str> = line.split(',').map(str::trim).collect();
            let not_a_record = || bad(format!("line {}: not an epoch record: `{line}`", i + 1));
            let epoch = cells
                .get(epoch_col)
                .and_then(|c| c.parse().ok())
                .ok_or_else(not_a_record)?;
            let mut values = [f64::NAN; 7];
            for (v, c) in values.iter_mut().zip(cols) {
                if let Some(c) = c {
                    *v = cells
                        .get(c)
                        .and_then(|c| c.parse().ok())
                        .ok_or_else(not_a_record)?;
                }
            }
            let [loss, accuracy, val_loss, val_accuracy, seconds, val_macro_f1, lr] = values;
            out.push(EpochRecord {
                epoch,
                loss,
                accuracy,
                val_loss,
                val_accuracy,
                seconds,
                val_macro_f1,
                lr,
            });
        }
        Ok(out)
    }

    /// `standardize.json`: the training part's per-feature statistics (`train.standardize`).
    pub fn standardize_file(&self) -> PathBuf {
        self.path.join(STANDARDIZE)
    }

    /// The run's `history.csv` (for messages).
    pub fn history_file(&self) -> PathBuf {
        self.path.join(HISTORY)
    }

    // --- checkpoint/, model.bpk --------------------------------------------------------------

    /// The checkpoint folder (its inside is `train::checkpoint`'s).
    pub fn checkpoint_dir(&self) -> PathBuf {
        self.path.join(CHECKPOINT)
    }

    /// The final weights, as Burn's recorder writes and reads them.
    pub fn model_file(&self) -> PathBuf {
        self.path.join(MODEL)
    }

    // --- run.json, curves.png ----------------------------------------------------------------

    /// Writes `run.json`: how the run was made (seed, backend, versions, commit, times).
    pub fn write_run_info(&self, info: &serde_json::Value) -> Result<()> {
        let path = self.path.join(RUN_INFO);
        let text =
            serde_json::to_string_pretty(info).map_err(|e| Error::format(&path, e.to_string()))?;
        atomic::write(&path, text.as_bytes())
    }

    /// Reads `run.json`.
    pub fn read_run_info(&self) -> Result<serde_json::Value> {
        read_json(&self.path.join(RUN_INFO))
    }

    /// Draws `curves.png`; a figure that cannot be drawn is logged, never a failed run.
    pub fn write_curves(&self, history: &[EpochRecord], best_epoch: usize) {
        if let Err(e) = crate::plot::curves::write(&self.path.join(CURVES), history, best_epoch) {
            tracing::warn!("{e}");
        }
    }

    /// Draws `reliability.png`, the test predictions' reliability diagram (a failure is only
    /// warned about: the numbers are in `metrics.json`).
    pub fn write_reliability(&self, cal: &crate::eval::calibration::Calibration) {
        if let Err(e) = crate::plot::reliability::write(&self.path.join(RELIABILITY), cal) {
            tracing::warn!("{e}");
        }
    }

    // --- report.txt, confusion*, metrics.json, predictions.csv -------------------------------

    /// Writes `report.txt`, `confusion.csv`, `confusion_normalized.csv`, `confusion.png` and,
    /// last and atomically, `metrics.json` (the metrics plus the fields of `extra`).
    pub fn write_metrics(&self, metrics: &Metrics, extra: serde_json::Value) -> Result<()> {
        self.create()?;
        let write = |name: &str, text: &str| atomic::write(&self.path.join(name), text.as_bytes());
        write(REPORT, &metrics.report_text(2))?;
        write(CONFUSION, &metrics.confusion_csv())?;
        write(CONFUSION_NORMALIZED, &metrics.confusion_normalized_csv())?;
        let title = format!(
            "accuracy {:.3}, macro F1 {:.3} ({} clips)",
            metrics.accuracy, metrics.macro_avg.f1, metrics.total
        );
        // Figures are for people: a failure to draw one is logged, never a failed run.
        let png = self.path.join(CONFUSION_PNG);
        if let Err(e) = crate::plot::confusion::write(&png, metrics, &title) {
            tracing::warn!("{e}");
        }
        let mut m = metrics.to_json();
        if let (Some(m), serde_json::Value::Object(extra)) = (m.as_object_mut(), extra) {
            m.extend(extra);
        }
        let path = self.path.join(METRICS);
        let text =
            serde_json::to_string_pretty(&m).map_err(|e| Error::format(&path, e.to_string()))?;
        atomic::write(&path, text.as_bytes())
    }

    /// Whether the run is done (`metrics.json` exists).
    pub fn is_done(&self) -> bool {
        self.path.join(METRICS).is_file()
    }

    /// Removes `metrics.json` (before an eval directory is written again, so that a crash never
    /// leaves old metrics beside new files).
    pub fn remove_metrics(&self) -> Result<()> {
        atomic::remove_any(&self.path.join(METRICS))
    }

    /// The numbers of `metrics.json` (other fields left out).
    pub fn read_metrics(&self) -> Result<BTreeMap<String, f64>> {
        let v = read_json(&self.path.join(METRICS))?;
        Ok(v.as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_f64().map(|x| (k.clone(), x)))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The per-group scores of `metrics.json` (`groups`: attribute → value → scores), empty for
    /// runs without demographics.
    pub fn read_groups(&self) -> Result<GroupScores> {
        let path = self.path.join(METRICS);
        let v = read_json(&path)?;
        match v.get("groups") {
            None => Ok(GroupScores::new()),
            Some(g) => serde_json::from_value(g.clone())
                .map_err(|e| Error::format(&path, format!("unreadable `groups`: {e}"))),
        }
    }

    /// The scores on other corpora of `metrics.json` (`other_corpora`: corpus name → scores),
    /// empty for runs evaluated on their own test part only.
    pub fn read_other_corpora(&self) -> Result<BTreeMap<String, GroupScore>> {
        let path = self.path.join(METRICS);
        match read_json(&path)?.get("other_corpora") {
            None => Ok(BTreeMap::new()),
            Some(g) => serde_json::from_value(g.clone())
                .map_err(|e| Error::format(&path, format!("unreadable `other_corpora`: {e}"))),
        }
    }

    /// The split's facts `run.json` records (`None` for runs made before it recorded them).
    pub fn read_split_facts(&self) -> Result<Option<Facts>> {
        let path = self.path.join(RUN_INFO);
        if !path.is_file() {
            return Ok(None);
        }
        match read_json(&path)?.get("split") {
            None => Ok(None),
            Some(f) => serde_json::from_value(f.clone())
                .map(Some)
                .map_err(|e| Error::format(&path, format!("unreadable `split`: {e}"))),
        }
    }

    /// The text of `report.txt`, if the run has one.
    pub fn read_report(&self) -> Option<String> {
        std::fs::read_to_string(self.path.join(REPORT)).ok()
    }

    /// `confusion.png` (read by the HTML report).
    pub fn confusion_png(&self) -> PathBuf {
        self.path.join(CONFUSION_PNG)
    }

    /// Writes `predictions.csv`: the run's (or a re-evaluation's) prediction per test clip.
    pub fn write_predictions(&self, predictions: &Predictions) -> Result<()> {
        self.create()?;
        atomic::write(
            &self.path.join(PREDICTIONS),
            predictions.to_csv().as_bytes(),
        )
    }

    /// `predictions.csv`, or `None` for runs made before every run wrote it.
    pub fn read_predictions(&self) -> Result<Option<Predictions>> {
        let path = self.path.join(PREDICTIONS);
        match std::fs::read_to_string(&path) {
            Ok(text) => Predictions::parse(&text, &path).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    // --- error.txt, lock, state --------------------------------------------------------------

    /// Writes `error.txt` for a failed job.
    pub fn write_error(&self, message: &str) -> Result<()> {
        self.write_note(ERROR, message)
    }

    /// A failed job's message, if `error.txt` exists.
    pub fn read_error(&self) -> Option<String> {
        self.read_note(ERROR)
    }

    /// Removes `error.txt` and `interrupted.txt` (a job starting again).
    pub fn remove_error(&self) -> Result<()> {
        atomic::remove_any(&self.path.join(ERROR))?;
        atomic::remove_any(&self.path.join(INTERRUPTED))
    }

    // --- interrupted.txt ----------------------------------------------------------------------

    /// Records that the job was stopped by a signal (not a failure: it resumes).
    pub fn write_interrupted(&self, message: &str) -> Result<()> {
        self.write_note(INTERRUPTED, message)
    }

    /// An interrupted job's note, if `interrupted.txt` exists.
    pub fn read_interrupted(&self) -> Option<String> {
        self.read_note(INTERRUPTED)
    }

    // --- halted.txt ---------------------------------------------------------------------------

    /// Records that successive halving stopped the job at a rung (not a failure: its grid point
    /// was among the worse on validation; a rerun leaves it stopped, `--force` trains it again).
    pub fn write_halted(&self, message: &str) -> Result<()> {
        self.write_note(HALTED, message)
    }

    /// A halted job's note, if `halted.txt` exists.
    pub fn read_halted(&self) -> Option<String> {
        self.read_note(HALTED)
    }

    /// Writes the one-line note file `name` (`error.txt`, `interrupted.txt`, `halted.txt`).
    fn write_note(&self, name: &str, message: &str) -> Result<()> {
        self.create()?;
        atomic::write(&self.path.join(name), format!("{message}\n").as_bytes())
    }

    /// The note file `name`'s text, if it exists.
    fn read_note(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.path.join(name))
            .ok()
            .map(|m| m.trim_end().to_string())
    }

    /// What the folder says about its job.
    pub fn state(&self) -> JobState {
        JobState::of(self)
    }

    /// Takes the job's lock (see [`JobLock::acquire`]).
    pub fn lock(&self) -> Result<Option<JobLock>> {
        JobLock::acquire(self)
    }

    fn lock_file(&self) -> PathBuf {
        self.path.join(LOCK)
    }

    /// Empties the folder except its lock (`--force`: the job starts from scratch).
    pub fn clear(&self) -> Result<()> {
        let entries = match std::fs::read_dir(&self.path) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(&self.path, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&self.path, e))?;
            if entry.file_name() != LOCK {
                atomic::remove_any(&entry.path())?;
            }
        }
        Ok(())
    }
}

/// One `history.csv` line (no newline).
fn history_line(r: &EpochRecord) -> String {
    format!(
        "{},{:.6},{:.6},{:.6},{:.6},{:.6},{:e},{:.3}",
        r.epoch, r.loss, r.accuracy, r.val_loss, r.val_accuracy, r.val_macro_f1, r.lr, r.seconds
    )
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::format(path, format!("not JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(epoch: usize, val_accuracy: f64) -> EpochRecord {
        EpochRecord {
            epoch,
            loss: 1.5,
            accuracy: 0.25,
            val_loss: f64::NAN,
            val_accuracy,
            seconds: 1.23456,
            val_macro_f1: f64::NAN,
            lr: 1e-4,
        }
    }

    #[test]
    fn history_lines_round_trip_and_read_by_column_name() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path().join("run"));
        assert_eq!(
            history_line(&record(3, f64::NAN)),
            "3,1.500000,0.250000,NaN,NaN,NaN,1e-4,1.235"
        );
        run.write_history(&[record(1, 0.5)]).unwrap();
        run.append_history(&record(2, 0.75)).unwrap();
        let back = run.read_history().unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!((back[1].epoch, back[1].val_accuracy), (2, 0.75));
        assert!(back[0].val_loss.is_nan());
        assert_eq!(back[0].lr, 1e-4);

        // Columns are found by name; absent ones read as NaN.
        std::fs::write(run.history_file(), "val_accuracy,epoch\n0.5,1\n0.6,2\n").unwrap();
        let back = run.read_history().unwrap();
        assert_eq!((back[1].epoch, back[1].val_accuracy), (2, 0.6));
        assert!(back[1].loss.is_nan());

        std::fs::write(run.history_file(), "e,acc\n1,0.5\n").unwrap();
        let e = run.read_history().unwrap_err().to_string();
        assert!(e.contains("history.csv") && e.contains("`epoch`"), "{e}");
        std::fs::write(run.history_file(), "epoch,val_accuracy\n1,x\n").unwrap();
        let e = run.read_history().unwrap_err().to_string();
        assert!(e.contains("history.csv: line 2"), "{e}");
        let e = RunDir::new(dir.path().join("nope"))
            .read_history()
            .unwrap_err()
            .to_string();
        assert!(e.contains("history.csv: missing"), "{e}");
    }

    #[test]
    fn done_failed_and_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path().join("job"));
        assert!(!run.looks_like_run());
        run.write_error("boom").unwrap();
        assert!(run.looks_like_run());
        assert_eq!(run.read_error().as_deref(), Some("boom"));
        assert!(!run.is_done());
        let classes = ["a".to_string(), "b".to_string()];
        let metrics = crate::eval::evaluate(&[0, 1], &[0, 0], &classes).unwrap();
        let extra = serde_json::json!({"backend": "flex", "best_epoch": 3});
        run.write_metrics(&metrics, extra).unwrap();
        assert!(run.is_done());
        let read = run.read_metrics().unwrap();
        assert_eq!((read["accuracy"], read["best_epoch"]), (0.5, 3.0));
        assert!(!read.contains_key("backend"));
        assert!(run.read_report().unwrap().contains("macro avg"));
        run.clear().unwrap();
        assert!(!run.is_done() && run.read_error().is_none());
    }
}
