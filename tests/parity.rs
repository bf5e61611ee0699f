//! Parity with librosa 0.11: every feature value of every reference input in `../shared/parity`
//! (made by its `make_parity.py`), computed from the stored 22,050 Hz `signal.npy`.
//!
//! Tolerances (from `parity/README.md`): ZCR absolute 1e-6; RMS relative 1e-5 (with a floor of
//! 1e-6 on the reference so digital silence compares absolutely); mel dB absolute 0.01 dB;
//! MFCC absolute 0.01. The resampled inputs' `signal.npy` is already at 22,050 Hz, so they are
//! held to the same bars here (resampling itself is tested with the audio stage).
//!
//! Run `cargo test --test integration parity -- --nocapture` to see the worst error per input
//! and feature; `cargo run --release --example stage_times features` times them.

use std::path::Path;

use ser::config::{FeatureConfig, FeatureKind};
use ser::features::{Extractor, Matrix};
use ser::npy;

const SR: u32 = 22_050;
const ZCR_ABS: f64 = 1e-6;
const RMS_REL: f64 = 1e-5;
const RMS_FLOOR: f64 = 1e-6;
const MEL_DB_ABS: f64 = 0.01;
const MFCC_ABS: f64 = 0.01;

/// (stem, input_rate) of every input in index.json, sorted by stem.
fn inputs(dir: &Path) -> Vec<(String, u64)> {
    let text = std::fs::read_to_string(dir.join("index.json")).unwrap();
    let index: serde_json::Value = serde_json::from_str(&text).unwrap();
    let clips = index["clips"].as_object().expect("index.json: clips");
    let mut out: Vec<(String, u64)> = clips
        .iter()
        .map(|(name, info)| {
            let stem = Path::new(name)
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (stem, info["input_rate"].as_u64().expect("input_rate"))
        })
        .collect();
    out.sort();
    out
}

/// Worst error of one feature on one input: (error, index, got, want).
#[derive(Debug, Clone, Copy, Default)]
struct Worst {
    err: f64,
    at: usize,
    got: f64,
    want: f64,
    bad: usize,
}

/// Compares element by element; `scaled_err` gives the error relative to the tolerance's unit.
fn compare(got: &[f32], want: &[f64], tol: f64, err_of: impl Fn(f64, f64) -> f64) -> Worst {
    assert_eq!(got.len(), want.len(), "length");
    let mut w = Worst::default();
    for (i, (&g, &r)) in got.iter().zip(want).enumerate() {
        let e = err_of(f64::from(g), r);
        if e > tol || e.is_nan() {
            w.bad += 1;
        }
        if e > w.err || e.is_nan() {
            w = Worst {
                err: e,
                at: i,
                got: f64::from(g),
                want: r,
                bad: w.bad,
            };
        }
    }
    w
}

fn abs_err(g: f64, r: f64) -> f64 {
    (g - r).abs()
}

/// RMS error in units of the reference (floored, so zeros compare absolutely).
fn rms_err(g: f64, r: f64) -> f64 {
    (g - r).abs() / r.abs().max(RMS_FLOOR)
}

fn load(dir: &Path, stem: &str, name: &str) -> npy::Array<f64> {
    npy::read_f64(dir.join(stem).join(format!("{name}.npy"))).unwrap()
}

fn matrix_shape(m: &Matrix) -> Vec<usize> {
    vec![m.rows, m.cols]
}

#[test]
fn every_feature_matches_librosa_on_every_input() {
    let Some(dir) = crate::common::shared("parity") else {
        return;
    };
    let mut ex = Extractor::new(&FeatureConfig::default(), SR).unwrap();
    let list = inputs(&dir);
    assert_eq!(list.len(), 11, "index.json lists 11 inputs");
    assert_eq!(list.iter().filter(|(_, r)| *r == 22_050).count(), 9);

    let mut failures = Vec::new();
    let mut overall = [Worst::default(); 4];
    eprintln!(
        "{:<18} {:>6} {:>12} {:>12} {:>12} {:>12}",
        "input", "rate", "zcr abs", "rms rel", "mel dB abs", "mfcc abs"
    );
    for (stem, rate) in &list {
        let signal = npy::read_f32(dir.join(stem).join("signal.npy")).unwrap();
        assert_eq!(signal.shape, vec![56_000], "{stem}: signal shape");
        let y = &signal.data;

        let set = ex.all(y);
        let zcr_ref = load(&dir, stem, "zcr");
        let rms_ref = load(&dir, stem, "rms");
        let mel_ref = load(&dir, stem, "mel_db");
        let mfcc_ref = load(&dir, stem, "mfcc");
        assert_eq!(zcr_ref.shape, vec![set.zcr.len()], "{stem}: zcr shape");
        assert_eq!(rms_ref.shape, vec![set.rms.len()], "{stem}: rms shape");
        assert_eq!(
            mel_ref.shape,
            matrix_shape(&set.mel_db),
            "{stem}: mel_db shape"
        );
        assert_eq!(
            mfcc_ref.shape,
            matrix_shape(&set.mfcc),
            "{stem}: mfcc shape"
        );

        let worst = [
            compare(&set.zcr, &zcr_ref.data, ZCR_ABS, abs_err),
            compare(&set.rms, &rms_ref.data, RMS_REL, rms_err),
            compare(&set.mel_db.data, &mel_ref.data, MEL_DB_ABS, abs_err),
            compare(&set.mfcc.data, &mfcc_ref.data, MFCC_ABS, abs_err),
        ];
        eprintln!(
            "{stem:<18} {rate:>6} {:>12.3e} {:>12.3e} {:>12.3e} {:>12.3e}",
            worst[0].err, worst[1].err, worst[2].err, worst[3].err
        );
        let names = ["zcr", "rms", "mel_db", "mfcc"];
        let tols = [ZCR_ABS, RMS_REL, MEL_DB_ABS, MFCC_ABS];
        for (k, w) in worst.iter().enumerate() {
            if w.bad > 0 {
                failures.push(format!(
                    "{stem}/{}: {} values over {:e}; worst {:.3e} at flat index {} (got {}, librosa {})",
                    names[k], w.bad, tols[k], w.err, w.at, w.got, w.want
                ));
            }
            if w.err > overall[k].err || w.err.is_nan() {
                overall[k] = *w;
            }
        }

        // The single-feature entry points agree with `all` (which shares the STFT).
        assert_eq!(ex.zcr(y), set.zcr, "{stem}");
        assert_eq!(ex.rms(y), set.rms, "{stem}");
        assert_eq!(ex.mfcc(y), set.mfcc, "{stem}");
        let db = ex.mel_db(y);
        let mel_single = compare(&db.data, &mel_ref.data, MEL_DB_ABS, abs_err);
        if mel_single.bad > 0 {
            failures.push(format!(
                "{stem}/mel_db via mel_db(): worst {:.3e}",
                mel_single.err
            ));
        }
    }
    eprintln!(
        "{:<18} {:>6} {:>12.3e} {:>12.3e} {:>12.3e} {:>12.3e}",
        "worst", "", overall[0].err, overall[1].err, overall[2].err, overall[3].err
    );
    eprintln!(
        "tolerances                {ZCR_ABS:>12.0e} {RMS_REL:>12.0e} {MEL_DB_ABS:>12.0e} {MFCC_ABS:>12.0e}"
    );
    assert!(
        failures.is_empty(),
        "parity failures:\n{}",
        failures.join("\n")
    );
}

#[test]
fn silence_is_zero_db_and_dc_only_mfcc() {
    let Some(dir) = crate::common::shared("parity") else {
        return;
    };
    let y = npy::read_f32(dir.join("silence/signal.npy")).unwrap().data;
    assert!(y.iter().all(|&v| v == 0.0));
    let mut ex = Extractor::new(&FeatureConfig::default(), SR).unwrap();
    let set = ex.all(&y);
    assert!(set.mel_db.data.iter().all(|&v| v == 0.0));
    assert!(set.zcr.iter().chain(&set.rms).all(|&v| v == 0.0));
    let mfcc_ref = load(&dir, "silence", "mfcc");
    for c in 0..set.mfcc.cols {
        assert!((f64::from(set.mfcc.get(0, c)) - mfcc_ref.data[c]).abs() < 1e-3);
        for r in 1..set.mfcc.rows {
            assert_eq!(mfcc_ref.data[r * set.mfcc.cols + c], 0.0);
            assert!(set.mfcc.get(r, c).abs() < 1e-4);
        }
    }
}

/// 3,001 samples of exact LCG noise (so NumPy and Rust build the same f32 values), with a run
/// of digital silence and a stretch 120 dB down (one frame lies wholly inside it):
///
/// ```python
/// x = 12345; out = np.empty(n, dtype=np.float32)
/// for i in range(n):
///     x = (1103515245 * x + 12345) % 2**31
///     out[i] = np.float32(((x >> 8) % 65536 - 32768) / 32768.0)
/// out[100:200] = 0; out[1500:2200] *= np.float32(2.0**-20)
/// ```
fn lcg_signal(n: usize) -> Vec<f32> {
    let mut x: u64 = 12345;
    let mut out: Vec<f32> = (0..n)
        .map(|_| {
            x = (1_103_515_245 * x + 12345) % (1 << 31);
            (((x >> 8) % 65536) as f64 - 32768.0) as f32 / 32768.0
        })
        .collect();
    out[100..200].fill(0.0);
    for v in &mut out[1500..2200] {
        *v *= 1.0 / 1_048_576.0;
    }
    out
}

/// A configuration far from the defaults — 16 kHz, n_fft 512, a hop (300) that divides neither
/// the frame (400) nor its half, 24 mels over 100–5000 Hz, 8 MFCCs — against librosa 0.11
/// (`zero_crossing_rate`, `rms`, `melspectrogram(..., fmin, fmax)`, `power_to_db`, and
/// `scipy.fft.dct(power_to_db(S, top_db), norm='ortho')[:8]`), with `top_db` 60 (f32 FFT) and
/// `None` (f64 FFT). Needs no shared data.
#[test]
fn non_default_configs_match_librosa() {
    let y = lcg_signal(3001);
    assert_eq!(&y[..3], &[0.719_421_4, -0.967_559_8, -0.210_083_01]);
    let sum: f64 = y.iter().map(|&v| f64::from(v)).sum();
    assert!((sum - 2.120_576_197_223_272).abs() < 1e-9, "{sum}");
    let zcr_ref = [
        0.14, 0.3875, 0.515, 0.465, 0.465, 0.5175, 0.5375, 0.5075, 0.49, 0.5475, 0.2625,
    ];
    let rms_ref = [
        0.306_838_5,
        0.494_518_9,
        0.579_087_8,
        0.585_092_96,
        0.556_466_3,
        0.410_988_96,
        5.479_508_3e-7,
        0.299_026_46,
        0.575_682,
        0.570_436_95,
        0.389_856_34,
    ];
    let mfcc0_common = [
        -9.717_106,
        10.523_384,
        11.654_186,
        15.131_015,
        14.332_15,
        -0.157_825_77,
        f32::NAN,
        -39.178_043,
        13.489_194,
        7.990_793,
        -3.748_363_7,
    ];
    let mfcc7_common = [
        -0.319_531_62,
        1.078_529_8,
        1.979_793_9,
        -5.674_587,
        -1.466_940_8,
        4.775_765,
        f32::NAN,
        -0.594_215_9,
        -2.815_809_2,
        -0.750_566_8,
        3.344_332,
    ];
    // (top_db, mel_db spots (mel, frame, dB), mel_db min and mean, frame 6 of MFCC rows 0 and 7)
    type Case = (Option<f64>, [(usize, usize, f32); 6], f32, f64, f32, f32);
    let cases: [Case; 2] = [
        (
            Some(60.0),
            [
                (0, 0, -11.509_426),
                (5, 3, -3.479_485),
                (23, 10, -7.912_186_6),
                (12, 5, -4.109_317_3),
                (12, 6, -60.0),
                (20, 7, -16.663_754),
            ],
            -60.0,
            -11.948_920_249_035_865,
            -256.909_45,
            0.0,
        ),
        (
            None,
            [
                (0, 0, -11.509_426),
                (5, 3, -3.479_485),
                (23, 10, -7.912_186_6),
                (12, 5, -4.109_317_3),
                (12, 6, -107.558_586),
                (20, 7, -16.663_754),
            ],
            -107.558_586,
            -16.272_428_078_181_814,
            -489.897_98,
            0.0,
        ),
    ];
    for (top_db, spots, min, mean, mfcc0_6, mfcc7_6) in cases {
        let cfg = FeatureConfig {
            frame_length: 400,
            hop_length: 300,
            n_fft: 512,
            n_mels: 24,
            fmin: 100.0,
            fmax: Some(5000.0),
            n_mfcc: 8,
            top_db,
            ..FeatureConfig::default()
        };
        let mut ex = Extractor::new(&cfg, 16_000).unwrap();
        let set = ex.all(&y);
        assert_eq!(set.zcr.len(), 11);
        for (t, (&g, &w)) in set.zcr.iter().zip(&zcr_ref).enumerate() {
            assert!((g - w).abs() <= 1e-6, "{top_db:?} zcr[{t}]: {g} vs {w}");
        }
        for (t, (&g, &w)) in set.rms.iter().zip(&rms_ref).enumerate() {
            assert!((g - w).abs() <= 1e-5 * w, "{top_db:?} rms[{t}]: {g} vs {w}");
        }
        assert_eq!(set.mel_db.shape(), [24, 11]);
        for (m, t, want) in spots {
            let got = set.mel_db.get(m, t);
            assert!(
                (got - want).abs() <= 0.01,
                "{top_db:?} mel_db[{m}, {t}]: {got} vs {want}"
            );
        }
        let got_min = set
            .mel_db
            .data
            .iter()
            .cloned()
            .fold(f32::INFINITY, f32::min);
        assert!(
            (got_min - min).abs() <= 0.01,
            "{top_db:?} min {got_min} vs {min}"
        );
        let got_mean = set.mel_db.data.iter().map(|&v| f64::from(v)).sum::<f64>()
            / set.mel_db.data.len() as f64;
        assert!(
            (got_mean - mean).abs() <= 1e-3,
            "{top_db:?} mean {got_mean} vs {mean}"
        );
        assert_eq!(set.mfcc.shape(), [8, 11]);
        for (row, refs, at6) in [(0, mfcc0_common, mfcc0_6), (7, mfcc7_common, mfcc7_6)] {
            for (t, &w) in refs.iter().enumerate() {
                let w = if t == 6 { at6 } else { w };
                let got = set.mfcc.get(row, t);
                assert!(
                    (got - w).abs() <= 0.01,
                    "{top_db:?} mfcc[{row}, {t}]: {got} vs {w}"
                );
            }
        }
    }
}

/// Without a `top_db` floor every bin counts, down to 120 dB below the loudest: an f32 FFT is
/// 0.014 dB off there, so the extractor switches to f64. Reference: librosa 0.11 on samples
/// 5,000..35,001 of the 08a02La parity signal with 16 kHz settings (n_fft 512, hop 160, frame
/// 400, 40 mels over 20–7600 Hz), `power_to_db(S, ref=np.max, top_db=None)`.
#[test]
fn no_floor_keeps_the_deepest_bins() {
    let Some(dir) = crate::common::shared("parity") else {
        return;
    };
    let signal = npy::read_f32(dir.join("08a02La/signal.npy")).unwrap().data;
    let y = &signal[5000..35_001];
    let cfg = FeatureConfig {
        frame_length: 400,
        hop_length: 160,
        n_fft: 512,
        n_mels: 40,
        fmin: 20.0,
        fmax: Some(7600.0),
        n_mfcc: 13,
        top_db: None,
        ..FeatureConfig::default()
    };
    let mut ex = Extractor::new(&cfg, 16_000).unwrap();
    let db = ex.mel_db(y);
    assert_eq!(db.shape(), [40, 188]);
    for (m, t, want) in [
        (37, 93, -108.307_09),
        (38, 93, -112.187_004),
        (39, 93, -110.350_54),
    ] {
        let got = db.get(m, t);
        assert!(
            (got - want).abs() <= MEL_DB_ABS as f32,
            "mel_db[{m}, {t}]: {got} vs {want}"
        );
    }
    let min = db.data.iter().cloned().fold(f32::INFINITY, f32::min);
    let mean = db.data.iter().map(|&v| f64::from(v)).sum::<f64>() / db.data.len() as f64;
    assert!((min + 119.087_39).abs() <= 0.01, "min {min}");
    assert!((mean + 53.408_466_418_880_096).abs() <= 1e-3, "mean {mean}");
    let mfcc = ex.mfcc(y);
    assert!((mfcc.get(0, 100) + 115.322_92).abs() <= 0.01);
    assert!((mfcc.get(1, 100) - 122.389_54).abs() <= 0.01);
}

/// End to end from the audio files: decode → mono → resample → pad → features, against librosa's
/// outputs for the same files. 22,050 Hz inputs must meet the exact bars; resampled inputs the
/// "another top-quality resampler" bars of `parity/README.md`: mel dB over bins above -60 dB
/// mean ≤ 0.01 and max ≤ 2.0 dB, ZCR mean ≤ 0.005 and max ≤ 0.1, RMS relative ≤ 1e-3 on frames
/// with RMS > 1e-3.
#[test]
fn from_audio_files_every_input_meets_its_bar() {
    let Some(dir) = crate::common::shared("parity") else {
        return;
    };
    let emodb = dir.join("../data/emodb/wav");
    let mut loader = ser::audio::Loader::new(&ser::config::AudioConfig::default());
    let mut ex = Extractor::new(&FeatureConfig::default(), SR).unwrap();
    for (stem, rate) in inputs(&dir) {
        let file = if dir.join("audio").join(format!("{stem}.wav")).is_file() {
            dir.join("audio").join(format!("{stem}.wav"))
        } else {
            emodb.join(format!("{stem}.wav"))
        };
        let clip = loader.load(&file).unwrap();
        let set = ex.all(&clip.signal);
        let zcr_ref = load(&dir, &stem, "zcr").data;
        let rms_ref = load(&dir, &stem, "rms").data;
        let mel_ref = load(&dir, &stem, "mel_db").data;
        let mfcc_ref = load(&dir, &stem, "mfcc").data;
        let zcr_d: Vec<f64> = set
            .zcr
            .iter()
            .zip(&zcr_ref)
            .map(|(&a, b)| (a as f64 - b).abs())
            .collect();
        let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        if rate == 22_050 {
            let signal = load(&dir, &stem, "signal").data;
            let sig_d = clip
                .signal
                .iter()
                .zip(&signal)
                .map(|(&a, b)| (a as f64 - b).abs());
            assert!(sig_d.fold(0.0, f64::max) <= 1e-7, "{stem}: signal");
            assert!(max(&zcr_d) <= ZCR_ABS, "{stem}: zcr");
            let mel_d = set
                .mel_db
                .data
                .iter()
                .zip(&mel_ref)
                .map(|(&a, b)| (a as f64 - b).abs());
            assert!(mel_d.fold(0.0, f64::max) <= MEL_DB_ABS, "{stem}: mel dB");
            let mfcc_d = set
                .mfcc
                .data
                .iter()
                .zip(&mfcc_ref)
                .map(|(&a, b)| (a as f64 - b).abs());
            assert!(mfcc_d.fold(0.0, f64::max) <= MFCC_ABS, "{stem}: mfcc");
            continue;
        }
        let loud: Vec<f64> = set
            .mel_db
            .data
            .iter()
            .zip(&mel_ref)
            .filter(|(_, &r)| r > -60.0)
            .map(|(&a, b)| (a as f64 - b).abs())
            .collect();
        let rms_rel: Vec<f64> = set
            .rms
            .iter()
            .zip(&rms_ref)
            .filter(|(_, &r)| r > 1e-3)
            .map(|(&a, b)| (a as f64 - b).abs() / b)
            .collect();
        eprintln!(
            "{stem} ({rate} Hz): mel dB mean {:.5} max {:.4} over {} loud bins; zcr mean {:.5} max {:.4}; rms rel max {:.2e}",
            mean(&loud),
            max(&loud),
            loud.len(),
            mean(&zcr_d),
            max(&zcr_d),
            max(&rms_rel)
        );
        assert!(
            !loud.is_empty() && !rms_rel.is_empty(),
            "{stem}: reference has no loud bins"
        );
        assert!(mean(&loud) <= 0.01 && max(&loud) <= 2.0, "{stem}: mel dB");
        assert!(mean(&zcr_d) <= 0.005 && max(&zcr_d) <= 0.1, "{stem}: zcr");
        assert!(max(&rms_rel) <= 1e-3, "{stem}: rms");
    }
}

// Kinds added after `../shared/parity` was made: references from librosa 0.11 on the same
// signals, made by `scripts/parity_extra.py` into `tests/fixtures/parity-extra` (float32).
// Measured worst over its six inputs: delta 2.4e-5, delta-delta 3.6e-5 (the MFCCs themselves
// 1.2e-4), centroid and bandwidth 2.1e-6 relative, roll-off the same bin everywhere, chroma
// 2.3e-6; the bars leave 5 to 30 times that.
const DELTA_ABS: f64 = 1e-3;
const SPECTRAL_REL: f64 = 1e-5;
const SPECTRAL_FLOOR_HZ: f64 = 1.0;
const ROLLOFF_ABS_HZ: f64 = 1e-3;
const CHROMA_ABS: f64 = 2e-5;

/// Centroid and bandwidth error relative to librosa's value (floored at 1 Hz: silent frames are 0).
fn hz_err(g: f64, r: f64) -> f64 {
    (g - r).abs() / r.abs().max(SPECTRAL_FLOOR_HZ)
}

/// MFCC + deltas, spectral shape and chroma of every clip in `tests/fixtures/parity-extra`
/// against librosa: MFCC rows to `MFCC_ABS`, delta and delta-delta rows to `DELTA_ABS`,
/// centroid and bandwidth to `SPECTRAL_REL` of the value, roll-off to the same bin, chroma to
/// `CHROMA_ABS` (chroma is scaled to at most 1 per frame). Each kind's model input is checked to
/// be these same values, laid out as `Extractor::input_shape` says.
#[test]
fn extra_kinds_match_librosa() {
    let Some(dir) = crate::common::shared("parity") else {
        return;
    };
    let extra = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parity-extra");
    if !extra.join("index.json").is_file() {
        eprintln!(
            "skipped: {} is absent (make it with scripts/parity_extra.py)",
            extra.display()
        );
        return;
    }
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(extra.join("index.json")).unwrap()).unwrap();
    let stems: Vec<String> = index["clips"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert!(stems.len() >= 4, "{stems:?}");
    let mut ex = Extractor::new(&FeatureConfig::default(), SR).unwrap();
    let bin_hz = f64::from(SR) / 2048.0;
    let mut failures = Vec::new();
    eprintln!(
        "{:<16} {:>10} {:>10} {:>10} {:>10} {:>10} {:>8} {:>10}",
        "input", "mfcc", "delta", "delta2", "centroid", "bandwidth", "rolloff", "chroma"
    );
    for stem in &stems {
        let y = npy::read_f32(dir.join(stem).join("signal.npy"))
            .unwrap()
            .data;
        let md = ex.mfcc_deltas(&y);
        let spectral = ex.spectral(&y);
        let chroma = ex.chroma(&y);
        let md_ref = load(&extra, stem, "mfcc_deltas");
        let sp_ref = load(&extra, stem, "spectral");
        let ch_ref = load(&extra, stem, "chroma");
        assert_eq!(md_ref.shape, matrix_shape(&md), "{stem}: mfcc_deltas shape");
        assert_eq!(
            sp_ref.shape,
            matrix_shape(&spectral),
            "{stem}: spectral shape"
        );
        assert_eq!(ch_ref.shape, matrix_shape(&chroma), "{stem}: chroma shape");
        let n = md.cols * md.rows / 3;
        let f = spectral.cols;
        let rolloff_bins = spectral.data[2 * f..]
            .iter()
            .zip(&sp_ref.data[2 * f..])
            .map(|(&g, r)| ((f64::from(g) - r) / bin_hz).abs().round())
            .fold(0.0, f64::max);
        let worst = [
            (
                "mfcc",
                compare(&md.data[..n], &md_ref.data[..n], MFCC_ABS, abs_err),
                MFCC_ABS,
            ),
            (
                "delta",
                compare(
                    &md.data[n..2 * n],
                    &md_ref.data[n..2 * n],
                    DELTA_ABS,
                    abs_err,
                ),
                DELTA_ABS,
            ),
            (
                "delta2",
                compare(&md.data[2 * n..], &md_ref.data[2 * n..], DELTA_ABS, abs_err),
                DELTA_ABS,
            ),
            (
                "centroid",
                compare(&spectral.data[..f], &sp_ref.data[..f], SPECTRAL_REL, hz_err),
                SPECTRAL_REL,
            ),
            (
                "bandwidth",
                compare(
                    &spectral.data[f..2 * f],
                    &sp_ref.data[f..2 * f],
                    SPECTRAL_REL,
                    hz_err,
                ),
                SPECTRAL_REL,
            ),
            (
                "rolloff",
                compare(
                    &spectral.data[2 * f..],
                    &sp_ref.data[2 * f..],
                    ROLLOFF_ABS_HZ,
                    abs_err,
                ),
                ROLLOFF_ABS_HZ,
            ),
            (
                "chroma",
                compare(&chroma.data, &ch_ref.data, CHROMA_ABS, abs_err),
                CHROMA_ABS,
            ),
        ];
        eprintln!(
            "{stem:<16} {:>10.3e} {:>10.3e} {:>10.3e} {:>10.3e} {:>10.3e} {:>8} {:>10.3e}",
            worst[0].1.err,
            worst[1].1.err,
            worst[2].1.err,
            worst[3].1.err,
            worst[4].1.err,
            rolloff_bins,
            worst[6].1.err
        );
        for (name, w, tol) in worst {
            if w.bad > 0 {
                failures.push(format!(
                    "{stem}/{name}: {} values over {tol:e}; worst {:.3e} at flat index {} (got {}, librosa {})",
                    w.bad, w.err, w.at, w.got, w.want
                ));
            }
        }
        for (kind, want) in [
            (FeatureKind::MfccDeltas, md.data.clone()),
            (FeatureKind::Spectral, spectral.data.clone()),
            (
                FeatureKind::ZcrRmsSpectral,
                [ex.zcr(&y), ex.rms(&y), spectral.data.clone()].concat(),
            ),
            (FeatureKind::Chroma, chroma.data.clone()),
        ] {
            let cfg = FeatureConfig {
                kind,
                ..FeatureConfig::default()
            };
            let mut k = Extractor::new(&cfg, SR).unwrap();
            assert_eq!(
                k.input_shape(y.len()).iter().product::<usize>(),
                want.len(),
                "{kind}"
            );
            assert_eq!(k.model_input(&y), want, "{stem}: {kind} model input");
        }
    }
    assert!(
        failures.is_empty(),
        "parity failures:\n{}",
        failures.join("\n")
    );
}
