//! The report's protocol: scikit-learn's stratified shuffle split, twice (test, then validation
//! of the rest), with its exact sizes and per-class allocations.

use std::collections::BTreeMap;

use rand::seq::{index, SliceRandom};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::Split;
use crate::base::{Error, Result};
use crate::config::SplitConfig;
use crate::corpus::Corpus;

/// The report's protocol: a stratified test split, then a stratified validation split of the
/// rest. Each stage starts a fresh generator from the same seed, as the report passed the same
/// `random_state` to both `train_test_split` calls.
pub(super) fn random(corpus: &Corpus, cfg: &SplitConfig) -> Result<Split> {
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
    Ok(Split {
        train,
        valid,
        test,
        left_out: Vec::new(),
    })
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
