//! The embedded synthetic corpus (stub: the real generator replaces this file at merge).

use std::path::Path;

use crate::error::{Error, Result};

/// Generates the synthetic corpus into `dir` unless a complete one is already there.
pub fn ensure(dir: &Path, actors: usize, seed: u64) -> Result<()> {
    let _ = (actors, seed);
    Err(Error::Corpus {
        path: dir.to_path_buf(),
        message: "the synthetic corpus generator is not built yet".into(),
    })
}
