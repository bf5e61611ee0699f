//! Bad audio through decode → resample → features: property tests and a deterministic mutation
//! run over a seed corpus of real files (the four fixtures, plus EmoDB's clips when `../shared`
//! holds them).
//!
//! Every case runs on one worker thread, under a time limit, through the public path a corpus
//! run takes: [`Loader::load`] (decode, mono, resample to 22,050 Hz, fixed length) then
//! [`Extractor::all`] (ZCR, RMS, energy, mel dB, MFCC). A case passes when it loads and
//! featurises, or fails with a decode / resample error naming the file. It fails the test when it
//! panics, takes longer than [`CASE_LIMIT`], or makes a single allocation of [`ALLOC_LIMIT`] or
//! more (measured per thread by the counting allocator below, so tests running beside it do not
//! count): a header that lies about its length must not size a buffer.
//!
//! The counts are fixed, so CI does the same work every run: [`HEADER_CASES`] header fields set to
//! extremes, [`TRUNCATION_CASES`] cuts, [`RANDOM_CASES`] random mutations (`SER_FUZZ_CASES=N`
//! raises that for a longer local run) and [`PROPTEST_CASES`] per property. Each test prints
//! what it ran.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config as PropConfig, RngAlgorithm, TestRng, TestRunner};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use ser::audio::Loader;
use ser::features::Extractor;
use ser::{AudioConfig, Error, FeatureConfig};

// ---------------------------------------------------------------- budgets

/// Random mutations (bit flips, byte overwrites, cuts, deleted and repeated ranges) per run.
pub const RANDOM_CASES: usize = 3000;
/// Cases each property test runs.
pub const PROPTEST_CASES: u32 = 256;
/// Cuts per fixture: every 4th offset of the first 512 bytes, then evenly spread to the end.
pub const TRUNCATIONS_PER_FILE: usize = 200;
/// Fixtures (one per format) the structured cases start from.
pub const FIXTURES: [&str; 4] = ["speech.wav", "speech.flac", "speech.mp3", "speech.ogg"];
/// All cuts.
pub const TRUNCATION_CASES: usize = TRUNCATIONS_PER_FILE * FIXTURES.len();
/// Longest a case may take before it counts as a hang. Real cases take milliseconds.
pub const CASE_LIMIT: Duration = Duration::from_secs(5);
/// Largest single allocation a case may make. A clip of the default length needs well under
/// 1 MiB per buffer; 4 GB claimed by a header must never be reserved.
pub const ALLOC_LIMIT: usize = 256 << 20;

// WAV `fmt ` / RIFF fields and the extremes each is set to (one at a time, then in pairs).
const RIFF_SIZES: [u32; 4] = [0, 4, 0x7FFF_FFFF, u32::MAX];
const FMT_SIZES: [u32; 6] = [0, 2, 15, 18, 40, u32::MAX];
const TAGS: [u16; 8] = [0, 2, 3, 6, 7, 0x11, 0xFFFE, 0xFFFF];
const CHANNELS: [u16; 7] = [0, 2, 3, 8, 255, 256, 65535];
const RATES: [u32; 7] = [0, 1, 999, 768_001, 0x7FFF_FFFF, u32::MAX, 8000];
const BYTE_RATES: [u32; 2] = [0, u32::MAX];
const ALIGNS: [u16; 4] = [0, 1, 3, 65535];
const BITS: [u16; 12] = [0, 1, 7, 9, 12, 15, 17, 24, 31, 33, 64, 65535];
const DATA_SIZES: [u32; 8] = [0, 1, 3, 22049, 22051, 0x7FFF_FFFF, 0xFFFF_FFF0, u32::MAX];
const WAV_CASES: usize = RIFF_SIZES.len()
    + FMT_SIZES.len()
    + TAGS.len()
    + CHANNELS.len()
    + RATES.len()
    + BYTE_RATES.len()
    + ALIGNS.len()
    + BITS.len()
    + DATA_SIZES.len()
    + CHANNELS.len() * BITS.len()
    + RATES.len() * DATA_SIZES.len()
    + TAGS.len() * BITS.len();

// FLAC STREAMINFO fields (raw field values: channels and bits are stored minus one).
const FLAC_RATES: [u32; 5] = [0, 1, 999, 655_350, 0xF_FFFF];
const FLAC_CHANNELS: [u8; 2] = [0, 7];
const FLAC_BITS: [u8; 4] = [0, 2, 30, 31];
const FLAC_TOTALS: [u64; 4] = [0, 1, 0x7FFF_FFFF, (1 << 36) - 1];
const FLAC_BLOCKS: [(u16, u16); 5] = [(0, 0), (16, 16), (65535, 65535), (4096, 16), (1, 1)];
const FLAC_META_LENS: [u32; 3] = [0, 33, 0xFF_FFFF];
const FLAC_CASES: usize = FLAC_RATES.len()
    + FLAC_CHANNELS.len()
    + FLAC_BITS.len()
    + FLAC_TOTALS.len()
    + FLAC_BLOCKS.len()
    + FLAC_META_LENS.len()
    + FLAC_RATES.len() * FLAC_TOTALS.len()
    + FLAC_CHANNELS.len() * FLAC_BITS.len();

// MP3: the first frame header's 2nd, 3rd and 4th bytes take every value; the Info (Xing) tag's
// frame and byte counts take extremes; an ID3v2 tag claims extreme sizes.
const MP3_COUNTS: [u32; 4] = [0, 1, 0x7FFF_FFFF, u32::MAX];
const ID3_SIZES: [u32; 3] = [0, 0x7F, 0x0FFF_FFFF];
const MP3_CASES: usize = 3 * 256 + 2 * MP3_COUNTS.len() + ID3_SIZES.len();

// OGG/Vorbis identification header and page fields (each page's CRC recomputed, so the reader
// gets past its checksum to the field).
const VORBIS_CHANNELS: [u8; 3] = [0, 2, 255];
const VORBIS_RATES: [u32; 4] = [0, 1, 0x7FFF_FFFF, u32::MAX];
const VORBIS_BLOCKSIZES: [u8; 7] = [0x00, 0xFF, 0x66, 0xBA, 0xDD, 0xEE, 0x5B];
const OGG_GRANULES: [u64; 4] = [0, 1, 1 << 62, u64::MAX];
const OGG_VERSIONS: [u8; 2] = [1, 255];
const OGG_CASES: usize = VORBIS_CHANNELS.len()
    + VORBIS_RATES.len()
    + VORBIS_BLOCKSIZES.len()
    + OGG_GRANULES.len() * 2
    + OGG_VERSIONS.len();

/// Every header case.
pub const HEADER_CASES: usize = WAV_CASES + FLAC_CASES + MP3_CASES + OGG_CASES;

// ---------------------------------------------------------------- the largest allocation

/// The system allocator, noting the largest request of each thread.
struct Counting;

thread_local! {
    /// Largest allocation (or reallocation) this thread asked for since the last reset.
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    // `try_with`: allocations while the thread's locals are torn down are not counted.
    let _ = LARGEST.try_with(|m| {
        if size > m.get() {
            m.set(size)
        }
    });
}

// SAFETY: every call is forwarded to `System` unchanged; only the size is read.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

// ---------------------------------------------------------------- one case, under a limit

/// One input file: a name saying how it was made, its bytes, the extension it is written with.
struct Case {
    name: String,
    bytes: Vec<u8>,
    ext: &'static str,
}

/// What a case did.
#[derive(Debug)]
enum Verdict {
    /// Loaded and featurised; `frames` of the clip came from the file (before the fixed length).
    Loaded { loaded_len: usize },
    /// Refused with this error (a decode or resample error naming the file).
    Refused(String),
    /// Refused because the decoder panicked (caught inside `ser`, reported as a decode error).
    DecoderPanic(String),
    /// Anything else: a panic that escaped, or an error of the wrong kind or without the file.
    Broken(String),
}

struct Outcome {
    verdict: Verdict,
    largest: usize,
}

/// A thread that loads and featurises cases one at a time, with one loader and extractor for
/// its life (as a corpus run's workers have).
struct Worker {
    jobs: mpsc::Sender<Case>,
    results: mpsc::Receiver<Outcome>,
}

impl Worker {
    fn start() -> Self {
        let (jobs, job_rx) = mpsc::channel::<Case>();
        let (result_tx, results) = mpsc::channel();
        std::thread::spawn(move || {
            let dir = tempfile::tempdir().unwrap();
            let audio = AudioConfig::default();
            let mut loader = Loader::new(&audio);
            let mut extractor =
                Extractor::new(&FeatureConfig::default(), audio.sample_rate).unwrap();
            for case in job_rx {
                let path = dir.path().join(format!("case.{}", case.ext));
                std::fs::write(&path, &case.bytes).unwrap();
                drop(case);
                LARGEST.with(|m| m.set(0));
                let verdict =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        match loader.load(&path) {
                            Ok(clip) => {
                                let features = extractor.all(&clip.signal);
                                assert_eq!(
                                    features.zcr.len(),
                                    extractor.n_frames(clip.signal.len())
                                );
                                Verdict::Loaded {
                                    loaded_len: clip.loaded_len,
                                }
                            }
                            Err(e) => judge(&e, &path),
                        }
                    }))
                    .unwrap_or_else(|p| {
                        Verdict::Broken(format!(
                            "panicked: {}",
                            ser::base::error::panic_message(&*p).unwrap_or_default()
                        ))
                    });
                let largest = LARGEST.with(|m| m.get());
                if result_tx.send(Outcome { verdict, largest }).is_err() {
                    break;
                }
            }
        });
        Self { jobs, results }
    }

    /// Runs one case; a case over [`CASE_LIMIT`] fails the test, naming it (the worker is left
    /// stuck, and the test ends).
    fn run(&self, case: Case) -> Outcome {
        let name = case.name.clone();
        self.jobs.send(case).expect("the worker thread is gone");
        match self.results.recv_timeout(CASE_LIMIT) {
            Ok(outcome) => outcome,
            Err(_) => panic!("case `{name}` did not finish within {CASE_LIMIT:?} (a hang)"),
        }
    }
}

/// A refusal is fine when it is a decode or resample error that names the file.
fn judge(e: &Error, path: &Path) -> Verdict {
    let msg = e.to_string();
    if !msg.contains(&path.display().to_string()) {
        return Verdict::Broken(format!("the error does not name the file: {msg}"));
    }
    match e {
        Error::Decode { message, .. } if message.contains("the decoder failed") => {
            Verdict::DecoderPanic(msg)
        }
        Error::Decode { .. } | Error::Resample { .. } => Verdict::Refused(msg),
        other => Verdict::Broken(format!("unexpected kind of error: {other:?}")),
    }
}

/// Tallies of a run: what the cases did, the largest allocation, the failed cases in full.
#[derive(Default)]
struct Tally {
    loaded: usize,
    refused: usize,
    decoder_panics: usize,
    broken: usize,
    largest: usize,
    failures: Vec<String>,
    examples: Vec<String>,
}

impl Tally {
    fn add(&mut self, name: &str, outcome: Outcome) {
        self.largest = self.largest.max(outcome.largest);
        if outcome.largest >= ALLOC_LIMIT {
            self.failures.push(format!(
                "{name}: allocated {} bytes at once (limit {ALLOC_LIMIT})",
                outcome.largest
            ));
        }
        match outcome.verdict {
            Verdict::Loaded { .. } => self.loaded += 1,
            Verdict::Refused(msg) => {
                self.refused += 1;
                if self.examples.len() < 3 {
                    self.examples.push(format!("{name}: {msg}"));
                }
            }
            Verdict::DecoderPanic(msg) => {
                self.decoder_panics += 1;
                self.failures.push(format!("{name}: {msg}"));
            }
            Verdict::Broken(msg) => {
                self.broken += 1;
                self.failures.push(format!("{name}: {msg}"));
            }
        }
    }

    fn cases(&self) -> usize {
        self.loaded + self.refused + self.decoder_panics + self.broken
    }

    /// Prints the counts and fails the test listing the failed cases.
    fn finish(self, what: &str) {
        println!(
            "{what}: {} cases: {} loaded, {} refused with an error, {} decoder panics, {} broken; \
             largest single allocation {} bytes",
            self.cases(),
            self.loaded,
            self.refused,
            self.decoder_panics,
            self.broken,
            self.largest
        );
        for e in &self.examples {
            println!("  e.g. {e}");
        }
        assert!(
            self.failures.is_empty(),
            "{what}: {} failed cases:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
    }
}

// ---------------------------------------------------------------- seeds

fn fixture(name: &str) -> (Vec<u8>, &'static str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let ext = match name.rsplit('.').next() {
        Some("wav") => "wav",
        Some("flac") => "flac",
        Some("mp3") => "mp3",
        _ => "ogg",
    };
    (std::fs::read(path).unwrap(), ext)
}

/// EmoDB's clips in `../shared`, sorted, or none (after saying so).
fn emodb_seeds() -> Vec<PathBuf> {
    let Some(dir) = crate::common::shared("data/emodb/wav") else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wav"))
        .collect();
    files.sort();
    files
}

// ---------------------------------------------------------------- header surgery

fn put_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// The fixture WAV's fields sit at the canonical 44-byte header's offsets (checked).
mod wav {
    pub const RIFF: usize = 4;
    pub const FMT_SIZE: usize = 16;
    pub const TAG: usize = 20;
    pub const CHANNELS: usize = 22;
    pub const RATE: usize = 24;
    pub const BYTE_RATE: usize = 28;
    pub const ALIGN: usize = 32;
    pub const BITS: usize = 34;
    pub const DATA: usize = 40;
}

fn wav_cases() -> Vec<Case> {
    let (seed, _) = fixture("speech.wav");
    assert_eq!(
        &seed[36..40],
        b"data",
        "speech.wav is no longer a canonical WAV"
    );
    let one = |name: String, edit: &dyn Fn(&mut Vec<u8>)| {
        let mut bytes = seed.clone();
        edit(&mut bytes);
        Case {
            name: format!("speech.wav {name}"),
            bytes,
            ext: "wav",
        }
    };
    let mut cases = Vec::new();
    for v in RIFF_SIZES {
        cases.push(one(format!("RIFF size {v:#x}"), &|b| {
            put_u32(b, wav::RIFF, v)
        }));
    }
    for v in FMT_SIZES {
        cases.push(one(format!("fmt size {v:#x}"), &|b| {
            put_u32(b, wav::FMT_SIZE, v)
        }));
    }
    for v in TAGS {
        cases.push(one(format!("format tag {v:#x}"), &|b| {
            put_u16(b, wav::TAG, v)
        }));
    }
    for v in CHANNELS {
        cases.push(one(format!("channels {v}"), &|b| {
            put_u16(b, wav::CHANNELS, v)
        }));
    }
    for v in RATES {
        cases.push(one(format!("rate {v}"), &|b| put_u32(b, wav::RATE, v)));
    }
    for v in BYTE_RATES {
        cases.push(one(format!("byte rate {v}"), &|b| {
            put_u32(b, wav::BYTE_RATE, v)
        }));
    }
    for v in ALIGNS {
        cases.push(one(format!("block align {v}"), &|b| {
            put_u16(b, wav::ALIGN, v)
        }));
    }
    for v in BITS {
        cases.push(one(format!("bits {v}"), &|b| put_u16(b, wav::BITS, v)));
    }
    for v in DATA_SIZES {
        cases.push(one(format!("data size {v:#x}"), &|b| {
            put_u32(b, wav::DATA, v)
        }));
    }
    for c in CHANNELS {
        for bits in BITS {
            cases.push(one(format!("channels {c} bits {bits}"), &|b| {
                put_u16(b, wav::CHANNELS, c);
                put_u16(b, wav::BITS, bits);
                // A consistent block align, so the reader gets as far as these values take it.
                put_u16(b, wav::ALIGN, c.wrapping_mul(bits / 8));
            }));
        }
    }
    for r in RATES {
        for d in DATA_SIZES {
            cases.push(one(format!("rate {r} data size {d:#x}"), &|b| {
                put_u32(b, wav::RATE, r);
                put_u32(b, wav::DATA, d);
            }));
        }
    }
    for t in TAGS {
        for bits in BITS {
            cases.push(one(format!("format tag {t:#x} bits {bits}"), &|b| {
                put_u16(b, wav::TAG, t);
                put_u16(b, wav::BITS, bits);
            }));
        }
    }
    assert_eq!(cases.len(), WAV_CASES);
    cases
}

/// Offset of the FLAC fixture's STREAMINFO body (after `fLaC` and the block header).
const STREAMINFO: usize = 8;

/// Sets STREAMINFO's packed fields (rate: 20 bits, channels − 1: 3, bits − 1: 5, total: 36).
fn flac_fields(
    b: &mut [u8],
    rate: Option<u32>,
    ch: Option<u8>,
    bits: Option<u8>,
    total: Option<u64>,
) {
    let at = STREAMINFO + 10;
    let mut packed = u64::from_be_bytes(b[at..at + 8].try_into().unwrap());
    let mut set = |shift: u32, width: u32, v: u64| {
        let mask = ((1u64 << width) - 1) << shift;
        packed = (packed & !mask) | ((v << shift) & mask);
    };
    if let Some(r) = rate {
        set(44, 20, u64::from(r));
    }
    if let Some(c) = ch {
        set(41, 3, u64::from(c));
    }
    if let Some(s) = bits {
        set(36, 5, u64::from(s));
    }
    if let Some(t) = total {
        set(0, 36, t);
    }
    b[at..at + 8].copy_from_slice(&packed.to_be_bytes());
}

fn flac_cases() -> Vec<Case> {
    let (seed, _) = fixture("speech.flac");
    assert_eq!(
        &seed[0..5],
        b"fLaC\0",
        "speech.flac does not start with STREAMINFO"
    );
    let one = |name: String, edit: &dyn Fn(&mut Vec<u8>)| {
        let mut bytes = seed.clone();
        edit(&mut bytes);
        Case {
            name: format!("speech.flac {name}"),
            bytes,
            ext: "flac",
        }
    };
    let mut cases = Vec::new();
    for r in FLAC_RATES {
        cases.push(one(format!("sample rate {r}"), &|b| {
            flac_fields(b, Some(r), None, None, None)
        }));
    }
    for c in FLAC_CHANNELS {
        cases.push(one(format!("channels {}", c + 1), &|b| {
            flac_fields(b, None, Some(c), None, None)
        }));
    }
    for s in FLAC_BITS {
        cases.push(one(format!("bits {}", s + 1), &|b| {
            flac_fields(b, None, None, Some(s), None)
        }));
    }
    for t in FLAC_TOTALS {
        cases.push(one(format!("total samples {t}"), &|b| {
            flac_fields(b, None, None, None, Some(t))
        }));
    }
    for (lo, hi) in FLAC_BLOCKS {
        cases.push(one(format!("block sizes {lo}..{hi}"), &|b| {
            b[STREAMINFO..STREAMINFO + 2].copy_from_slice(&lo.to_be_bytes());
            b[STREAMINFO + 2..STREAMINFO + 4].copy_from_slice(&hi.to_be_bytes());
        }));
    }
    for len in FLAC_META_LENS {
        cases.push(one(format!("STREAMINFO length {len}"), &|b| {
            b[5..8].copy_from_slice(&len.to_be_bytes()[1..]);
        }));
    }
    for r in FLAC_RATES {
        for t in FLAC_TOTALS {
            cases.push(one(format!("sample rate {r} total samples {t}"), &|b| {
                flac_fields(b, Some(r), None, None, Some(t))
            }));
        }
    }
    for c in FLAC_CHANNELS {
        for s in FLAC_BITS {
            cases.push(one(format!("channels {} bits {}", c + 1, s + 1), &|b| {
                flac_fields(b, None, Some(c), Some(s), None)
            }));
        }
    }
    assert_eq!(cases.len(), FLAC_CASES);
    cases
}

fn mp3_cases() -> Vec<Case> {
    let (seed, _) = fixture("speech.mp3");
    assert_eq!(seed[0], 0xFF, "speech.mp3 does not start with a frame");
    let info = seed
        .windows(4)
        .take(64)
        .position(|w| w == b"Info" || w == b"Xing")
        .expect("speech.mp3 has an Info tag");
    let one = |name: String, edit: &dyn Fn(&mut Vec<u8>)| {
        let mut bytes = seed.clone();
        edit(&mut bytes);
        Case {
            name: format!("speech.mp3 {name}"),
            bytes,
            ext: "mp3",
        }
    };
    let mut cases = Vec::new();
    for at in 1..4 {
        for v in 0..=255u8 {
            cases.push(one(format!("frame header byte {at} = {v:#04x}"), &|b| {
                b[at] = v
            }));
        }
    }
    // Info: "Info", flags (4 bytes), frames, bytes (big-endian).
    for (field, off) in [("frames", 8), ("bytes", 12)] {
        for v in MP3_COUNTS {
            cases.push(one(format!("Info {field} {v:#x}"), &|b| {
                b[info + off..info + off + 4].copy_from_slice(&v.to_be_bytes())
            }));
        }
    }
    for size in ID3_SIZES {
        cases.push(one(format!("ID3v2 tag claiming {size} bytes"), &|b| {
            // The size is 4 bytes of 7 bits each ("syncsafe").
            let syncsafe = [
                (size >> 21) as u8 & 0x7F,
                (size >> 14) as u8 & 0x7F,
                (size >> 7) as u8 & 0x7F,
                size as u8 & 0x7F,
            ];
            let mut tag = b"ID3\x04\x00\x00".to_vec();
            tag.extend_from_slice(&syncsafe);
            tag.extend_from_slice(b);
            *b = tag;
        }));
    }
    assert_eq!(cases.len(), MP3_CASES);
    cases
}

/// OGG's CRC-32 (polynomial 0x04C11DB7, no reflection, initial 0).
fn ogg_crc(data: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &byte in data {
        crc ^= u32::from(byte) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// Start offsets of the pages of an OGG file.
fn ogg_pages(b: &[u8]) -> Vec<usize> {
    let mut pages = Vec::new();
    let mut at = 0;
    while at + 27 <= b.len() && &b[at..at + 4] == b"OggS" {
        pages.push(at);
        let segs = b[at + 26] as usize;
        let body: usize = b[at + 27..at + 27 + segs].iter().map(|&s| s as usize).sum();
        at += 27 + segs + body;
    }
    pages
}

/// Recomputes the CRC of the page at `at`.
fn ogg_fix_crc(b: &mut [u8], at: usize) {
    let segs = b[at + 26] as usize;
    let body: usize = b[at + 27..at + 27 + segs].iter().map(|&s| s as usize).sum();
    let end = (at + 27 + segs + body).min(b.len());
    b[at + 22..at + 26].fill(0);
    let crc = ogg_crc(&b[at..end]);
    b[at + 22..at + 26].copy_from_slice(&crc.to_le_bytes());
}

fn ogg_cases() -> Vec<Case> {
    let (seed, _) = fixture("speech.ogg");
    let pages = ogg_pages(&seed);
    assert!(pages.len() >= 3, "speech.ogg: {} pages", pages.len());
    // The identification header: the first page's only packet, after its 1-byte segment table.
    let id = 28;
    assert_eq!(
        &seed[id..id + 7],
        b"\x01vorbis",
        "speech.ogg's first packet"
    );
    let last = *pages.last().unwrap();
    let one = |name: String, page: usize, edit: &dyn Fn(&mut Vec<u8>)| {
        let mut bytes = seed.clone();
        edit(&mut bytes);
        ogg_fix_crc(&mut bytes, page);
        Case {
            name: format!("speech.ogg {name}"),
            bytes,
            ext: "ogg",
        }
    };
    let mut cases = Vec::new();
    for c in VORBIS_CHANNELS {
        cases.push(one(format!("channels {c}"), 0, &|b| b[id + 11] = c));
    }
    for r in VORBIS_RATES {
        cases.push(one(format!("rate {r}"), 0, &|b| put_u32(b, id + 12, r)));
    }
    for s in VORBIS_BLOCKSIZES {
        cases.push(one(format!("block sizes {s:#04x}"), 0, &|b| b[id + 28] = s));
    }
    for g in OGG_GRANULES {
        cases.push(one(format!("last page granule {g:#x}"), last, &|b| {
            b[last + 6..last + 14].copy_from_slice(&g.to_le_bytes())
        }));
        cases.push(one(
            format!("first audio page granule {g:#x}"),
            pages[2],
            &|b| b[pages[2] + 6..pages[2] + 14].copy_from_slice(&g.to_le_bytes()),
        ));
    }
    for v in OGG_VERSIONS {
        cases.push(one(format!("page version {v}"), 0, &|b| b[4] = v));
    }
    assert_eq!(cases.len(), OGG_CASES);
    cases
}

// ---------------------------------------------------------------- mutations

/// The `i`-th cut of a file of `len` bytes: every 4th offset of the first 512 bytes, then evenly
/// spread over the rest.
fn cut_at(i: usize, len: usize) -> usize {
    const DENSE: usize = 128;
    if i < DENSE {
        return (4 * i).min(len - 1);
    }
    let rest = TRUNCATIONS_PER_FILE - DENSE;
    let from = (4 * DENSE).min(len - 1);
    from + (len - 1 - from) * (i - DENSE) / rest
}

/// A random mutation of `seed`: bit flips, byte overwrites, a cut, a range deleted or repeated.
/// Half the edits land in the first 128 bytes, where the headers are.
fn mutate(seed: &[u8], rng: &mut ChaCha8Rng) -> (String, Vec<u8>) {
    let mut b = seed.to_vec();
    let pos = |rng: &mut ChaCha8Rng, len: usize| {
        if rng.random_bool(0.5) {
            rng.random_range(0..len.min(128))
        } else {
            rng.random_range(0..len)
        }
    };
    match rng.random_range(0..5) {
        0 => {
            let n = rng.random_range(1..=16);
            for _ in 0..n {
                let i = pos(rng, b.len());
                b[i] ^= 1 << rng.random_range(0..8);
            }
            (format!("{n} bit flips"), b)
        }
        1 => {
            let n = rng.random_range(1..=8);
            let mut at = Vec::new();
            for _ in 0..n {
                let i = pos(rng, b.len());
                b[i] = match rng.random_range(0..5) {
                    0 => 0x00,
                    1 => 0xFF,
                    2 => 0x7F,
                    3 => 0x80,
                    _ => rng.random(),
                };
                at.push(i);
            }
            (format!("bytes overwritten at {at:?}"), b)
        }
        2 => {
            let cut = rng.random_range(0..b.len());
            b.truncate(cut);
            (format!("cut at {cut}"), b)
        }
        3 => {
            let from = pos(rng, b.len());
            let to = rng.random_range(from..=b.len().min(from + 4096));
            b.drain(from..to);
            (format!("bytes {from}..{to} deleted"), b)
        }
        _ => {
            let from = pos(rng, b.len());
            let to = rng.random_range(from..=b.len().min(from + 4096));
            let copy = b[from..to].to_vec();
            let at = rng.random_range(0..=b.len());
            b.splice(at..at, copy);
            (format!("bytes {from}..{to} repeated at {at}"), b)
        }
    }
}

/// How many random mutations to run: [`RANDOM_CASES`], or `SER_FUZZ_CASES`.
fn random_cases() -> usize {
    match std::env::var("SER_FUZZ_CASES") {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("SER_FUZZ_CASES={v:?}: expected a number of cases")),
        Err(_) => RANDOM_CASES,
    }
}

// ---------------------------------------------------------------- tests

/// WAV, FLAC, MP3 and OGG header fields set to extremes, one at a time and in pairs.
#[test]
fn header_fields_at_extremes() {
    let worker = Worker::start();
    let mut tally = Tally::default();
    let cases: Vec<Case> = [wav_cases(), flac_cases(), mp3_cases(), ogg_cases()]
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(cases.len(), HEADER_CASES);
    for case in cases {
        let name = case.name.clone();
        tally.add(&name, worker.run(case));
    }
    tally.finish("header fields at extremes");
}

/// Each fixture cut at [`TRUNCATIONS_PER_FILE`] offsets.
#[test]
fn truncations_at_many_offsets() {
    let worker = Worker::start();
    let mut tally = Tally::default();
    for name in FIXTURES {
        let (seed, ext) = fixture(name);
        for i in 0..TRUNCATIONS_PER_FILE {
            let cut = cut_at(i, seed.len());
            let case = Case {
                name: format!("{name} cut at {cut} of {}", seed.len()),
                bytes: seed[..cut].to_vec(),
                ext,
            };
            let label = case.name.clone();
            tally.add(&label, worker.run(case));
        }
    }
    assert_eq!(tally.cases(), TRUNCATION_CASES);
    tally.finish("truncations");
}

/// [`RANDOM_CASES`] seeded random mutations: half of the fixtures (in turn), half of EmoDB's
/// clips when `../shared` has them (else the fixtures again).
#[test]
fn random_mutations_of_the_seed_corpus() {
    let emodb = emodb_seeds();
    let fixtures: Vec<(String, Vec<u8>, &'static str)> = FIXTURES
        .iter()
        .map(|n| {
            let (b, e) = fixture(n);
            (n.to_string(), b, e)
        })
        .collect();
    let worker = Worker::start();
    let mut tally = Tally::default();
    let mut rng = ChaCha8Rng::seed_from_u64(20);
    let n = random_cases();
    for i in 0..n {
        let (seed_name, seed, ext) = if i % 2 == 1 && !emodb.is_empty() {
            let p = &emodb[rng.random_range(0..emodb.len())];
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(p).unwrap(), "wav")
        } else {
            let (n, b, e) = &fixtures[(i / 2) % fixtures.len()];
            (n.clone(), b.clone(), *e)
        };
        let (what, bytes) = mutate(&seed, &mut rng);
        let case = Case {
            name: format!("case {i}: {seed_name} {what}"),
            bytes,
            ext,
        };
        let label = case.name.clone();
        tally.add(&label, worker.run(case));
    }
    println!(
        "random mutations: seeds {} fixtures + {} EmoDB clips",
        fixtures.len(),
        emodb.len()
    );
    tally.finish("random mutations");
}

/// Lying lengths: the first 4 GB claims load what the file holds or fail as truncated, and never
/// allocate near what they claim.
#[test]
fn lying_lengths_allocate_little() {
    let worker = Worker::start();
    let (wav_seed, _) = fixture("speech.wav");
    let (flac_seed, _) = fixture("speech.flac");
    let mut cases = Vec::new();
    for (claim, what) in [(0xFFFF_FFF0u32, "4 GB"), (u32::MAX, "unknown (streamed)")] {
        for riff in [claim, u32::MAX] {
            let mut b = wav_seed.clone();
            put_u32(&mut b, wav::DATA, claim);
            put_u32(&mut b, wav::RIFF, riff);
            cases.push((
                format!("WAV data size {claim:#x} ({what}), RIFF {riff:#x}"),
                b,
                "wav",
            ));
        }
    }
    // Float and 8-bit WAVs take other read paths in the decoder.
    for (tag, bits) in [(3u16, 32u16), (1, 8)] {
        let mut b = wav_seed.clone();
        put_u16(&mut b, wav::TAG, tag);
        put_u16(&mut b, wav::BITS, bits);
        put_u16(&mut b, wav::ALIGN, bits / 8);
        put_u32(&mut b, wav::DATA, 0xFFFF_FFF0);
        cases.push((format!("WAV tag {tag} {bits}-bit claiming 4 GB"), b, "wav"));
    }
    let mut b = flac_seed.clone();
    flac_fields(&mut b, None, None, None, Some((1 << 36) - 1));
    cases.push(("FLAC total samples 2^36 - 1".into(), b, "flac"));
    // The counter sees a large reservation (address space only: nothing is written to it).
    LARGEST.with(|m| m.set(0));
    drop(Vec::<u8>::with_capacity(ALLOC_LIMIT));
    assert_eq!(
        LARGEST.with(|m| m.get()),
        ALLOC_LIMIT,
        "the counting allocator is not in use"
    );
    let mut tally = Tally::default();
    for (name, bytes, ext) in cases {
        let outcome = worker.run(Case {
            name: name.clone(),
            bytes,
            ext,
        });
        // What is there: 11,025 frames at 22,050 Hz.
        if let Verdict::Loaded { loaded_len } = outcome.verdict {
            assert!(
                loaded_len <= 11025 + 1,
                "{name}: loaded {loaded_len} samples"
            );
        }
        println!("{name}: largest allocation {} bytes", outcome.largest);
        tally.add(&name, outcome);
    }
    assert!(tally.largest < ALLOC_LIMIT);
    tally.finish("lying lengths");
}

/// proptest's runner with a fixed seed and [`PROPTEST_CASES`] cases (no files of past failures:
/// the run is the same every time).
fn runner() -> TestRunner {
    let config = PropConfig {
        cases: PROPTEST_CASES,
        failure_persistence: None,
        ..PropConfig::default()
    };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

/// Runs `case` through the worker and turns its failure into proptest's.
fn check(worker: &Worker, tally: &RefCell<Tally>, case: Case) -> Result<Verdict, TestCaseError> {
    let name = case.name.clone();
    let mut tally = tally.borrow_mut();
    let outcome = worker.run(case);
    if outcome.largest >= ALLOC_LIMIT {
        return Err(TestCaseError::fail(format!(
            "{name}: allocated {} bytes at once",
            outcome.largest
        )));
    }
    tally.largest = tally.largest.max(outcome.largest);
    match outcome.verdict {
        Verdict::Broken(m) | Verdict::DecoderPanic(m) => Err(TestCaseError::fail(m)),
        Verdict::Loaded { loaded_len } => {
            tally.loaded += 1;
            Ok(Verdict::Loaded { loaded_len })
        }
        Verdict::Refused(m) => {
            tally.refused += 1;
            Ok(Verdict::Refused(m))
        }
    }
}

/// WAV header values, any of them absurd.
struct Fmt {
    tag: u16,
    channels: u16,
    rate: u32,
    bits: u16,
    align: u16,
    /// The data chunk's stated length.
    claim: u32,
    /// The RIFF chunk's stated length.
    riff: u32,
}

/// A WAV with the header `f` over a body of any bytes.
fn raw_wav(f: &Fmt, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(44 + body.len());
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&f.riff.to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&f.tag.to_le_bytes());
    v.extend_from_slice(&f.channels.to_le_bytes());
    v.extend_from_slice(&f.rate.to_le_bytes());
    v.extend_from_slice(&f.rate.wrapping_mul(u32::from(f.align)).to_le_bytes());
    v.extend_from_slice(&f.align.to_le_bytes());
    v.extend_from_slice(&f.bits.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&f.claim.to_le_bytes());
    v.extend_from_slice(body);
    v
}

/// Any bytes, behind each format's magic or none: refused or loaded, never a panic or a hang.
#[test]
fn prop_any_bytes_after_a_magic() {
    let worker = Worker::start();
    let tally = RefCell::new(Tally::default());
    let magics: [&[u8]; 6] = [
        b"",
        b"RIFF\xff\xff\xff\xffWAVE",
        b"fLaC",
        b"OggS\0",
        b"ID3\x04\0\0",
        b"\xff\xfb",
    ];
    let strategy = (0..magics.len(), prop::collection::vec(any::<u8>(), 0..2048));
    runner()
        .run(&strategy, |(m, body)| {
            let mut bytes = magics[m].to_vec();
            bytes.extend_from_slice(&body);
            let ext = ["wav", "wav", "flac", "ogg", "mp3", "mp3"][m];
            check(
                &worker,
                &tally,
                Case {
                    name: format!("magic {m} + {} bytes", body.len()),
                    bytes,
                    ext,
                },
            )?;
            Ok(())
        })
        .unwrap();
    tally.into_inner().finish("any bytes after a magic");
}

/// Any WAV header fields (format, channels, rate, bits, block align, both lengths) over up to
/// 4 KB of data.
#[test]
fn prop_wav_header_fields() {
    let worker = Worker::start();
    let tally = RefCell::new(Tally::default());
    // Weighted toward headers a reader accepts, so the cases reach the data, not just the checks.
    let tag =
        prop_oneof![4 => Just(1u16), 2 => Just(3u16), 1 => Just(0xFFFEu16), 1 => any::<u16>()];
    let channels = prop_oneof![4 => 1..=8u16, 1 => any::<u16>()];
    let rate = prop_oneof![2 => Just(22050u32), 2 => 1000..=192_000u32, 1 => any::<u32>()];
    let bits = prop_oneof![
        1 => Just(8u16),
        2 => Just(16u16),
        1 => Just(24u16),
        2 => Just(32u16),
        1 => any::<u16>()
    ];
    // `None`: the true length.
    let claim = prop_oneof![
        4 => Just(None),
        1 => Just(Some(u32::MAX)),
        1 => Just(Some(0xFFFF_FFF0u32)),
        1 => any::<u32>().prop_map(Some),
        1 => (0..8192u32).prop_map(Some)
    ];
    let riff = prop_oneof![4 => Just(None), 1 => any::<u32>().prop_map(Some)];
    let strategy = (
        (
            tag,
            channels,
            rate,
            bits,
            prop::bool::weighted(0.8),
            any::<u16>(),
        ),
        (claim, riff, prop::collection::vec(any::<u8>(), 0..4096)),
    );
    runner()
        .run(
            &strategy,
            |((tag, ch, rate, bits, consistent, align), (claim, riff, body))| {
                let align = if consistent {
                    ch.wrapping_mul(bits / 8)
                } else {
                    align
                };
                let claim = claim.unwrap_or(body.len() as u32);
                let riff = riff.unwrap_or(36 + body.len() as u32);
                let fmt = Fmt {
                    tag,
                    channels: ch,
                    rate,
                    bits,
                    align,
                    claim,
                    riff,
                };
                let bytes = raw_wav(&fmt, &body);
                let name = format!(
                    "WAV tag {tag:#x}, {ch} channels, {rate} Hz, {bits} bits, align {align}, data \
                 {claim:#x}, RIFF {riff:#x}, {} bytes",
                    body.len()
                );
                check(
                    &worker,
                    &tally,
                    Case {
                        name,
                        bytes,
                        ext: "wav",
                    },
                )?;
                Ok(())
            },
        )
        .unwrap();
    tally.into_inner().finish("WAV header fields");
}

/// Valid 16-bit WAVs at any rate the resampler takes, 1 to 4 channels: they load, to exactly the
/// configured length, with the length librosa would report, and finite samples.
#[test]
fn prop_valid_wavs_load_at_any_rate() {
    let worker = Worker::start();
    let tally = RefCell::new(Tally::default());
    let strategy = (
        1000..=96_000u32,
        1..=4u16,
        prop::collection::vec(any::<i16>(), 1..6000),
    );
    runner()
        .run(&strategy, |(rate, ch, samples)| {
            let frames = samples.len() / ch as usize;
            prop_assume!(frames > 0);
            let body: Vec<u8> = samples[..frames * ch as usize]
                .iter()
                .flat_map(|s| s.to_le_bytes())
                .collect();
            let fmt = Fmt {
                tag: 1,
                channels: ch,
                rate,
                bits: 16,
                align: 2 * ch,
                claim: body.len() as u32,
                riff: 36 + body.len() as u32,
            };
            let bytes = raw_wav(&fmt, &body);
            let name = format!("valid WAV {rate} Hz {ch} channels {frames} frames");
            match check(
                &worker,
                &tally,
                Case {
                    name: name.clone(),
                    bytes,
                    ext: "wav",
                },
            )? {
                Verdict::Loaded { loaded_len } => {
                    let want = (frames as u64 * 22050).div_ceil(u64::from(rate)) as usize;
                    prop_assert_eq!(loaded_len, want, "{}", name);
                }
                other => return Err(TestCaseError::fail(format!("{name}: {other:?}"))),
            }
            Ok(())
        })
        .unwrap();
    tally.into_inner().finish("valid WAVs at any rate");
}
