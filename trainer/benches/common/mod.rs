//! What the trainer's benchmarks share: the step shape they time, and a build of it.

use std::path::{Path, PathBuf};

use earlyberts_trainer::bench;

/// Sequences per step.
pub const BATCH: usize = 8;
/// Tokens per sequence.
pub const SEQ: usize = 128;

/// Whether cargo only asks for a listing (`cargo bench -- --list`, `cargo test --benches`):
/// nothing to time then.
pub fn listing() -> bool {
    std::env::args().any(|a| a == "--list")
}

/// A build of `n` examples of [`SEQ`] tokens, in `dir/build`.
pub fn fixed_length_build(dir: &Path, n: usize) -> PathBuf {
    let out = dir.join("build");
    bench::write_examples_build(&out, &bench::fixed_length_examples(n, SEQ))
        .expect("the build is written");
    out
}
