//! `manifest.json`: what a build holds and how it was made.
//!
//! The manifest is written last (the rename that commits a build) with stable key order
//! and formatting, so two identical builds produce byte-identical manifests. Its
//! `root_hash` covers every shard entry; its recipe `hash` covers the recipe name and
//! parameters. docs/FORMAT.md ("Manifest") documents every field.

use std::{fmt::Write as _, path::Path};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use xxhash_rust::xxh3::Xxh3;

use crate::{
    Error, PayloadHash, Result, ShardLayout, hash::sha256_hex, shard::FORMAT_VERSION,
    shard::NspCounts, shard::ShardStats,
};

/// File name of the manifest inside a build directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// Directory of the shards inside a build directory.
pub const SHARD_DIR: &str = "shards";

/// The relative path of shard `index`: `shards/{index:06}.ebs.zst`.
pub fn shard_file_name(index: usize) -> String {
    format!("{SHARD_DIR}/{index:06}.ebs.zst")
}

/// Everything a build directory records about itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Shard format version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// The recipe and all its parameters.
    pub recipe: RecipeInfo,
    /// The seed every random draw derives from.
    pub seed: u64,
    /// The input files, with their sha256.
    pub inputs: Vec<InputFile>,
    /// The WordPiece vocabulary the token ids refer to.
    pub vocab: VocabInfo,
    /// How the shards were cut and compressed.
    pub layout: ShardLayout,
    /// What each stage of the pipeline reported (counts per stage), as the pipeline
    /// records it; an empty object when there is nothing to say.
    pub stages: Value,
    /// Sums over all shards.
    pub totals: Totals,
    /// The shards in training order.
    pub shards: Vec<ShardEntry>,
    /// xxh3-128 over the shard entries (see [`Manifest::compute_root_hash`]).
    pub root_hash: PayloadHash,
}

/// The recipe that made a build.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipeInfo {
    /// The recipe's name, e.g. `earlyberts`.
    pub name: String,
    /// sha256 of the canonical JSON of `{"name": name, "params": params}`.
    pub hash: String,
    /// Every parameter, as the recipe resolved it.
    pub params: Value,
}

impl RecipeInfo {
    /// Records a recipe, computing its hash.
    pub fn new(name: impl Into<String>, params: Value) -> RecipeInfo {
        let name = name.into();
        let hash = recipe_hash(&name, &params);
        RecipeInfo { name, hash, params }
    }
}

/// An input file of the build.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputFile {
    /// The file's name as the recipe or the user gave it.
    pub path: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its sha256, lowercase hex.
    pub sha256: String,
}

/// The vocabulary a build's ids refer to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VocabInfo {
    /// sha256 of the `vocab.txt` file.
    pub sha256: String,
    /// Number of entries.
    pub size: u32,
}

/// Sums over the shards of a build.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Totals {
    pub examples: u64,
    pub tokens: u64,
    pub masked_tokens: u64,
    pub nsp: NspCounts,
    pub payload_bytes: u64,
}

/// One shard as the manifest records it: where it is and what it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "ShardEntryJson", into = "ShardEntryJson")]
pub struct ShardEntry {
    /// Path relative to the build directory (`shards/000000.ebs.zst`).
    pub file: String,
    /// Global index of the shard's first example.
    pub first_example: u64,
    /// What the shard holds.
    pub stats: ShardStats,
}

impl ShardEntry {
    /// The entry for shard `index` whose content `stats` describes.
    pub fn new(index: usize, first_example: u64, stats: &ShardStats) -> ShardEntry {
        ShardEntry {
            file: shard_file_name(index),
            first_example,
            stats: *stats,
        }
    }
}

/// A shard entry as `manifest.json` lays it out (docs/FORMAT.md): the stats' fields at the
/// top level of the entry, in this order.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShardEntryJson {
    file: String,
    first_example: u64,
    examples: u64,
    tokens: u64,
    masked_tokens: u64,
    nsp: NspCounts,
    payload_bytes: u64,
    hash: PayloadHash,
}

impl From<ShardEntryJson> for ShardEntry {
    fn from(j: ShardEntryJson) -> ShardEntry {
        let stats = ShardStats {
            examples: j.examples,
            tokens: j.tokens,
            masked_tokens: j.masked_tokens,
            nsp: j.nsp,
            payload_bytes: j.payload_bytes,
            hash: j.hash,
        };
        ShardEntry {
            file: j.file,
            first_example: j.first_example,
            stats,
        }
    }
}

impl From<ShardEntry> for ShardEntryJson {
    fn from(e: ShardEntry) -> ShardEntryJson {
        let s = e.stats;
        ShardEntryJson {
            file: e.file,
            first_example: e.first_example,
            examples: s.examples,
            tokens: s.tokens,
            masked_tokens: s.masked_tokens,
            nsp: s.nsp,
            payload_bytes: s.payload_bytes,
            hash: s.hash,
        }
    }
}

impl Manifest {
    /// Assembles the manifest of a build from its shard entries (in order).
    pub fn new(
        recipe: RecipeInfo,
        seed: u64,
        inputs: Vec<InputFile>,
        vocab: VocabInfo,
        layout: ShardLayout,
        stages: Value,
        shards: Vec<ShardEntry>,
    ) -> Manifest {
        let mut manifest = Manifest {
            format_version: FORMAT_VERSION,
            recipe,
            seed,
            inputs,
            vocab,
            layout,
            stages,
            totals: Totals::default(),
            shards,
            root_hash: PayloadHash(0),
        };
        manifest.totals = manifest.compute_totals();
        manifest.root_hash = manifest.compute_root_hash();
        manifest
    }

    /// Reads and parses `path`. Fails on syntax, unknown fields or an unsupported version;
    /// use [`Manifest::problems`] for consistency.
    pub fn load(path: &Path) -> Result<Manifest> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Manifest::parse(path, &bytes)
    }

    /// Parses manifest bytes; `path` names them in errors.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Manifest> {
        // Read the version first so that a future format gets "unsupported version" rather
        // than a confusing schema error.
        #[derive(Deserialize)]
        struct Version {
            format_version: Option<u32>,
        }
        let syntax = |source| Error::ManifestSyntax {
            path: path.to_path_buf(),
            source,
        };
        let version: Version = serde_json::from_slice(bytes).map_err(syntax)?;
        match version.format_version {
            Some(FORMAT_VERSION) => {}
            Some(found) => {
                return Err(Error::UnsupportedVersion {
                    path: path.to_path_buf(),
                    found,
                    supported: FORMAT_VERSION,
                });
            }
            None => {
                return Err(Error::ManifestInconsistent {
                    path: path.to_path_buf(),
                    reason: "it has no format_version (not an earlyberts manifest?)".into(),
                });
            }
        }
        serde_json::from_slice(bytes).map_err(syntax)
    }

    /// The manifest's canonical text: pretty JSON, two-space indent, trailing newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a manifest always serialises");
        text.push('\n');
        text
    }

    /// Writes `dir/manifest.json` atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        crate::write_atomic(dir.join(MANIFEST_FILE), self.to_json().as_bytes())
    }

    /// Sums over the shard entries.
    pub fn compute_totals(&self) -> Totals {
        self.checked_totals()
            .expect("the shard entries' counts add up within u64")
    }

    /// The sums of the shard entries, `None` when one overflows u64 (a damaged manifest).
    fn checked_totals(&self) -> Option<Totals> {
        let mut t = Totals::default();
        for s in &self.shards {
            t.examples = t.examples.checked_add(s.stats.examples)?;
            t.tokens = t.tokens.checked_add(s.stats.tokens)?;
            t.masked_tokens = t.masked_tokens.checked_add(s.stats.masked_tokens)?;
            t.nsp.is_next = t.nsp.is_next.checked_add(s.stats.nsp.is_next)?;
            t.nsp.random_next = t.nsp.random_next.checked_add(s.stats.nsp.random_next)?;
            t.payload_bytes = t.payload_bytes.checked_add(s.stats.payload_bytes)?;
        }
        Some(t)
    }

    /// xxh3-128 over one text line per shard entry:
    /// `file \t first_example \t examples \t tokens \t masked_tokens \t is_next \t random_next \t payload_bytes \t hash \n`.
    pub fn compute_root_hash(&self) -> PayloadHash {
        let mut hasher = Xxh3::new();
        let mut line = String::new();
        for s in &self.shards {
            line.clear();
            writeln!(
                line,
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                s.file,
                s.first_example,
                s.stats.examples,
                s.stats.tokens,
                s.stats.masked_tokens,
                s.stats.nsp.is_next,
                s.stats.nsp.random_next,
                s.stats.payload_bytes,
                s.stats.hash
            )
            .expect("writing to a String cannot fail");
            hasher.update(line.as_bytes());
        }
        PayloadHash(hasher.digest128())
    }

    /// Number of examples in the build.
    pub fn len(&self) -> u64 {
        self.totals.examples
    }

    /// Whether the build holds no example.
    pub fn is_empty(&self) -> bool {
        self.totals.examples == 0
    }

    /// The shard holding global example `index`, if any.
    pub fn shard_of(&self, index: u64) -> Option<usize> {
        let shard = self
            .shards
            .partition_point(|s| s.first_example + s.stats.examples <= index);
        (shard < self.shards.len()).then_some(shard)
    }

    /// Every way the manifest contradicts itself, one sentence each (empty when consistent).
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if recipe_hash(&self.recipe.name, &self.recipe.params) != self.recipe.hash {
            problems.push("recipe hash does not match the recipe's name and parameters".into());
        }
        if let Err(e) = self.layout.validate() {
            problems.push(format!("layout: {e}"));
        }
        let mut next = 0u64;
        for (i, s) in self.shards.iter().enumerate() {
            if s.file != shard_file_name(i) {
                problems.push(format!(
                    "shard {i} is named '{}', expected '{}'",
                    s.file,
                    shard_file_name(i)
                ));
            }
            if s.first_example != next {
                problems.push(format!(
                    "shard {i} starts at example {} but the shards before it end at {next}",
                    s.first_example
                ));
            }
            let last = i + 1 == self.shards.len();
            let per = self.layout.examples_per_shard;
            if s.stats.examples > per || (!last && s.stats.examples != per) {
                problems.push(format!(
                    "shard {i} holds {} examples but the layout puts {per} in each shard before the last",
                    s.stats.examples
                ));
            }
            // Counts come from the file: any sum of them may overflow.
            if s.stats.nsp.is_next.checked_add(s.stats.nsp.random_next) != Some(s.stats.examples) {
                problems.push(format!(
                    "shard {i}: NSP counts {} + {} do not add up to {} examples",
                    s.stats.nsp.is_next, s.stats.nsp.random_next, s.stats.examples
                ));
            }
            next = s
                .first_example
                .checked_add(s.stats.examples)
                .unwrap_or_else(|| {
                    problems.push(format!(
                        "shard {i} ends past example {}: {} + {} examples",
                        u64::MAX,
                        s.first_example,
                        s.stats.examples
                    ));
                    u64::MAX
                });
        }
        match self.checked_totals() {
            None => problems.push("the shard entries' counts overflow their sums".into()),
            Some(totals) if totals != self.totals => {
                problems.push("totals are not the sums of the shard entries".into());
            }
            Some(_) => {}
        }
        if self.compute_root_hash() != self.root_hash {
            problems.push(format!(
                "root hash {} does not match its shard entries ({}): edited by hand?",
                self.root_hash,
                self.compute_root_hash()
            ));
        }
        problems
    }
}

/// sha256 of the canonical JSON of `{"name": name, "params": params}`.
fn recipe_hash(name: &str, params: &Value) -> String {
    let mut text = String::new();
    write_canonical(
        &serde_json::json!({ "name": name, "params": params }),
        &mut text,
    );
    sha256_hex(text.as_bytes())
}

/// Compact JSON with object keys sorted at every level, whatever map type serde_json was
/// built with (its `preserve_order` feature would otherwise keep insertion order).
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        let stats = ShardStats {
            examples: 3,
            tokens: 30,
            masked_tokens: 4,
            nsp: NspCounts {
                is_next: 2,
                random_next: 1,
            },
            payload_bytes: 140,
            hash: PayloadHash(0xabc),
        };
        Manifest::new(
            RecipeInfo::new("test", serde_json::json!({"b": 1, "a": [true, null]})),
            1,
            vec![],
            VocabInfo {
                sha256: "00".repeat(32),
                size: 30522,
            },
            ShardLayout {
                examples_per_shard: 3,
                ..ShardLayout::default()
            },
            serde_json::json!({}),
            vec![ShardEntry::new(0, 0, &stats), ShardEntry::new(1, 3, &stats)],
        )
    }

    #[test]
    fn canonical_json_sorts_keys() {
        let mut out = String::new();
        write_canonical(
            &serde_json::json!({"b": {"d": 1, "c": "x"}, "a": [1.5]}),
            &mut out,
        );
        assert_eq!(out, r#"{"a":[1.5],"b":{"c":"x","d":1}}"#);
    }

    #[test]
    fn round_trip_is_byte_identical() {
        let m = manifest();
        let text = m.to_json();
        let parsed = Manifest::parse(Path::new("m.json"), text.as_bytes()).unwrap();
        assert_eq!(parsed, m);
        assert_eq!(parsed.to_json(), text);
        assert!(m.problems().is_empty(), "{:?}", m.problems());
        assert_eq!(m.totals.examples, 6);
    }

    #[test]
    fn edits_are_detected() {
        let mut m = manifest();
        m.shards[1].stats.examples = 4;
        let problems = m.problems().join("\n");
        assert!(problems.contains("NSP counts"), "{problems}");
        assert!(problems.contains("totals"), "{problems}");
        assert!(problems.contains("root hash"), "{problems}");

        let mut m = manifest();
        m.recipe.params = serde_json::json!({"b": 2});
        assert!(m.problems()[0].contains("recipe hash"));

        // Counts that overflow when added up are problems, not panics.
        let mut m = manifest();
        m.shards[0].stats.nsp.is_next = u64::MAX;
        m.shards[0].first_example = u64::MAX;
        m.shards[1].stats.tokens = u64::MAX;
        let problems = m.problems().join("\n");
        assert!(
            problems.contains("NSP counts 18446744073709551615 + "),
            "{problems}"
        );
        assert!(problems.contains("shard 0 ends past example"), "{problems}");
        assert!(problems.contains("overflow their sums"), "{problems}");

        let mut m = manifest();
        m.shards[0].file = "../../etc/passwd".into();
        assert!(
            m.problems()
                .iter()
                .any(|p| p.contains("expected 'shards/000000.ebs.zst'"))
        );
    }

    #[test]
    fn unknown_fields_and_versions_are_refused() {
        let text = manifest().to_json();
        let extra = text.replacen("{", "{\n  \"surprise\": 1,", 1);
        let err = Manifest::parse(Path::new("m.json"), extra.as_bytes()).unwrap_err();
        assert!(matches!(err, Error::ManifestSyntax { .. }));
        let future = text.replacen("\"format_version\": 1", "\"format_version\": 9", 1);
        let err = Manifest::parse(Path::new("m.json"), future.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("format version 9"), "{err}");
        let err = Manifest::parse(Path::new("m.json"), b"[1, 2]").unwrap_err();
        assert!(matches!(err, Error::ManifestSyntax { .. }));
    }

    #[test]
    fn shard_of_finds_the_right_shard() {
        let m = manifest();
        assert_eq!(m.shard_of(0), Some(0));
        assert_eq!(m.shard_of(2), Some(0));
        assert_eq!(m.shard_of(3), Some(1));
        assert_eq!(m.shard_of(6), None);
    }
}
