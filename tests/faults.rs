//! Faults a week-long sweep meets, tried on the real binary: SIGKILL at random moments, SIGINT /
//! SIGTERM, a damaged cache entry and checkpoint, a full disk, a read-only results folder, two
//! sweeps on one folder. Each ends with every job's results equal to an unbroken run's (CPU,
//! timings aside) and no file that looks complete but is not.
//!
//! The full-disk and read-only tests mount a small tmpfs (root, as in CI); elsewhere they say so
//! and skip.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

/// Kills in the crash test (the issue asks for 20).
pub const KILLS: usize = 20;

/// An experiment whose sweep generates its own synthetic corpus (4 speakers, 288 clips) in
/// `dir/data/synth`, extracts features and trains 2 small 1D jobs for `epochs` epochs. The path
/// is relative (sweeps run in `dir`), so job ids are the same in every test folder.
fn experiment(dir: &Path, epochs: usize) -> PathBuf {
    let file = dir.join("faults.toml");
    fs::write(
        &file,
        format!(
            "[data]\ncorpus = \"synth\"\npath = \"data/synth\"\nsynth_actors = 4\nsynth_seed = 0\n\
             [audio]\nmax_samples = 22050\n\
             [split]\ntest = 0.3\nvalid = 0.1\n\
             [model]\nfilters = [16, 8]\ndense = 16\n\
             [train]\nepochs = {epochs}\nbatch_size = 16\nlr = 1e-3\n\
             [grid]\n\"train.seed\" = [0, 1]\n"
        ),
    )
    .unwrap();
    file
}

fn ser_path() -> PathBuf {
    assert_cmd::cargo::cargo_bin("ser")
}

/// `ser -q sweep FILE --out DIR/results --cache DIR/cache`, started (not waited for).
fn spawn_sweep(file: &Path, dir: &Path) -> Child {
    Command::new(ser_path())
        .arg("-q")
        .arg("sweep")
        .arg(file)
        .arg("--out")
        .arg(dir.join("results"))
        .arg("--cache")
        .arg(dir.join("cache"))
        .current_dir(file.parent().unwrap())
        .env_remove("RUST_LOG")
        .env_remove("SER_CACHE")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ser")
}

/// Runs a sweep to its end; returns (exit code, stderr).
fn sweep(file: &Path, dir: &Path) -> (i32, String) {
    let out = spawn_sweep(file, dir).wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Waits (polling) until `cond` holds or the child exits; false after `limit` (a hang guard).
fn wait_until(child: &mut Child, limit: Duration, cond: impl Fn() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if cond() {
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("nothing happened in {limit:?}: a hang?");
}

/// Waits for a child to exit, failing after `limit` (it did not stop).
fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let t0 = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(t0.elapsed() < limit, "did not exit within {limit:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn job_dirs(results: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(results)
        .map(|e| {
            e.map(|e| e.unwrap().path())
                .filter(|p| p.join("config.toml").is_file())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

fn sha256(path: &Path) -> String {
    format!("{:x}", Sha256::digest(fs::read(path).unwrap()))
}

/// No file that looks complete is not: every visible JSON parses; a cache entry with its
/// metadata has files matching their checksums; a checkpoint's state names files that match
/// theirs; a job with `metrics.json` has all its results; a corpus with its marker has every clip
/// whole. Hidden temporaries (`.NAME.PID-N.tmp`) are what a killed writer leaves: never read.
fn nothing_half_written_looks_complete(dir: &Path) {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) {
        for e in fs::read_dir(p).into_iter().flatten().flatten() {
            let path = e.path();
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, &mut files);
    for f in &files {
        if f.extension().is_some_and(|e| e == "json") {
            let text = fs::read_to_string(f).unwrap();
            let v: serde_json::Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} looks complete but is not: {e}", f.display()));
            let name = f.file_name().unwrap().to_string_lossy();
            let parent = f.parent().unwrap();
            let checksums = v.get("checksums").and_then(|c| c.as_object());
            if name == "meta.json" || name == "state.json" {
                for (file, sum) in checksums.into_iter().flatten() {
                    assert_eq!(
                        &sha256(&parent.join(file)),
                        sum.as_str().unwrap(),
                        "{} does not match {}",
                        parent.join(file).display(),
                        f.display()
                    );
                }
            }
            if name == "metrics.json" {
                for need in [
                    "model.bpk",
                    "report.txt",
                    "confusion.csv",
                    "history.csv",
                    "run.json",
                ] {
                    assert!(
                        parent.join(need).is_file(),
                        "{} without {need}",
                        f.display()
                    );
                }
            }
            if name == "synth.json" {
                let clips = fs::read_dir(parent)
                    .unwrap()
                    .flatten()
                    .filter(|e| e.path().extension().is_some_and(|x| x == "wav"))
                    .count();
                assert_eq!(clips, 288, "{} marks an incomplete corpus", f.display());
            }
        }
        if f.extension().is_some_and(|e| e == "wav") {
            // A clip is whole: its RIFF size is its length.
            let bytes = fs::read(f).unwrap();
            let riff = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
            assert_eq!(riff + 8, bytes.len(), "{} is cut short", f.display());
        }
    }
}

/// Two results folders hold the same jobs with the same results (timings aside).
fn same_results(a: &Path, b: &Path) {
    let (ja, jb) = (job_dirs(a), job_dirs(b));
    assert_eq!(ja.len(), jb.len());
    assert!(!ja.is_empty());
    for (x, y) in ja.iter().zip(&jb) {
        assert_eq!(x.file_name(), y.file_name());
        crate::common::same_run(x, y);
    }
}

/// The reference: the same experiment swept once, unbroken (its own corpus and cache).
fn unbroken(epochs: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path(), epochs);
    let (code, err) = sweep(&file, dir.path());
    assert_eq!(code, 0, "{err}");
    let results = dir.path().join("results/faults");
    (dir, results)
}

/// Epochs checkpointed over the sweep's jobs (a done job counts its state's epochs too).
fn progress(dir: &Path) -> u64 {
    job_dirs(&dir.join("results/faults"))
        .iter()
        .filter_map(|j| fs::read_to_string(j.join("checkpoint/state.json")).ok())
        .filter_map(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .filter_map(|v| v["epoch"].as_u64())
        .sum()
}

fn phase(dir: &Path) -> &'static str {
    let results = dir.join("results/faults");
    let done = job_dirs(&results)
        .iter()
        .filter(|j| j.join("metrics.json").exists())
        .count();
    if !dir.join("data/synth/synth.json").exists() {
        "corpus generation"
    } else if !fs::read_dir(dir.join("cache"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| e.path().join("meta.json").exists())
    {
        "feature extraction"
    } else if done == 2 {
        "report"
    } else {
        "training, checkpoints, results"
    }
}

#[test]
fn sigkill_at_random_moments_then_a_rerun_equals_an_unbroken_sweep() {
    let epochs = 40;
    let (_keep, reference) = unbroken(epochs);
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path(), epochs);
    let mut rng = ChaCha8Rng::seed_from_u64(20);
    let mut hit: Vec<&str> = Vec::new();
    let mut finished_early = 0;
    let mut last = 0;
    for k in 0..KILLS {
        let mut child = spawn_sweep(&file, dir.path());
        let d = dir.path().to_path_buf();
        // Moments spread over the phases: the first kills during corpus generation, the next
        // during extraction, the rest in training, each after at least one more epoch than the
        // last kill saw (so the test does not depend on this machine's speed), at a random
        // point of the next one (checkpoints and results are written then).
        let reached = match k {
            0..=3 => wait_until(&mut child, Duration::from_secs(60), || true),
            4..=7 => wait_until(&mut child, Duration::from_secs(60), || {
                d.join("data/synth/synth.json").exists()
            }),
            _ => wait_until(&mut child, Duration::from_secs(60), || progress(&d) > last),
        };
        let delay = match k {
            0..=3 => rng.random_range(30..600),
            4..=7 => rng.random_range(0..150),
            _ => rng.random_range(0..60),
        };
        std::thread::sleep(Duration::from_millis(delay));
        last = progress(dir.path());
        let where_ = phase(dir.path());
        let alive = reached && child.try_wait().unwrap().is_none();
        child.kill().unwrap();
        child.wait().unwrap();
        if alive {
            hit.push(where_);
        } else {
            finished_early += 1;
        }
        nothing_half_written_looks_complete(dir.path());
        // A killed build's leftover folder is removed by the next build of the same thing.
        let leftovers = fs::read_dir(dir.path().join("data"))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".synth."))
            .count();
        assert!(
            leftovers <= 1,
            "{leftovers} half-built corpora left beside data/synth"
        );
    }
    eprintln!("{KILLS} SIGKILLs: {hit:?}; {finished_early} runs had ended before their kill");
    for phase in [
        "corpus generation",
        "feature extraction",
        "training, checkpoints, results",
    ] {
        assert!(hit.contains(&phase), "no kill during {phase}: {hit:?}");
    }
    assert!(hit.len() >= KILLS - 2, "too few kills landed: {hit:?}");
    let (code, err) = sweep(&file, dir.path());
    assert_eq!(code, 0, "{err}");
    nothing_half_written_looks_complete(dir.path());
    same_results(&reference, &dir.path().join("results/faults"));
}

#[test]
fn sigint_and_sigterm_stop_cleanly_record_interrupted_and_resume() {
    let epochs = 40;
    let (_keep, reference) = unbroken(epochs);
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        let dir = tempfile::tempdir().unwrap();
        let file = experiment(dir.path(), epochs);
        let mut child = spawn_sweep(&file, dir.path());
        let results = dir.path().join("results/faults");
        let r = results.clone();
        // A few epochs in.
        assert!(wait_until(&mut child, Duration::from_secs(60), || {
            job_dirs(&r)
                .iter()
                .any(|j| j.join("checkpoint/epoch-0003").exists())
        }));
        let sent = Instant::now();
        let ok = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        let status = wait_exit(&mut child, Duration::from_secs(30));
        let took = sent.elapsed();
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(code), "SIG{signal}: {err}");
        assert!(
            err.contains(&format!("interrupted by SIG{signal}")),
            "{err}"
        );
        // Jobs run side by side (`--jobs auto`): each running one is recorded as interrupted.
        let stopped: Vec<PathBuf> = job_dirs(&results)
            .into_iter()
            .filter(|j| j.join("interrupted.txt").exists())
            .collect();
        assert!(!stopped.is_empty(), "no job recorded as interrupted");
        for job in &stopped {
            assert!(!job.join("error.txt").exists(), "recorded as failed");
            assert!(!job.join("metrics.json").exists());
        }
        let status_text = String::from_utf8(
            Command::new(ser_path())
                .arg("status")
                .arg(&results)
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        assert!(status_text.contains("interrupted"), "{status_text}");
        nothing_half_written_looks_complete(dir.path());
        // The same command again resumes it from its checkpoint and finishes everything.
        let (rc, err) = sweep(&file, dir.path());
        assert_eq!(rc, 0, "{err}");
        // The job that was 3 epochs in resumed from its checkpoint, not from scratch.
        let resumed = stopped
            .iter()
            .filter_map(|job| {
                assert!(!job.join("interrupted.txt").exists());
                let run: serde_json::Value =
                    serde_json::from_str(&fs::read_to_string(job.join("run.json")).unwrap())
                        .unwrap();
                run["resumed_from_epoch"].as_u64()
            })
            .max();
        assert!(resumed.is_some_and(|e| e >= 3), "{resumed:?}");
        same_results(&reference, &results);
        eprintln!("SIG{signal}: exit {code} after {took:?}, resumed, results equal");
    }
}

#[test]
fn a_damaged_cache_entry_and_checkpoint_are_named_and_rebuilt() {
    let epochs = 12;
    let (_keep, reference) = unbroken(epochs);
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path(), epochs);
    let results = dir.path().join("results/faults");
    // Stop the first job a few epochs in (SIGKILL: its checkpoint stays).
    let mut child = spawn_sweep(&file, dir.path());
    let r = results.clone();
    assert!(wait_until(&mut child, Duration::from_secs(60), || {
        job_dirs(&r)
            .iter()
            .any(|j| j.join("checkpoint/epoch-0003").exists())
    }));
    child.kill().unwrap();
    child.wait().unwrap();
    // One byte of the cached features and of the checkpoint's model changed.
    let flip = |p: &Path| {
        let mut b = fs::read(p).unwrap();
        let i = b.len() - 9;
        b[i] ^= 0x40;
        fs::write(p, b).unwrap();
    };
    let entry = fs::read_dir(dir.path().join("cache"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("meta.json").exists())
        .unwrap();
    flip(&entry.join("features.npy"));
    let job = job_dirs(&results)
        .into_iter()
        .find(|j| j.join("checkpoint/state.json").exists())
        .unwrap();
    let state: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(job.join("checkpoint/state.json")).unwrap())
            .unwrap();
    let epoch_dir = state["dir"].as_str().unwrap().to_string();
    flip(&job.join("checkpoint").join(&epoch_dir).join("model.bpk"));
    let (code, err) = sweep(&file, dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("damaged cache file") && err.contains("features.npy"),
        "the damaged cache entry is not named: {err}"
    );
    assert!(
        err.contains("damaged checkpoint") && err.contains(&format!("{epoch_dir}/model.bpk")),
        "the damaged checkpoint is not named: {err}"
    );
    // Rebuilt: the entry matches its checksums again, the job trained from epoch 1.
    nothing_half_written_looks_complete(dir.path());
    let run: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(job.join("run.json")).unwrap()).unwrap();
    assert!(
        run["resumed_from_epoch"].is_null(),
        "{}",
        run["resumed_from_epoch"]
    );
    same_results(&reference, &results);
}

#[test]
fn two_sweeps_on_one_folder_run_each_job_once() {
    let epochs = 12;
    let (_keep, reference) = unbroken(epochs);
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path(), epochs);
    // The corpus first (what is tried here is the jobs' locks, not two generators racing);
    // both sweeps start together and share everything else, the features included.
    ser::corpus::synth::generate(&dir.path().join("data/synth"), 4, 0).unwrap();
    let a = spawn_sweep(&file, dir.path());
    let b = spawn_sweep(&file, dir.path());
    let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    let mut ran_now = 0;
    for out in &outs {
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{err}");
        // "N of M jobs done (X now, Y before)": X counts this process's runs.
        let now: usize = err
            .split(" now,")
            .next()
            .and_then(|s| s.rsplit('(').next())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| panic!("no count in {err}"));
        ran_now += now;
    }
    assert_eq!(ran_now, 2, "each of the 2 jobs runs exactly once");
    nothing_half_written_looks_complete(dir.path());
    same_results(&reference, &dir.path().join("results/faults"));
}

/// A tmpfs of `size` at a fresh folder, or `None` (said) where this process may not mount.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!(
                "SKIPPED: cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN, as in CI); \
                 the full-disk and read-only tests did not run"
            );
            return None;
        }
        Some(Tmpfs(at.to_path_buf()))
    }

    fn remount(&self, options: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(ok.success(), "remount {options}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn used_bytes(p: &Path) -> u64 {
    let mut n = 0;
    for e in fs::read_dir(p).into_iter().flatten().flatten() {
        let m = e.metadata().unwrap();
        n += if m.is_dir() {
            used_bytes(&e.path())
        } else {
            m.len()
        };
    }
    n
}

#[test]
fn a_full_disk_stops_the_sweep_naming_the_path_and_a_rerun_with_room_finishes() {
    let epochs = 6;
    let (keep, reference) = unbroken(epochs);
    let need = used_bytes(&keep.path().join("results")) + used_bytes(&keep.path().join("cache"));
    let dir = tempfile::tempdir().unwrap();
    // The corpus stays on the big disk; results and cache go to a tmpfs with room for part.
    let file = experiment(dir.path(), epochs);
    let small = dir.path().join("small");
    let Some(fs_) = Tmpfs::mount(&small, &format!("{}k", need / 2 / 1024)) else {
        return;
    };
    let (code, err) = sweep(&file, &small);
    assert_eq!(code, 1, "{err}");
    assert!(err.to_lowercase().contains("no space left on"), "{err}");
    assert!(
        err.contains(&small.display().to_string()),
        "the path is not named: {err}"
    );
    nothing_half_written_looks_complete(&small);
    fs_.remount(&format!("size={}k", need * 4 / 1024));
    let (code, err) = sweep(&file, &small);
    assert_eq!(code, 0, "{err}");
    nothing_half_written_looks_complete(&small);
    same_results(&reference, &small.join("results/faults"));
}

#[test]
fn a_read_only_results_folder_is_an_error_naming_it_and_nothing_changes() {
    let epochs = 4;
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path(), epochs);
    let ro = dir.path().join("ro");
    let Some(fs_) = Tmpfs::mount(&ro, "64m") else {
        return;
    };
    // One job done, then the folder turns read-only.
    let mut c = Command::new(ser_path());
    c.args(["-q", "sweep"])
        .arg(&file)
        .arg("--limit")
        .arg("1")
        .arg("--out")
        .arg(ro.join("results"))
        .arg("--cache")
        .arg(ro.join("cache"))
        .current_dir(dir.path());
    assert!(c.output().unwrap().status.success());
    let before: Vec<(PathBuf, String)> = job_dirs(&ro.join("results/faults"))
        .iter()
        .flat_map(|j| fs::read_dir(j).unwrap().flatten().map(|e| e.path()))
        .filter(|p| p.is_file())
        .map(|p| (p.clone(), sha256(&p)))
        .collect();
    fs_.remount("ro");
    let (code, err) = sweep(&file, &ro);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("Read-only file system"), "{err}");
    assert!(
        err.contains(&ro.display().to_string()),
        "the path is not named: {err}"
    );
    for (p, sum) in &before {
        assert_eq!(&sha256(p), sum, "{} changed", p.display());
    }
}
