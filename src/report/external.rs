//! Another system's predictions, as a side of `ser report --compare` (`ext:DIR`).
//!
//! `DIR` holds one CSV per run, named by its seed: `seed-<N>.csv` (`seed-0.csv`, `seed-1.csv`,
//! ...; other files are ignored), compared with the ser run of `train.seed = N`. Each file is
//! `clip,true,predicted` and optionally one probability column per class, named by the class:
//! one row per test clip. `clip` is the clip's path relative to the corpus folder, as ser's
//! `predictions.csv` writes it, or just its file name where that names one test clip of the run.
//! The clips must be exactly the ser run's test clips, with the same true labels: anything else
//! is an error naming the file and the clip, never a clip silently dropped. Speakers (for the
//! bootstrap) come from the ser run.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::base::{csv, Error, Result};
use crate::eval::{PredictionRow, Predictions};

/// What marks a `--compare` side as external predictions.
pub const PREFIX: &str = "ext:";

/// The columns every file has; every other column is a class's probability.
const FIXED: [&str; 3] = ["clip", "true", "predicted"];

/// One clip of an external file.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalRow {
    /// The file's line (1-based), for errors.
    pub line: usize,
    pub clip: String,
    pub truth: String,
    pub predicted: String,
    /// In [`External::classes`] order (empty without probability columns).
    pub probabilities: Vec<f32>,
}

/// One external run's predictions.
#[derive(Debug, Clone, PartialEq)]
pub struct External {
    /// The file, named in every error.
    pub file: PathBuf,
    /// The probability columns' classes, in file order (empty: no probabilities).
    pub classes: Vec<String>,
    pub rows: Vec<ExternalRow>,
}

/// `seed-<N>.csv` → N.
fn seed_of(name: &str) -> Option<std::result::Result<u64, ()>> {
    let n = name.strip_prefix("seed-")?.strip_suffix(".csv")?;
    Some(n.parse::<u64>().map_err(|_| ()))
}

/// The `seed-<N>.csv` files of `dir`, by seed; an error when there are none or one's name has
/// no number.
pub fn seed_files(dir: &Path) -> Result<BTreeMap<u64, PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut out = BTreeMap::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        match seed_of(&name) {
            None => {}
            Some(Ok(seed)) => {
                out.insert(seed, entry.path());
            }
            Some(Err(())) => {
                return Err(Error::format(
                    entry.path(),
                    "not `seed-<N>.csv` with N a whole number (e.g. seed-0.csv)",
                ))
            }
        }
    }
    if out.is_empty() {
        return Err(Error::Usage(format!(
            "--compare {PREFIX}{}: no seed-<N>.csv files (one per run: seed-0.csv, seed-1.csv, \
             ...; columns clip,true,predicted[,one per class])",
            dir.display()
        )));
    }
    Ok(out)
}

impl External {
    /// Reads and parses `file`.
    pub fn read(file: &Path) -> Result<External> {
        let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
        External::parse(&text, file)
    }

    /// Parses the text of `file`: the three columns required, a clip at most once, labels among
    /// the probability columns where there are any, probabilities numbers in [0, 1].
    pub fn parse(text: &str, file: &Path) -> Result<External> {
        let bad = |message: String| Error::format(file, message);
        let (header, lines) = csv::header_and_lines(text).map_err(bad)?;
        let col = |name: &str| header.iter().position(|h| h == name);
        let need = |name: &str| {
            col(name).ok_or_else(|| {
                bad(format!(
                    "no `{name}` column (header `{}`): the columns are clip,true,predicted and \
                     optionally one probability column per class",
                    header.join(",")
                ))
            })
        };
        let (c, t, p) = (need("clip")?, need("true")?, need("predicted")?);
        let class_cols: Vec<usize> = (0..header.len())
            .filter(|&i| !FIXED.contains(&header[i].as_str()))
            .collect();
        let classes: Vec<String> = class_cols.iter().map(|&i| header[i].clone()).collect();
        if let Some(dup) = classes
            .iter()
            .enumerate()
            .find(|(i, x)| classes[..*i].contains(x))
        {
            return Err(bad(format!("line 1: column `{}` twice", dup.1)));
        }
        let mut rows = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, line) in lines {
            let n = i + 1;
            let cells = csv::parse_record(line).map_err(|e| bad(format!("line {n}: {e}")))?;
            if cells.len() != header.len() {
                return Err(bad(format!(
                    "line {n}: {} fields, the header has {}",
                    cells.len(),
                    header.len()
                )));
            }
            let clip = cells[c].replace('\\', "/");
            let clip = clip.strip_prefix("./").unwrap_or(&clip).to_string();
            if clip.is_empty() {
                return Err(bad(format!("line {n}: empty clip")));
            }
            if let Some(first) = seen.insert(clip.clone(), n) {
                return Err(bad(format!(
                    "clip {clip} twice (lines {first} and {n}): one row per test clip"
                )));
            }
            for (what, label) in [("true", &cells[t]), ("predicted", &cells[p])] {
                if !classes.is_empty() && !classes.contains(label) {
                    return Err(bad(format!(
                        "line {n}, clip {clip}: unknown {what} label `{label}` (the probability \
                         columns' classes are {})",
                        classes.join(", ")
                    )));
                }
            }
            let mut probabilities = Vec::with_capacity(class_cols.len());
            for &k in &class_cols {
                let v = cells[k]
                    .parse::<f32>()
                    .ok()
                    .filter(|v| (0.0..=1.0).contains(v));
                let Some(v) = v else {
                    return Err(bad(format!(
                        "line {n}, clip {clip}: probability of {} `{}` is not a number in [0, 1]",
                        header[k], cells[k]
                    )));
                };
                probabilities.push(v);
            }
            rows.push(ExternalRow {
                line: n,
                clip,
                truth: cells[t].clone(),
                predicted: cells[p].clone(),
                probabilities,
            });
        }
        if rows.is_empty() {
            return Err(bad("no clips (a header only)".into()));
        }
        Ok(External {
            file: file.to_path_buf(),
            classes,
            rows,
        })
    }

    /// These predictions on the clips of a ser run's `ser` (read from `ser_file`): its paths,
    /// classes (probabilities reordered to them) and speakers. An error naming the file and the
    /// clip when a clip of either is missing from the other, matches twice, or has another true
    /// label, or a label is not one of the run's classes.
    pub fn align(&self, ser: &Predictions, ser_file: &Path) -> Result<Predictions> {
        let bad = |message: String| Error::format(&self.file, message);
        let by_path: HashMap<&str, usize> = ser
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.path.as_str(), i))
            .collect();
        let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, r) in ser.rows.iter().enumerate() {
            by_name.entry(file_name(&r.path)).or_default().push(i);
        }
        let class = |label: &str, what: &str, row: &ExternalRow| {
            ser.classes.iter().position(|c| c == label).ok_or_else(|| {
                bad(format!(
                    "line {}, clip {}: unknown {what} label `{label}`: the ser run ({}) knows {}",
                    row.line,
                    row.clip,
                    ser_file.display(),
                    ser.classes.join(", ")
                ))
            })
        };
        // Probability columns: the run's classes, in the file's order.
        let order: Option<Vec<usize>> = if self.classes.is_empty() {
            None
        } else {
            let mut sorted_ext = self.classes.clone();
            let mut sorted_ser = ser.classes.clone();
            sorted_ext.sort();
            sorted_ser.sort();
            if sorted_ext != sorted_ser {
                return Err(bad(format!(
                    "probability columns {} are not the ser run's classes {} ({})",
                    self.classes.join(","),
                    ser.classes.join(","),
                    ser_file.display()
                )));
            }
            Some(
                ser.classes
                    .iter()
                    .map(|c| self.classes.iter().position(|x| x == c).unwrap_or(0))
                    .collect(),
            )
        };
        let mut matched: Vec<Option<&ExternalRow>> = vec![None; ser.rows.len()];
        for row in &self.rows {
            let i = match by_path.get(row.clip.as_str()) {
                Some(&i) => i,
                None => match by_name.get(file_name(&row.clip)).map(Vec::as_slice) {
                    Some([i]) => *i,
                    Some(several) => {
                        let paths: Vec<&str> =
                            several.iter().map(|&i| ser.rows[i].path.as_str()).collect();
                        return Err(bad(format!(
                            "line {}: clip {} names several test clips of the ser run ({}): \
                             give its path relative to the corpus folder",
                            row.line,
                            row.clip,
                            paths.join(", ")
                        )));
                    }
                    None => {
                        return Err(bad(format!(
                            "line {}: clip {} is not a test clip of the ser run ({}): not the \
                             same split?",
                            row.line,
                            row.clip,
                            ser_file.display()
                        )))
                    }
                },
            };
            if let Some(first) = matched[i] {
                return Err(bad(format!(
                    "lines {} and {}: clips {} and {} are both the ser run's test clip {}",
                    first.line, row.line, first.clip, row.clip, ser.rows[i].path
                )));
            }
            let (truth, _) = (
                class(&row.truth, "true", row)?,
                class(&row.predicted, "predicted", row)?,
            );
            if ser.classes[truth] != ser.rows[i].truth {
                return Err(bad(format!(
                    "line {}, clip {}: true label `{}`, but the ser run ({}) says `{}`",
                    row.line,
                    row.clip,
                    row.truth,
                    ser_file.display(),
                    ser.rows[i].truth
                )));
            }
            matched[i] = Some(row);
        }
        let mut rows = Vec::with_capacity(ser.rows.len());
        for (r, m) in ser.rows.iter().zip(&matched) {
            let Some(m) = m else {
                return Err(bad(format!(
                    "the ser run's test clip {} ({}) is missing: the file must have every test \
                     clip of the run",
                    r.path,
                    ser_file.display()
                )));
            };
            rows.push(PredictionRow {
                path: r.path.clone(),
                truth: r.truth.clone(),
                predicted: m.predicted.clone(),
                speaker: r.speaker.clone(),
                probabilities: order
                    .as_ref()
                    .map(|o| o.iter().map(|&k| m.probabilities[k]).collect())
                    .unwrap_or_default(),
            });
        }
        Ok(Predictions {
            classes: ser.classes.clone(),
            rows,
        })
    }
}

/// The last component of a `/`-separated path.
fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ser() -> Predictions {
        let row = |path: &str, truth: &str, speaker: &str| PredictionRow {
            path: path.into(),
            truth: truth.into(),
            predicted: truth.into(),
            speaker: speaker.into(),
            probabilities: vec![0.5, 0.5],
        };
        Predictions {
            classes: vec!["ANG".into(), "SAD".into()],
            rows: vec![
                row("03a01Wa.wav", "ANG", "03"),
                row("sub/08b02Tb.wav", "SAD", "08"),
            ],
        }
    }

    fn parse(text: &str) -> Result<External> {
        External::parse(text, Path::new("ext/seed-0.csv"))
    }

    fn err(r: Result<impl std::fmt::Debug>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn a_good_file_aligns_to_the_runs_clips_by_path_or_file_name() {
        let e = parse("clip,true,predicted,SAD,ANG\n08b02Tb.wav,SAD,ANG,0.25,0.75\n./03a01Wa.wav,ANG,ANG,0.1,0.9\n").unwrap();
        assert_eq!(e.classes, ["SAD", "ANG"]);
        assert_eq!(e.rows[1].clip, "03a01Wa.wav");
        let p = e.align(&ser(), Path::new("run/predictions.csv")).unwrap();
        assert_eq!(p.classes, ["ANG", "SAD"]);
        assert_eq!(p.rows[0].path, "03a01Wa.wav");
        assert_eq!(p.rows[0].probabilities, [0.9, 0.1]);
        assert_eq!(
            (
                p.rows[1].path.as_str(),
                p.rows[1].predicted.as_str(),
                p.rows[1].speaker.as_str()
            ),
            ("sub/08b02Tb.wav", "ANG", "08")
        );
        assert_eq!(p.rows[1].probabilities, [0.75, 0.25]);
        // Without probabilities; the full relative path matches too.
        let e =
            parse("clip,true,predicted\nsub/08b02Tb.wav,SAD,SAD\n03a01Wa.wav,ANG,SAD\n").unwrap();
        let p = e.align(&ser(), Path::new("run/predictions.csv")).unwrap();
        assert!(p.rows.iter().all(|r| r.probabilities.is_empty()));
        assert_eq!(p.rows[0].predicted, "SAD");
    }

    #[test]
    fn bad_files_are_errors_naming_the_file_and_the_clip() {
        let e = err(parse("clip,predicted\na.wav,ANG\n"));
        assert!(
            e.contains("ext/seed-0.csv") && e.contains("no `true` column"),
            "{e}"
        );
        let e = err(parse(
            "clip,true,predicted,ANG,SAD\na.wav,ANG,HAP,0.5,0.5\n",
        ));
        assert!(
            e.contains("ext/seed-0.csv")
                && e.contains("clip a.wav")
                && e.contains("unknown predicted label `HAP`"),
            "{e}"
        );
        let e = err(parse(
            "clip,true,predicted\na.wav,ANG,ANG\nb.wav,SAD,SAD\na.wav,ANG,SAD\n",
        ));
        assert!(e.contains("clip a.wav twice (lines 2 and 4)"), "{e}");
        let e = err(parse("clip,true,predicted,ANG,SAD\na.wav,ANG,ANG,x,0.5\n"));
        assert!(e.contains("probability of ANG `x`"), "{e}");
        let e = err(parse("clip,true,predicted\n"));
        assert!(e.contains("no clips"), "{e}");

        let run = Path::new("run/predictions.csv");
        // A clip the run did not test, and a test clip the file lacks.
        let e = err(
            parse("clip,true,predicted\n03a01Wa.wav,ANG,ANG\n09a01Wa.wav,ANG,ANG\n")
                .unwrap()
                .align(&ser(), run),
        );
        assert!(
            e.contains("ext/seed-0.csv")
                && e.contains("clip 09a01Wa.wav is not a test clip")
                && e.contains("run/predictions.csv"),
            "{e}"
        );
        let e = err(parse("clip,true,predicted\n03a01Wa.wav,ANG,ANG\n")
            .unwrap()
            .align(&ser(), run));
        assert!(
            e.contains("test clip sub/08b02Tb.wav (run/predictions.csv) is missing"),
            "{e}"
        );
        // Labels that disagree, and a label the run does not know.
        let e = err(
            parse("clip,true,predicted\n03a01Wa.wav,SAD,ANG\n08b02Tb.wav,SAD,SAD\n")
                .unwrap()
                .align(&ser(), run),
        );
        assert!(
            e.contains("clip 03a01Wa.wav: true label `SAD`, but the ser run"),
            "{e}"
        );
        let e = err(
            parse("clip,true,predicted\n03a01Wa.wav,ANG,HAP\n08b02Tb.wav,SAD,SAD\n")
                .unwrap()
                .align(&ser(), run),
        );
        assert!(
            e.contains("clip 03a01Wa.wav: unknown predicted label `HAP`"),
            "{e}"
        );
        // The same clip twice under two names, and other classes.
        let e = err(
            parse("clip,true,predicted\n03a01Wa.wav,ANG,ANG\nx/03a01Wa.wav,ANG,ANG\n")
                .unwrap()
                .align(&ser(), run),
        );
        assert!(
            e.contains("are both the ser run's test clip 03a01Wa.wav"),
            "{e}"
        );
        let e = err(
            parse("clip,true,predicted,ANG,HAP\n03a01Wa.wav,ANG,ANG,1,0\n")
                .unwrap()
                .align(&ser(), run),
        );
        assert!(e.contains("are not the ser run's classes"), "{e}");
    }

    #[test]
    fn seed_files_are_named_by_seed() {
        let dir = tempfile::tempdir().unwrap();
        let e = err(seed_files(dir.path()));
        assert!(e.contains("no seed-<N>.csv files"), "{e}");
        for name in ["seed-0.csv", "seed-12.csv", "seed-0.json", "notes.txt"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let files = seed_files(dir.path()).unwrap();
        assert_eq!(files.keys().copied().collect::<Vec<_>>(), [0, 12]);
        std::fs::write(dir.path().join("seed-x.csv"), "").unwrap();
        let e = err(seed_files(dir.path()));
        assert!(
            e.contains("seed-x.csv") && e.contains("whole number"),
            "{e}"
        );
    }
}
