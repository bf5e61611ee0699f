//! Progress bars and log output that do not fight each other.
//!
//! All bars live in one [`MultiProgress`]; the tracing subscriber writes through it, so a log line
//! printed while a bar is drawn appears above the bar instead of tearing it. Bars are hidden when
//! stderr is not a terminal (CI, pipes), and on `--quiet`.

use std::io::Write;
use std::sync::OnceLock;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

static MULTI: OnceLock<MultiProgress> = OnceLock::new();

fn multi() -> &'static MultiProgress {
    MULTI.get_or_init(MultiProgress::new)
}

/// Hides every bar from now on (`--quiet`, or output that is not a terminal).
pub fn hide_all() {
    multi().set_draw_target(ProgressDrawTarget::hidden());
}

/// A bar for `len` units of work, labelled `message`, with rate and ETA.
pub fn bar(len: u64, message: impl Into<String>) -> ProgressBar {
    let style = ProgressStyle::with_template(
        "{msg:>12} [{bar:30}] {pos}/{len} {per_sec} eta {eta} {wide_msg:.dim}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    let pb = multi().add(
        ProgressBar::new(len)
            .with_style(style)
            .with_message(message.into()),
    );
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

/// A bar for `len` bytes, labelled `message`, shown in kB / MB with the byte rate and ETA.
pub fn bytes_bar(len: u64, message: impl Into<String>) -> ProgressBar {
    let style = ProgressStyle::with_template(
        "{msg:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    let pb = multi().add(
        ProgressBar::new(len)
            .with_style(style)
            .with_message(message.into()),
    );
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

/// A spinner for work of unknown length.
pub fn spinner(message: impl Into<String>) -> ProgressBar {
    let style = ProgressStyle::with_template("{spinner} {msg} {elapsed}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let pb = multi().add(
        ProgressBar::new_spinner()
            .with_style(style)
            .with_message(message.into()),
    );
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

/// Log writer for tracing: suspends the bars while a line is written.
#[derive(Clone, Copy, Default)]
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        multi().suspend(|| std::io::stderr().write_all(buf))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;
    fn make_writer(&'a self) -> Self::Writer {
        LogWriter
    }
}

/// Installs the tracing subscriber: `RUST_LOG` wins; otherwise `-v` counts pick the level
/// (0: info, 1: debug, 2+: trace) and `quiet` shows only warnings and errors.
pub fn init_logging(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let level = match (quiet, verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("ser={level},warn")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(LogWriter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .try_init();
    if quiet {
        hide_all();
    }
}
