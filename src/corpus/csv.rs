//! CSV manifests: any corpus described by `path,label[,speaker]` rows.
//!
//! Paths are relative to the manifest's folder and must stay inside it: a row with an absolute
//! path, a `..` component or a symbolic link resolving outside the folder is refused (the whole
//! manifest, every such row named), since a manifest from elsewhere must not make `ser` read
//! files the user never pointed it at. The header row is optional; when there is one it must
//! read exactly `path,label` or `path,label,speaker`. Without a speaker column every clip's
//! speaker is `unknown`, which makes speaker splits impossible but random splits fine. Fields
//! may be double-quoted (`"a,b.wav"`, `""` for a quote); a record cannot span lines.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{Corpus, Item, EMOTIONS};
use crate::base::csv::parse_record;
use crate::base::{paths, Error, Result};
use crate::config::CorpusKind;

/// The file name looked for when the configured path is a folder.
pub const MANIFEST_NAME: &str = "manifest.csv";

/// Speaker given to every clip of a manifest without a speaker column.
pub const UNKNOWN_SPEAKER: &str = "unknown";

/// How many problems of one kind an error message lists before summarising the rest.
const LIST_AT_MOST: usize = 10;

/// The manifest file `path` names: `path` itself, or `path/manifest.csv` when it is a folder.
pub fn manifest_path(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(MANIFEST_NAME)
    } else {
        path.to_path_buf()
    }
}

/// Reads a manifest (`path` is the file, or a folder holding `manifest.csv`). Every listed file
/// must exist; classes are the distinct labels sorted, or the six CREMA-D emotions when every
/// label is one of them (so indices match models trained on CREMA-D).
pub fn read(path: &Path) -> Result<Corpus> {
    let manifest = manifest_path(path);
    let text = std::fs::read_to_string(&manifest).map_err(|e| Error::io(&manifest, e))?;
    let root = manifest.parent().map(Path::to_path_buf).unwrap_or_default();
    let rows = parse_manifest(&manifest, &text)?;
    if rows.is_empty() {
        return Err(Error::Corpus {
            path: manifest.clone(),
            message: format!(
                "no clips found in {}: the manifest lists no rows (expected `path,label[,speaker]`)",
                manifest.display()
            ),
        });
    }

    refuse_escaping_rows(&manifest, &root, &rows)?;
    let missing: Vec<&Row> = rows
        .iter()
        .filter(|r| !root.join(&r.path).is_file())
        .collect();
    if !missing.is_empty() {
        let mut message = format!(
            "{} of {} listed files do not exist (paths are relative to {}):",
            missing.len(),
            rows.len(),
            if root.as_os_str().is_empty() {
                ".".to_string()
            } else {
                root.display().to_string()
            }
        );
        for r in missing.iter().take(LIST_AT_MOST) {
            message.push_str(&format!(
                "\n  line {}: {}",
                r.line,
                root.join(&r.path).display()
            ));
        }
        if missing.len() > LIST_AT_MOST {
            message.push_str(&format!("\n  … and {} more", missing.len() - LIST_AT_MOST));
        }
        return Err(Error::Corpus {
            path: manifest,
            message,
        });
    }

    let classes = classes_of_rows(&rows);
    let mut items: Vec<Item> = rows
        .into_iter()
        .map(|r| Item {
            path: root.join(&r.path),
            // Every label is in `classes` by construction.
            label: classes.iter().position(|c| *c == r.label).unwrap_or(0),
            speaker: r.speaker,
            sentence: None,
            level: None,
        })
        .collect();
    items.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Corpus {
        kind: CorpusKind::Csv,
        root,
        classes,
        items,
        demographics: Default::default(),
        notes: Vec::new(),
    })
}

/// Refuses the manifest when a row names a file outside its folder (as written or through a
/// link), listing each such row.
fn refuse_escaping_rows(manifest: &Path, root: &Path, rows: &[Row]) -> Result<()> {
    let refused: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            let why = paths::join_within(root, &r.path).err()?;
            Some(format!("line {}: `{}` ({why})", r.line, r.path))
        })
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    let mut message = format!(
        "refused: {} row{} name{} a file outside the manifest's folder {}; nothing was read. \
         List each clip by its path inside that folder (put the manifest in a folder that holds \
         every clip, or copy the clips in):",
        refused.len(),
        if refused.len() == 1 { "" } else { "s" },
        if refused.len() == 1 { "s" } else { "" },
        if root.as_os_str().is_empty() {
            Path::new(".")
        } else {
            root
        }
        .display()
    );
    for r in refused.iter().take(LIST_AT_MOST) {
        message.push_str(&format!("\n  {r}"));
    }
    if refused.len() > LIST_AT_MOST {
        message.push_str(&format!("\n  … and {} more", refused.len() - LIST_AT_MOST));
    }
    Err(Error::Corpus {
        path: manifest.to_path_buf(),
        message,
    })
}

/// The classes of the manifest at `path` (as [`read`] gives them), from its labels alone: the
/// listed files are not looked at.
pub fn classes(path: &Path) -> Result<Vec<String>> {
    let manifest = manifest_path(path);
    let text = std::fs::read_to_string(&manifest).map_err(|e| Error::io(&manifest, e))?;
    Ok(classes_of_rows(&parse_manifest(&manifest, &text)?))
}

/// The distinct labels sorted, or the six CREMA-D emotions when every label is one of them (so
/// indices match models trained on CREMA-D).
fn classes_of_rows(rows: &[Row]) -> Vec<String> {
    let mut labels: Vec<&str> = rows.iter().map(|r| r.label.as_str()).collect();
    labels.sort_unstable();
    labels.dedup();
    if labels.iter().all(|l| EMOTIONS.contains(l)) {
        super::emotion_classes()
    } else {
        labels.iter().map(|l| l.to_string()).collect()
    }
}

/// One manifest row.
#[derive(Debug)]
struct Row {
    line: usize,
    path: String,
    label: String,
    speaker: String,
}

fn parse_manifest(manifest: &Path, text: &str) -> Result<Vec<Row>> {
    let bad = |line: usize, message: String| Error::Corpus {
        path: manifest.to_path_buf(),
        message: format!("line {line}: {message}"),
    };
    let mut rows = Vec::new();
    let mut columns: Option<usize> = None;
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, raw) in text.trim_start_matches('\u{feff}').lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let fields = parse_record(raw).map_err(|m| bad(line, m))?;
        if columns.is_none() && fields.first().map(String::as_str) == Some("path") {
            match fields.iter().map(String::as_str).collect::<Vec<_>>()[..] {
                ["path", "label"] => columns = Some(2),
                ["path", "label", "speaker"] => columns = Some(3),
                _ => {
                    return Err(bad(
                        line,
                        format!(
                            "header `{}` must be exactly `path,label` or `path,label,speaker`",
                            raw.trim()
                        ),
                    ))
                }
            }
            continue;
        }
        let n = *columns.get_or_insert(fields.len());
        if fields.len() != n || !(2..=3).contains(&n) {
            let expected = match n {
                2 => "2 fields (path,label)",
                3 => "3 fields (path,label,speaker)",
                _ => "2 or 3 fields (path,label[,speaker])",
            };
            return Err(bad(
                line,
                format!("expected {expected}, found {}", fields.len()),
            ));
        }
        let mut f = fields.into_iter();
        let path = f.next().unwrap_or_default();
        let label = f.next().unwrap_or_default();
        let speaker = f.next().unwrap_or_default();
        if path.is_empty() {
            return Err(bad(line, "empty path".into()));
        }
        if label.is_empty() {
            return Err(bad(line, format!("empty label for `{path}`")));
        }
        if let Some(first) = seen.insert(path.clone(), line) {
            return Err(bad(
                line,
                format!("`{path}` is already listed on line {first}; list each clip once"),
            ));
        }
        rows.push(Row {
            line,
            path,
            label,
            speaker: if speaker.is_empty() {
                UNKNOWN_SPEAKER.to_string()
            } else {
                speaker
            },
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records() {
        let r = |s: &str| parse_record(s).unwrap();
        assert_eq!(r("a.wav,ANG"), ["a.wav", "ANG"]);
        assert_eq!(r(" a.wav , ANG ,s1\r"), ["a.wav", "ANG", "s1"]);
        assert_eq!(r("\"a,\"\"b\"\".wav\",HAP"), ["a,\"b\".wav", "HAP"]);
        assert_eq!(r("a.wav,"), ["a.wav", ""]);
        assert_eq!(r(""), [""]);
        assert!(parse_record("\"a.wav,ANG").is_err());
        assert!(parse_record("\"a\"x,ANG").is_err());
    }
}
