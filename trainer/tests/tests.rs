//! The trainer's tests, one binary (burn is linked once): unit-level checks of the library
//! through its public API, and the `trainer` binary end to end. All on CPU, but
//! `wgpu` (with `--features wgpu`).

// A synthetic build for the tests.
mod common;

// Hugging Face checkpoints: names, shapes, ties, round trips, refusals.
mod checkpoint;

// The `trainer` binary: resume, default paths, publish, plot, bad input, kill points.
mod cli;

// Parity with Hugging Face `transformers` on a committed fixture.
mod parity;

// `trainer plot`: log step axis, several runs, SVG and PNG checked by content.
mod plot;

// `trainer suite`: a checkpoint suite audited, clean and with each kind of fault.
mod suite;

// Training steps on the tiny config: losses, determinism, micro-batches.
mod training;

// The GPU code path on wgpu (lavapipe in CI): agreement with the CPU, resume, checkpoints.
#[cfg(feature = "wgpu")]
mod wgpu;
