//! The `checkpoint/` folder of a run: the last finished epoch (model + optimizer), the best
//! weights when kept, and `state.json` (history, early-stopping state, what made it).
//!
//! Crash safety: each epoch goes into a new folder `epoch-NNNN` (written as `.epoch-NNNN.tmp`,
//! then renamed), and only then does `state.json` (temp file + rename) point at it; older
//! folders are removed last. A run killed at any moment leaves `state.json` naming a complete
//! epoch, and the next start resumes from there.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Format version of `state.json`.
pub const STATE_VERSION: u32 = 1;

/// One epoch of training, as `history.csv` has it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch's items (with dropout, as Keras reports it).
    pub loss: f64,
    /// Training accuracy over the epoch's items.
    pub accuracy: f64,
    /// Mean validation loss (NaN without a validation part; `null` in JSON).
    #[serde(with = "nan_as_null")]
    pub val_loss: f64,
    /// Validation accuracy (NaN without a validation part; `null` in JSON).
    #[serde(with = "nan_as_null")]
    pub val_accuracy: f64,
    /// Wall time of the epoch (training and validation), seconds.
    pub seconds: f64,
}

/// What `checkpoint/state.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// Digest of everything that decides the result except the epoch count; a checkpoint made
    /// from another config or other data is refused.
    pub fingerprint: String,
    /// Last finished epoch.
    pub epoch: usize,
    /// Folder (inside `checkpoint/`) with that epoch's `model.bpk` and `optimizer.bpk`.
    pub dir: String,
    /// Every finished epoch.
    pub history: Vec<EpochRecord>,
    /// Epoch with the lowest validation loss so far (0: none yet).
    pub best_epoch: usize,
    /// That loss (`None` before the first finite one).
    pub best_val_loss: Option<f64>,
    /// File (inside `checkpoint/`) with the best epoch's weights, when `keep_best` is on.
    pub best_file: Option<String>,
    /// Epochs since the best one.
    pub since_best: usize,
    /// Early stopping has ended the run.
    pub stopped_early: bool,
    /// Backend and device that trained the last epoch.
    pub backend: String,
}

/// JSON has no NaN: write it as `null` and read `null` back as NaN.
mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_nan() {
            s.serialize_none()
        } else {
            s.serialize_f64(*v)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

/// `epoch-0007`.
pub fn epoch_dir_name(epoch: usize) -> String {
    format!("epoch-{epoch:04}")
}

/// `best-0007.bpk`.
pub fn best_file_name(epoch: usize) -> String {
    format!("best-{epoch:04}.bpk")
}

/// Reads `state.json` from `dir`, or `None` when there is none.
pub fn read_state(dir: &Path) -> Result<Option<State>> {
    let path = dir.join("state.json");
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let state: State = serde_json::from_str(&text).map_err(|e| {
        Error::train(
            &path,
            format!(
                "unreadable checkpoint state ({e}); delete the checkpoint/ folder to start over"
            ),
        )
    })?;
    if state.version != STATE_VERSION {
        return Err(Error::train(
            &path,
            format!(
                "checkpoint format {} is not {STATE_VERSION}; delete the checkpoint/ folder to start over",
                state.version
            ),
        ));
    }
    Ok(Some(state))
}

/// Writes `bytes` to `path` through a temporary file and a rename, so readers see the old file
/// or the new one, never a part.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = tmp_path(path);
    fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

fn tmp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp"))
}

/// Writes `state.json` atomically.
pub fn write_state(dir: &Path, state: &State) -> Result<()> {
    let text = serde_json::to_string_pretty(state)
        .map_err(|e| Error::train(dir, format!("cannot serialise checkpoint state: {e}")))?;
    write_atomic(&dir.join("state.json"), text.as_bytes())
}

/// Makes `checkpoint/<final_name>` from whatever `fill` writes into a fresh temporary folder.
pub fn commit_dir(
    dir: &Path,
    final_name: &str,
    fill: impl FnOnce(&Path) -> Result<()>,
) -> Result<PathBuf> {
    let tmp = dir.join(format!(".{final_name}.tmp"));
    let target = dir.join(final_name);
    remove_any(&tmp)?;
    fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    fill(&tmp)?;
    // A folder of the same name can only be a leftover of a run killed before its state.json
    // was updated: the state does not point at it, so it can go.
    remove_any(&target)?;
    fs::rename(&tmp, &target).map_err(|e| Error::io(&target, e))?;
    Ok(target)
}

/// Removes every entry of `dir` that `state` does not reference (older epochs, old best files,
/// temporaries).
pub fn prune(dir: &Path, state: &State) -> Result<()> {
    let entries = fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let keep = name == "state.json"
            || name == state.dir
            || state.best_file.as_deref() == Some(name.as_str());
        if !keep {
            remove_any(&entry.path())?;
        }
    }
    Ok(())
}

fn remove_any(path: &Path) -> Result<()> {
    let result = if path.is_dir() {
        fs::remove_dir_all(path)
    } else if path.exists() {
        fs::remove_file(path)
    } else {
        Ok(())
    };
    result.map_err(|e| Error::io(path, e))
}

/// The `history.csv` header.
pub const HISTORY_HEADER: &str = "epoch,loss,accuracy,val_loss,val_accuracy,seconds";

/// One `history.csv` line (no newline).
pub fn history_line(r: &EpochRecord) -> String {
    format!(
        "{},{:.6},{:.6},{:.6},{:.6},{:.3}",
        r.epoch, r.loss, r.accuracy, r.val_loss, r.val_accuracy, r.seconds
    )
}

/// Rewrites `history.csv` from `history` (on start and resume, so it matches the checkpoint).
pub fn write_history(path: &Path, history: &[EpochRecord]) -> Result<()> {
    let mut text = String::from(HISTORY_HEADER);
    text.push('\n');
    for r in history {
        text += &history_line(r);
        text.push('\n');
    }
    write_atomic(path, text.as_bytes())
}

/// Appends one epoch to `history.csv`.
pub fn append_history(path: &Path, record: &EpochRecord) -> Result<()> {
    use std::io::Write;
    let mut f = fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    writeln!(f, "{}", history_line(record)).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(dir: &str, best: Option<&str>) -> State {
        State {
            version: STATE_VERSION,
            fingerprint: "f".into(),
            epoch: 2,
            dir: dir.into(),
            history: vec![],
            best_epoch: 0,
            best_val_loss: None,
            best_file: best.map(str::to_string),
            since_best: 0,
            stopped_early: false,
            backend: "flex".into(),
        }
    }

    #[test]
    fn commit_then_prune_keeps_only_what_state_names() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        for e in 1..=3 {
            commit_dir(d, &epoch_dir_name(e), |p| {
                fs::write(p.join("model.bpk"), [e as u8]).map_err(|e| Error::io(p, e))
            })
            .unwrap();
        }
        fs::write(d.join(best_file_name(1)), b"b1").unwrap();
        fs::write(d.join(best_file_name(2)), b"b2").unwrap();
        fs::create_dir_all(d.join(".epoch-0004.tmp")).unwrap();
        let s = state("epoch-0003", Some("best-0002.bpk"));
        write_state(d, &s).unwrap();
        prune(d, &s).unwrap();
        let mut names: Vec<String> = fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["best-0002.bpk", "epoch-0003", "state.json"]);
        assert_eq!(fs::read(d.join("epoch-0003/model.bpk")).unwrap(), [3]);
        assert_eq!(read_state(d).unwrap().unwrap(), s);
    }

    #[test]
    fn missing_state_is_none_and_garbage_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(read_state(tmp.path()).unwrap(), None);
        fs::write(tmp.path().join("state.json"), "{").unwrap();
        let e = read_state(tmp.path()).unwrap_err().to_string();
        assert!(e.contains("delete the checkpoint/ folder"), "{e}");
    }

    #[test]
    fn history_lines() {
        let r = EpochRecord {
            epoch: 3,
            loss: 1.5,
            accuracy: 0.25,
            val_loss: f64::NAN,
            val_accuracy: f64::NAN,
            seconds: 1.23456,
        };
        assert_eq!(history_line(&r), "3,1.500000,0.250000,NaN,NaN,1.235");
    }
}
