//! `[search]`: how a sweep spends its epochs on the grid (the runner's `halving` does it), and
//! the record of what it stopped (`halving.json` in the results folder, read by the report).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::base::{atomic, Error, Result};

/// File in the results folder recording the cuts.
pub const CUTS_FILE: &str = "halving.json";

/// `[search]`: how a sweep spends its epochs on the grid.
///
/// ```toml
/// [search]
/// kind = "halving"   # every point trains min_epochs, the better 1/eta continue, and so on
/// min_epochs = 5     # the first rung (then 10, 20, ... below train.epochs)
/// eta = 2            # keep the better half at each rung (default)
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Search {
    /// Only `"halving"`: successive halving on validation macro F1.
    pub kind: SearchKind,
    /// Epochs every grid point trains before the first cut.
    pub min_epochs: usize,
    /// 1/eta of the points go on at each rung, and the next rung is eta times as long.
    #[serde(default = "default_eta")]
    pub eta: usize,
}

/// `search.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SearchKind {
    /// Successive halving (Jamieson & Talwalkar 2016; one bracket of Hyperband).
    Halving,
}

fn default_eta() -> usize {
    2
}

impl Search {
    /// How many of `alive` points go on past a rung: the better 1/eta, at least one.
    pub fn keep(&self, alive: usize) -> usize {
        alive.div_ceil(self.eta).max(1)
    }

    /// The epochs at which points are cut, for runs of `epochs` epochs: min_epochs, then eta
    /// times the previous, while below `epochs`.
    pub fn rungs(&self, epochs: usize) -> Vec<usize> {
        let mut rungs = Vec::new();
        let mut r = self.min_epochs;
        while r < epochs {
            rungs.push(r);
            r = r.saturating_mul(self.eta);
        }
        rungs
    }

    pub(crate) fn check(&self, file: &Path) -> Result<()> {
        if self.min_epochs == 0 {
            return Err(Error::config(
                file,
                "search.min_epochs",
                "must be at least 1",
            ));
        }
        if !(2..=100).contains(&self.eta) {
            return Err(Error::config(
                file,
                "search.eta",
                format!(
                    "must be 2 to 100 (2 keeps the better half), got {}",
                    self.eta
                ),
            ));
        }
        Ok(())
    }
}

/// One grid point stopped at a rung.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cut {
    /// The epoch it was stopped after.
    pub epoch: usize,
    /// Its grid values (seed keys left out).
    pub point: String,
    /// Its jobs.
    pub jobs: Vec<String>,
    /// Mean validation macro F1 of its jobs at `epoch` (`None`: none had one).
    pub val_macro_f1: Option<f64>,
    /// Its rank among the points at that rung (1: best).
    pub rank: usize,
    /// Points at that rung.
    pub of: usize,
}

/// Writes `halving.json`: the cuts, for the report.
pub fn write_cuts(out: &Path, cuts: &[Cut]) -> Result<()> {
    let path = out.join(CUTS_FILE);
    let text = serde_json::to_string_pretty(cuts)
        .map_err(|e| Error::format(&path, format!("cannot serialise the cuts: {e}")))?;
    atomic::write(&path, text.as_bytes())
}

/// The cuts recorded in the results folder `out` (none where no search ran).
pub fn read_cuts(out: &Path) -> Result<Vec<Cut>> {
    let path = out.join(CUTS_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map_err(|e| Error::format(&path, format!("not a halving record: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::io(&path, e)),
    }
}
