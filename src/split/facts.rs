//! [`Facts`]: what a split's parts share, checked on the lists themselves — speakers and sentences
//! of the test part also in training, class counts per part — and a hash of the lists, so a
//! result's protocol is stated from the data, not from the name of its split.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Split;
use crate::base::hash::hex_prefix;
use crate::config::{SplitConfig, SplitKind};
use crate::corpus::Corpus;

/// Groups (speakers or sentences) per part, and how many of the held-out parts' groups also
/// occur in training.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overlap {
    pub train: usize,
    pub valid: usize,
    pub test: usize,
    /// Test groups that also occur in the training part.
    pub test_in_train: usize,
    /// Validation groups that also occur in the training part.
    pub valid_in_train: usize,
}

/// A split's protocol and what its parts share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    /// The protocol as configured, e.g. `random (seed 0)` or `speaker (assignment crema-d)`.
    pub protocol: String,
    /// 16 hex digits of a SHA-256 over the three parts' clip lists (paths relative to the corpus
    /// root, part by part): equal hashes, equal splits.
    pub hash: String,
    /// Clips per part, and clips in no part.
    pub clips: BTreeMap<String, usize>,
    /// Speakers per part and their overlap with training.
    pub speakers: Overlap,
    /// Sentences per part and their overlap (`None` where clips have no sentence code).
    pub sentences: Option<Overlap>,
    /// Class names, in label order.
    pub classes: Vec<String>,
    /// Clips per class in each part.
    pub class_counts: BTreeMap<String, Vec<usize>>,
}

impl Facts {
    /// The facts of `split` of `corpus`, made as `cfg` says.
    pub fn of(corpus: &Corpus, split: &Split, cfg: &SplitConfig) -> Facts {
        let groups = |key: &dyn Fn(usize) -> Option<String>| -> Option<Overlap> {
            let set = |part: &[usize]| -> Option<BTreeSet<String>> {
                part.iter().map(|&i| key(i)).collect()
            };
            let (train, valid, test) = (set(&split.train)?, set(&split.valid)?, set(&split.test)?);
            Some(Overlap {
                train: train.len(),
                valid: valid.len(),
                test: test.len(),
                test_in_train: test.intersection(&train).count(),
                valid_in_train: valid.intersection(&train).count(),
            })
        };
        let speakers = groups(&|i| Some(corpus.items[i].speaker.clone())).unwrap_or_default();
        let sentences = groups(&|i| corpus.items[i].sentence.clone());
        let mut class_counts = BTreeMap::new();
        let mut clips = BTreeMap::new();
        let mut h = Sha256::new();
        for (name, part) in split.parts() {
            let mut counts = vec![0; corpus.classes.len()];
            h.update(format!("{name}\n"));
            for &i in part {
                let item = &corpus.items[i];
                if let Some(c) = counts.get_mut(item.label) {
                    *c += 1;
                }
                h.update(format!(
                    "{}\t{}\n",
                    corpus.relative_path(item).display(),
                    item.label
                ));
            }
            class_counts.insert(name.to_string(), counts);
            clips.insert(name.to_string(), part.len());
        }
        clips.insert("left_out".to_string(), split.left_out.len());
        Facts {
            protocol: protocol(cfg),
            hash: hex_prefix(&h.finalize(), 8),
            clips,
            speakers,
            sentences,
            classes: corpus.classes.clone(),
            class_counts,
        }
    }

    /// One line for people: `random (seed 0): 91 of 91 test speakers also in training; 12 of 12
    /// test sentences also in training; split 3f0c...`.
    pub fn statement(&self) -> String {
        let mut parts = vec![format!(
            "{} of {} test speakers also in training",
            self.speakers.test_in_train, self.speakers.test
        )];
        if let Some(s) = &self.sentences {
            parts.push(format!(
                "{} of {} test sentences also in training",
                s.test_in_train, s.test
            ));
        }
        let left_out = self.clips.get("left_out").copied().unwrap_or(0);
        if left_out > 0 {
            parts.push(format!("{left_out} clips in no part"));
        }
        format!(
            "{}: {}; split {}",
            self.protocol,
            parts.join("; "),
            self.hash
        )
    }
}

/// The protocol as configured, with what chose its parts.
fn protocol(cfg: &SplitConfig) -> String {
    let what = match (cfg.kind, &cfg.assignment) {
        (_, Some(a)) => format!("assignment {a}"),
        (SplitKind::SpeakerKfold, None) => {
            format!("fold {} of {}, seed {}", cfg.fold, cfg.folds, cfg.seed)
        }
        _ => format!("seed {}", cfg.seed),
    };
    let balance = if cfg.balance.is_empty() {
        String::new()
    } else {
        format!(", balanced by {}", cfg.balance.join(" and "))
    };
    format!("{} ({what}{balance})", cfg.kind.name())
}
