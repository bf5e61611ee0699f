//! `[report]`: how an experiment's tables are laid out, and the published numbers shown beside
//! ours. Parsed with the experiment (so `toml`'s errors name the key), resolved against its jobs
//! ([`super::Experiment::layout`]) before anything runs, read by the report stage.
//!
//! ```toml
//! [report]
//! rows = ["model.filters"]                    # default: the grid keys that vary, but seeds
//! tables_by = ["model.kind", "train.epochs"]  # one table per value; default: one table
//! metrics = ["accuracy", "f1_macro"]          # default: DEFAULT_METRICS
//! seeds = ["train.seed"]                      # averaged over; default: varying `*.seed` keys
//! note = "free text printed under the title"
//! by = ["sex", "age"]                         # accuracy and F1 per demographic group too
//!
//! [[report.reference]]                        # published numbers, shown beside ours
//! "model.filters" = [512, 512, 128]           # dotted keys: which rows it is for
//! "train.epochs" = 30
//! accuracy = 0.486789                         # metric names: the values
//! f1_macro = 0.471517
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use toml::Table;

use super::point::{flatten, value_of, Point};
use super::Job;
use crate::base::{Error, Result};
use crate::config::DEMOGRAPHICS;

/// The metrics a table can show: name in `metrics.json` and `[report].metrics`, column head,
/// decimals.
pub const METRICS: [(&str, &str, usize); 7] = [
    ("accuracy", "acc", 4),
    ("human_accuracy", "listeners acc (voice)", 4),
    ("f1_macro", "f-score (macro F1)", 4),
    ("f1_weighted", "weighted F1", 4),
    ("best_epoch", "best val epoch", 1),
    ("epochs_run", "epochs run", 1),
    ("train_seconds", "train s", 1),
];

/// Shown when `[report].metrics` is not set (and `human_accuracy` after `accuracy` when the runs
/// have it: CREMA-D's crowd on the same test clips).
pub const DEFAULT_METRICS: [&str; 5] = [
    "accuracy",
    "f1_macro",
    "f1_weighted",
    "best_epoch",
    "train_seconds",
];

/// `[report]`, as written (also parsed with the whole experiment file, for `toml`'s errors).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LayoutFile {
    rows: Option<Vec<String>>,
    #[serde(default)]
    tables_by: Vec<String>,
    metrics: Option<Vec<String>>,
    seeds: Option<Vec<String>>,
    note: Option<String>,
    #[serde(default)]
    by: Vec<String>,
    #[serde(default)]
    reference: Vec<Table>,
}

/// Published numbers for the rows whose keys match.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    /// Dotted keys and the values a row must have.
    pub when: Point,
    /// Metric name → published value.
    pub values: BTreeMap<String, f64>,
}

/// How an experiment's tables are laid out, resolved against its jobs.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Keys that label rows, in column order.
    pub rows: Vec<String>,
    /// Keys that split the rows into tables.
    pub tables_by: Vec<String>,
    /// Metric names, in column order.
    pub metrics: Vec<String>,
    /// Whether `metrics` was given (else it is the default, which the runs may extend).
    pub metrics_given: bool,
    /// Demographic attributes to break accuracy and F1 down by (`sex`, `age`, ...).
    pub by: Vec<String>,
    /// Keys averaged over.
    pub seeds: Vec<String>,
    /// Printed under the title.
    pub note: Option<String>,
    /// Published numbers.
    pub references: Vec<Reference>,
}

/// Resolves `[report]` against the grid: defaults, and checks that name the key.
pub fn resolve(t: &Table, grid_keys: &[String], jobs: &[Job], origin: &Path) -> Result<Layout> {
    let file: LayoutFile = t.clone().try_into().map_err(|e: toml::de::Error| {
        let key = e
            .message()
            .split('`')
            .nth(1)
            .map_or_else(|| "report".to_string(), |k| format!("report.{k}"));
        Error::config(origin, key, e.message().trim_end().to_string())
    })?;
    let bad = |key: &str, msg: String| Err(Error::config(origin, key, msg));
    let known =
        |k: &str| grid_keys.iter().any(|g| g == k) || jobs.iter().any(|j| value_of(j, k).is_some());
    let seeds = file.seeds.clone().unwrap_or_else(|| {
        grid_keys
            .iter()
            // The split's seed too: the report's protocol draws split and weights from one seed
            // (`random_state`), so both vary together; to compare splits, name it in `rows`.
            .filter(|k| {
                k.ends_with(".seed")
                    && !file.rows.iter().flatten().any(|r| r == *k)
                    && !file.tables_by.contains(k)
            })
            .cloned()
            .collect()
    });
    for (what, keys) in [
        ("report.rows", file.rows.as_deref().unwrap_or(&[])),
        ("report.tables_by", &file.tables_by[..]),
        ("report.seeds", &seeds[..]),
    ] {
        if let Some(k) = keys.iter().find(|k| !known(k)) {
            return bad(
                what,
                format!("`{k}` is not a key of the config (write dotted keys such as \"model.filters\")"),
            );
        }
    }
    let tables_by = file.tables_by.clone();
    let mut rows = file.rows.clone().unwrap_or_default();
    // Every varying key that is neither a seed nor a table key labels rows: never average over
    // a setting silently.
    for k in grid_keys {
        if !seeds.contains(k) && !tables_by.contains(k) && !rows.contains(k) {
            rows.push(k.clone());
        }
    }
    let metrics: Vec<String> = file
        .metrics
        .clone()
        .unwrap_or_else(|| DEFAULT_METRICS.iter().map(|s| s.to_string()).collect());
    let names: Vec<&str> = METRICS.iter().map(|m| m.0).collect();
    if let Some(m) = metrics.iter().find(|m| !names.contains(&m.as_str())) {
        return bad(
            "report.metrics",
            format!(
                "unknown metric `{m}`: expected some of {}",
                names.join(", ")
            ),
        );
    }
    if let Some(a) = file.by.iter().find(|a| !DEMOGRAPHICS.contains(&a.as_str())) {
        return bad(
            "report.by",
            format!(
                "unknown attribute `{a}`: expected some of {}",
                DEMOGRAPHICS.join(", ")
            ),
        );
    }
    let mut references = Vec::new();
    for (i, r) in file.reference.iter().enumerate() {
        let mut reference = Reference {
            when: Point::new(),
            values: BTreeMap::new(),
        };
        for (k, v) in flatten(r.clone()) {
            if k.contains('.') {
                if !known(&k) {
                    return bad(
                        &format!("report.reference[{i}].\"{k}\""),
                        "is not a key of the config".into(),
                    );
                }
                reference.when.insert(k, v);
            } else if names.contains(&k.as_str()) {
                let x = v.as_float().or_else(|| v.as_integer().map(|i| i as f64));
                match x {
                    Some(x) => {
                        reference.values.insert(k, x);
                    }
                    None => {
                        return bad(
                            &format!("report.reference[{i}].{k}"),
                            format!("expected a number, got {v}"),
                        )
                    }
                }
            } else {
                return bad(
                    &format!("report.reference[{i}].{k}"),
                    format!(
                        "expected a dotted config key (\"train.epochs\") or a metric ({})",
                        names.join(", ")
                    ),
                );
            }
        }
        references.push(reference);
    }
    Ok(Layout {
        rows,
        tables_by,
        metrics,
        metrics_given: file.metrics.is_some(),
        by: file.by,
        seeds,
        note: file.note,
        references,
    })
}
