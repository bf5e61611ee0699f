//! Experiment and config files that ask for the impossible or the absurd: each is refused by the
//! CLI with exit 2 (a usage error, nothing ran) and a message naming the file, the key and the
//! limit. Grids of millions of jobs are refused by counting, before a point is made; nesting
//! thousands deep is refused by the TOML reader's own depth limit, without a deep recursion.

use std::path::{Path, PathBuf};

use ser::experiment::{Experiment, MAX_JOBS};

use crate::common::ser;

/// A small valid base (tiny model, synthetic corpus) that each case adds to or overrides.
const BASE: &str = "[data]\ncorpus = \"synth\"\npath = \"data/synth\"\n";

/// Writes `text` as `name` in `dir`.
fn file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `ser sweep FILE --dry-run` must exit with 2; returns its stderr.
fn refused(dir: &Path, path: &Path) -> String {
    let out = ser()
        .arg("-q")
        .arg("sweep")
        .arg(path)
        .arg("--dry-run")
        .arg("--out")
        .arg(dir.join("results"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}: expected exit 2, got {:?}\n{stderr}",
        path.display(),
        out.status
    );
    assert!(
        stderr.contains(&path.display().to_string()),
        "the message does not name the file: {stderr}"
    );
    stderr
}

/// Asserts that `stderr` holds every one of `words`.
fn says(stderr: &str, words: &[&str]) {
    for w in words {
        assert!(stderr.contains(w), "expected {w:?} in: {stderr}");
    }
}

#[test]
fn grid_of_millions_is_refused_before_expansion() {
    let dir = tempfile::tempdir().unwrap();
    // 10^7 jobs: seven axes of ten values. Expanded, this would be ten million config tables.
    let axis = |k: &str| format!("\"{k}\" = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n");
    let mut grid = String::from("[grid]\n");
    for k in [
        "train.seed",
        "split.seed",
        "model.batch_norm_unused",
        "train.device",
        "data.unused_a",
        "data.unused_b",
        "data.unused_c",
    ] {
        grid.push_str(&axis(k));
    }
    let path = file(dir.path(), "millions.toml", &format!("{BASE}{grid}"));
    let err = refused(dir.path(), &path);
    says(
        &err,
        &[
            "grid",
            "10000000 jobs",
            "train.seed 10",
            &MAX_JOBS.to_string(),
        ],
    );
    println!("{err}");

    // 2^200 jobs: the count saturates rather than overflow.
    let mut grid = String::from("[grid]\n");
    for i in 0..200 {
        grid.push_str(&format!("\"train.k{i}\" = [1, 2]\n"));
    }
    let path = file(dir.path(), "astronomic.toml", &format!("{BASE}{grid}"));
    says(&refused(dir.path(), &path), &["more than 10^38 jobs"]);
}

#[test]
fn grid_at_the_job_limit_is_accepted_and_one_more_is_not() {
    let hundred: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    let list = format!("[{}]", hundred.join(", "));
    let grid = format!("[grid]\n\"train.seed\" = {list}\n\"split.seed\" = {list}\n");
    let at = format!("{BASE}{grid}");
    let exp = Experiment::from_toml(&at, Path::new("at.toml"), "at".into()).unwrap();
    assert_eq!(exp.grid.point_count(), MAX_JOBS);
    let over = format!("{at}[[grid.include]]\n\"train.seed\" = 100\n\"split.seed\" = 100\n");
    let err = Experiment::from_toml(&over, Path::new("over.toml"), "over".into())
        .unwrap_err()
        .to_string();
    says(&err, &["over.toml: grid:", "10001 jobs", "plus 1 includes"]);
}

#[test]
fn deep_nesting_is_refused_without_recursion() {
    let dir = tempfile::tempdir().unwrap();
    let depth = 100_000;
    let cases = [
        (
            "arrays.toml",
            format!(
                "[train]\nepochs = {}1{}\n",
                "[".repeat(depth),
                "]".repeat(depth)
            ),
            "train.epochs",
        ),
        (
            "inline.toml",
            format!(
                "[model]\npool = {}1{}\n",
                "{ a = ".repeat(depth),
                " }".repeat(depth)
            ),
            "model.pool",
        ),
        (
            "dotted.toml",
            format!("[model]\n{}a = 1\n", "a.".repeat(depth)),
            "model.a.a.a",
        ),
        (
            "header.toml",
            format!("[{}a]\nx = 1\n", "a.".repeat(depth)),
            ": a.a.a.a",
        ),
        (
            "grid.toml",
            format!(
                "{BASE}[grid]\n\"model.filters\" = [{}8{}]\n",
                "[".repeat(depth),
                "]".repeat(depth)
            ),
            "grid.model.filters",
        ),
    ];
    for (name, text, key) in cases {
        let path = file(dir.path(), name, &text);
        let err = refused(dir.path(), &path);
        says(&err, &[key, "nested deeper than 80 levels"]);
        assert!(
            err.len() < 2000,
            "{name}: the message quotes the nesting: {} bytes",
            err.len()
        );
        println!("{err}");
    }
}

#[test]
fn wrong_types_and_unknown_keys_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text, words) in [
        (
            "string-epochs.toml",
            "[train]\nepochs = \"sixty\"\n",
            &["train.epochs", "sixty"][..],
        ),
        (
            "scalar-filters.toml",
            "[model]\nfilters = 512\n",
            &["model.filters"][..],
        ),
        (
            "negative-epochs.toml",
            "[train]\nepochs = -5\n",
            &["train.epochs", "-5"][..],
        ),
        (
            "float-batch.toml",
            "[train]\nbatch_size = 32.5\n",
            &["train.batch_size"][..],
        ),
        (
            "unknown-key.toml",
            "[model]\nfilterz = [8]\n",
            &["filterz", "unknown field"][..],
        ),
        (
            "unknown-section.toml",
            "[trian]\nepochs = 3\n",
            &["trian"][..],
        ),
        (
            "grid-unknown.toml",
            "[grid]\n\"model.filterz\" = [[8]]\n",
            &["model.filterz"][..],
        ),
        (
            "grid-type.toml",
            "[grid]\n\"train.epochs\" = [30, \"x\"]\n",
            &["train.epochs", "grid point"][..],
        ),
        (
            "big-int.toml",
            "[train]\nseed = 99999999999999999999999\n",
            &["train.seed"][..],
        ),
    ] {
        let path = file(dir.path(), name, &format!("{BASE}{text}"));
        let err = refused(dir.path(), &path);
        says(&err, words);
    }
}

#[test]
fn absurd_values_name_the_key_and_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &[&str])] = &[
        ("[train]\nepochs = 1000000000\n", "train.epochs", &["between 1 and 10000", "1000000000"]),
        ("[train]\nbatch_size = 0\n", "train.batch_size", &["between 1 and 65536"]),
        ("[train]\nbatch_size = 1000000000\n", "train.batch_size", &["between 1 and 65536"]),
        ("[train]\nlr = nan\n", "train.lr", &["(0, 1]", "NaN"]),
        ("[train]\nlr = inf\n", "train.lr", &["(0, 1]"]),
        ("[train]\nlr = -1e-4\n", "train.lr", &["(0, 1]"]),
        ("[train]\nlr = 1e6\n", "train.lr", &["(0, 1]"]),
        ("[train]\nepsilon = nan\n", "train.epsilon", &["positive"]),
        ("[train]\nbeta1 = -0.5\n", "train.beta1", &["[0, 1)"]),
        ("[model]\ndropout = nan\n", "model.dropout", &["[0, 1)"]),
        ("[split]\ntest = nan\n", "split.test", &["(0, 1)"]),
        ("[features]\ntop_db = nan\n", "features.top_db", &["positive"]),
        ("[features]\nhop_length = 0\n", "features.hop_length", &["at least 1"]),
        ("[features]\nn_fft = 1073741824\n", "features.n_fft", &["limit of 32768"]),
        ("[features]\nframe_length = 4294967296\n", "features.frame_length", &["limit of 32768"]),
        ("[features]\nn_mels = 100000\nn_mfcc = 20\n", "features.n_mels", &["limit of 512"]),
        ("[audio]\nsample_rate = 0\n", "audio.sample_rate", &["1000..=384000"]),
        ("[audio]\nsample_rate = 4294967295\n", "audio.sample_rate", &["1000..=384000"]),
        ("[audio]\nmax_samples = 100000000000\n", "audio.max_samples", &["at most 600 s", "13230000"]),
        (
            "[model]\nfilters = [5000000, 5000000]\n",
            "model.filters",
            &["parameters", "1,000,000,000"],
        ),
        ("[model]\nfilters = [8]\ndense = 1000000000000\n", "model.dense", &["1,000,000,000"]),
        ("[model]\nkernel = 100000000000\nfilters = [8]\n", "model.kernel", &["1,000,000,000"]),
        (
            "[model]\nfilters = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, \
             1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, \
             1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\npool = { padding = \"same\" }\n",
            "model.filters",
            &["65 conv layers", "at most 64"],
        ),
        (
            // 52.8 MB of activations per clip: fine alone, terabytes over the batch.
            "[model]\nfilters = [60000]\ndense = 1\n[train]\nbatch_size = 65536\n",
            "train.batch_size",
            &["17,179,869,184 bytes", "train.batch_size = 325 or less"],
        ),
        (
            "[features]\nkind = \"mel-db\"\n[model]\nkind = \"cnn2d\"\nfilters = [10000000]\ndense = 1\n",
            "model.filters",
            &["bytes", "a smaller model.filters"],
        ),
        (
            "[grid]\n\"train.epochs\" = [60, 1000000000]\n",
            "train.epochs",
            &["10000", "grid point"],
        ),
    ];
    for (i, (text, key, words)) in cases.iter().enumerate() {
        let path = file(
            dir.path(),
            &format!("absurd-{i}.toml"),
            &format!("{BASE}{text}"),
        );
        let err = refused(dir.path(), &path);
        says(&err, &[&format!(": {key}:")]);
        says(&err, words);
        println!("{err}");
    }
    // A plain config for `ser train` goes through the same checks.
    let path = file(
        dir.path(),
        "train.toml",
        &format!("{BASE}[train]\nepochs = 1000000000\n"),
    );
    let out = ser().arg("-q").arg("train").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    says(
        &String::from_utf8_lossy(&out.stderr),
        &["train.epochs", "10000"],
    );
}
