//! End-to-end tests of the `ser` binary: help text, feature extraction files, the cache, errors.

use std::path::Path;

use crate::common::{failure, ser, stdout, write_sine_wav};

#[test]
fn help_lists_every_command_and_each_has_an_example() {
    let top = stdout(ser().arg("--help"));
    for cmd in [
        "data", "features", "bench", "sweep", "run", "report", "train", "eval", "predict", "plot",
    ] {
        assert!(
            top.contains(cmd),
            "`ser --help` does not list {cmd}:\n{top}"
        );
    }
    for sub in [
        &["data", "check"][..],
        &["data", "synth"],
        &["data", "split"],
        &["data", "human-baseline"],
        &["features", "extract"],
        &["features", "cache"],
        &["bench", "features"],
        &["bench", "train"],
        &["sweep"],
        &["run"],
        &["report"],
        &["train"],
        &["eval"],
        &["predict"],
        &["plot", "audio"],
        &["model", "summary"],
        &["data", "fetch"],
    ] {
        let help = stdout(ser().args(sub).arg("--help"));
        assert!(
            help.contains("Example"),
            "`ser {} --help` has no example:\n{help}",
            sub.join(" ")
        );
    }
}

/// `ser model summary` takes every file in `experiments/`: a grid's distinct models, each under
/// its grid point; the baseline's two are the report's 1D and 2D networks.
#[test]
fn model_summary_of_every_experiment_file() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 7, "{files:?}");
    for f in &files {
        let out = stdout(ser().args(["model", "summary"]).arg(f));
        assert!(out.contains("Total params"), "{}: {out}", f.display());
    }
    let out = stdout(
        ser()
            .args(["model", "summary"])
            .arg(dir.join("baseline.toml")),
    );
    assert!(out.contains("Total params: 2,430,342"), "{out}");
    assert!(out.contains("Total params: 12,893,574"), "{out}");
    assert!(out.contains("model.kind=cnn2d"), "{out}");
    assert!(out.matches("Total params").count() == 2, "{out}");
}

fn read_npy_f64(path: &Path) -> (Vec<u64>, Vec<f64>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape = npy.shape().to_vec();
    let data: Vec<f64> = match npy.dtype() {
        npyz::DType::Plain(t) if t.size_field() == 8 => npy.into_vec::<f64>().unwrap(),
        _ => npy
            .into_vec::<f32>()
            .unwrap()
            .into_iter()
            .map(f64::from)
            .collect(),
    };
    (shape, data)
}

#[test]
fn extract_writes_librosa_layout_and_matches_parity_files() {
    let Some(shared) = crate::common::shared("") else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let clip = shared.join("data/emodb/wav/03a01Fa.wav");
    stdout(
        ser()
            .args(["features", "extract"])
            .arg(&clip)
            .arg("--out")
            .arg(out.path()),
    );
    for (name, tol) in [
        ("signal", 1e-7),
        ("zcr", 1e-6),
        ("rms", 1e-6),
        ("mel_db", 0.01),
        ("mfcc", 0.01),
    ] {
        let (shape, ours) = read_npy_f64(&out.path().join("03a01Fa").join(format!("{name}.npy")));
        let (ref_shape, reference) =
            read_npy_f64(&shared.join("parity/03a01Fa").join(format!("{name}.npy")));
        assert_eq!(shape, ref_shape, "{name} shape");
        let worst = ours
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(worst <= tol, "{name}: worst difference {worst} > {tol}");
    }
}

#[test]
fn extract_reports_bad_files_by_name_and_skip_bad_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.wav");
    write_sine_wav(&good, 16_000, 0.5);
    let bad = dir.path().join("notes.wav");
    std::fs::write(&bad, "this is not audio").unwrap();
    let out = dir.path().join("out");
    let (code, err) = failure(
        ser()
            .args(["features", "extract"])
            .arg(&good)
            .arg(&bad)
            .arg("--out")
            .arg(&out),
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("notes.wav"),
        "error does not name the file: {err}"
    );
    assert!(
        err.contains("--skip-bad"),
        "error does not say how to go on: {err}"
    );
    let text = stdout(
        ser()
            .args(["features", "extract", "--skip-bad"])
            .arg(&good)
            .arg(&bad)
            .arg("--out")
            .arg(&out),
    );
    assert!(text.contains("1 of 2 files written"), "{text}");
    assert!(out.join("good/mel_db.npy").is_file());
    assert!(!out.join("notes").join("mel_db.npy").exists());
}

#[test]
fn malformed_config_names_the_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[features]\nhop_lenght = 256\n").unwrap();
    let wav = dir.path().join("a.wav");
    write_sine_wav(&wav, 22_050, 0.2);
    let (code, err) = failure(
        ser()
            .args(["features", "extract"])
            .arg(&wav)
            .arg("--out")
            .arg(dir.path())
            .arg("--config")
            .arg(&cfg),
    );
    assert_eq!(code, 2);
    assert!(err.contains("bad.toml"), "{err}");
    assert!(err.contains("hop_lenght"), "{err}");
}

#[test]
fn synth_corpus_checks_and_caches_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("synth");
    stdout(
        ser()
            .args(["data", "synth", "--actors", "2", "--seed", "3", "--out"])
            .arg(&data),
    );
    let check = stdout(ser().args(["data", "check"]).arg(&data));
    for emotion in ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"] {
        assert!(
            check.contains(emotion),
            "check report lacks {emotion}:\n{check}"
        );
    }
    let cfg = dir.path().join("exp.toml");
    std::fs::write(
        &cfg,
        format!(
            "[data]\ncorpus = \"crema-d\"\npath = \"{}\"\n[features]\nkind = \"zcr+rms\"\n",
            data.display()
        ),
    )
    .unwrap();
    let cache = dir.path().join("cache");
    let first = stdout(
        ser()
            .args(["features", "cache"])
            .arg(&cfg)
            .arg("--cache")
            .arg(&cache),
    );
    assert!(first.contains("extracted into"), "{first}");
    assert!(first.contains("[220]"), "{first}");
    let second = stdout(
        ser()
            .args(["features", "cache"])
            .arg(&cfg)
            .arg("--cache")
            .arg(&cache),
    );
    assert!(
        second.contains("read from cache"),
        "second run extracted again: {second}"
    );
    // Touching a file changes the key: the next run extracts again.
    let some_wav = std::fs::read_dir(&data)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "wav"))
        .unwrap();
    let bytes = std::fs::read(&some_wav).unwrap();
    std::fs::write(&some_wav, &bytes[..bytes.len() - 2]).unwrap();
    let third = stdout(
        ser()
            .args(["features", "cache", "--skip-bad"])
            .arg(&cfg)
            .arg("--cache")
            .arg(&cache),
    );
    assert!(
        third.contains("extracted into"),
        "changed corpus was read from a stale cache: {third}"
    );
}

#[test]
fn bench_train_times_ours_and_says_why_the_peer_did_not_run() {
    // Random data, 4 items, one step: the plumbing, not the speed.
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let out = stdout(
        ser()
            .args(["-q", "bench", "train", "--model", "1d", "--batch", "4"])
            .args(["--warmup", "0", "--steps", "1", "--no-peer", "--json"])
            .arg(&json),
    );
    assert!(
        out.contains("| 1d (512,512,128) | ser flex (own kernels) |"),
        "{out}"
    );
    assert!(out.contains("peer not run (--no-peer)"), "{out}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let r = &v[0];
    assert_eq!(r["params"], 2_430_342);
    assert_eq!(r["data"], "fixed random data (seed 0)");
    assert!(r["ours"][0]["median_step_s"].as_f64().unwrap() > 0.0);
    assert!(r["peer"].is_null());

    // Rounds: each is a whole warm-up + timed run, kept per round in the JSON.
    let out = stdout(
        ser()
            .args(["-q", "bench", "train", "--model", "1d", "--batch", "2"])
            .args([
                "--warmup",
                "0",
                "--steps",
                "1",
                "--rounds",
                "2",
                "--no-peer",
            ])
            .arg("--json")
            .arg(&json),
    );
    assert!(out.contains("2 rounds of ours then Keras"), "{out}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v[0]["rounds"], 2);
    assert_eq!(v[0]["ours"][0]["rounds"].as_array().unwrap().len(), 2);
    assert_eq!(v[0]["ours"][0]["steps_s"].as_array().unwrap().len(), 2);

    // A peer folder without its environment is skipped with a message naming what is missing.
    let out = stdout(
        ser()
            .args(["-q", "bench", "train", "--model", "1d", "--batch", "2"])
            .args(["--warmup", "0", "--steps", "1", "--peer"])
            .arg(dir.path()),
    );
    assert!(
        out.contains("peer not run: its Python environment is missing"),
        "{out}"
    );
}

/// Without `--features wgpu` the GPU backend of `features extract` says how to get it.
#[cfg(not(feature = "wgpu"))]
#[test]
fn extract_on_wgpu_without_the_feature_says_how_to_rebuild() {
    let out = tempfile::tempdir().unwrap();
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/speech.wav");
    let o = ser()
        .args(["features", "extract"])
        .arg(&fixture)
        .arg("--out")
        .arg(out.path())
        .args(["--backend", "wgpu"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--features wgpu"), "{err}");

    // The benchmarks too.
    let fixtures = fixture.parent().unwrap();
    for args in [
        &["bench", "features", "--passes", "1", "--corpus"][..],
        &["bench", "train", "--no-peer", "--steps", "1", "--corpus"][..],
    ] {
        let o = ser()
            .args(args)
            .arg(fixtures)
            .args(["--backend", "wgpu"])
            .output()
            .unwrap();
        assert!(!o.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("--features wgpu"), "{args:?}: {err}");
    }
}
