//! `ser sweep --executor slurm` without a cluster: the scripts it writes (run by a real shell, the
//! task scripts running the real `ser`), its refusals, `ser run --job-list`, `ser status`. The
//! submission itself is tested against a real Slurm by `scripts/slurm-test.sh` (`just
//! slurm-test`, run by CI), not here: no mock scheduler.

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::{failure, ser, stdout};
use crate::runner::{experiment, ids, run, sweep, GRID};

/// The frozen job list a submission wrote into `slurm` (the first found).
fn job_list(slurm: &Path) -> PathBuf {
    fs::read_dir(slurm)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("jobs-")
        })
        .unwrap()
}

/// Names that run shell code if any script forgets to quote them.
const HOSTILE_DIR: &str = "x; touch PWNED 'q'";
const HOSTILE_NAME: &str = "e $(touch PWNED2); touch PWNED3";

/// The tiny experiment under hostile folder and file names.
fn hostile_experiment(dir: &Path) -> PathBuf {
    let folder = dir.join(HOSTILE_DIR);
    fs::create_dir_all(&folder).unwrap();
    let tiny = experiment(&folder, GRID);
    let file = folder.join(format!("{HOSTILE_NAME}.toml"));
    fs::rename(tiny, &file).unwrap();
    file
}

/// A `sbatch` stand-in for the shell test of `submit.sh`: records its arguments (one per line,
/// calls separated by `--`) and prints a job id, as `sbatch --parsable` does.
fn fake_sbatch(bin: &Path, log: &Path) {
    fs::create_dir_all(bin).unwrap();
    let script = format!(
        "#!/bin/sh\nn=$(grep -c '^--$' '{log}' 2>/dev/null || true)\n\
         for a in \"$@\"; do printf '%s\\n' \"$a\" >> '{log}'; done\necho -- >> '{log}'\n\
         echo $((100 + n))\n",
        log = log.display()
    );
    let path = bin.join("sbatch");
    fs::write(&path, script).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }
}

fn path_with(bin: &Path) -> String {
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn no_payload_ran(dirs: &[&Path]) {
    for d in dirs {
        for f in ["PWNED", "PWNED2", "PWNED3"] {
            assert!(
                !d.join(f).exists(),
                "a name ran as shell code: {}",
                d.join(f).display()
            );
        }
    }
}

#[test]
fn dry_run_writes_quoted_scripts_that_run_the_jobs_and_submits_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = hostile_experiment(dir.path());
    let work = dir.path().join(HOSTILE_DIR);
    let bin = dir.path().join("bin");
    let calls = dir.path().join("sbatch-calls.txt");
    fake_sbatch(&bin, &calls);
    let ids = ids(&file);
    let results = work.join("results").join(HOSTILE_NAME);

    // --dry-run: scripts and list written, sbatch never called.
    let mut c = sweep(&file, &work);
    c.current_dir(&work).env("PATH", path_with(&bin)).args([
        "--executor",
        "slurm",
        "--dry-run",
        "--max-parallel",
        "2",
        "--cpus-per-job",
        "1",
        "--mem",
        "2G",
        "--time",
        "00:10:00",
        "--partition",
        "short",
        "--sbatch-arg=--qos=low",
    ]);
    let printed = stdout(&mut c);
    assert!(!calls.exists(), "a dry run called sbatch");
    let slurm = results.join("slurm");
    for f in [
        "features.sbatch",
        "array.sbatch",
        "report.sbatch",
        "submit.sh",
    ] {
        assert!(slurm.join(f).is_file(), "{f} not written");
    }
    let submit = fs::read_to_string(slurm.join("submit.sh")).unwrap();
    assert_eq!(printed, submit, "--dry-run prints submit.sh");
    let lists: Vec<PathBuf> = fs::read_dir(&slurm)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("jobs-")
        })
        .collect();
    assert_eq!(lists.len(), 1);
    let list = &lists[0];
    assert_eq!(fs::read_to_string(list).unwrap(), ids.join("\n") + "\n");

    // submit.sh through a real shell: every argument reaches sbatch as one word, unchanged.
    let out = std::process::Command::new("bash")
        .arg(slurm.join("submit.sh"))
        .current_dir(&work)
        .env("PATH", path_with(&bin))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "features 100, array 101, report 102"
    );
    let text = fs::read_to_string(&calls).unwrap();
    let calls: Vec<Vec<&str>> = text
        .split("--\n")
        .filter(|c| !c.is_empty())
        .map(|c| c.lines().collect())
        .collect();
    assert_eq!(calls.len(), 3, "{text}");
    let abs = |p: &Path| std::path::absolute(p).unwrap().display().to_string();
    let has = |call: &[&str], arg: &str| call.contains(&arg);
    let (features, array, report) = (&calls[0], &calls[1], &calls[2]);
    assert!(
        has(features, &abs(&slurm.join("features.sbatch"))),
        "{features:?}"
    );
    assert!(has(features, "--cpus-per-task=1"));
    assert!(has(array, "--dependency=afterok:100"), "{array:?}");
    assert!(has(array, "--array=0-3%2"));
    assert!(has(array, "--mem=2G") && has(array, "--time=00:10:00"));
    assert!(has(array, "--partition=short") && has(array, "--qos=low"));
    assert!(has(array, "--kill-on-invalid-dep=yes"));
    assert!(has(array, &abs(&slurm.join("array.sbatch"))));
    assert_eq!(array.last(), Some(&abs(list).as_str()));
    let log = format!("--output={}", abs(&slurm.join("logs/%A_%a.log")));
    assert!(has(array, &log), "{array:?}");
    assert!(has(report, "--dependency=afterany:101"), "{report:?}");
    assert!(!array.iter().any(|a| a.starts_with("--gpus")));

    // The task scripts through a real shell, as Slurm would start them (its variables set):
    // features, then task 2 of the array, then the report.
    let task = |script: &str, args: &[&Path], task: &str| {
        let out = std::process::Command::new("bash")
            .arg(slurm.join(script))
            .args(args)
            .current_dir(&work)
            .env("SLURM_JOB_ID", "7")
            .env("SLURM_ARRAY_JOB_ID", "5")
            .env("SLURM_ARRAY_TASK_ID", task)
            .env("SLURMD_NODENAME", "node-1")
            .env_remove("SER_CACHE")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    task("features.sbatch", &[], "");
    task("array.sbatch", &[list], "2");
    task("report.sbatch", &[], "");
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            results.join(id).join("metrics.json").exists(),
            i == 2,
            "task 2 runs line 2 ({id}) only"
        );
    }
    let info: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(results.join(&ids[2]).join("run.json")).unwrap())
            .unwrap();
    assert_eq!(
        info["slurm"],
        serde_json::json!({"job_id": "7", "array_job_id": "5", "task_id": "2", "node": "node-1"})
    );
    let summary = fs::read_to_string(results.join("summary.md")).unwrap();
    assert!(summary.contains("1 of 4 jobs done"), "{summary}");
    // The task again: done, so left as it is.
    let before = fs::read(results.join(&ids[2]).join("metrics.json")).unwrap();
    task("array.sbatch", &[list], "2");
    assert_eq!(
        before,
        fs::read(results.join(&ids[2]).join("metrics.json")).unwrap()
    );
    no_payload_ran(&[
        dir.path(),
        &work,
        &results,
        &std::env::current_dir().unwrap(),
    ]);
}

#[test]
fn submitting_again_leaves_done_jobs_out_and_limit_defers() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path(), GRID);
    let ids = ids(&file);
    // Two jobs done here first.
    let (code, _, err) = run(sweep(&file, dir.path()).args(["--limit", "2"]));
    assert_eq!(code, 0, "{err}");
    let mut c = sweep(&file, dir.path());
    c.args(["--executor", "slurm", "--dry-run", "--limit", "1"]);
    let (code, _, err) = run(&mut c);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("1 jobs would be submitted as 1 array tasks (2 done"),
        "{err}"
    );
    assert!(
        err.contains("1 left for the next submission (--limit)"),
        "{err}"
    );
    let slurm = dir.path().join("results/tiny/slurm");
    let list = job_list(&slurm);
    assert_eq!(fs::read_to_string(list).unwrap().trim(), ids[2]);

    // ser status: from the results folder (no Slurm submission recorded: no queue asked).
    let text = stdout(ser().arg("status").arg(dir.path().join("results/tiny")));
    assert!(text.contains("2 done, 2 pending"), "{text}");
    for id in &ids[..2] {
        let line = text.lines().find(|l| l.starts_with(id.as_str())).unwrap();
        assert!(
            line.contains("done") && line.contains("accuracy 0."),
            "{line}"
        );
    }
    // Everything done: nothing to submit.
    let (code, _, err) = run(&mut sweep(&file, dir.path()));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(sweep(&file, dir.path()).args(["--executor", "slurm"]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("nothing to submit: 4 of 4 jobs done"), "{err}");
}

#[test]
fn options_no_task_could_honour_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path(), GRID);
    let slurm = |args: &[&str]| {
        let mut c = sweep(&file, dir.path());
        c.args(["--executor", "slurm", "--dry-run"]).args(args);
        failure(&mut c)
    };
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--time", "1 day"], "--time"),
        (vec!["--mem", "lots"], "--mem"),
        (vec!["--max-parallel", "0"], "--max-parallel"),
        (vec!["--partition", "a b"], "--partition"),
        (vec!["--jobs", "2"], "--jobs is for the local executor"),
        (vec!["--force"], "--force is for the local executor"),
    ];
    for (args, says) in cases {
        let (code, err) = slurm(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    if !cfg!(feature = "wgpu") {
        let (code, err) = slurm(&["--gpus-per-job", "1"]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("--features wgpu"), "{err}");
    }
    // Slurm flags without the Slurm executor.
    let (code, err) = failure(sweep(&file, dir.path()).args(["--time", "01:00:00"]));
    assert_eq!(code, 2);
    assert!(err.contains("--time is for `--executor slurm`"), "{err}");
    assert!(!dir.path().join("results/tiny/slurm").exists());
}

#[test]
fn a_job_list_index_out_of_range_or_foreign_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path(), GRID);
    let list = dir.path().join("jobs.txt");
    fs::write(&list, "0123456789\n").unwrap();
    let mut c = ser();
    c.arg("run").arg(&file).arg("--job-list").arg(&list);
    c.args(["--job-index", "3"]);
    let (code, err) = failure(&mut c);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--job-index 3") && err.contains("lists 1 tasks"),
        "{err}"
    );
    let mut c = ser();
    c.arg("run").arg(&file).arg("--job-list").arg(&list);
    c.args(["--job-index", "0"]);
    let (_, err) = failure(&mut c);
    assert!(
        err.contains("job 0123456789 is not a job of the experiment"),
        "{err}"
    );
}

#[test]
fn status_says_what_a_lock_from_another_node_holds() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path(), GRID);
    let ids = ids(&file);
    let (code, _, err) = run(sweep(&file, dir.path()).args(["--limit", "1"]));
    assert_eq!(code, 0, "{err}");
    let results = dir.path().join("results/tiny");
    let job = results.join(&ids[1]);
    fs::create_dir_all(&job).unwrap();
    // A task on another node: its pid cannot be checked from here, and without a Slurm queue to
    // ask, its lock is respected.
    fs::write(job.join("lock"), "4242 node-9 slurm 77\n").unwrap();
    let mut c = ser();
    c.arg("status").arg(&results).env("PATH", "/nonexistent");
    let text = stdout(&mut c);
    let line = text
        .lines()
        .find(|l| l.starts_with(ids[1].as_str()))
        .unwrap();
    assert!(
        line.contains("running") && line.contains("pid 4242 on node-9 (Slurm job 77)"),
        "{line}"
    );
    // A sweep here leaves it alone.
    let (code, _, err) = run(sweep(&file, dir.path()).env("PATH", "/nonexistent"));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("3 of 4 jobs done") && err.contains("1 running in another process"),
        "{err}"
    );
    assert!(!job.join("metrics.json").exists());
}

/// A chain of jobs that share their first epochs is one array task (a line of the list, its jobs
/// in order), so no task waits on another's checkpoint: the task writes the shorter job's results
/// on its way.
#[test]
fn a_chain_of_epochs_is_one_task_that_writes_every_job_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(
        dir.path(),
        "[grid]\n\"train.epochs\" = [2, 4]\n\"train.seed\" = [0, 1]\n",
    );
    let ids = ids(&file);
    let (code, _, err) = run(sweep(&file, dir.path()).args(["--executor", "slurm", "--dry-run"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("4 jobs would be submitted as 2 array tasks"),
        "{err}"
    );
    let results = dir.path().join("results/tiny");
    let list = job_list(&results.join("slurm"));
    let text = fs::read_to_string(&list).unwrap();
    // Grid order: epochs outer, seeds inner.
    assert_eq!(
        text,
        format!("{} {}\n{} {}\n", ids[0], ids[2], ids[1], ids[3])
    );
    let mut c = ser();
    c.arg("-q")
        .arg("run")
        .arg(&file)
        .arg("--job-list")
        .arg(&list);
    c.args(["--job-index", "1", "--out"])
        .arg(dir.path().join("results"));
    c.arg("--cache").arg(dir.path().join("cache"));
    let (code, _, err) = run(&mut c);
    assert_eq!(code, 0, "{err}");
    let done = |id: &str| results.join(id).join("metrics.json").is_file();
    assert!(done(&ids[1]) && done(&ids[3]) && !done(&ids[0]) && !done(&ids[2]));
    let info: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(results.join(&ids[3]).join("run.json")).unwrap())
            .unwrap();
    assert_eq!(info["continued_from"], format!("job {}, epoch 2", ids[1]));
}
