//! The report's charts, per table of the summary: accuracy and F-score per grid point with
//! error bars over seeds (`bars*.png`) and validation accuracy by epoch, mean over seeds, from
//! each run's `history.csv` (`val_accuracy*.png`).
//!
//! A run whose `history.csv` is missing or unreadable is left out of the line chart with a
//! warning naming the file; the rest of the report is drawn as usual.

use std::collections::BTreeMap;

use super::summary::{JobResult, Stat, Summary};
use super::table::{table_keys, table_title, TableCharts};
use crate::experiment::show;
use crate::plot::charts::{write_bars, write_lines, BarGroup, Curve};
use crate::rundir::{JobState, RunDir};

/// The metrics of the bar chart: name in `metrics.json`, legend label.
const BAR_METRICS: [(&str, &str); 2] =
    [("accuracy", "accuracy"), ("f1_macro", "F-score (macro F1)")];

/// `(epoch, val_accuracy)` of every epoch of a run that has one; an error names the file and
/// what is wrong with it.
fn val_accuracy(run: &RunDir) -> std::result::Result<Vec<(usize, f64)>, String> {
    let points: Vec<(usize, f64)> = run
        .read_history()
        .map_err(|e| e.to_string())?
        .into_iter()
        // A NaN validation accuracy (no validation part) has no place on the chart.
        .filter(|r| r.val_accuracy.is_finite())
        .map(|r| (r.epoch, r.val_accuracy))
        .collect();
    if points.is_empty() {
        return Err(format!(
            "{}: no epoch has a val_accuracy",
            run.history_file().display()
        ));
    }
    Ok(points)
}

/// Mean value per epoch over `runs` (each epoch over the runs that reached it: early stopping
/// ends runs at different epochs).
pub fn mean_curve(runs: &[Vec<(usize, f64)>]) -> Vec<(f64, f64)> {
    let mut sums: BTreeMap<usize, (f64, usize)> = BTreeMap::new();
    for run in runs {
        for &(epoch, v) in run {
            let e = sums.entry(epoch).or_insert((0.0, 0));
            e.0 += v;
            e.1 += 1;
        }
    }
    sums.into_iter()
        .map(|(epoch, (sum, n))| (epoch as f64, sum / n as f64))
        .collect()
}

/// A file-name part of a table's values: `epochs-30`, `filters-512-512-128`.
fn slug(keys: &[String], values: &[toml::Value]) -> String {
    // Anything but letters, digits and dots becomes one `-`; parts are joined with `_`.
    let clean = |text: String| {
        let mut out = String::new();
        for c in text.chars() {
            let c = if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            };
            if !(c == '-' && out.ends_with('-')) {
                out.push(c);
            }
        }
        out.trim_matches('-').to_string()
    };
    keys.iter()
        .zip(values)
        .map(|(k, v)| clean(format!("{}-{}", k.rsplit('.').next().unwrap_or(k), show(v))))
        .collect::<Vec<_>>()
        .join("_")
}

/// Draws the charts of every table of `s` into its folder; returns what was drawn (for the
/// documents to link) and warnings for what was left out.
pub fn write(s: &Summary) -> (Vec<TableCharts>, Vec<String>) {
    let l = &s.layout;
    let mut warnings = Vec::new();
    let mut charts = Vec::new();
    let mut used: Vec<String> = Vec::new();
    for t in table_keys(s) {
        let suffix = if l.tables_by.is_empty() {
            String::new()
        } else {
            let mut base = format!("-{}", slug(&l.tables_by, t));
            // Two tables whose values differ only in punctuation would share a file.
            if used.contains(&base) {
                base = format!("{base}-{}", used.len() + 1);
            }
            used.push(base.clone());
            base
        };
        charts.push(table_charts(s, t, &suffix, &mut warnings));
    }
    (charts, warnings)
}

/// The bar and line charts of the table of `s` whose `tables_by` values are `t`, into files
/// ending in `suffix`.
fn table_charts(
    s: &Summary,
    t: &[toml::Value],
    suffix: &str,
    warnings: &mut Vec<String>,
) -> TableCharts {
    let l = &s.layout;
    let of = if l.tables_by.is_empty() {
        String::new()
    } else {
        format!(" ({})", table_title(&l.tables_by, t))
    };
    let mut groups = Vec::new();
    let mut curves = Vec::new();
    for r in s.rows.iter().filter(|r| r.table == t) {
        let label = if r.label.is_empty() {
            s.name.clone()
        } else {
            r.label.iter().map(show).collect::<Vec<_>>().join(", ")
        };
        let done: Vec<&JobResult> = r
            .runs
            .iter()
            .map(|&i| &s.jobs[i])
            .filter(|j| j.state == JobState::Done)
            .collect();
        let values: Vec<(f64, Option<f64>)> = BAR_METRICS
            .iter()
            .map(|(m, _)| {
                let v: Vec<f64> = done
                    .iter()
                    .filter_map(|j| j.metrics.get(*m).copied())
                    .collect();
                Stat::of(&v).map_or((f64::NAN, None), |st| (st.mean, st.std))
            })
            .collect();
        if values.iter().any(|v| v.0.is_finite()) {
            groups.push(BarGroup {
                label: label.clone(),
                values,
            });
        }
        let mut runs = Vec::new();
        for j in &done {
            match val_accuracy(&RunDir::new(s.dir.join(&j.job.id))) {
                Ok(h) => runs.push(h),
                Err(e) => warnings.push(format!(
                    "{e}: run left out of the validation-accuracy chart"
                )),
            }
        }
        if !runs.is_empty() {
            curves.push(Curve {
                label: format!("{label} (n = {})", runs.len()),
                points: mean_curve(&runs),
            });
        }
    }
    let mut drawn = TableCharts {
        table: t.to_vec(),
        ..TableCharts::default()
    };
    if !groups.is_empty() {
        let file = format!("bars{suffix}.png");
        let metrics: Vec<String> = BAR_METRICS.iter().map(|m| m.1.to_string()).collect();
        let title = format!("Accuracy and F-score by grid point{of}");
        let x_desc = l.rows.join(", ");
        match write_bars(&s.dir.join(&file), &title, &x_desc, &metrics, &groups) {
            Ok(()) => drawn.bars = Some(file),
            Err(e) => warnings.push(format!("bar chart not drawn: {e}")),
        }
    }
    if !curves.is_empty() {
        let file = format!("val_accuracy{suffix}.png");
        let title = format!("Validation accuracy by epoch, mean over seeds{of}");
        match write_lines(&s.dir.join(&file), &title, "validation accuracy", &curves) {
            Ok(()) => drawn.val_accuracy = Some(file),
            Err(e) => warnings.push(format!("validation-accuracy chart not drawn: {e}")),
        }
    }
    drawn
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn val_accuracy_leaves_out_epochs_without_one_and_says_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        std::fs::write(
            run.history_file(),
            "epoch,loss,accuracy,val_loss,val_accuracy,seconds\n1,1.0,0.3,1.1,NaN,0.1\n2,0.9,0.4,1.0,0.5,0.1\n",
        )
        .unwrap();
        assert_eq!(val_accuracy(&run).unwrap(), [(2, 0.5)]);
        std::fs::write(run.history_file(), "epoch,loss\n1,1.0\n").unwrap();
        let e = val_accuracy(&run).unwrap_err();
        assert!(
            e.contains("history.csv") && e.contains("val_accuracy"),
            "{e}"
        );
        std::fs::write(run.history_file(), "epoch,val_accuracy\n1,0.5\n2,x\n").unwrap();
        let e = val_accuracy(&run).unwrap_err();
        assert!(e.contains("line 3"), "{e}");
        let e = val_accuracy(&RunDir::new(dir.path().join("nope"))).unwrap_err();
        assert!(e.contains("history.csv: missing"), "{e}");
    }

    #[test]
    fn mean_over_the_runs_that_reached_each_epoch() {
        let m = mean_curve(&[vec![(1, 0.2), (2, 0.4), (3, 0.6)], vec![(1, 0.4), (2, 0.6)]]);
        assert_eq!(m.len(), 3);
        assert!((m[0].1 - 0.3).abs() < 1e-12 && (m[1].1 - 0.5).abs() < 1e-12);
        assert!((m[2].1 - 0.6).abs() < 1e-12);
    }

    #[test]
    fn slugs_are_file_names() {
        let keys = vec!["model.filters".to_string(), "train.epochs".to_string()];
        let values = vec![
            toml::Value::try_from(vec![512, 512, 128]).unwrap(),
            toml::Value::Integer(30),
        ];
        assert_eq!(slug(&keys, &values), "filters-512-512-128_epochs-30");
    }
}
