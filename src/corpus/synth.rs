//! The embedded default corpus: a deterministic synthetic speech-emotion corpus in CREMA-D layout.
//!
//! `ser` must run end to end on a fresh clone with no downloaded data, so this module renders a
//! small acted-speech-like corpus from a source-filter voice model: a Rosenberg glottal pulse
//! train on a moving F0 contour (declination, accents, tremor, jitter/shimmer, creak), aspiration
//! noise, spectral tilt, a cascade of formant resonators (four moving between the vowel targets
//! of the twelve CREMA-D sentences, one fixed), frication/plosive noise for consonants,
//! leading/trailing silence and a recording noise floor. Emotions move pitch level and range,
//! loudness, tempo, voice quality and articulation; speakers move base F0, vocal-tract length,
//! loudness, rate and expressiveness; every clip draws its own variation, so the classes overlap
//! the way acted speech does.
//!
//! Output: 16 kHz mono 16-bit WAVs named `AAAA_SSS_EEE_LL.wav` (actor ids from 1001), plus a
//! `synth.json` marker written last. Every clip has its own ChaCha8 stream seeded from
//! (seed, actor, sentence, emotion, level), so the bytes do not depend on generation order or
//! thread count. The directory is built beside the target and renamed into place, so a reader
//! never sees half a corpus.

use std::f64::consts::PI;
use std::fs;
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::base::{atomic, interrupt, Error, Result};

/// Sample rate of the generated WAVs (CREMA-D's).
pub const SAMPLE_RATE: u32 = 16_000;
/// Version of the voice model; bump it whenever the rendered bytes change so `ensure` regenerates.
pub const GENERATOR_VERSION: u32 = 1;
/// Name of the marker file written last into a complete corpus.
pub const MARKER_FILE: &str = "synth.json";
/// Actor id of the first speaker (CREMA-D numbers its actors from 1001).
pub const FIRST_ACTOR_ID: usize = 1001;
/// Most speakers a corpus can have while actor ids keep four digits.
pub const MAX_ACTORS: usize = 999;
/// CREMA-D's sentence codes, in the order used for `SynthSpec::sentences`.
pub const SENTENCES: [&str; 12] = [
    "DFA", "IEO", "IOM", "ITH", "ITS", "IWL", "IWW", "MTI", "TAI", "TIE", "TSI", "WSI",
];
/// CREMA-D's emotion codes (the six classes).
pub const EMOTIONS: [&str; 6] = ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"];

const GENERATOR_NAME: &str = "ser synth";
const SR: f64 = SAMPLE_RATE as f64;

pub use crate::config::SynthLayout as Layout;

/// What to generate: speakers, seed, and how many clips per (actor, emotion).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SynthSpec {
    /// Number of speakers (actor ids 1001 ..= 1000 + actors).
    pub actors: usize,
    /// Generator seed; the same spec always gives byte-identical files.
    pub seed: u64,
    /// How many of the twelve CREMA-D sentences each speaker reads, taken from the front of
    /// [`SENTENCES`] (1..=12).
    pub sentences: usize,
    /// Intensity levels per (sentence, emotion): 1 gives `XX`, 2 gives `LO HI`, 3 gives `LO MD HI`.
    pub levels: usize,
    /// Which clips: the grid of the counts above, or CREMA-D's file set (counts ignored).
    #[serde(default)]
    pub layout: Layout,
}

impl SynthSpec {
    /// The default shape: every sentence once per emotion at level `XX` (72 clips per speaker).
    pub fn new(actors: usize, seed: u64) -> Self {
        Self {
            actors,
            seed,
            sentences: SENTENCES.len(),
            levels: 1,
            layout: Layout::Grid,
        }
    }

    /// CREMA-D's file set (see [`Layout::CremaD`]).
    pub fn crema_d(seed: u64) -> Self {
        Self {
            actors: 91,
            seed,
            sentences: SENTENCES.len(),
            levels: 3,
            layout: Layout::CremaD,
        }
    }

    /// Checks the counts, naming the bad one and its allowed range.
    pub fn validate(&self) -> Result<()> {
        if self.layout == Layout::CremaD {
            return Ok(());
        }
        if self.actors == 0 || self.actors > MAX_ACTORS {
            return Err(Error::Usage(format!(
                "synthetic corpus: actors = {} is out of range: use 1..={MAX_ACTORS} \
                 (data.synth_actors)",
                self.actors
            )));
        }
        if self.sentences == 0 || self.sentences > SENTENCES.len() {
            return Err(Error::Usage(format!(
                "synthetic corpus: sentences = {} is out of range: use 1..={}",
                self.sentences,
                SENTENCES.len()
            )));
        }
        if self.levels == 0 || self.levels > 3 {
            return Err(Error::Usage(format!(
                "synthetic corpus: levels = {} is out of range: use 1..=3",
                self.levels
            )));
        }
        Ok(())
    }

    /// Number of WAV files the spec produces.
    pub fn file_count(&self) -> usize {
        match self.layout {
            Layout::Grid => self.actors * self.sentences * EMOTIONS.len() * self.levels,
            Layout::CremaD => crema_d_clips().len(),
        }
    }

    /// Every clip, actor-major, in file-name order within an actor.
    pub fn clips(&self) -> Vec<ClipId> {
        if self.layout == Layout::CremaD {
            return crema_d_clips().to_vec();
        }
        let mut out = Vec::with_capacity(self.file_count());
        for actor in 0..self.actors {
            for sentence in 0..self.sentences {
                for emotion in 0..EMOTIONS.len() {
                    for level in 0..self.levels {
                        out.push(ClipId {
                            actor,
                            sentence,
                            emotion,
                            level,
                        });
                    }
                }
            }
        }
        out
    }

    /// Level codes for this spec's `levels` (CREMA-D's four with its layout).
    fn level_codes(&self) -> &'static [&'static str] {
        match (self.layout, self.levels) {
            (Layout::CremaD, _) => &CREMA_D_LEVELS,
            (Layout::Grid, 1) => &["XX"],
            (Layout::Grid, 2) => &["LO", "HI"],
            (Layout::Grid, _) => &["LO", "MD", "HI"],
        }
    }

    /// Whether actor `actor` (0-based) has a male voice: CREMA-D's demographics with its layout,
    /// else alternating (so any even number of actors is balanced, as CREMA-D roughly is).
    fn male(&self, actor: usize) -> bool {
        match self.layout {
            Layout::Grid => actor % 2 == 0,
            Layout::CremaD => crema_d_males()
                .get(actor)
                .copied()
                .unwrap_or(actor % 2 == 0),
        }
    }

    /// How strongly a level expresses its emotion (1 = the `XX`/`MD` norm).
    fn intensity(&self, level: usize) -> f64 {
        match self.level_codes().get(level).copied() {
            Some("LO") => 0.6,
            Some("HI") => 1.4,
            _ => 1.0,
        }
    }
}

/// One clip of a spec: indices into actors, [`SENTENCES`], [`EMOTIONS`] and the spec's levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClipId {
    /// Speaker index (0-based; the actor id is `FIRST_ACTOR_ID + actor`).
    pub actor: usize,
    /// Index into [`SENTENCES`].
    pub sentence: usize,
    /// Index into [`EMOTIONS`].
    pub emotion: usize,
    /// Index into the spec's level codes.
    pub level: usize,
}

impl ClipId {
    /// The CREMA-D style file name, e.g. `1001_DFA_ANG_XX.wav`.
    pub fn file_name(&self, spec: &SynthSpec) -> String {
        let level = spec.level_codes().get(self.level).copied().unwrap_or("XX");
        format!(
            "{}_{}_{}_{}.wav",
            FIRST_ACTOR_ID + self.actor,
            SENTENCES[self.sentence % SENTENCES.len()],
            EMOTIONS[self.emotion % EMOTIONS.len()],
            level
        )
    }
}

/// CREMA-D's level codes, as [`ClipId::level`] indexes them in its layout.
const CREMA_D_LEVELS: [&str; 4] = ["LO", "MD", "HI", "XX"];

/// The clips of CREMA-D's manifest, in its (file-name) order.
fn crema_d_clips() -> &'static [ClipId] {
    static CLIPS: std::sync::OnceLock<Vec<ClipId>> = std::sync::OnceLock::new();
    CLIPS.get_or_init(|| {
        let index = |list: &[&str], code: &str| list.iter().position(|c| *c == code);
        // The built-in manifest is checked by tests: every name parses.
        super::crema_d::meta::manifest()
            .unwrap_or_default()
            .iter()
            .filter_map(|e| {
                let n = super::crema_d::parse_name(&e.name).ok()?;
                Some(ClipId {
                    actor: usize::from(n.actor) - FIRST_ACTOR_ID,
                    sentence: index(&SENTENCES, n.sentence)?,
                    emotion: index(&EMOTIONS, n.emotion)?,
                    level: index(&CREMA_D_LEVELS, n.level)?,
                })
            })
            .collect()
    })
}

/// Per CREMA-D actor (0-based), whether CREMA-D's demographics say male.
fn crema_d_males() -> &'static [bool] {
    static MALES: std::sync::OnceLock<Vec<bool>> = std::sync::OnceLock::new();
    MALES.get_or_init(|| {
        let actors = super::crema_d::meta::actors().unwrap_or_default();
        (0..91)
            .map(|i| {
                actors
                    .get(&((FIRST_ACTOR_ID + i) as u16))
                    .is_some_and(|a| a.sex == "Male")
            })
            .collect()
    })
}

/// What `generate` wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthSummary {
    /// The corpus directory.
    pub dir: PathBuf,
    /// Number of WAV files.
    pub files: usize,
    /// Total audio duration in seconds.
    pub seconds: f64,
}

/// The marker's content; a corpus is complete when its marker equals the expected one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Marker {
    generator: String,
    version: u32,
    sample_rate: u32,
    actors: usize,
    seed: u64,
    sentences: usize,
    levels: usize,
    files: usize,
    /// Absent in markers of corpora made before layouts existed: those are grids.
    #[serde(default)]
    layout: Layout,
}

impl Marker {
    fn for_spec(spec: &SynthSpec) -> Self {
        Self {
            generator: GENERATOR_NAME.to_string(),
            version: GENERATOR_VERSION,
            sample_rate: SAMPLE_RATE,
            actors: spec.actors,
            seed: spec.seed,
            sentences: spec.sentences,
            levels: spec.levels,
            files: spec.file_count(),
            layout: spec.layout,
        }
    }
}

/// Writes the default-shaped corpus (`SynthSpec::new(actors, seed)`) into `out`, replacing an
/// older synthetic corpus there.
pub fn generate(out: &Path, actors: usize, seed: u64) -> Result<SynthSummary> {
    generate_spec(out, &SynthSpec::new(actors, seed))
}

/// Generates into `dir` unless a complete corpus with the same parameters is already there.
pub fn ensure(dir: &Path, actors: usize, seed: u64) -> Result<()> {
    ensure_spec(dir, &SynthSpec::new(actors, seed)).map(|_| ())
}

/// The spec `[data]` asks for: `synth_actors` speakers on the grid, or CREMA-D's file set.
pub fn spec_for(layout: Layout, actors: usize, seed: u64) -> SynthSpec {
    match layout {
        Layout::Grid => SynthSpec::new(actors, seed),
        Layout::CremaD => SynthSpec::crema_d(seed),
    }
}

/// [`ensure`] for any spec; returns the summary when it generated, `None` when the corpus was
/// already complete.
pub fn ensure_spec(dir: &Path, spec: &SynthSpec) -> Result<Option<SynthSummary>> {
    spec.validate()?;
    if inspect(dir, spec)? == State::Complete {
        return Ok(None);
    }
    match generate_spec(dir, spec) {
        Ok(summary) => Ok(Some(summary)),
        // Another process may have finished the same corpus while this one was rendering.
        Err(e) => match inspect(dir, spec) {
            Ok(State::Complete) => Ok(None),
            _ => Err(e),
        },
    }
}

/// Writes the corpus for `spec` into `out`: renders it whole ([`atomic::write_dir`]), the marker
/// last. An existing synthetic corpus (one with a marker)
/// or an empty directory at `out` is replaced; any other existing path is an error.
pub fn generate_spec(out: &Path, spec: &SynthSpec) -> Result<SynthSummary> {
    spec.validate()?;
    if inspect(out, spec)? == State::Foreign {
        return Err(Error::Corpus {
            path: out.to_path_buf(),
            message: format!(
                "exists and is not a synthetic corpus (no {MARKER_FILE}); refusing to replace \
                 it: choose an empty or new directory for the synthetic corpus"
            ),
        });
    }
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let mut seconds = 0.0;
    atomic::write_dir(out, |tmp| {
        seconds = write_all(tmp, spec)?;
        let marker = Marker::for_spec(spec);
        let path = tmp.join(MARKER_FILE);
        let text = serde_json::to_string_pretty(&marker)
            .map_err(|e| Error::format(&path, format!("cannot serialize the marker: {e}")))?;
        // Last: a corpus is complete when its marker is there.
        fs::write(&path, text + "\n").map_err(|e| Error::io(&path, e))
    })?;
    tracing::info!(
        dir = %out.display(),
        files = spec.file_count(),
        audio_seconds = format!("{seconds:.0}"),
        "generated the synthetic corpus"
    );
    Ok(SynthSummary {
        dir: out.to_path_buf(),
        files: spec.file_count(),
        seconds,
    })
}

/// Renders every clip into `dir` in parallel; returns the total audio duration in seconds.
fn write_all(dir: &Path, spec: &SynthSpec) -> Result<f64> {
    let wav_spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let samples: Vec<usize> = spec
        .clips()
        .par_iter()
        .map(|clip| {
            // A signal stops the generation; the half-built folder is a temporary, never read.
            interrupt::check()?;
            let path = dir.join(clip.file_name(spec));
            let audio = render(spec, *clip);
            let wav_err = |e: hound::Error| match e {
                hound::Error::IoError(io) => Error::io(&path, io),
                other => Error::Corpus {
                    path: path.clone(),
                    message: format!("cannot write WAV: {other}"),
                },
            };
            let mut writer = hound::WavWriter::create(&path, wav_spec).map_err(wav_err)?;
            for &s in &audio {
                writer.write_sample(s).map_err(wav_err)?;
            }
            writer.finalize().map_err(wav_err)?;
            Ok(audio.len())
        })
        .collect::<Result<_>>()?;
    Ok(samples.iter().sum::<usize>() as f64 / SR)
}

/// What is at a corpus path, as far as `ensure` and `generate` care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing there, or an empty directory.
    Absent,
    /// A synthetic corpus with the expected marker and every expected file.
    Complete,
    /// A synthetic corpus (it has a marker) with other parameters, an older version, or missing files.
    Stale,
    /// Something else: a file, or a directory of other content.
    Foreign,
}

fn inspect(dir: &Path, spec: &SynthSpec) -> Result<State> {
    let meta = match fs::metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::Absent),
        Err(e) => return Err(Error::io(dir, e)),
    };
    if !meta.is_dir() {
        return Ok(State::Foreign);
    }
    let marker_path = dir.join(MARKER_FILE);
    match fs::read_to_string(&marker_path) {
        Ok(text) => {
            let complete = serde_json::from_str::<Marker>(&text)
                .is_ok_and(|m| m == Marker::for_spec(spec))
                && spec
                    .clips()
                    .iter()
                    .all(|c| dir.join(c.file_name(spec)).is_file());
            Ok(if complete {
                State::Complete
            } else {
                State::Stale
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut entries = fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
            Ok(if entries.next().is_none() {
                State::Absent
            } else {
                State::Foreign
            })
        }
        Err(e) => Err(Error::io(&marker_path, e)),
    }
}

// ---------------------------------------------------------------------------------------------
// Text: the twelve sentences as syllables.
// ---------------------------------------------------------------------------------------------

/// The sentences as syllable tokens `<onset><vowel(s)><coda>[!]`. Consonant classes: `-` none,
/// `p` voiceless plosive, `b` voiced plosive, `s` s-like, `S` sh-like, `f` weak fricative (f, th),
/// `z` voiced fricative, `n` sonorant (nasal, liquid, glide), `h` aspiration. Vowels: see
/// [`vowel_formants`]; two vowel letters glide from the first to the second. `!` marks stress.
const TEXT: [&[&str]; 12] = [
    // DFA: Don't forget a jacket
    &["boUp!", "f3-", "bEp!", "-@-", "Sap!", "-Ip"],
    // IEO: It's eleven o'clock
    &["-Is", "-I-", "nEz!", "-@n", "-@-", "pAp!"],
    // IOM: I'm on my way to the meeting
    &["-AIn", "-An", "nAI-", "neI-!", "p@-", "z@-", "nip!", "-In"],
    // ITH: I think I have a doctor's appointment
    &[
        "-AI-", "fIp!", "-AI-", "haz", "-@-", "bAp!", "p3z", "-@-", "pOIn!", "n@p",
    ],
    // ITS: I think I've seen this before
    &["-AI-", "fIp!", "-AIz", "sin!", "zIs", "bI-", "fO-!"],
    // IWL: I would like a new alarm clock
    &["-AI-", "nUb", "nAIp!", "-@-", "nu-!", "-@-", "nAn!", "pAp!"],
    // IWW: I wonder what this is about
    &["-AI-", "nVn!", "b3-", "nVp", "zIs", "-Iz", "-@-", "baUp!"],
    // MTI: Maybe tomorrow it will be cold
    &[
        "neI-!", "bi-", "p@-", "nA-!", "noU-", "-Ip", "nIn", "bi-", "poUp!",
    ],
    // TAI: The airplane is almost full
    &["z@-", "-E3-!", "peIn", "-Iz", "-On!", "noUs", "fUn!"],
    // TIE: That is exactly what happened
    &["zap", "-Iz", "-Ib", "zap!", "ni-", "nVp", "hap!", "p@n"],
    // TSI: The surface is slick
    &["z@-", "s3-!", "fIs", "-Iz", "sIp!"],
    // WSI: We'll stop in a couple of minutes
    &[
        "nin", "sAp!", "-In", "-@-", "pVp!", "p@n", "-@z", "nIn!", "p@s",
    ],
];

#[derive(Debug, Clone, Copy, PartialEq)]
struct Syllable {
    onset: char,
    v1: [f64; 4],
    v2: [f64; 4],
    coda: char,
    stressed: bool,
}

/// Formant targets F1..F4 (Hz) of an adult male voice, after Peterson & Barney / Hillenbrand.
fn vowel_formants(v: char) -> Option<[f64; 4]> {
    Some(match v {
        'i' => [280.0, 2250.0, 2900.0, 3500.0],
        'I' => [400.0, 1950.0, 2600.0, 3500.0],
        'e' => [470.0, 2100.0, 2700.0, 3500.0],
        'E' => [560.0, 1800.0, 2550.0, 3500.0],
        'a' => [680.0, 1700.0, 2450.0, 3500.0],
        'A' => [720.0, 1100.0, 2450.0, 3500.0],
        'O' => [580.0, 880.0, 2450.0, 3400.0],
        'o' => [480.0, 950.0, 2400.0, 3400.0],
        'U' => [450.0, 1050.0, 2250.0, 3400.0],
        'u' => [320.0, 900.0, 2250.0, 3400.0],
        'V' => [630.0, 1200.0, 2400.0, 3400.0],
        '@' => [500.0, 1450.0, 2500.0, 3500.0],
        '3' => [480.0, 1350.0, 1700.0, 3300.0],
        _ => return None,
    })
}

const SCHWA: [f64; 4] = [500.0, 1450.0, 2500.0, 3500.0];

/// Parses one token of [`TEXT`]; `None` for a malformed token (caught by a unit test).
fn parse_syllable(token: &str) -> Option<Syllable> {
    let stressed = token.ends_with('!');
    let chars: Vec<char> = token.trim_end_matches('!').chars().collect();
    if !(3..=4).contains(&chars.len()) {
        return None;
    }
    let consonant = |c: char| "-pbsSfznh".contains(c).then_some(c);
    let onset = consonant(chars[0])?;
    let coda = consonant(chars[chars.len() - 1])?;
    let v1 = vowel_formants(chars[1])?;
    let v2 = if chars.len() == 4 {
        vowel_formants(chars[2])?
    } else {
        v1
    };
    Some(Syllable {
        onset,
        v1,
        v2,
        coda,
        stressed,
    })
}

fn sentence_syllables(sentence: usize) -> Vec<Syllable> {
    TEXT[sentence % TEXT.len()]
        .iter()
        .map(|t| {
            parse_syllable(t).unwrap_or(Syllable {
                onset: '-',
                v1: SCHWA,
                v2: SCHWA,
                coda: '-',
                stressed: false,
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Voices: emotion profiles, speakers, per-clip parameters.
// ---------------------------------------------------------------------------------------------

/// How an emotion is voiced. Values for NEU are the neutral reference; other emotions are
/// applied as a deviation from it, scaled by speaker expressiveness and level intensity.
#[derive(Debug, Clone, Copy)]
struct Profile {
    /// F0 shift from the speaker's base, semitones.
    f0_st: f64,
    /// Height of accents on stressed syllables, semitones.
    range_st: f64,
    /// Loudness relative to neutral, dB.
    loud_db: f64,
    /// Speaking-rate factor.
    tempo: f64,
    /// Cycle-to-cycle period perturbation (fraction).
    jitter: f64,
    /// Cycle-to-cycle amplitude perturbation (fraction).
    shimmer: f64,
    /// One-pole low-pass coefficient on the glottal source: higher is a steeper spectral tilt.
    tilt: f64,
    /// Open quotient of the glottal pulse: higher is a softer, breathier pulse.
    oq: f64,
    /// Aspiration noise relative to voicing.
    breath: f64,
    /// Chance of a creaky (vocal fry) syllable, mostly near the end.
    creak: f64,
    /// F0 tremor depth, semitones.
    tremor_st: f64,
    /// Consonant (frication, bursts) level relative to vowels.
    consonant: f64,
    /// Formant scale (lip spreading raises, a lowered larynx lowers).
    formant: f64,
    /// Extra F1 factor (a wider jaw opening raises F1).
    f1: f64,
    /// Vowel reduction towards schwa (0 = none).
    centralize: f64,
    /// Unstressed syllables are this much quieter than stressed ones (fraction).
    contrast: f64,
    /// Chance of a pause between syllables.
    pause: f64,
    /// F0 movement over the last syllables, semitones (negative: final fall).
    final_st: f64,
    /// Loudness fall over the utterance, dB.
    fade_db: f64,
}

const PROFILES: [Profile; 6] = [
    // ANG: high, loud, fast, pressed (flat tilt), strong articulation, little range.
    Profile {
        f0_st: 4.0,
        range_st: 3.0,
        loud_db: 7.0,
        tempo: 1.12,
        jitter: 0.012,
        shimmer: 0.06,
        tilt: 0.15,
        oq: 0.45,
        breath: 0.04,
        creak: 0.05,
        tremor_st: 0.1,
        consonant: 1.5,
        formant: 1.02,
        f1: 1.1,
        centralize: 0.0,
        contrast: 0.3,
        pause: 0.05,
        final_st: -3.0,
        fade_db: 2.0,
    },
    // DIS: low-mid, slow, creaky, lowered formants.
    Profile {
        f0_st: -1.5,
        range_st: 4.0,
        loud_db: -1.0,
        tempo: 0.85,
        jitter: 0.02,
        shimmer: 0.08,
        tilt: 0.5,
        oq: 0.62,
        breath: 0.07,
        creak: 0.45,
        tremor_st: 0.15,
        consonant: 1.1,
        formant: 0.97,
        f1: 1.0,
        centralize: 0.1,
        contrast: 0.4,
        pause: 0.2,
        final_st: -4.0,
        fade_db: 4.0,
    },
    // FEA: high, jittery, breathy, fast, trembling, rising ends.
    Profile {
        f0_st: 5.0,
        range_st: 4.0,
        loud_db: 1.0,
        tempo: 1.15,
        jitter: 0.03,
        shimmer: 0.1,
        tilt: 0.35,
        oq: 0.72,
        breath: 0.22,
        creak: 0.05,
        tremor_st: 0.7,
        consonant: 1.0,
        formant: 1.03,
        f1: 1.0,
        centralize: 0.05,
        contrast: 0.3,
        pause: 0.12,
        final_st: 1.5,
        fade_db: 2.0,
    },
    // HAP: high, wide range, fast, bright (smiling raises formants).
    Profile {
        f0_st: 4.0,
        range_st: 7.0,
        loud_db: 3.0,
        tempo: 1.1,
        jitter: 0.01,
        shimmer: 0.05,
        tilt: 0.28,
        oq: 0.55,
        breath: 0.06,
        creak: 0.03,
        tremor_st: 0.1,
        consonant: 1.15,
        formant: 1.05,
        f1: 1.0,
        centralize: 0.0,
        contrast: 0.45,
        pause: 0.05,
        final_st: 0.5,
        fade_db: 2.0,
    },
    // NEU: the reference.
    Profile {
        f0_st: 0.0,
        range_st: 3.5,
        loud_db: 0.0,
        tempo: 1.0,
        jitter: 0.008,
        shimmer: 0.04,
        tilt: 0.4,
        oq: 0.6,
        breath: 0.06,
        creak: 0.1,
        tremor_st: 0.1,
        consonant: 1.0,
        formant: 1.0,
        f1: 1.0,
        centralize: 0.05,
        contrast: 0.35,
        pause: 0.08,
        final_st: -2.5,
        fade_db: 3.0,
    },
    // SAD: low, quiet, slow, steep tilt, narrow range, breathy, reduced vowels.
    Profile {
        f0_st: -1.5,
        range_st: 1.5,
        loud_db: -5.0,
        tempo: 0.8,
        jitter: 0.015,
        shimmer: 0.07,
        tilt: 0.6,
        oq: 0.7,
        breath: 0.12,
        creak: 0.25,
        tremor_st: 0.25,
        consonant: 0.7,
        formant: 0.98,
        f1: 0.95,
        centralize: 0.3,
        contrast: 0.2,
        pause: 0.25,
        final_st: -2.0,
        fade_db: 5.0,
    },
];

const NEUTRAL: usize = 4;

/// `neutral + k · (emotion − neutral)`, field by field.
fn blend(emotion: usize, k: f64) -> Profile {
    let n = PROFILES[NEUTRAL];
    let e = PROFILES[emotion % PROFILES.len()];
    let m = |a: f64, b: f64| a + k * (b - a);
    Profile {
        f0_st: m(n.f0_st, e.f0_st),
        range_st: m(n.range_st, e.range_st),
        loud_db: m(n.loud_db, e.loud_db),
        tempo: m(n.tempo, e.tempo),
        jitter: m(n.jitter, e.jitter),
        shimmer: m(n.shimmer, e.shimmer),
        tilt: m(n.tilt, e.tilt),
        oq: m(n.oq, e.oq),
        breath: m(n.breath, e.breath),
        creak: m(n.creak, e.creak),
        tremor_st: m(n.tremor_st, e.tremor_st),
        consonant: m(n.consonant, e.consonant),
        formant: m(n.formant, e.formant),
        f1: m(n.f1, e.f1),
        centralize: m(n.centralize, e.centralize),
        contrast: m(n.contrast, e.contrast),
        pause: m(n.pause, e.pause),
        final_st: m(n.final_st, e.final_st),
        fade_db: m(n.fade_db, e.fade_db),
    }
}

/// Who is speaking: fixed per (seed, actor).
#[derive(Debug, Clone, Copy)]
struct Speaker {
    f0: f64,
    formant_scale: f64,
    loud_db: f64,
    rate: f64,
    tilt: f64,
    breath: f64,
    oq: f64,
    jitter: f64,
    expressive: f64,
    declination_st: f64,
    floor_db: f64,
    floor_color: f64,
}

/// A ChaCha8 stream for one (seed, actor, sentence, emotion, level); `sentence == usize::MAX`
/// is the speaker's own stream.
fn stream(seed: u64, actor: usize, sentence: usize, emotion: usize, level: usize) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[0..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&(actor as u64).to_le_bytes());
    key[16..24].copy_from_slice(&(sentence as u64).to_le_bytes());
    key[24..32].copy_from_slice(&((emotion as u64) << 32 | level as u64).to_le_bytes());
    ChaCha8Rng::from_seed(key)
}

fn gauss(rng: &mut ChaCha8Rng) -> f64 {
    // Box-Muller; 1 - u keeps the logarithm finite.
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random::<f64>();
    (-2.0 * u.ln()).sqrt() * (2.0 * PI * v).cos()
}

fn uniform(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

fn speaker(seed: u64, actor: usize, male: bool) -> Speaker {
    let mut rng = stream(seed, actor, usize::MAX, 0, 0);
    let (f0, f0_sd, vtl) = if male {
        (115.0, 14.0, 1.0)
    } else {
        (205.0, 20.0, 1.16)
    };
    Speaker {
        f0: (f0 + f0_sd * gauss(&mut rng)).clamp(f0 * 0.75, f0 * 1.3),
        formant_scale: vtl * (1.0 + 0.04 * gauss(&mut rng)).clamp(0.9, 1.1),
        loud_db: 2.5 * gauss(&mut rng),
        rate: (4.8 + 0.45 * gauss(&mut rng)).clamp(3.8, 6.0),
        tilt: 0.08 * gauss(&mut rng),
        breath: if male { 0.0 } else { 0.03 } + 0.02 * gauss(&mut rng).abs(),
        oq: if male { 0.0 } else { 0.05 } + 0.03 * gauss(&mut rng),
        jitter: uniform(&mut rng, 0.0, 0.006),
        expressive: uniform(&mut rng, 0.7, 1.25),
        declination_st: -(2.5 + 0.8 * gauss(&mut rng)).clamp(0.5, 5.0),
        floor_db: uniform(&mut rng, -68.0, -52.0),
        floor_color: uniform(&mut rng, 0.3, 0.95),
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering.
// ---------------------------------------------------------------------------------------------

/// A stretch of the utterance with constant control targets.
#[derive(Debug, Clone, Copy)]
struct Segment {
    len: usize,
    /// Voicing amplitude target.
    voice: f64,
    /// Frication/burst noise amplitude target.
    noise: f64,
    /// Noise resonator centre and bandwidth, Hz.
    noise_f: f64,
    noise_bw: f64,
    /// Formant targets at the start and end of the segment.
    f_start: [f64; 4],
    f_end: [f64; 4],
    /// Accent target, semitones.
    st: f64,
    /// Creaky voice in this segment.
    creak: bool,
    /// Part of the spoken utterance (as opposed to the leading/trailing silence).
    speech: bool,
}

impl Segment {
    fn silence(len: usize, formants: [f64; 4]) -> Self {
        Segment {
            len,
            voice: 0.0,
            noise: 0.0,
            noise_f: 2000.0,
            noise_bw: 2000.0,
            f_start: formants,
            f_end: formants,
            st: 0.0,
            creak: false,
            speech: false,
        }
    }
}

/// Everything one clip needs, drawn from the speaker, the emotion profile and the clip's stream.
struct Voice {
    f0: f64,
    p: Profile,
    rate: f64,
    formant_scale: f64,
    jitter: f64,
    oq: f64,
    breath: f64,
    tilt: f64,
    declination_st: f64,
    loud_db: f64,
    floor_db: f64,
    floor_color: f64,
}

fn samples(seconds: f64) -> usize {
    (seconds.max(0.0) * SR).round() as usize
}

/// Consonant segments for one onset or coda class.
fn consonant(class: char, scale: f64, strength: f64, formants: [f64; 4], st: f64) -> Vec<Segment> {
    let seg = |secs: f64, voice: f64, noise: f64, f: f64, bw: f64| Segment {
        len: samples(secs * scale),
        voice,
        noise: noise * strength,
        noise_f: f,
        noise_bw: bw,
        f_start: formants,
        f_end: formants,
        st,
        creak: false,
        speech: true,
    };
    match class {
        'p' => vec![
            seg(0.045, 0.0, 0.0, 2500.0, 3000.0),
            seg(0.012, 0.0, 1.2, 2800.0, 3500.0),
            seg(0.025, 0.05, 0.35, 1500.0, 2500.0),
        ],
        'b' => vec![
            seg(0.035, 0.08, 0.0, 2500.0, 3000.0),
            seg(0.010, 0.15, 0.7, 2500.0, 3000.0),
        ],
        's' => vec![seg(0.09, 0.0, 1.0, 5500.0, 2500.0)],
        'S' => vec![seg(0.09, 0.0, 0.9, 3000.0, 1500.0)],
        'f' => vec![seg(0.08, 0.0, 0.3, 4500.0, 5000.0)],
        'z' => vec![seg(0.07, 0.3, 0.45, 5000.0, 3000.0)],
        'n' => vec![Segment {
            f_start: [280.0, 1250.0, 2500.0, 3400.0],
            f_end: [280.0, 1250.0, 2500.0, 3400.0],
            ..seg(0.06, 0.45, 0.0, 2000.0, 2000.0)
        }],
        'h' => vec![seg(0.06, 0.0, 0.35, 1800.0, 3000.0)],
        _ => Vec::new(),
    }
}

fn voice_for(spec: &SynthSpec, clip: ClipId, rng: &mut ChaCha8Rng) -> Voice {
    let s = speaker(spec.seed, clip.actor, spec.male(clip.actor));
    // Actors and takes differ in how much of the emotion comes through.
    let k = s.expressive * spec.intensity(clip.level) * (0.2 * gauss(rng)).exp();
    let p = blend(clip.emotion, k);
    Voice {
        f0: s.f0 * 2f64.powf((p.f0_st + 1.2 * gauss(rng)) / 12.0),
        rate: s.rate * p.tempo * (0.08 * gauss(rng)).exp(),
        formant_scale: s.formant_scale * p.formant,
        jitter: (s.jitter + p.jitter) * (0.25 * gauss(rng)).exp(),
        oq: (p.oq + s.oq + 0.04 * gauss(rng)).clamp(0.35, 0.85),
        breath: (p.breath + s.breath) * (0.3 * gauss(rng)).exp(),
        tilt: (p.tilt + s.tilt + 0.07 * gauss(rng)).clamp(0.0, 0.85),
        declination_st: s.declination_st,
        loud_db: -24.0 + s.loud_db + p.loud_db + 2.0 * gauss(rng),
        floor_db: s.floor_db + 1.5 * gauss(rng),
        floor_color: s.floor_color,
        p: Profile {
            range_st: (p.range_st * (0.2 * gauss(rng)).exp()).max(0.3),
            ..p
        },
    }
}

/// The utterance as segments: leading silence, syllables (with pauses), trailing silence.
fn timeline(sentence: usize, v: &Voice, rng: &mut ChaCha8Rng) -> Vec<Segment> {
    let syllables = sentence_syllables(sentence);
    let n = syllables.len();
    let p = &v.p;
    let scale_f = |f: [f64; 4]| -> [f64; 4] {
        let mut out = [0.0; 4];
        for i in 0..4 {
            let reduced = f[i] + p.centralize.clamp(0.0, 1.0) * (SCHWA[i] - f[i]);
            out[i] = reduced * v.formant_scale * if i == 0 { p.f1 } else { 1.0 };
        }
        out
    };
    let neutral = scale_f(SCHWA);
    let mut segs = vec![Segment::silence(samples(uniform(rng, 0.15, 0.5)), neutral)];
    let syl_secs = 1.0 / v.rate;
    let cons_scale = (1.0 / p.tempo).sqrt();
    for (i, syl) in syllables.iter().enumerate() {
        if i > 0 && rng.random::<f64>() < p.pause {
            segs.push(Segment {
                speech: true,
                ..Segment::silence(samples(uniform(rng, 0.08, 0.25)), neutral)
            });
        }
        let near_end = i + 2 >= n;
        let accent = if syl.stressed {
            p.range_st * uniform(rng, 0.6, 1.2)
        } else {
            p.range_st * uniform(rng, -0.15, 0.25)
        };
        let st = accent + if near_end { p.final_st } else { 0.0 };
        let creak_p = if near_end { p.creak } else { p.creak * 0.25 };
        let creak = rng.random::<f64>() < creak_p;
        let amp = if syl.stressed { 1.0 } else { 1.0 - p.contrast };
        let dur = syl_secs * if syl.stressed { 1.3 } else { 0.8 } * uniform(rng, 0.85, 1.15);
        let (f1, f2) = (scale_f(syl.v1), scale_f(syl.v2));
        let strength = p.consonant * uniform(rng, 0.8, 1.2);
        let onset = consonant(syl.onset, cons_scale, strength, f1, st);
        let coda = consonant(syl.coda, cons_scale * 0.8, strength * 0.8, f2, st);
        let used: usize = onset.iter().chain(coda.iter()).map(|s| s.len).sum();
        let nucleus = samples(dur).saturating_sub(used).max(samples(0.06));
        segs.extend(onset);
        segs.push(Segment {
            len: nucleus,
            voice: amp,
            noise: 0.0,
            noise_f: 2000.0,
            noise_bw: 2000.0,
            f_start: f1,
            f_end: f2,
            st,
            creak,
            speech: true,
        });
        segs.extend(coda);
    }
    segs.push(Segment::silence(samples(uniform(rng, 0.2, 0.55)), neutral));
    segs
}

/// A two-pole resonator `y = g·x + a1·y[n-1] + a2·y[n-2]`.
#[derive(Debug, Clone, Copy, Default)]
struct Resonator {
    a1: f64,
    a2: f64,
    g: f64,
    y1: f64,
    y2: f64,
}

impl Resonator {
    fn coefficients(freq: f64, bw: f64) -> (f64, f64, f64, f64) {
        let f = freq.clamp(50.0, SR * 0.47);
        let r = (-PI * bw / SR).exp();
        let theta = 2.0 * PI * f / SR;
        (2.0 * r * theta.cos(), -r * r, r, theta)
    }

    /// Unity gain at DC, as in a formant cascade (Klatt).
    fn set_formant(&mut self, freq: f64, bw: f64) {
        let (a1, a2, _, _) = Self::coefficients(freq, bw);
        self.a1 = a1;
        self.a2 = a2;
        self.g = 1.0 - a1 - a2;
    }

    /// Unity gain at the centre frequency, for shaping noise.
    fn set_peak(&mut self, freq: f64, bw: f64) {
        let (a1, a2, r, theta) = Self::coefficients(freq, bw);
        self.a1 = a1;
        self.a2 = a2;
        self.g = (1.0 - r) * (1.0 - 2.0 * r * (2.0 * theta).cos() + r * r).sqrt();
    }

    fn step(&mut self, x: f64) -> f64 {
        let y = self.g * x + self.a1 * self.y1 + self.a2 * self.y2;
        self.y2 = self.y1;
        self.y1 = y;
        y
    }
}

/// Rosenberg glottal flow at cycle phase `phase` in [0, 1): a raised-cosine opening, a
/// quarter-cosine closing, then closed.
fn rosenberg(phase: f64, oq: f64) -> f64 {
    const SPEED: f64 = 2.5;
    let tp = oq * SPEED / (1.0 + SPEED);
    let tn = oq / (1.0 + SPEED);
    if phase < tp {
        0.5 * (1.0 - (PI * phase / tp).cos())
    } else if phase < tp + tn {
        (0.5 * PI * (phase - tp) / tn).cos()
    } else {
        0.0
    }
}

fn white(rng: &mut ChaCha8Rng) -> f64 {
    // Uniform with unit variance: cheap, and the filters make it Gaussian enough.
    (rng.random::<f64>() - 0.5) * 12f64.sqrt()
}

fn rms_where(x: &[f64], mask: &[bool]) -> f64 {
    let (sum, n) = x
        .iter()
        .zip(mask)
        .filter(|(_, &m)| m)
        .fold((0.0, 0usize), |(s, n), (v, _)| (s + v * v, n + 1));
    if n == 0 {
        0.0
    } else {
        (sum / n as f64).sqrt()
    }
}

/// Renders one clip as 16-bit samples at [`SAMPLE_RATE`].
pub fn render(spec: &SynthSpec, clip: ClipId) -> Vec<i16> {
    let mut rng = stream(
        spec.seed,
        clip.actor,
        clip.sentence,
        clip.emotion,
        clip.level,
    );
    let v = voice_for(spec, clip, &mut rng);
    let segs = timeline(clip.sentence, &v, &mut rng);
    let total: usize = segs.iter().map(|s| s.len).sum();
    let speech_start = segs.first().map_or(0, |s| s.len);
    let speech_len = total - speech_start - segs.last().map_or(0, |s| s.len);

    let mut voiced = vec![0.0f64; total];
    let mut noise = vec![0.0f64; total];
    let mut vowel_mask = vec![false; total];
    let mut noise_mask = vec![false; total];
    let mut speech_mask = vec![false; total];
    let mut fades = vec![1.0f64; total];
    const BLOCK: usize = 16;
    let mut f0 = v.f0;
    let mut fade = 1.0;

    // One-pole smoothing rates: amplitude ~8 ms, noise ~3 ms, formants ~20 ms, pitch ~50 ms.
    let rate = |tau: f64| 1.0 - (-1.0 / (tau * SR)).exp();
    let (k_amp, k_noise, k_form, k_st) = (rate(0.008), rate(0.003), rate(0.02), rate(0.05));

    let mut formants = segs.first().map_or(SCHWA, |s| s.f_start);
    let mut amp = 0.0;
    let mut namp = 0.0;
    let mut st = 0.0;
    let mut phase = 0.0;
    let mut g_prev = 0.0;
    let mut period_factor = 1.0;
    let mut cycle_amp = 1.0;
    let mut cycle = 0u64;
    let mut tilt_state = 0.0;
    let mut tract = [Resonator::default(); 4];
    // A fixed fifth formant keeps energy above F4, where real voices still have some.
    let mut f5 = Resonator::default();
    f5.set_formant(4500.0 * v.formant_scale, 350.0);
    let mut frication = Resonator::default();
    let bandwidths = [80.0, 100.0, 150.0, 250.0];
    let bw_scale = 1.0 + 2.0 * v.breath;
    let norm = SR / (2.0 * PI * v.f0);
    let tremor_hz = uniform(&mut rng, 4.5, 7.0);
    let p = v.p;

    let mut n = 0usize;
    for seg in &segs {
        frication.set_peak(seg.noise_f, seg.noise_bw);
        for i in 0..seg.len {
            let frac = i as f64 / seg.len.max(1) as f64;
            amp += k_amp * (seg.voice - amp);
            namp += k_noise * (seg.noise - namp);
            st += k_st * (seg.st - st);
            for (f, (a, b)) in formants
                .iter_mut()
                .zip(seg.f_start.iter().zip(seg.f_end.iter()))
            {
                *f += k_form * (a + frac * (b - a) - *f);
            }
            // Controls move slowly: refresh the costly ones once per millisecond.
            if n % BLOCK == 0 || i == 0 {
                for (r, (f, bw)) in tract.iter_mut().zip(formants.iter().zip(bandwidths)) {
                    r.set_formant(*f, bw * bw_scale);
                }
                let speech_pos =
                    ((n as f64 - speech_start as f64) / speech_len.max(1) as f64).clamp(0.0, 1.0);
                let t = n as f64 / SR;
                let pitch_st = st
                    + v.declination_st * speech_pos
                    + p.tremor_st * (2.0 * PI * tremor_hz * t).sin();
                f0 = v.f0 * 2f64.powf(pitch_st / 12.0) * if seg.creak { 0.55 } else { 1.0 };
                fade = 10f64.powf(-p.fade_db * speech_pos / 20.0);
            }
            fades[n] = fade;

            // Glottal source.
            phase += f0 * period_factor / SR;
            if phase >= 1.0 {
                phase -= 1.0;
                cycle += 1;
                let jitter = if seg.creak { v.jitter * 3.0 } else { v.jitter };
                period_factor = (1.0 + jitter * gauss(&mut rng)).clamp(0.5, 1.5);
                cycle_amp = (1.0 + p.shimmer * gauss(&mut rng)).clamp(0.2, 1.8);
                if seg.creak && cycle % 2 == 1 {
                    cycle_amp *= 0.45;
                }
            }
            let g = rosenberg(phase, v.oq);
            let source = (g - g_prev) * norm * cycle_amp;
            g_prev = g;
            tilt_state = (1.0 - v.tilt) * source + v.tilt * tilt_state;
            // Noise is drawn only where it is heard; the stream stays a function of the clip.
            let aspiration = if amp > 1e-5 {
                v.breath * white(&mut rng) * (0.3 + g)
            } else {
                0.0
            };
            let mut x = (tilt_state + aspiration) * amp;
            for r in tract.iter_mut() {
                x = r.step(x);
            }
            x = f5.step(x);
            voiced[n] = x;
            let burst = if namp > 1e-5 {
                white(&mut rng) * namp
            } else {
                0.0
            };
            noise[n] = frication.step(burst);
            vowel_mask[n] = seg.voice >= 0.5;
            noise_mask[n] = seg.noise >= 0.3;
            speech_mask[n] = seg.speech;
            n += 1;
        }
    }

    // Balance consonants against vowels, then set the loudness of the spoken part.
    let rv = rms_where(&voiced, &vowel_mask).max(1e-12);
    let rn = rms_where(&noise, &noise_mask);
    let cons_level = 0.22 * p.consonant;
    let noise_gain = if rn > 0.0 { cons_level / rn } else { 0.0 };
    let mut mix: Vec<f64> = (0..total)
        .map(|i| (voiced[i] / rv + noise[i] * noise_gain) * fades[i])
        .collect();
    let active = rms_where(&mix, &speech_mask).max(1e-12);
    let mut gain = 10f64.powf(v.loud_db / 20.0) / active;
    let peak = mix.iter().fold(0.0f64, |m, x| m.max(x.abs())) * gain;
    if peak > 0.9 {
        gain *= 0.9 / peak;
    }
    let floor = 10f64.powf(v.floor_db / 20.0);
    // Coloured (low-passed) noise, scaled back to unit variance, like a quiet room and preamp.
    let color_norm = ((1.0 - v.floor_color * v.floor_color) / (1.0 - v.floor_color).powi(2)).sqrt();
    let mut hum = 0.0;
    for x in mix.iter_mut() {
        hum = (1.0 - v.floor_color) * white(&mut rng) + v.floor_color * hum;
        *x = *x * gain + floor * hum * color_norm;
    }
    mix.iter()
        .map(|x| (x * 32767.0).round().clamp(-32767.0, 32767.0) as i16)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_token_parses() {
        let counts: Vec<usize> = TEXT.iter().map(|s| s.len()).collect();
        assert_eq!(counts, [6, 6, 8, 10, 7, 8, 8, 9, 7, 8, 5, 9]);
        for sentence in TEXT {
            for token in sentence {
                assert!(parse_syllable(token).is_some(), "bad token {token}");
            }
        }
        assert!(parse_syllable("xa-").is_none());
        assert!(parse_syllable("-a").is_none());
    }

    #[test]
    fn names_and_counts() {
        let spec = SynthSpec::new(2, 0);
        assert_eq!(spec.file_count(), 144);
        let clips = spec.clips();
        assert_eq!(clips.len(), 144);
        assert_eq!(clips[0].file_name(&spec), "1001_DFA_ANG_XX.wav");
        assert_eq!(clips[143].file_name(&spec), "1002_WSI_SAD_XX.wav");
        let three = SynthSpec {
            levels: 3,
            sentences: 1,
            ..SynthSpec::new(1, 0)
        };
        let names: Vec<String> = three.clips().iter().map(|c| c.file_name(&three)).collect();
        assert_eq!(
            &names[..3],
            [
                "1001_DFA_ANG_LO.wav",
                "1001_DFA_ANG_MD.wav",
                "1001_DFA_ANG_HI.wav"
            ]
        );
        assert_eq!(three.intensity(0), 0.6);
        assert_eq!(three.intensity(2), 1.4);
    }

    #[test]
    fn validate_names_the_bad_count() {
        let e = SynthSpec::new(0, 0).validate().unwrap_err().to_string();
        assert_eq!(
            e,
            "synthetic corpus: actors = 0 is out of range: use 1..=999 (data.synth_actors)"
        );
        let bad = SynthSpec {
            levels: 4,
            ..SynthSpec::new(1, 0)
        };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "synthetic corpus: levels = 4 is out of range: use 1..=3"
        );
    }

    #[test]
    fn rosenberg_is_continuous_and_closed() {
        assert_eq!(rosenberg(0.0, 0.6), 0.0);
        assert_eq!(rosenberg(0.9, 0.6), 0.0);
        let peak = rosenberg(0.6 * 2.5 / 3.5, 0.6);
        assert!((peak - 1.0).abs() < 1e-12);
    }

    #[test]
    fn clip_does_not_depend_on_other_clips() {
        let spec = SynthSpec::new(3, 7);
        let clip = ClipId {
            actor: 2,
            sentence: 5,
            emotion: 3,
            level: 0,
        };
        let a = render(&spec, clip);
        let b = render(&SynthSpec::new(5, 7), clip);
        assert_eq!(a, b);
        assert_ne!(a, render(&SynthSpec::new(3, 8), clip));
    }
}
