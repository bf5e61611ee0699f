//! CREMA-D's public metadata, built into the binary (`assets/crema-d/`, ODbL 1.0): the manifest
//! of the official `AudioWAV/` folder (name, size, SHA-256 of all 7,442 files), the actors'
//! demographics, and the crowd's perceived emotion per clip (voice only).

use std::collections::BTreeMap;
use std::path::Path;

use super::super::check::{parse_manifest, ManifestEntry};
use super::super::EMOTIONS;
use crate::base::csv::parse_record;
use crate::base::{Error, Result};

const MANIFEST: &str = include_str!("../../../assets/crema-d/audiowav-manifest.csv");
const DEMOGRAPHICS: &str = include_str!("../../../assets/crema-d/VideoDemographics.csv");
const SUMMARY_TABLE: &str = include_str!("../../../assets/crema-d/summaryTable.csv");

/// The fixed speaker split shipped for CREMA-D (`split.assignment = "crema-d"`): `speaker,part`
/// for the 91 actors, drawn once by `split`'s balanced speaker cut (balance sex and age band,
/// test 0.30, validation 0.15 of the rest, seed 0; `tests/split.rs` redraws and compares), so
/// every speaker-independent CREMA-D result compares on the same speakers.
pub const SPEAKER_SPLIT: &str = include_str!("../../../assets/crema-d/speaker-split.csv");

/// Names the built-in files in errors (they are checked by tests, so none is expected).
const ORIGIN: &str = "(built-in CREMA-D metadata)";

/// The 7,442 files of the official `AudioWAV/` folder: name, size, SHA-256.
pub fn manifest() -> Result<Vec<ManifestEntry>> {
    parse_manifest(Path::new(ORIGIN), MANIFEST)
}

/// One actor of `VideoDemographics.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// 1001–1091.
    pub id: u16,
    /// Age in years.
    pub age: u8,
    /// `Male` or `Female`.
    pub sex: String,
    /// `African American`, `Asian`, `Caucasian` or `Unknown`.
    pub race: String,
    /// `Hispanic` or `Not Hispanic`.
    pub ethnicity: String,
}

impl Actor {
    /// The actor's age band, as splits balance and reports group by it: `20-29`, `30-39`, ...
    /// (CREMA-D's actors are 20 to 74).
    pub fn age_band(&self) -> String {
        let lo = self.age / 10 * 10;
        format!("{lo}-{}", lo + 9)
    }

    /// The value of a demographic attribute by name: `sex`, `age` (the band), `race`,
    /// `ethnicity`; `None` for another name.
    pub fn attribute(&self, name: &str) -> Option<String> {
        match name {
            "sex" => Some(self.sex.clone()),
            "age" => Some(self.age_band()),
            "race" => Some(self.race.clone()),
            "ethnicity" => Some(self.ethnicity.clone()),
            _ => None,
        }
    }
}

/// The fields of every data row of the built-in CSV `text` (its header skipped), with their
/// 1-based line numbers.
fn rows(text: &str, file: &str) -> Result<Vec<(usize, Vec<String>)>> {
    text.lines()
        .enumerate()
        .skip(1)
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            parse_record(l)
                .map(|f| (i + 1, f))
                .map_err(|m| row_error(file, i + 1, m))
        })
        .collect()
}

/// An error about line `line` of the built-in `file`.
fn row_error(file: &str, line: usize, message: String) -> Error {
    Error::format(
        format!("{ORIGIN} {file}"),
        format!("line {line}: {message}"),
    )
}

/// The 91 actors by id.
pub fn actors() -> Result<BTreeMap<u16, Actor>> {
    const FILE: &str = "VideoDemographics.csv";
    let mut out = BTreeMap::new();
    for (line, f) in rows(DEMOGRAPHICS, FILE)? {
        let bad = |m: String| row_error(FILE, line, m);
        let [id, age, sex, race, ethnicity] = &f[..] else {
            return Err(bad(format!("expected 5 fields, found {}", f.len())));
        };
        let actor = Actor {
            id: id.parse().map_err(|_| bad(format!("actor id `{id}`")))?,
            age: age.parse().map_err(|_| bad(format!("age `{age}`")))?,
            sex: sex.clone(),
            race: race.clone(),
            ethnicity: ethnicity.clone(),
        };
        out.insert(actor.id, actor);
    }
    Ok(out)
}

/// What the crowd perceived in one clip, from its voice only.
#[derive(Debug, Clone, PartialEq)]
pub struct Perceived {
    /// The emotions with the most votes, as indices into [`EMOTIONS`]: one, or several on a tie.
    pub votes: Vec<usize>,
    /// The mean intensity the raters gave each winning emotion, 0–100 (`VoiceLevel`), in the
    /// order of `votes`.
    pub intensity: Vec<f64>,
}

/// The crowd's voice-only votes by clip name (`1001_DFA_ANG_XX`, no extension).
pub fn perceived() -> Result<BTreeMap<String, Perceived>> {
    let letter = |c: &str| match c {
        "A" => Some(0),
        "D" => Some(1),
        "F" => Some(2),
        "H" => Some(3),
        "N" => Some(4),
        "S" => Some(5),
        _ => None,
    };
    debug_assert_eq!(EMOTIONS[4], "NEU");
    const FILE: &str = "summaryTable.csv";
    let mut out = BTreeMap::new();
    for (line, f) in rows(SUMMARY_TABLE, FILE)? {
        let bad = |m: String| row_error(FILE, line, m);
        let [_, name, vote, level, ..] = &f[..] else {
            return Err(bad(format!("expected 8 fields, found {}", f.len())));
        };
        let votes = vote
            .split(':')
            .map(|v| letter(v).ok_or_else(|| bad(format!("vote `{vote}`"))))
            .collect::<Result<Vec<usize>>>()?;
        let intensity = level
            .split(':')
            .map(|l| {
                l.trim()
                    .parse()
                    .map_err(|_| bad(format!("VoiceLevel `{level}`")))
            })
            .collect::<Result<Vec<f64>>>()?;
        if intensity.len() != votes.len() {
            return Err(bad(format!(
                "VoiceLevel `{level}` does not match VoiceVote `{vote}`"
            )));
        }
        out.insert(name.clone(), Perceived { votes, intensity });
    }
    Ok(out)
}

/// How often the crowd's voice-only vote names the intended emotion: over all clips and per
/// intended emotion, ties counted as misses.
#[derive(Debug, Clone, PartialEq)]
pub struct HumanBaseline {
    /// Clips voted on.
    pub clips: usize,
    /// Clips whose vote is a tie.
    pub ties: usize,
    /// Share of clips whose single winning vote is the intended emotion.
    pub accuracy: f64,
    /// Per intended emotion ([`EMOTIONS`] order): clips and accuracy.
    pub per_emotion: Vec<(String, usize, f64)>,
}

/// The listeners' voice-only accuracy against the intended labels, from `summaryTable.csv`.
pub fn human_baseline() -> Result<HumanBaseline> {
    let votes = perceived()?;
    let mut right = [0usize; 6];
    let mut total = [0usize; 6];
    let mut ties = 0;
    for (name, p) in &votes {
        let intended = super::parse_name(&format!("{name}.wav"))?.label();
        total[intended] += 1;
        ties += usize::from(p.votes.len() > 1);
        right[intended] += usize::from(p.votes == [intended]);
    }
    let clips: usize = total.iter().sum();
    Ok(HumanBaseline {
        clips,
        ties,
        accuracy: right.iter().sum::<usize>() as f64 / clips.max(1) as f64,
        per_emotion: EMOTIONS
            .iter()
            .enumerate()
            .map(|(e, name)| {
                (
                    name.to_string(),
                    total[e],
                    right[e] as f64 / total[e].max(1) as f64,
                )
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_metadata_is_complete_and_consistent() {
        let files = manifest().unwrap();
        assert_eq!(files.len(), 7442);
        let actors = actors().unwrap();
        assert_eq!(actors.len(), 91);
        assert_eq!(actors.keys().next(), Some(&1001));
        assert_eq!(actors[&1001].sex, "Male");
        assert_eq!(actors[&1001].age_band(), "50-59");
        let perceived = perceived().unwrap();
        assert_eq!(perceived.len(), 7442);
        for f in &files {
            let stem = f.name.trim_end_matches(".wav");
            assert!(perceived.contains_key(stem), "{stem}");
            let actor: u16 = stem[..4].parse().unwrap();
            assert!(actors.contains_key(&actor), "{actor}");
        }
        assert_eq!(perceived["1001_IEO_NEU_XX"].votes, [4]);
        let ties = perceived.values().filter(|p| p.votes.len() > 1).count();
        assert!(ties > 0 && ties < 1000, "{ties}");
    }

    #[test]
    fn listeners_name_the_intended_emotion_of_41_6_percent_of_the_clips() {
        let b = human_baseline().unwrap();
        assert_eq!(b.clips, 7442);
        // 3,099 of 7,442 (the figure CREMA-D's metadata documents: 41.6%).
        assert!(
            (b.accuracy - 3099.0 / 7442.0).abs() < 1e-12,
            "{}",
            b.accuracy
        );
        assert_eq!(b.per_emotion.len(), 6);
        assert_eq!(b.per_emotion.iter().map(|e| e.1).sum::<usize>(), 7442);
    }
}
