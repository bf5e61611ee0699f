//! One error type for the whole library, and panics turned into errors.
//!
//! Every variant says what failed and names the file, key, device or job it is about and, where
//! there is one, the fix, so a message printed at the top level is enough to act on.
//! [`Error::exit_code`] maps them to the CLI's exit status, which scripts can rely on:
//!
//! | exit | meaning | variants |
//! |---|---|---|
//! | 0 | success | |
//! | 1 | something failed while doing the work | I/O, audio, corpus, data, device, training, a job, a program run, a download, ... |
//! | 2 | usage: the request itself is invalid, nothing ran | [`Error::Usage`], [`Error::Config`], [`Error::Model`] |
//! | 130, 143 | stopped by SIGINT / SIGTERM; the same command resumes | [`Error::Interrupted`] |
//!
//! Exit 2 (clap's own code for a bad command line) means "fix the command, the config file or
//! the build (a backend it lacks) and run it again"; exit 1 means the command was valid and
//! something went wrong doing it.

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

    /// A file whose contents do not follow its format (`.npy`, JSON, CSV), or a value that
    /// could not be written in it.
    #[error("{}: {message}", path.display())]
    Format { path: PathBuf, message: String },

    /// Data that do not fit together: items of another shape than the model's, labels beyond
    /// the classes, an empty part.
    #[error("{0}")]
    Data(String),

    /// A split that cannot be made from the items given (too few items or speakers for the parts).
    #[error("split: {0}")]
    Split(String),

    /// A model that cannot be built for the input it is given (a shape that collapses, a
    /// feature matrix where a vector is expected); the message names the layer and the shape.
    #[error("model: {0}")]
    Model(String),

    /// A device (backend) that is missing, cannot be brought up, failed, or cannot hold what is
    /// asked of it; `device` is e.g. `wgpu:0`.
    #[error("{device}: {message}")]
    Device { device: String, message: String },

    /// Training, checkpointing or loading a trained model failed; `path` is the run directory
    /// or file concerned.
    #[error("{}: {message}", path.display())]
    Train { path: PathBuf, message: String },

    /// A job of an experiment failed (its own error, a panic, or its features), or could not
    /// run; `id` is the job's id.
    #[error("job {id}: {message}")]
    Job { id: String, message: String },

    /// A program `ser` runs (the peer's Python, in benchmarks) failed or printed what it should
    /// not.
    #[error("{program}: {message}")]
    Command { program: String, message: String },

    /// A chart could not be drawn or written.
    #[error("{}: cannot draw the chart: {message}", path.display())]
    Plot { path: PathBuf, message: String },

    /// A download that failed or could not start; `url` is the file's URL (or the base URL of a
    /// whole fetch), `message` says why and what to do.
    #[error("{url}: {message}")]
    Download { url: String, message: String },

    /// Invalid arguments, with what to do instead.
    #[error("{0}")]
    Usage(String),

    /// Stopped by a signal (Ctrl-C, `kill`, a cluster's time limit): not a failure; the same
    /// command again resumes.
    #[error("interrupted by {}; run the same command again to resume", super::interrupt::name(*signal))]
    Interrupted { signal: i32 },

    /// Some items of a batch failed; each is listed in the message.
    #[error("{failed} of {total} files failed:\n{details}")]
    Batch {
        failed: usize,
        total: usize,
        details: String,
    },
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

    /// A format error about `path`.
    pub fn format(path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        Error::Format {
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

    /// A device error about `device` (`flex`, `wgpu:0`).
    pub fn device(device: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Device {
            device: device.into(),
            message: message.into(),
        }
    }

    /// A download error about `url`.
    pub fn download(url: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Download {
            url: url.into(),
            message: message.into(),
        }
    }

    /// A failed job `id`.
    pub fn job(id: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Job {
            id: id.into(),
            message: message.into(),
        }
    }

    /// The failures of a batch of files as one error (when bad files are not to be skipped),
    /// the first 20 listed, with the flag that skips them.
    pub fn batch(failures: &[(PathBuf, String)], total: usize) -> Self {
        const SHOWN: usize = 20;
        let mut details: Vec<String> = failures
            .iter()
            .take(SHOWN)
            .map(|(p, why)| format!("  {}: {why}", p.display()))
            .collect();
        if failures.len() > SHOWN {
            details.push(format!("  ... and {} more", failures.len() - SHOWN));
        }
        details.push("  (pass --skip-bad to leave these files out and go on)".into());
        Error::Batch {
            failed: failures.len(),
            total,
            details: details.join("\n"),
        }
    }

    /// What the storage refused, when this error (or one it was made from, kept as text) is a
    /// full disk, an exceeded quota or a read-only filesystem: every later write would fail the
    /// same way, so a sweep stops instead of failing job after job.
    pub fn storage_problem(&self) -> Option<&'static str> {
        const KINDS: [(i32, &str); 3] = [
            (28, "no space left on the device"),
            (122, "disk quota exceeded"),
            (30, "read-only filesystem"),
        ];
        if let Error::Io { source, .. } = self {
            if let Some(code) = source.raw_os_error() {
                return KINDS.iter().find(|(c, _)| *c == code).map(|(_, w)| *w);
            }
        }
        // Errors that carry an I/O error as text (Burn's recorder, a job's message).
        let text = self.to_string();
        KINDS
            .iter()
            .find(|(c, _)| text.contains(&format!("(os error {c})")))
            .map(|(_, w)| *w)
    }

    /// Whether this is a stop by a signal (not a failure).
    pub fn is_interrupted(&self) -> bool {
        matches!(self, Error::Interrupted { .. })
    }

    /// The process exit code for this error: 2 when the request itself is invalid (arguments,
    /// a config or experiment file, a model it describes), 1 for everything that fails while
    /// doing the work.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Config { .. } | Error::Model(_) => 2,
            // The shell's convention for a death by signal, which this stop stands for.
            Error::Interrupted { signal } => (128 + signal).clamp(0, 255) as u8,
            _ => 1,
        }
    }
}

/// The message a caught panic carried (`panic!` with a literal or a formatted string), if any.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> Option<String> {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
}

/// Runs `f`, turning a panic (a bug, or a library that reports failures by panicking) into its
/// message.
pub fn catch_panic<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .map_err(|payload| panic_message(&*payload).unwrap_or_else(|| "unknown panic".into()))
}

/// [`catch_panic`] without the default panic report on stderr (wgpu and cubecl report some
/// failures by panicking, and the error made of the message is report enough). The panic hook is
/// process-wide: use this around short calls only.
pub fn quietly<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = catch_panic(f);
    std::panic::set_hook(hook);
    result
}
