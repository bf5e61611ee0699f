//! Benchmarks: `ser` against the report's own stack, measured in the same run.
//!
//! Every speed claim in the README comes from here. Each benchmark times our path and, when the
//! peer's Python environment is available, the peer doing the same work on the same files right
//! after, and reports the ratio. No numbers are stored in the code.

pub mod estimate;
pub mod features;
pub mod sweep;
pub mod train;

use std::path::{Path, PathBuf};

use crate::base::{Error, Result};

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

/// Runs one of the peer's Python commands to completion behind a spinner labelled `what`; its
/// stdout, or an error with the exit status and the last lines of its stderr.
pub fn run_peer(cmd: &mut std::process::Command, what: &str) -> Result<Vec<u8>> {
    let spinner = crate::base::progress::spinner(what.to_string());
    let output = cmd.output();
    spinner.finish_and_clear();
    let program = PathBuf::from(cmd.get_program());
    let output = output.map_err(|e| Error::io(&program, e))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        return Err(Error::Command {
            program: program.display().to_string(),
            message: format!(
                "the peer failed ({what}, {}): {}",
                output.status,
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            ),
        });
    }
    Ok(output.stdout)
}

/// A JSON file the peer wrote.
pub fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::format(path, format!("not JSON: {e}")))
}

/// Writes `value` as pretty JSON to `path` (`--json`), atomically.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let text =
        serde_json::to_string_pretty(value).map_err(|e| Error::format(path, e.to_string()))?;
    crate::base::atomic::write(path, text.as_bytes())
}

/// The 1-minute load average, where the system reports one.
pub fn load_avg() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
