//! EmoDB (Berlin Database of Emotional Speech): a directory of `SSTTTEV.wav` clips.
//!
//! `SS` is the speaker (two digits), `TTT` the text (`a01`…`b10`), `E` the emotion as a German
//! initial and `V` the version letter. Six emotions map onto the CREMA-D classes (W→ANG, E→DIS,
//! A→FEA, F→HAP, N→NEU, T→SAD). Boredom (`L`) has no CREMA-D class: it is left out by default
//! (counted and logged) or kept as a seventh class, [`BOREDOM`].

use std::path::Path;

use super::{Corpus, Item, BOREDOM, EMOTIONS};
use crate::base::{Error, Result};
use crate::config::CorpusKind;

/// EmoDB emotion letters and the CREMA-D code each maps to (`L`, boredom, maps to `BOR`).
pub const LETTERS: [(char, &str); 7] = [
    ('W', "ANG"),
    ('E', "DIS"),
    ('A', "FEA"),
    ('F', "HAP"),
    ('N', "NEU"),
    ('T', "SAD"),
    ('L', BOREDOM),
];

/// The parts of an EmoDB file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmodbName<'a> {
    /// Speaker id, two digits (`03`).
    pub speaker: &'a str,
    /// Text id (`a01`…`b10`).
    pub text: &'a str,
    /// Class code: a CREMA-D emotion or `BOR`.
    pub emotion: &'static str,
    /// Version letter (`a`, `b`, …).
    pub version: char,
}

/// Parses a file name such as `03a01Wa.wav`. Errors (`Error::Label`) name the file, the part
/// that is wrong and what was expected there.
pub fn parse_name(name: &str) -> Result<EmodbName<'_>> {
    parse(name).map_err(|message| Error::Label {
        path: name.into(),
        message,
    })
}

fn parse(name: &str) -> std::result::Result<EmodbName<'_>, String> {
    let stem = match name.rsplit_once('.') {
        Some((stem, ext)) if ext.eq_ignore_ascii_case("wav") => stem,
        _ => return Err("not an EmoDB clip name: expected SSTTTEV.wav (e.g. 03a01Wa.wav)".into()),
    };
    if !stem.is_ascii() {
        return Err("not an EmoDB clip name: expected ASCII characters SSTTTEV before .wav".into());
    }
    if stem.len() != 7 {
        return Err(format!(
            "not an EmoDB clip name: expected 7 characters SSTTTEV before .wav, found {} \
             (e.g. 03a01Wa.wav)",
            stem.len()
        ));
    }
    let (speaker, text, emotion, version) = (&stem[0..2], &stem[2..5], &stem[5..6], &stem[6..7]);
    if !speaker.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "speaker `{speaker}` is not an EmoDB speaker id: expected 2 digits"
        ));
    }
    let t = text.as_bytes();
    if !(matches!(t[0], b'a' | b'b') && t[1].is_ascii_digit() && t[2].is_ascii_digit()) {
        return Err(format!(
            "text `{text}` is not an EmoDB text id: expected a or b then 2 digits (a01…b10)"
        ));
    }
    let letter = emotion.chars().next().unwrap_or(' ');
    let emotion = LETTERS
        .iter()
        .find(|(l, _)| *l == letter)
        .map(|(_, code)| *code)
        .ok_or_else(|| {
            format!(
                "unknown emotion letter `{letter}`: expected one of W E A F N T L \
                 (anger, disgust, fear, happiness, neutral, sadness, boredom)"
            )
        })?;
    let version = version.chars().next().unwrap_or(' ');
    if !version.is_ascii_lowercase() {
        return Err(format!(
            "version `{version}` is not an EmoDB version letter: expected a lowercase letter"
        ));
    }
    Ok(EmodbName {
        speaker,
        text,
        emotion,
        version,
    })
}

/// EmoDB's classes: the six emotions, then [`BOREDOM`] when it is kept.
pub fn classes(include_boredom: bool) -> Vec<String> {
    let mut classes = super::emotion_classes();
    if include_boredom {
        classes.push(BOREDOM.to_string());
    }
    classes
}

/// Reads an EmoDB directory. Boredom clips are skipped (and counted in a log line) unless
/// `include_boredom`, which adds them as class `BOR` after the six emotions. Entries that are not
/// `.wav` files are skipped and logged; a `.wav` whose name does not parse is an error.
pub fn read_dir(dir: &Path, include_boredom: bool) -> Result<Corpus> {
    let listing = super::list_dir(dir)?;
    super::warn_ignored(dir, &listing.ignored);
    let classes = classes(include_boredom);
    let mut items = Vec::new();
    let mut bored = 0usize;
    for name in &listing.wavs {
        let path = dir.join(name);
        let parsed = parse(name).map_err(|message| Error::Label {
            path: path.clone(),
            message,
        })?;
        let label = match EMOTIONS.iter().position(|e| *e == parsed.emotion) {
            Some(i) => i,
            None if include_boredom => EMOTIONS.len(),
            None => {
                bored += 1;
                continue;
            }
        };
        items.push(Item {
            label,
            speaker: parsed.speaker.to_string(),
            sentence: Some(parsed.text.to_string()),
            level: None,
            path,
        });
    }
    if bored > 0 {
        tracing::info!(
            "{}: left out {bored} boredom clips (no CREMA-D class; set data.include_boredom to keep them as BOR)",
            dir.display()
        );
    }
    let notes = if bored > 0 {
        vec![format!(
            "left out {bored} boredom clips (no CREMA-D class; data.include_boredom keeps them)"
        )]
    } else {
        Vec::new()
    };
    if items.is_empty() {
        return Err(super::no_clips(dir, "EmoDB clips named SSTTTEV.wav"));
    }
    Ok(Corpus {
        kind: CorpusKind::Emodb,
        root: dir.to_path_buf(),
        classes,
        items,
        demographics: Default::default(),
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_name() {
        let n = parse_name("03a01Wa.wav").unwrap();
        assert_eq!(
            n,
            EmodbName {
                speaker: "03",
                text: "a01",
                emotion: "ANG",
                version: 'a'
            }
        );
        assert_eq!(parse_name("16b10Lb.wav").unwrap().emotion, "BOR");
    }

    #[test]
    fn errors_say_which_part() {
        let msg = |name: &str| parse_name(name).unwrap_err().to_string();
        assert_eq!(
            msg("03a01Xa.wav"),
            "03a01Xa.wav: unknown emotion letter `X`: expected one of W E A F N T L \
             (anger, disgust, fear, happiness, neutral, sadness, boredom)"
        );
        assert!(msg("x3a01Wa.wav").contains("speaker `x3`"));
        assert!(msg("03c01Wa.wav").contains("text `c01`"));
        assert!(msg("03a01WA.wav").contains("version `A`"));
        assert!(msg("03a01W.wav").contains("found 6"));
        assert!(msg("03a01Wä.wav").contains("ASCII"));
        assert!(msg("03a01Wa.flac").contains("SSTTTEV.wav"));
    }
}
