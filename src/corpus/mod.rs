//! Corpora: turning a directory of clips (or a CSV manifest) into a labelled item list.
//!
//! Readers own the naming conventions of each corpus ([`crema_d`], [`emodb`], [`csv`]) and the
//! embedded synthetic corpus ([`synth`]); [`check`] audits a corpus directory (counts, durations,
//! integrity against a `file,bytes,sha256` manifest); [`fetch`] downloads CREMA-D's audio (or takes
//! it from a local archive), every file verified against that manifest. Nothing here decodes
//! audio: an [`Item`] is a path plus its label and metadata, and the feature stages read the
//! audio later.
//!
//! Labels are indices into [`Corpus::classes`]. CREMA-D, EmoDB and CSV manifests whose labels are
//! all CREMA-D codes share the six [`EMOTIONS`] in alphabetical order — scikit-learn's
//! `LabelEncoder` order, which the report's models were trained with — so a model trained on one
//! corpus reads the labels of another the same way.

pub mod check;
pub mod crema_d;
pub mod csv;
pub mod emodb;
pub mod fetch;
pub mod synth;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use crema_d::meta::Actor;

use crate::base::{paths, Error, Result};
use crate::config::{CorpusKind, DataConfig, LabelSource, SynthLayout, TieRule};

/// The six CREMA-D emotion codes, alphabetical (the report's `LabelEncoder` order).
pub const EMOTIONS: [&str; 6] = ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"];

/// EmoDB's boredom class, appended as a seventh class when `data.include_boredom` is set.
pub const BOREDOM: &str = "BOR";

/// One clip of a corpus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Where the audio is (the corpus root joined with the file's name or manifest path).
    pub path: PathBuf,
    /// Index into [`Corpus::classes`].
    pub label: usize,
    /// Speaker (actor) id as written in the corpus, e.g. `1001` (CREMA-D) or `03` (EmoDB).
    pub speaker: String,
    /// Sentence / text code, where the corpus has one (`DFA`, `a01`).
    pub sentence: Option<String>,
    /// Emotion intensity level, where the corpus has one (CREMA-D: `LO`, `MD`, `HI`, `XX`).
    pub level: Option<String>,
}

/// A labelled list of clips.
#[derive(Debug, Clone, PartialEq)]
pub struct Corpus {
    /// Which reader produced it.
    pub kind: CorpusKind,
    /// The corpus directory (for CSV: the folder holding the manifest); item paths start with it.
    pub root: PathBuf,
    /// Class names; an item's `label` indexes this.
    pub classes: Vec<String>,
    /// The clips, sorted by file name (CSV: by manifest path).
    pub items: Vec<Item>,
    /// Demographics by speaker id, where the corpus has them: CREMA-D's actors (and the
    /// synthetic corpus's in CREMA-D's layout, whose speakers are CREMA-D's actor ids); empty
    /// for other corpora.
    pub demographics: BTreeMap<String, Actor>,
    /// What the reader left out and why (counts), for the run's record: never dropped silently.
    pub notes: Vec<String>,
}

impl Corpus {
    /// Number of items per class, indexed like `classes`.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes.len()];
        for item in &self.items {
            if let Some(c) = counts.get_mut(item.label) {
                *c += 1;
            }
        }
        counts
    }

    /// The distinct speakers, sorted.
    pub fn speakers(&self) -> Vec<&str> {
        let mut s: Vec<&str> = self.items.iter().map(|i| i.speaker.as_str()).collect();
        s.sort_unstable();
        s.dedup();
        s
    }

    /// How often CREMA-D's untrained listeners (the crowd's voice-only plurality vote) named
    /// the label of the items at `idx`, ties counted as misses: the human reference beside a
    /// model's accuracy on the same clips. `None` where the corpus has no crowd votes (not
    /// CREMA-D's clips) or `idx` is empty.
    pub fn listeners_accuracy(&self, idx: &[usize]) -> Result<Option<f64>> {
        if idx.is_empty() || !matches!(self.kind, CorpusKind::CremaD | CorpusKind::Synth) {
            return Ok(None);
        }
        let votes = crema_d::meta::perceived()?;
        let mut right = 0usize;
        for &i in idx {
            let item = &self.items[i];
            let stem = item.path.file_stem().map(|s| s.to_string_lossy());
            let Some(v) = stem.and_then(|s| votes.get(s.as_ref())) else {
                return Ok(None);
            };
            right += usize::from(v.votes == [item.label]);
        }
        Ok(Some(right as f64 / idx.len() as f64))
    }

    /// An item's path relative to the corpus root (the path itself when it lies outside it).
    pub fn relative_path<'a>(&self, item: &'a Item) -> &'a Path {
        item.path.strip_prefix(&self.root).unwrap_or(&item.path)
    }
}

/// Reads the corpus `cfg` names. `Synth` first generates the synthetic corpus into `cfg.path`
/// (once; an existing complete corpus is reused) and then reads it as CREMA-D. With
/// `labels = "perceived"` the labels become the crowd's voice-only votes (CREMA-D only).
pub fn open(cfg: &DataConfig) -> Result<Corpus> {
    let mut corpus = match cfg.corpus {
        CorpusKind::CremaD => crema_d::read_dir(&cfg.path, CorpusKind::CremaD)?,
        CorpusKind::Emodb => emodb::read_dir(&cfg.path, cfg.include_boredom)?,
        CorpusKind::Csv => csv::read(&cfg.path)?,
        CorpusKind::Synth => {
            let spec = synth::spec_for(cfg.synth_layout, cfg.synth_actors, cfg.synth_seed);
            synth::ensure_spec(&cfg.path, &spec)?;
            let mut c = crema_d::read_dir(&cfg.path, CorpusKind::Synth)?;
            if cfg.synth_layout == SynthLayout::CremaD {
                c.demographics = crema_d::demographics_of(&c.items)?;
            }
            c
        }
    };
    if cfg.labels == LabelSource::Perceived {
        perceived_labels(&mut corpus, cfg)?;
    }
    Ok(corpus)
}

/// Relabels every clip with the crowd's voice-only plurality vote (`summaryTable.csv`). A tie
/// goes by `cfg.ties`: `drop` leaves the clip out, `intended` keeps it with its intended emotion
/// when that is among the tied votes (and leaves it out otherwise). Clips left out are counted
/// in the corpus's notes.
fn perceived_labels(corpus: &mut Corpus, cfg: &DataConfig) -> Result<()> {
    let layout_ok = match corpus.kind {
        CorpusKind::CremaD => true,
        CorpusKind::Synth => cfg.synth_layout == SynthLayout::CremaD,
        _ => false,
    };
    if !layout_ok || corpus.classes != emotion_classes() {
        return Err(Error::config(
            "(config)",
            "data.labels",
            "perceived labels are CREMA-D's crowd votes: use them with corpus = \"crema-d\" \
             (or the synthetic corpus with synth_layout = \"crema-d\")",
        ));
    }
    let votes = crema_d::meta::perceived()?;
    let before = corpus.items.len();
    let mut kept = Vec::with_capacity(before);
    let mut changed = 0;
    for mut item in std::mem::take(&mut corpus.items) {
        let stem = item
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let v = votes.get(&stem).ok_or_else(|| Error::Label {
            path: item.path.clone(),
            message: "no crowd vote for this clip in CREMA-D's summaryTable.csv; use \
                      data.labels = \"intended\""
                .into(),
        })?;
        let label = match (v.votes.as_slice(), cfg.ties) {
            ([one], _) => Some(*one),
            (tied, TieRule::Intended) if tied.contains(&item.label) => Some(item.label),
            _ => None,
        };
        if let Some(label) = label {
            changed += usize::from(label != item.label);
            item.label = label;
            kept.push(item);
        }
    }
    corpus.items = kept;
    let dropped = before - corpus.items.len();
    corpus.notes.push(format!(
        "labels: the crowd's voice-only votes; {changed} of {} clips kept differ from the \
         intended emotion; {dropped} clips with tied votes left out (data.ties = \"{}\")",
        corpus.items.len(),
        cfg.ties.name()
    ));
    tracing::info!("{}", corpus.notes.last().map_or("", String::as_str));
    if corpus.items.is_empty() {
        return Err(no_clips(&corpus.root, "clips with a perceived emotion"));
    }
    Ok(())
}

/// The class names a corpus of `cfg` has, without reading its clips: the six [`EMOTIONS`] for
/// CREMA-D and the synthetic corpus, plus [`BOREDOM`] for EmoDB with `include_boredom`; a CSV
/// corpus's come from its manifest's labels (the manifest is read).
pub fn classes_of(cfg: &DataConfig) -> Result<Vec<String>> {
    match cfg.corpus {
        CorpusKind::CremaD | CorpusKind::Synth => Ok(emotion_classes()),
        CorpusKind::Emodb => Ok(emodb::classes(cfg.include_boredom)),
        CorpusKind::Csv => csv::classes(&cfg.path),
    }
}

/// One directory listing split into `.wav` file names and everything else.
pub(crate) struct Listing {
    /// Names of `.wav` files (case-insensitive extension), sorted.
    pub wavs: Vec<String>,
    /// Entries that are not `.wav` files (other files, folders, names that are not UTF-8).
    pub ignored: Vec<PathBuf>,
}

/// Lists `dir` (not recursively). Entries that are not `.wav` files, and hidden files, are
/// returned as ignored. A `.wav` entry that is a symbolic link must land inside `dir` (a link to
/// another clip of the folder is fine): links to files elsewhere are refused, every one named,
/// because a corpus folder from elsewhere must not make `ser` read files outside it.
pub(crate) fn list_dir(dir: &Path) -> Result<Listing> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut wavs = Vec::new();
    let mut ignored = Vec::new();
    let mut outside = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        // file_type() does not follow symlinks; metadata() does, so a link to a clip counts.
        let is_file = std::fs::metadata(&path)
            .map(|m| m.is_file())
            .unwrap_or(false);
        let is_link = entry.file_type().is_ok_and(|t| t.is_symlink());
        match entry.file_name().to_str() {
            // Hidden files are never clips: a writer's temporary, macOS's `._name.wav`.
            Some(name) if name.starts_with('.') => ignored.push(path),
            Some(name) if is_file && has_wav_extension(name) => {
                // Only a link can lead elsewhere: plain files need no resolving.
                match is_link.then(|| paths::resolves_within(dir, &path)) {
                    Some(Err(why)) => outside.push(format!("{name} ({why})")),
                    _ => wavs.push(name.to_string()),
                }
            }
            // The synthetic corpus's completion marker belongs there: not worth a warning.
            Some(synth::MARKER_FILE) if is_file => {}
            _ => ignored.push(path),
        }
    }
    if !outside.is_empty() {
        outside.sort_unstable();
        return Err(Error::Corpus {
            path: dir.to_path_buf(),
            message: format!(
                "refused: {} clip{} {} symbolic link{} to files outside the corpus folder; \
                 nothing was read. Copy the clips into the folder (or point data.path at the \
                 folder that holds them): {}",
                outside.len(),
                if outside.len() == 1 { "" } else { "s" },
                if outside.len() == 1 { "is a" } else { "are" },
                if outside.len() == 1 { "" } else { "s" },
                outside
                    .iter()
                    .take(10)
                    .cloned()
                    .chain(
                        (outside.len() > 10).then(|| format!("… and {} more", outside.len() - 10))
                    )
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    wavs.sort_unstable();
    ignored.sort_unstable();
    Ok(Listing { wavs, ignored })
}

/// True for names ending in `.wav`, any case.
pub(crate) fn has_wav_extension(name: &str) -> bool {
    Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("wav"))
}

/// Logs the entries a reader skipped, so a stray file is visible without failing the run.
pub(crate) fn warn_ignored(dir: &Path, ignored: &[PathBuf]) {
    if let Some(first) = ignored.first() {
        tracing::warn!(
            "{}: ignored {} entr{} that {} not .wav files (first: {})",
            dir.display(),
            ignored.len(),
            if ignored.len() == 1 { "y" } else { "ies" },
            if ignored.len() == 1 { "is" } else { "are" },
            first.display()
        );
    }
}

/// The error for a directory without a single usable clip.
pub(crate) fn no_clips(dir: &Path, what: &str) -> Error {
    Error::Corpus {
        path: dir.to_path_buf(),
        message: format!(
            "no clips found in {}: expected {what}; check data.path and data.corpus",
            dir.display()
        ),
    }
}

/// The six [`EMOTIONS`] as owned class names.
pub(crate) fn emotion_classes() -> Vec<String> {
    EMOTIONS.iter().map(|s| s.to_string()).collect()
}

/// Index of a CREMA-D emotion code in [`EMOTIONS`].
pub fn emotion_index(code: &str) -> Option<usize> {
    EMOTIONS.iter().position(|e| *e == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emotions_are_sorted_like_label_encoder() {
        let mut sorted = EMOTIONS;
        sorted.sort_unstable();
        assert_eq!(sorted, EMOTIONS);
        assert_eq!(emotion_index("NEU"), Some(4));
        assert_eq!(emotion_index("BOR"), None);
    }

    #[test]
    fn wav_extension_any_case() {
        assert!(has_wav_extension("a.wav"));
        assert!(has_wav_extension("a.WAV"));
        assert!(!has_wav_extension("a.wav.txt"));
        assert!(!has_wav_extension("wav"));
    }
}
