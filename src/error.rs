//! One error type for the whole library.
//!
//! Every variant names the file, key or item it is about and, where there is one, the fix, so a
//! message printed at the top level is enough to act on. `exit_code()` maps classes of failure to
//! process exit codes for the CLI.

use std::path::{Path, PathBuf};

/// `Result` with [`Error`] as the error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `ser`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory could not be read, written or listed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// An audio file could not be decoded: not audio, corrupt, truncated, or an impossible header.
    #[error("{}: cannot decode audio: {message}", path.display())]
    Decode { path: PathBuf, message: String },

    /// Resampling failed (the resampler could not be built for these rates, or rejected input).
    #[error("{}: cannot resample: {message}", path.display())]
    Resample { path: PathBuf, message: String },

    /// A file name or manifest row whose label or metadata codes are not known.
    #[error("{}: {message}", path.display())]
    Label { path: PathBuf, message: String },

    /// A corpus directory or manifest that cannot be used as given.
    #[error("{}: {message}", path.display())]
    Corpus { path: PathBuf, message: String },

    /// A configuration file (or a value given on the command line) with a bad key or value.
    #[error("{}: {key}: {message}", file.display())]
    Config {
        file: PathBuf,
        key: String,
        message: String,
    },

    /// A `.npy` array that could not be read or written, or has the wrong shape or type.
    #[error("{}: {message}", path.display())]
    Npy { path: PathBuf, message: String },

    /// A split that cannot be made from the items given (too few items or speakers for the parts).
    #[error("split: {0}")]
    Split(String),

    /// A model that cannot be built for the input it is given (a shape that collapses, a
    /// feature matrix where a vector is expected); the message names the layer and the shape.
    #[error("model: {0}")]
    Model(String),

    /// Training, checkpointing or loading a trained model failed; `path` is the run directory
    /// or file concerned.
    #[error("{}: {message}", path.display())]
    Train { path: PathBuf, message: String },

    /// A chart could not be drawn or written.
    #[error("{}: cannot draw the chart: {message}", path.display())]
    Plot { path: PathBuf, message: String },

    /// Invalid arguments or an impossible request, with what to do instead.
    #[error("{0}")]
    Usage(String),

    /// Some items of a batch failed; each is listed in the message.
    #[error("{failed} of {total} files failed:\n{details}")]
    Batch {
        failed: usize,
        total: usize,
        details: String,
    },
}

/// The message a caught panic carried (`panic!` with a literal or a formatted string), if any.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> Option<String> {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
}

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// A decode error for `path`.
    pub fn decode(path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        Error::Decode {
            path: path.as_ref().to_path_buf(),
            message: message.into(),
        }
    }

    /// A training / checkpoint error about `path`.
    pub fn train(path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        Error::Train {
            path: path.as_ref().to_path_buf(),
            message: message.into(),
        }
    }

    /// A configuration error for `key` in `file`.
    pub fn config(
        file: impl AsRef<Path>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Error::Config {
            file: file.as_ref().to_path_buf(),
            key: key.into(),
            message: message.into(),
        }
    }

    /// The error of a `--backend wgpu` request to a build without the GPU backend; `instead`
    /// ends the fix, e.g. "or use --backend flex".
    pub fn without_wgpu(instead: &str) -> Self {
        Error::Usage(format!(
            "this `ser` was built without the wgpu backend: rebuild with \
             `cargo build --release --features wgpu`, {instead}"
        ))
    }

    /// The process exit code for this error: 2 for bad input or usage, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Config { .. } | Error::Model(_) => 2,
            _ => 1,
        }
    }
}
