//! Dividing a corpus into train / validation / test parts, and saving the division.
//!
//! Three protocols, all deterministic for a seed (ChaCha8 seeded with `split.seed`):
//!
//! - `random`: the report's protocol, scikit-learn's `train_test_split(test_size = test,
//!   stratify = y)` and then the same on the training part with `test_size = valid`. Sizes and
//!   per-class allocations follow `StratifiedShuffleSplit` exactly (`n_test = ceil(test · n)`,
//!   `_approximate_mode` for the per-class counts), so the part sizes equal the report's; which
//!   clips land where differs, since NumPy's random generator is not reproduced.
//! - `speaker`: actor-disjoint parts: the sorted speakers are shuffled and cut into test,
//!   validation and training speakers.
//! - `speaker-kfold`: the shuffled speakers are cut into `folds` folds; fold `fold` is the test
//!   part and validation speakers come from the other folds, as in `speaker`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use rand::seq::{index, SliceRandom};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::base::{atomic, Error, Result};
use crate::config::{SplitConfig, SplitKind};
use crate::corpus::Corpus;

/// Indices into `corpus.items`, each part sorted ascending; every item is in exactly one part.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Split {
    /// Items to train on.
    pub train: Vec<usize>,
    /// Items for validation during training (may be empty when `split.valid` is 0).
    pub valid: Vec<usize>,
    /// Held-out items for the final evaluation.
    pub test: Vec<usize>,
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
        SplitKind::Random => random(corpus, cfg),
        SplitKind::Speaker => {
            let speakers = shuffled_speakers(corpus, cfg.seed);
            let n_test = ((cfg.test * speakers.len() as f64).round() as usize).max(1);
            let n_valid = valid_speakers(cfg.valid, speakers.len().saturating_sub(n_test));
            check_speaker_counts(corpus, &speakers, n_test, n_valid, "speaker split")?;
            let (test, rest) = speakers.split_at(n_test);
            let (valid, train) = rest.split_at(n_valid);
            Ok(assign(corpus, train, valid, test))
        }
        SplitKind::SpeakerKfold => {
            let speakers = shuffled_speakers(corpus, cfg.seed);
            let n = speakers.len();
            if cfg.folds < 2 || cfg.fold >= cfg.folds {
                return Err(Error::Split(format!(
                    "need folds >= 2 and 0 <= fold < folds; got folds {}, fold {}",
                    cfg.folds, cfg.fold
                )));
            }
            if cfg.folds > n {
                return Err(Error::Split(format!(
                    "{} folds need at least {} speakers, but the corpus has {n}{}",
                    cfg.folds,
                    cfg.folds,
                    unknown_hint(corpus)
                )));
            }
            // Like numpy.array_split: the first `n % folds` folds get one speaker more.
            let (base, extra) = (n / cfg.folds, n % cfg.folds);
            let start = cfg.fold * base + cfg.fold.min(extra);
            let end = start + base + usize::from(cfg.fold < extra);
            let test = &speakers[start..end];
            let rest: Vec<&str> = speakers[..start]
                .iter()
                .chain(&speakers[end..])
                .copied()
                .collect();
            let n_valid = valid_speakers(cfg.valid, rest.len());
            check_speaker_counts(
                corpus,
                &speakers,
                test.len(),
                n_valid,
                "speaker k-fold split",
            )?;
            let (valid, train) = rest.split_at(n_valid);
            Ok(assign(corpus, train, valid, test))
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

/// The report's protocol: a stratified test split, then a stratified validation split of the
/// rest. Each stage starts a fresh generator from the same seed, as the report passed the same
/// `random_state` to both `train_test_split` calls.
fn random(corpus: &Corpus, cfg: &SplitConfig) -> Result<Split> {
    let labels: Vec<usize> = corpus.items.iter().map(|i| i.label).collect();
    let all: Vec<usize> = (0..labels.len()).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let (rest, test) = stratified(&all, &labels, &corpus.classes, cfg.test, &mut rng, "test")?;
    let (train, valid) = if cfg.valid > 0.0 {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        stratified(
            &rest,
            &labels,
            &corpus.classes,
            cfg.valid,
            &mut rng,
            "validation",
        )?
    } else {
        (rest, Vec::new())
    };
    Ok(Split { train, valid, test })
}

/// scikit-learn's `StratifiedShuffleSplit` with one split: returns `(train, test)` subsets of
/// `indices`, both sorted. `classes` and `part` name the classes and the held-out part in errors.
fn stratified(
    indices: &[usize],
    labels: &[usize],
    classes: &[String],
    test_size: f64,
    rng: &mut ChaCha8Rng,
    part: &str,
) -> Result<(Vec<usize>, Vec<usize>)> {
    let n = indices.len();
    // sklearn's _validate_shuffle_split: the held-out count rounds up.
    let n_test = ((test_size * n as f64).ceil() as usize).min(n);
    let n_train = n - n_test;
    if n_train == 0 || n_test == 0 {
        return Err(Error::Split(format!(
            "a {part} fraction of {test_size} of {n} items leaves an empty part; \
             use a fraction that leaves items on both sides"
        )));
    }
    let mut by_class: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &i in indices {
        by_class.entry(labels[i]).or_default().push(i);
    }
    let counts: Vec<usize> = by_class.values().map(Vec::len).collect();
    if let Some((label, members)) = by_class.iter().find(|(_, m)| m.len() < 2) {
        let name = classes.get(*label).map_or("?", String::as_str);
        return Err(Error::Split(format!(
            "class {name} has only {} item(s) before the {part} split; a stratified split \
             needs at least 2 per class",
            members.len()
        )));
    }
    let k = counts.len();
    if n_train < k || n_test < k {
        return Err(Error::Split(format!(
            "the {part} split of {n} items gives {n_train} and {n_test} items, but stratifying \
             {k} classes needs at least {k} on each side; use a larger fraction or more data"
        )));
    }
    let n_i = approximate_mode(&counts, n_train, rng);
    let (mut train, mut test) = (Vec::with_capacity(n_train), Vec::with_capacity(n_test));
    for (members, &take) in by_class.into_values().zip(&n_i) {
        let mut members = members;
        members.shuffle(rng);
        // sklearn draws t_i = approximate_mode(counts - n_i, n_test), which is counts - n_i
        // itself because those sum to n_test: every remaining item goes to the held-out part.
        let (a, b) = members.split_at(take);
        train.extend_from_slice(a);
        test.extend_from_slice(b);
    }
    train.sort_unstable();
    test.sort_unstable();
    Ok((train, test))
}

/// scikit-learn's `_approximate_mode`: the most likely per-class counts of `n_draws` draws
/// without replacement from classes of sizes `counts` — floors of the proportional shares, the
/// leftover going to the largest remainders, ties among equal remainders broken at random.
fn approximate_mode(counts: &[usize], n_draws: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let total: usize = counts.iter().sum();
    if total == 0 {
        return vec![0; counts.len()];
    }
    let continuous: Vec<f64> = counts
        .iter()
        .map(|&c| c as f64 / total as f64 * n_draws as f64)
        .collect();
    let mut floored: Vec<usize> = continuous.iter().map(|c| c.floor() as usize).collect();
    let mut need = n_draws.saturating_sub(floored.iter().sum());
    if need > 0 {
        let remainder: Vec<f64> = continuous
            .iter()
            .zip(&floored)
            .map(|(c, f)| c - *f as f64)
            .collect();
        let mut values = remainder.clone();
        values.sort_by(|a, b| b.total_cmp(a));
        values.dedup();
        for value in values {
            let inds: Vec<usize> = (0..remainder.len())
                .filter(|&i| remainder[i] == value)
                .collect();
            let add_now = inds.len().min(need);
            for j in index::sample(rng, inds.len(), add_now) {
                floored[inds[j]] += 1;
            }
            need -= add_now;
            if need == 0 {
                break;
            }
        }
    }
    // Float rounding cannot push a share past its class size in practice; clamp to be sure.
    for (f, &c) in floored.iter_mut().zip(counts) {
        *f = (*f).min(c);
    }
    floored
}

/// Validation speakers for `remaining` non-test speakers: `round(valid · remaining)`, at least 1
/// when `valid > 0`.
fn valid_speakers(valid: f64, remaining: usize) -> usize {
    if valid > 0.0 {
        ((valid * remaining as f64).round() as usize).max(1)
    } else {
        0
    }
}

fn check_speaker_counts(
    corpus: &Corpus,
    speakers: &[&str],
    n_test: usize,
    n_valid: usize,
    what: &str,
) -> Result<()> {
    let needed = n_test + n_valid + 1;
    if speakers.len() < needed {
        return Err(Error::Split(format!(
            "the corpus has {} speaker(s), but this {what} needs at least {needed}: {n_test} \
             test, {n_valid} validation and 1 training{}",
            speakers.len(),
            unknown_hint(corpus)
        )));
    }
    Ok(())
}

/// A hint for CSV manifests without a speaker column, whose clips all share one speaker.
fn unknown_hint(corpus: &Corpus) -> &'static str {
    if corpus.speakers() == [crate::corpus::csv::UNKNOWN_SPEAKER] {
        " (the manifest has no speaker column; add `path,label,speaker` rows)"
    } else {
        ""
    }
}

/// The corpus's distinct speakers, sorted and then shuffled by `seed`.
fn shuffled_speakers(corpus: &Corpus, seed: u64) -> Vec<&str> {
    let mut speakers = corpus.speakers();
    speakers.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    speakers
}

/// Puts every item in the part its speaker belongs to.
fn assign(corpus: &Corpus, train: &[&str], valid: &[&str], test: &[&str]) -> Split {
    #[derive(Clone, Copy)]
    enum Part {
        Train,
        Valid,
        Test,
    }
    let mut part_of: HashMap<&str, Part> = HashMap::new();
    for (speakers, part) in [
        (train, Part::Train),
        (valid, Part::Valid),
        (test, Part::Test),
    ] {
        for s in speakers {
            part_of.insert(s, part);
        }
    }
    let mut split = Split::default();
    for (i, item) in corpus.items.iter().enumerate() {
        // Every speaker is in exactly one of the three lists.
        match part_of
            .get(item.speaker.as_str())
            .copied()
            .unwrap_or(Part::Train)
        {
            Part::Train => split.train.push(i),
            Part::Valid => split.valid.push(i),
            Part::Test => split.test.push(i),
        }
    }
    split
}

/// A table of part sizes by class and the number of speakers in each part, for the terminal.
pub fn describe(corpus: &Corpus, split: &Split) -> String {
    let mut s = format!("{:<6} {:>6} {:>9}", "part", "clips", "speakers");
    for class in &corpus.classes {
        s += &format!(" {class:>5}");
    }
    s.push('\n');
    for (name, part) in split.parts() {
        let mut counts = vec![0usize; corpus.classes.len()];
        let mut speakers: Vec<&str> = Vec::new();
        for &i in part {
            let item = &corpus.items[i];
            counts[item.label] += 1;
            speakers.push(&item.speaker);
        }
        speakers.sort_unstable();
        speakers.dedup();
        s += &format!("{name:<6} {:>6} {:>9}", part.len(), speakers.len());
        for c in counts {
            s += &format!(" {c:>5}");
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approximate_mode_matches_sklearn_on_crema_d() {
        // sklearn: _approximate_mode([1271]*5 + [1087] in label order, 5209): NEU's remainder
        // (0.85) is largest, then three of the five equal 0.63 remainders get one more.
        let counts = [1271, 1271, 1271, 1271, 1087, 1271];
        for seed in 0..20 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let n = approximate_mode(&counts, 5209, &mut rng);
            assert_eq!(n.iter().sum::<usize>(), 5209);
            assert_eq!(n[4], 761);
            assert_eq!(n.iter().filter(|&&c| c == 890).count(), 3);
            assert_eq!(n.iter().filter(|&&c| c == 889).count(), 2);
        }
    }

    #[test]
    fn approximate_mode_exact_shares() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert_eq!(approximate_mode(&[10, 20, 30], 6, &mut rng), [1, 2, 3]);
        assert_eq!(approximate_mode(&[3, 3], 6, &mut rng), [3, 3]);
    }
}
