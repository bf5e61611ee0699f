//! `ser data fetch`: downloads from a local HTTP server started by each test (never the
//! internet), and archives made by the tests. Files carry real CREMA-D names with small
//! generated contents and a manifest made for them. Outcomes are asserted exactly, never times.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ser::corpus::check::{read_manifest, ManifestEntry};
use ser::corpus::fetch::{self, DownloadOptions, FetchReport, Source};
use sha2::{Digest, Sha256};

use crate::common::{failure, ser};

const NAMES: [&str; 4] = [
    "1001_DFA_ANG_XX.wav",
    "1001_IEO_HAP_HI.wav",
    "1002_TIE_SAD_LO.wav",
    "1091_WSI_NEU_XX.wav",
];

/// Deterministic bytes standing in for clip `i` (sizes differ, so a cut transfer is short).
fn contents(i: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_u32.wrapping_mul(i as u32 + 1);
    (0..3000 + 1500 * i)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 24) as u8
        })
        .collect()
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The files, a manifest written for them (read back as `ser` reads one), and the folder.
struct Fixture {
    dir: tempfile::TempDir,
    files: Vec<(String, Vec<u8>)>,
    manifest_path: PathBuf,
    manifest: Vec<ManifestEntry>,
}

impl Fixture {
    fn new(names: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<(String, Vec<u8>)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.to_string(), contents(i)))
            .collect();
        let mut csv = String::from("file,bytes,sha256\n");
        for (name, bytes) in &files {
            csv += &format!("{name},{},{}\n", bytes.len(), sha256(bytes));
        }
        let manifest_path = dir.path().join("manifest.csv");
        std::fs::write(&manifest_path, csv).unwrap();
        let manifest = read_manifest(&manifest_path).unwrap();
        Self {
            dir,
            files,
            manifest_path,
            manifest,
        }
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("CREMA-D")
    }

    fn audio(&self) -> PathBuf {
        self.out().join("AudioWAV")
    }

    fn bytes(&self, name: &str) -> Vec<u8> {
        self.files
            .iter()
            .find(|(n, _)| n == name)
            .unwrap()
            .1
            .clone()
    }

    /// The server's routes: every file served as is, except those in `special`.
    fn routes(&self, special: &[(&str, Behaviour)]) -> Vec<(String, Behaviour)> {
        self.files
            .iter()
            .map(|(name, bytes)| {
                let b = special
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, b)| b.clone())
                    .unwrap_or_else(|| Behaviour::Serve(bytes.clone()));
                (name.clone(), b)
            })
            .collect()
    }
}

/// Sorted names of everything in `dir` (temporaries included); empty when it does not exist.
fn listing(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn failed_names(report: &FetchReport) -> Vec<&str> {
    report.failed.iter().map(|f| f.name.as_str()).collect()
}

/// Options for the local server: short backoff and timeout, so failing tests stay quick.
fn options(url: &str) -> DownloadOptions {
    DownloadOptions {
        base_url: url.to_string(),
        jobs: 3,
        retries: 2,
        retry_delay: Duration::from_millis(1),
        timeout: Duration::from_secs(10),
        give_up_after: 32,
    }
}

// ---------------------------------------------------------------------------------------------
// A small HTTP/1.1 server: one thread per connection, one response per connection
// (`Connection: close`), each path's requests counted.

#[derive(Clone)]
enum Behaviour {
    /// 200 with these bytes.
    Serve(Vec<u8>),
    /// The first request gets the full `Content-Length` but half the body, then the connection
    /// closes; later requests are served whole.
    CutFirst(Vec<u8>),
    /// 200 with these bytes, one of them changed (right size, wrong SHA-256).
    Corrupt(Vec<u8>),
    /// The first request gets this status, later ones the bytes.
    FailFirst(u16, Vec<u8>),
    /// 404.
    NotFound,
    /// Reads the request and never answers.
    Stall,
}

struct Server {
    url: String,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Server {
    fn start(routes: Vec<(String, Behaviour)>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/media/AudioWAV/", listener.local_addr().unwrap());
        let routes: Arc<HashMap<String, Behaviour>> = Arc::new(routes.into_iter().collect());
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let counts = Arc::clone(&hits);
        // Detached: it lives as long as the test binary, blocked in accept() between tests.
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let routes = Arc::clone(&routes);
                let counts = Arc::clone(&counts);
                std::thread::spawn(move || handle(stream, &routes, &counts));
            }
        });
        Server { url, hits }
    }

    fn hits(&self, name: &str) -> usize {
        self.hits.lock().unwrap().get(name).copied().unwrap_or(0)
    }
}

fn handle(
    mut stream: TcpStream,
    routes: &HashMap<String, Behaviour>,
    hits: &Mutex<HashMap<String, usize>>,
) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let name = path.rsplit('/').next().unwrap_or("").to_string();
    let n = {
        let mut h = hits.lock().unwrap();
        let c = h.entry(name.clone()).or_insert(0);
        *c += 1;
        *c
    };
    match routes.get(&name) {
        None | Some(Behaviour::NotFound) => respond(&mut stream, 404, b"no such file"),
        Some(Behaviour::Serve(bytes)) => respond(&mut stream, 200, bytes),
        Some(Behaviour::CutFirst(bytes)) if n == 1 => {
            let header = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                bytes.len()
            );
            let _ = stream.write_all(header.as_bytes());
            let _ = stream.write_all(&bytes[..bytes.len() / 2]);
            let _ = stream.flush();
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        Some(Behaviour::CutFirst(bytes)) => respond(&mut stream, 200, bytes),
        Some(Behaviour::Corrupt(bytes)) => {
            let mut bad = bytes.clone();
            bad[bytes.len() / 3] ^= 0xff;
            respond(&mut stream, 200, &bad);
        }
        Some(Behaviour::FailFirst(code, _)) if n == 1 => respond(&mut stream, *code, b"busy"),
        Some(Behaviour::FailFirst(_, bytes)) => respond(&mut stream, 200, bytes),
        Some(Behaviour::Stall) => {
            // Until the client gives up and closes the connection.
            while let Ok(k) = stream.read(&mut buf) {
                if k == 0 {
                    break;
                }
            }
        }
    }
}

fn respond(stream: &mut TcpStream, code: u16, body: &[u8]) {
    let reason = match code {
        200 => "OK",
        404 => "Not Found",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let header = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: audio/wav\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(header.as_bytes());
    let _ = stream.write_all(body);
    let _ = stream.flush();
}

// ---------------------------------------------------------------------------------------------
// Downloads

#[test]
fn fetch_downloads_and_verifies_every_file_and_a_rerun_skips_them() {
    let fx = Fixture::new(&NAMES);
    let server = Server::start(fx.routes(&[]));
    let report = fetch::download(&fx.manifest, &fx.out(), &options(&server.url)).unwrap();
    assert_eq!(
        (
            report.listed,
            report.fetched,
            report.already,
            report.ignored
        ),
        (4, 4, 0, 0)
    );
    assert!(report.is_complete() && report.error().is_none(), "{report}");
    let total: usize = fx.files.iter().map(|(_, b)| b.len()).sum();
    assert_eq!(report.bytes, total as u64);
    assert_eq!(report.dir, fx.audio());
    assert_eq!(report.source, Source::Url(server.url.clone()));
    assert_eq!(listing(&fx.audio()), sorted(&NAMES));
    for (name, bytes) in &fx.files {
        assert_eq!(&std::fs::read(fx.audio().join(name)).unwrap(), bytes);
        assert_eq!(server.hits(name), 1);
    }
    assert!(report.to_string().contains("Result: OK"), "{report}");

    let again = fetch::download(&fx.manifest, &fx.out(), &options(&server.url)).unwrap();
    assert_eq!((again.fetched, again.already, again.bytes), (0, 4, 0));
    assert!(again.is_complete());
    for name in NAMES {
        assert_eq!(server.hits(name), 1, "{name} was requested again");
    }

    // An altered file is fetched again; the others are still skipped.
    std::fs::write(fx.audio().join(NAMES[2]), b"altered").unwrap();
    let third = fetch::download(&fx.manifest, &fx.out(), &options(&server.url)).unwrap();
    assert_eq!((third.fetched, third.already), (1, 3));
    assert_eq!(
        std::fs::read(fx.audio().join(NAMES[2])).unwrap(),
        fx.bytes(NAMES[2])
    );
}

#[test]
fn fetch_retries_a_5xx() {
    let fx = Fixture::new(&NAMES[..2]);
    let busy = Behaviour::FailFirst(503, fx.bytes(NAMES[0]));
    let server = Server::start(fx.routes(&[(NAMES[0], busy)]));
    let report = fetch::download(&fx.manifest, &fx.out(), &options(&server.url)).unwrap();
    assert!(report.is_complete(), "{report}");
    assert_eq!(report.fetched, 2);
    assert_eq!(server.hits(NAMES[0]), 2);
}

#[test]
fn fetch_after_a_cut_transfer_leaves_nothing_complete_looking_and_resumes() {
    let fx = Fixture::new(&NAMES[..3]);
    let cut = Behaviour::CutFirst(fx.bytes(NAMES[1]));
    let server = Server::start(fx.routes(&[(NAMES[1], cut)]));
    // No retries: the cut transfer is the file's only try.
    let once = DownloadOptions {
        retries: 0,
        ..options(&server.url)
    };
    let report = fetch::download(&fx.manifest, &fx.out(), &once).unwrap();
    assert_eq!(failed_names(&report), [NAMES[1]]);
    assert!(
        report.failed[0].reason.contains("tried once"),
        "{}",
        report.failed[0].reason
    );
    assert_eq!(report.fetched, 2);
    // Neither the file nor a temporary of it is left.
    assert_eq!(listing(&fx.audio()), sorted(&[NAMES[0], NAMES[2]]));

    // A rerun fetches only the missing file.
    let rerun = fetch::download(&fx.manifest, &fx.out(), &once).unwrap();
    assert!(rerun.is_complete(), "{rerun}");
    assert_eq!((rerun.fetched, rerun.already), (1, 2));
    assert_eq!(
        std::fs::read(fx.audio().join(NAMES[1])).unwrap(),
        fx.bytes(NAMES[1])
    );
    assert_eq!(server.hits(NAMES[1]), 2);

    // With retries, one run gets past the cut on its own.
    let fx = Fixture::new(&NAMES[..1]);
    let cut = Behaviour::CutFirst(fx.bytes(NAMES[0]));
    let server = Server::start(fx.routes(&[(NAMES[0], cut)]));
    let report = fetch::download(&fx.manifest, &fx.out(), &options(&server.url)).unwrap();
    assert!(report.is_complete(), "{report}");
    assert_eq!(server.hits(NAMES[0]), 2);
    assert_eq!(listing(&fx.audio()), [NAMES[0]]);
}

#[test]
fn fetch_retries_a_corrupted_body_then_reports_it_and_writes_nothing() {
    let fx = Fixture::new(&NAMES[..2]);
    let corrupt = Behaviour::Corrupt(fx.bytes(NAMES[0]));
    let server = Server::start(fx.routes(&[(NAMES[0], corrupt)]));
    let report = fetch::download(&fx.manifest, &fx.out(), &options(&server.url)).unwrap();
    // retries: 2, so three requests.
    assert_eq!(server.hits(NAMES[0]), 3);
    assert_eq!(failed_names(&report), [NAMES[0]]);
    let reason = &report.failed[0].reason;
    assert!(
        reason.contains("sha256") && reason.contains(&fx.manifest[0].sha256),
        "{reason}"
    );
    assert!(reason.contains("tried 3 times"), "{reason}");
    assert_eq!(report.fetched, 1);
    assert!(!report.is_complete());
    let e = report.error().unwrap();
    assert_eq!(e.exit_code(), 1);
    assert!(
        e.to_string().contains("1 file of 2 could not be fetched"),
        "{e}"
    );
    assert!(report
        .to_string()
        .contains("Result: 1 of 2 files verified, 1 failed"));
    assert_eq!(listing(&fx.audio()), [NAMES[1]]);
}

#[test]
fn fetch_reports_a_404_without_retrying() {
    let fx = Fixture::new(&NAMES[..2]);
    let server = Server::start(fx.routes(&[(NAMES[1], Behaviour::NotFound)]));
    let report = fetch::download(&fx.manifest, &fx.out(), &options(&server.url)).unwrap();
    assert_eq!(failed_names(&report), [NAMES[1]]);
    let reason = &report.failed[0].reason;
    assert!(reason.starts_with("HTTP 404 Not Found"), "{reason}");
    assert!(
        reason.contains(&format!("{}{}", server.url, NAMES[1])),
        "{reason}"
    );
    assert_eq!(server.hits(NAMES[1]), 1);
    assert_eq!(listing(&fx.audio()), [NAMES[0]]);
}

#[test]
fn fetch_gives_up_on_a_stalled_server_after_the_timeout() {
    let fx = Fixture::new(&NAMES[..2]);
    let server = Server::start(fx.routes(&[(NAMES[0], Behaviour::Stall)]));
    let opts = DownloadOptions {
        retries: 1,
        timeout: Duration::from_millis(300),
        ..options(&server.url)
    };
    let report = fetch::download(&fx.manifest, &fx.out(), &opts).unwrap();
    assert_eq!(failed_names(&report), [NAMES[0]]);
    let reason = &report.failed[0].reason;
    assert!(
        reason.contains("timed out") && reason.contains("tried 2 times"),
        "{reason}"
    );
    assert_eq!(report.fetched, 1);
    assert_eq!(listing(&fx.audio()), [NAMES[1]]);
}

#[test]
fn fetch_stops_trying_when_the_server_is_down() {
    let fx = Fixture::new(&NAMES);
    // A port nothing listens on: every connection is refused.
    let url = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/AudioWAV/", listener.local_addr().unwrap())
    };
    let opts = DownloadOptions {
        jobs: 1,
        retries: 1,
        give_up_after: 2,
        ..options(&url)
    };
    let report = fetch::download(&fx.manifest, &fx.out(), &opts).unwrap();
    assert_eq!(report.fetched, 0);
    assert_eq!(report.failed.len(), 4);
    // One worker takes the files in manifest order: two tried, then the rest not attempted.
    let tried: Vec<&str> = report
        .failed
        .iter()
        .filter(|f| !f.reason.starts_with("not attempted"))
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(tried, &NAMES[..2]);
    for f in &report.failed[..2] {
        assert!(f.reason.contains("tried 2 times"), "{}", f.reason);
    }
    for f in &report.failed[2..] {
        assert!(
            f.reason
                .starts_with("not attempted: 2 files in a row could not be fetched"),
            "{}",
            f.reason
        );
    }
    assert_eq!(listing(&fx.audio()), Vec::<String>::new());
}

#[test]
fn fetch_refuses_bad_options_and_manifest_names_that_leave_the_folder() {
    let fx = Fixture::new(&NAMES[..1]);
    let url = "http://127.0.0.1:9/";
    let zero = DownloadOptions {
        jobs: 0,
        ..options(url)
    };
    let e = fetch::download(&fx.manifest, &fx.out(), &zero).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("--jobs"), "{e}");
    let ftp = options("ftp://example.org/AudioWAV/");
    let e = fetch::download(&fx.manifest, &fx.out(), &ftp).unwrap_err();
    assert!(e.to_string().contains("--base-url"), "{e}");
    let mut evil = fx.manifest.clone();
    evil[0].name = "../evil.wav".into();
    let e = fetch::download(&evil, &fx.out(), &options(url)).unwrap_err();
    assert!(e.to_string().contains("`../evil.wav`"), "{e}");
    assert!(!fx.out().exists());
}

/// `ser` without proxy settings, which would send requests for 127.0.0.1 elsewhere.
fn ser_direct() -> assert_cmd::Command {
    let mut c = ser();
    for var in [
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ] {
        c.env_remove(var);
    }
    c
}

#[test]
fn cli_fetch_exits_1_and_lists_a_failed_file() {
    let fx = Fixture::new(&NAMES[..2]);
    let server = Server::start(fx.routes(&[(NAMES[0], Behaviour::NotFound)]));
    let (code, stderr) = failure(
        ser_direct()
            .args(["data", "fetch", "crema-d", "--out"])
            .arg(fx.out())
            .arg("--manifest")
            .arg(&fx.manifest_path)
            .args(["--base-url", &server.url, "--jobs", "2", "--retries", "0"]),
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("1 file of 2 could not be fetched"),
        "{stderr}"
    );
    assert_eq!(listing(&fx.audio()), [NAMES[1]]);

    let out = ser_direct()
        .args(["data", "fetch", "crema-d", "--out"])
        .arg(fx.out())
        .arg("--manifest")
        .arg(&fx.manifest_path)
        .args(["--base-url", &server.url, "--retries", "0"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout.contains(&format!("{}: HTTP 404 Not Found", NAMES[0])),
        "{stdout}"
    );
    assert!(stdout.contains("1 already verified"), "{stdout}");

    // Usage errors exit 2 before anything runs.
    let (code, stderr) = failure(
        ser_direct()
            .args(["data", "fetch", "crema-d", "--timeout", "0", "--out"])
            .arg(fx.dir.path().join("other")),
    );
    assert_eq!(code, 2, "{stderr}");
    let (code, _) = failure(ser_direct().args(["data", "fetch", "crema-e", "--out", "x"]));
    assert_eq!(code, 2);
}

// ---------------------------------------------------------------------------------------------
// Local archives

fn write_zip(path: &Path, entries: &[(&str, &[u8])], symlinks: &[(&str, &str)]) {
    let file = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.add_directory("AudioWAV/", deflated).unwrap();
    for (name, bytes) in entries {
        zip.start_file(*name, deflated).unwrap();
        zip.write_all(bytes).unwrap();
    }
    for (name, target) in symlinks {
        zip.add_symlink(*name, *target, deflated).unwrap();
    }
    zip.finish().unwrap();
}

#[test]
fn from_zip_takes_verified_files_by_name_and_skips_them_on_a_rerun() {
    let fx = Fixture::new(&NAMES);
    let archive = fx.dir.path().join("crema-d.zip");
    let mut entries: Vec<(String, Vec<u8>)> = fx
        .files
        .iter()
        .map(|(n, b)| (format!("AudioWAV/{n}"), b.clone()))
        .collect();
    // Another folder prefix is fine; files the manifest does not list are ignored.
    entries[3].0 = format!("CREMA-D-master/AudioWAV/{}", NAMES[3]);
    entries.push(("AudioWAV/README.txt".into(), b"hello".to_vec()));
    entries.push((
        "AudioWAV/1092_DFA_ANG_XX.wav".into(),
        b"not listed".to_vec(),
    ));
    let refs: Vec<(&str, &[u8])> = entries
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    write_zip(&archive, &refs, &[]);

    let report = fetch::from_zip(&archive, &fx.manifest, &fx.out()).unwrap();
    assert!(report.is_complete(), "{report}");
    assert_eq!((report.fetched, report.already, report.ignored), (4, 0, 2));
    assert_eq!(report.source, Source::Archive(archive.clone()));
    assert_eq!(listing(&fx.audio()), sorted(&NAMES));
    for (name, bytes) in &fx.files {
        assert_eq!(&std::fs::read(fx.audio().join(name)).unwrap(), bytes);
    }
    let again = fetch::from_zip(&archive, &fx.manifest, &fx.out()).unwrap();
    assert_eq!((again.fetched, again.already, again.ignored), (0, 4, 2));

    // A manifest file the archive lacks, and one whose entry does not verify, are reported.
    let partial = fx.dir.path().join("partial.zip");
    let mut wrong = fx.bytes(NAMES[1]);
    wrong[0] ^= 1;
    write_zip(
        &partial,
        &[
            (&format!("AudioWAV/{}", NAMES[0]), &fx.bytes(NAMES[0])),
            (&format!("AudioWAV/{}", NAMES[1]), &wrong),
        ],
        &[],
    );
    let out = fx.dir.path().join("other");
    let report = fetch::from_zip(&partial, &fx.manifest, &out).unwrap();
    assert_eq!(failed_names(&report), &NAMES[1..]);
    assert!(
        report.failed[0].reason.contains("sha256"),
        "{:?}",
        report.failed
    );
    assert_eq!(report.failed[1].reason, "not in the archive");
    assert_eq!(report.fetched, 1);
    assert_eq!(report.error().unwrap().exit_code(), 1);
    assert_eq!(listing(&out.join("AudioWAV")), [NAMES[0]]);
}

#[test]
fn from_zip_refuses_entries_that_would_leave_the_folder_and_writes_nothing() {
    let fx = Fixture::new(&NAMES[..2]);
    let archive = fx.dir.path().join("evil.zip");
    let good = fx.bytes(NAMES[0]);
    write_zip(
        &archive,
        &[
            (&format!("AudioWAV/{}", NAMES[0]), &good),
            ("../evil.wav", b"evil"),
            ("/tmp/absolute.wav", b"evil"),
        ],
        &[(&format!("AudioWAV/{}", NAMES[1]), "/etc/passwd")],
    );
    let e = fetch::from_zip(&archive, &fx.manifest, &fx.out()).unwrap_err();
    assert_eq!(e.exit_code(), 1);
    let message = e.to_string();
    for part in [
        "`../evil.wav` (a `..` component)",
        "`/tmp/absolute.wav` (an absolute path)",
        &format!("`AudioWAV/{}` (a symbolic link)", NAMES[1]),
        "nothing was written",
    ] {
        assert!(message.contains(part), "{part} not in: {message}");
    }
    assert!(message.contains("refused: 3 entries"), "{message}");
    assert!(!fx.out().exists());
    assert!(!fx.dir.path().join("evil.wav").exists());

    // Not a zip at all: an error naming the file.
    let e = fetch::from_zip(&fx.manifest_path, &fx.manifest, &fx.out()).unwrap_err();
    assert!(e.to_string().contains("not a readable zip archive"), "{e}");
    assert!(!fx.out().exists());
}
