//! The shard reader on arbitrary bytes: errors, never panics.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| earlyberts_pipeline::oracles::shard_reader(data));
