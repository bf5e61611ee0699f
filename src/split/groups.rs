//! Splits along groups of clips — speakers, sentences — instead of single clips: the groups are
//! cut into test, validation and training groups, and a clip goes where its groups go.

use std::collections::{BTreeMap, HashMap};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::Split;
use crate::base::csv::parse_record;
use crate::base::{Error, Result};
use crate::config::{SplitConfig, SplitKind};
use crate::corpus::{crema_d, Corpus};

/// The groups (speaker or sentence ids) of each part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Parts<'a> {
    pub train: Vec<&'a str>,
    pub valid: Vec<&'a str>,
    pub test: Vec<&'a str>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Train,
    Valid,
    Test,
}

impl Parts<'_> {
    fn part_of(&self) -> HashMap<&str, Part> {
        let mut out = HashMap::new();
        for (groups, part) in [
            (&self.train, Part::Train),
            (&self.valid, Part::Valid),
            (&self.test, Part::Test),
        ] {
            for g in groups {
                out.insert(*g, part);
            }
        }
        out
    }
}

/// The speakers of each part: a fixed assignment, the folds of `speaker-kfold`, or a seeded cut
/// (within each demographic group with `balance`).
pub(super) fn speaker_parts<'a>(corpus: &'a Corpus, cfg: &SplitConfig) -> Result<Parts<'a>> {
    let speakers = corpus.speakers();
    if let Some(name) = &cfg.assignment {
        return assigned(speakers, name);
    }
    let strata = strata(corpus, &cfg.balance)?;
    if cfg.kind == SplitKind::SpeakerKfold {
        return kfold(corpus, speakers, cfg, &strata);
    }
    let n_test = ((cfg.test * speakers.len() as f64).round() as usize).max(1);
    let n_valid = valid_count(cfg.valid, speakers.len().saturating_sub(n_test));
    check_counts(corpus, speakers.len(), n_test, n_valid, "speaker split")?;
    if strata.is_empty() {
        let mut order = speakers;
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(cfg.seed));
        return Ok(cut(&order, n_test, n_valid));
    }
    Ok(balanced(speakers, &strata, n_test, n_valid, cfg.seed))
}

/// The sentences of each part, cut like speakers from their own stream of the seed.
pub(super) fn sentence_parts<'a>(corpus: &'a Corpus, cfg: &SplitConfig) -> Result<Parts<'a>> {
    let mut sentences: Vec<&str> = Vec::with_capacity(corpus.items.len());
    for item in &corpus.items {
        let s = item.sentence.as_deref().ok_or_else(|| {
            Error::Split(format!(
                "{}: no sentence code, so the corpus cannot be split by sentence (CREMA-D and \
                 EmoDB have them; a CSV manifest does not)",
                item.path.display()
            ))
        })?;
        sentences.push(s);
    }
    sentences.sort_unstable();
    sentences.dedup();
    let n_test = ((cfg.test * sentences.len() as f64).round() as usize).max(1);
    let n_valid = valid_count(cfg.valid, sentences.len().saturating_sub(n_test));
    if sentences.len() < n_test + n_valid + 1 {
        return Err(Error::Split(format!(
            "the corpus has {} sentence(s), but a sentence split needs at least {}: {n_test} \
             test, {n_valid} validation and 1 training",
            sentences.len(),
            n_test + n_valid + 1
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    // Stream 1: the sentences' draw does not move with the speakers' (stream 0).
    rng.set_stream(1);
    sentences.shuffle(&mut rng);
    Ok(cut(&sentences, n_test, n_valid))
}

/// Puts every item in the part its speaker (and/or sentence) belongs to; with both, an item
/// whose two groups are in different parts is left out.
pub(super) fn assign(
    corpus: &Corpus,
    speakers: Option<&Parts>,
    sentences: Option<&Parts>,
) -> Split {
    let by_speaker = speakers.map(Parts::part_of);
    let by_sentence = sentences.map(Parts::part_of);
    let mut split = Split::default();
    for (i, item) in corpus.items.iter().enumerate() {
        // Every group is in exactly one part (the cuts cover them all).
        let a = by_speaker
            .as_ref()
            .map(|m| m.get(item.speaker.as_str()).copied().unwrap_or(Part::Train));
        let b = by_sentence.as_ref().map(|m| {
            let s = item.sentence.as_deref().unwrap_or("");
            m.get(s).copied().unwrap_or(Part::Train)
        });
        let part = match (a, b) {
            (Some(a), Some(b)) if a != b => None,
            (Some(p), _) | (None, Some(p)) => Some(p),
            (None, None) => Some(Part::Train),
        };
        match part {
            Some(Part::Train) => split.train.push(i),
            Some(Part::Valid) => split.valid.push(i),
            Some(Part::Test) => split.test.push(i),
            None => split.left_out.push(i),
        }
    }
    split
}

/// `order` cut into `n_test` test, `n_valid` validation and the rest training groups.
fn cut<'a>(order: &[&'a str], n_test: usize, n_valid: usize) -> Parts<'a> {
    let (test, rest) = order.split_at(n_test);
    let (valid, train) = rest.split_at(n_valid);
    Parts {
        train: train.to_vec(),
        valid: valid.to_vec(),
        test: test.to_vec(),
    }
}

/// Validation groups for `remaining` non-test groups: `round(valid · remaining)`, at least 1
/// when `valid > 0`.
fn valid_count(valid: f64, remaining: usize) -> usize {
    if valid > 0.0 {
        ((valid * remaining as f64).round() as usize).max(1)
    } else {
        0
    }
}

fn check_counts(
    corpus: &Corpus,
    speakers: usize,
    n_test: usize,
    n_valid: usize,
    what: &str,
) -> Result<()> {
    let needed = n_test + n_valid + 1;
    if speakers < needed {
        return Err(Error::Split(format!(
            "the corpus has {speakers} speaker(s), but this {what} needs at least {needed}: \
             {n_test} test, {n_valid} validation and 1 training{}",
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

/// Each speaker's demographic group for `balance` (empty without one): the attributes' values
/// joined, e.g. `Female/20-29`.
fn strata(corpus: &Corpus, balance: &[String]) -> Result<BTreeMap<String, String>> {
    if balance.is_empty() {
        return Ok(BTreeMap::new());
    }
    let mut out = BTreeMap::new();
    for speaker in corpus.speakers() {
        let actor = corpus.demographics.get(speaker).ok_or_else(|| {
            Error::Split(format!(
                "split.balance needs the speakers' demographics, and speaker {speaker} has none \
                 (CREMA-D's actors have them); leave split.balance out"
            ))
        })?;
        let key: Vec<String> = balance
            .iter()
            .map(|a| actor.attribute(a).unwrap_or_default())
            .collect();
        out.insert(speaker.to_string(), key.join("/"));
    }
    Ok(out)
}

/// A seeded cut with every demographic group getting its share of each part: within each group
/// (shuffled by the seed, groups in sorted order) the first speakers go to test, the next to
/// validation; how many each group gives is its proportional share of `n_test` and `n_valid`,
/// the leftover going to the largest remainders.
fn balanced<'a>(
    speakers: Vec<&'a str>,
    strata: &BTreeMap<String, String>,
    n_test: usize,
    n_valid: usize,
    seed: u64,
) -> Parts<'a> {
    let mut groups: BTreeMap<&str, Vec<&'a str>> = BTreeMap::new();
    for s in speakers {
        groups.entry(strata[s].as_str()).or_default().push(s);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for members in groups.values_mut() {
        members.shuffle(&mut rng);
    }
    let sizes: Vec<usize> = groups.values().map(Vec::len).collect();
    let tests = shares(&sizes, n_test);
    let rest: Vec<usize> = sizes.iter().zip(&tests).map(|(s, t)| s - t).collect();
    let valids = shares(&rest, n_valid);
    let mut parts = Parts::default();
    for ((members, t), v) in groups.values().zip(tests).zip(valids) {
        let p = cut(members, t, v);
        parts.test.extend(p.test);
        parts.valid.extend(p.valid);
        parts.train.extend(p.train);
    }
    parts
}

/// `total` spread over groups of `sizes` in proportion (largest remainders; ties to the larger
/// group, then the first), never more than a group has.
fn shares(sizes: &[usize], total: usize) -> Vec<usize> {
    let sum: usize = sizes.iter().sum();
    if sum == 0 {
        return vec![0; sizes.len()];
    }
    let total = total.min(sum);
    let exact: Vec<f64> = sizes
        .iter()
        .map(|&s| s as f64 * total as f64 / sum as f64)
        .collect();
    let mut out: Vec<usize> = exact
        .iter()
        .zip(sizes)
        .map(|(e, &s)| (e.floor() as usize).min(s))
        .collect();
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by(|&a, &b| {
        let ra = exact[a] - out[a] as f64;
        let rb = exact[b] - out[b] as f64;
        rb.total_cmp(&ra)
            .then(sizes[b].cmp(&sizes[a]))
            .then(a.cmp(&b))
    });
    let mut left = total.saturating_sub(out.iter().sum());
    while left > 0 {
        let before = left;
        for &i in &order {
            if left > 0 && out[i] < sizes[i] {
                out[i] += 1;
                left -= 1;
            }
        }
        if left == before {
            break;
        }
    }
    out
}

/// `speaker-kfold`: fold `fold` of the shuffled speakers is the test part (like
/// `numpy.array_split`: the first `n % folds` folds get one speaker more); with `balance` the
/// speakers are dealt into folds group by group, so every fold gets its share of each group.
fn kfold<'a>(
    corpus: &Corpus,
    mut speakers: Vec<&'a str>,
    cfg: &SplitConfig,
    strata: &BTreeMap<String, String>,
) -> Result<Parts<'a>> {
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
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let (test, rest): (Vec<&str>, Vec<&str>) = if strata.is_empty() {
        speakers.shuffle(&mut rng);
        let (base, extra) = (n / cfg.folds, n % cfg.folds);
        let start = cfg.fold * base + cfg.fold.min(extra);
        let end = start + base + usize::from(cfg.fold < extra);
        let rest = speakers[..start]
            .iter()
            .chain(&speakers[end..])
            .copied()
            .collect();
        (speakers[start..end].to_vec(), rest)
    } else {
        // Group by group, shuffled, dealt round-robin: speaker k of the whole order goes to
        // fold k % folds.
        let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for s in &speakers {
            groups.entry(strata[*s].as_str()).or_default().push(s);
        }
        let (mut test, mut rest) = (Vec::new(), Vec::new());
        let mut k = 0;
        for members in groups.values_mut() {
            members.shuffle(&mut rng);
            for s in members.iter() {
                if k % cfg.folds == cfg.fold {
                    test.push(*s);
                } else {
                    rest.push(*s);
                }
                k += 1;
            }
        }
        (test, rest)
    };
    let n_valid = valid_count(cfg.valid, rest.len());
    check_counts(corpus, n, test.len(), n_valid, "speaker k-fold split")?;
    let (valid, train) = rest.split_at(n_valid);
    Ok(Parts {
        train: train.to_vec(),
        valid: valid.to_vec(),
        test,
    })
}

/// The parts of a fixed assignment (`crema-d`, or a `speaker,part` CSV file); every speaker of
/// the corpus must be in it.
fn assigned<'a>(speakers: Vec<&'a str>, name: &str) -> Result<Parts<'a>> {
    let (origin, text) = if name == "crema-d" {
        (
            "(built-in CREMA-D speaker split)".to_string(),
            crema_d::meta::SPEAKER_SPLIT.to_string(),
        )
    } else {
        let text = std::fs::read_to_string(name).map_err(|e| Error::io(name, e))?;
        (name.to_string(), text)
    };
    let bad = |line: usize, m: String| Error::format(&origin, format!("line {line}: {m}"));
    let mut part_of: HashMap<String, Part> = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let f = parse_record(line).map_err(|m| bad(i + 1, m))?;
        match f.as_slice() {
            [] => {}
            [s, p, ..] if i == 0 && s == "speaker" && p == "part" => {}
            [s, p, ..] => {
                let part = match p.as_str() {
                    "train" => Part::Train,
                    "valid" => Part::Valid,
                    "test" => Part::Test,
                    other => {
                        return Err(bad(
                            i + 1,
                            format!("part `{other}`: expected train, valid or test"),
                        ))
                    }
                };
                if part_of.insert(s.clone(), part).is_some() {
                    return Err(bad(i + 1, format!("speaker {s} is listed twice")));
                }
            }
            _ => return Err(bad(i + 1, "expected `speaker,part`".into())),
        }
    }
    let missing: Vec<&str> = speakers
        .iter()
        .copied()
        .filter(|s| !part_of.contains_key(*s))
        .collect();
    if !missing.is_empty() {
        return Err(Error::Split(format!(
            "{origin}: {} of the corpus's speakers are not assigned a part (first: {}); \
             assign every speaker, or use a seeded split (leave split.assignment out)",
            missing.len(),
            missing[..missing.len().min(5)].join(", ")
        )));
    }
    let mut parts = Parts::default();
    for s in speakers {
        match part_of[s] {
            Part::Train => parts.train.push(s),
            Part::Valid => parts.valid.push(s),
            Part::Test => parts.test.push(s),
        }
    }
    if parts.train.is_empty() || parts.test.is_empty() {
        return Err(Error::Split(format!(
            "{origin}: the assignment leaves no training or no test speaker in this corpus"
        )));
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_proportional_and_complete() {
        assert_eq!(shares(&[10, 10], 5), [3, 2]);
        assert_eq!(shares(&[20, 10], 6), [4, 2]);
        assert_eq!(shares(&[1, 1, 1], 2), [1, 1, 0]);
        assert_eq!(shares(&[2, 3], 9), [2, 3]);
        assert_eq!(shares(&[], 3), Vec::<usize>::new());
    }
}
