//! Benchmarks: `ser` against the report's own stack, measured in the same run.
//!
//! Every speed claim in the README comes from here. Each benchmark times our path and, when the
//! peer's Python environment is available, the peer doing the same work on the same files right
//! after, and reports the ratio. No numbers are stored in the code.

pub mod features;
pub mod train;

use std::path::{Path, PathBuf};

/// The Python interpreter of the peer's environment: `--peer-python`, else `$SER_PEER_PYTHON`.
pub fn peer_python(flag: Option<&Path>) -> Option<PathBuf> {
    flag.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("SER_PEER_PYTHON").map(PathBuf::from))
}

/// Median of a non-empty slice (the mean of the middle two for even lengths); 0 when empty.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}
