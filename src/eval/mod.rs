//! Evaluation of predicted labels: accuracy, macro / weighted F1, per-class precision, recall,
//! F1 and support, the confusion matrix (counts and row-normalised), and their text, JSON and CSV
//! forms.
//!
//! Definitions follow scikit-learn with `zero_division=0` (what the peer uses): a class that is
//! never predicted has precision 0, one that never occurs has recall 0, and an F1 whose precision
//! and recall are both 0 is 0. [`Metrics::report_text`] lays the numbers out exactly like
//! `sklearn.metrics.classification_report` (which both rounds half to even on the exact binary
//! value, as Rust's formatter does). [`EpochRecord`] is one epoch's training and validation
//! loss and accuracy; [`Predictions`] a run's per-clip `predictions.csv`; [`stats`] the paired
//! tests and speaker bootstrap that compare two systems on the same clips; [`calibration`] the
//! expected calibration error and reliability bins of a run's test probabilities.

pub mod calibration;
mod epoch;
mod predictions;
pub mod stats;

pub use epoch::EpochRecord;
pub use predictions::{PredictionRow, Predictions};

use serde_json::{json, Map, Value};

use crate::base::{csv, Error, Result};

/// Accuracy and macro F1 of one group of test clips (a demographic group), and its size.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GroupScore {
    pub accuracy: f64,
    pub f1_macro: f64,
    /// Clips in the group.
    pub n: usize,
}

/// Scores per attribute (`sex`, `age`, ...) and value (`Female`, `20-29`, ...).
pub type GroupScores =
    std::collections::BTreeMap<String, std::collections::BTreeMap<String, GroupScore>>;

/// Precision, recall, F1 and support of one class.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassMetrics {
    /// Class name.
    pub name: String,
    /// True positives / predicted positives (0 when the class is never predicted).
    pub precision: f64,
    /// True positives / actual positives (0 when the class never occurs).
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
    /// Number of true items of this class.
    pub support: usize,
}

/// An average over classes (macro: plain mean; weighted: weighted by support).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Average {
    /// Averaged precision.
    pub precision: f64,
    /// Averaged recall.
    pub recall: f64,
    /// Averaged F1.
    pub f1: f64,
}

/// Everything measured on one set of predictions.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// Fraction of items predicted correctly.
    pub accuracy: f64,
    /// Unweighted mean over classes.
    pub macro_avg: Average,
    /// Mean over classes weighted by support.
    pub weighted_avg: Average,
    /// One entry per class, in class-index order.
    pub per_class: Vec<ClassMetrics>,
    /// `confusion[t][p]`: items of true class `t` predicted as `p`.
    pub confusion: Vec<Vec<usize>>,
    /// Number of items evaluated.
    pub total: usize,
}

/// Computes the metrics of `y_pred` against `y_true`; labels are indices into `classes`.
///
/// Fails when the two lists differ in length, are empty, or hold a label outside `classes`.
pub fn evaluate(y_true: &[usize], y_pred: &[usize], classes: &[String]) -> Result<Metrics> {
    let k = classes.len();
    if y_true.len() != y_pred.len() {
        return Err(Error::Data(format!(
            "evaluate: {} true labels but {} predictions",
            y_true.len(),
            y_pred.len()
        )));
    }
    if y_true.is_empty() || k == 0 {
        return Err(Error::Data(
            "evaluate: nothing to evaluate (no items or no classes)".into(),
        ));
    }
    let mut confusion = vec![vec![0usize; k]; k];
    for (i, (&t, &p)) in y_true.iter().zip(y_pred).enumerate() {
        if t >= k || p >= k {
            return Err(Error::Data(format!(
                "evaluate: item {i} has label {t} / prediction {p}, but there are only {k} classes"
            )));
        }
        confusion[t][p] += 1;
    }
    let total = y_true.len();
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let per_class: Vec<ClassMetrics> = (0..k)
        .map(|c| {
            let tp = confusion[c][c];
            let support: usize = confusion[c].iter().sum();
            let predicted: usize = confusion.iter().map(|row| row[c]).sum();
            let precision = ratio(tp, predicted);
            let recall = ratio(tp, support);
            let f1 = if precision + recall == 0.0 {
                0.0
            } else {
                2.0 * precision * recall / (precision + recall)
            };
            ClassMetrics {
                name: classes[c].clone(),
                precision,
                recall,
                f1,
                support,
            }
        })
        .collect();
    let correct: usize = (0..k).map(|c| confusion[c][c]).sum();
    let mean = |f: &dyn Fn(&ClassMetrics) -> f64| per_class.iter().map(f).sum::<f64>() / k as f64;
    let weighted = |f: &dyn Fn(&ClassMetrics) -> f64| {
        per_class
            .iter()
            .map(|m| f(m) * m.support as f64)
            .sum::<f64>()
            / total as f64
    };
    Ok(Metrics {
        accuracy: ratio(correct, total),
        macro_avg: Average {
            precision: mean(&|m| m.precision),
            recall: mean(&|m| m.recall),
            f1: mean(&|m| m.f1),
        },
        weighted_avg: Average {
            precision: weighted(&|m| m.precision),
            recall: weighted(&|m| m.recall),
            f1: weighted(&|m| m.f1),
        },
        per_class,
        confusion,
        total,
    })
}

/// Index of the largest value of each row (the first one on ties), as `argmax(axis=1)` does.
pub fn argmax_rows(probabilities: &[Vec<f32>]) -> Vec<usize> {
    probabilities
        .iter()
        .map(|row| {
            let mut best = 0;
            for (i, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = i;
                }
            }
            best
        })
        .collect()
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

impl Metrics {
    /// The class names, in index order.
    pub fn classes(&self) -> Vec<String> {
        self.per_class.iter().map(|m| m.name.clone()).collect()
    }

    /// The confusion matrix with each row divided by its sum (a row of zeros stays zeros).
    pub fn confusion_normalized(&self) -> Vec<Vec<f64>> {
        self.confusion
            .iter()
            .map(|row| {
                let sum: usize = row.iter().sum();
                row.iter()
                    .map(|&v| if sum == 0 { 0.0 } else { v as f64 / sum as f64 })
                    .collect()
            })
            .collect()
    }

    /// The text of `sklearn.metrics.classification_report(..., digits=digits)`.
    pub fn report_text(&self, digits: usize) -> String {
        let headers = ["precision", "recall", "f1-score", "support"];
        let name_width = self
            .per_class
            .iter()
            .map(|m| m.name.len())
            .max()
            .unwrap_or(0);
        let width = name_width.max("weighted avg".len()).max(digits);
        let mut out = format!("{:>width$} ", "");
        for h in headers {
            out += &format!(" {h:>9}");
        }
        out += "\n\n";
        let row = |name: &str, p: f64, r: f64, f: f64, s: usize| {
            format!("{name:>width$}  {p:>9.digits$} {r:>9.digits$} {f:>9.digits$} {s:>9}\n")
        };
        for m in &self.per_class {
            out += &row(&m.name, m.precision, m.recall, m.f1, m.support);
        }
        out += "\n";
        out += &format!(
            "{:>width$}  {:>9} {:>9} {:>9.digits$} {:>9}\n",
            "accuracy", "", "", self.accuracy, self.total
        );
        for (name, a) in [
            ("macro avg", self.macro_avg),
            ("weighted avg", self.weighted_avg),
        ] {
            out += &row(name, a.precision, a.recall, a.f1, self.total);
        }
        out
    }

    /// The metrics as JSON, values rounded to 4 digits: `accuracy`, `f1_macro`, `f1_weighted`,
    /// `classes`, `report` (laid out like sklearn's `output_dict=True`), `confusion` (rows true,
    /// columns predicted) and `confusion_normalized`.
    pub fn to_json(&self) -> Value {
        let entry = |p: f64, r: f64, f: f64, s: usize| json!({"precision": round4(p), "recall": round4(r), "f1-score": round4(f), "support": s});
        let mut report = Map::new();
        for m in &self.per_class {
            report.insert(
                m.name.clone(),
                entry(m.precision, m.recall, m.f1, m.support),
            );
        }
        report.insert("accuracy".into(), json!(round4(self.accuracy)));
        for (name, a) in [
            ("macro avg", self.macro_avg),
            ("weighted avg", self.weighted_avg),
        ] {
            report.insert(name.into(), entry(a.precision, a.recall, a.f1, self.total));
        }
        let normalized: Vec<Vec<f64>> = self
            .confusion_normalized()
            .into_iter()
            .map(|row| row.into_iter().map(round4).collect())
            .collect();
        json!({
            "accuracy": round4(self.accuracy),
            "f1_macro": round4(self.macro_avg.f1),
            "f1_weighted": round4(self.weighted_avg.f1),
            "n": self.total,
            "classes": self.classes(),
            "report": Value::Object(report),
            "confusion": self.confusion,
            "confusion_normalized": normalized,
            "confusion_axes": "rows = true class, columns = predicted class",
        })
    }

    /// The confusion counts as CSV: a header `true\predicted,<classes>` and one row per true class.
    pub fn confusion_csv(&self) -> String {
        self.matrix_csv(|t, p| self.confusion[t][p].to_string())
    }

    /// The row-normalised confusion matrix as CSV (4 decimals), laid out like [`Self::confusion_csv`].
    pub fn confusion_normalized_csv(&self) -> String {
        let n = self.confusion_normalized();
        self.matrix_csv(|t, p| format!("{:.4}", n[t][p]))
    }

    fn matrix_csv(&self, cell: impl Fn(usize, usize) -> String) -> String {
        let names = self.classes();
        let mut out = String::from("true\\predicted");
        for c in &names {
            out += ",";
            out += &csv::field(c);
        }
        out += "\n";
        for (t, name) in names.iter().enumerate() {
            out += &csv::field(name);
            for p in 0..names.len() {
                out += ",";
                out += &cell(t, p);
            }
            out += "\n";
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// The example of sklearn's `classification_report` docstring.
    #[test]
    fn sklearn_docstring_example() {
        let classes = names(&["class 0", "class 1", "class 2"]);
        let m = evaluate(&[0, 1, 2, 2, 2], &[0, 0, 2, 2, 1], &classes).unwrap();
        assert_eq!(m.accuracy, 0.6);
        assert_eq!(m.per_class[0].precision, 0.5);
        assert_eq!(m.per_class[0].recall, 1.0);
        assert!((m.per_class[0].f1 - 2.0 / 3.0).abs() < 1e-15);
        assert_eq!(
            (
                m.per_class[1].precision,
                m.per_class[1].recall,
                m.per_class[1].f1
            ),
            (0.0, 0.0, 0.0)
        );
        assert_eq!(m.per_class[2].precision, 1.0);
        assert!((m.per_class[2].recall - 2.0 / 3.0).abs() < 1e-15);
        assert!((m.per_class[2].f1 - 0.8).abs() < 1e-15);
        assert_eq!(
            m.per_class.iter().map(|c| c.support).collect::<Vec<_>>(),
            [1, 1, 3]
        );
        // macro F1 = (2/3 + 0 + 0.8) / 3; weighted = (2/3 + 0 + 3 * 0.8) / 5
        assert!((m.macro_avg.f1 - (2.0 / 3.0 + 0.8) / 3.0).abs() < 1e-15);
        assert!((m.weighted_avg.f1 - (2.0 / 3.0 + 2.4) / 5.0).abs() < 1e-15);
        assert!((m.weighted_avg.precision - 0.7).abs() < 1e-15);
        assert_eq!(
            m.confusion,
            vec![vec![1, 0, 0], vec![1, 0, 0], vec![0, 1, 2]]
        );
        let expected = "              precision    recall  f1-score   support

     class 0       0.50      1.00      0.67         1
     class 1       0.00      0.00      0.00         1
     class 2       1.00      0.67      0.80         3

    accuracy                           0.60         5
   macro avg       0.50      0.56      0.49         5
weighted avg       0.70      0.60      0.61         5
";
        assert_eq!(m.report_text(2), expected);
    }

    #[test]
    fn json_and_csv() {
        let classes = names(&["a", "b", "c"]);
        let m = evaluate(&[0, 1, 2, 2, 2], &[0, 0, 2, 2, 1], &classes).unwrap();
        let j = m.to_json();
        assert_eq!(j["accuracy"], json!(0.6));
        assert_eq!(j["f1_macro"], json!(0.4889));
        assert_eq!(j["f1_weighted"], json!(0.6133));
        assert_eq!(j["report"]["a"]["f1-score"], json!(0.6667));
        assert_eq!(j["report"]["c"]["support"], json!(3));
        assert_eq!(j["report"]["macro avg"]["recall"], json!(0.5556));
        assert_eq!(j["confusion_normalized"][2], json!([0.0, 0.3333, 0.6667]));
        assert_eq!(
            m.confusion_csv(),
            "true\\predicted,a,b,c\na,1,0,0\nb,1,0,0\nc,0,1,2\n"
        );
        assert_eq!(
            m.confusion_normalized_csv(),
            "true\\predicted,a,b,c\na,1.0000,0.0000,0.0000\nb,1.0000,0.0000,0.0000\nc,0.0000,0.3333,0.6667\n"
        );
    }

    /// A class absent from both lists: its row, column and metrics are all zero.
    #[test]
    fn absent_class_is_zero_not_nan() {
        let classes = names(&["x", "y", "unused"]);
        let m = evaluate(&[0, 0, 1, 1], &[0, 1, 1, 1], &classes).unwrap();
        assert_eq!(m.accuracy, 0.75);
        assert_eq!(m.per_class[2].support, 0);
        assert_eq!(m.per_class[2].f1, 0.0);
        assert_eq!(m.per_class[1].precision, 2.0 / 3.0);
        assert_eq!(m.confusion_normalized()[2], vec![0.0, 0.0, 0.0]);
        // macro averages over all three classes, as sklearn does with labels=[0, 1, 2]
        let f1_x = 2.0 * 1.0 * 0.5 / 1.5;
        let f1_y = 2.0 * (2.0 / 3.0) / (2.0 / 3.0 + 1.0);
        assert!((m.macro_avg.f1 - (f1_x + f1_y) / 3.0).abs() < 1e-15);
    }

    #[test]
    fn bad_input_is_an_error() {
        let classes = names(&["a", "b"]);
        assert!(evaluate(&[0, 1], &[0], &classes).is_err());
        assert!(evaluate(&[], &[], &classes).is_err());
        let e = evaluate(&[0, 2], &[0, 1], &classes)
            .unwrap_err()
            .to_string();
        assert!(e.contains("item 1 has label 2"), "{e}");
    }

    #[test]
    fn argmax_takes_first_maximum() {
        assert_eq!(
            argmax_rows(&[
                vec![0.1, 0.7, 0.2],
                vec![0.5, 0.5, 0.0],
                vec![0.0, 0.0, 1.0]
            ]),
            [1, 0, 2]
        );
    }
}
