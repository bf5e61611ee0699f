//! Ctrl-C and `kill` (SIGINT, SIGTERM: also what a cluster sends at a job's time limit), turned
//! into a clean stop instead of a death at a random instruction.
//!
//! The handler only records the signal; long loops (training steps, feature extraction, corpus
//! generation, the runner taking its next job) ask [`check`] and return
//! [`Error::Interrupted`] at their next step. So a write that has begun completes (and is atomic
//! anyway), the job is recorded as interrupted rather than failed, and the process exits within
//! a step's time with `128 + signal` (130 for Ctrl-C, 143 for SIGTERM). A second signal ends the
//! process at once, for a step that takes too long.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use super::error::{Error, Result};

/// The signal received (0: none), shared with the handlers.
fn signal() -> &'static Arc<AtomicUsize> {
    static SIGNAL: OnceLock<Arc<AtomicUsize>> = OnceLock::new();
    SIGNAL.get_or_init(|| Arc::new(AtomicUsize::new(0)))
}

/// Installs the handlers (once per process; later calls do nothing). Without it, signals keep
/// their default effect (the process dies), which is what library users and tests get.
pub fn install() -> Result<()> {
    static INSTALLED: AtomicBool = AtomicBool::new(false);
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGINT, SIGTERM};
        for sig in [SIGINT, SIGTERM] {
            let seen = Arc::new(AtomicBool::new(false));
            // Registered first, so it runs before `seen` is set: a second signal exits at once.
            signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&seen))
                .and_then(|_| signal_hook::flag::register(sig, seen))
                .and_then(|_| {
                    signal_hook::flag::register_usize(sig, Arc::clone(signal()), sig as usize)
                })
                .map_err(|e| Error::Usage(format!("cannot install the signal handlers: {e}")))?;
        }
    }
    Ok(())
}

/// The signal received since [`install`], if any.
pub fn requested() -> Option<i32> {
    match signal().load(Ordering::SeqCst) {
        0 => None,
        s => Some(s as i32),
    }
}

/// `Err(Error::Interrupted)` once a signal has been received.
pub fn check() -> Result<()> {
    match requested() {
        None => Ok(()),
        Some(signal) => Err(Error::Interrupted { signal }),
    }
}

/// A signal's name: `SIGINT`, `SIGTERM`, or its number.
pub fn name(signal: i32) -> String {
    match signal {
        2 => "SIGINT".into(),
        15 => "SIGTERM".into(),
        s => format!("signal {s}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_nothing_requested_by_default() {
        assert_eq!(name(2), "SIGINT");
        assert_eq!(name(15), "SIGTERM");
        assert!(requested().is_none());
        assert!(check().is_ok());
        let e = Error::Interrupted { signal: 15 };
        assert_eq!(e.exit_code(), 143);
        assert!(e.is_interrupted());
    }
}
