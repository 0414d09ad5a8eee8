//! Token exposure cached beside its build: `BUILD/exposure/tokens-KEY.parquet`, the table
//! `pipeline exposure` prints, keyed by the build's root hash, the batch size and the steps,
//! which its metadata repeats and a read checks.

use std::path::{Path, PathBuf};

use earlyberts_format::{AtomicFile, Build, Vocab};

use super::{
    Points, TokenExposure,
    table::{Table, TableFormat, read_tokens},
    token_exposure,
};
use crate::{Error, Result};

/// The metadata key of a cached table.
const KEY: &str = "earlyberts.exposure";

/// Where the counts came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cached {
    /// Read from this file.
    Read(PathBuf),
    /// Counted, and written to this file.
    Written(PathBuf),
    /// Counted; the cache could not be written, for this reason.
    NotWritten(String),
}

/// What a cached table is of: it is used only for the same build, batch size and steps.
fn identity(build: &Build, points: &Points) -> String {
    serde_json::json!({
        "root_hash": build.manifest().root_hash.to_string(),
        "batch_size": points.batch_size,
        "steps": points.steps,
    })
    .to_string()
}

/// The cache file of `build`'s counts at `points`.
pub fn cache_path(build: &Build, points: &Points) -> PathBuf {
    let key = xxhash_rust::xxh3::xxh3_64(identity(build, points).as_bytes());
    build
        .dir()
        .join("exposure")
        .join(format!("tokens-{key:016x}.parquet"))
}

/// Every token's exposure in `build` at `points`: from the cache when it holds them, else
/// counted and cached (a cache that cannot be written is reported, not fatal).
pub fn cached_token_exposure(
    build: &Build,
    points: &Points,
    vocab: &Vocab,
) -> Result<(TokenExposure, Cached)> {
    let path = cache_path(build, points);
    let identity = identity(build, points);
    if path.exists()
        && let Some(exposure) = read_cached(&path, build, points, &identity)
    {
        return Ok((exposure, Cached::Read(path)));
    }
    let exposure = token_exposure(build, points, vocab)?;
    let cached = match write_cached(&path, &exposure, vocab, &identity) {
        Ok(()) => Cached::Written(path),
        Err(e) => Cached::NotWritten(e.to_string()),
    };
    Ok((exposure, cached))
}

/// The cached table, if it is whole and of the same identity (else it is counted again
/// and replaced).
fn read_cached(
    path: &Path,
    build: &Build,
    points: &Points,
    identity: &str,
) -> Option<TokenExposure> {
    let vocab_size = build.manifest().vocab.size as usize;
    let (exposure, metadata) = read_tokens(path, vocab_size, points.batch_size).ok()?;
    let same = metadata.iter().any(|(k, v)| k == KEY && v == identity);
    (same && exposure.steps == points.steps).then_some(exposure)
}

fn write_cached(
    path: &Path,
    exposure: &TokenExposure,
    vocab: &Vocab,
    identity: &str,
) -> Result<()> {
    let dir = path.parent().expect("a cache file has a directory");
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut file = AtomicFile::create_shared(path)?;
    let metadata = [(KEY.to_string(), identity.to_string())];
    Table::of_tokens(exposure, vocab)
        .write(&mut file, TableFormat::Parquet, &metadata)
        .map_err(|e| Error::io(path, e))?;
    file.commit()?;
    Ok(())
}
