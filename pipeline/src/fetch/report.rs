//! What a fetch did: counts, failures and `fetched.json` (every file with the hash it was
//! verified against and whether that hash was pinned).

use std::{collections::BTreeMap, path::Path};

use earlyberts_format::{sha256_file, write_atomic};
use serde::Serialize;

use super::{Digest, Outcome, Sources, Target};
use crate::{Error, Result};

/// The record of a fetch, written to `fetched.json` in the data directory.
pub const FETCHED_FILE: &str = "fetched.json";

/// One entry of `fetched.json`.
#[derive(Clone, Debug, Serialize)]
pub struct FetchedFile {
    pub dest: String,
    pub url: String,
    pub pinned: bool,
    /// `sha256:…` or `git-sha1:…`.
    pub hash: String,
}

/// The outcome of fetching every target.
#[derive(Debug, Default)]
pub struct FetchReport {
    pub downloaded: usize,
    pub present: usize,
    /// Each target that failed, with why.
    pub failures: Vec<(String, Error)>,
    /// Every file now present and verified.
    pub files: Vec<FetchedFile>,
}

impl FetchReport {
    /// Tallies `results` (one per target, in order); an unpinned file is hashed to record
    /// what was accepted.
    pub fn new(
        targets: &[Target],
        results: Vec<Result<Outcome>>,
        data_dir: &Path,
    ) -> Result<FetchReport> {
        let mut report = FetchReport::default();
        for (target, result) in targets.iter().zip(results) {
            match result {
                Ok(Outcome::Downloaded) => report.downloaded += 1,
                Ok(Outcome::Present) => report.present += 1,
                Err(e) => {
                    report.failures.push((target.dest.clone(), e));
                    continue;
                }
            }
            let hash = match &target.digest {
                Digest::Sha256(h) => format!("sha256:{h}"),
                Digest::GitSha1(h) => format!("git-sha1:{h}"),
                Digest::Unpinned => {
                    format!("sha256:{}", sha256_file(&data_dir.join(&target.dest))?)
                }
            };
            report.files.push(FetchedFile {
                dest: target.dest.clone(),
                url: target.url.clone(),
                pinned: target.digest != Digest::Unpinned,
                hash,
            });
        }
        Ok(report)
    }

    /// Writes `fetched.json` into `data_dir` (created if needed).
    pub fn save(&self, data_dir: &Path) -> Result<()> {
        std::fs::create_dir_all(data_dir).map_err(|e| Error::io(data_dir, e))?;
        let text = serde_json::to_string_pretty(&self.files).expect("the record serialises");
        write_atomic(data_dir.join(FETCHED_FILE), format!("{text}\n").as_bytes())?;
        Ok(())
    }
}

/// The base URL of every host: the sources' own, then `hf_endpoint` for the Hub, then
/// each `(name, url)` mirror; a mirror must name a host the sources use.
pub fn hosts(
    sources: &Sources,
    hf_endpoint: Option<&str>,
    mirrors: &[(String, String)],
) -> Result<BTreeMap<String, String>> {
    let mut hosts = sources.hosts.clone();
    if let Some(endpoint) = hf_endpoint.filter(|e| !e.is_empty()) {
        hosts.insert("hf".into(), endpoint.into());
    }
    for (name, url) in mirrors {
        if !hosts.contains_key(name) {
            return Err(Error::UnknownHost {
                name: name.clone(),
                known: hosts.keys().cloned().collect(),
            });
        }
        hosts.insert(name.clone(), url.clone());
    }
    Ok(hosts)
}
