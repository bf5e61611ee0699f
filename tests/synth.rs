//! The synthetic default corpus: CREMA-D layout, clean signals, byte-for-byte determinism,
//! `ensure`'s regenerate-only-when-needed behaviour, and that its emotions are learnable from
//! frame-wise ZCR + RMS, but not trivially.

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use ser::corpus::synth::{self, SynthSpec, EMOTIONS, MARKER_FILE, SAMPLE_RATE, SENTENCES};

/// `(file name, samples)` for every WAV in `dir`, sorted by name.
fn read_corpus(dir: &Path) -> Vec<(String, Vec<i16>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".wav") {
            continue;
        }
        let mut reader = hound::WavReader::open(&path).unwrap();
        let spec = reader.spec();
        assert_eq!(
            (spec.channels, spec.sample_rate, spec.bits_per_sample),
            (1, SAMPLE_RATE, 16),
            "{name}"
        );
        assert_eq!(spec.sample_format, hound::SampleFormat::Int, "{name}");
        let samples = reader.samples::<i16>().map(|s| s.unwrap()).collect();
        out.push((name, samples));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The parts of a CREMA-D name `AAAA_SSS_EEE_LL.wav`, or `None` if it is not one.
fn parse_crema_name(name: &str) -> Option<(u32, &str, &str, &str)> {
    let stem = name.strip_suffix(".wav")?;
    let parts: Vec<&str> = stem.split('_').collect();
    let [actor, sentence, emotion, level] = parts[..] else {
        return None;
    };
    let actor_ok = actor.len() == 4 && actor.bytes().all(|b| b.is_ascii_digit());
    let ok = actor_ok
        && SENTENCES.contains(&sentence)
        && EMOTIONS.contains(&emotion)
        && ["LO", "MD", "HI", "XX"].contains(&level);
    ok.then(|| (actor.parse().ok(), sentence, emotion, level))
        .and_then(|(a, s, e, l)| Some((a?, s, e, l)))
}

fn digest(dir: &Path) -> String {
    let mut h = Sha256::new();
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        h.update(name.as_bytes());
        h.update(std::fs::read(dir.join(&name)).unwrap());
    }
    format!("{:x}", h.finalize())
}

#[test]
fn layout_names_and_signals_are_crema_d_like() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("synth");
    let summary = synth::generate(&dir, 2, 0).unwrap();
    assert_eq!(summary.files, 144);
    assert_eq!(summary.dir, dir);

    let marker: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(MARKER_FILE)).unwrap()).unwrap();
    assert_eq!(marker["files"], 144);
    assert_eq!(marker["actors"], 2);
    assert_eq!(marker["seed"], 0);
    // Nothing but the corpus and its marker: no temporary siblings left behind either.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 145);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);

    let corpus = read_corpus(&dir);
    assert_eq!(corpus.len(), 144);
    let mut per_emotion: BTreeMap<String, usize> = BTreeMap::new();
    let mut seconds = 0.0;
    let (mut shortest, mut longest) = (f64::MAX, 0.0f64);
    for (name, x) in &corpus {
        let (actor, _, emotion, level) =
            parse_crema_name(name).unwrap_or_else(|| panic!("{name} is not a CREMA-D name"));
        assert!((1001..=1002).contains(&actor), "{name}");
        assert_eq!(level, "XX", "{name}");
        *per_emotion.entry(emotion.to_string()).or_default() += 1;

        let secs = x.len() as f64 / SAMPLE_RATE as f64;
        seconds += secs;
        shortest = shortest.min(secs);
        longest = longest.max(secs);
        assert!((1.2..=4.5).contains(&secs), "{name}: {secs:.2} s");
        // Peaks stay below full scale (no clipping); samples are integers, so a NaN in the
        // renderer would show up as silence, which the loudness checks below rule out.
        let peak = x.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!(peak < 32000, "{name}: peak {peak}");
        let rms = (x.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
        let db = 20.0 * (rms / 32768.0).log10();
        assert!((-50.0..-8.0).contains(&db), "{name}: {db:.1} dBFS");
        // The first and last 100 ms are room noise, quieter than speech, as in real recordings.
        let edge = (SAMPLE_RATE / 10) as usize;
        for part in [&x[..edge], &x[x.len() - edge..]] {
            let r = (part.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / edge as f64).sqrt();
            let edge_db = 20.0 * (r / 32768.0).log10();
            assert!(
                edge_db < -45.0 && edge_db < db - 15.0,
                "{name}: leading/trailing silence at {edge_db:.1} dBFS, speech at {db:.1}"
            );
        }
    }
    assert_eq!(per_emotion.len(), 6);
    assert!(per_emotion.values().all(|&n| n == 24), "{per_emotion:?}");
    assert!((summary.seconds - seconds).abs() < 1e-6);
    // CREMA-D's clips average 2.5 s.
    assert!((2.0..2.8).contains(&(seconds / 144.0)), "mean {seconds}");
    eprintln!(
        "durations: {shortest:.2}..{longest:.2} s, mean {:.2} s",
        seconds / 144.0
    );
}

#[test]
fn same_parameters_give_identical_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
    );
    synth::generate(&a, 1, 42).unwrap();
    synth::generate(&b, 1, 42).unwrap();
    synth::generate(&c, 1, 43).unwrap();
    assert_eq!(digest(&a), digest(&b));
    assert_ne!(digest(&a), digest(&c));
    // Regenerating over an existing corpus replaces it with the same bytes.
    synth::generate(&a, 1, 42).unwrap();
    assert_eq!(digest(&a), digest(&b));
}

#[test]
fn ensure_generates_only_when_needed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nested/synth");
    let small = SynthSpec {
        sentences: 2,
        ..SynthSpec::new(1, 5)
    };
    let sentinel = dir.join("sentinel");

    let first = synth::ensure_spec(&dir, &small).unwrap();
    assert_eq!(first.map(|s| s.files), Some(12));
    std::fs::write(&sentinel, "kept").unwrap();

    // Complete and matching: left alone.
    assert_eq!(synth::ensure_spec(&dir, &small).unwrap(), None);
    assert!(sentinel.exists());

    // A missing clip makes it incomplete: regenerated (the whole directory is replaced).
    std::fs::remove_file(dir.join("1001_DFA_HAP_XX.wav")).unwrap();
    assert!(synth::ensure_spec(&dir, &small).unwrap().is_some());
    assert!(dir.join("1001_DFA_HAP_XX.wav").exists());
    assert!(!sentinel.exists());

    // Other parameters: regenerated with the new marker.
    std::fs::write(&sentinel, "kept").unwrap();
    let other = SynthSpec { seed: 6, ..small };
    assert!(synth::ensure_spec(&dir, &other).unwrap().is_some());
    assert!(!sentinel.exists());
    let marker = std::fs::read_to_string(dir.join(MARKER_FILE)).unwrap();
    assert!(marker.contains("\"seed\": 6"), "{marker}");

    // A missing marker is not a corpus this module made: refused, not overwritten.
    std::fs::remove_file(dir.join(MARKER_FILE)).unwrap();
    let err = synth::ensure_spec(&dir, &other).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}: exists and is not a synthetic corpus (no synth.json); refusing to replace it: \
             choose an empty or new directory for the synthetic corpus",
            dir.display()
        )
    );
    assert!(dir.join("1001_DFA_ANG_XX.wav").exists());

    // The plain API on an empty directory; bad counts are usage errors.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    synth::ensure(&empty, 1, 0).unwrap();
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 73);
    let err = synth::ensure(&tmp.path().join("x"), 0, 0).unwrap_err();
    assert_eq!(err.exit_code(), 2);
}

/// Per-clip statistics of frame-wise ZCR and RMS (frame 2048, hop 512), as a CNN's input sees.
fn clip_stats(x: &[i16]) -> Vec<f64> {
    const FRAME: usize = 2048;
    const HOP: usize = 512;
    let x: Vec<f64> = x.iter().map(|&s| s as f64 / 32768.0).collect();
    let (mut rms_db, mut zcr) = (Vec::new(), Vec::new());
    let mut start = 0;
    while start + FRAME <= x.len() {
        let f = &x[start..start + FRAME];
        let r = (f.iter().map(|v| v * v).sum::<f64>() / FRAME as f64).sqrt();
        rms_db.push(20.0 * (r + 1e-6).log10());
        let crossings = f
            .windows(2)
            .filter(|w| (w[0] >= 0.0) != (w[1] >= 0.0))
            .count();
        zcr.push(crossings as f64 / FRAME as f64);
        start += HOP;
    }
    let n = rms_db.len() as f64;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let std = |v: &[f64]| {
        let m = mean(v);
        (v.iter().map(|a| (a - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
    };
    let max = rms_db.iter().cloned().fold(f64::MIN, f64::max);
    let active: Vec<usize> = (0..rms_db.len())
        .filter(|&i| rms_db[i] > max - 20.0)
        .collect();
    let zcr_active: Vec<f64> = active.iter().map(|&i| zcr[i]).collect();
    let rms_active: Vec<f64> = active.iter().map(|&i| rms_db[i]).collect();
    vec![
        mean(&rms_db),
        std(&rms_db),
        max,
        mean(&rms_active),
        mean(&zcr),
        std(&zcr),
        mean(&zcr_active),
        std(&zcr_active),
        active.len() as f64 / n,
        n,
    ]
}

#[test]
fn emotions_are_learnable_from_zcr_and_rms_but_not_trivially() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("synth");
    let actors = 6;
    synth::generate(&dir, actors, 0).unwrap();
    let items: Vec<(u32, usize, Vec<f64>)> = read_corpus(&dir)
        .into_iter()
        .map(|(name, x)| {
            let (actor, _, emotion, _) = parse_crema_name(&name).unwrap();
            let label = EMOTIONS.iter().position(|e| *e == emotion).unwrap();
            (actor, label, clip_stats(&x))
        })
        .collect();

    // Leave speakers out: three folds of two actors (one of each voice type), nearest centroid
    // on statistics standardized with the training part's mean and deviation.
    let mut confusion = [[0usize; 6]; 6];
    for fold in 0..3u32 {
        let test_actors = [1001 + 2 * fold, 1002 + 2 * fold];
        let (test, train): (Vec<_>, Vec<_>) =
            items.iter().partition(|(a, _, _)| test_actors.contains(a));
        let dims = train[0].2.len();
        let mut mu = vec![0.0; dims];
        let mut sd = vec![0.0; dims];
        for (_, _, f) in &train {
            for d in 0..dims {
                mu[d] += f[d] / train.len() as f64;
            }
        }
        for (_, _, f) in &train {
            for d in 0..dims {
                sd[d] += (f[d] - mu[d]).powi(2) / train.len() as f64;
            }
        }
        let z = |f: &[f64]| -> Vec<f64> {
            (0..dims)
                .map(|d| (f[d] - mu[d]) / sd[d].sqrt().max(1e-9))
                .collect()
        };
        let mut centroids = vec![vec![0.0; dims]; 6];
        let mut counts = [0usize; 6];
        for (_, label, f) in &train {
            for (c, v) in centroids[*label].iter_mut().zip(z(f)) {
                *c += v;
            }
            counts[*label] += 1;
        }
        for (c, n) in centroids.iter_mut().zip(counts) {
            c.iter_mut().for_each(|v| *v /= n as f64);
        }
        for (_, label, f) in &test {
            let zf = z(f);
            let dist = |c: &Vec<f64>| c.iter().zip(&zf).map(|(a, b)| (a - b).powi(2)).sum::<f64>();
            let guess = (0..6)
                .min_by(|&a, &b| dist(&centroids[a]).total_cmp(&dist(&centroids[b])))
                .unwrap();
            confusion[*label][guess] += 1;
        }
    }
    let total: usize = confusion.iter().flatten().sum();
    let correct: usize = (0..6).map(|i| confusion[i][i]).sum();
    let accuracy = correct as f64 / total as f64;
    eprintln!("nearest centroid, leave-2-speakers-out, {total} clips: accuracy {accuracy:.3}");
    eprintln!("true \\ guess  {}", EMOTIONS.join("  "));
    for (i, row) in confusion.iter().enumerate() {
        let cells: Vec<String> = row.iter().map(|n| format!("{n:4}")).collect();
        eprintln!("{:>12}  {}", EMOTIONS[i], cells.join(" "));
    }
    assert_eq!(total, actors * 72);
    assert!(accuracy > 0.30, "too hard: accuracy {accuracy:.3}");
    assert!(accuracy < 0.95, "too easy: accuracy {accuracy:.3}");
}
