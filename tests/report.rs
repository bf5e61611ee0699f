//! The report's pictures: charts beside `summary.md`, and `report.html` checked in a real
//! headless browser (chromium) when one is installed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use base64::Engine;

use crate::common::ser;
use crate::plot::png_size;
use crate::runner::{experiment, ids, layout_folder, run, sweep, GRID};
use ser::report;

/// `n` occurrences of `needle` in `hay`.
fn count(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}

/// The bytes of every `data:image/png;base64,` picture of a page, decoded.
fn inlined_pngs(html: &str) -> Vec<Vec<u8>> {
    html.split("src=\"data:image/png;base64,")
        .skip(1)
        .map(|rest| {
            let b64 = &rest[..rest.find('"').expect("unterminated src")];
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .expect("the data URI is valid base64")
        })
        .collect()
}

/// The first of `chromium`, `chromium-browser` on PATH.
pub(crate) fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for name in ["chromium", "chromium-browser"] {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// Runs headless chromium on `page` with `args`; returns stdout (panics with stderr on failure).
pub(crate) fn headless(chromium: &Path, profile: &Path, page: &Path, args: &[&str]) -> String {
    let out = Process::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            // Lets the page's load handlers run before the DOM is dumped.
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A screenshot's width, height and the standard deviation of its grey levels.
fn screenshot_stats(path: &Path) -> (u32, u32, f64) {
    let decoder = png::Decoder::new(fs::File::open(path).expect("screenshot written"));
    let mut reader = decoder.read_info().expect("screenshot is a PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("screenshot decodes");
    let channels = info.color_type.samples();
    assert_eq!(info.bit_depth, png::BitDepth::Eight, "8-bit screenshot");
    let grey: Vec<f64> = buf[..info.buffer_size()]
        .chunks(channels)
        .map(|p| {
            p[..channels.min(3)].iter().map(|&c| c as f64).sum::<f64>() / channels.min(3) as f64
        })
        .collect();
    let mean = grey.iter().sum::<f64>() / grey.len() as f64;
    let var = grey.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / grey.len() as f64;
    (info.width, info.height, var.sqrt())
}

#[test]
fn a_sweep_gets_charts_and_report_html_renders_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path(), GRID);
    let ids = ids(&file);
    let results = dir.path().join("results/tiny");
    let (code, _, err) = run(&mut sweep(&file, dir.path()));
    assert_eq!(code, 0, "{err}");

    // The sweep's report: two charts beside summary.md, linked under the table.
    let summary = fs::read_to_string(results.join("summary.md")).unwrap();
    let table_end = summary.rfind("| 2 |").expect("table rows");
    let bars_at = summary.find("](bars.png)").expect("bars.png linked");
    let lines_at = summary
        .find("](val_accuracy.png)")
        .expect("val_accuracy.png linked");
    assert!(table_end < bars_at && bars_at < lines_at, "{summary}");
    assert!(summary.contains("![Accuracy and F-score"), "{summary}");
    let (w, h) = png_size(&results.join("bars.png"));
    assert!((640..=2400).contains(&w) && h == 520, "bars.png {w}×{h}");
    let (w, h) = png_size(&results.join("val_accuracy.png"));
    assert!(w > 1000 && h == 520, "val_accuracy.png {w}×{h}");

    // --html: one page, every picture inlined.
    let (code, out, err) = run(ser().arg("report").arg(&results).arg("--html"));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("report.html"), "{err}");
    assert!(!err.contains("WARN"), "no warnings expected: {err}");
    assert_eq!(
        out.trim_end(),
        fs::read_to_string(results.join("summary.md"))
            .unwrap()
            .trim_end()
    );
    let page_path = results.join("report.html");
    let html = fs::read_to_string(&page_path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{}", &html[..80]);
    // The summary table, and under it accuracy per class and per speaker.
    assert_eq!(count(&html, "<table>"), 3);
    // Self-contained: nothing fetched from elsewhere.
    for outside in [
        "src=\"http",
        "href=",
        "<link",
        "url(",
        "@import",
        "src=\"file",
    ] {
        assert!(
            !html.contains(outside),
            "report.html refers outside: {outside}"
        );
    }
    for id in &ids {
        assert!(
            html.contains(&format!("<code>{id}</code>")),
            "{id} not captioned"
        );
    }
    assert!(
        html.contains("model.filters=[4], train.seed=1"),
        "seed in the caption"
    );
    // The pictures inlined are the files, byte for byte: 2 charts, 4 confusion matrices.
    let mut expected: Vec<PathBuf> =
        vec![results.join("bars.png"), results.join("val_accuracy.png")];
    expected.extend(ids.iter().map(|id| results.join(id).join("confusion.png")));
    let inlined = inlined_pngs(&html);
    assert_eq!(inlined.len(), expected.len());
    for (bytes, file) in inlined.iter().zip(&expected) {
        assert!(
            *bytes == fs::read(file).unwrap(),
            "{} differs",
            file.display()
        );
    }

    match chromium() {
        None => eprintln!(
            "skipped the browser check: no `chromium` or `chromium-browser` on PATH \
             (Debian: apt-get install chromium)"
        ),
        Some(chromium) => {
            let shot = dir.path().join("shot.png");
            let profile = dir.path().join("chromium-profile");
            headless(
                &chromium,
                &profile,
                &page_path,
                &[
                    &format!("--screenshot={}", shot.display()),
                    "--window-size=1200,2000",
                ],
            );
            let (w, h, spread) = screenshot_stats(&shot);
            assert_eq!((w, h), (1200, 2000), "screenshot size");
            assert!(
                spread > 20.0,
                "the screenshot looks blank (grey-level std {spread:.1})"
            );

            let dom = headless(&chromium, &profile, &page_path, &["--dump-dom"]);
            assert_eq!(count(&dom, "<table>"), 3, "{dom:.400}");
            assert_eq!(count(&dom, "<img "), expected.len(), "{dom:.400}");
            assert_eq!(count(&dom, "data-broken"), 0, "a picture did not decode");
            // Every picture decoded in the browser, at the size of its file.
            let mut decoded: Vec<String> = dom
                .split("data-size=\"")
                .skip(1)
                .map(|r| r[..r.find('"').unwrap()].to_string())
                .collect();
            let mut sizes: Vec<String> = expected
                .iter()
                .map(|f| {
                    let (w, h) = png_size(f);
                    format!("{w}x{h}")
                })
                .collect();
            decoded.sort();
            sizes.sort();
            assert_eq!(decoded, sizes, "decoded picture sizes");
            eprintln!("chromium rendered report.html: {w}×{h}, grey-level std {spread:.1}");
        }
    }

    // Damaged run directories: a corrupt history.csv, a missing and a corrupt confusion.png.
    // The report names each file and renders the rest.
    fs::write(
        results.join(&ids[0]).join("history.csv"),
        "epoch,val_accuracy\n1,oops\n",
    )
    .unwrap();
    fs::remove_file(results.join(&ids[1]).join("confusion.png")).unwrap();
    fs::write(results.join(&ids[2]).join("confusion.png"), "not a picture").unwrap();
    let (code, _, err) = run(ser().arg("report").arg(&results).arg("--html"));
    assert_eq!(code, 0, "{err}");
    for (id, what) in [
        (&ids[0], "history.csv: line 2"),
        (&ids[1], "confusion.png: missing"),
        (&ids[2], "confusion.png: not a PNG"),
    ] {
        assert!(
            err.contains(&format!("{id}/{what}")),
            "no warning for {id}/{what}: {err}"
        );
    }
    let html = fs::read_to_string(&page_path).unwrap();
    assert_eq!(inlined_pngs(&html).len(), 2 + 2);
    assert_eq!(count(&html, "class=\"missing\">picture left out"), 2);
    let summary = fs::read_to_string(results.join("summary.md")).unwrap();
    assert!(summary.contains("](val_accuracy.png)"), "{summary}");
}

#[test]
fn one_pair_of_charts_per_table_and_missing_files_are_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("filters");
    let ids = layout_folder(&d);
    // Histories for the epochs-30 runs only.
    for id in ids[..3].iter().chain(&ids[6..9]) {
        fs::write(
            d.join(id).join("history.csv"),
            "epoch,loss,accuracy,val_loss,val_accuracy,seconds\n1,1,0.3,1,0.3,1\n2,1,0.4,1,0.45,1\n",
        )
        .unwrap();
    }
    let s = report::load(&d).unwrap();
    let written = report::write(&s, true).unwrap();
    let names: Vec<(Option<&str>, Option<&str>)> = written
        .charts
        .iter()
        .map(|c| (c.bars.as_deref(), c.val_accuracy.as_deref()))
        .collect();
    assert_eq!(
        names,
        [
            (
                Some("bars-epochs-30.png"),
                Some("val_accuracy-epochs-30.png")
            ),
            (Some("bars-epochs-60.png"), None),
        ]
    );
    for f in [
        "bars-epochs-30.png",
        "bars-epochs-60.png",
        "val_accuracy-epochs-30.png",
    ] {
        assert_eq!(png_size(&d.join(f)).1, 520, "{f}");
    }
    assert!(!d.join("val_accuracy-epochs-60.png").exists());
    // Each chart under its own table.
    let md = &written.markdown;
    let sixty = md.find("## train.epochs = 60").unwrap();
    assert!(md.find("](bars-epochs-30.png)").unwrap() < sixty, "{md}");
    assert!(
        md.find("](val_accuracy-epochs-30.png)").unwrap() < sixty,
        "{md}"
    );
    assert!(md.find("](bars-epochs-60.png)").unwrap() > sixty, "{md}");
    // 5 done epochs-60 runs without history.csv, 11 done runs without confusion.png: one
    // warning each, naming the file.
    let history: Vec<&String> = written
        .warnings
        .iter()
        .filter(|w| w.contains("history.csv: missing"))
        .collect();
    assert_eq!(history.len(), 5, "{:#?}", written.warnings);
    let confusion = written
        .warnings
        .iter()
        .filter(|w| w.contains("confusion.png: missing"))
        .count();
    assert_eq!(confusion, 11, "{:#?}", written.warnings);
    assert_eq!(written.warnings.len(), 16, "{:#?}", written.warnings);
    let html = fs::read_to_string(written.html.unwrap()).unwrap();
    assert_eq!(count(&html, "<table>"), 3, "two tables and the failed jobs");
    assert_eq!(inlined_pngs(&html).len(), 3);
    assert!(html.contains("<h2>train.epochs = 60</h2>"));
}

/// `ser report --compare DIR ext:EXT`: another system's predictions, one `seed-N.csv` per run,
/// written here from the tiny sweep's own runs (clips by file name, rows and probability columns
/// in another order, some predictions changed by a fixed rule), paired with the runs of
/// `train.seed = N`; McNemar's counts recomputed by hand. A seed without a run, a missing clip
/// and a side with two runs per seed are errors naming what is wrong.
#[test]
fn compare_pairs_external_predictions_with_the_runs_of_their_seed() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path(), GRID);
    let (code, _, err) = run(&mut sweep(&file, dir.path()));
    assert_eq!(code, 0, "{err}");
    let results = dir.path().join("results/tiny");
    let jobs = ser::experiment::Experiment::from_file(&file)
        .unwrap()
        .jobs()
        .unwrap();
    let ext = dir.path().join("keras");
    fs::create_dir_all(&ext).unwrap();
    fs::write(ext.join("README.txt"), "not a seed file").unwrap();
    let mut expected = Vec::new();
    for seed in [0u64, 1] {
        let job = jobs
            .iter()
            .find(|j| j.config.model.filters == [4] && j.config.train.seed == seed)
            .unwrap();
        let path = results.join(&job.id).join("predictions.csv");
        let p = ser::eval::Predictions::parse(&fs::read_to_string(&path).unwrap(), &path).unwrap();
        let k = p.classes.len();
        let mut text = format!(
            "clip,true,predicted,{}\n",
            p.classes
                .iter()
                .rev()
                .cloned()
                .collect::<Vec<_>>()
                .join(",")
        );
        let (mut ser_only, mut ext_only, mut ext_right) = (0, 0, 0);
        for (i, r) in p.rows.iter().enumerate().rev() {
            let t = p.classes.iter().position(|c| *c == r.truth).unwrap();
            // Right on every third clip, wrong on the next, the run's own answer otherwise.
            let y = match i % 3 {
                0 => t,
                1 => (t + 1) % k,
                _ => p.classes.iter().position(|c| *c == r.predicted).unwrap(),
            };
            let ser_ok = r.predicted == r.truth;
            ser_only += usize::from(ser_ok && y != t);
            ext_only += usize::from(!ser_ok && y == t);
            ext_right += usize::from(y == t);
            let probs: Vec<&str> = (0..k)
                .rev()
                .map(|c| if c == y { "1" } else { "0" })
                .collect();
            let name = r.path.rsplit('/').next().unwrap();
            text += &format!("{name},{},{},{}\n", r.truth, p.classes[y], probs.join(","));
        }
        let ser_right = p.rows.iter().filter(|r| r.predicted == r.truth).count();
        let n = p.rows.len();
        expected.push((
            n,
            ser_only,
            ext_only,
            (ext_right as f64 - ser_right as f64) / n as f64,
        ));
        fs::write(ext.join(format!("seed-{seed}.csv")), text).unwrap();
    }
    let a = format!("{}:model.filters=[4]", results.display());
    let b = format!("ext:{}", ext.display());
    let out_dir = dir.path().join("stats");
    let compare = |a: &str, b: &str| {
        run(ser()
            .args(["report", "--compare", a, b, "--resamples", "500", "--out"])
            .arg(&out_dir))
    };
    let (code, out, err) = compare(&a, &b);
    assert_eq!(code, 0, "{err}");
    let md = fs::read_to_string(out_dir.join("comparison-stats.md")).unwrap();
    assert!(out.contains(&md), "{out}");
    assert!(
        md.contains("`seed-N.csv` with the run of train.seed = N"),
        "{md}"
    );
    for (seed, (n, ser_only, ext_only, diff)) in expected.iter().enumerate() {
        let key = format!("| train.seed={seed}, split.seed=0 | {n} |");
        let row = md
            .lines()
            .find(|l| l.starts_with(&key))
            .unwrap_or_else(|| panic!("{key}\n{md}"));
        let p = ser::eval::stats::mcnemar_exact(*ser_only, *ext_only);
        let p_cell = if p < 1e-4 {
            format!("{p:.1e}")
        } else {
            format!("{p:.4}")
        };
        assert!(row.contains(&format!(" | {diff:+.4} | ")), "{row}");
        assert!(
            row.contains(&format!("| {ser_only} | {ext_only} | {p_cell} |")),
            "{row}"
        );
    }
    // Speakers come from the runs: the synthetic corpus' two.
    assert!(
        md.contains("(2 pairs, 2 speakers resampled, 500 resamples)"),
        "{md}"
    );
    assert!(md.contains("| McNemar exact, pooled clips |"), "{md}");
    // The external side may be A too.
    let (code, out, err) = compare(&b, &a);
    assert_eq!(code, 0, "{err}");
    let (n, ser_only, ext_only, _) = expected[0];
    assert!(
        out.contains(&format!("| train.seed=0, split.seed=0 | {n} |"))
            && out.contains(&format!("| {ext_only} | {ser_only} |")),
        "{out}"
    );

    // A seed without its run.
    fs::copy(ext.join("seed-0.csv"), ext.join("seed-7.csv")).unwrap();
    let (code, _, err) = compare(&a, &b);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("seed-7.csv of ext:") && err.contains("no run with that train.seed"),
        "{err}"
    );
    fs::remove_file(ext.join("seed-7.csv")).unwrap();
    // A test clip missing from a file: named, with the file.
    let seed1 = ext.join("seed-1.csv");
    let text = fs::read_to_string(&seed1).unwrap();
    let dropped = text
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_string();
    let rest: Vec<&str> = text
        .lines()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, l)| l)
        .collect();
    fs::write(&seed1, rest.join("\n")).unwrap();
    let (code, _, err) = compare(&a, &b);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("seed-1.csv") && err.contains(&dropped) && err.contains("is missing"),
        "{err}"
    );
    fs::write(&seed1, text).unwrap();
    // The whole folder has two runs per seed.
    let (code, _, err) = compare(&results.display().to_string(), &b);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("two runs have train.seed=0"), "{err}");
    // Two external sides.
    let (code, _, err) = compare(&b, &b);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("both sides are external"), "{err}");
}
