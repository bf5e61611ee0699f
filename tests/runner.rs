//! The experiment runner end to end (`ser sweep`, `ser run`, `ser report`) on a tiny synthetic
//! corpus with tiny models, and the report's table layout on hand-made results folders.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use assert_cmd::Command;

use crate::common::ser;
use ser::experiment::Experiment;
use ser::report;

/// A two-speaker synthetic corpus (144 clips), generated once for all tests.
pub(crate) fn corpus() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep().join("synth");
        ser::corpus::synth::generate(&dir, 2, 0).unwrap();
        dir
    })
}

/// Runs `c`; returns (exit code, stdout, stderr).
pub(crate) fn run(c: &mut Command) -> (i32, String, String) {
    let out = c.output().expect("run ser");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A grid of 4 tiny jobs: short clips (16 frames), one conv layer, 2 epochs.
pub(crate) fn experiment(dir: &Path, grid: &str) -> PathBuf {
    let file = dir.join("tiny.toml");
    fs::write(
        &file,
        format!(
            "[data]\ncorpus = \"crema-d\"\npath = \"{}\"\n\
             [audio]\nmax_samples = 8000\n\
             [split]\ntest = 0.3\nvalid = 0.1\n\
             [model]\nfilters = [4]\nkernel = 3\ndense = 8\n\
             [train]\nepochs = 2\nbatch_size = 16\nlr = 1e-2\n{grid}",
            corpus().display()
        ),
    )
    .unwrap();
    file
}

pub(crate) const GRID: &str = "[grid]\n\"model.filters\" = [[4], [6]]\n\"train.seed\" = [0, 1]\n";

pub(crate) fn sweep(file: &Path, dir: &Path) -> Command {
    let mut c = ser();
    c.arg("-q")
        .arg("sweep")
        .arg(file)
        .arg("--out")
        .arg(dir.join("results"))
        .arg("--cache")
        .arg(dir.join("cache"));
    c
}

pub(crate) fn ids(file: &Path) -> Vec<String> {
    Experiment::from_file(file)
        .unwrap()
        .jobs()
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect()
}

fn modified(p: &Path) -> std::time::SystemTime {
    fs::metadata(p).unwrap().modified().unwrap()
}

#[test]
fn dry_run_lists_the_jobs_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path(), GRID);
    let (code, out, err) = run(sweep(&file, dir.path()).arg("--dry-run"));
    assert_eq!(code, 0, "{err}");
    let ids = ids(&file);
    assert_eq!(ids.len(), 4);
    for id in &ids {
        assert!(
            out.contains(&format!("{id}  pending")),
            "{id} missing:\n{out}"
        );
    }
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].contains("4 jobs"), "{out}");
    assert!(
        lines[1].starts_with("job") && lines[1].contains("model.filters"),
        "{out}"
    );
    assert!(lines[1].contains("train.seed"), "{out}");
    assert!(
        lines[2].contains("[4]") && lines[5].contains("[6]"),
        "{out}"
    );
    assert!(out.contains("features: 1 distinct set"), "{out}");
    assert!(!dir.path().join("results").exists());
}

#[test]
fn a_stopped_sweep_reruns_only_the_missing_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path(), GRID);
    let results = dir.path().join("results/tiny");
    let ids = ids(&file);

    // Stopped after 2 jobs (as a kill between jobs would leave it).
    let (code, _, err) = run(sweep(&file, dir.path()).args(["--limit", "2"]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("2 of 4 jobs done"), "{err}");
    let done: Vec<bool> = ids
        .iter()
        .map(|id| results.join(id).join("metrics.json").is_file())
        .collect();
    assert_eq!(done, [true, true, false, false]);
    let summary = fs::read_to_string(results.join("summary.md")).unwrap();
    assert!(summary.contains("## Not done yet"), "{summary}");
    let first = modified(&results.join(&ids[0]).join("metrics.json"));

    // A lock left by a process that died is taken over.
    fs::create_dir_all(results.join(&ids[3])).unwrap();
    fs::write(
        results.join(&ids[3]).join("lock"),
        format!("4294967 {}\n", ser::rundir::hostname()),
    )
    .unwrap();

    let (code, stdout, err) = run(sweep(&file, dir.path()).args(["--jobs", "2"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("4 of 4 jobs done (2 now, 2 before), 0 failed"),
        "{err}"
    );
    assert_eq!(modified(&results.join(&ids[0]).join("metrics.json")), first);
    for id in &ids {
        assert!(results.join(id).join("metrics.json").is_file());
        assert!(!results.join(id).join("lock").exists());
    }
    // The summary: one row per filter setting, mean ± std over the two seeds.
    let summary = fs::read_to_string(results.join("summary.md")).unwrap();
    assert_eq!(summary, stdout.trim_end().to_string() + "\n");
    assert!(summary.contains("4 of 4 jobs done, 0 failed"), "{summary}");
    // (Rows of the per-class table start with the filters too, without ±.)
    let rows: Vec<&str> = summary
        .lines()
        .filter(|l| l.starts_with("| [") && l.contains(" ± "))
        .collect();
    assert_eq!(rows.len(), 2, "{summary}");
    assert!(
        rows[0].starts_with("| [4] | ") && rows[0].ends_with(" | 2 |"),
        "{summary}"
    );
    assert!(rows[0].contains(" ± "), "{summary}");
    assert!(summary.contains("over `train.seed`"), "{summary}");
    let csv = fs::read_to_string(results.join("summary.csv")).unwrap();
    assert!(
        csv.starts_with("experiment,model.filters,accuracy_mean,accuracy_std,"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 3, "{csv}");

    // Nothing left: a third sweep runs nothing.
    let (code, _, err) = run(&mut sweep(&file, dir.path()));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("(0 now, 4 before)"), "{err}");

    // `ser run` reruns one job, picked by its settings; the others stay as they were.
    let (code, _, err) = run(ser()
        .args(["-q", "run"])
        .arg(&file)
        .args(["--only", "model.filters=[6]"])
        .arg("--out")
        .arg(dir.path().join("results"))
        .arg("--cache")
        .arg(dir.path().join("cache")));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("2 jobs match"), "{err}");
    let before = modified(&results.join(&ids[3]).join("metrics.json"));
    let (code, out, err) = run(ser()
        .args(["-q", "run"])
        .arg(&file)
        .args(["--only", "model.filters=[6]", "--only", "train.seed=1"])
        .arg("--out")
        .arg(dir.path().join("results"))
        .arg("--cache")
        .arg(dir.path().join("cache")));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&ids[3]), "{err}");
    assert!(out.contains("weighted avg"), "{out}");
    assert_ne!(
        modified(&results.join(&ids[3]).join("metrics.json")),
        before
    );
    assert_eq!(modified(&results.join(&ids[0]).join("metrics.json")), first);

    // A backend this build lacks is refused before anything is touched, even with --force.
    if cfg!(not(feature = "wgpu")) {
        let (code, _, err) = run(sweep(&file, dir.path()).args(["--force", "--backend", "wgpu"]));
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("--features wgpu"), "{err}");
        assert_eq!(modified(&results.join(&ids[0]).join("metrics.json")), first);
    }
}

/// `--jobs 2 --threads 1`: each job in a one-thread pool of its own, recorded in run.json, with
/// the same results as one job at a time on all cores (CPU training does not depend on threads).
#[test]
fn jobs_with_their_own_threads_give_the_same_results() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path(), GRID);
    let ids = ids(&file);
    let read = |root: &str, id: &str, f: &str| {
        let p = dir.path().join(root).join("tiny").join(id).join(f);
        let v: serde_json::Value = serde_json::from_str(&fs::read_to_string(p).unwrap()).unwrap();
        v
    };
    let (code, _, err) = run(sweep(&file, dir.path()).args(["--jobs", "1"]));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(ser()
        .args(["-q", "sweep"])
        .arg(&file)
        .args(["--jobs", "2", "--threads", "1", "--out"])
        .arg(dir.path().join("results-2x1"))
        .arg("--cache")
        .arg(dir.path().join("cache")));
    assert_eq!(code, 0, "{err}");
    for id in &ids {
        assert_eq!(read("results-2x1", id, "run.json")["threads"], 1);
        for key in ["accuracy", "f1_macro", "confusion"] {
            assert_eq!(
                read("results", id, "metrics.json")[key],
                read("results-2x1", id, "metrics.json")[key],
                "{id} {key}"
            );
        }
    }
}

#[test]
fn a_failed_job_is_recorded_the_sweep_goes_on_and_the_exit_code_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-corpus");
    let file = experiment(
        dir.path(),
        &format!(
            "[grid]\n\"data.path\" = [\"{}\", \"{}\"]\n",
            corpus().display(),
            missing.display()
        ),
    );
    let ids = ids(&file);
    let results = dir.path().join("results/tiny");
    let (code, _, err) = run(&mut sweep(&file, dir.path()));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("1 failed"), "{err}");
    assert!(err.contains(&format!("failed {}", ids[1])), "{err}");
    assert!(results.join(&ids[0]).join("metrics.json").is_file());
    let error = fs::read_to_string(results.join(&ids[1]).join("error.txt")).unwrap();
    assert!(error.contains("no-such-corpus"), "{error}");
    let summary = fs::read_to_string(results.join("summary.md")).unwrap();
    assert!(summary.contains("1 of 2 jobs done, 1 failed"), "{summary}");
    assert!(summary.contains("## Failed jobs"), "{summary}");
    assert!(summary.contains(&format!("| `{}` |", ids[1])), "{summary}");

    // `ser run` of the failed job fails the same way: exit 1, a failed run; a job that does not
    // exist, or an experiment of several jobs given to `ser train`, is bad usage: exit 2.
    let rerun = |job: &str| {
        let mut c = ser();
        c.args(["-q", "run"])
            .arg(&file)
            .args(["--job", job, "--out"])
            .arg(dir.path().join("results"))
            .arg("--cache")
            .arg(dir.path().join("cache"));
        run(&mut c)
    };
    let (code, _, err) = rerun(&ids[1]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("job {}", ids[1])) && err.contains("no-such-corpus"),
        "{err}"
    );
    let (code, _, err) = rerun("zzzz");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no job matches --job zzzz"), "{err}");
    let (code, _, err) = run(ser().arg("train").arg(&file));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("is an experiment of 2 jobs") && err.contains("ser sweep"),
        "{err}"
    );
}

#[test]
fn malformed_experiments_name_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (grid, key, expected) in [
        (
            "[grid]\n\"train.epoch\" = [1, 2]\n",
            "train.epoch",
            "unknown field",
        ),
        (
            "[grid]\n\"train.epochs\" = [\"ten\"]\n",
            "train.epochs",
            "ten",
        ),
        (
            "[grid]\n\"train.epochs\" = 3\n",
            "grid.\"train.epochs\"",
            "list",
        ),
        (
            "[grid]\n\"split.test\" = [0.3, 1.5]\n",
            "split.test",
            "(0, 1)",
        ),
        ("[report]\ncolums = [\"x\"]\n", "colums", "unknown field"),
        (
            "[report]\nrows = [\"model.filtres\"]\n",
            "report.rows",
            "model.filtres",
        ),
        (
            "[[report.reference]]\nacc = 0.5\n",
            "report.reference[0].acc",
            "metric",
        ),
    ] {
        let file = experiment(dir.path(), grid);
        let (code, _, err) = run(sweep(&file, dir.path()).arg("--dry-run"));
        assert_eq!(code, 2, "{grid}: {err}");
        assert!(err.contains("tiny.toml"), "{grid}: {err}");
        assert!(err.contains(key), "{grid}: no `{key}` in {err}");
        assert!(err.contains(expected), "{grid}: no `{expected}` in {err}");
    }
}

/// A results folder made by hand: `experiment.toml` and, per job, `metrics.json` (or
/// `error.txt`), with the numbers given.
pub(crate) fn hand_made(dir: &Path, text: &str, metrics: &[Option<(f64, f64)>]) -> Vec<String> {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("experiment.toml"), text).unwrap();
    let exp = Experiment::from_file(&dir.join("experiment.toml")).unwrap();
    let jobs = exp.jobs().unwrap();
    assert_eq!(jobs.len(), metrics.len());
    for (job, m) in jobs.iter().zip(metrics) {
        let d = dir.join(&job.id);
        fs::create_dir_all(&d).unwrap();
        match m {
            Some((acc, f1)) => fs::write(
                d.join("metrics.json"),
                format!(
                    "{{\"accuracy\": {acc}, \"f1_macro\": {f1}, \"f1_weighted\": {f1}, \
                     \"best_epoch\": 3, \"train_seconds\": 1.5}}"
                ),
            )
            .unwrap(),
            None => fs::write(d.join("error.txt"), "out of memory\n").unwrap(),
        }
    }
    jobs.into_iter().map(|j| j.id).collect()
}

pub(crate) const LAYOUT: &str = "[data]\ncorpus = \"synth\"\n[model]\nfilters = [8]\n\
    [grid]\n\"model.filters\" = [[8], [4]]\n\"train.epochs\" = [30, 60]\n\"train.seed\" = [0, 1, 2]\n\
    [report]\nrows = [\"model.filters\"]\ntables_by = [\"train.epochs\"]\n\
    metrics = [\"accuracy\", \"f1_macro\"]\n\
    [[report.reference]]\n\"model.filters\" = [8]\n\"train.epochs\" = 30\naccuracy = 0.486789\n";

/// The LAYOUT experiment's 12 runs in `dir` (accuracy a, macro F1 a − 0.1; the 6th failed), in
/// job order: filters [8] × epochs 30 × seeds 0 1 2, [8] × 60, [4] × 30, [4] × 60.
pub(crate) fn layout_folder(dir: &Path) -> Vec<String> {
    let m = |a: f64| Some((a, a - 0.1));
    #[rustfmt::skip]
    let metrics = [
        m(0.5), m(0.6), m(0.7), m(0.4), m(0.4), None,
        m(0.3), m(0.5), m(0.4), m(0.2), m(0.2), m(0.2),
    ];
    hand_made(dir, LAYOUT, &metrics)
}

#[test]
fn tables_show_mean_std_and_n_as_the_layout_asks() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("filters");
    // Job order: filters [8] × epochs 30 × seeds 0 1 2, [8] × 60, [4] × 30, [4] × 60.
    layout_folder(&d);
    let s = report::load(&d).unwrap();
    let md = report::markdown(&s);
    let tables: Vec<&str> = md.split("\n## ").collect();
    assert!(tables[0].starts_with("# filters\n\n11 of 12 jobs done, 1 failed, 0 not done yet"));
    assert!(tables[0].contains("over `train.seed`"), "{md}");
    assert_eq!(
        tables[1],
        "train.epochs = 30\n\n\
         Protocol: not recorded (runs made before `ser` recorded split facts).\n\n\
         | filters | acc | acc (report) | f-score (macro F1) | n |\n\
         |---|---|---|---|---|\n\
         | [8] | 0.6000 ± 0.1000 | 0.4868 | 0.5000 ± 0.1000 | 3 |\n\
         | [4] | 0.4000 ± 0.1000 | — | 0.3000 ± 0.1000 | 3 |\n"
    );
    assert_eq!(
        tables[2],
        "train.epochs = 60\n\n\
         Protocol: not recorded (runs made before `ser` recorded split facts).\n\n\
         | filters | acc | acc (report) | f-score (macro F1) | n |\n\
         |---|---|---|---|---|\n\
         | [8] | 0.4000 ± 0.0000 | — | 0.3000 ± 0.0000 | 2 (1 failed) |\n\
         | [4] | 0.2000 ± 0.0000 | — | 0.1000 ± 0.0000 | 3 |\n"
    );
    assert!(tables[3].starts_with("Failed jobs"), "{md}");
    assert!(
        tables[3].contains("model.filters=[8], train.epochs=60, train.seed=2 | out of memory |"),
        "{md}"
    );
    let csv = report::csv(&s);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "experiment,train.epochs,model.filters,accuracy_mean,accuracy_std,accuracy_reference,\
         f1_macro_mean,f1_macro_std,n,failed,not_done,protocol,test_speakers_in_train,\
         test_speakers,test_sentences_in_train,test_sentences,distinct_splits"
    );
    assert!(lines[1].starts_with("filters,30,[8],0.6"), "{csv}");
    // Hand-made runs recorded no split facts: the protocol's columns are empty.
    assert!(lines[1].ends_with(",3,0,0,,,,,,"), "{csv}");
}

#[test]
fn defaults_and_several_experiments_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    // No [report]: rows are the varying keys but the seed; one table.
    let plain = LAYOUT.split("[report]").next().unwrap().to_string();
    let a = dir.path().join("a");
    hand_made(&a, &plain, &[Some((0.5, 0.4)); 12]);
    let s = report::load(&a).unwrap();
    assert_eq!(s.layout.rows, ["model.filters", "train.epochs"]);
    assert_eq!(s.layout.seeds, ["train.seed"]);
    let md = report::markdown(&s);
    assert!(md.contains("| filters | epochs | acc | f-score (macro F1) | weighted F1 | best val epoch | train s | n |"), "{md}");
    assert!(md.contains("| [8] | 30 | 0.5000 ± 0.0000 |"), "{md}");
    assert!(md.contains("| 3.0 ± 0.0 | 1.5 ± 0.0 | 3 |"), "{md}");

    // A second experiment with one epochs value: side by side on the shared keys.
    let b = dir.path().join("b");
    let one = plain.replace("[30, 60]", "[30]");
    hand_made(&b, &one, &[Some((0.7, 0.6)); 6]);
    let (code, out, err) = run(ser().arg("report").arg(&a).arg(&b));
    assert_eq!(code, 0, "{err}");
    assert!(a.join("summary.md").is_file() && b.join("summary.md").is_file());
    let cmp = fs::read_to_string(dir.path().join("comparison.md")).unwrap();
    assert!(out.contains(&cmp), "{out}");
    assert!(
        cmp.contains("| filters | epochs | acc (a) | acc (b) |"),
        "{cmp}"
    );
    assert!(
        cmp.contains("| [8] | 30 | 0.5000 ± 0.0000 | 0.7000 ± 0.0000 |"),
        "{cmp}"
    );
    assert!(cmp.contains("| [8] | 60 | 0.5000 ± 0.0000 | — |"), "{cmp}");
    assert!(dir.path().join("comparison.csv").is_file());
}

#[test]
fn a_folder_without_experiment_file_is_grouped_by_what_differs() {
    let dir = tempfile::tempdir().unwrap();
    for (name, seed, epochs, acc) in [("r1", 0, 5, 0.5), ("r2", 1, 5, 0.7), ("r3", 0, 9, 0.9)] {
        let d = dir.path().join(name);
        fs::create_dir_all(&d).unwrap();
        let mut c = ser::Config::default();
        c.train.seed = seed;
        c.train.epochs = epochs;
        fs::write(d.join("config.toml"), toml::to_string(&c).unwrap()).unwrap();
        fs::write(
            d.join("metrics.json"),
            format!("{{\"accuracy\": {acc}, \"f1_macro\": {acc}}}"),
        )
        .unwrap();
    }
    let s = report::load(dir.path()).unwrap();
    assert_eq!(s.layout.rows, ["train.epochs"]);
    let md = report::markdown(&s);
    assert!(md.contains("| 5 | 0.6000 ± 0.1414 |"), "{md}");
    // No run wrote predictions: no interval column.
    assert!(!md.contains("95% CI"), "{md}");
    assert!(md.contains("| 9 | 0.9000 |"), "{md}");
}

/// A CREMA-D sweep's summary states its protocol (checked on the lists), breaks the scores down
/// by the speakers' sex (`[report] by`), and shows the scores on another corpus (`[eval]`).
#[test]
fn summaries_state_the_protocol_groups_and_other_corpora() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(
        dir.path(),
        &format!(
            "[eval]\ncorpora = [\"crema-d:{}\"]\n\
             [grid]\n\"train.seed\" = [0, 1]\n\
             [report]\nby = [\"sex\"]\n",
            corpus().display()
        ),
    );
    let (code, _, err) = run(&mut sweep(&file, dir.path()));
    assert_eq!(code, 0, "{err}");
    let results = dir.path().join("results/tiny");
    let md = fs::read_to_string(results.join("summary.md")).unwrap();
    // The two synthetic speakers carry CREMA-D's actor ids 1001 (male) and 1002 (female).
    assert!(
        md.contains("Protocol: random split: 2 of 2 test speakers also in training; 12 of 12 test sentences also in training (2 runs, 1 distinct split)."),
        "{md}"
    );
    assert!(
        md.contains("| Female acc | Female F1 | Male acc | Male F1 |"),
        "{md}"
    );
    let other = ser::config::CorpusSpec {
        kind: ser::CorpusKind::CremaD,
        path: corpus().to_path_buf(),
    }
    .name();
    assert!(md.contains(&format!("| {other} acc |")), "{md}");
    for id in ids(&file) {
        let run = results.join(&id);
        let info: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
        assert_eq!(info["split"]["speakers"]["test_in_train"], 2);
        assert!(info["split"]["hash"].as_str().unwrap().len() == 16);
        let metrics: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(run.join("metrics.json")).unwrap()).unwrap();
        assert!(metrics["groups"]["sex"]["Female"]["n"].as_u64().unwrap() > 0);
        assert!(metrics["other_corpora"][&other]["accuracy"].is_number());
        // The grid corpus has clips CREMA-D's crowd never heard (IEO at level XX): no baseline.
        assert!(metrics.get("human_accuracy").is_none());
    }
}

/// Perceived labels: the crowd's voice-only votes replace the intended emotions; tied votes are
/// dropped, or kept when the intended emotion is among them, as `ties` says.
#[test]
fn perceived_labels_follow_the_crowd_and_the_tie_rule() {
    use ser::config::{DataConfig, LabelSource, TieRule};
    use ser::corpus::{self, crema_d};
    let dir = tempfile::tempdir().unwrap();
    // The first 300 clips of CREMA-D's file list (empty files: nothing is decoded here).
    let names: Vec<String> = crema_d::meta::manifest()
        .unwrap()
        .into_iter()
        .take(300)
        .map(|e| e.name)
        .collect();
    for n in &names {
        fs::write(dir.path().join(n), b"").unwrap();
    }
    let votes = crema_d::meta::perceived().unwrap();
    let open = |labels, ties| {
        corpus::open(&DataConfig {
            corpus: ser::CorpusKind::CremaD,
            path: dir.path().to_path_buf(),
            labels,
            ties,
            ..DataConfig::default()
        })
        .unwrap()
    };
    let intended = open(LabelSource::Intended, TieRule::Drop);
    assert_eq!(intended.items.len(), 300);
    let dropped = open(LabelSource::Perceived, TieRule::Drop);
    let kept = open(LabelSource::Perceived, TieRule::Intended);
    let stem = |p: &Path| p.file_stem().unwrap().to_string_lossy().into_owned();
    let ties = names
        .iter()
        .filter(|n| votes[n.trim_end_matches(".wav")].votes.len() > 1)
        .count();
    assert!(ties > 0, "the first 300 clips should hold some ties");
    assert_eq!(dropped.items.len(), 300 - ties);
    assert!(kept.items.len() > dropped.items.len() && kept.items.len() <= 300);
    for item in &dropped.items {
        assert_eq!(votes[&stem(&item.path)].votes, [item.label]);
    }
    assert!(dropped.notes[0].contains(&format!("{ties} clips with tied votes left out")));
    // Perceived labels are CREMA-D's: another corpus is refused, naming the key.
    let e = ser::Config::from_toml(
        "[data]\ncorpus = \"emodb\"\nlabels = \"perceived\"\n",
        Path::new("labels.toml"),
    )
    .unwrap_err();
    assert!(e.to_string().contains("labels.toml: data.labels"), "{e}");
    assert_eq!(e.exit_code(), 2);
}

/// `ser bench estimate`: each distinct network of the grid timed, the corpus split as each job
/// says, every epoch counted.
#[test]
fn estimate_times_each_network_and_counts_every_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path(), GRID);
    let json = dir.path().join("estimate.json");
    let (code, out, err) = run(ser()
        .args(["-q", "bench", "estimate"])
        .arg(&file)
        .args(["--steps", "1", "--warmup", "0", "--json"])
        .arg(&json));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("4 jobs, projected on this CPU"), "{out}");
    assert!(out.contains("finishes within a day on this CPU"), "{out}");
    let e: serde_json::Value = serde_json::from_str(&fs::read_to_string(&json).unwrap()).unwrap();
    let groups = e["groups"].as_array().unwrap();
    // Filters [4] and [6], two seeds each, 2 epochs a job.
    assert_eq!(groups.len(), 2, "{e}");
    for g in groups {
        assert_eq!(
            (g["jobs"].as_u64(), g["epochs"].as_u64()),
            (Some(2), Some(4)),
            "{g}"
        );
        assert!(g["step_s"].as_f64().unwrap() > 0.0);
    }
}

/// `ser report --compare`: two grid points of one sweep (filters [4] against [6], over seeds 0
/// and 1) paired by seed; every run wrote its test predictions, and the per-pair McNemar counts
/// and p-value are recomputed here from the two `predictions.csv`. A run without predictions
/// (an old run) still pairs by its metrics, with McNemar `n/a`.
#[test]
fn compare_pairs_grid_points_by_seed_from_the_runs_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path(), GRID);
    let (code, _, err) = run(&mut sweep(&file, dir.path()));
    assert_eq!(code, 0, "{err}");
    let results = dir.path().join("results/tiny");
    let jobs = Experiment::from_file(&file).unwrap().jobs().unwrap();
    let run_of = |filters: i64, seed: i64| {
        let j = jobs
            .iter()
            .find(|j| {
                j.config.model.filters == [filters as usize] && j.config.train.seed == seed as u64
            })
            .unwrap();
        results.join(&j.id)
    };

    // Each run's predictions agree with its metrics.
    let read = |run: &Path| {
        let path = run.join("predictions.csv");
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("path,true,predicted,speaker,"), "{text}");
        ser::eval::Predictions::parse(&text, &path).unwrap()
    };
    let (a0, b0) = (read(&run_of(4, 0)), read(&run_of(6, 0)));
    let metrics: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(run_of(4, 0).join("metrics.json")).unwrap())
            .unwrap();
    let right = a0.rows.iter().filter(|r| r.truth == r.predicted).count();
    assert_eq!(metrics["n"].as_u64().unwrap() as usize, a0.rows.len());
    // metrics.json rounds to 4 decimals.
    assert!(
        (metrics["accuracy"].as_f64().unwrap() - right as f64 / a0.rows.len() as f64).abs() < 5e-5
    );
    assert!(a0.rows.iter().all(|r| !r.speaker.is_empty()));

    // McNemar's counts of the seed-0 pair, by hand.
    let (mut a_only, mut b_only) = (0, 0);
    for ra in &a0.rows {
        let rb = b0.rows.iter().find(|r| r.path == ra.path).unwrap();
        a_only += usize::from(ra.predicted == ra.truth && rb.predicted != rb.truth);
        b_only += usize::from(rb.predicted == rb.truth && ra.predicted != ra.truth);
    }
    let p = ser::eval::stats::mcnemar_exact(a_only, b_only);
    let right_b = b0.rows.iter().filter(|r| r.truth == r.predicted).count();
    let n = a0.rows.len();
    let diff = (right_b as f64 - right as f64) / n as f64;

    let a = format!("{}:model.filters=[4]", results.display());
    let b = format!("{}:model.filters=[6]", results.display());
    let (code, out, err) = run(ser().args(["report", "--compare", &a, &b, "--resamples", "2000"]));
    assert_eq!(code, 0, "{err}");
    let md = fs::read_to_string(results.join("comparison-stats.md")).unwrap();
    assert!(out.contains(&md), "{out}");
    assert!(results.join("comparison-stats.csv").is_file());
    let row = md
        .lines()
        .find(|l| l.starts_with("| train.seed=0, split.seed=0 |"))
        .unwrap_or_else(|| panic!("{md}"));
    let p_cell = if p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    };
    assert!(
        row.starts_with(&format!("| train.seed=0, split.seed=0 | {n} |")),
        "{row}"
    );
    assert!(row.contains(&format!(" | {diff:+.4} | ")), "{row}");
    assert!(
        row.contains(&format!("| {a_only} | {b_only} | {p_cell} |")),
        "{row}"
    );
    assert!(md.contains("| train.seed=1, split.seed=0 |"), "{md}");
    assert!(md.contains("| mean |"), "{md}");
    assert!(
        md.contains(
            "95% speaker-bootstrap interval (2 pairs, 2 speakers resampled, 2000 resamples)"
        ),
        "{md}"
    );
    // Two pairs: Wilcoxon's smallest possible p is 0.5, never significant.
    assert!(
        md.contains("| Wilcoxon signed-rank, Δ accuracy | 2 pairs"),
        "{md}"
    );
    assert!(md.contains("not significant"), "{md}");
    assert!(!md.to_lowercase().contains("best of"), "{md}");

    // The sweep's summary has a speaker-bootstrap interval of the accuracy per row.
    let summary = fs::read_to_string(results.join("summary.md")).unwrap();
    assert!(
        summary.contains("| acc 95% CI (speakers) | n |"),
        "{summary}"
    );
    // Per class and per speaker (the synthetic corpus' two actors), from the predictions.
    assert!(
        summary.contains("| filters | ANG | DIS | FEA | HAP | NEU | SAD |"),
        "{summary}"
    );
    assert!(summary.contains("| speaker | [4] | [6] |"), "{summary}");
    assert!(summary.contains("\n| 1001 | 0."), "{summary}");
    let csv = fs::read_to_string(results.join("summary.csv")).unwrap();
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with(",accuracy_ci_low,accuracy_ci_high,ci_runs"),
        "{csv}"
    );

    // The whole folder holds two runs per seed: it must be narrowed to a grid point.
    let whole = results.display().to_string();
    let (code, _, err) = run(ser().args(["report", "--compare", &whole, &b]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("two runs share train.seed=0, split.seed=0"),
        "{err}"
    );
    assert!(err.contains("name one grid point"), "{err}");

    // An old run without predictions.csv: paired by its metrics, McNemar n/a.
    fs::remove_file(run_of(4, 1).join("predictions.csv")).unwrap();
    let (code, out, err) = run(ser().args(["report", "--compare", &a, &b, "--resamples", "100"]));
    assert_eq!(code, 0, "{err}");
    let row = out
        .lines()
        .find(|l| l.starts_with("| train.seed=1, split.seed=0 |"))
        .unwrap();
    assert!(row.contains("| n/a |"), "{row}");
    assert!(out.contains("no predictions.csv"), "{out}");
    assert!(
        out.contains("95% speaker-bootstrap interval (1 pairs"),
        "{out}"
    );
    // The summary's interval now covers one of the row's two runs.
    let (code, out, err) = run(ser().arg("report").arg(&results));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("] (1 of 2 runs) | 2 |"), "{out}");
}

#[test]
fn every_run_scores_its_calibration_from_its_own_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path(), GRID);
    let (code, _, err) = run(sweep(&file, dir.path()).args(["--limit", "1"]));
    assert_eq!(code, 0, "{err}");
    let job = dir.path().join("results/tiny").join(&ids(&file)[0]);
    assert!(job.join("reliability.png").is_file());
    let metrics: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(job.join("metrics.json")).unwrap()).unwrap();
    let cal = &metrics["calibration"];
    let bins = cal["bins"].as_array().unwrap();
    assert_eq!(bins.len(), ser::eval::calibration::BINS);
    // Recomputed from predictions.csv (probabilities as written there): the same ECE.
    let text = fs::read_to_string(job.join("predictions.csv")).unwrap();
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let classes = &head[4..];
    let (mut probs, mut labels) = (Vec::new(), Vec::new());
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let n = f.len();
        labels.push(classes.iter().position(|c| *c == f[1]).unwrap());
        probs.push(
            f[n - classes.len()..]
                .iter()
                .map(|p| p.parse::<f32>().unwrap())
                .collect(),
        );
    }
    let total: u64 = bins.iter().map(|b| b["count"].as_u64().unwrap()).sum();
    assert_eq!(total as usize, labels.len());
    let again = ser::eval::calibration::calibration(&probs, &labels, 15).unwrap();
    let ece = cal["ece"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&ece));
    assert!((again.ece - ece).abs() < 1e-4, "{} vs {ece}", again.ece);
}

/// `ser sweep --only KEY=VALUE` runs the jobs that match every assignment and leaves the rest;
/// a value no job has and a key no config has are errors naming them.
#[test]
fn sweep_only_runs_the_matching_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path(), GRID);
    let results = dir.path().join("results/tiny");
    let jobs = Experiment::from_file(&file).unwrap().jobs().unwrap();
    let (code, _, err) = run(sweep(&file, dir.path()).args(["--only", "train.seed=1"]));
    assert_eq!(code, 0, "{err}");
    for j in &jobs {
        let seed = ser::experiment::value_of(j, "train.seed").unwrap();
        assert_eq!(
            results.join(&j.id).join("metrics.json").is_file(),
            seed.as_integer() == Some(1),
            "{}",
            j.id
        );
    }
    let (code, _, err) = run(sweep(&file, dir.path()).args(["--only", "train.seed=7"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no job matches --only train.seed=7"), "{err}");
    let (code, _, err) = run(sweep(&file, dir.path()).args(["--only", "train.sed=1"]));
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("train.sed"), "{err}");
}

/// Jobs that differ only in `train.epochs` share their training: the 4-epoch job continues the
/// 2-epoch job's checkpoint, and every result of it equals the 4-epoch job trained alone (timings
/// aside), bit for bit on CPU. Early stopping (patience) does not stop the sharing; a schedule
/// that spans the run does, and the dry run says why.
#[test]
fn jobs_that_differ_only_in_epochs_share_their_first_epochs_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let grid = "[grid]\n\"train.epochs\" = [2, 4]\n\"train.patience\" = [5]\n";
    let file = experiment(dir.path(), grid);
    let ids = ids(&file);
    let (code, out, err) = run(sweep(&file, dir.path()).arg("--dry-run"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("epochs 1-2"), "{out}");
    assert!(
        out.contains(&format!("epochs 3-4 after {}", ids[0])),
        "{out}"
    );
    assert!(
        out.contains("epochs to train: 4 with shared prefixes, 6 alone (2 saved, 33 %)"),
        "{out}"
    );

    let (code, _, err) = run(&mut sweep(&file, dir.path()));
    assert_eq!(code, 0, "{err}");
    let shared = dir.path().join("results/tiny");
    let info: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(shared.join(&ids[1]).join("run.json")).unwrap())
            .unwrap();
    assert_eq!(
        info["continued_from"],
        format!("job {}, epoch 2", ids[0]),
        "{info}"
    );
    assert_eq!(info["resumed_from_epoch"], 2, "{info}");

    // The same 4-epoch job alone, in another results folder.
    let alone = tempfile::tempdir().unwrap();
    let (code, _, err) = run(sweep(&file, alone.path()).args(["--only", "train.epochs=4"]));
    assert_eq!(code, 0, "{err}");
    let single = alone.path().join("results/tiny").join(&ids[1]);
    let info: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(single.join("run.json")).unwrap()).unwrap();
    assert!(info["continued_from"].is_null(), "{info}");
    crate::common::same_run(&shared.join(&ids[1]), &single);
    let history = fs::read_to_string(single.join("history.csv")).unwrap();
    assert_eq!(history.lines().count(), 5, "{history}");

    // A cosine schedule reads the epoch count: each job trains alone, and the dry run says so.
    let cosine = tempfile::tempdir().unwrap();
    let file = experiment(
        cosine.path(),
        "[grid]\n\"train.epochs\" = [2, 4]\n\"train.schedule\" = [\"cosine\"]\n",
    );
    let (code, out, err) = run(sweep(&file, cosine.path()).arg("--dry-run"));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("differ only in train.epochs but train alone: train.schedule = \"cosine\""),
        "{out}"
    );
    assert!(!out.contains("after"), "{out}");
    assert!(!out.contains("epochs to train"), "{out}");
}

/// Successive halving: every point trains to the first rung, the better half by validation macro
/// F1 goes on, and so on; the survivor is trained to the end and evaluated as if alone, the cut
/// points are `halted` with no test result, the summary lists the cuts, and a rerun changes
/// nothing.
#[test]
fn successive_halving_cuts_on_validation_and_keeps_the_survivor_exact() {
    let dir = tempfile::tempdir().unwrap();
    let grid = "[grid]\n\"model.filters\" = [[2], [4], [6], [8]]\n\
                [search]\nkind = \"halving\"\nmin_epochs = 1\n";
    let file = experiment(dir.path(), grid);
    fs::write(
        &file,
        fs::read_to_string(&file)
            .unwrap()
            .replace("epochs = 2", "epochs = 4"),
    )
    .unwrap();
    let ids = ids(&file);
    let (code, out, err) = run(sweep(&file, dir.path()).arg("--dry-run"));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("successive halving: 4 grid points (1 job each)")
            && out.contains("after epochs 1, 2; about 8 epochs of the full grid's 16"),
        "{out}"
    );

    let (code, _, err) = run(&mut sweep(&file, dir.path()));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("3 grid points stopped"), "{err}");
    let results = dir.path().join("results/tiny");
    let runs: Vec<PathBuf> = ids.iter().map(|id| results.join(id)).collect();
    let done: Vec<&PathBuf> = runs
        .iter()
        .filter(|r| r.join("metrics.json").exists())
        .collect();
    assert_eq!(done.len(), 1);
    let survivor = done[0].clone();
    let history = |r: &Path| fs::read_to_string(r.join("history.csv")).unwrap();
    let val_f1 = |r: &Path, epoch: usize| -> f64 {
        let h = history(r);
        let line = h.lines().nth(epoch).unwrap().to_string();
        line.split(',').nth(5).unwrap().parse().unwrap()
    };
    let mut cut_at = Vec::new();
    for r in runs.iter().filter(|r| **r != survivor) {
        let note = fs::read_to_string(r.join("halted.txt")).unwrap();
        assert!(
            note.starts_with("stopped by successive halving after epoch"),
            "{note}"
        );
        assert!(
            !r.join("predictions.csv").exists(),
            "a cut job read its test part"
        );
        let epochs = history(r).lines().count() - 1;
        // Never better on validation at its rung than the survivor there.
        assert!(val_f1(r, epochs) <= val_f1(&survivor, epochs), "{note}");
        cut_at.push(epochs);
    }
    cut_at.sort();
    assert_eq!(cut_at, [1, 1, 2]);
    let summary = fs::read_to_string(results.join("summary.md")).unwrap();
    assert!(
        summary.contains("## Stopped by successive halving"),
        "{summary}"
    );
    assert!(
        summary.contains(
            "1 of 4 jobs done, 0 failed, 3 stopped by successive halving, 0 not done yet"
        ),
        "{summary}"
    );
    assert!(summary.contains("| 0 (1 halted) |"), "{summary}");
    assert!(err.contains(", 3 stopped by successive halving"), "{err}");
    let (_, status, _) = run(ser().arg("status").arg(&results));
    assert!(status.contains("1 done, 3 halted"), "{status}");

    // The survivor alone (its point only: nothing to cut) gives the same results.
    let id = survivor.file_name().unwrap().to_str().unwrap().to_string();
    let filters = ids
        .iter()
        .position(|i| *i == id)
        .map(|p| [2, 4, 6, 8][p])
        .unwrap();
    let alone = tempfile::tempdir().unwrap();
    let (code, _, err) =
        run(sweep(&file, alone.path()).args(["--only", &format!("model.filters=[{filters}]")]));
    assert_eq!(code, 0, "{err}");
    crate::common::same_run(&survivor, &alone.path().join("results/tiny").join(&id));

    // Again: nothing trains, the cuts stay.
    let before = fs::read(survivor.join("metrics.json")).unwrap();
    let (code, _, err) = run(&mut sweep(&file, dir.path()));
    assert_eq!(code, 0, "{err}");
    assert_eq!(before, fs::read(survivor.join("metrics.json")).unwrap());
    assert_eq!(
        runs.iter()
            .filter(|r| r.join("halted.txt").exists())
            .count(),
        3
    );
}
