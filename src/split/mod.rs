//! Dividing a corpus into train / validation / test parts, saving the division, and stating
//! what it shares between the parts.
//!
//! Protocols, all deterministic for a seed (ChaCha8 seeded with `split.seed`):
//!
//! - `random` ([`random`](mod@random)): the report's protocol, scikit-learn's
//!   `train_test_split(test_size = test, stratify = y)` and then the same on the training part
//!   with `test_size = valid`. Sizes and per-class allocations follow `StratifiedShuffleSplit`
//!   exactly, so the part sizes equal the report's; which clips land where differs, since NumPy's
//!   random generator is not reproduced. Every speaker and sentence is in every part.
//! - `speaker`: actor-disjoint parts: the sorted speakers are shuffled and cut into test,
//!   validation and training speakers — or, with `balance`, cut within each demographic group so
//!   every part gets its share of each; or taken from a fixed `assignment` (`"crema-d"`: the one
//!   shipped for CREMA-D's 91 actors, so everyone compares on the same speakers).
//! - `speaker-kfold`: the shuffled speakers are cut into `folds` folds; fold `fold` is the test
//!   part and validation speakers come from the other folds, as in `speaker`.
//! - `sentence`: text-independent parts: the sentences are shuffled and cut like speakers.
//! - `speaker+sentence`: both at once; a clip whose speaker and sentence fall in different parts
//!   is left out (and counted).
//!
//! [`Facts`] says, checked on the lists rather than claimed by the name: how many test speakers
//! and sentences also occur in training, the class counts per part, and a hash of the lists.

mod facts;
mod groups;
mod random;

pub use facts::{Facts, Overlap};

use std::path::{Path, PathBuf};

use crate::base::{atomic, Error, Result};
use crate::config::{SplitConfig, SplitKind};
use crate::corpus::Corpus;

/// Indices into `corpus.items`, each part sorted ascending; every item is in at most one part,
/// and in exactly one unless the protocol leaves it out (`speaker+sentence`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Split {
    /// Items to train on.
    pub train: Vec<usize>,
    /// Items for validation during training (may be empty when `split.valid` is 0).
    pub valid: Vec<usize>,
    /// Held-out items for the final evaluation.
    pub test: Vec<usize>,
    /// Items in no part: their speaker and sentence fall in different parts (`speaker+sentence`).
    pub left_out: Vec<usize>,
}

impl Split {
    /// The parts with the file names `write_lists` gives them.
    pub fn parts(&self) -> [(&'static str, &[usize]); 3] {
        [
            ("train", &self.train),
            ("valid", &self.valid),
            ("test", &self.test),
        ]
    }
}

/// Splits `corpus` as `cfg` says.
pub fn make_split(corpus: &Corpus, cfg: &SplitConfig) -> Result<Split> {
    if !(cfg.test > 0.0 && cfg.test < 1.0) {
        return Err(Error::Split(format!(
            "test fraction must be in (0, 1) (report: 0.30), got {}",
            cfg.test
        )));
    }
    if !(cfg.valid >= 0.0 && cfg.valid < 1.0) {
        return Err(Error::Split(format!(
            "validation fraction must be in [0, 1) (report: 0.05), got {}",
            cfg.valid
        )));
    }
    if corpus.items.is_empty() {
        return Err(Error::Split(format!(
            "the corpus at {} has no items",
            corpus.root.display()
        )));
    }
    match cfg.kind {
        SplitKind::Random => random::random(corpus, cfg),
        SplitKind::Speaker | SplitKind::SpeakerKfold => {
            let speakers = groups::speaker_parts(corpus, cfg)?;
            Ok(groups::assign(corpus, Some(&speakers), None))
        }
        SplitKind::Sentence => {
            let sentences = groups::sentence_parts(corpus, cfg)?;
            Ok(groups::assign(corpus, None, Some(&sentences)))
        }
        SplitKind::SpeakerSentence => {
            let speakers = groups::speaker_parts(corpus, cfg)?;
            let sentences = groups::sentence_parts(corpus, cfg)?;
            let split = groups::assign(corpus, Some(&speakers), Some(&sentences));
            if split.train.is_empty() || split.test.is_empty() {
                return Err(Error::Split(format!(
                    "speaker+sentence leaves {} training and {} test clips: the corpus needs \
                     clips of test speakers reading test sentences and of training speakers \
                     reading training sentences",
                    split.train.len(),
                    split.test.len()
                )));
            }
            Ok(split)
        }
    }
}

/// The list of part `part` (`train`, `valid`, `test`) in a folder of split lists.
pub fn list_file(dir: &Path, part: &str) -> PathBuf {
    dir.join(format!("{part}.txt"))
}

/// Writes `dir/train.txt`, `valid.txt` and `test.txt`: one `relative_path<TAB>class` line per
/// item, paths relative to the corpus root. Each file is written atomically, so a reader never
/// sees a half-written list.
pub fn write_lists(dir: &Path, corpus: &Corpus, split: &Split) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    for (name, indices) in split.parts() {
        let mut text = String::new();
        for &i in indices {
            let item = corpus.items.get(i).ok_or_else(|| {
                Error::Split(format!(
                    "{name} part names item {i}, but the corpus has {} items",
                    corpus.items.len()
                ))
            })?;
            let class = corpus.classes.get(item.label).ok_or_else(|| Error::Label {
                path: item.path.clone(),
                message: format!(
                    "label index {} is out of range for {} classes",
                    item.label,
                    corpus.classes.len()
                ),
            })?;
            let rel = corpus.relative_path(item);
            let rel = rel
                .to_str()
                .filter(|s| !s.contains(['\t', '\n', '\r']))
                .ok_or_else(|| Error::Corpus {
                    path: item.path.clone(),
                    message: "path is not UTF-8 or contains a tab or line break, so it cannot \
                              be written to a split list; rename the file"
                        .into(),
                })?;
            text.push_str(rel);
            text.push('\t');
            text.push_str(class);
            text.push('\n');
        }
        atomic::write(&list_file(dir, name), text.as_bytes())?;
    }
    Ok(())
}

/// A table of part sizes by class and the number of speakers in each part, then what the parts
/// share ([`Facts`]), for the terminal.
pub fn describe(corpus: &Corpus, split: &Split, cfg: &SplitConfig) -> String {
    let facts = Facts::of(corpus, split, cfg);
    let mut s = format!("{:<6} {:>6} {:>9}", "part", "clips", "speakers");
    for class in &corpus.classes {
        s += &format!(" {class:>5}");
    }
    s.push('\n');
    let speakers = [
        facts.speakers.train,
        facts.speakers.valid,
        facts.speakers.test,
    ];
    for ((name, part), n_speakers) in split.parts().into_iter().zip(speakers) {
        s += &format!("{name:<6} {:>6} {:>9}", part.len(), n_speakers);
        for c in &facts.class_counts[name] {
            s += &format!(" {c:>5}");
        }
        s.push('\n');
    }
    s += &format!("{}\n", facts.statement());
    s
}
