//! `trainer`: BERT pretraining (MLM + NSP) on earlyberts builds.
//!
//! Not implemented yet: the model, the data feed and checkpoint I/O arrive with the trainer
//! issue. The crate exists so that the workspace layout and its dependency boundary (the
//! trainer depends on `earlyberts-format` only, never on parquet or tokenizers) are in place.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "trainer: training is not implemented yet (earlyberts-format {} shards are ready to be read)",
        earlyberts_format::FORMAT_VERSION
    );
    ExitCode::from(2)
}
