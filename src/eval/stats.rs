//! The statistics that compare two systems on the same test clips: McNemar's exact test, the
//! Wilcoxon signed-rank test, Holm's correction, and a bootstrap that resamples speakers.
//!
//! Plain functions on counts and numbers, no files: `report::compare` gathers the counts from
//! the runs' `predictions.csv`. Each follows its textbook definition; where a choice exists it
//! is named on the function (how Wilcoxon treats zeros and ties, which quantile the bootstrap
//! takes), so a reviewer can recompute every number by hand.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::Predictions;

/// McNemar's exact test: of the `b + c` clips the two systems disagree on (one right, the other
/// wrong), `b` went one way and `c` the other; under "equally accurate" each discordant clip goes
/// either way with probability 1/2. Two-sided p = min(1, 2 · P(X ≤ min(b, c))), X ~ Bin(b + c,
/// 1/2) (the mid-p and the χ² approximation are not used). No discordant clip gives p = 1.
pub fn mcnemar_exact(b: usize, c: usize) -> f64 {
    let n = b + c;
    let k = b.min(c);
    let tail = if n <= 1000 {
        // P(X = i) term by term from 0.5^n, which is a normal f64 up to n = 1022.
        let mut pmf = 0.5f64.powi(n as i32);
        let mut sum = pmf;
        for i in 1..=k {
            pmf *= (n - i + 1) as f64 / i as f64;
            sum += pmf;
        }
        sum
    } else {
        // Summed in logs: 0.5^n underflows past n = 1074 discordant clips.
        let ln_half_n = -(n as f64) * std::f64::consts::LN_2;
        let mut ln_choose = 0.0; // ln C(n, 0)
        let mut terms = Vec::with_capacity(k + 1);
        for i in 0..=k {
            if i > 0 {
                ln_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
            }
            terms.push(ln_choose + ln_half_n);
        }
        let max = terms.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        max.exp() * terms.iter().map(|t| (t - max).exp()).sum::<f64>()
    };
    (2.0 * tail).min(1.0)
}

/// The Wilcoxon signed-rank test of paired differences.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wilcoxon {
    /// Differences that are not zero (the ones ranked).
    pub n: usize,
    /// Differences equal to zero, left out.
    pub zeros: usize,
    /// Sum of the ranks of the positive and of the negative differences.
    pub w_plus: f64,
    pub w_minus: f64,
    /// Two-sided p-value.
    pub p: f64,
    /// Whether `p` is exact (n ≤ [`WILCOXON_EXACT_MAX`]) or the normal approximation.
    pub exact: bool,
}

/// Up to this many non-zero differences the p-value is exact.
pub const WILCOXON_EXACT_MAX: usize = 50;

/// The Wilcoxon signed-rank test of `diffs`, two-sided. Zeros are dropped (Wilcoxon's original
/// rule, scipy's `zero_method="wilcox"`); tied absolute differences share their average rank.
/// For up to [`WILCOXON_EXACT_MAX`] differences p is exact: the distribution of W+ over all
/// 2^n sign assignments of the ranks actually observed (ties included, so it stays exact with
/// ties), p = min(1, 2 · min(P(W+ ≤ w), P(W+ ≥ w))). Above, the normal approximation with the tie
/// correction of the variance and a continuity correction of 1/2. No non-zero difference gives
/// p = 1.
pub fn wilcoxon(diffs: &[f64]) -> Wilcoxon {
    let nonzero: Vec<f64> = diffs.iter().copied().filter(|d| *d != 0.0).collect();
    let n = nonzero.len();
    let zeros = diffs.len() - n;
    // Average ranks of |d|, doubled so they are integers (a tie's average is a half-integer).
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| nonzero[a].abs().total_cmp(&nonzero[b].abs()));
    let mut rank2 = vec![0u64; n];
    let mut ties = Vec::new();
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && nonzero[order[j + 1]].abs() == nonzero[order[i]].abs() {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share (i+1 + j+1) / 2; doubled: i + j + 2.
        for &o in &order[i..=j] {
            rank2[o] = (i + j + 2) as u64;
        }
        ties.push((j - i + 1) as f64);
        i = j + 1;
    }
    let w_plus2: u64 = (0..n).filter(|&i| nonzero[i] > 0.0).map(|i| rank2[i]).sum();
    let total2: u64 = rank2.iter().sum();
    let (w_plus, w_minus) = (w_plus2 as f64 / 2.0, (total2 - w_plus2) as f64 / 2.0);
    if n == 0 {
        return Wilcoxon {
            n,
            zeros,
            w_plus,
            w_minus,
            p: 1.0,
            exact: true,
        };
    }
    let (p, exact) = if n <= WILCOXON_EXACT_MAX {
        // count[s]: sign assignments whose doubled W+ is s (f64 counts are exact below 2^53).
        let mut count = vec![0f64; total2 as usize + 1];
        count[0] = 1.0;
        let mut reach = 0usize;
        for &r in &rank2 {
            let r = r as usize;
            for s in (0..=reach).rev() {
                if count[s] != 0.0 {
                    count[s + r] += count[s];
                }
            }
            reach += r;
        }
        let all = 2f64.powi(n as i32);
        let w = w_plus2 as usize;
        let low: f64 = count[..=w].iter().sum();
        let high: f64 = count[w..].iter().sum();
        ((2.0 * low.min(high) / all).min(1.0), true)
    } else {
        let nf = n as f64;
        let mean = nf * (nf + 1.0) / 4.0;
        let tie_term: f64 = ties.iter().map(|t| t * t * t - t).sum::<f64>() / 48.0;
        let sd = (nf * (nf + 1.0) * (2.0 * nf + 1.0) / 24.0 - tie_term).sqrt();
        let z = ((w_plus - mean).abs() - 0.5).max(0.0) / sd;
        (erfc(z / std::f64::consts::SQRT_2).min(1.0), false)
    };
    Wilcoxon {
        n,
        zeros,
        w_plus,
        w_minus,
        p,
        exact,
    }
}

/// The complementary error function (Numerical Recipes' `erfcc`, relative error below 1.2e-7):
/// enough for a p-value printed to 4 decimals.
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// Holm's step-down adjusted p-values, in the order given: sorted ascending, the i-th smallest
/// (from 0) becomes max over j ≤ i of min(1, (m − j) · p_(j)). A hypothesis is rejected at
/// level α when its adjusted p is below α; this controls the family-wise error rate.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut out = vec![0.0; m];
    let mut running: f64 = 0.0;
    for (j, &i) in order.iter().enumerate() {
        running = running.max(((m - j) as f64 * p[i]).min(1.0));
        out[i] = running;
    }
    out
}

/// The `q` quantile of `sorted` (ascending, not empty) with linear interpolation between order
/// statistics (numpy's default): position q · (n − 1).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// What accuracy and macro F1 of one system on some clips are made of: per class the clips
/// predicted right, the clips of that class and the clips predicted as it. Weighted sums of
/// these (a bootstrap drawing a speaker twice) give the metrics of the resampled clips.
#[derive(Debug, Clone, PartialEq)]
pub struct Counts {
    pub correct: Vec<f64>,
    pub truth: Vec<f64>,
    pub predicted: Vec<f64>,
}

impl Counts {
    /// Nothing counted yet, for `k` classes.
    pub fn new(k: usize) -> Self {
        Self {
            correct: vec![0.0; k],
            truth: vec![0.0; k],
            predicted: vec![0.0; k],
        }
    }

    /// Counts one clip of class `truth` predicted as `predicted`.
    pub fn add(&mut self, truth: usize, predicted: usize) {
        self.truth[truth] += 1.0;
        self.predicted[predicted] += 1.0;
        if truth == predicted {
            self.correct[truth] += 1.0;
        }
    }

    /// Adds `other` `w` times.
    pub fn add_weighted(&mut self, other: &Counts, w: f64) {
        for (a, b) in [
            (&mut self.correct, &other.correct),
            (&mut self.truth, &other.truth),
            (&mut self.predicted, &other.predicted),
        ] {
            for (x, y) in a.iter_mut().zip(b) {
                *x += w * y;
            }
        }
    }

    /// Clips counted.
    pub fn total(&self) -> f64 {
        self.truth.iter().sum()
    }

    /// Right / all (0 for no clips).
    pub fn accuracy(&self) -> f64 {
        let n = self.total();
        if n == 0.0 {
            0.0
        } else {
            self.correct.iter().sum::<f64>() / n
        }
    }

    /// Mean over all classes of F1 = 2·right / (clips of the class + clips predicted as it), 0
    /// where both are 0: `eval::evaluate`'s macro F1 (scikit-learn's with `zero_division=0`).
    pub fn macro_f1(&self) -> f64 {
        let k = self.truth.len();
        let f1 = (0..k).map(|c| {
            let d = self.truth[c] + self.predicted[c];
            if d == 0.0 {
                0.0
            } else {
                2.0 * self.correct[c] / d
            }
        });
        f1.sum::<f64>() / k as f64
    }
}

/// One pair of runs on the same test clips, per speaker: (speaker index, counts of system A,
/// counts of system B).
pub type PairBySpeaker = Vec<(usize, Counts, Counts)>;

/// A bootstrap interval of the mean paired difference (B − A).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// The speaker bootstrap's 95% intervals of the mean difference B − A over the pairs, for
/// accuracy and macro F1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bootstrap {
    pub accuracy: Interval,
    pub f1_macro: Interval,
    pub resamples: usize,
}

/// A 95% percentile bootstrap of the mean over `pairs` of B's metric minus A's, resampling
/// speakers: each of `resamples` replicates draws `speakers` speakers with replacement (seeded
/// ChaCha8, so the interval is the same every time), weights every speaker's clips by how often
/// it was drawn, in every pair at once, and recomputes each pair's accuracy and macro F1 from the
/// weighted counts. A pair none of whose speakers was drawn is left out of that replicate's mean
/// (possible when the pairs have different test speakers); a replicate with no pair left is
/// drawn again. The bounds are the 2.5% and 97.5% [`quantile`]s. Clips of one speaker move
/// together, so their correlation widens the interval as it should.
pub fn speaker_bootstrap(
    pairs: &[PairBySpeaker],
    speakers: usize,
    resamples: usize,
    seed: u64,
) -> Option<Bootstrap> {
    if pairs.is_empty() || speakers == 0 || resamples == 0 {
        return None;
    }
    let k = pairs
        .iter()
        .flat_map(|p| p.first())
        .map(|(_, a, _)| a.truth.len())
        .next()?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut weights = vec![0f64; speakers];
    let (mut acc, mut f1) = (Vec::with_capacity(resamples), Vec::with_capacity(resamples));
    let mut tries = 0usize;
    while acc.len() < resamples {
        tries += 1;
        if tries > resamples * 100 {
            return None; // the pairs' speakers are almost never drawn: nothing to say
        }
        weights.iter_mut().for_each(|w| *w = 0.0);
        for _ in 0..speakers {
            weights[rng.random_range(0..speakers)] += 1.0;
        }
        let (mut sum_acc, mut sum_f1, mut used) = (0.0, 0.0, 0usize);
        for pair in pairs {
            let (mut a, mut b) = (Counts::new(k), Counts::new(k));
            for (s, ca, cb) in pair {
                if weights[*s] > 0.0 {
                    a.add_weighted(ca, weights[*s]);
                    b.add_weighted(cb, weights[*s]);
                }
            }
            // A and B count the same clips (A is empty for one system's interval).
            if b.total() > 0.0 {
                sum_acc += b.accuracy() - a.accuracy();
                sum_f1 += b.macro_f1() - a.macro_f1();
                used += 1;
            }
        }
        if used > 0 {
            acc.push(sum_acc / used as f64);
            f1.push(sum_f1 / used as f64);
        }
    }
    let interval = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        Interval {
            low: quantile(v, 0.025),
            high: quantile(v, 0.975),
        }
    };
    Some(Bootstrap {
        accuracy: interval(&mut acc),
        f1_macro: interval(&mut f1),
        resamples,
    })
}

/// Per speaker, the counts of one run's predictions, each speaker named by its index in
/// `speakers` (new ones are appended, so several runs can share one list); `None` when a clip
/// has no speaker (files of older runs) or a class the file does not list.
pub fn speaker_counts(p: &Predictions, speakers: &mut Vec<String>) -> Option<Vec<(usize, Counts)>> {
    let k = p.classes.len();
    let class = |name: &str| p.classes.iter().position(|c| c == name);
    let mut by: BTreeMap<usize, Counts> = BTreeMap::new();
    for r in &p.rows {
        if r.speaker.is_empty() {
            return None;
        }
        let (t, y) = (class(&r.truth)?, class(&r.predicted)?);
        let s = match speakers.iter().position(|x| *x == r.speaker) {
            Some(s) => s,
            None => {
                speakers.push(r.speaker.clone());
                speakers.len() - 1
            }
        };
        by.entry(s).or_insert_with(|| Counts::new(k)).add(t, y);
    }
    Some(by.into_iter().collect())
}

/// A 95% speaker-bootstrap interval of one system's mean accuracy over `runs` (each: per
/// speaker its counts): [`speaker_bootstrap`] against a system with no clips.
pub fn speaker_bootstrap_accuracy(
    runs: &[Vec<(usize, Counts)>],
    speakers: usize,
    resamples: usize,
    seed: u64,
) -> Option<Interval> {
    let pairs: Vec<PairBySpeaker> = runs
        .iter()
        .map(|r| {
            r.iter()
                .map(|(s, c)| (*s, Counts::new(c.truth.len()), c.clone()))
                .collect()
        })
        .collect();
    speaker_bootstrap(&pairs, speakers, resamples, seed).map(|b| b.accuracy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_interval_of_one_system_resamples_its_speakers() {
        // Speaker 0 right on both clips, speaker 1 wrong on both: replicates give 1, 1/2 or 0.
        let run = vec![
            (0, counts(2, &[(0, 0), (1, 1)])),
            (1, counts(2, &[(0, 1), (1, 0)])),
        ];
        let i = speaker_bootstrap_accuracy(&[run], 2, 10_000, 3).unwrap();
        assert_eq!((i.low, i.high), (0.0, 1.0));

        let row =
            |path: &str, truth: &str, predicted: &str, speaker: &str| crate::eval::PredictionRow {
                path: path.into(),
                truth: truth.into(),
                predicted: predicted.into(),
                speaker: speaker.into(),
                probabilities: vec![0.5, 0.5],
            };
        let mut p = Predictions {
            classes: vec!["a".into(), "b".into()],
            rows: vec![
                row("x", "a", "a", "s1"),
                row("y", "b", "a", "s2"),
                row("z", "b", "b", "s1"),
            ],
        };
        let mut speakers = vec!["s0".to_string()];
        let c = speaker_counts(&p, &mut speakers).unwrap();
        assert_eq!(speakers, ["s0", "s1", "s2"]);
        assert_eq!((c[0].0, c[0].1.accuracy(), c[0].1.total()), (1, 1.0, 2.0));
        assert_eq!((c[1].0, c[1].1.accuracy(), c[1].1.total()), (2, 0.0, 1.0));
        p.rows[2].speaker.clear();
        assert_eq!(speaker_counts(&p, &mut speakers), None);
    }

    #[test]
    fn mcnemar_exact_matches_the_binomial_tail() {
        // b = 10, c = 2: 2 · (C(12,0) + C(12,1) + C(12,2)) / 2^12 = 2 · 79 / 4096.
        assert!((mcnemar_exact(10, 2) - 158.0 / 4096.0).abs() < 1e-15);
        assert!((mcnemar_exact(2, 10) - 0.0386).abs() < 5e-5);
        assert!((mcnemar_exact(5, 0) - 2.0 / 32.0).abs() < 1e-15);
        assert_eq!(mcnemar_exact(0, 0), 1.0);
        assert_eq!(mcnemar_exact(7, 7), 1.0);
        assert_eq!(mcnemar_exact(15, 14), 1.0);
        // Far past 0.5^n's underflow the tail is still a number: 600 vs 500 discordant clips.
        let p = mcnemar_exact(600, 500);
        assert!(p > 0.0 && p < 0.01, "{p}");
        // Both ways of summing agree where they meet: 1000 and 1001 discordant clips.
        let (near, far) = (mcnemar_exact(540, 460), mcnemar_exact(541, 460));
        assert!(near > far && far > 0.5 * near, "{near} {far}");
    }

    /// The exact distribution checked against all 2^n sign assignments, counted directly.
    fn brute_force_p(diffs: &[f64]) -> f64 {
        let w = wilcoxon(diffs);
        let d: Vec<f64> = diffs.iter().copied().filter(|d| *d != 0.0).collect();
        let n = d.len();
        let mut ranks = vec![0.0; n];
        for i in 0..n {
            let less = d.iter().filter(|x| x.abs() < d[i].abs()).count() as f64;
            let equal = d.iter().filter(|x| x.abs() == d[i].abs()).count() as f64;
            ranks[i] = less + (equal + 1.0) / 2.0;
        }
        let (mut low, mut high) = (0u32, 0u32);
        for mask in 0u32..(1 << n) {
            let s: f64 = (0..n)
                .filter(|i| (mask >> i) & 1 == 1)
                .map(|i| ranks[i])
                .sum();
            low += (s <= w.w_plus) as u32;
            high += (s >= w.w_plus) as u32;
        }
        (2.0 * low.min(high) as f64 / 2f64.powi(n as i32)).min(1.0)
    }

    #[test]
    fn wilcoxon_exact_p_on_textbook_and_hand_computed_cases() {
        // Darwin's maize (Fisher 1935; scipy.stats.wilcoxon's documented example): W− = 24,
        // P(W ≤ 24) = 676 / 2^15, two-sided 1352 / 32768 = 0.041259765625.
        let darwin = [
            6., 8., 14., 16., 23., 24., 28., 29., 41., -48., 49., 56., 60., -67., 75.,
        ];
        let w = wilcoxon(&darwin);
        assert_eq!((w.n, w.w_minus, w.w_plus), (15, 24.0, 96.0));
        assert_eq!(w.p, 1352.0 / 32768.0);
        assert!(w.exact);
        assert_eq!(brute_force_p(&darwin), w.p);

        // All five positive: only 1 of 32 assignments is as extreme on each side: 2/32.
        assert_eq!(wilcoxon(&[1., 2., 3., 4., 5.]).p, 0.0625);
        // A tie and a zero: [−1, 2, 2, 3, 0] → zero dropped, ranks 1, 2.5, 2.5, 4; W+ = 9;
        // P(W+ ≥ 9) = 2/16 (sums 9 and 10), two-sided 0.25.
        let w = wilcoxon(&[-1., 2., 2., 3., 0.]);
        assert_eq!((w.n, w.zeros, w.w_plus, w.w_minus), (4, 1, 9.0, 1.0));
        assert_eq!(w.p, 0.25);
        // Symmetric: p = 1; nothing but zeros: p = 1.
        assert_eq!(wilcoxon(&[0., 1., 1., -2.]).p, 1.0);
        assert_eq!(wilcoxon(&[0., 0.]).p, 1.0);
        for d in [
            &[0.5, -0.25, 0.75, 0.75, -0.5, 1.0][..],
            &[3., -1., -4., 1., -5., 9., 2.],
        ] {
            assert_eq!(wilcoxon(d).p, brute_force_p(d), "{d:?}");
        }
    }

    #[test]
    fn wilcoxon_switches_to_the_normal_approximation_past_fifty() {
        // 60 positive differences 1..=60: z = (1830 − 915 − 0.5) / sqrt(60·61·121/24) = 6.73.
        let d: Vec<f64> = (1..=60).map(f64::from).collect();
        let w = wilcoxon(&d);
        assert!(!w.exact);
        assert!(w.p > 1e-12 && w.p < 1e-10, "{}", w.p);
        // erfc against known values.
        assert!((erfc(0.0) - 1.0).abs() < 1e-7);
        assert!((erfc(1.0) - 0.157_299_207).abs() < 1e-7);
        assert!((erfc(-1.0) - 1.842_700_793).abs() < 1e-7);
    }

    #[test]
    fn holm_adjusts_step_down_in_the_given_order() {
        // Sorted 0.01, 0.03, 0.04: ×3 = 0.03, ×2 = 0.06, ×1 = 0.04 → raised to 0.06.
        let adj = holm(&[0.01, 0.04, 0.03]);
        let want = [0.03, 0.06, 0.06];
        for (a, w) in adj.iter().zip(want) {
            assert!((a - w).abs() < 1e-15, "{adj:?}");
        }
        assert_eq!(holm(&[0.5, 0.9]), [1.0, 1.0]);
        assert_eq!(holm(&[0.02]), [0.02]);
    }

    #[test]
    fn quantiles_interpolate_between_order_statistics() {
        let v = [1.0, 2.0, 4.0, 8.0, 16.0];
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 0.5), 4.0);
        assert_eq!(quantile(&v, 0.625), 6.0); // position 2.5: halfway from 4 to 8
        assert_eq!(quantile(&v, 1.0), 16.0);
    }

    fn counts(k: usize, clips: &[(usize, usize)]) -> Counts {
        let mut c = Counts::new(k);
        for &(t, p) in clips {
            c.add(t, p);
        }
        c
    }

    #[test]
    fn counts_give_evaluates_accuracy_and_macro_f1() {
        let c = counts(3, &[(0, 0), (0, 1), (1, 1), (2, 1)]);
        assert_eq!(c.accuracy(), 0.5);
        // F1: class 0: 2·1/(2+1) = 2/3; class 1: 2·1/(1+3) = 1/2; class 2: 0.
        assert!((c.macro_f1() - (2.0 / 3.0 + 0.5) / 3.0).abs() < 1e-15);
        let classes = ["a".to_string(), "b".into(), "c".into()];
        let m = crate::eval::evaluate(&[0, 0, 1, 2], &[0, 1, 1, 1], &classes).unwrap();
        assert!((m.macro_avg.f1 - c.macro_f1()).abs() < 1e-15);
    }

    #[test]
    fn speaker_bootstrap_on_a_tiny_fixed_sample() {
        // One pair, two speakers of 2 clips each. Speaker 0: A right on both, B on one (−1/2);
        // speaker 1: A wrong on both, B right on both (+1). Replicates draw speakers (0,0),
        // (0,1)/(1,0), (1,1): differences −1/2, +1/4, +1 with chances 1/4, 1/2, 1/4, so with
        // 10,000 draws the 2.5% and 97.5% quantiles are the extremes.
        let pair = vec![
            (
                0,
                counts(2, &[(0, 0), (1, 1)]),
                counts(2, &[(0, 0), (1, 0)]),
            ),
            (
                1,
                counts(2, &[(0, 1), (1, 0)]),
                counts(2, &[(0, 0), (1, 1)]),
            ),
        ];
        let b = speaker_bootstrap(std::slice::from_ref(&pair), 2, 10_000, 7).unwrap();
        assert_eq!((b.accuracy.low, b.accuracy.high), (-0.5, 1.0));
        assert_eq!(b.resamples, 10_000);
        // Seeded: the same interval every time.
        assert_eq!(
            speaker_bootstrap(std::slice::from_ref(&pair), 2, 10_000, 7),
            Some(b)
        );
        // One speaker: every replicate is the sample itself.
        let one = vec![pair[1].clone()];
        let b = speaker_bootstrap(&[one], 2, 1_000, 0).unwrap();
        assert_eq!((b.accuracy.low, b.accuracy.high), (1.0, 1.0));
        assert_eq!(speaker_bootstrap(&[], 2, 10, 0), None);
    }
}
