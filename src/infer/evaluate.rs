//! Using a finished run: re-evaluation of its saved model (on its own test split, or on every
//! clip of another corpus with the same emotions) and prediction for arbitrary audio files.
//!
//! Audio of any rate, length or channel count goes through the same loader as training (decode
//! → mono → resample → pad/truncate), so a prediction sees exactly the input a training clip did.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;

use super::Trained;
use crate::base::device::{self, BackendKind};
use crate::base::{Error, Result};
use crate::cache::{self, CacheOptions};
use crate::config::{CorpusKind, CorpusSpec};
use crate::corpus::{self, Corpus};
use crate::eval::{self, Metrics, PredictionRow, Predictions};
use crate::features::batch as extract;
use crate::rundir::RunDir;
use crate::split;
use crate::train::Examples;

/// What to evaluate a saved model on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvalTarget {
    /// The run's own test part (`split/test.txt`).
    TestSplit,
    /// Every clip of another corpus whose classes the model knows.
    Corpus { kind: CorpusKind, path: PathBuf },
}

impl EvalTarget {
    /// Parses `KIND:DIR` (e.g. `emodb:data/emodb/wav`).
    pub fn parse_corpus(spec: &str) -> Result<Self> {
        let c: CorpusSpec = spec
            .parse()
            .map_err(|e: Error| Error::Usage(format!("--corpus {e}")))?;
        Ok(Self::Corpus {
            kind: c.kind,
            path: c.path,
        })
    }

    /// The name of the eval directory this target gets under `RUN_DIR/eval/`.
    pub fn dir_name(&self) -> String {
        match self {
            EvalTarget::TestSplit => "test".into(),
            EvalTarget::Corpus { kind, path } => CorpusSpec {
                kind: *kind,
                path: path.clone(),
            }
            .name(),
        }
    }
}

/// How to evaluate (nothing here changes the result).
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Feature cache root and `--skip-bad` (unreadable clips listed in the log, not fatal).
    pub cache: CacheOptions,
    /// Where to write (default `RUN_DIR/eval/<target>`).
    pub out: Option<PathBuf>,
    /// Backend and device to run the model on.
    pub backend: BackendKind,
    pub device: usize,
}

/// What [`evaluate_run`] produced.
#[derive(Debug)]
pub struct EvalSummary {
    /// The eval directory written.
    pub dir: PathBuf,
    pub metrics: Metrics,
    /// Clips of the corpus left out because the model does not know their class.
    pub unknown_class: usize,
}

/// Re-evaluates the saved model of `run_dir` on `target`, writing `report.txt`,
/// `confusion.csv`, `confusion_normalized.csv`, `predictions.csv` and last `metrics.json` into a
/// new eval directory.
pub fn evaluate_run(
    run_dir: &Path,
    target: &EvalTarget,
    opts: &EvalOptions,
) -> Result<EvalSummary> {
    let run = RunDir::new(run_dir);
    let config = run.read_config()?;
    let trained = Trained::load(&run, opts.backend, opts.device)?;
    let classes = trained.config.classes.clone();

    let mut data = config.data.clone();
    if let EvalTarget::Corpus { kind, path } = target {
        data.corpus = *kind;
        data.path = path.clone();
    }
    let corpus = corpus::open(&data)?;
    let table = cache::features_for(&corpus, &config.audio, &config.features, &opts.cache)?;
    // Row of each corpus item in the feature table (items skipped as unreadable have none).
    let row_of: HashMap<usize, usize> = table
        .items
        .iter()
        .enumerate()
        .map(|(row, &item)| (item, row))
        .collect();

    // Corpus class index → model class index, by name.
    let to_model: Vec<Option<usize>> = corpus
        .classes
        .iter()
        .map(|c| classes.iter().position(|m| m == c))
        .collect();

    let (items, unknown_class) = match target {
        EvalTarget::TestSplit => (test_items(&run, &corpus)?, 0),
        EvalTarget::Corpus { path, .. } => known_items(path, &corpus, &to_model, &classes)?,
    };

    let mut x = Vec::with_capacity(items.len() * table.row_len());
    let mut y = Vec::with_capacity(items.len());
    let mut used = Vec::with_capacity(items.len());
    for &i in &items {
        let Some(&row) = row_of.get(&i) else {
            continue; // unreadable with --skip-bad: already reported by the cache
        };
        let Some(label) = to_model[corpus.items[i].label] else {
            continue;
        };
        x.extend_from_slice(table.row(row));
        y.push(label);
        used.push(i);
    }
    let examples = Examples::new(table.shape.clone(), x, y)?;
    let probabilities = trained.predict(&examples, trained.batch_size)?;
    let predicted = eval::argmax_rows(&probabilities);
    let metrics = eval::evaluate(&examples.labels, &predicted, &classes)?;

    let out = match &opts.out {
        Some(dir) => RunDir::new(dir),
        None => run.eval_dir(&target.dir_name()),
    };
    // A previous eval here is replaced; drop its marker first so a crash never leaves the old
    // metrics beside new files.
    out.remove_metrics()?;
    let predictions = predictions_of(&corpus, &classes, &used, &probabilities, &predicted);
    let source = match target {
        EvalTarget::TestSplit => json!({"test_split": split::list_file(&run.split_dir(), "test")}),
        EvalTarget::Corpus { kind, path } => json!({"corpus": kind.name(), "path": path}),
    };
    let extra = json!({
        "run_dir": run_dir,
        "evaluated_on": source,
        "unknown_class_clips": unknown_class,
        "skipped_files": table.skipped.len(),
        "backend": device::label(opts.backend, opts.device),
    });
    out.write_predictions(&predictions)?;
    out.write_metrics(&metrics, extra)?;
    let dir = out.path().to_path_buf();
    Ok(EvalSummary {
        dir,
        metrics,
        unknown_class,
    })
}

/// Every item of the corpus at `path` whose class the model knows (`to_model`: corpus class →
/// model class), and how many were left out; an error when the model knows none of its classes.
fn known_items(
    path: &Path,
    corpus: &Corpus,
    to_model: &[Option<usize>],
    classes: &[String],
) -> Result<(Vec<usize>, usize)> {
    let known: Vec<usize> = (0..corpus.items.len())
        .filter(|&i| to_model[corpus.items[i].label].is_some())
        .collect();
    if known.is_empty() {
        return Err(Error::Corpus {
            path: path.to_path_buf(),
            message: format!(
                "none of its classes ({}) is one the model was trained on ({})",
                corpus.classes.join(", "),
                classes.join(", ")
            ),
        });
    }
    let unknown = corpus.items.len() - known.len();
    if unknown > 0 {
        tracing::warn!(
            "{}: left out {unknown} clips of classes the model does not know",
            path.display()
        );
    }
    Ok((known, unknown))
}

/// The predictions of `items` (corpus indices, in the order of `probabilities` and
/// `predicted`): per item its path relative to the corpus, true and predicted class, speaker and
/// the probability of each of the model's `classes`. `job::run` writes the same for a run's own
/// test part, so `ser eval` and a run agree on the format.
pub fn predictions_of(
    corpus: &Corpus,
    classes: &[String],
    items: &[usize],
    probabilities: &[Vec<f32>],
    predicted: &[usize],
) -> Predictions {
    let rows = items
        .iter()
        .zip(probabilities)
        .zip(predicted)
        .map(|((&i, probs), &p)| {
            let item = &corpus.items[i];
            PredictionRow {
                path: corpus.relative_path(item).display().to_string(),
                truth: corpus.classes[item.label].clone(),
                predicted: classes[p].clone(),
                speaker: item.speaker.clone(),
                probabilities: probs.clone(),
            }
        })
        .collect();
    Predictions {
        classes: classes.to_vec(),
        rows,
    }
}

/// The corpus items named by the run's test list, in its order.
fn test_items(run: &RunDir, corpus: &Corpus) -> Result<Vec<usize>> {
    let list = split::list_file(&run.split_dir(), "test");
    let text = std::fs::read_to_string(&list).map_err(|e| Error::io(&list, e))?;
    let by_path: HashMap<&Path, usize> = corpus
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| (corpus.relative_path(item), i))
        .collect();
    let mut items = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.is_empty()) {
        let (rel, class) = line.split_once('\t').unwrap_or((line, ""));
        let &i = by_path.get(Path::new(rel)).ok_or_else(|| Error::Corpus {
            path: list.clone(),
            message: format!(
                "line {}: {rel} is not in the corpus at {} any more; restore it, or evaluate on \
                 a whole corpus with --corpus KIND:DIR",
                n + 1,
                corpus.root.display()
            ),
        })?;
        if !class.is_empty() && corpus.classes[corpus.items[i].label] != class {
            return Err(Error::Corpus {
                path: list.clone(),
                message: format!(
                    "line {}: {rel} was labelled {class} in training but is {} now",
                    n + 1,
                    corpus.classes[corpus.items[i].label]
                ),
            });
        }
        items.push(i);
    }
    Ok(items)
}

/// One file's prediction.
#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    pub path: PathBuf,
    /// The most probable class (`None`: abstained, `ser predict --min-confidence`).
    pub emotion: Option<String>,
    /// Probability per class, in `classes` order.
    pub probabilities: Vec<f32>,
}

/// Predicts the emotion of each of `files` with the model of `run_dir`; returns the class names
/// (in probability order) and one prediction per file, in order. Fails on the first file that
/// cannot be decoded, naming it.
pub fn predict_files(
    run_dir: &Path,
    files: &[PathBuf],
    backend: BackendKind,
    device: usize,
) -> Result<(Vec<String>, Vec<Prediction>)> {
    let run = RunDir::new(run_dir);
    let config = run.read_config()?;
    let trained = Trained::load(&run, backend, device)?;
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let extracted =
        extract::model_inputs(&paths, &config.audio, &config.features, None, "features")?;
    let mut data = Vec::with_capacity(files.len() * extracted.row_len);
    for (path, row) in files.iter().zip(extracted.rows) {
        match row {
            Ok(r) => data.extend(r),
            Err(e) => {
                return Err(Error::decode(
                    path,
                    format!("cannot be read ({e}); nothing was predicted"),
                ))
            }
        }
    }
    let x = Examples::unlabelled(extracted.shape, data)?;
    let probabilities = trained.predict(&x, trained.batch_size)?;
    let classes = trained.config.classes.clone();
    let predictions = files
        .iter()
        .zip(probabilities)
        .map(|(path, probabilities)| {
            let best = eval::argmax_rows(std::slice::from_ref(&probabilities))[0];
            Prediction {
                path: path.clone(),
                emotion: Some(classes[best].clone()),
                probabilities,
            }
        })
        .collect();
    Ok((classes, predictions))
}
