//! Resumable, verified, retried, parallel downloads.

use std::{
    collections::BTreeMap,
    fs::{self, File, OpenOptions},
    io::{Read, Write},
    path::{Path, PathBuf},
    sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use serde::{Deserialize, Serialize};
use sha1::{Digest as _, Sha1};

use super::sources::{Digest, Target, expand_url};

type Response = ureq::http::Response<ureq::Body>;
use crate::{Error, Result};

/// How to fetch.
#[derive(Clone, Debug)]
pub struct FetchOptions {
    /// Where `dest` paths are rooted.
    pub data_dir: PathBuf,
    /// Host bases after mirrors were applied.
    pub hosts: BTreeMap<String, String>,
    /// Sent as a bearer token to the `hf` host.
    pub hf_token: Option<String>,
    /// No network: files must be present and verify.
    pub offline: bool,
    /// Downloads at once.
    pub jobs: usize,
    /// Attempts per file before giving up.
    pub tries: u32,
    /// First retry delay; doubles each time (with jitter), capped at 60 s.
    pub backoff: Duration,
}

/// What happened to one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It was there and verified.
    Present,
    /// It was downloaded (or its download finished) and verified.
    Downloaded,
}

/// Progress of the downloads, adapted to progress bars by the binary.
pub trait FetchProgress: Sync {
    fn started(&self, file: usize, dest: &str, size: Option<u64>);
    fn advanced(&self, file: usize, bytes: u64);
    fn finished(&self, file: usize, ok: bool);
}

impl FetchProgress for () {
    fn started(&self, _: usize, _: &str, _: Option<u64>) {}
    fn advanced(&self, _: usize, _: u64) {}
    fn finished(&self, _: usize, _: bool) {}
}

/// What is known of a partial download (`NAME.part.meta`).
#[derive(Debug, Default, Serialize, Deserialize)]
struct PartMeta {
    url: String,
    etag: Option<String>,
    last_modified: Option<String>,
}

/// Downloads targets.
pub struct Downloader {
    agent: ureq::Agent,
    options: FetchOptions,
}

/// Why an attempt failed: worth retrying (after at least `wait`) or not.
enum Attempt {
    Retry {
        reason: String,
        wait: Option<Duration>,
    },
    Fatal(Error),
}

impl Downloader {
    pub fn new(options: FetchOptions) -> Downloader {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .timeout_recv_body(Some(Duration::from_secs(60 * 60 * 6)))
            .build()
            .new_agent();
        Downloader { agent, options }
    }

    /// Fetches every target, `jobs` at a time; one result per target, in order.
    pub fn fetch_all(
        &self,
        targets: &[Target],
        progress: &dyn FetchProgress,
    ) -> Vec<Result<Outcome>> {
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<Result<Outcome>>>> =
            Mutex::new((0..targets.len()).map(|_| None).collect());
        std::thread::scope(|scope| {
            for _ in 0..self.options.jobs.clamp(1, targets.len().max(1)) {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(target) = targets.get(i) else { break };
                        progress.started(i, &target.dest, target.size);
                        let result = self.fetch_one(i, target, progress);
                        progress.finished(i, result.is_ok());
                        results.lock().expect("no thread panics holding the lock")[i] =
                            Some(result);
                    }
                });
            }
        });
        results
            .into_inner()
            .expect("no thread panics holding the lock")
            .into_iter()
            .map(|r| r.expect("every target was fetched"))
            .collect()
    }

    /// Fetches one file: re-verifies it when present, else downloads and verifies it.
    pub fn fetch_one(
        &self,
        index: usize,
        target: &Target,
        progress: &dyn FetchProgress,
    ) -> Result<Outcome> {
        let path = self.options.data_dir.join(&target.dest);
        if path.is_file() && verify(&path, target).is_ok() {
            progress.advanced(index, file_len(&path));
            return Ok(Outcome::Present);
        }
        let url = expand_url(&target.url, &self.options.hosts)?;
        if self.options.offline {
            let present = path.exists();
            return Err(Error::Offline { path, present });
        }
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let part = with_suffix(&path, ".part");
        let mut last = String::new();
        for attempt in 0..self.options.tries {
            match self.attempt(index, &url, target, &part, progress) {
                Ok(()) => return self.commit(&part, &path, target),
                Err(Attempt::Fatal(e)) => return Err(e),
                Err(Attempt::Retry { reason, wait }) => {
                    last = reason;
                    if attempt + 1 < self.options.tries {
                        std::thread::sleep(
                            wait.unwrap_or_default().max(self.backoff(&url, attempt)),
                        );
                    }
                }
            }
        }
        Err(Error::Fetch {
            url,
            reason: format!(
                "gave up after {} attempts; last: {last}",
                self.options.tries
            ),
        })
    }

    /// Exponential backoff with deterministic jitter (from the URL and the attempt).
    fn backoff(&self, url: &str, attempt: u32) -> Duration {
        let base = self
            .options
            .backoff
            .saturating_mul(1 << attempt.min(16))
            .min(Duration::from_secs(60));
        let jitter = xxhash_rust::xxh3::xxh3_64(format!("{url}#{attempt}").as_bytes()) % 1000;
        base + base.mul_f64(jitter as f64 / 2000.0)
    }

    /// One request: resumes `part` when it belongs to `url`.
    fn attempt(
        &self,
        index: usize,
        url: &str,
        target: &Target,
        part: &Path,
        progress: &dyn FetchProgress,
    ) -> Result<(), Attempt> {
        let meta_path = with_suffix(part, ".meta");
        let (response, asked_from) = self.request(url, target, part, &meta_path)?;
        let have = resumed_from(&response, asked_from, url, part)?;
        let header = |name: &str| header(&response, name);
        let new_meta = PartMeta {
            url: url.to_string(),
            etag: header("etag"),
            last_modified: header("last-modified"),
        };
        fs::write(
            &meta_path,
            serde_json::to_vec(&new_meta).expect("metadata serialises"),
        )
        .map_err(|e| io_fatal(&meta_path, e))?;
        progress.advanced(index, have);
        append_body(response, part, have, &|n| progress.advanced(index, n))?;
        let got = file_len(part);
        match target.size {
            Some(size) if got < size => Err(Attempt::Retry {
                reason: format!("the body ended after {got} of {size} bytes"),
                wait: None,
            }),
            _ => Ok(()),
        }
    }

    /// Sends the GET of `url`, asking for the rest of `part` when a partial download of
    /// the same URL is there; returns the response and the byte it asked to resume at.
    fn request(
        &self,
        url: &str,
        target: &Target,
        part: &Path,
        meta_path: &Path,
    ) -> Result<(Response, u64), Attempt> {
        let meta: PartMeta = fs::read(meta_path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let mut have = if meta.url == url { file_len(part) } else { 0 };
        if have > 0 && target.size.is_some_and(|size| have >= size) {
            have = 0; // complete but unverified, or too long: start over
        }
        let mut request = self.agent.get(url);
        if have > 0 {
            request = request.header("Range", format!("bytes={have}-"));
            if let Some(validator) = meta.etag.as_ref().or(meta.last_modified.as_ref()) {
                request = request.header("If-Range", validator);
            }
        }
        if let (Some(token), Some(hf)) = (&self.options.hf_token, self.options.hosts.get("hf"))
            && url.starts_with(hf.trim_end_matches('/'))
        {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let response = request.call().map_err(|e| Attempt::Retry {
            reason: e.to_string(),
            wait: None,
        })?;
        Ok((response, have))
    }
    /// Verifies `part` and renames it to `path`; a bad part is deleted.
    fn commit(&self, part: &Path, path: &Path, target: &Target) -> Result<Outcome> {
        let meta = with_suffix(part, ".meta");
        if let Err(e) = verify(part, target) {
            let _ = fs::remove_file(part);
            let _ = fs::remove_file(&meta);
            return Err(e);
        }
        fs::rename(part, path).map_err(|e| Error::io(path, e))?;
        let _ = fs::remove_file(&meta);
        if let Some(dir) = path.parent() {
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(Outcome::Downloaded)
    }
}

/// A response header as text, if present and readable.
fn header(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn io_fatal(path: &Path, e: std::io::Error) -> Attempt {
    Attempt::Fatal(Error::io(path, e))
}

/// Where the response's body starts in the file: `asked_from` for a resumed 206, 0 for a
/// full 200; any other status is a retry or a failure.
fn resumed_from(
    response: &Response,
    asked_from: u64,
    url: &str,
    part: &Path,
) -> Result<u64, Attempt> {
    let status = response.status().as_u16();
    let header = |name: &str| header(response, name);
    match status {
        200 => Ok(0), // a full body: the server ignored Range, or the file changed
        206 => {
            let start = header("content-range").and_then(|r| {
                r.strip_prefix("bytes ")
                    .and_then(|r| r.split('-').next())
                    .and_then(|s| s.parse::<u64>().ok())
            });
            if start != Some(asked_from) {
                let _ = fs::remove_file(part);
                return Err(Attempt::Retry {
                    reason: format!("the server resumed at {start:?}, not at byte {asked_from}"),
                    wait: Some(Duration::ZERO),
                });
            }
            Ok(asked_from)
        }
        429 | 500..=599 => {
            let wait = header("retry-after")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            Err(Attempt::Retry {
                reason: format!("HTTP {status}"),
                wait,
            })
        }
        _ => Err(Attempt::Fatal(Error::Fetch {
            url: url.to_string(),
            reason: format!("HTTP {status}"),
        })),
    }
}

/// Writes the response's body into `part` after its first `have` bytes, synced;
/// `advanced` is told each chunk's size. A dropped connection is a retry.
fn append_body(
    response: Response,
    part: &Path,
    have: u64,
    advanced: &dyn Fn(u64),
) -> Result<(), Attempt> {
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .append(have > 0)
        .truncate(have == 0)
        .open(part)
        .map_err(|e| io_fatal(part, e))?;
    let mut body = response
        .into_body()
        .into_with_config()
        .limit(u64::MAX)
        .reader();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                let _ = file.flush();
                return Err(Attempt::Retry {
                    reason: format!("connection lost after {} bytes: {e}", file_len(part)),
                    wait: None,
                });
            }
        };
        file.write_all(&buf[..n]).map_err(|e| io_fatal(part, e))?;
        advanced(n as u64);
    }
    file.sync_all().map_err(|e| io_fatal(part, e))
}

/// Checks size and hash; the error says expected and got.
fn verify(path: &Path, target: &Target) -> Result<()> {
    let bad = |reason: String| Error::Verify {
        path: path.to_path_buf(),
        reason,
    };
    let len = file_len(path);
    if let Some(size) = target.size
        && len != size
    {
        return Err(bad(format!("size {len} bytes, expected {size}")));
    }
    match &target.digest {
        Digest::Sha256(expected) => {
            let got = earlyberts_format::sha256_file(path)?;
            if &got != expected {
                return Err(bad(format!(
                    "sha256 mismatch: expected {expected}, got {got}"
                )));
            }
        }
        Digest::GitSha1(expected) => {
            let got = git_blob_sha1(path)?;
            if &got != expected {
                return Err(bad(format!(
                    "git blob sha1 mismatch: expected {expected}, got {got}"
                )));
            }
        }
        Digest::Unpinned => {}
    }
    Ok(())
}

/// The git object id of a file as a blob: sha1 of `blob {len}\0` and the bytes.
pub fn git_blob_sha1(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha1::new();
    hasher.update(format!("blob {}\0", file_len(path)).as_bytes());
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn file_len(path: &Path) -> u64 {
    fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}
