//! Getting a corpus's audio onto this machine, verified: CREMA-D's `AudioWAV/` folder downloaded
//! from its official repository (or a mirror) with [`download`], or taken from a local archive
//! (e.g. the Kaggle copy) with [`from_zip`].
//!
//! Both check every file against a `file,bytes,sha256` manifest (CREMA-D's is built in:
//! [`crema_d::meta::manifest`](super::crema_d::meta::manifest)) and put it in place only once its
//! size and SHA-256 match: each file is streamed into a temporary beside its target and renamed
//! ([`atomic::write_with`]), so an interrupted or corrupted transfer never leaves a file that
//! looks complete. Files already present and verified are skipped, so running the same command
//! again resumes. A file that cannot be had is not an error of the whole run: it is listed in the
//! [`FetchReport`] with the reason, and the run goes on with the others.
//!
//! Downloads run on `jobs` threads (plain blocking I/O: the work is waiting on the network, not
//! the CPU, so rayon's pool is not used). Connection errors, cut transfers, 5xx answers, timeouts
//! and bodies that do not verify are retried with exponential backoff; other 4xx answers (a file
//! the server does not have) are not, since asking again will not change the answer.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use sha2::{Digest, Sha256};

use super::check::{sha256_file, ManifestEntry};
use crate::base::{atomic, paths, progress, Error, Result};

/// Where the official repository serves the `AudioWAV/` files (Git LFS media, so the bytes
/// themselves rather than LFS pointer files).
pub const CREMA_D_BASE_URL: &str =
    "https://media.githubusercontent.com/media/CheyneyComputerScience/CREMA-D/master/AudioWAV/";

/// The folder under `--out` the files go to, as in the official repository (so an experiment's
/// `data.path = "data/CREMA-D/AudioWAV"` finds them).
pub const AUDIO_DIR: &str = "AudioWAV";

/// How [`download`] fetches.
#[derive(Debug, Clone, PartialEq)]
pub struct DownloadOptions {
    /// URL of the folder holding the files; a file's URL is this joined with its name.
    pub base_url: String,
    /// Files downloaded at once (threads).
    pub jobs: usize,
    /// Further tries of a file after a transient failure.
    pub retries: u32,
    /// Wait before the first retry; each further retry waits twice as long as the one before.
    pub retry_delay: Duration,
    /// Limit for one request, from connecting to the body's last byte, so a server that stalls
    /// costs at most this much per try.
    pub timeout: Duration,
    /// After this many files in a row failed with transient errors (every retry spent), the rest
    /// are not attempted: the server or the network is down, and going on would spend the
    /// retries' backoff on each of thousands of files (hours) to report the same. 0: never.
    pub give_up_after: usize,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        Self {
            base_url: CREMA_D_BASE_URL.to_string(),
            jobs: 8,
            retries: 4,
            retry_delay: Duration::from_secs(1),
            timeout: Duration::from_secs(60),
            give_up_after: 32,
        }
    }
}

/// Where the files came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Downloaded: the base URL.
    Url(String),
    /// Taken from a local archive.
    Archive(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Url(u) => write!(f, "{u}"),
            Source::Archive(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A manifest file that could not be had, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Name as listed in the manifest.
    pub name: String,
    /// What went wrong (on the last try).
    pub reason: String,
}

/// What a fetch did.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchReport {
    /// Where the files are (`OUT/AudioWAV`).
    pub dir: PathBuf,
    /// Where they came from.
    pub source: Source,
    /// Files the manifest lists.
    pub listed: usize,
    /// Files written and verified by this run.
    pub fetched: usize,
    /// Files that were already present and verified (left as they were).
    pub already: usize,
    /// Files that could not be had, sorted by name; each is absent from `dir` or left as it was.
    pub failed: Vec<Failure>,
    /// Archive entries that the manifest does not list (ignored); 0 for downloads.
    pub ignored: usize,
    /// Bytes written by this run (the fetched files).
    pub bytes: u64,
    /// Wall time of the run.
    pub seconds: f64,
}

impl FetchReport {
    /// True when every listed file is now present and verified.
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty()
    }

    /// The error that the failures amount to (`None` when complete): a [`Error::Download`] for
    /// downloads, a [`Error::Corpus`] about the archive otherwise; both exit with 1.
    pub fn error(&self) -> Option<Error> {
        if self.is_complete() {
            return None;
        }
        let n = self.failed.len();
        let (files, is) = if n == 1 {
            ("file", "is")
        } else {
            ("files", "are")
        };
        Some(match &self.source {
            Source::Url(url) => Error::download(
                url.clone(),
                format!(
                    "{n} {files} of {} could not be fetched (listed above); run the same \
                     command again to retry (verified files are skipped), or pass --base-url \
                     for a mirror",
                    self.listed
                ),
            ),
            Source::Archive(path) => Error::Corpus {
                path: path.clone(),
                message: format!(
                    "{n} manifest {files} of {} {is} missing from the archive or altered in it \
                     (listed above); use a complete copy of the corpus, or download what is \
                     missing with `ser data fetch crema-d --out {}`",
                    self.listed,
                    self.dir.parent().unwrap_or(&self.dir).display()
                ),
            },
        })
    }
}

/// Downloads every file of `manifest` that `out/AudioWAV` lacks (or holds altered) from
/// `opts.base_url`, `opts.jobs` at a time, each verified before it is put in place.
///
/// Errors only for what stops the whole run: invalid options (exit 2), a manifest name that is not
/// a plain file name, a folder that cannot be created. Files that fail are in the report.
pub fn download(
    manifest: &[ManifestEntry],
    out: &Path,
    opts: &DownloadOptions,
) -> Result<FetchReport> {
    let start = Instant::now();
    if opts.jobs == 0 {
        return Err(Error::Usage(
            "--jobs 0: at least one download must run at a time; pass --jobs 1 or more".into(),
        ));
    }
    if opts.timeout.is_zero() {
        return Err(Error::Usage(
            "--timeout 0: every request would time out; pass a positive number of seconds".into(),
        ));
    }
    let base = opts.base_url.trim();
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(Error::Usage(format!(
            "--base-url {base}: expected an http:// or https:// URL of the folder holding the \
             files (default {CREMA_D_BASE_URL})"
        )));
    }
    let base = if base.ends_with('/') {
        base.to_string()
    } else {
        format!("{base}/")
    };
    check_names(manifest)?;
    let dir = prepare_dir(out)?;

    let mut config = ureq::Agent::config_builder().timeout_global(Some(opts.timeout));
    // A proxy from the environment (HTTP_PROXY, ...) is used for mirrors and the official
    // repository, never for this machine's own loopback server, which no proxy can reach.
    if is_loopback(&base) {
        config = config.proxy(None);
    }
    let agent: ureq::Agent = config.build().into();
    let files_bar = progress::bar(manifest.len() as u64, "files");
    let bytes_bar = progress::bytes_bar(manifest.iter().map(|e| e.bytes).sum(), "bytes");
    let next = AtomicUsize::new(0);
    // Files in a row that failed transiently, and the last such reason (the breaker's state).
    let streak: Mutex<(usize, String)> = Mutex::new((0, String::new()));
    let outcomes: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; manifest.len()]);
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.min(manifest.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(entry) = manifest.get(i) else { break };
                let given_up = streak
                    .lock()
                    .ok()
                    .filter(|s| opts.give_up_after > 0 && s.0 >= opts.give_up_after)
                    .map(|s| s.1.clone());
                let outcome = match given_up {
                    Some(last) => Outcome::Failed(format!(
                        "not attempted: {} files in a row could not be fetched (the last: {last}), \
                         so the server or the network looks down; run the same command again later",
                        opts.give_up_after
                    )),
                    None => {
                        let url = format!("{base}{}", encode_path_segment(&entry.name));
                        let (outcome, transient) =
                            fetch_file(&agent, &url, entry, &dir, opts, &bytes_bar);
                        if let Ok(mut s) = streak.lock() {
                            match (&outcome, transient) {
                                (Outcome::Failed(why), true) => *s = (s.0 + 1, why.clone()),
                                (Outcome::Failed(_), false) => {}
                                _ => s.0 = 0,
                            }
                        }
                        outcome
                    }
                };
                files_bar.inc(1);
                if let Ok(mut o) = outcomes.lock() {
                    o[i] = Some(outcome);
                }
            });
        }
    });
    files_bar.finish_and_clear();
    bytes_bar.finish_and_clear();
    let outcomes = outcomes.into_inner().unwrap_or_default();
    Ok(tally(
        dir,
        Source::Url(base),
        manifest,
        outcomes,
        0,
        start.elapsed().as_secs_f64(),
    ))
}

/// Takes every file of `manifest` that `out/AudioWAV` lacks (or holds altered) from the zip
/// archive `archive`, matching entries by file name whatever folder they are in, each verified
/// before it is put in place.
///
/// The archive is audited before anything is written: entries that would land outside `out` if
/// unpacked (`..` components, absolute paths, symbolic links) make it refused as a whole, with an
/// error naming each. Entries the manifest does not list are counted as ignored; listed files the
/// archive lacks are failures.
pub fn from_zip(archive: &Path, manifest: &[ManifestEntry], out: &Path) -> Result<FetchReport> {
    let start = Instant::now();
    check_names(manifest)?;
    let file = File::open(archive).map_err(|e| Error::io(archive, e))?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| {
        Error::format(
            archive,
            format!("not a readable zip archive ({e}); pass the .zip file as downloaded"),
        )
    })?;

    let wanted: HashMap<&str, usize> = manifest
        .iter()
        .enumerate()
        .map(|(i, e)| (e.name.as_str(), i))
        .collect();
    // Entries per manifest file, in archive order (a copy may hold one name in two folders).
    let mut entries: Vec<Vec<usize>> = vec![Vec::new(); manifest.len()];
    let mut refused = Vec::new();
    let mut ignored = 0;
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).map_err(|e| {
            Error::format(
                archive,
                format!("entry {i} cannot be read ({e}); the archive is damaged"),
            )
        })?;
        let name = entry.name().to_string();
        if let Some(why) = escapes(&name, entry.is_symlink(), entry.enclosed_name().is_none()) {
            refused.push(format!("`{name}` ({why})"));
            continue;
        }
        if entry.is_dir() {
            continue;
        }
        let file_name = name.rsplit(['/', '\\']).next().unwrap_or(&name);
        match wanted.get(file_name) {
            Some(&m) => entries[m].push(i),
            None => ignored += 1,
        }
    }
    if !refused.is_empty() {
        return Err(Error::Corpus {
            path: archive.to_path_buf(),
            message: format!(
                "refused: {} entr{} would land outside {} if unpacked: {}; nothing was written. \
                 Use an archive whose entries are plain relative paths (such as the Kaggle copy's \
                 AudioWAV/<name>.wav), or download the files with `ser data fetch crema-d`",
                refused.len(),
                if refused.len() == 1 { "y" } else { "ies" },
                out.display(),
                refused.join(", ")
            ),
        });
    }

    let dir = prepare_dir(out)?;
    let files_bar = progress::bar(manifest.len() as u64, "files");
    let bytes_bar = progress::bytes_bar(manifest.iter().map(|e| e.bytes).sum(), "bytes");
    let mut outcomes = Vec::with_capacity(manifest.len());
    for (entry, indices) in manifest.iter().zip(&entries) {
        let target = dir.join(&entry.name);
        let outcome = if is_verified(&target, entry) {
            bytes_bar.inc(entry.bytes);
            Outcome::Already
        } else if indices.is_empty() {
            Outcome::Failed("not in the archive".into())
        } else {
            let mut outcome = Outcome::Failed(String::new());
            for &i in indices {
                outcome = match extract(&mut zip, i, entry, &target, &bytes_bar) {
                    Ok(()) => Outcome::Fetched(entry.bytes),
                    Err(reason) => Outcome::Failed(reason),
                };
                if matches!(outcome, Outcome::Fetched(_)) {
                    break;
                }
            }
            outcome
        };
        files_bar.inc(1);
        outcomes.push(Some(outcome));
    }
    files_bar.finish_and_clear();
    bytes_bar.finish_and_clear();
    Ok(tally(
        dir,
        Source::Archive(archive.to_path_buf()),
        manifest,
        outcomes,
        ignored,
        start.elapsed().as_secs_f64(),
    ))
}

/// What happened to one manifest file.
#[derive(Debug, Clone)]
enum Outcome {
    /// Present and verified before the run.
    Already,
    /// Written and verified: its size.
    Fetched(u64),
    /// Not had, with the reason.
    Failed(String),
}

fn tally(
    dir: PathBuf,
    source: Source,
    manifest: &[ManifestEntry],
    outcomes: Vec<Option<Outcome>>,
    ignored: usize,
    seconds: f64,
) -> FetchReport {
    let mut report = FetchReport {
        dir,
        source,
        listed: manifest.len(),
        fetched: 0,
        already: 0,
        failed: Vec::new(),
        ignored,
        bytes: 0,
        seconds,
    };
    for (entry, outcome) in manifest.iter().zip(outcomes) {
        match outcome {
            Some(Outcome::Already) => report.already += 1,
            Some(Outcome::Fetched(bytes)) => {
                report.fetched += 1;
                report.bytes += bytes;
            }
            Some(Outcome::Failed(reason)) => report.failed.push(Failure {
                name: entry.name.clone(),
                reason,
            }),
            // Only a worker that panicked leaves a slot empty.
            None => report.failed.push(Failure {
                name: entry.name.clone(),
                reason: "not attempted (a download thread failed)".into(),
            }),
        }
    }
    report.failed.sort_by(|a, b| a.name.cmp(&b.name));
    report
}

/// Manifest names become paths under the output folder and URL segments, so each must be one
/// plain file name: a manifest naming `../x` must not write outside `--out`.
fn check_names(manifest: &[ManifestEntry]) -> Result<()> {
    let bad: Vec<&str> = manifest
        .iter()
        .map(|e| e.name.as_str())
        .filter(|n| n.is_empty() || *n == "." || *n == ".." || n.contains(['/', '\\', '\0', ':']))
        .collect();
    if bad.is_empty() {
        return Ok(());
    }
    Err(Error::Data(format!(
        "manifest: {} name{} not a plain file name ({}); a manifest for `ser data fetch` lists \
         the files of the AudioWAV folder by name, e.g. 1001_DFA_ANG_XX.wav",
        bad.len(),
        if bad.len() == 1 { " is" } else { "s are" },
        bad.iter()
            .take(5)
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// Creates `out/AudioWAV` and clears the temporaries an earlier, killed run left there (a
/// temporary ends in `.wav` and would be read as a misnamed clip).
fn prepare_dir(out: &Path) -> Result<PathBuf> {
    let dir = out.join(AUDIO_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let removed = atomic::remove_stale_temporaries(&dir)?;
    if removed > 0 {
        tracing::info!(
            "{}: removed {removed} partial file(s) an interrupted run left",
            dir.display()
        );
    }
    Ok(dir)
}

/// True when `path` is a file of the manifest's size and SHA-256.
fn is_verified(path: &Path, entry: &ManifestEntry) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == entry.bytes)
        && sha256_file(path).is_ok_and(|h| h == entry.sha256)
}

/// Why an archive entry named `name` would land outside the output folder, if it would.
fn escapes(name: &str, symlink: bool, not_enclosed: bool) -> Option<String> {
    if symlink {
        Some("a symbolic link".into())
    } else if let Some(why) = paths::escape(name) {
        Some(why.to_string())
    } else if not_enclosed {
        Some("a path that leaves the archive's folder".into())
    } else {
        None
    }
}

/// Decompresses entry `index` into `target` through a temporary, verifying size and SHA-256.
/// The error is the reason, for the report.
fn extract<R: Read + std::io::Seek>(
    zip: &mut zip::ZipArchive<R>,
    index: usize,
    entry: &ManifestEntry,
    target: &Path,
    bytes_bar: &ProgressBar,
) -> std::result::Result<(), String> {
    let mut reason = None;
    let mut counted = 0;
    let result = atomic::write_with(target, |tmp| {
        let outcome = zip
            .by_index(index)
            .map_err(|e| format!("cannot read the archive entry: {e}"))
            .and_then(|mut file| {
                let name = file.name().to_string();
                let corrupt = |e| Attempt::Permanent(format!("cannot decompress: {e}"));
                copy_verified(&mut file, corrupt, tmp, entry, bytes_bar, &mut counted).map_err(
                    |a| {
                        let why = match a {
                            Attempt::Transient(m) | Attempt::Permanent(m) => m,
                        };
                        format!("archive entry {name}: {why}")
                    },
                )
            });
        outcome.map_err(|m| {
            reason = Some(m.clone());
            Error::Data(m)
        })
    });
    result.map_err(|e| {
        bytes_bar.dec(counted);
        reason.unwrap_or_else(|| e.to_string())
    })
}

/// One try's failure: worth another try or not.
enum Attempt {
    Transient(String),
    Permanent(String),
}

/// Streams `body` into the new file `tmp`, hashing as it goes, and checks size and SHA-256
/// against `entry`. Never reads more than one byte past the expected size, so a server sending
/// something else entirely cannot fill the disk. `counted` is what was added to `bytes_bar`.
fn copy_verified(
    body: &mut dyn Read,
    read_error: impl Fn(std::io::Error) -> Attempt,
    tmp: &Path,
    entry: &ManifestEntry,
    bytes_bar: &ProgressBar,
    counted: &mut u64,
) -> std::result::Result<(), Attempt> {
    let mut file = File::create(tmp)
        .map_err(|e| Attempt::Permanent(format!("cannot create {}: {e}", tmp.display())))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut n: u64 = 0;
    loop {
        let k = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error(e)),
        };
        n += k as u64;
        if n > entry.bytes {
            return Err(Attempt::Transient(format!(
                "more than the manifest's {} bytes",
                entry.bytes
            )));
        }
        hasher.update(&buf[..k]);
        file.write_all(&buf[..k])
            .map_err(|e| Attempt::Permanent(format!("cannot write {}: {e}", tmp.display())))?;
        bytes_bar.inc(k as u64);
        *counted += k as u64;
    }
    if n != entry.bytes {
        return Err(Attempt::Transient(format!(
            "cut short: {n} of {} bytes",
            entry.bytes
        )));
    }
    let sha: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if sha != entry.sha256 {
        return Err(Attempt::Transient(format!(
            "sha256 {sha}, manifest says {}",
            entry.sha256
        )));
    }
    Ok(())
}

/// Whether `url` (`http://HOST[:PORT]/...`) names this machine's loopback interface.
fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host_port = rest.split('/').next().unwrap_or("");
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host_port.rsplit_once(':').map_or(host_port, |(h, _)| h),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Gets one file: skipped when already verified, else tried up to `1 + retries` times. The flag
/// is true for a failure whose last try failed transiently.
fn fetch_file(
    agent: &ureq::Agent,
    url: &str,
    entry: &ManifestEntry,
    dir: &Path,
    opts: &DownloadOptions,
    bytes_bar: &ProgressBar,
) -> (Outcome, bool) {
    let target = dir.join(&entry.name);
    if is_verified(&target, entry) {
        bytes_bar.inc(entry.bytes);
        return (Outcome::Already, false);
    }
    let mut delay = opts.retry_delay;
    let mut tries = 0;
    loop {
        tries += 1;
        match fetch_once(agent, url, entry, &target, opts, bytes_bar) {
            Ok(()) => return (Outcome::Fetched(entry.bytes), false),
            Err(Attempt::Permanent(why)) => {
                return (Outcome::Failed(format!("{why} ({url})")), false)
            }
            Err(Attempt::Transient(why)) if tries > opts.retries => {
                let tried = if tries == 1 {
                    "tried once".to_string()
                } else {
                    format!("tried {tries} times")
                };
                return (Outcome::Failed(format!("{why} ({url}, {tried})")), true);
            }
            Err(Attempt::Transient(why)) => {
                tracing::debug!("{url}: {why}; retrying in {delay:?}");
                std::thread::sleep(delay);
                // Doubling backs off from a server in trouble; the cap keeps a long run of
                // retries from waiting for hours.
                delay = (delay * 2).min(Duration::from_secs(300));
            }
        }
    }
}

/// One request for `url`, streamed into a temporary beside `target` and renamed into place once
/// verified; on any failure the temporary is removed and `target` left as it was.
fn fetch_once(
    agent: &ureq::Agent,
    url: &str,
    entry: &ManifestEntry,
    target: &Path,
    opts: &DownloadOptions,
    bytes_bar: &ProgressBar,
) -> std::result::Result<(), Attempt> {
    let mut attempt = None;
    let mut counted = 0;
    let result = atomic::write_with(target, |tmp| {
        let outcome = agent
            .get(url)
            .call()
            .map_err(|e| classify(e, opts.timeout))
            .and_then(|response| {
                let mut body = response.into_body().into_reader();
                // ureq wraps its own errors (a timeout mid-body) in io::Error; `from` unwraps.
                let read_error = |e| classify(ureq::Error::from(e), opts.timeout);
                copy_verified(&mut body, read_error, tmp, entry, bytes_bar, &mut counted)
            });
        outcome.map_err(|a| {
            let message = match &a {
                Attempt::Transient(m) | Attempt::Permanent(m) => m.clone(),
            };
            attempt = Some(a);
            Error::download(url, message)
        })
    });
    match result {
        Ok(()) => Ok(()),
        Err(e) => {
            bytes_bar.dec(counted);
            // No attempt recorded: the download verified but could not be renamed into place.
            Err(attempt.unwrap_or_else(|| Attempt::Permanent(e.to_string())))
        }
    }
}

/// Sorts a request's error into worth-retrying or not, with a message for the report.
fn classify(e: ureq::Error, timeout: Duration) -> Attempt {
    use ureq::Error as U;
    match e {
        U::StatusCode(code) => {
            let reason = ureq::http::StatusCode::from_u16(code)
                .ok()
                .and_then(|s| s.canonical_reason())
                .map(|r| format!(" {r}"))
                .unwrap_or_default();
            let message = format!("HTTP {code}{reason}");
            // 5xx: the server's trouble, often passing; 408 and 429: asked to come back later.
            if code >= 500 || code == 408 || code == 429 {
                Attempt::Transient(message)
            } else {
                Attempt::Permanent(message)
            }
        }
        U::Timeout(_) => Attempt::Transient(format!(
            "timed out: no complete answer within {} s (--timeout)",
            timeout.as_secs_f64()
        )),
        U::Io(io) => Attempt::Transient(format!("connection: {io}")),
        U::HostNotFound => Attempt::Transient("host not found".into()),
        U::ConnectionFailed => Attempt::Transient("connection failed".into()),
        U::Protocol(p) => Attempt::Transient(format!("bad HTTP answer: {p}")),
        other => Attempt::Permanent(other.to_string()),
    }
}

/// Percent-encodes a file name for a URL path (CREMA-D's names need none; a mirror's might).
fn encode_path_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl fmt::Display for FetchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match self.source {
            Source::Url(_) => "Fetched",
            Source::Archive(_) => "Took",
        };
        writeln!(
            f,
            "{verb} {} file{} ({:.1} MB) from {} into {} in {:.1} s; {} already verified",
            self.fetched,
            if self.fetched == 1 { "" } else { "s" },
            self.bytes as f64 / 1e6,
            self.source,
            self.dir.display(),
            self.seconds,
            self.already
        )?;
        if self.ignored > 0 {
            writeln!(
                f,
                "{} archive entr{} not in the manifest ignored",
                self.ignored,
                if self.ignored == 1 { "y" } else { "ies" }
            )?;
        }
        if !self.failed.is_empty() {
            const SHOWN: usize = 20;
            writeln!(f, "Failed ({}):", self.failed.len())?;
            for fail in self.failed.iter().take(SHOWN) {
                writeln!(f, "    {}: {}", fail.name, fail.reason)?;
            }
            if self.failed.len() > SHOWN {
                writeln!(f, "    … and {} more", self.failed.len() - SHOWN)?;
            }
        }
        let ok = self.fetched + self.already;
        if self.is_complete() {
            writeln!(f, "Result: OK, all {} files verified", self.listed)
        } else {
            writeln!(
                f,
                "Result: {ok} of {} files verified, {} failed",
                self.listed,
                self.failed.len()
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls_are_told_apart() {
        for url in [
            "http://127.0.0.1:8080/AudioWAV/",
            "http://localhost/x/",
            "http://[::1]:9/",
        ] {
            assert!(is_loopback(url), "{url}");
        }
        for url in [
            "https://media.githubusercontent.com/media/x/",
            "http://10.0.0.1:80/",
        ] {
            assert!(!is_loopback(url), "{url}");
        }
    }

    #[test]
    fn unsafe_archive_names_are_recognised() {
        assert_eq!(escapes("AudioWAV/1001_DFA_ANG_XX.wav", false, false), None);
        assert_eq!(escapes("1001_DFA_ANG_XX.wav", false, false), None);
        assert_eq!(
            escapes("../evil.wav", false, false),
            Some("a `..` component".into())
        );
        assert_eq!(
            escapes("a\\..\\..\\evil.wav", false, false),
            Some("a `..` component".into())
        );
        assert_eq!(
            escapes("/tmp/evil.wav", false, false),
            Some("an absolute path".into())
        );
        assert_eq!(
            escapes("C:\\evil.wav", false, false),
            Some("an absolute path".into())
        );
        assert_eq!(
            escapes("AudioWAV/x.wav", true, false),
            Some("a symbolic link".into())
        );
    }

    #[test]
    fn names_are_encoded_for_urls_and_must_be_plain() {
        assert_eq!(
            encode_path_segment("1001_DFA_ANG_XX.wav"),
            "1001_DFA_ANG_XX.wav"
        );
        assert_eq!(encode_path_segment("a b#?.wav"), "a%20b%23%3F.wav");
        let entry = |name: &str| ManifestEntry {
            name: name.into(),
            bytes: 1,
            sha256: "0".repeat(64),
        };
        assert!(check_names(&[entry("1001_DFA_ANG_XX.wav")]).is_ok());
        for bad in ["../x.wav", "a/b.wav", "..", "c:x.wav"] {
            let e = check_names(&[entry(bad)]).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }
}
