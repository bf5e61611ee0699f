//! A finished run used again: `ser train` → `ser eval` (own test split, another corpus) →
//! `ser predict` (any rate, length, channels); and a small 1D model on real EmoDB clips.

use std::path::Path;

use serde_json::Value;

use crate::common::{failure, ser, shared, stdout, write_sine_wav};

fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// A tiny 1D config on a 2-actor synthetic corpus in `dir`.
fn tiny_config(dir: &Path, corpus: &Path) -> std::path::PathBuf {
    let cfg = dir.join("tiny.toml");
    std::fs::write(
        &cfg,
        format!(
            "[data]\ncorpus = \"synth\"\npath = \"{}\"\nsynth_actors = 2\nsynth_seed = 5\n\
             [features]\nkind = \"zcr+rms\"\n[split]\nvalid = 0.1\n[model]\nkind = \"cnn1d\"\nfilters = [8, 8]\n\
             dense = 16\n[train]\nepochs = 3\nseed = 1\n",
            corpus.display()
        ),
    )
    .unwrap();
    cfg
}

/// `ser train CFG --out RUN --cache CACHE`, which must succeed.
fn train(cfg: &Path, run: &Path, cache: &Path) {
    stdout(
        ser()
            .args(["-q", "train"])
            .arg(cfg)
            .arg("--out")
            .arg(run)
            .arg("--cache")
            .arg(cache),
    );
}

#[test]
fn eval_and_predict_use_the_saved_model() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny_config(dir.path(), &dir.path().join("synth"));
    let run = dir.path().join("run");
    let cache = dir.path().join("cache");
    train(&cfg, &run, &cache);
    let trained = json(&run.join("metrics.json"));
    for figure in ["curves.png", "confusion.png"] {
        assert!(run.join(figure).exists(), "the run has no {figure}");
    }

    // Re-evaluating on the run's own test split reproduces the run's metrics exactly.
    let out = stdout(
        ser()
            .args(["-q", "eval"])
            .arg(&run)
            .arg("--cache")
            .arg(&cache),
    );
    assert!(out.contains("eval directory"), "{out}");
    let again = json(&run.join("eval/test/metrics.json"));
    for key in ["accuracy", "f1_macro", "f1_weighted", "confusion", "n"] {
        assert_eq!(trained[key], again[key], "{key} differs on re-evaluation");
    }
    let preds = std::fs::read_to_string(run.join("eval/test/predictions.csv")).unwrap();
    assert_eq!(
        preds.lines().count() as u64,
        trained["n"].as_u64().unwrap() + 1,
        "one prediction line per test clip plus a header"
    );
    assert!(
        preds.starts_with("path,true,predicted,speaker,ANG,DIS,FEA,HAP,NEU,SAD"),
        "{preds}"
    );
    // The run wrote the same predictions when it was trained: one format, one model.
    let own = std::fs::read_to_string(run.join("predictions.csv")).unwrap();
    assert_eq!(own, preds);

    // Another corpus with the same classes: every clip is evaluated.
    let other = dir.path().join("other");
    stdout(
        ser()
            .args(["data", "synth", "--actors", "1", "--seed", "9", "--out"])
            .arg(&other),
    );
    let n_other = std::fs::read_dir(&other)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "wav")
        })
        .count();
    let out = stdout(
        ser()
            .args(["-q", "eval"])
            .arg(&run)
            .arg("--corpus")
            .arg(format!("crema-d:{}", other.display()))
            .arg("--cache")
            .arg(&cache),
    );
    let dir_line = out
        .lines()
        .find(|l| l.starts_with("eval directory"))
        .unwrap();
    let eval_dir = Path::new(dir_line.trim_start_matches("eval directory: "));
    assert!(eval_dir.starts_with(run.join("eval")), "{dir_line}");
    let m = json(&eval_dir.join("metrics.json"));
    assert_eq!(m["n"].as_u64().unwrap() as usize, n_other);
    assert_eq!(m["evaluated_on"]["corpus"], "crema-d");

    // Predict: any rate, length and channel count; probabilities sum to one.
    let a = dir.path().join("a16k.wav");
    let b = dir.path().join("b44k-long.wav");
    write_sine_wav(&a, 16_000, 1.2);
    write_sine_wav(&b, 44_100, 4.0);
    let out = stdout(
        ser()
            .args(["-q", "predict"])
            .arg(&run)
            .arg(&a)
            .arg(&b)
            .arg("--json"),
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    let classes: Vec<&str> = v["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(classes, ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"]);
    let preds = v["predictions"].as_array().unwrap();
    assert_eq!(preds.len(), 2);
    for p in preds {
        let probs: Vec<f64> = p["probabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(probs.len(), 6);
        assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-4, "{probs:?}");
        let best = probs
            .iter()
            .enumerate()
            .max_by(|x, y| x.1.total_cmp(y.1))
            .unwrap()
            .0;
        assert_eq!(p["emotion"], classes[best]);
    }
    let table = stdout(ser().args(["-q", "predict"]).arg(&run).arg(&a));
    assert!(table.starts_with("file"), "{table}");
    assert!(table.contains("a16k.wav"), "{table}");

    // Calibrated: the temperature fitted on validation (in metrics.json) rescales the
    // probabilities exactly as eval::calibration::scale does, never the class; --min-confidence
    // abstains below it (1.0: every clip, since no probability reaches it here).
    let t = json(&run.join("metrics.json"))["temperature"]
        .as_f64()
        .unwrap();
    assert!(t > 0.0);
    let raw: Value = serde_json::from_str(&stdout(
        ser()
            .args(["-q", "predict"])
            .arg(&run)
            .arg(&a)
            .arg("--json"),
    ))
    .unwrap();
    let cal: Value = serde_json::from_str(&stdout(
        ser()
            .args(["-q", "predict"])
            .arg(&run)
            .arg(&a)
            .args(["--json", "--calibrated"]),
    ))
    .unwrap();
    let probs = |v: &Value| -> Vec<f32> {
        v["predictions"][0]["probabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect()
    };
    let want = ser::eval::calibration::scale(&probs(&raw), t);
    for (w, g) in want.iter().zip(probs(&cal)) {
        assert!((w - g).abs() < 1e-6, "{want:?} vs {:?}", probs(&cal));
    }
    assert_eq!(
        cal["predictions"][0]["emotion"],
        raw["predictions"][0]["emotion"]
    );
    let top = probs(&raw).into_iter().fold(0.0f32, f32::max);
    assert!(top < 1.0);
    let abstained: Value = serde_json::from_str(&stdout(
        ser()
            .args(["-q", "predict"])
            .arg(&run)
            .arg(&a)
            .args(["--json", "--min-confidence", "1"]),
    ))
    .unwrap();
    assert!(
        abstained["predictions"][0]["emotion"].is_null(),
        "{abstained}"
    );
    let (code, err) = failure(
        ser()
            .args(["-q", "predict"])
            .arg(&run)
            .arg(&a)
            .args(["--min-confidence", "2"]),
    );
    assert_eq!(code, 2, "{err}");
    let m = json(&run.join("metrics.json"));
    assert!(
        m["calibration"]["ece_after_temperature"].as_f64().is_some(),
        "{m}"
    );

    // Bad input: a file that is not audio, a directory that is not a run, a bad corpus spec.
    let junk = dir.path().join("junk.wav");
    std::fs::write(&junk, b"not audio at all").unwrap();
    let (code, err) = failure(ser().args(["-q", "predict"]).arg(&run).arg(&a).arg(&junk));
    assert_ne!(code, 0);
    assert!(err.contains("junk.wav"), "{err}");
    let (_, err) = failure(ser().args(["-q", "eval"]).arg(dir.path()));
    assert!(err.contains("not a run directory"), "{err}");
    let (_, err) = failure(
        ser()
            .args(["-q", "eval"])
            .arg(&run)
            .args(["--corpus", "timit:/nowhere"]),
    );
    assert!(err.contains("timit"), "{err}");
}

/// `train.standardize = "per-feature"` (with the other issue-21 keys): the run keeps the
/// training part's statistics (one per feature row: ZCR, RMS) and `ser eval` / `ser predict`
/// apply them, so re-evaluation reproduces the run's own predictions exactly.
#[test]
fn eval_and_predict_apply_the_runs_standardization() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny_config(dir.path(), &dir.path().join("synth"));
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text += "standardize = \"per-feature\"\nmonitor = \"val_macro_f1\"\nkeep_best = true\n\
             schedule = \"one-cycle\"\nweight_decay = 0.01\n";
    std::fs::write(&cfg, text).unwrap();
    let run = dir.path().join("run");
    let cache = dir.path().join("cache");
    train(&cfg, &run, &cache);
    let s = json(&run.join("standardize.json"));
    assert_eq!(s["mean"].as_array().unwrap().len(), 2, "{s}");
    assert_eq!(
        json(&run.join("training.json"))["standardize"],
        "per-feature"
    );
    let history = std::fs::read_to_string(run.join("history.csv")).unwrap();
    assert!(
        history.starts_with("epoch,loss,accuracy,val_loss,val_accuracy,val_macro_f1,lr,seconds")
    );

    stdout(
        ser()
            .args(["-q", "eval"])
            .arg(&run)
            .arg("--cache")
            .arg(&cache),
    );
    let own = std::fs::read_to_string(run.join("predictions.csv")).unwrap();
    let again = std::fs::read_to_string(run.join("eval/test/predictions.csv")).unwrap();
    assert_eq!(own, again);

    // One test clip through `ser predict`: the probabilities of the run's own evaluation.
    let row = own.lines().nth(1).unwrap();
    let cells: Vec<&str> = row.split(',').collect();
    let clip = dir.path().join("synth").join(cells[0]);
    let v: Value = serde_json::from_str(&stdout(
        ser()
            .args(["-q", "predict"])
            .arg(&run)
            .arg(&clip)
            .arg("--json"),
    ))
    .unwrap();
    let got: Vec<f64> = v["predictions"][0]["probabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    let want: Vec<f64> = cells[4..].iter().map(|c| c.parse().unwrap()).collect();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 1e-6, "{got:?} vs {want:?}");
    }
}

/// A CRNN run goes through the same commands: `ser model summary` lists its layers, `ser train`
/// saves it, `ser eval` reproduces the run's metrics from the saved model, `ser predict` reads it.
#[test]
fn a_crnn_run_is_evaluated_and_predicts_from_its_saved_model() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("crnn.toml");
    std::fs::write(
        &cfg,
        format!(
            "[data]\ncorpus = \"synth\"\npath = \"{}\"\nsynth_actors = 2\nsynth_seed = 5\n\
             [features]\nkind = \"mel-db\"\nn_mels = 32\n[split]\nvalid = 0.1\n\
             [model]\nkind = \"crnn\"\nfilters = [4, 4]\nkernel = 3\ndense = 8\n\
             rnn = \"lstm\"\nrnn_units = 6\n[train]\nepochs = 2\nseed = 1\nlr = 1e-3\n",
            dir.path().join("synth").display()
        ),
    )
    .unwrap();
    let summary = stdout(ser().args(["model", "summary"]).arg(&cfg));
    assert!(summary.contains("Model: \"crnn\""), "{summary}");
    assert!(summary.contains("lstm (LSTM)"), "{summary}");
    assert!(
        summary.contains("attention (AttentionPooling)"),
        "{summary}"
    );
    let run = dir.path().join("run");
    let cache = dir.path().join("cache");
    train(&cfg, &run, &cache);
    let trained = json(&run.join("metrics.json"));
    let out = stdout(
        ser()
            .args(["-q", "eval"])
            .arg(&run)
            .arg("--cache")
            .arg(&cache),
    );
    assert!(out.contains("eval directory"), "{out}");
    let again = json(&run.join("eval/test/metrics.json"));
    for key in ["accuracy", "f1_macro", "confusion", "n"] {
        assert_eq!(trained[key], again[key], "{key} differs on re-evaluation");
    }
    let wav = dir.path().join("a16k.wav");
    write_sine_wav(&wav, 16_000, 1.2);
    let v: Value = serde_json::from_str(&stdout(
        ser()
            .args(["-q", "predict"])
            .arg(&run)
            .arg(&wav)
            .arg("--json"),
    ))
    .unwrap();
    let probs = v["predictions"][0]["probabilities"].as_array().unwrap();
    assert_eq!(probs.len(), 6);
    let sum: f64 = probs.iter().map(|x| x.as_f64().unwrap()).sum();
    assert!((sum - 1.0).abs() < 1e-4, "{v}");
}

/// A small 1D model on the real EmoDB clips (six classes, the report's split) learns: test
/// accuracy clearly above chance (1/6). Needs `../shared/data/emodb`.
#[test]
fn small_1d_model_learns_emodb_above_chance() {
    let Some(wav) = shared("data/emodb/wav") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("emodb.toml");
    std::fs::write(
        &cfg,
        format!(
            "[data]\ncorpus = \"emodb\"\npath = \"{}\"\n[features]\nkind = \"zcr+rms\"\n\
             [split]\nseed = 0\n[model]\nkind = \"cnn1d\"\nfilters = [64, 64, 32]\n\
             [train]\nepochs = 25\nseed = 0\nlr = 0.001\n",
            wav.display()
        ),
    )
    .unwrap();
    let run = dir.path().join("run");
    train(&cfg, &run, &dir.path().join("cache"));
    let m = json(&run.join("metrics.json"));
    let acc = m["accuracy"].as_f64().unwrap();
    let n = m["n"].as_u64().unwrap();
    assert_eq!(
        n, 87,
        "the report's split of EmoDB's 289 six-class clips tests on 87"
    );
    eprintln!("EmoDB, small 1D model, 25 epochs: test accuracy {acc:.3} on {n} clips");
    // Chance is 1/6 ≈ 0.167 (always ANG would give 25/87 ≈ 0.29); ask for well above both.
    assert!(
        acc > 0.35,
        "accuracy {acc} on {n} EmoDB test clips is not clearly above chance"
    );
}
