//! Content hashes and the short ids made of them (cache keys, checkpoint fingerprints, job ids).

use sha2::{Digest, Sha256};

/// The first `bytes` bytes of `digest` in lower-case hex.
pub fn hex_prefix(digest: &[u8], bytes: usize) -> String {
    digest
        .iter()
        .take(bytes)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The first `bytes` bytes of the SHA-256 of `data`, in hex.
pub fn sha256_prefix(data: &[u8], bytes: usize) -> String {
    hex_prefix(&Sha256::digest(data), bytes)
}

/// The SHA-256 of the file at `path`, in hex (a checksum that a damaged copy fails).
pub fn file_sha256(path: &std::path::Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    std::io::copy(&mut file, &mut h)?;
    Ok(hex_prefix(&h.finalize(), 32))
}

/// The first of `sums` (file name inside `dir` → recorded SHA-256) whose file no longer has it,
/// with what is wrong (`recorder` names who recorded the sum); `None` when all match.
pub fn mismatch(
    dir: &std::path::Path,
    sums: &std::collections::BTreeMap<String, String>,
    recorder: &str,
) -> Option<(std::path::PathBuf, String)> {
    sums.iter().find_map(|(name, want)| {
        let path = dir.join(name);
        match file_sha256(&path) {
            Ok(got) if &got == want => None,
            Ok(got) => Some((
                path,
                format!("its SHA-256 is {got}, {recorder} recorded {want}"),
            )),
            Err(e) => Some((path, format!("cannot read it ({e})"))),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(hex_prefix(&[0x0a, 0xff, 0x10], 2), "0aff");
        // SHA-256("abc") = ba7816bf...
        assert_eq!(sha256_prefix(b"abc", 4), "ba7816bf");
    }
}
