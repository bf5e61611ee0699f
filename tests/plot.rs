//! Every figure type renders, without system fonts, into a valid PNG of the expected size (and
//! an SVG with text in it).

use std::path::Path;

use ser::eval;
use ser::eval::EpochRecord;
use ser::plot::charts::{self, BarGroup, Curve};

use crate::common::{ser, stdout, write_sine_wav};

/// Width and height from a PNG's IHDR chunk, after checking the signature.
pub(crate) fn png_size(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(b.len() > 24, "{} is too short for a PNG", path.display());
    assert_eq!(
        &b[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    assert_eq!(&b[12..16], b"IHDR");
    let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    (be(16), be(20))
}

fn history() -> Vec<EpochRecord> {
    (1..=12)
        .map(|e| {
            let x = e as f64;
            EpochRecord {
                epoch: e,
                loss: 1.8 / x.sqrt(),
                accuracy: 1.0 - 0.8 / x.sqrt(),
                val_loss: 1.6 / x.sqrt() + 0.02 * x,
                val_accuracy: 0.9 - 0.7 / x.sqrt(),
                seconds: 1.0,
                val_macro_f1: f64::NAN,
                lr: 1e-4,
            }
        })
        .collect()
}

#[test]
fn curves_confusion_and_charts_render() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    ser::plot::curves::write(&d.join("curves.png"), &history(), 7).unwrap();
    assert_eq!(png_size(&d.join("curves.png")), (1000, 420));
    ser::plot::curves::write(&d.join("curves.svg"), &history(), 7).unwrap();
    let svg = std::fs::read_to_string(d.join("curves.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("epoch"),
        "curves.svg lacks its axis text"
    );

    let classes: Vec<String> = ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let y_true: Vec<usize> = (0..60).map(|i| i % 6).collect();
    let y_pred: Vec<usize> = (0..60)
        .map(|i| if i % 4 == 0 { (i + 1) % 6 } else { i % 6 })
        .collect();
    let m = eval::evaluate(&y_true, &y_pred, &classes).unwrap();
    ser::plot::confusion::write(&d.join("confusion.png"), &m, "test").unwrap();
    let (w, h) = png_size(&d.join("confusion.png"));
    assert_eq!(
        (w, h),
        (h + 90, 620),
        "6 classes: 140 + 80·6 px high, 90 px for the colour bar"
    );
    ser::plot::confusion::write(&d.join("confusion.svg"), &m, "test").unwrap();
    let svg = std::fs::read_to_string(d.join("confusion.svg")).unwrap();
    for c in &classes {
        assert!(svg.contains(c.as_str()), "confusion.svg lacks class {c}");
    }

    let groups = vec![
        BarGroup {
            label: "(512,512,128)".into(),
            values: vec![(0.51, Some(0.02)), (0.50, Some(0.03))],
        },
        BarGroup {
            label: "(128,64,32)".into(),
            values: vec![(0.47, None), (0.45, None)],
        },
    ];
    let metrics = vec!["accuracy".to_string(), "macro F1".to_string()];
    charts::write_bars(
        &d.join("bars.png"),
        "filters",
        "model.filters",
        &metrics,
        &groups,
    )
    .unwrap();
    assert_eq!(png_size(&d.join("bars.png")), (640, 520));
    // Long labels widen the chart rather than overlap.
    let long: Vec<BarGroup> = (0..8)
        .map(|i| BarGroup {
            label: format!("[512, 512, 128], 2d, {i}"),
            values: vec![(0.5, None), (0.4, None)],
        })
        .collect();
    charts::write_bars(&d.join("long.png"), "t", "keys", &metrics, &long).unwrap();
    let (w, _) = png_size(&d.join("long.png"));
    assert!(w >= 8 * 22 * 7, "8 labels of 22 characters in {w} px");
    let curves = vec![Curve {
        label: "a".into(),
        points: vec![(1.0, 0.3), (2.0, 0.4), (3.0, 0.45)],
    }];
    charts::write_lines(
        &d.join("lines.png"),
        "validation accuracy",
        "accuracy",
        &curves,
    )
    .unwrap();
    // 900 px of plot and a legend column beside it.
    assert_eq!(png_size(&d.join("lines.png")), (1020, 520));

    // Only .png and .svg: anything else is a clear error naming the file.
    let err = ser::plot::curves::write(&d.join("curves.jpg"), &history(), 7).unwrap_err();
    assert!(err.to_string().contains("curves.jpg"), "{err}");
    assert!(!d.join("curves.jpg").exists());
}

#[test]
fn plot_audio_draws_the_clip_and_the_model_input() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("tone.wav");
    write_sine_wav(&wav, 16_000, 1.5);
    let out = dir.path().join("tone.png");
    stdout(
        ser()
            .args(["plot", "audio"])
            .arg(&wav)
            .arg("--out")
            .arg(&out),
    );
    assert_eq!(png_size(&out), (1100, 1000));
    let input = dir.path().join("input.svg");
    stdout(
        ser()
            .args(["plot", "audio", "--features"])
            .arg(&wav)
            .arg("--out")
            .arg(&input),
    );
    let svg = std::fs::read_to_string(&input).unwrap();
    assert!(
        svg.contains("56000 samples"),
        "the model-input figure names its length"
    );
    assert!(svg.contains("mel spectrogram"), "no spectrogram panel");
}
