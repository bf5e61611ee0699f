//! The `checkpoint/` folder of a run: the last finished epoch (model + optimizer), the best
//! weights when kept, and `state.json` (history, early-stopping state, what made it).
//!
//! Crash safety: each epoch goes into a new folder `epoch-NNNN` (built whole by
//! [`atomic::write_dir`]), and only then does `state.json` (written atomically) point at it;
//! older folders are removed last. A run killed at any moment leaves `state.json` naming a
//! complete epoch, and the next start resumes from there.
//!
//! Damage (a disk error, a copy cut short, a hand edit): `state.json` records the SHA-256 of every
//! file it names. A start that finds `state.json` unreadable or a named file missing or changed
//! says which file, clears the folder and trains the job from its first epoch, instead of loading
//! weights that are not what they were.

use std::fs;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::base::hash::{self, file_sha256};
use crate::base::{atomic, Error, Result};
use crate::config::Monitor;
use crate::eval::EpochRecord;
use crate::model::Net;

/// Format version of `state.json`.
pub const STATE_VERSION: u32 = 1;

const STATE: &str = "state.json";
const MODEL: &str = "model.bpk";
const OPTIMIZER: &str = "optimizer.bpk";

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
    /// SHA-256 of each file named above, by its path inside `checkpoint/` (empty in states made
    /// before checksums: those are trusted as they are).
    #[serde(default)]
    pub checksums: BTreeMap<String, String>,
    /// The best validation macro F1 so far, with `train.monitor = "val_macro_f1"` (then
    /// `best_epoch` is its epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_val_f1: Option<f64>,
    /// Where this run's first epochs were trained, when it continued another job's checkpoint
    /// (`job <id>, epoch <n>`; see [`continue_from`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continued_from: Option<String>,
}

impl State {
    /// The state of a run that has not finished an epoch yet.
    pub fn new(fingerprint: String, backend: String) -> Self {
        State {
            version: STATE_VERSION,
            fingerprint,
            epoch: 0,
            dir: String::new(),
            history: Vec::new(),
            best_epoch: 0,
            best_val_loss: None,
            best_file: None,
            since_best: 0,
            stopped_early: false,
            backend,
            checksums: BTreeMap::new(),
            best_val_f1: None,
            continued_from: None,
        }
    }

    /// [`State::track_best`] on what `monitor` names: the validation loss (lower is better), or
    /// the validation macro F1 (higher is better; a tie keeps the earlier epoch).
    pub fn track_monitored(
        &mut self,
        monitor: Monitor,
        record: &EpochRecord,
        patience: Option<usize>,
    ) -> bool {
        match monitor {
            Monitor::ValLoss => self.track_best(record.epoch, record.val_loss, patience),
            Monitor::ValMacroF1 => {
                // NaN never improves.
                let f1 = record.val_macro_f1;
                let improved = f1 > self.best_val_f1.unwrap_or(f64::NEG_INFINITY);
                if improved {
                    self.best_val_f1 = Some(f1);
                }
                self.count(record.epoch, improved, patience);
                improved
            }
        }
    }

    /// Updates the best-epoch bookkeeping with `epoch`'s validation loss, as Keras'
    /// `EarlyStopping` (monitor `val_loss`, `min_delta` 0) does; returns whether the loss improved.
    pub fn track_best(&mut self, epoch: usize, val_loss: f64, patience: Option<usize>) -> bool {
        // NaN never improves (a diverged or absent validation).
        let improved = val_loss < self.best_val_loss.unwrap_or(f64::INFINITY);
        if improved {
            self.best_val_loss = Some(val_loss);
        }
        self.count(epoch, improved, patience);
        improved
    }

    /// The best epoch and the patience count after `epoch`.
    fn count(&mut self, epoch: usize, improved: bool, patience: Option<usize>) {
        if improved {
            self.best_epoch = epoch;
            self.since_best = 0;
        } else {
            self.since_best += 1;
            if patience.is_some_and(|p| self.since_best >= p) {
                self.stopped_early = true;
            }
        }
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

/// The state to train from in `dir`: the checkpoint's, when there is one made by the same
/// config and data (`fingerprint`) and not past `epochs`; a fresh one otherwise, also when the
/// checkpoint is damaged (said, with the file, and the folder cleared).
pub fn start(dir: &Path, fingerprint: &str, epochs: usize, backend: &str) -> Result<State> {
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let fresh = || State::new(fingerprint.to_string(), backend.to_string());
    let state = match load_state(dir)? {
        Stored::Missing => None,
        Stored::Damaged(e) => return start_over(dir, &e).map(|()| fresh()),
        Stored::Found(s) => Some(s),
    };
    match state {
        Some(s) if s.fingerprint != fingerprint => Err(Error::train(
            dir,
            "this checkpoint was made with another config or other data; \
             use a new run directory, or delete checkpoint/ to start over",
        )),
        Some(s) if s.epoch > epochs => Err(Error::train(
            dir,
            format!(
                "the checkpoint is at epoch {}, past train.epochs = {epochs}; use a new run \
                 directory",
                s.epoch
            ),
        )),
        Some(s) => match verify(dir, &s) {
            Ok(()) => Ok(s),
            Err(e) => start_over(dir, &e).map(|()| fresh()),
        },
        None => Ok(fresh()),
    }
}

/// Makes `dst` (a run's `checkpoint/`) a copy of the checkpoint in `src` (another job's, trained
/// with the same everything but the epoch count), so the run resumes from there: the copy is
/// built whole beside `dst` and then replaces it. Nothing is copied when `src` has no usable
/// checkpoint or `dst` is as far along already; returns the epoch copied, if one was. `origin`
/// (e.g. `job 3f2a9c01d4`) is recorded in the copy's state.
pub fn continue_from(src: &Path, dst: &Path, origin: &str) -> Result<Option<usize>> {
    let state = match load_state(src)? {
        // A state from before checksums names no files to copy.
        Stored::Found(s) if s.epoch > 0 && !s.checksums.is_empty() && verify(src, &s).is_ok() => s,
        _ => return Ok(None),
    };
    if let Ok(Stored::Found(own)) = load_state(dst) {
        if own.epoch >= state.epoch && verify(dst, &own).is_ok() {
            return Ok(None);
        }
    }
    let mut copied = state.clone();
    copied.continued_from = Some(format!("{origin}, epoch {}", state.epoch));
    atomic::write_dir(dst, |tmp| {
        let epoch_dir = tmp.join(&state.dir);
        fs::create_dir_all(&epoch_dir).map_err(|e| Error::io(&epoch_dir, e))?;
        for name in state.checksums.keys() {
            let from = src.join(name);
            fs::copy(&from, tmp.join(name)).map_err(|e| Error::io(&from, e))?;
        }
        write_state(tmp, &copied)
    })?;
    Ok(Some(state.epoch))
}

/// Checks every file `state` names against its recorded SHA-256.
pub fn verify(dir: &Path, state: &State) -> Result<()> {
    match hash::mismatch(dir, &state.checksums, "the checkpoint") {
        None => Ok(()),
        Some((path, why)) => Err(damaged(&path, &why)),
    }
}

fn damaged(path: &Path, why: &str) -> Error {
    Error::train(path, format!("damaged checkpoint: {why}"))
}

/// Says why the checkpoint cannot be used and empties its folder: the job trains from epoch 1.
fn start_over(dir: &Path, why: &Error) -> Result<()> {
    tracing::warn!("{why}; training this job again from its first epoch");
    let entries = fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        atomic::remove_any(&entry.path())?;
    }
    Ok(())
}

/// The SHA-256 of the files a state names, by their path in `dir`: the epoch's folder, and the
/// best weights (reusing `previous` for files it already has).
fn checksums(
    dir: &Path,
    state: &State,
    previous: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>> {
    let mut names = vec![
        format!("{}/{MODEL}", state.dir),
        format!("{}/{OPTIMIZER}", state.dir),
    ];
    names.extend(state.best_file.clone());
    names
        .into_iter()
        .map(|name| {
            let sum = match previous.get(&name) {
                Some(s) => s.clone(),
                None => file_sha256(&dir.join(&name)).map_err(|e| Error::io(dir.join(&name), e))?,
            };
            Ok((name, sum))
        })
        .collect()
}

/// What `state.json` holds on disk.
enum Stored {
    Missing,
    /// There but unreadable: the error says so.
    Damaged(Error),
    Found(State),
}

/// Reads `state.json` from `dir`, or `None` when there is none; an unreadable one is an error.
pub fn read_state(dir: &Path) -> Result<Option<State>> {
    match load_state(dir)? {
        Stored::Missing => Ok(None),
        Stored::Damaged(e) => Err(e),
        Stored::Found(s) => Ok(Some(s)),
    }
}

/// Reads `state.json`, telling a damaged file (which a fresh start replaces) from a failure to
/// read the folder or a format of another version (which are errors).
fn load_state(dir: &Path) -> Result<Stored> {
    let path = dir.join(STATE);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Stored::Missing),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let state: State = match serde_json::from_str(&text) {
        Ok(s) => s,
        Err(e) => {
            let why = format!("unreadable checkpoint state ({e})");
            return Ok(Stored::Damaged(damaged(&path, &why)));
        }
    };
    if state.version != STATE_VERSION {
        return Err(Error::train(
            &path,
            format!(
                "checkpoint format {} is not {STATE_VERSION}; delete the checkpoint/ folder to start over",
                state.version
            ),
        ));
    }
    Ok(Stored::Found(state))
}

/// Writes `state.json` atomically.
pub fn write_state(dir: &Path, state: &State) -> Result<()> {
    let path = dir.join(STATE);
    let text = serde_json::to_string_pretty(state)
        .map_err(|e| Error::format(&path, format!("cannot serialise checkpoint state: {e}")))?;
    atomic::write(&path, text.as_bytes())
}

/// The model and optimizer of the epoch `state` names, loaded into `model` and `optim`.
pub fn load(
    dir: &Path,
    state: &State,
    model: Net,
    optim: ModuleOptimizer,
) -> Result<(Net, ModuleOptimizer)> {
    let epoch_dir = dir.join(&state.dir);
    let model = load_weights(model, &epoch_dir.join(MODEL))?;
    let path = epoch_dir.join(OPTIMIZER);
    let optim = optim
        .load(&path)
        .map_err(|e| Error::train(&path, format!("cannot load optimizer state: {e}")))?;
    Ok((model, optim))
}

/// Commits `epoch`: its model and optimizer into a new `epoch-NNNN` folder, the weights again as
/// the best ones when `best` (keep-best runs), then `state.json` pointing at them; older epochs
/// are pruned last.
pub fn save(
    dir: &Path,
    epoch: usize,
    model: &Net,
    optim: &ModuleOptimizer,
    best: bool,
    state: &mut State,
) -> Result<()> {
    let name = epoch_dir_name(epoch);
    atomic::write_dir(&dir.join(&name), |tmp| {
        save_weights(model, &tmp.join(MODEL))?;
        let p = tmp.join(OPTIMIZER);
        optim
            .save(&p)
            .map_err(|e| Error::train(&p, format!("cannot save optimizer state: {e}")))
    })?;
    if best {
        let file = best_file_name(epoch);
        save_weights(model, &dir.join(&file))?;
        state.best_file = Some(file);
    }
    state.epoch = epoch;
    state.dir = name;
    // The best file's sum is kept while it is the same file; the epoch's files are new.
    let mut previous = std::mem::take(&mut state.checksums);
    previous.retain(|k, _| state.best_file.as_deref() == Some(k.as_str()) && !best);
    state.checksums = checksums(dir, state, &previous)?;
    write_state(dir, state)?;
    prune(dir, state)
}

/// The best epoch's weights, when the run kept them.
pub fn best_weights(dir: &Path, state: &State) -> Option<PathBuf> {
    state.best_file.as_ref().map(|f| dir.join(f))
}

/// Removes every entry of `dir` that `state` does not reference (older epochs, old best files,
/// temporaries).
pub fn prune(dir: &Path, state: &State) -> Result<()> {
    let entries = fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let keep =
            name == STATE || name == state.dir || state.best_file.as_deref() == Some(name.as_str());
        if !keep {
            atomic::remove_any(&entry.path())?;
        }
    }
    Ok(())
}

/// Writes `model`'s weights with Burn's recorder.
pub fn save_weights(model: &Net, path: &Path) -> Result<()> {
    model
        .clone()
        .save_file(path)
        .map_err(|e| Error::train(path, format!("cannot save weights: {e}")))
}

/// Loads weights written by [`save_weights`] into `model`.
pub fn load_weights(model: Net, path: &Path) -> Result<Net> {
    model
        .try_load_file(path)
        .map_err(|e| Error::train(path, format!("cannot load weights: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(dir: &str, best: Option<&str>) -> State {
        State {
            epoch: 2,
            dir: dir.into(),
            best_file: best.map(str::to_string),
            ..State::new("f".into(), "flex".into())
        }
    }

    #[test]
    fn prune_keeps_only_what_state_names() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        for e in 1..=3 {
            atomic::write_dir(&d.join(epoch_dir_name(e)), |p| {
                fs::write(p.join(MODEL), [e as u8]).map_err(|e| Error::io(p, e))
            })
            .unwrap();
        }
        fs::write(d.join(best_file_name(1)), b"b1").unwrap();
        fs::write(d.join(best_file_name(2)), b"b2").unwrap();
        fs::create_dir_all(d.join(".epoch-0004.1-0.tmp")).unwrap();
        let s = state("epoch-0003", Some("best-0002.bpk"));
        write_state(d, &s).unwrap();
        prune(d, &s).unwrap();
        let mut names: Vec<String> = fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["best-0002.bpk", "epoch-0003", "state.json"]);
        assert_eq!(fs::read(d.join("epoch-0003").join(MODEL)).unwrap(), [3]);
        assert_eq!(read_state(d).unwrap().unwrap(), s);
    }

    #[test]
    fn missing_state_is_fresh_and_garbage_or_a_mismatch_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(read_state(tmp.path()).unwrap(), None);
        let fresh = start(tmp.path(), "abc", 5, "flex").unwrap();
        assert_eq!((fresh.epoch, fresh.fingerprint.as_str()), (0, "abc"));
        let mut s = fresh.clone();
        s.epoch = 3;
        write_state(tmp.path(), &s).unwrap();
        assert_eq!(start(tmp.path(), "abc", 5, "flex").unwrap(), s);
        let e = start(tmp.path(), "xyz", 5, "flex").unwrap_err().to_string();
        assert!(e.contains("another config or other data"), "{e}");
        let e = start(tmp.path(), "abc", 2, "flex").unwrap_err().to_string();
        assert!(e.contains("past train.epochs = 2"), "{e}");
        fs::write(tmp.path().join(STATE), "{").unwrap();
        let e = read_state(tmp.path()).unwrap_err().to_string();
        assert!(e.contains("damaged checkpoint: unreadable"), "{e}");
        // Damaged: a fresh start, the folder emptied.
        fs::write(tmp.path().join("stray"), "x").unwrap();
        assert_eq!(start(tmp.path(), "abc", 5, "flex").unwrap(), fresh);
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_changed_or_missing_file_is_damage_and_starts_over() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let mut s = state("epoch-0002", None);
        atomic::write_dir(&d.join("epoch-0002"), |p| {
            fs::write(p.join(MODEL), b"weights").map_err(|e| Error::io(p, e))?;
            fs::write(p.join(OPTIMIZER), b"moments").map_err(|e| Error::io(p, e))
        })
        .unwrap();
        s.checksums = checksums(d, &s, &BTreeMap::new()).unwrap();
        assert_eq!(s.checksums.len(), 2);
        write_state(d, &s).unwrap();
        assert!(verify(d, &s).is_ok());
        assert_eq!(start(d, "f", 5, "flex").unwrap(), s);
        // One bit flipped in the model: named, and the run starts over.
        fs::write(d.join("epoch-0002").join(MODEL), b"weightr").unwrap();
        let e = verify(d, &s).unwrap_err().to_string();
        assert!(
            e.contains("epoch-0002/model.bpk") && e.contains("damaged checkpoint"),
            "{e}"
        );
        let again = start(d, "f", 5, "flex").unwrap();
        assert_eq!(again.epoch, 0);
        assert!(!d.join("epoch-0002").exists());
    }

    #[test]
    fn early_stopping_follows_keras() {
        // patience 2: improves at 1, 2; worse at 3, 4 -> stop after 4 with best 2.
        let mut s = State::new(String::new(), "flex".into());
        let losses = [1.0, 0.9, 0.95, 0.9, 0.5];
        let mut stopped_at = None;
        for (i, &l) in losses.iter().enumerate() {
            s.track_best(i + 1, l, Some(2));
            if s.stopped_early {
                stopped_at = Some(i + 1);
                break;
            }
        }
        assert_eq!(stopped_at, Some(4));
        assert_eq!((s.best_epoch, s.best_val_loss), (2, Some(0.9)));
        // equal is not better (min_delta 0 means strictly lower)
        let mut s = State::new(String::new(), "flex".into());
        assert!(s.track_best(1, 0.5, None));
        assert!(!s.track_best(2, 0.5, None));
        assert!(!s.track_best(3, f64::NAN, None));
        assert_eq!((s.best_epoch, s.since_best, s.stopped_early), (1, 2, false));
    }

    #[test]
    fn macro_f1_monitor_picks_the_highest_and_the_earlier_of_a_tie() {
        let record = |epoch: usize, val_loss: f64, val_macro_f1: f64| EpochRecord {
            epoch,
            loss: 1.0,
            accuracy: 0.5,
            val_loss,
            val_accuracy: 0.5,
            seconds: 1.0,
            val_macro_f1,
            lr: 1e-3,
        };
        // Loss is best at epoch 2, F1 at epoch 3 (tied by epoch 5); patience 3 stops after 6.
        let history = [
            record(1, 1.0, 0.20),
            record(2, 0.5, 0.30),
            record(3, 0.7, 0.40),
            record(4, 0.6, f64::NAN),
            record(5, 0.8, 0.40),
            record(6, 0.9, 0.35),
            record(7, 0.4, 0.90),
        ];
        let run = |monitor| {
            let mut s = State::new(String::new(), "flex".into());
            for r in &history {
                s.track_monitored(monitor, r, Some(3));
                if s.stopped_early {
                    break;
                }
            }
            s
        };
        let f1 = run(Monitor::ValMacroF1);
        assert_eq!((f1.best_epoch, f1.best_val_f1), (3, Some(0.40)));
        assert!(f1.stopped_early && f1.since_best == 3);
        let loss = run(Monitor::ValLoss);
        assert_eq!((loss.best_epoch, loss.best_val_loss), (2, Some(0.5)));
        assert!(loss.stopped_early);
        // Stored and read back exactly (resume).
        let text = serde_json::to_string(&f1).unwrap();
        assert_eq!(serde_json::from_str::<State>(&text).unwrap(), f1);
    }
}
