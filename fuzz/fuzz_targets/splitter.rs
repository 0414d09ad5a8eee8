//! The sentence splitter on arbitrary text: lossless (every non-whitespace character kept).
#![no_main]
libfuzzer_sys::fuzz_target!(|text: &str| earlyberts_pipeline::oracles::splitter(text));
