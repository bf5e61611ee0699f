//! Helpers shared by the test modules.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// `../shared/<rel>` beside the checkout when it exists; otherwise `None`, after saying that the
/// calling test is skipped and why. Tests that need real data start with
/// `let Some(dir) = shared("data") else { return };`.
pub fn shared(rel: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared")
        .join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!(
            "skipped: {} is absent (../shared beside the checkout holds the real EmoDB clips, \
             CREMA-D metadata and librosa parity files)",
            p.display()
        );
        None
    }
}

/// The `ser` binary, without the caller's log or cache settings.
pub fn ser() -> Command {
    let mut c = Command::cargo_bin("ser").expect("ser binary");
    c.env_remove("RUST_LOG").env_remove("SER_CACHE");
    c
}

/// Runs `c`, asserts success, returns its stdout.
pub fn stdout(c: &mut Command) -> String {
    let out = c.output().expect("run ser");
    assert!(
        out.status.success(),
        "ser failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `c`, asserts failure, returns its exit code and stderr.
pub fn failure(c: &mut Command) -> (i32, String) {
    let out = c.output().expect("run ser");
    assert!(
        !out.status.success(),
        "expected failure, got success: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A 220 Hz mono 16-bit sine of `seconds` at `rate`.
pub fn write_sine_wav(path: &Path, rate: u32, seconds: f32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let n = (rate as f32 * seconds) as usize;
    for i in 0..n {
        let t = i as f32 / rate as f32;
        w.write_sample((0.3 * (2.0 * std::f32::consts::PI * 220.0 * t).sin() * 32767.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
}

/// Two run directories hold the same results, timings aside: metrics, history (less its
/// seconds column), confusion matrix and report.
pub fn same_run(x: &Path, y: &Path) {
    let metrics = |p: &Path| {
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(p.join("metrics.json")).unwrap())
                .unwrap();
        v.as_object_mut().unwrap().remove("train_seconds");
        v
    };
    assert_eq!(metrics(x), metrics(y), "{}", x.display());
    let history = |p: &Path| -> Vec<String> {
        std::fs::read_to_string(p.join("history.csv"))
            .unwrap()
            .lines()
            .map(|l| l.rsplit_once(',').unwrap().0.to_string())
            .collect()
    };
    assert_eq!(history(x), history(y), "{}", x.display());
    for f in ["confusion.csv", "report.txt", "predictions.csv"] {
        assert_eq!(
            std::fs::read(x.join(f)).unwrap(),
            std::fs::read(y.join(f)).unwrap(),
            "{f} of {}",
            x.display()
        );
    }
}
