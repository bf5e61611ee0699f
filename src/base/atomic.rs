//! Files and folders that appear whole or not at all.
//!
//! Everything is written under a temporary name beside its target (a hidden
//! `.NAME.PID-N.tmp.EXT`, unique per process and call, so two processes writing the same file never
//! write into one temporary) and renamed over the target only once complete. A reader, or a
//! process started after a kill, sees the old version or the new one, never a part; a killed
//! writer leaves at most a hidden temporary that nothing reads.
//!
//! [`write_with`] is the one primitive for files ([`write()`](fn@write) is it with bytes in hand);
//! [`write_dir`] does the same for a folder built in one go.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::error::{Error, Result};

/// Writes `bytes` to `path` atomically.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    write_with(path, |tmp| {
        fs::write(tmp, bytes).map_err(|e| Error::io(tmp, e))
    })
}

/// Lets `fill` write the file's contents to a temporary path beside `path` (with the same
/// extension, for writers that choose a format by it), then renames it into place. On error the
/// temporary is removed and `path` is left as it was.
pub fn write_with(path: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let tmp = temporary(path);
    let result = fill(&tmp).and_then(|()| fs::rename(&tmp, path).map_err(|e| Error::io(path, e)));
    if result.is_err() {
        // Best effort: the original error is what matters.
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Builds the folder `path` atomically: `fill` writes its contents into a fresh temporary folder
/// beside it, which then replaces `path` (an existing `path` is moved aside first and removed
/// last, and put back if the new one cannot be moved in).
pub fn write_dir(path: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    remove_dead_builds_of(path);
    let tmp = temporary(path);
    fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    if let Err(e) = fill(&tmp) {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if !path.exists() {
        return fs::rename(&tmp, path).map_err(|e| {
            let _ = fs::remove_dir_all(&tmp);
            Error::io(path, e)
        });
    }
    let old = temporary(path);
    fs::rename(path, &old).map_err(|e| Error::io(path, e))?;
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::rename(&old, path);
        let _ = fs::remove_dir_all(&tmp);
        return Err(Error::io(path, e));
    }
    remove_any(&old)
}

/// Removes `path`, file or folder; nothing there is not an error.
pub fn remove_any(path: &Path) -> Result<()> {
    let result = match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    };
    result.map_err(|e| Error::io(path, e))
}

/// Removes the temporaries that writers killed mid-write (Ctrl-C, a crash) left directly in
/// `dir`, and returns how many. Such a leftover is never read as the file it was meant to become,
/// but a folder that is listed by extension would see it: a temporary of `clip.wav` ends in
/// `.wav` too, and a corpus reader would take it for a misnamed clip. A temporary whose process
/// still runs (this one, or one that `/proc` lists) is kept, since it may yet be renamed into
/// place; where there is no `/proc` to ask, another process's temporary is taken as stale.
pub fn remove_stale_temporaries(dir: &Path) -> Result<usize> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let proc = Path::new("/proc/self").exists().then(|| Path::new("/proc"));
    let mut removed = 0;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let Some(pid) = entry.file_name().to_str().and_then(temporary_owner) else {
            continue;
        };
        let alive =
            pid == std::process::id() || proc.is_some_and(|p| p.join(pid.to_string()).exists());
        if !alive && entry.file_type().is_ok_and(|t| t.is_file()) {
            fs::remove_file(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Removes the half-built folders that killed builders of `path` left beside it (a killed corpus
/// generation or feature extraction: as large as what they were building), where `/proc` can say
/// that their process is gone. Best effort: a leftover is never read, only wasted space.
fn remove_dead_builds_of(path: &Path) {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    if !Path::new("/proc/self").exists() {
        return;
    }
    let prefix = format!(".{}.", name.to_string_lossy());
    for entry in fs::read_dir(parent).into_iter().flatten().flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if !file_name.starts_with(&prefix) || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let dead = temporary_owner(&file_name).is_some_and(|pid| {
            pid != std::process::id() && !Path::new("/proc").join(pid.to_string()).exists()
        });
        if dead {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// The process id in a name [`temporary`] made (`.NAME.PID-N.tmp[.EXT]`, `EXT` being `NAME`'s
/// extension); `None` for any other name.
fn temporary_owner(file_name: &str) -> Option<u32> {
    let rest = file_name.strip_prefix('.')?;
    let (head, ext) = rest.rsplit_once(".tmp")?;
    let (name, id) = head.rsplit_once('.')?;
    let (pid, n) = id.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let own_ext = Path::new(name)
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    (!name.is_empty() && digits(n) && ext == own_ext)
        .then(|| pid.parse().ok())
        .flatten()
}

/// `.NAME.PID-N.tmp[.EXT]` beside `path`: hidden, unique to this process and call, on the same
/// file system (so the rename is atomic), and ending in `path`'s extension.
fn temporary(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}-{n}.tmp{ext}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut n: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    }

    #[test]
    fn a_file_is_replaced_whole_and_a_failed_write_leaves_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        write(&p, b"one").unwrap();
        write(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let e = write_with(&p, |tmp| {
            assert!(
                tmp.to_string_lossy().ends_with(".json"),
                "{}",
                tmp.display()
            );
            fs::write(tmp, b"half").unwrap();
            Err(Error::Data("failed half-way".into()))
        })
        .unwrap_err();
        assert!(e.to_string().contains("half-way"));
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(names(dir.path()), ["a.json"]);
    }

    #[test]
    fn stale_temporaries_are_recognised_and_removed_but_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("1001_DFA_ANG_XX.wav");
        let ours = temporary(&target);
        let ours_name = ours.file_name().unwrap().to_str().unwrap();
        assert_eq!(temporary_owner(ours_name), Some(std::process::id()));
        assert_eq!(temporary_owner(".a.12-3.tmp"), Some(12));
        for other in [
            "a.wav",
            ".a.wav",
            ".a.wav.x-1.tmp.wav",
            ".a.wav.1-2.tmp.txt",
            ".a.1-.tmp",
        ] {
            assert_eq!(temporary_owner(other), None, "{other}");
        }
        // No process has id u32::MAX (Linux caps ids far below it), so its temporary is stale.
        let stale = dir
            .path()
            .join(format!(".1001_DFA_ANG_XX.wav.{}-0.tmp.wav", u32::MAX));
        for p in [&ours, &stale, &target] {
            fs::write(p, b"x").unwrap();
        }
        assert_eq!(remove_stale_temporaries(dir.path()).unwrap(), 1);
        assert!(!stale.exists() && ours.exists() && target.exists());
        assert_eq!(
            remove_stale_temporaries(&dir.path().join("absent")).unwrap(),
            0
        );
    }

    #[test]
    fn a_folder_is_replaced_whole_and_a_failed_build_leaves_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("entry");
        for text in ["one", "two"] {
            write_dir(&d, |tmp| {
                fs::write(tmp.join("f"), text).map_err(|e| Error::io(tmp, e))
            })
            .unwrap();
        }
        assert_eq!(fs::read_to_string(d.join("f")).unwrap(), "two");
        write_dir(&d, |_| Err(Error::Data("no".into()))).unwrap_err();
        assert_eq!(fs::read_to_string(d.join("f")).unwrap(), "two");
        assert_eq!(names(dir.path()), ["entry"]);
    }
}
