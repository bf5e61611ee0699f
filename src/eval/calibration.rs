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
}
