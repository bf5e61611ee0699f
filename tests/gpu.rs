//! The GPU feature kernels (`shaders/`, `ser::features::gpu`) against the CPU extractor, on
//! synthetic signals and, when `../shared` is present, real EmoDB clips. Compiled with
//! `--features wgpu` only; skips, saying why, where no wgpu adapter comes up (install Mesa's
//! lavapipe, `mesa-vulkan-drivers`, to run it without a GPU).

use ser::config::{AudioConfig, BackendKind, FeatureConfig};
use ser::features::gpu::GpuExtractor;
use ser::features::Extractor;

const N: usize = 56_000;
const SR: u32 = 22_050;

/// A deterministic uniform noise in [-1, 1) (64-bit LCG), so the test needs no RNG crate.
fn noise(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn tone(hz: f32, amp: f32) -> Vec<f32> {
    (0..N)
        .map(|i| amp * (2.0 * std::f32::consts::PI * hz * i as f32 / SR as f32).sin())
        .collect()
}

/// Tones, noise, silence and mixtures, each exactly `N` samples (a padded clip).
fn synthetic() -> Vec<(String, Vec<f32>)> {
    let mut v = vec![
        ("tone 440 Hz".to_string(), tone(440.0, 0.5)),
        ("tone 3 kHz, quiet".to_string(), tone(3000.0, 1e-3)),
        (
            "noise".to_string(),
            noise(N, 1).iter().map(|x| 0.2 * x).collect(),
        ),
        ("silence".to_string(), vec![0.0; N]),
    ];
    // Speech-like: a tone with noise for 2 s, then digital silence (as a padded clip ends).
    let mut mixed: Vec<f32> = tone(220.0, 0.3)
        .iter()
        .zip(noise(N, 2))
        .map(|(t, z)| t + 0.05 * z)
        .collect();
    mixed[44_100..].fill(0.0);
    v.push(("tone + noise, then silence".to_string(), mixed));
    // A chirp: energy sweeps across every mel band.
    let chirp = (0..N)
        .map(|i| {
            let t = i as f32 / SR as f32;
            0.4 * (2.0 * std::f32::consts::PI * (100.0 * t + 2000.0 * t * t)).sin()
        })
        .collect();
    v.push(("chirp".to_string(), chirp));
    v
}

/// Up to `max` EmoDB clips, loaded and padded as training loads them; none without ../shared.
fn emodb(max: usize) -> Vec<(String, Vec<f32>)> {
    let Some(dir) = crate::common::shared("data/emodb/wav") else {
        return Vec::new();
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wav"))
        .collect();
    files.sort();
    let mut loader = ser::audio::Loader::new(&AudioConfig::default());
    files
        .iter()
        .take(max)
        .map(|p| {
            let clip = loader.load(p).unwrap();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                clip.signal,
            )
        })
        .collect()
}

/// The GPU extractor on adapter 0, or `None` (after saying why) where no adapter comes up.
/// Only the adapter may be missing: once one is there, the kernels must build.
fn gpu(cfg: &FeatureConfig) -> Option<GpuExtractor> {
    if let Err(e) = ser::base::device::device(BackendKind::Wgpu, 0) {
        eprintln!("skipping the GPU feature test: {e}");
        return None;
    }
    Some(GpuExtractor::new(cfg, SR, 0).expect("the kernels build on an adapter that works"))
}

#[test]
fn gpu_features_match_the_cpu_extractor() {
    let cfg = FeatureConfig::default();
    let Some(mut gpu) = gpu(&cfg) else { return };
    eprintln!("GPU features on {}", gpu.adapter());
    let mut clips = synthetic();
    clips.extend(emodb(12));
    // Several dispatches per call, so batching across dispatches is exercised too.
    gpu.set_batch_limit(5);
    let signals: Vec<&[f32]> = clips.iter().map(|(_, s)| s.as_slice()).collect();
    let batch = gpu.extract(&signals).unwrap();
    assert_eq!(batch.clips, clips.len());
    let mut cpu = Extractor::new(&cfg, SR).unwrap();
    let (mut zcr_max, mut rms_max, mut db_max, mut compared) = (0f32, 0f32, 0f32, 0usize);
    for (i, (name, y)) in clips.iter().enumerate() {
        let (zcr, rms, db) = (cpu.zcr(y), cpu.rms(y), cpu.mel_db(y));
        assert_eq!(batch.zcr(i).len(), zcr.len(), "{name}");
        assert_eq!(batch.rms(i).len(), rms.len(), "{name}");
        let gdb = batch.mel_db(i);
        assert_eq!(gdb.shape(), db.shape(), "{name}");
        for (t, (g, c)) in batch.zcr(i).iter().zip(&zcr).enumerate() {
            assert!(
                (g - c).abs() <= 1e-4,
                "{name}: ZCR frame {t}: GPU {g} CPU {c}"
            );
            zcr_max = zcr_max.max((g - c).abs());
        }
        for (t, (g, c)) in batch.rms(i).iter().zip(&rms).enumerate() {
            assert!(
                (g - c).abs() <= 1e-4,
                "{name}: RMS frame {t}: GPU {g} CPU {c}"
            );
            rms_max = rms_max.max((g - c).abs());
        }
        for (k, (g, c)) in gdb.data.iter().zip(&db.data).enumerate() {
            assert!(g.is_finite(), "{name}: mel dB {k} is {g}");
            if *c > -60.0 {
                let (m, t) = (k / db.cols, k % db.cols);
                assert!(
                    (g - c).abs() <= 0.01,
                    "{name}: mel {m} frame {t}: GPU {g} dB, CPU {c} dB"
                );
                db_max = db_max.max((g - c).abs());
                compared += 1;
            }
        }
        // The MFCC input: GPU dB plus its shift, against the CPU's own MFCCs, loosely (the DCT
        // mixes in the bins below -60 dB that the check above leaves out).
        let (gm, cm) = (gpu.mfcc(&batch, i), cpu.mfcc(y));
        assert_eq!(gm.shape(), cm.shape(), "{name}");
        for (g, c) in gm.data.iter().zip(&cm.data) {
            assert!((g - c).abs() <= 0.05, "{name}: MFCC GPU {g} CPU {c}");
        }
    }
    assert!(compared > 10_000, "only {compared} mel values above -60 dB");
    eprintln!(
        "{} clips: max |GPU - CPU| ZCR {zcr_max:.3e}, RMS {rms_max:.3e}, mel dB {db_max:.3e} \
         ({compared} values above -60 dB)",
        clips.len()
    );
}

#[test]
fn gpu_model_input_matches_in_layout_and_refuses_ragged_batches() {
    let mut cfg = FeatureConfig::default();
    let Some(gpu) = gpu(&cfg) else { return };
    let clips = [tone(440.0, 0.5), noise(N, 3)];
    let signals: Vec<&[f32]> = clips.iter().map(|s| s.as_slice()).collect();
    let rows = gpu.model_input(&signals).unwrap();
    let mut cpu = Extractor::new(&cfg, SR).unwrap();
    for (row, y) in rows.iter().zip(&clips) {
        let want = cpu.model_input(y);
        assert_eq!(row.len(), want.len());
        assert_eq!(row.len(), 220);
        for (g, c) in row.iter().zip(&want) {
            assert!((g - c).abs() <= 1e-4, "zcr+rms: GPU {g} CPU {c}");
        }
    }
    // Short clips of another length (and frame count) work too.
    cfg.kind = ser::config::FeatureKind::MelDb;
    let gpu = GpuExtractor::new(&cfg, SR, 0).unwrap();
    let short = tone(440.0, 0.5)[..5_000].to_vec();
    let rows = gpu.model_input(&[short.as_slice()]).unwrap();
    assert_eq!(rows[0].len(), 128 * (1 + 5_000 / 512));
    let e = gpu
        .extract(&[clips[0].as_slice(), &clips[1][..100]])
        .unwrap_err()
        .to_string();
    assert!(e.contains("one length"), "{e}");
    assert_eq!(gpu.extract(&[]).unwrap().clips, 0);
}

/// An `.npy` of f32 or f64 as f64 (ZCR is written as float64, like librosa's).
fn read_npy(path: &std::path::Path) -> (Vec<usize>, Vec<f64>) {
    match ser::npy::read_f32(path) {
        Ok(a) => (a.shape, a.data.iter().map(|&v| f64::from(v)).collect()),
        Err(_) => {
            let a = ser::npy::read_f64(path).unwrap();
            (a.shape, a.data)
        }
    }
}

/// `ser features extract --backend wgpu` end to end, against librosa's own values for one EmoDB
/// clip (`../shared/parity`).
#[test]
fn gpu_extract_command_matches_librosa() {
    let Some(shared) = crate::common::shared("parity/03a01Fa") else {
        return;
    };
    if let Err(e) = ser::base::device::device(BackendKind::Wgpu, 0) {
        eprintln!("skipping the GPU extract test: {e}");
        return;
    }
    let clip = shared.join("../../data/emodb/wav/03a01Fa.wav");
    let out = tempfile::tempdir().unwrap();
    let text = crate::common::stdout(
        crate::common::ser()
            .args(["features", "extract"])
            .arg(&clip)
            .arg("--out")
            .arg(out.path())
            .args(["--backend", "wgpu"]),
    );
    assert!(
        text.contains("1 of 1 files written") && text.contains(", on "),
        "{text}"
    );
    for (name, tol, above) in [
        ("zcr", 1e-4, f64::NEG_INFINITY),
        ("rms", 1e-4, f64::NEG_INFINITY),
        ("mel_db", 0.01, -60.0),
    ] {
        let (shape, ours) = read_npy(&out.path().join("03a01Fa").join(format!("{name}.npy")));
        let (want_shape, want) = read_npy(&shared.join(format!("{name}.npy")));
        assert_eq!(shape, want_shape, "{name}");
        let worst = ours
            .iter()
            .zip(&want)
            .filter(|(_, w)| **w > above)
            .map(|(o, w)| (o - w).abs())
            .fold(0.0, f64::max);
        eprintln!("{name}: max |GPU - librosa| {worst:.3e}");
        assert!(worst <= tol, "{name}: {worst} > {tol}");
    }
    for name in ["signal", "mfcc"] {
        assert!(out
            .path()
            .join("03a01Fa")
            .join(format!("{name}.npy"))
            .is_file());
    }
}
