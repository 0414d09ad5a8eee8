//! `sources.toml` and `sources.lock`: what to download, from where, with which hash.

use std::{collections::BTreeMap, path::Path};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// `manifests/sources.toml`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Sources {
    /// Base URLs by host name; `{name}` in a URL is replaced by the base (after mirrors).
    pub hosts: BTreeMap<String, String>,
    /// The files and Hub directories.
    #[serde(rename = "file")]
    pub files: Vec<SourceFile>,
}

/// One remote file, or one Hub directory (`hub.dir`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SourceFile {
    /// Group name, for `--only`.
    pub group: String,
    /// Path under the data directory (a directory for `hub.dir` entries).
    pub dest: String,
    /// Whether a plain `pipeline fetch` downloads it.
    #[serde(default = "yes")]
    pub default: bool,
    /// A plain URL, with a `{host}` placeholder.
    #[serde(default)]
    pub url: Option<String>,
    /// A file or directory of a Hugging Face Hub repository.
    #[serde(default)]
    pub hub: Option<HubRef>,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub sha256: Option<String>,
}

fn yes() -> bool {
    true
}

/// Where on the Hub.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HubRef {
    pub kind: HubKind,
    pub repo: String,
    /// A branch, tag or commit; `--lock` resolves it to a commit.
    pub revision: String,
    /// A file of the repository ...
    #[serde(default)]
    pub path: Option<String>,
    /// ... or a directory (`""` for the top), every file of which is fetched ...
    #[serde(default)]
    pub dir: Option<String>,
    /// ... or only those of its files with these names that it has (a model revision
    /// holds its weights as `model.safetensors`, `pytorch_model.bin` or both).
    #[serde(default)]
    pub files: Option<Vec<String>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HubKind {
    Dataset,
    Model,
}

/// `manifests/sources.lock`: Hub files resolved to a commit, with the host's hashes.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LockFile {
    #[serde(rename = "file", default)]
    pub files: Vec<LockedFile>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LockedFile {
    pub group: String,
    pub dest: String,
    pub url: String,
    pub size: u64,
    /// sha256 of an LFS file, as the Hub publishes it.
    #[serde(default)]
    pub sha256: Option<String>,
    /// git blob sha1 of a small (non-LFS) file, as the Hub publishes it.
    #[serde(default)]
    pub git_sha1: Option<String>,
}

/// How a download is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Digest {
    Sha256(String),
    GitSha1(String),
    /// No known hash: allowed only with `--allow-unpinned`, and recorded as such.
    Unpinned,
}

/// One file to fetch.
#[derive(Clone, Debug)]
pub struct Target {
    pub group: String,
    pub dest: String,
    pub url: String,
    pub size: Option<u64>,
    pub digest: Digest,
}

impl Sources {
    /// The group names, each once, in the file's order.
    pub fn groups(&self) -> Vec<&str> {
        let mut groups: Vec<&str> = Vec::new();
        for file in &self.files {
            if !groups.contains(&file.group.as_str()) {
                groups.push(&file.group);
            }
        }
        groups
    }

    /// Whether some entry belongs to `group`.
    pub fn has_group(&self, group: &str) -> bool {
        self.files.iter().any(|f| f.group == group)
    }

    /// Reads a sources file.
    pub fn load(path: &Path) -> Result<Sources> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        toml::from_str(&text).map_err(|e| Error::Source {
            dest: path.display().to_string(),
            reason: e.message().to_string(),
        })
    }
}

impl LockFile {
    /// This lock with the entries of `groups` replaced by `fresh` (a lock of those groups
    /// alone), the other groups' entries kept.
    pub fn replacing_groups(self, groups: &[String], fresh: LockFile) -> LockFile {
        let mut files: Vec<LockedFile> = self
            .files
            .into_iter()
            .filter(|f| !groups.contains(&f.group))
            .collect();
        files.extend(fresh.files);
        LockFile { files }
    }

    /// Reads a lock file; a missing one is empty.
    pub fn load(path: &Path) -> Result<LockFile> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| Error::Source {
                dest: path.display().to_string(),
                reason: e.message().to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(LockFile::default()),
            Err(e) => Err(Error::io(path, e)),
        }
    }
}

/// The files to fetch for `groups` (all default groups when empty), with their hashes.
pub fn resolve_targets(
    sources: &Sources,
    lock: &LockFile,
    groups: &[String],
    allow_unpinned: bool,
) -> Result<Vec<Target>> {
    let wanted = |f: &SourceFile| {
        if groups.is_empty() {
            f.default
        } else {
            groups.contains(&f.group)
        }
    };
    let mut targets = Vec::new();
    for file in sources.files.iter().filter(|f| wanted(f)) {
        if let Some(sha256) = &file.sha256 {
            let url = file
                .url
                .clone()
                .ok_or_else(|| unusable(file, "a pinned file needs a url"))?;
            targets.push(Target {
                group: file.group.clone(),
                dest: file.dest.clone(),
                url,
                size: file.size,
                digest: Digest::Sha256(sha256.to_lowercase()),
            });
            continue;
        }
        let locked: Vec<&LockedFile> = lock
            .files
            .iter()
            .filter(|l| {
                l.group == file.group
                    && (l.dest == file.dest || l.dest.starts_with(&format!("{}/", file.dest)))
            })
            .collect();
        if !locked.is_empty() {
            targets.extend(locked.into_iter().map(|l| Target {
                group: l.group.clone(),
                dest: l.dest.clone(),
                url: l.url.clone(),
                size: Some(l.size),
                digest: match (&l.sha256, &l.git_sha1) {
                    (Some(sha), _) => Digest::Sha256(sha.clone()),
                    (None, Some(sha1)) => Digest::GitSha1(sha1.clone()),
                    (None, None) => Digest::Unpinned,
                },
            }));
            continue;
        }
        match (&file.url, allow_unpinned) {
            (Some(url), true) => targets.push(Target {
                group: file.group.clone(),
                dest: file.dest.clone(),
                url: url.clone(),
                size: file.size,
                digest: Digest::Unpinned,
            }),
            _ => {
                return Err(Error::Unpinned {
                    dest: file.dest.clone(),
                    lockable: true,
                });
            }
        }
    }
    for t in &targets {
        if t.digest == Digest::Unpinned && !allow_unpinned {
            return Err(Error::Unpinned {
                dest: t.dest.clone(),
                lockable: false,
            });
        }
    }
    Ok(targets)
}

fn unusable(file: &SourceFile, reason: &str) -> Error {
    Error::Source {
        dest: format!("{} ({})", file.dest, file.group),
        reason: reason.to_string(),
    }
}

/// Replaces `{name}` placeholders with host bases.
pub fn expand_url(url: &str, hosts: &BTreeMap<String, String>) -> Result<String> {
    let mut out = url.to_string();
    for (name, base) in hosts {
        out = out.replace(&format!("{{{name}}}"), base.trim_end_matches('/'));
    }
    if out.contains('{') {
        return Err(Error::Source {
            dest: url.to_string(),
            reason: "the URL names a host that sources.toml does not define".into(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locked(group: &str, dest: &str) -> LockedFile {
        LockedFile {
            group: group.into(),
            dest: dest.into(),
            url: format!("{{hf}}/{dest}"),
            size: 1,
            sha256: None,
            git_sha1: Some("0".into()),
        }
    }

    #[test]
    fn locking_some_groups_keeps_the_others() {
        let old = LockFile {
            files: vec![locked("a", "a/1"), locked("b", "b/old"), locked("c", "c/1")],
        };
        let fresh = LockFile {
            files: vec![locked("b", "b/new")],
        };
        let merged = old.replacing_groups(&["b".into()], fresh);
        let dests: Vec<&str> = merged.files.iter().map(|f| f.dest.as_str()).collect();
        assert_eq!(dests, ["a/1", "c/1", "b/new"]);
    }

    #[test]
    fn the_repositorys_sources_parse_and_name_their_groups() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/sources.toml");
        let sources = Sources::load(&path).unwrap();
        let groups = sources.groups();
        for group in [
            "wikipedia",
            "bookcorpus",
            "multiberts",
            "earlyberts-seed0",
            "earlyberts-seed4",
            "earlyberts-seed0-suite",
            "earlyberts-seed4-suite",
        ] {
            assert!(sources.has_group(group), "{group} in {groups:?}");
        }
        assert!(!sources.has_group("earlyberts"));
        // The EarlyBERTs revisions are fetched only when asked for.
        let earlyberts = sources
            .files
            .iter()
            .filter(|f| f.dest.starts_with("earlyberts/"));
        // Steps 10 and 100 of each seed for the replay, the other 29 for the audit.
        assert_eq!(earlyberts.clone().count(), 5 * 31);
        assert!(earlyberts.clone().all(|f| !f.default && f.hub.is_some()));
        let suite = earlyberts.filter(|f| f.group.ends_with("-suite"));
        assert_eq!(suite.count(), 5 * 29);
    }
}
