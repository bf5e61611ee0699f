//! CREMA-D: a directory of `AAAA_SSS_EEE_LL.wav` clips (the official `AudioWAV/` folder).
//!
//! `AAAA` is the actor (1001–1091), `SSS` one of twelve sentence codes, `EEE` the intended emotion
//! and `LL` its intensity (`LO`, `MD`, `HI`, or `XX` for unspecified). A name that does not follow
//! this is an error rather than a skipped file: a misnamed clip in a labelled corpus is a bug in
//! the data that silently changing the class counts would hide. [`meta`] holds CREMA-D's public
//! metadata (manifest, demographics, perceived emotions), built in.

pub mod meta;

use std::collections::BTreeMap;
use std::path::Path;

use super::{Corpus, Item, EMOTIONS};
use crate::base::{Error, Result};
use crate::config::CorpusKind;

/// CREMA-D's twelve sentence codes.
pub const SENTENCES: [&str; 12] = [
    "DFA", "IEO", "IOM", "ITH", "ITS", "IWL", "IWW", "MTI", "TAI", "TIE", "TSI", "WSI",
];

/// Emotion intensity levels; `XX` means unspecified.
pub const LEVELS: [&str; 4] = ["LO", "MD", "HI", "XX"];

/// The lowest and highest actor ids of CREMA-D.
pub const ACTORS: std::ops::RangeInclusive<u16> = 1001..=1091;

/// The parts of a CREMA-D file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CremaName {
    /// Actor id, 1001–1091.
    pub actor: u16,
    /// Sentence code, one of [`SENTENCES`].
    pub sentence: &'static str,
    /// Emotion code, one of [`EMOTIONS`].
    pub emotion: &'static str,
    /// Intensity level, one of [`LEVELS`].
    pub level: &'static str,
}

impl CremaName {
    /// The emotion's index in [`EMOTIONS`].
    pub fn label(&self) -> usize {
        // `emotion` always comes from EMOTIONS, so the fallback is unreachable.
        EMOTIONS
            .iter()
            .position(|e| *e == self.emotion)
            .unwrap_or(0)
    }
}

/// Parses a file name such as `1001_DFA_ANG_XX.wav`. Errors (`Error::Label`) name the file, the
/// part that is wrong and what was expected there.
pub fn parse_name(name: &str) -> Result<CremaName> {
    parse(name).map_err(|message| Error::Label {
        path: name.into(),
        message,
    })
}

fn parse(name: &str) -> std::result::Result<CremaName, String> {
    let stem = match name.rsplit_once('.') {
        Some((stem, ext)) if ext.eq_ignore_ascii_case("wav") => stem,
        _ => {
            return Err("not a CREMA-D clip name: expected AAAA_SSS_EEE_LL.wav \
                 (e.g. 1001_DFA_ANG_XX.wav)"
                .into())
        }
    };
    let parts: Vec<&str> = stem.split('_').collect();
    let [actor, sentence, emotion, level] = parts[..] else {
        return Err(format!(
            "not a CREMA-D clip name: expected 4 parts AAAA_SSS_EEE_LL separated by `_`, \
             found {} (e.g. 1001_DFA_ANG_XX.wav)",
            parts.len()
        ));
    };
    let actor_id = (actor.len() == 4 && actor.bytes().all(|b| b.is_ascii_digit()))
        .then(|| actor.parse::<u16>().ok())
        .flatten()
        .filter(|a| ACTORS.contains(a))
        .ok_or_else(|| {
            format!(
                "actor `{actor}` is not a CREMA-D actor id: expected 4 digits in {}..={}",
                ACTORS.start(),
                ACTORS.end()
            )
        })?;
    let sentence = find(&SENTENCES, sentence, "sentence code")?;
    let emotion = find(&EMOTIONS, emotion, "emotion")?;
    let level = find(&LEVELS, level, "level")?;
    Ok(CremaName {
        actor: actor_id,
        sentence,
        emotion,
        level,
    })
}

fn find(
    codes: &[&'static str],
    code: &str,
    what: &str,
) -> std::result::Result<&'static str, String> {
    codes.iter().find(|c| **c == code).copied().ok_or_else(|| {
        format!(
            "unknown {what} `{code}`: expected one of {}",
            codes.join(" ")
        )
    })
}

/// Builds a corpus from clip names under `root` without touching the file system (used by
/// [`read_dir`], and by tests that work from the official file list alone).
pub fn corpus_from_names<'a>(
    root: &Path,
    names: impl IntoIterator<Item = &'a str>,
    kind: CorpusKind,
) -> Result<Corpus> {
    let mut items = Vec::new();
    for name in names {
        let parsed = parse(name).map_err(|message| Error::Label {
            path: root.join(name),
            message,
        })?;
        items.push(Item {
            path: root.join(name),
            label: parsed.label(),
            speaker: parsed.actor.to_string(),
            sentence: Some(parsed.sentence.to_string()),
            level: Some(parsed.level.to_string()),
        });
    }
    if items.is_empty() {
        return Err(super::no_clips(
            root,
            "CREMA-D clips named AAAA_SSS_EEE_LL.wav",
        ));
    }
    items.sort_by(|a, b| a.path.file_name().cmp(&b.path.file_name()));
    let demographics = match kind {
        CorpusKind::CremaD => demographics_of(&items)?,
        _ => Default::default(),
    };
    Ok(Corpus {
        kind,
        root: root.to_path_buf(),
        classes: super::emotion_classes(),
        items,
        demographics,
        notes: Vec::new(),
    })
}

/// CREMA-D's demographics of the speakers of `items` (every CREMA-D actor id has them).
pub fn demographics_of(items: &[Item]) -> Result<BTreeMap<String, meta::Actor>> {
    let actors = meta::actors()?;
    Ok(items
        .iter()
        .filter_map(|i| {
            let id: u16 = i.speaker.parse().ok()?;
            actors.get(&id).map(|a| (i.speaker.clone(), a.clone()))
        })
        .collect())
}

/// Reads a CREMA-D style directory. Entries that are not `.wav` files are skipped and logged; a
/// `.wav` whose name does not parse is an error.
pub fn read_dir(dir: &Path, kind: CorpusKind) -> Result<Corpus> {
    let listing = super::list_dir(dir)?;
    super::warn_ignored(dir, &listing.ignored);
    corpus_from_names(dir, listing.wavs.iter().map(String::as_str), kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_name() {
        let n = parse_name("1091_WSI_SAD_HI.wav").unwrap();
        assert_eq!(
            n,
            CremaName {
                actor: 1091,
                sentence: "WSI",
                emotion: "SAD",
                level: "HI"
            }
        );
        assert_eq!(n.label(), 5);
    }

    #[test]
    fn errors_say_which_part() {
        let msg = |name: &str| parse_name(name).unwrap_err().to_string();
        assert_eq!(
            msg("1001_DFA_XYZ_XX.wav"),
            "1001_DFA_XYZ_XX.wav: unknown emotion `XYZ`: expected one of ANG DIS FEA HAP NEU SAD"
        );
        assert!(msg("1001_ABC_ANG_XX.wav").contains("unknown sentence code `ABC`"));
        assert!(
            msg("1001_DFA_ANG_ZZ.wav").contains("unknown level `ZZ`: expected one of LO MD HI XX")
        );
        assert!(msg("1092_DFA_ANG_XX.wav").contains("actor `1092`"));
        assert!(msg("101_DFA_ANG_XX.wav").contains("4 digits"));
        assert!(msg("+101_DFA_ANG_XX.wav").contains("actor `+101`"));
        assert!(msg("1001_DFA_ANG.wav").contains("found 3"));
        assert!(msg("1001_DFA_ANG_XX.mp3").contains("AAAA_SSS_EEE_LL.wav"));
        assert!(msg("1001_DFA_ANG_XX_1.wav").contains("found 5"));
    }
}
