//! Shard throughput: writing, streaming reads (examples/s, one core) and verification
//! (GB/s of uncompressed payload, one core and the whole build in parallel).
//!
//! `cargo bench -p earlyberts-format --bench shard`

use std::{hint::black_box, path::Path};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use earlyberts_format::{
    BuildInfo, Example, ShardLayout, ShardReader, ShardWriter, synthetic, verify::verify_build,
    write_build,
};

const EXAMPLES: usize = 20_000;

fn layout() -> ShardLayout {
    ShardLayout {
        examples_per_shard: 5_000,
        ..ShardLayout::default()
    }
}

fn write_shard(path: &Path, examples: &[Example]) -> u64 {
    let mut writer = ShardWriter::create(path, 0, examples.len() as u64, &layout()).unwrap();
    for e in examples {
        writer.push(e).unwrap();
    }
    writer.finish().unwrap().payload_bytes
}

fn shard(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let examples = synthetic::examples(EXAMPLES, 1);
    let path = dir.path().join("bench.ebs.zst");
    let payload = write_shard(&path, &examples);

    let mut group = c.benchmark_group("shard");
    group.sample_size(10);
    group.throughput(Throughput::Elements(EXAMPLES as u64));
    group.bench_function("write", |b| {
        b.iter(|| black_box(write_shard(&path, &examples)))
    });
    group.bench_function("stream_read", |b| {
        b.iter(|| {
            let mut reader = ShardReader::open(&path).unwrap();
            let mut example = Example::default();
            let mut tokens = 0usize;
            while reader.read_next(&mut example).unwrap() {
                tokens += example.token_ids.len();
            }
            black_box(tokens)
        })
    });
    group.throughput(Throughput::Bytes(payload));
    group.bench_function("verify_one_core", |b| {
        b.iter(|| black_box(ShardReader::open(&path).unwrap().finish().unwrap()))
    });
    group.finish();

    let build = dir.path().join("build");
    let info = BuildInfo::synthetic("bench");
    let manifest = write_build(&build, layout(), info, &examples).unwrap();
    let mut group = c.benchmark_group("build");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(manifest.totals.payload_bytes));
    group.bench_function("verify_all_cores", |b| {
        b.iter(|| {
            let report = verify_build(&build, None, &()).unwrap();
            assert!(report.is_ok());
            black_box(report)
        })
    });
    group.finish();
}

criterion_group!(benches, shard);
criterion_main!(benches);
