//! Per-clip predictions, the `predictions.csv` every run (and every `ser eval`) writes: one row
//! per test clip with its path, true class, predicted class, speaker and the probability of each
//! of the model's classes.
//!
//! The statistics of `ser report --compare` are computed from these rows rather than from the
//! metrics files, because pairing two systems clip by clip (McNemar) and resampling speakers
//! (the bootstrap) both need the individual clips. Columns are found by name when read, so a
//! file written before the `speaker` column existed still reads (its speakers are empty).

use std::path::Path;

use crate::base::{csv, Error, Result};

/// One clip's prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionRow {
    /// The clip's path relative to its corpus folder.
    pub path: String,
    /// True class name.
    pub truth: String,
    /// Predicted class name (the most probable).
    pub predicted: String,
    /// Speaker id as the corpus names it (empty where the file has no `speaker` column).
    pub speaker: String,
    /// Probability per class, in [`Predictions::classes`] order.
    pub probabilities: Vec<f32>,
}

/// A run's predictions on one set of clips.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    /// The model's classes, in probability order.
    pub classes: Vec<String>,
    pub rows: Vec<PredictionRow>,
}

/// The fixed columns, in the order they are written; every other column is a class.
const FIXED: [&str; 4] = ["path", "true", "predicted", "speaker"];

impl Predictions {
    /// The CSV text: `path,true,predicted,speaker,<class>...`, probabilities to 6 decimals,
    /// names quoted as fields (`base::csv::field`).
    pub fn to_csv(&self) -> String {
        let mut out = FIXED.join(",");
        for c in &self.classes {
            out.push(',');
            out.push_str(&csv::field(c));
        }
        out.push('\n');
        for r in &self.rows {
            out += &[&r.path, &r.truth, &r.predicted, &r.speaker]
                .map(|s| csv::field(s))
                .join(",");
            for v in &r.probabilities {
                out += &format!(",{v:.6}");
            }
            out.push('\n');
        }
        out
    }

    /// Reads the text of `path` (named in errors). `path`, `true` and `predicted` are required;
    /// `speaker` may be absent (files of older runs).
    pub fn parse(text: &str, path: &Path) -> Result<Predictions> {
        let bad = |message: String| Error::format(path, message);
        let (header, lines) = csv::header_and_lines(text).map_err(bad)?;
        let header: Vec<String> = header.iter().map(|h| unquote(h)).collect();
        let col = |name: &str| header.iter().position(|h| h == name);
        let need = |name: &str| {
            col(name).ok_or_else(|| {
                bad(format!(
                    "no `{name}` column (header `{}`); write it again with `ser eval RUN`",
                    header.join(",")
                ))
            })
        };
        let (p, t, y) = (need("path")?, need("true")?, need("predicted")?);
        let s = col("speaker");
        let class_cols: Vec<usize> = (0..header.len())
            .filter(|&i| !FIXED.contains(&header[i].as_str()))
            .collect();
        let classes = class_cols.iter().map(|&i| header[i].clone()).collect();
        let mut rows = Vec::new();
        for (i, line) in lines {
            let cells = csv::parse_record(line).map_err(|e| bad(format!("line {}: {e}", i + 1)))?;
            if cells.len() != header.len() {
                return Err(bad(format!(
                    "line {}: {} fields, the header has {}",
                    i + 1,
                    cells.len(),
                    header.len()
                )));
            }
            let probabilities = class_cols
                .iter()
                .map(|&c| cells[c].parse::<f32>())
                .collect::<std::result::Result<_, _>>()
                .map_err(|_| bad(format!("line {}: a probability is not a number", i + 1)))?;
            rows.push(PredictionRow {
                path: unquote(&cells[p]),
                truth: unquote(&cells[t]),
                predicted: unquote(&cells[y]),
                speaker: s.map(|s| unquote(&cells[s])).unwrap_or_default(),
                probabilities,
            });
        }
        Ok(Predictions { classes, rows })
    }
}

/// A text cell as it was before `csv::field` kept it from running as a formula (the `'` it put
/// before a leading `=`, `+`, `-` or `@`).
fn unquote(cell: &str) -> String {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest.to_string(),
        _ => cell.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predictions_round_trip_and_old_files_without_speakers_read() {
        let p = Predictions {
            classes: vec!["ang".into(), "=sad".into()],
            rows: vec![PredictionRow {
                path: "a, b.wav".into(),
                truth: "ang".into(),
                predicted: "=sad".into(),
                speaker: "-x7".into(),
                probabilities: vec![0.25, 0.75],
            }],
        };
        let text = p.to_csv();
        assert_eq!(
            text,
            "path,true,predicted,speaker,ang,'=sad\n\"a, b.wav\",ang,'=sad,'-x7,0.250000,0.750000\n"
        );
        assert_eq!(Predictions::parse(&text, Path::new("p.csv")).unwrap(), p);

        let old = "path,true,predicted,ang,sad\nx.wav,sad,ang,0.6,0.4\n";
        let back = Predictions::parse(old, Path::new("p.csv")).unwrap();
        assert_eq!(back.classes, ["ang", "sad"]);
        assert_eq!(back.rows[0].speaker, "");
        assert_eq!(back.rows[0].probabilities, [0.6, 0.4]);

        let e = Predictions::parse("path,truth\n", Path::new("p.csv")).unwrap_err();
        assert!(
            e.to_string().contains("p.csv") && e.to_string().contains("`true`"),
            "{e}"
        );
        let e =
            Predictions::parse("path,true,predicted,a\nx,a,a\n", Path::new("p.csv")).unwrap_err();
        assert!(e.to_string().contains("line 2: 3 fields"), "{e}");
    }
}
