//! Paths named by data kept inside the folder they are declared relative to.
//!
//! A manifest's `path` column, a `file,bytes,sha256` list, an archive's entry names and the
//! links inside a corpus folder all come from files someone else may have written. Each names a
//! file *inside* a root the user chose (`data.path`, `--out`, the manifest's folder); one that
//! would leave it — `..`, an absolute path, a symbolic link resolving elsewhere — would make
//! `ser` read (or write) a file the user never pointed it at. The readers refuse such entries
//! with an error naming the file, the row and the fix; this module only says whether and why a
//! path leaves its root, so each reader words its own error.
//!
//! The root itself is the user's declaration and is never judged: `data.path` may be absolute,
//! hold `..` or be a link.

use std::fmt;
use std::path::{Path, PathBuf};

/// Why a path named by data would leave its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Escape {
    /// An absolute path: `/x`, `\x` or a drive (`C:x`), which `Path::join` would take as is.
    Absolute,
    /// A `..` component (with `/` or `\` as separator, so a name written on Windows is caught).
    Parent,
    /// A NUL byte, which no file name holds (and some APIs would cut the name at).
    Nul,
    /// A symbolic link, or a path through one, resolving to this place outside the root.
    Link(PathBuf),
}

impl fmt::Display for Escape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Escape::Absolute => write!(f, "an absolute path"),
            Escape::Parent => write!(f, "a `..` component"),
            Escape::Nul => write!(f, "a NUL byte"),
            Escape::Link(to) => write!(f, "a symbolic link to {}", to.display()),
        }
    }
}

/// Why `name`, written as a path relative to some root, would leave it as written; `None` when
/// it stays inside. Only the text is looked at (see [`resolves_within`] for links).
pub fn escape(name: &str) -> Option<Escape> {
    let b = name.as_bytes();
    let drive = b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':';
    if name.starts_with(['/', '\\']) || drive {
        Some(Escape::Absolute)
    } else if name.split(['/', '\\']).any(|part| part == "..") {
        Some(Escape::Parent)
    } else if name.contains('\0') {
        Some(Escape::Nul)
    } else {
        None
    }
}

/// Whether `path` (a place inside `root`, as written) is still inside `root` once symbolic links
/// are resolved. A path or root that does not exist is not judged: its reader reports it missing.
pub fn resolves_within(root: &Path, path: &Path) -> Result<(), Escape> {
    // A manifest in the current folder has an empty parent: the current folder.
    let root = if root.as_os_str().is_empty() {
        Path::new(".")
    } else {
        root
    };
    let (Ok(root), Ok(real)) = (root.canonicalize(), path.canonicalize()) else {
        return Ok(());
    };
    if real.starts_with(&root) {
        Ok(())
    } else {
        Err(Escape::Link(real))
    }
}

/// `root/name` when `name` stays inside `root`, both as written and with links resolved.
pub fn join_within(root: &Path, name: &str) -> Result<PathBuf, Escape> {
    if let Some(why) = escape(name) {
        return Err(why);
    }
    let path = root.join(name);
    resolves_within(root, &path)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_leave_are_told_apart() {
        for ok in [
            "a.wav",
            "clips/a.wav",
            "./a.wav",
            "a..b.wav",
            "..a.wav",
            "clips/.../a",
        ] {
            assert_eq!(escape(ok), None, "{ok}");
        }
        for (bad, why) in [
            ("/etc/passwd", Escape::Absolute),
            ("\\\\server\\x.wav", Escape::Absolute),
            ("C:\\x.wav", Escape::Absolute),
            ("c:x.wav", Escape::Absolute),
            ("..", Escape::Parent),
            ("../x.wav", Escape::Parent),
            ("clips/../../x.wav", Escape::Parent),
            ("clips\\..\\..\\x.wav", Escape::Parent),
            ("x\0.wav", Escape::Nul),
        ] {
            assert_eq!(escape(bad), Some(why), "{bad:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn links_are_followed_to_where_they_land() {
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("secret.wav");
        std::fs::write(&secret, b"x").unwrap();
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::write(r.join("a.wav"), b"x").unwrap();
        std::os::unix::fs::symlink(r.join("a.wav"), r.join("inside.wav")).unwrap();
        std::os::unix::fs::symlink(&secret, r.join("out.wav")).unwrap();
        std::os::unix::fs::symlink(outside.path(), r.join("sub")).unwrap();
        assert_eq!(join_within(r, "inside.wav"), Ok(r.join("inside.wav")));
        assert_eq!(join_within(r, "missing.wav"), Ok(r.join("missing.wav")));
        let real = secret.canonicalize().unwrap();
        assert_eq!(join_within(r, "out.wav"), Err(Escape::Link(real.clone())));
        assert_eq!(join_within(r, "sub/secret.wav"), Err(Escape::Link(real)));
        assert_eq!(join_within(r, "../x"), Err(Escape::Parent));
    }
}
