//! End-to-end tests of the `pipeline` binary, run as a user would run it.

// Temp directories, running the binary with failure dumps, synthetic builds.
mod util;

// `pipeline verify` on good builds and on every kind of damage.
mod verify;

// `pipeline inspect`: text, JSON lines, ranges and optimizer steps.
mod inspect;

// `pipeline where`: occurrences of sentences, documents and texts, for both recipe kinds.
mod provenance;

// `pipeline exposure`: every token's and every term's counts by step, for both recipe kinds.
mod exposure;

// The text stages: fixture corpus, prepare (thread-count independence), sentences, tokenize.
mod text;

// The example stages: golden fixture builds, determinism, prefixes, audits.
mod build;

// The reference kind against the reference script run with its own libraries (fixtures).
mod reference;

// The spaCy splitter: fast = full, kill and resume, parts and assembly, bad setups.
mod spacy;

// `pipeline fetch` against a local server with faults; `make data` end to end.
mod fetch;
mod server;

// `trainer replay` against a PyTorch run's checkpoint (fixture); `make which-history`
// against a fake Hub.
mod replay;

// The numpy reader printed in docs/FORMAT.md decodes shards exactly as the Rust reader does.
mod format_doc;

// Kill-and-resume, SIGTERM, a full disk and concurrent builds (issue: crash safety).
mod crash;

// A table of damaged inputs for every reader, and text edge cases (issue: bad input).
mod bad_input;

// Inputs the fuzz targets found, replayed through the same properties.
mod fuzz_regressions;
