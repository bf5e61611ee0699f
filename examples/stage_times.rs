//! Time per call of the stages before training, single thread unless said: decoding and loading
//! a clip, resampling, building a resampler, the features of one clip, and generating the
//! default synthetic corpus (all threads). Measurements to read, not checks: the speed claims
//! against the report's own stack come from `ser bench`.
//!
//! `cargo run --release --example stage_times [audio|features|synth]` (default: all three)

use std::path::Path;
use std::time::Instant;

use ser::audio::{decode, fit_length, Loader, Resampler};
use ser::config::{AudioConfig, FeatureConfig};
use ser::features::Extractor;

fn main() {
    let which = std::env::args().nth(1);
    let wants = |s: &str| which.as_deref().is_none_or(|w| w == s);
    if wants("audio") {
        audio();
    }
    if wants("features") {
        features();
    }
    if wants("synth") {
        synth();
    }
}

/// Per-call time in µs of `f`: (median, fastest) over `n` calls after one warm-up call. The
/// fastest is the better guide on a shared, loaded machine.
fn time_us(n: usize, mut f: impl FnMut()) -> (f64, f64) {
    f();
    let mut t: Vec<f64> = (0..n)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    t.sort_by(f64::total_cmp);
    (t[n / 2], t[0])
}

fn tone(n: usize, rate: u32) -> Vec<f32> {
    (0..n)
        .map(|i| 0.3 * (2.0 * std::f32::consts::PI * 220.0 * i as f32 / rate as f32).sin())
        .collect()
}

fn write_wav(path: &Path, rate: u32, x: &[f32]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("create wav");
    for &v in x {
        w.write_sample((v * 30000.0) as i16).expect("write sample");
    }
    w.finalize().expect("finish wav");
}

fn audio() {
    let dir = tempfile::tempdir().expect("temp dir");
    let n = 300;
    let mut loader = Loader::new(&AudioConfig::default());
    for rate in [22_050u32, 16_000, 44_100] {
        let path = dir.path().join(format!("clip-{rate}.wav"));
        let x = tone(2 * rate as usize, rate);
        write_wav(&path, rate, &x);
        let (med, min) = time_us(n, || {
            std::hint::black_box(decode(&path).expect("decode"));
        });
        println!("decode 2-s {rate} Hz WAV: median {med:.0} us, fastest {min:.0} us");
        let (med, min) = time_us(n, || {
            std::hint::black_box(loader.load(&path).expect("load"));
        });
        println!("Loader::load 2-s {rate} Hz WAV: median {med:.0} us, fastest {min:.0} us");
        if rate != 22_050 {
            let (bmed, bmin) = time_us(20, || {
                std::hint::black_box(Resampler::new(rate, 22_050).expect("resampler"));
            });
            let mut r = Resampler::new(rate, 22_050).expect("resampler");
            let (med, min) = time_us(n, || {
                std::hint::black_box(r.process(&x).expect("resample"));
            });
            println!(
                "  resample {rate} -> 22050 Hz: median {med:.0} us, fastest {min:.0} us \
                 (building one: median {:.1} ms, fastest {:.1} ms)",
                bmed / 1e3,
                bmin / 1e3
            );
        }
    }
    // A long file: the loader reads and resamples only what the fixed length keeps.
    let path = dir.path().join("long-16k.wav");
    write_wav(&path, 16_000, &tone(16_000 * 10, 16_000));
    let (med, min) = time_us(50, || {
        std::hint::black_box(loader.load(&path).expect("load"));
    });
    println!("Loader::load 10-s 16 kHz WAV: median {med:.0} us, fastest {min:.0} us");
    let mut r = Resampler::new(16_000, 22_050).expect("resampler");
    let (med, min) = time_us(50, || {
        let d = decode(&path).expect("decode");
        std::hint::black_box(fit_length(
            &r.process(&d.samples).expect("resample"),
            56_000,
        ));
    });
    println!("  same file, decode + resample all + fit: median {med:.0} us, fastest {min:.0} us");
}

fn features() {
    // A voiced-like 56,000-sample clip (the report's length), with signal in every frame.
    let y: Vec<f32> = (0..56_000)
        .map(|i| 0.3 * ((i as f32) * 0.05).sin() * ((i as f32) * 0.0007).cos())
        .collect();
    let mut e = Extractor::new(&FeatureConfig::default(), 22_050).expect("extractor");
    let n = 200;
    let mut sink = 0.0f32;
    let mut time = |label: &str, f: &mut dyn FnMut() -> f32| {
        let (med, min) = time_us(n, || sink += f());
        println!("{label:<36} median {med:>8.1} us, fastest {min:>8.1} us");
    };
    println!("features of one 56,000-sample clip:");
    let ex = e.clone();
    time("  zcr", &mut || ex.zcr(&y)[60]);
    time("  rms", &mut || ex.rms(&y)[60]);
    time("  mel_power", &mut || e.mel_power(&y).data[7]);
    time("  mel_db", &mut || e.mel_db(&y).data[7]);
    time("  mfcc", &mut || e.mfcc(&y).data[7]);
    time("  all (zcr rms energy mel_db mfcc)", &mut || {
        e.all(&y).mfcc.data[3]
    });
    println!("(checksum {sink})");
}

fn synth() {
    let dir = tempfile::tempdir().expect("temp dir");
    let start = Instant::now();
    let summary = ser::corpus::synth::generate(&dir.path().join("synth"), 12, 0).expect("synth");
    println!(
        "default synthetic corpus: {} files, {:.0} s of audio, generated in {:.2} s on {} threads",
        summary.files,
        summary.seconds,
        start.elapsed().as_secs_f64(),
        rayon::current_num_threads()
    );
}
