//! `pipeline fetch --lock`: resolve Hub revisions to commits and record the hashes the Hub
//! publishes (LFS sha256, git blob sha1) in `sources.lock`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::sources::{HubKind, HubRef, LockFile, LockedFile, SourceFile, Sources, expand_url};
use crate::{Error, Result};

#[derive(Deserialize)]
struct RevisionInfo {
    sha: String,
}

#[derive(Deserialize)]
struct TreeEntry {
    #[serde(rename = "type")]
    kind: String,
    path: String,
    size: u64,
    oid: String,
    #[serde(default)]
    lfs: Option<LfsInfo>,
}

#[derive(Deserialize)]
struct LfsInfo {
    oid: String,
    size: u64,
}

/// Queries the Hub for every Hub entry of `sources` in `groups` (all when empty) and
/// returns their lock.
pub fn lock_sources(
    sources: &Sources,
    hosts: &BTreeMap<String, String>,
    token: Option<&str>,
    groups: &[String],
) -> Result<LockFile> {
    let api = HubApi {
        agent: ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent(),
        token,
        hosts,
    };
    let mut lock = LockFile::default();
    let wanted = |f: &&SourceFile| groups.is_empty() || groups.contains(&f.group);
    for file in sources.files.iter().filter(wanted) {
        if let Some(hub) = &file.hub {
            lock.files.extend(api.lock_entry(file, hub)?);
        }
    }
    Ok(lock)
}

/// The Hub's JSON API.
struct HubApi<'a> {
    agent: ureq::Agent,
    token: Option<&'a str>,
    hosts: &'a BTreeMap<String, String>,
}

impl HubApi<'_> {
    fn get_json(&self, url: String) -> Result<serde_json::Value> {
        let mut request = self.agent.get(&url);
        if let Some(token) = self.token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let fail = |reason: String| Error::Fetch {
            url: url.clone(),
            reason,
        };
        let response = request.call().map_err(|e| fail(e.to_string()))?;
        if response.status() != 200 {
            return Err(fail(format!("HTTP {}", response.status().as_u16())));
        }
        let text = response
            .into_body()
            .read_to_string()
            .map_err(|e| fail(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| fail(format!("not JSON: {e}")))
    }

    /// The locked files of one Hub entry: its revision resolved to a commit, and each file
    /// with the hash the Hub publishes.
    fn lock_entry(&self, file: &SourceFile, hub: &HubRef) -> Result<Vec<LockedFile>> {
        let kind = match hub.kind {
            HubKind::Dataset => "datasets",
            HubKind::Model => "models",
        };
        let base = expand_url("{hf}", self.hosts)?;
        let unexpected = |what: &str, e: serde_json::Error| Error::Fetch {
            url: hub.repo.clone(),
            reason: format!("unexpected {what} answer: {e}"),
        };
        let revision: RevisionInfo = serde_json::from_value(self.get_json(format!(
            "{base}/api/{kind}/{}/revision/{}",
            hub.repo,
            hub.revision.replace('/', "%2F")
        ))?)
        .map_err(|e| unexpected("revision", e))?;
        let dir = match (&hub.path, &hub.dir) {
            (_, Some(dir)) => dir.clone(),
            (Some(path), None) => path
                .rsplit_once('/')
                .map_or(String::new(), |(d, _)| d.to_string()),
            (None, None) => {
                return Err(Error::Source {
                    dest: file.dest.clone(),
                    reason: "a hub entry needs `path` or `dir`".into(),
                });
            }
        };
        let tree: Vec<TreeEntry> = serde_json::from_value(self.get_json(format!(
            "{base}/api/{kind}/{}/tree/{}/{dir}",
            hub.repo, revision.sha
        ))?)
        .map_err(|e| unexpected("tree", e))?;
        let mut entries: Vec<&TreeEntry> = tree
            .iter()
            .filter(|e| e.kind == "file" && hub.path.as_ref().is_none_or(|p| &e.path == p))
            .filter(|e| {
                hub.files
                    .as_ref()
                    .is_none_or(|names| names.contains(&name_of(e)))
            })
            .collect();
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        if entries.is_empty() {
            return Err(Error::Fetch {
                url: format!("{}@{}/{dir}", hub.repo, revision.sha),
                reason: "no such file on the Hub".into(),
            });
        }
        let prefix = match kind {
            "datasets" => format!("{{hf}}/datasets/{}", hub.repo),
            _ => format!("{{hf}}/{}", hub.repo),
        };
        Ok(entries
            .into_iter()
            .map(|entry| {
                let name = name_of(entry);
                LockedFile {
                    group: file.group.clone(),
                    dest: match hub.dir {
                        Some(_) => format!("{}/{name}", file.dest),
                        None => file.dest.clone(),
                    },
                    url: format!("{prefix}/resolve/{}/{}", revision.sha, entry.path),
                    size: entry.lfs.as_ref().map_or(entry.size, |l| l.size),
                    sha256: entry.lfs.as_ref().map(|l| l.oid.clone()),
                    git_sha1: entry.lfs.is_none().then(|| entry.oid.clone()),
                }
            })
            .collect())
    }
}

/// A tree entry's file name, without its directory.
fn name_of(entry: &TreeEntry) -> String {
    entry
        .path
        .rsplit('/')
        .next()
        .unwrap_or(&entry.path)
        .to_string()
}
