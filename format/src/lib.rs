//! The earlyberts example-shard format, build manifests and their verification.
//!
//! This crate is the on-disk contract between the `pipeline` (which writes builds) and the
//! `trainer` (which reads them). It knows nothing of tokenizers, parquet or burn.
//!
//! - [`Example`]: one training-ready example (token ids, segment A length, MLM labels,
//!   NSP label) and its binary record.
//! - [`ShardWriter`] / [`ShardReader`]: one shard file — zstd frames of records plus a
//!   block index for random access; the payload hash covers the uncompressed bytes.
//! - [`Manifest`]: `manifest.json`, what a build holds and how it was made.
//! - [`BuildWriter`] / [`Build`]: a directory of shards committed by its manifest.
//! - [`verify::verify_build`]: recompute every hash and count, compare with a golden manifest.
//! - [`provenance`]: a build's index of which sentences each example came from.
//! - [`Invalid`]: a configuration value out of range, as data (field, value, allowed).
//! - [`Vocab`]: the WordPiece vocabulary the ids refer to; [`StepBatch`]: which examples an
//!   optimizer step consumes, and [`Build::read_step`] reads them; [`PaddedBatch`]: examples
//!   padded as `BertForPreTraining` takes them.
//! - [`training`]: how the reference trained ([`training::REFERENCE_TRAINING`]) and a
//!   build's batch size ([`Manifest::batch_size`]).
//!
//! docs/FORMAT.md specifies the bytes.

mod atomic;
mod batch;
mod build;
mod error;
mod example;
mod hash;
mod invalid;
mod lock;
mod manifest;
pub mod provenance;
pub mod random;
mod reader;
mod shard;
pub mod synthetic;
pub mod training;
pub mod verify;
mod vocab;
mod writer;

pub use atomic::{AtomicFile, remove_if_present, write_atomic, write_atomic_shared};
pub use batch::{NoBatch, PaddedBatch, StepBatch};
pub use build::{Build, BuildInfo, BuildWriter, ExampleStream, PARTIAL_FILE, write_build};
pub use error::{Error, Result, one_line};
pub use example::{Example, NspLabel, RECORD_HEADER_LEN};
pub use hash::{PayloadHash, sha256_file, sha256_hex};
pub use invalid::{Invalid, at_least, probability};
pub use lock::{DirLock, LOCK_FILE};
pub use manifest::{
    InputFile, MANIFEST_FILE, Manifest, RecipeInfo, SHARD_DIR, ShardEntry, Totals, VocabInfo,
    shard_file_name,
};
pub use reader::ShardReader;
pub use shard::{FORMAT_VERSION, HEADER_LEN, NspCounts, ShardField, ShardHeader, ShardStats};
pub use vocab::{BERT_BASE_UNCASED_SHA256, SpecialTokens, Vocab};
pub use writer::{ShardLayout, ShardWriter};
