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
