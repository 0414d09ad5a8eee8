//! The manifest parser on arbitrary bytes: errors, or a manifest that round-trips.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| earlyberts_pipeline::oracles::manifest(data));
