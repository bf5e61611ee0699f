//! Helpers shared by the test modules.

use std::path::{Path, PathBuf};

/// `../shared/<rel>` beside the checkout when it exists; otherwise `None`, after saying that the
/// calling test is skipped and why. Tests that need real data start with
/// `let Some(dir) = shared("data") else { return };`.
pub fn shared(rel: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared")
        .join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!(
            "skipped: {} is absent (../shared beside the checkout holds the real EmoDB clips, \
             CREMA-D metadata and librosa parity files)",
            p.display()
        );
        None
    }
}
