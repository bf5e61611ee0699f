//! Auditing a corpus directory: what is there, how long it is, and whether it is intact.
//!
//! [`check_dir`] counts clips per emotion, speaker and level, measures durations through a probe
//! supplied by the caller (so this module needs no audio decoder), and lists what is wrong rather
//! than stopping at the first problem: names that do not parse, files that cannot be read, and —
//! given a `file,bytes,sha256` manifest such as CREMA-D's `audiowav-manifest.csv` — files that are
//! missing, altered (size or SHA-256 differs) or not in the manifest. Only the manifest itself
//! (and, for CSV corpora, the clip list) must be well-formed; everything else becomes a line in
//! the [`CheckReport`], which renders as a text report.
//!
//! Manifest names stay inside the folder: a name with `..` or an absolute path makes the manifest
//! invalid (its line named), and a listed file reached through a link to elsewhere is not read
//! but reported as refused.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::{crema_d, emodb, BOREDOM, EMOTIONS};
use crate::base::{paths, Error, Result};
use crate::config::CorpusKind;

/// How many entries of one list the text report shows before summarising the rest.
const SHOW_AT_MOST: usize = 20;

/// Summary statistics of clip durations, in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct DurationStats {
    /// Number of clips measured.
    pub count: usize,
    /// Shortest clip.
    pub min: f64,
    /// Mean duration.
    pub mean: f64,
    /// Median duration (mean of the two middle values for an even count).
    pub median: f64,
    /// Longest clip.
    pub max: f64,
    /// Sum of all durations.
    pub total: f64,
}

impl DurationStats {
    /// Statistics of `values`; `None` when there are none.
    pub fn from_values(values: &[f64]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let total: f64 = v.iter().sum();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Self {
            count: n,
            min: v[0],
            mean: total / n as f64,
            median,
            max: v[n - 1],
            total,
        })
    }
}

/// How a file differs from its manifest entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The size differs (the hash is then not computed).
    Size { expected: u64, actual: u64 },
    /// Same size, different SHA-256 (lowercase hex).
    Hash { expected: String, actual: String },
}

/// A file whose size or content differs from the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Altered {
    /// Name as listed in the manifest.
    pub name: String,
    /// What differs.
    pub change: Change,
}

/// The result of verifying a directory against a `file,bytes,sha256` manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestCheck {
    /// The manifest file.
    pub path: PathBuf,
    /// Number of files it lists.
    pub listed: usize,
    /// Files whose size and SHA-256 match.
    pub verified: usize,
    /// Listed files that do not exist, sorted.
    pub missing: Vec<String>,
    /// Listed files whose size or hash differs, sorted by name.
    pub altered: Vec<Altered>,
    /// Files in the directory that the manifest does not list, sorted.
    pub extra: Vec<String>,
}

/// Everything [`check_dir`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckReport {
    /// The directory checked (for CSV: the manifest's folder).
    pub dir: PathBuf,
    /// The naming convention it was checked against.
    pub kind: CorpusKind,
    /// Clips whose names parse (CSV: rows of the clip list).
    pub clips: usize,
    /// Clips per emotion, in class order (CREMA-D's six, then `BOR` for EmoDB).
    pub emotions: Vec<(String, usize)>,
    /// Clips per speaker, sorted by speaker id.
    pub speakers: Vec<(String, usize)>,
    /// Clips per intensity level (CREMA-D only), in `LO MD HI XX` order.
    pub levels: Vec<(String, usize)>,
    /// Durations of the files the probe could read.
    pub durations: Option<DurationStats>,
    /// Entries of the directory that are not `.wav` files (not counted anywhere else).
    pub ignored: Vec<PathBuf>,
    /// `.wav` files whose names do not follow the corpus convention, with the reason.
    pub unparsed: Vec<(PathBuf, String)>,
    /// Files that could not be read (probed or hashed), with the error.
    pub unreadable: Vec<(PathBuf, String)>,
    /// Integrity against a manifest, when one was given.
    pub manifest: Option<ManifestCheck>,
}

impl CheckReport {
    /// Number of problems found: unparsed names, unreadable files and manifest mismatches.
    /// Ignored non-`.wav` entries are not problems.
    pub fn problems(&self) -> usize {
        self.unparsed.len()
            + self.unreadable.len()
            + self
                .manifest
                .as_ref()
                .map_or(0, |m| m.missing.len() + m.altered.len() + m.extra.len())
    }

    /// True when nothing is wrong.
    pub fn is_clean(&self) -> bool {
        self.problems() == 0
    }
}

/// [`check_dir`] with each file's duration read from its header by the audio stage (what
/// `ser data check` does).
pub fn check(dir: &Path, kind: CorpusKind, manifest: Option<&Path>) -> Result<CheckReport> {
    check_dir(dir, kind, manifest, &|p| {
        crate::audio::probe(p).and_then(|info| {
            info.seconds
                .ok_or_else(|| Error::decode(p, "duration unknown"))
        })
    })
}

/// Audits `dir` as a corpus of `kind` (`Synth` is checked as CREMA-D; for `Csv`, `dir` is the
/// clip list or its folder, and the list must be valid). `probe` returns a file's duration in
/// seconds; it runs on every `.wav` file (CSV: every listed file) in parallel. With `manifest`
/// (`file,bytes,sha256`, names relative to the corpus folder) every listed file's size and
/// SHA-256 are verified and files the manifest does not list are reported.
pub fn check_dir(
    dir: &Path,
    kind: CorpusKind,
    manifest: Option<&Path>,
    probe: &(dyn Fn(&Path) -> Result<f64> + Sync),
) -> Result<CheckReport> {
    let (mut report, files) = match kind {
        CorpusKind::CremaD | CorpusKind::Synth | CorpusKind::Emodb => scan_named(dir, kind)?,
        CorpusKind::Csv => scan_csv(dir)?,
    };
    let measured: Vec<(PathBuf, Result<f64>)> = files
        .into_par_iter()
        .map(|p| {
            let d = probe(&p);
            (p, d)
        })
        .collect();
    let mut durations = Vec::with_capacity(measured.len());
    for (path, d) in measured {
        match d {
            Ok(d) => durations.push(d),
            Err(e) => report.unreadable.push((path, e.to_string())),
        }
    }
    report.durations = DurationStats::from_values(&durations);
    if let Some(m) = manifest {
        let mut present = extra_candidates(&report)?;
        if kind == CorpusKind::Csv {
            // The clip list lives beside the clips; it is not an extra file.
            let list = super::csv::manifest_path(dir);
            if let Some(name) = same_folder_name(&report.dir, &list) {
                present.retain(|n| *n != name);
            }
        }
        let (check, unreadable) = verify_manifest(&report.dir, m, present)?;
        let known: HashSet<PathBuf> = report.unreadable.iter().map(|(p, _)| p.clone()).collect();
        report
            .unreadable
            .extend(unreadable.into_iter().filter(|(p, _)| !known.contains(p)));
        report.manifest = Some(check);
    }
    report.unreadable.sort();
    Ok(report)
}

/// Counts a CREMA-D or EmoDB directory by parsing each `.wav` name. Also returns the files to
/// measure: every `.wav`, whether its name parses or not.
fn scan_named(dir: &Path, kind: CorpusKind) -> Result<(CheckReport, Vec<PathBuf>)> {
    let listing = super::list_dir(dir)?;
    let mut emotions: Vec<(String, usize)> = EMOTIONS.iter().map(|e| (e.to_string(), 0)).collect();
    let mut levels: Vec<(String, usize)> = Vec::new();
    if kind == CorpusKind::Emodb {
        emotions.push((BOREDOM.to_string(), 0));
    } else {
        levels = crema_d::LEVELS.iter().map(|l| (l.to_string(), 0)).collect();
    }
    let mut speakers: BTreeMap<String, usize> = BTreeMap::new();
    let mut unparsed = Vec::new();
    let mut clips = 0;
    for name in &listing.wavs {
        let parsed = if kind == CorpusKind::Emodb {
            emodb::parse_name(name).map(|n| (n.emotion, n.speaker.to_string(), None))
        } else {
            crema_d::parse_name(name).map(|n| (n.emotion, n.actor.to_string(), Some(n.level)))
        };
        match parsed {
            Ok((emotion, speaker, level)) => {
                clips += 1;
                bump(&mut emotions, emotion);
                if let Some(level) = level {
                    bump(&mut levels, level);
                }
                *speakers.entry(speaker).or_default() += 1;
            }
            Err(e) => {
                let reason = match e {
                    Error::Label { message, .. } => message,
                    other => other.to_string(),
                };
                unparsed.push((dir.join(name), reason));
            }
        }
    }
    let files = listing.wavs.iter().map(|n| dir.join(n)).collect();
    let report = CheckReport {
        dir: dir.to_path_buf(),
        kind,
        clips,
        emotions,
        speakers: speakers.into_iter().collect(),
        levels,
        durations: None,
        ignored: listing.ignored,
        unparsed,
        unreadable: Vec::new(),
        manifest: None,
    };
    Ok((report, files))
}

/// Counts the clips of a CSV clip list; the files to measure are the listed ones.
fn scan_csv(path: &Path) -> Result<(CheckReport, Vec<PathBuf>)> {
    let corpus = super::csv::read(path)?;
    let emotions = corpus
        .classes
        .iter()
        .cloned()
        .zip(corpus.class_counts())
        .collect();
    let mut speakers: BTreeMap<String, usize> = BTreeMap::new();
    for item in &corpus.items {
        *speakers.entry(item.speaker.clone()).or_default() += 1;
    }
    let report = CheckReport {
        dir: corpus.root.clone(),
        kind: CorpusKind::Csv,
        clips: corpus.items.len(),
        emotions,
        speakers: speakers.into_iter().collect(),
        levels: Vec::new(),
        durations: None,
        ignored: Vec::new(),
        unparsed: Vec::new(),
        unreadable: Vec::new(),
        manifest: None,
    };
    Ok((report, corpus.items.into_iter().map(|i| i.path).collect()))
}

fn bump(counts: &mut [(String, usize)], key: &str) {
    if let Some((_, n)) = counts.iter_mut().find(|(k, _)| k == key) {
        *n += 1;
    }
}

/// Names of the regular files directly inside the corpus folder (extra-file candidates).
fn extra_candidates(report: &CheckReport) -> Result<Vec<String>> {
    let listing = super::list_dir(&report.dir)?;
    let mut names = listing.wavs;
    for p in listing.ignored {
        if p.is_file() {
            if let Some(name) = p.file_name().and_then(|n| n.to_str()) {
                names.push(name.to_string());
            }
        }
    }
    names.sort_unstable();
    Ok(names)
}

/// One row of a `file,bytes,sha256` manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEntry {
    /// File name, relative to the corpus folder.
    pub name: String,
    /// Expected size in bytes.
    pub bytes: u64,
    /// Expected SHA-256, lowercase hex.
    pub sha256: String,
}

/// Reads a `file,bytes,sha256` manifest (header row optional). Malformed rows, bad sizes or
/// digests and repeated names are errors naming the manifest and line.
pub fn read_manifest(path: &Path) -> Result<Vec<ManifestEntry>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse_manifest(path, &text)
}

/// [`read_manifest`] of manifest text; `path` names it in errors.
pub fn parse_manifest(path: &Path, text: &str) -> Result<Vec<ManifestEntry>> {
    let bad = |line: usize, message: String| Error::Corpus {
        path: path.to_path_buf(),
        message: format!("line {line}: {message}"),
    };
    let mut entries = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, raw) in text.trim_start_matches('\u{feff}').lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let fields = crate::base::csv::parse_record(raw).map_err(|m| bad(line, m))?;
        if entries.is_empty() && seen.is_empty() && fields == ["file", "bytes", "sha256"] {
            continue;
        }
        let [name, bytes, sha] = &fields[..] else {
            return Err(bad(
                line,
                format!(
                    "expected 3 fields (file,bytes,sha256), found {}",
                    fields.len()
                ),
            ));
        };
        if name.is_empty() {
            return Err(bad(line, "empty file name".into()));
        }
        // Names are joined to the corpus folder (or `--out`): one must not lead out of it.
        if let Some(why) = paths::escape(name) {
            return Err(bad(
                line,
                format!(
                    "refused: `{name}` leaves the corpus folder ({why}); list each file by its \
                     path inside the folder, e.g. 1001_DFA_ANG_XX.wav"
                ),
            ));
        }
        let bytes: u64 = bytes.parse().map_err(|_| {
            bad(
                line,
                format!("size `{bytes}` is not a whole number of bytes"),
            )
        })?;
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad(
                line,
                format!("sha256 `{sha}` is not 64 hexadecimal digits"),
            ));
        }
        if let Some(first) = seen.insert(name.clone(), line) {
            return Err(bad(
                line,
                format!("`{name}` is already listed on line {first}"),
            ));
        }
        entries.push(ManifestEntry {
            name: name.clone(),
            bytes,
            sha256: sha.to_ascii_lowercase(),
        });
    }
    Ok(entries)
}

enum Outcome {
    Verified,
    Missing,
    Altered(Change),
    Unreadable(String),
}

/// Verifies `root` against the manifest at `manifest`; `present` lists the files in `root`.
fn verify_manifest(
    root: &Path,
    manifest: &Path,
    present: Vec<String>,
) -> Result<(ManifestCheck, Vec<(PathBuf, String)>)> {
    let entries = read_manifest(manifest)?;
    let outcomes: Vec<Outcome> = entries.par_iter().map(|e| verify(root, e)).collect();
    let mut check = ManifestCheck {
        path: manifest.to_path_buf(),
        listed: entries.len(),
        verified: 0,
        missing: Vec::new(),
        altered: Vec::new(),
        extra: Vec::new(),
    };
    let mut unreadable = Vec::new();
    for (e, outcome) in entries.iter().zip(outcomes) {
        match outcome {
            Outcome::Verified => check.verified += 1,
            Outcome::Missing => check.missing.push(e.name.clone()),
            Outcome::Altered(change) => check.altered.push(Altered {
                name: e.name.clone(),
                change,
            }),
            Outcome::Unreadable(err) => unreadable.push((root.join(&e.name), err)),
        }
    }
    let listed: HashSet<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    let manifest_name = same_folder_name(root, manifest);
    check.extra = present
        .into_iter()
        .filter(|n| !listed.contains(n.as_str()) && Some(n.as_str()) != manifest_name.as_deref())
        .collect();
    check.missing.sort();
    check.altered.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((check, unreadable))
}

/// The manifest's file name when it lies in `root` itself (so it is not reported as extra).
fn same_folder_name(root: &Path, manifest: &Path) -> Option<String> {
    let parent = manifest.parent()?;
    let same = match (parent.canonicalize(), root.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => parent == root,
    };
    same.then(|| manifest.file_name()?.to_str().map(str::to_string))
        .flatten()
}

fn verify(root: &Path, e: &ManifestEntry) -> Outcome {
    let path = root.join(&e.name);
    // A link inside the folder may point anywhere: what lies outside is not read.
    if let Err(why) = paths::resolves_within(root, &path) {
        return Outcome::Unreadable(format!(
            "refused: {why}, outside the corpus folder; put the file itself there"
        ));
    }
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Outcome::Missing,
        Err(err) => return Outcome::Unreadable(err.to_string()),
    };
    if !meta.is_file() {
        return Outcome::Unreadable("not a regular file".into());
    }
    if meta.len() != e.bytes {
        // Hashing a file already known to differ would only cost time.
        return Outcome::Altered(Change::Size {
            expected: e.bytes,
            actual: meta.len(),
        });
    }
    match sha256_file(&path) {
        Ok(h) if h == e.sha256 => Outcome::Verified,
        Ok(h) => Outcome::Altered(Change::Hash {
            expected: e.sha256.clone(),
            actual: h,
        }),
        Err(err) => Outcome::Unreadable(err.to_string()),
    }
}

/// SHA-256 of a file as lowercase hex, read in fixed-size blocks.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Corpus check: {} ({})",
            self.dir.display(),
            self.kind.name()
        )?;
        write!(f, "{} clips, {} speakers", self.clips, self.speakers.len())?;
        if !self.ignored.is_empty() {
            write!(
                f,
                ", {} entries ignored (not .wav files)",
                self.ignored.len()
            )?;
        }
        writeln!(f)?;

        count_table(f, "Emotion", &self.emotions, self.clips)?;
        if self.levels.iter().any(|(_, n)| *n > 0) {
            count_table(f, "Level", &self.levels, self.clips)?;
        }
        if !self.speakers.is_empty() {
            speaker_table(f, &self.speakers)?;
        }

        writeln!(f)?;
        match &self.durations {
            Some(d) => writeln!(
                f,
                "Duration (s): min {:.3}  median {:.3}  mean {:.3}  max {:.3}  total {:.1} ({})  [{} files]",
                d.min,
                d.median,
                d.mean,
                d.max,
                d.total,
                hours_minutes(d.total),
                d.count
            )?,
            None => writeln!(f, "Duration: no file could be measured")?,
        }

        if !self.unparsed.is_empty() {
            writeln!(f, "\nNames that do not parse ({}):", self.unparsed.len())?;
            list(
                f,
                self.unparsed
                    .iter()
                    .map(|(p, why)| format!("{}: {why}", p.display())),
            )?;
        }
        if !self.unreadable.is_empty() {
            writeln!(f, "\nUnreadable files ({}):", self.unreadable.len())?;
            list(
                f,
                self.unreadable
                    .iter()
                    .map(|(p, why)| format!("{}: {why}", p.display())),
            )?;
        }
        if let Some(m) = &self.manifest {
            writeln!(
                f,
                "\nManifest {}: {} listed, {} verified, {} missing, {} altered, {} extra",
                m.path.display(),
                m.listed,
                m.verified,
                m.missing.len(),
                m.altered.len(),
                m.extra.len()
            )?;
            if !m.missing.is_empty() {
                writeln!(f, "  Missing:")?;
                list(f, m.missing.iter().cloned())?;
            }
            if !m.altered.is_empty() {
                writeln!(f, "  Altered:")?;
                list(
                    f,
                    m.altered.iter().map(|a| match &a.change {
                        Change::Size { expected, actual } => {
                            format!("{}: size {actual} bytes, manifest says {expected}", a.name)
                        }
                        Change::Hash { expected, actual } => {
                            format!("{}: sha256 {actual}, manifest says {expected}", a.name)
                        }
                    }),
                )?;
            }
            if !m.extra.is_empty() {
                writeln!(f, "  Not in the manifest:")?;
                list(f, m.extra.iter().cloned())?;
            }
        }
        writeln!(f)?;
        match self.problems() {
            0 => writeln!(f, "Result: OK"),
            1 => writeln!(f, "Result: 1 problem"),
            n => writeln!(f, "Result: {n} problems"),
        }
    }
}

fn count_table(
    f: &mut fmt::Formatter<'_>,
    title: &str,
    rows: &[(String, usize)],
    total: usize,
) -> fmt::Result {
    let pct = |n: usize| {
        if total == 0 {
            0.0
        } else {
            100.0 * n as f64 / total as f64
        }
    };
    writeln!(f, "\n{title:<8} {:>7} {:>6}", "clips", "%")?;
    for (k, n) in rows {
        writeln!(f, "{k:<8} {n:>7} {:>6.1}", pct(*n))?;
    }
    let sum: usize = rows.iter().map(|(_, n)| n).sum();
    writeln!(f, "{:<8} {sum:>7} {:>6.1}", "total", pct(sum))
}

fn speaker_table(f: &mut fmt::Formatter<'_>, rows: &[(String, usize)]) -> fmt::Result {
    const COLUMNS: usize = 6;
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0).max(7);
    writeln!(f, "\nClips per speaker:")?;
    for chunk in rows.chunks(COLUMNS) {
        let line: Vec<String> = chunk
            .iter()
            .map(|(k, n)| format!("{k:<width$} {n:>5}"))
            .collect();
        writeln!(f, "  {}", line.join("   "))?;
    }
    Ok(())
}

fn list(f: &mut fmt::Formatter<'_>, lines: impl ExactSizeIterator<Item = String>) -> fmt::Result {
    let n = lines.len();
    for line in lines.take(SHOW_AT_MOST) {
        writeln!(f, "    {line}")?;
    }
    if n > SHOW_AT_MOST {
        writeln!(f, "    … and {} more", n - SHOW_AT_MOST)?;
    }
    Ok(())
}

fn hours_minutes(seconds: f64) -> String {
    let minutes = (seconds / 60.0).round() as u64;
    format!("{} h {:02} min", minutes / 60, minutes % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_stats() {
        let d = DurationStats::from_values(&[3.0, 1.0, 2.0, 4.0]).unwrap();
        assert_eq!(
            d,
            DurationStats {
                count: 4,
                min: 1.0,
                mean: 2.5,
                median: 2.5,
                max: 4.0,
                total: 10.0
            }
        );
        assert_eq!(
            DurationStats::from_values(&[2.0, 9.0, 1.0]).unwrap().median,
            2.0
        );
        assert!(DurationStats::from_values(&[]).is_none());
    }

    #[test]
    fn sha256_of_known_text() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc");
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(
            sha256_file(&p).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
