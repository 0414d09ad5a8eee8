//! Verification of a build against its own manifest and, optionally, a golden manifest.
//!
//! Every shard is read in full (in parallel over shards, streaming within one), its payload
//! hash and statistics recomputed and compared with the manifest. Problems are collected,
//! not raised: a report lists all of them, in shard order. When the golden side's shards
//! are present locally, the first differing example is located by decoding both sides.

use std::{
    collections::BTreeSet,
    fmt, fs,
    path::{Path, PathBuf},
};

use rayon::prelude::*;

use crate::{
    Build, Error, Example, MANIFEST_FILE, Manifest, PayloadHash, Result, SHARD_DIR, ShardField,
    ShardReader, ShardStats,
};

/// Receives progress of long work (bytes verified, bytes of text processed); the binaries
/// adapt it to a progress bar.
pub trait Progress: Sync {
    /// The work is about `total` bytes (an estimate is fine).
    fn set_total(&self, _total: u64) {}
    /// `bytes` more bytes were done.
    fn advance(&self, bytes: u64);
}

/// No progress reporting.
impl Progress for () {
    fn advance(&self, _: u64) {}
}

/// One thing wrong with a build.
#[derive(Debug)]
#[non_exhaustive]
pub enum Problem {
    /// The manifest contradicts itself.
    Manifest { reason: String },
    /// A shard the manifest lists is not there.
    MissingShard { file: String },
    /// A file in `shards/` that the manifest does not list.
    ExtraFile { file: String },
    /// A shard that cannot be read or decoded (truncated, corrupt, wrong magic or version).
    Unreadable { file: String, error: Error },
    /// A shard whose content differs from what its manifest entry records.
    Differs {
        file: String,
        field: ShardField,
        recorded: ShardStats,
        found: ShardStats,
    },
    /// The build's manifest differs from the golden manifest in a build-wide fact.
    Golden { reason: String },
    /// A shard whose hash differs from the golden manifest's.
    GoldenShard {
        file: String,
        golden: PayloadHash,
        build: PayloadHash,
    },
    /// Where the build first differs from the golden build, found by decoding both.
    FirstDifference {
        example: u64,
        file: String,
        shard_example: u64,
        detail: String,
    },
}

impl Problem {
    /// Whether the problem is that something could not be read (exit code 2) rather than
    /// a plain mismatch (exit code 1).
    pub fn is_unreadable(&self) -> bool {
        matches!(
            self,
            Problem::MissingShard { .. } | Problem::Unreadable { .. }
        )
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Manifest { reason } => write!(f, "{MANIFEST_FILE}: {reason}"),
            Problem::MissingShard { file } => write!(f, "{file}: missing"),
            Problem::ExtraFile { file } => write!(f, "{file}: not listed in the manifest"),
            Problem::Unreadable { file, error } => {
                write!(f, "{file}: unreadable: {}", crate::error::one_line(error))
            }
            Problem::Differs {
                file,
                field,
                recorded,
                found,
            } => write!(
                f,
                "{file}: {} is {} but the manifest says {}",
                field.name(),
                field.value(found),
                field.value(recorded)
            ),
            Problem::Golden { reason } => write!(f, "differs from golden: {reason}"),
            Problem::GoldenShard {
                file,
                golden,
                build,
            } => write!(f, "{file}: hash {build} differs from golden {golden}"),
            Problem::FirstDifference {
                example,
                file,
                shard_example,
                detail,
            } => write!(
                f,
                "{file}: first differing example is {example} (example {shard_example} of the shard): {detail}"
            ),
        }
    }
}

/// The outcome of [`verify_build`].
#[derive(Debug)]
pub struct Report {
    /// Shards the manifest lists.
    pub shards: usize,
    /// Examples the manifest lists.
    pub examples: u64,
    /// Payload bytes read and hashed.
    pub payload_bytes: u64,
    /// The manifest's root hash.
    pub root_hash: PayloadHash,
    /// Whether a golden manifest was compared.
    pub golden: bool,
    /// Everything found wrong, in shard order.
    pub problems: Vec<Problem>,
}

impl Report {
    /// No problem found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// Some file could not be read.
    pub fn has_unreadable(&self) -> bool {
        self.problems.iter().any(Problem::is_unreadable)
    }
}

/// A golden manifest, and the directory of its build when it lies beside one.
pub struct Golden {
    manifest: Manifest,
    dir: PathBuf,
}

impl Golden {
    /// Loads a golden manifest from a file, or from `DIR/manifest.json` for a directory.
    pub fn load(path: &Path) -> Result<Golden> {
        let (file, dir) = if path.is_dir() {
            (path.join(MANIFEST_FILE), path.to_path_buf())
        } else {
            let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
            (path.to_path_buf(), dir)
        };
        Ok(Golden {
            manifest: Manifest::load(&file)?,
            dir,
        })
    }

    /// The golden manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The golden build when its shards are present beside the manifest.
    fn local_build(&self) -> Option<Build> {
        let all_present = self
            .manifest
            .shards
            .iter()
            .all(|s| self.dir.join(&s.file).is_file());
        if !all_present || self.manifest.shards.is_empty() {
            return None;
        }
        Build::open(&self.dir).ok()
    }
}

/// Verifies the build in `dir`; fails only when its manifest cannot be read at all.
pub fn verify_build(
    dir: &Path,
    golden: Option<&Golden>,
    progress: &dyn Progress,
) -> Result<Report> {
    let build = Build::open(dir)?;
    let manifest = build.manifest();
    let mut problems: Vec<Problem> = manifest
        .problems()
        .into_iter()
        .map(|reason| Problem::Manifest { reason })
        .collect();
    problems.extend(extra_files(dir, manifest));

    let checks: Vec<Vec<Problem>> = (0..manifest.shards.len())
        .into_par_iter()
        .map(|i| {
            let problems = check_shard(&build, i);
            progress.advance(manifest.shards[i].stats.payload_bytes);
            problems
        })
        .collect();
    let payload_bytes = manifest
        .shards
        .iter()
        .zip(&checks)
        .filter(|(_, p)| p.is_empty())
        .map(|(s, _)| s.stats.payload_bytes)
        .sum();
    let mut first_bad_shard = checks.iter().position(|p| !p.is_empty());
    problems.extend(checks.into_iter().flatten());

    if let Some(golden) = golden {
        let (golden_problems, first_golden) = compare_with_golden(manifest, &golden.manifest);
        problems.extend(golden_problems);
        first_bad_shard = match (first_bad_shard, first_golden) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let (Some(shard), Some(golden_build)) = (first_bad_shard, golden.local_build()) {
            let start = manifest.shards[shard].first_example;
            problems.extend(first_difference(&build, &golden_build, start));
        }
    }

    Ok(Report {
        shards: manifest.shards.len(),
        examples: manifest.len(),
        payload_bytes,
        root_hash: manifest.root_hash,
        golden: golden.is_some(),
        problems,
    })
}

/// Reads shard `index` in full and compares it with its manifest entry.
fn check_shard(build: &Build, index: usize) -> Vec<Problem> {
    let entry = &build.manifest().shards[index];
    let path = build.shard_path(index);
    if !path.is_file() {
        return vec![Problem::MissingShard {
            file: entry.file.clone(),
        }];
    }
    let stats: Result<ShardStats> = ShardReader::open(&path).and_then(|reader| {
        let header = reader.header();
        if header.first_example != entry.first_example {
            return Err(Error::NotAShard {
                path: path.clone(),
                reason: format!(
                    "it starts at example {} but the manifest places it at {}",
                    header.first_example, entry.first_example
                ),
            });
        }
        reader.finish()
    });
    match stats {
        Ok(found) => entry
            .stats
            .differences(&found)
            .into_iter()
            .map(|field| Problem::Differs {
                file: entry.file.clone(),
                field,
                recorded: entry.stats,
                found,
            })
            .collect(),
        Err(error) => vec![Problem::Unreadable {
            file: entry.file.clone(),
            error,
        }],
    }
}

/// Files under `shards/` that the manifest does not list, sorted by name.
fn extra_files(dir: &Path, manifest: &Manifest) -> Vec<Problem> {
    let listed: BTreeSet<&str> = manifest.shards.iter().map(|s| s.file.as_str()).collect();
    let Ok(entries) = fs::read_dir(dir.join(SHARD_DIR)) else {
        return Vec::new();
    };
    let mut extra: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| format!("{SHARD_DIR}/{}", e.file_name().to_string_lossy()))
        .filter(|name| !listed.contains(name.as_str()))
        .collect();
    extra.sort();
    extra
        .into_iter()
        .map(|file| Problem::ExtraFile { file })
        .collect()
}

/// Build-wide and per-shard differences from the golden manifest, and the first shard
/// that differs.
fn compare_with_golden(build: &Manifest, golden: &Manifest) -> (Vec<Problem>, Option<usize>) {
    let mut problems = Vec::new();
    let mut fact = |what: &str, golden: String, build: String| {
        if golden != build {
            problems.push(Problem::Golden {
                reason: format!("{what} is {build}, golden has {golden}"),
            });
        }
    };
    fact(
        "recipe",
        format!("{} ({})", golden.recipe.name, golden.recipe.hash),
        format!("{} ({})", build.recipe.name, build.recipe.hash),
    );
    fact("seed", golden.seed.to_string(), build.seed.to_string());
    fact(
        "vocabulary sha256",
        golden.vocab.sha256.clone(),
        build.vocab.sha256.clone(),
    );
    fact(
        "example count",
        golden.len().to_string(),
        build.len().to_string(),
    );
    if golden.layout.examples_per_shard != build.layout.examples_per_shard {
        problems.push(Problem::Golden {
            reason: format!(
                "examples_per_shard is {}, golden has {}: shard hashes are not comparable",
                build.layout.examples_per_shard, golden.layout.examples_per_shard
            ),
        });
        return (problems, None);
    }
    let mut first = None;
    for (i, (b, g)) in build.shards.iter().zip(&golden.shards).enumerate() {
        if b.stats.hash != g.stats.hash || b.stats.examples != g.stats.examples {
            first.get_or_insert(i);
            problems.push(Problem::GoldenShard {
                file: b.file.clone(),
                golden: g.stats.hash,
                build: b.stats.hash,
            });
        }
    }
    if build.shards.len() != golden.shards.len() {
        first.get_or_insert(build.shards.len().min(golden.shards.len()));
        problems.push(Problem::Golden {
            reason: format!(
                "{} shards, golden has {}",
                build.shards.len(),
                golden.shards.len()
            ),
        });
    }
    (problems, first)
}

/// Decodes both builds from global example `start` and reports the first example that
/// differs (or cannot be read on the build's side).
fn first_difference(build: &Build, golden: &Build, start: u64) -> Option<Problem> {
    let start = start.min(build.len()).min(golden.len());
    let located = |example: u64, detail: String| {
        let manifest = build.manifest();
        let (file, shard_example) = match manifest.shard_of(example) {
            Some(s) => (
                manifest.shards[s].file.clone(),
                example - manifest.shards[s].first_example,
            ),
            None => ("(past the end)".to_string(), 0),
        };
        Problem::FirstDifference {
            example,
            file,
            shard_example,
            detail,
        }
    };
    let mut ours = match build.stream_from(start) {
        Ok(stream) => stream,
        Err(e) => {
            return Some(located(
                start,
                format!("unreadable: {}", crate::error::one_line(&e)),
            ));
        }
    };
    let mut theirs = golden.stream_from(start).ok()?;
    let (mut a, mut b) = (Example::default(), Example::default());
    let mut index = start;
    loop {
        let ours_next = match ours.read_next(&mut a) {
            Ok(next) => next,
            Err(e) => {
                return Some(located(
                    index,
                    format!("unreadable: {}", crate::error::one_line(&e)),
                ));
            }
        };
        let theirs_next = theirs.read_next(&mut b).ok()?;
        match (ours_next, theirs_next) {
            (None, None) => return None,
            (Some(_), None) => return Some(located(index, "golden build ends here".into())),
            (None, Some(_)) => return Some(located(index, "build ends before golden".into())),
            (Some(_), Some(_)) if a != b => return Some(located(index, describe(&a, &b))),
            _ => index += 1,
        }
    }
}

/// The first field in which `ours` differs from `golden`.
fn describe(ours: &Example, golden: &Example) -> String {
    if ours.token_ids != golden.token_ids {
        if ours.token_ids.len() != golden.token_ids.len() {
            return format!(
                "{} tokens, golden has {}",
                ours.token_ids.len(),
                golden.token_ids.len()
            );
        }
        let at = ours
            .token_ids
            .iter()
            .zip(&golden.token_ids)
            .position(|(x, y)| x != y)
            .expect("equal-length token lists that differ differ somewhere");
        return format!(
            "token {at} is {}, golden has {}",
            ours.token_ids[at], golden.token_ids[at]
        );
    }
    if ours.segment_a_len != golden.segment_a_len {
        return format!(
            "segment A has {} tokens, golden has {}",
            ours.segment_a_len, golden.segment_a_len
        );
    }
    if ours.nsp_label != golden.nsp_label {
        return format!(
            "NSP label is {}, golden has {}",
            ours.nsp_label.id(),
            golden.nsp_label.id()
        );
    }
    format!(
        "MLM positions {:?} labels {:?}, golden has {:?} {:?}",
        ours.mlm_positions, ours.mlm_labels, golden.mlm_positions, golden.mlm_labels
    )
}
