//! Calibration of a classifier's probabilities: does "80% sure" come true 80% of the time?
//!
//! Expected calibration error (ECE, Guo et al. 2017): the test clips are put in equal-width bins
//! by their top probability (confidence), bin `i` of `M` holding `(i-1)/M < c <= i/M` (a
//! confidence of 0 goes to the first); ECE = sum over bins of (clips in bin / clips) ×
//! |accuracy in bin − mean confidence in bin|. 0 is perfectly calibrated; bins whose accuracy
//! lies below the diagonal are over-confident.

use serde::Serialize;

/// Bins of the reliability diagram and the ECE (`metrics.json`'s `calibration`).
pub const BINS: usize = 15;

/// One bin of the reliability diagram.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bin {
    /// Confidence range `(lo, hi]`.
    pub lo: f64,
    pub hi: f64,
    /// Clips whose confidence falls in it.
    pub count: usize,
    /// Their mean confidence (`None` for an empty bin).
    pub confidence: Option<f64>,
    /// The fraction of them predicted right (`None` for an empty bin).
    pub accuracy: Option<f64>,
}

/// A run's calibration on its test clips.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Calibration {
    /// Expected calibration error over `bins`.
    pub ece: f64,
    /// Mean top probability over all clips (beside the accuracy: over-confidence at a glance).
    pub mean_confidence: f64,
    pub bins: Vec<Bin>,
}

/// The calibration of `probabilities` (one row per clip, summing to 1) against `labels`, with
/// `n_bins` bins; `None` without clips.
pub fn calibration(
    probabilities: &[Vec<f32>],
    labels: &[usize],
    n_bins: usize,
) -> Option<Calibration> {
    let n = probabilities.len().min(labels.len());
    if n == 0 || n_bins == 0 {
        return None;
    }
    // (sum of confidences, right, count) per bin.
    let mut acc = vec![(0.0f64, 0usize, 0usize); n_bins];
    let mut total_conf = 0.0;
    for (row, &label) in probabilities.iter().zip(labels) {
        let (best, conf) =
            row.iter().enumerate().fold(
                (0, f32::NEG_INFINITY),
                |b, (i, &p)| if p > b.1 { (i, p) } else { b },
            );
        let c = f64::from(conf).clamp(0.0, 1.0);
        let bin = ((c * n_bins as f64).ceil() as usize).clamp(1, n_bins) - 1;
        acc[bin].0 += c;
        acc[bin].1 += usize::from(best == label);
        acc[bin].2 += 1;
        total_conf += c;
    }
    let mut ece = 0.0;
    let bins = acc
        .iter()
        .enumerate()
        .map(|(i, &(conf, right, count))| {
            let (confidence, accuracy) = if count == 0 {
                (None, None)
            } else {
                let (c, a) = (conf / count as f64, right as f64 / count as f64);
                ece += count as f64 / n as f64 * (a - c).abs();
                (Some(c), Some(a))
            };
            Bin {
                lo: i as f64 / n_bins as f64,
                hi: (i + 1) as f64 / n_bins as f64,
                count,
                confidence,
                accuracy,
            }
        })
        .collect();
    Some(Calibration {
        ece,
        mean_confidence: total_conf / n as f64,
        bins,
    })
}

/// The temperature `T` that makes `softmax(log p / T)` fit `labels` best (lowest mean negative
/// log-likelihood), searched over `T` in [0.05, 20] (golden section on `ln T`; the likelihood is
/// convex in `1/T`). Fitted on the validation part, applied to test and to `ser predict
/// --calibrated`: it changes how sure the model says it is, never which class it picks.
pub fn fit_temperature(probabilities: &[Vec<f32>], labels: &[usize]) -> Option<f64> {
    if probabilities.is_empty() || probabilities.len() != labels.len() {
        return None;
    }
    let nll = |ln_t: f64| -> f64 {
        let t = ln_t.exp();
        probabilities
            .iter()
            .zip(labels)
            .map(|(row, &y)| {
                let z: Vec<f64> = row
                    .iter()
                    .map(|&p| f64::from(p).max(1e-30).ln() / t)
                    .collect();
                let max = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let lse = max + z.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
                lse - z.get(y).copied().unwrap_or(max)
            })
            .sum::<f64>()
            / probabilities.len() as f64
    };
    let (mut a, mut b) = (0.05f64.ln(), 20f64.ln());
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let (mut c, mut d) = (b - g * (b - a), a + g * (b - a));
    let (mut fc, mut fd) = (nll(c), nll(d));
    for _ in 0..80 {
        if fc < fd {
            (b, d, fd) = (d, c, fc);
            c = b - g * (b - a);
            fc = nll(c);
        } else {
            (a, c, fc) = (c, d, fd);
            d = a + g * (b - a);
            fd = nll(d);
        }
    }
    Some(((a + b) / 2.0).exp())
}

/// `row` rescaled by temperature `t`: `softmax(log p / t)`.
pub fn scale(row: &[f32], t: f64) -> Vec<f32> {
    let z: Vec<f64> = row
        .iter()
        .map(|&p| f64::from(p).max(1e-30).ln() / t)
        .collect();
    let max = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = z.iter().map(|v| (v - max).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.iter().map(|v| (v / sum) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ece_by_hand() {
        // Two bins. Clip 1: conf 0.9, right; clip 2: conf 0.8, wrong; clip 3: conf 0.4, right;
        // clip 4: conf 0.5 (exactly the first bin's edge: belongs to it), wrong.
        let p = vec![
            vec![0.9, 0.1],
            vec![0.2, 0.8],
            vec![0.4, 0.6],
            vec![0.5, 0.5],
        ];
        // Predicted: 0, 1, 1, 0 (ties go to the first class).
        let labels = [0, 0, 1, 1];
        let c = calibration(&p, &labels, 2).unwrap();
        // Clip 3's top probability is 0.6 (class 1, right): bins are (0, 0.5] = {0.5 wrong},
        // (0.5, 1] = {0.9 right, 0.8 wrong, 0.6 right}.
        assert_eq!(c.bins[0].count, 1);
        assert_eq!(c.bins[1].count, 3);
        assert_eq!(c.bins[0].accuracy, Some(0.0));
        let conf1 = (0.9f32 as f64 + 0.8f32 as f64 + 0.6f32 as f64) / 3.0;
        let want = 0.25 * (0.0 - 0.5f64).abs() + 0.75 * (2.0 / 3.0 - conf1).abs();
        assert!((c.ece - want).abs() < 1e-12, "{} vs {want}", c.ece);
        assert!((c.ece - 0.2).abs() < 1e-6, "{}", c.ece);
        // A perfectly calibrated case: confidence 1 and always right.
        let sure = calibration(&[vec![1.0, 0.0], vec![0.0, 1.0]], &[0, 1], BINS).unwrap();
        assert_eq!(sure.ece, 0.0);
        assert_eq!(sure.bins[BINS - 1].count, 2);
        assert!(calibration(&[], &[], BINS).is_none());
    }

    #[test]
    fn temperature_by_hand() {
        // Logits (1, -1) for every clip, right 3 times in 4: the best sigmoid(2 / T) is 0.75,
        // so T = 2 / ln 3.
        let p = scale(&[1.0f32.exp(), (-1.0f32).exp()], 1.0);
        let probs = vec![p.clone(), p.clone(), p.clone(), p];
        let t = fit_temperature(&probs, &[0, 0, 0, 1]).unwrap();
        assert!((t - 2.0 / 3f64.ln()).abs() < 1e-3, "{t}");
        let scaled = scale(&probs[0], t);
        assert!((f64::from(scaled[0]) - 0.75).abs() < 1e-4, "{scaled:?}");
        // The class picked never changes.
        let row = [0.1f32, 0.7, 0.2];
        for t in [0.2, 1.0, 5.0] {
            let s = scale(&row, t);
            assert_eq!(s.iter().cloned().fold(0.0f32, f32::max), s[1]);
        }
        assert!(fit_temperature(&[], &[]).is_none());
    }
}
