//! `pipeline verify`: a good build passes; each kind of damage is named, with the right exit
//! code, on one line per problem, and verify never modifies anything.

use std::fs;

use earlyberts_format::{ShardLayout, ShardWriter};

use crate::util::{
    Fixture, frames, pipeline_run, replace_frame, snapshot, synthetic_examples,
    write_synthetic_build,
};

#[test]
fn good_build_passes_alone_and_against_golden() {
    let fx = Fixture::new();
    let golden = fx.copy_build("golden");
    pipeline_run(["verify".as_ref(), fx.build().as_os_str()])
        .expect_code(0)
        .expect_output("ok: 4 shards, 100 examples")
        .expect_output("root hash ");
    // A golden manifest alone (no shards beside it) and a golden directory both work.
    let lone = fx.root.path().join("golden.json");
    fs::copy(golden.join("manifest.json"), &lone).unwrap();
    for g in [&lone, &golden] {
        pipeline_run([
            "verify".as_ref(),
            fx.build().as_os_str(),
            "--golden".as_ref(),
            g.as_os_str(),
        ])
        .expect_code(0)
        .expect_output("matches golden");
    }
}

#[test]
fn changed_example_is_a_plain_mismatch_named_down_to_the_token() {
    let fx = Fixture::new();
    let golden = fx.copy_build("golden");
    // Rewrite shard 1 validly with example 40 altered: what a non-deterministic build does.
    let mut examples = fx.examples[32..64].to_vec();
    examples[8].token_ids[3] ^= 1;
    let layout = ShardLayout {
        examples_per_shard: 32,
        examples_per_block: 16,
        zstd_level: 3,
    };
    let mut writer = ShardWriter::create(fx.shard(1), 32, 32, &layout).unwrap();
    examples.iter().for_each(|e| writer.push(e).unwrap());
    writer.finish().unwrap();
    let before = snapshot(fx.root.path());

    pipeline_run(["verify".as_ref(), fx.build().as_os_str()])
        .expect_code(1)
        .expect_output("shards/000001.ebs.zst: hash ")
        .expect_output("FAILED: 1 problem(s)");
    pipeline_run([
        "verify".as_ref(),
        fx.build().as_os_str(),
        "--golden".as_ref(),
        golden.as_os_str(),
    ])
    .expect_code(1)
    .expect_output(
        "shards/000001.ebs.zst: first differing example is 40 (example 8 of the shard): token 3 is",
    );
    assert_eq!(snapshot(fx.root.path()), before, "verify modified files");
}

#[test]
fn flipped_byte_is_named_with_its_block_and_first_example() {
    let fx = Fixture::new();
    let golden = fx.copy_build("golden");
    let (offset, len) = frames(&fx.shard(2))[2]; // records 16..32 of shard 2
    let mut bytes = fs::read(fx.shard(2)).unwrap();
    bytes[offset + len / 2] ^= 0x40;
    fs::write(fx.shard(2), &bytes).unwrap();

    pipeline_run(["verify".as_ref(), fx.build().as_os_str()])
        .expect_code(2)
        .expect_output("shards/000002.ebs.zst: unreadable:")
        .expect_output("block 2 (examples 16..32 of the shard) is corrupt");
    pipeline_run([
        "verify".as_ref(),
        fx.build().as_os_str(),
        "--golden".as_ref(),
        golden.as_os_str(),
    ])
    .expect_code(2)
    .expect_output("first differing example is 80 (example 16 of the shard): unreadable");
}

#[test]
fn truncated_missing_and_extra_shards_are_each_reported() {
    let fx = Fixture::new();
    let bytes = fs::read(fx.shard(0)).unwrap();
    fs::write(fx.shard(0), &bytes[..bytes.len() / 2]).unwrap();
    fs::remove_file(fx.shard(3)).unwrap();
    fs::write(fx.build().join("shards/000009.ebs.zst"), b"stray").unwrap();
    let out = pipeline_run(["verify".as_ref(), fx.build().as_os_str()])
        .expect_code(2)
        .expect_output("shards/000000.ebs.zst: unreadable:")
        .expect_output("truncated")
        .expect_output("shards/000003.ebs.zst: missing")
        .expect_output("shards/000009.ebs.zst: not listed in the manifest")
        .expect_output("FAILED: 3 problem(s)");
    assert_eq!(
        out.stdout.lines().count(),
        4,
        "one line per problem\n{}",
        out.dump()
    );
}

#[test]
fn extra_shard_alone_is_a_mismatch() {
    let fx = Fixture::new();
    fs::copy(fx.shard(0), fx.build().join("shards/000004.ebs.zst")).unwrap();
    pipeline_run(["verify".as_ref(), fx.build().as_os_str()])
        .expect_code(1)
        .expect_output("shards/000004.ebs.zst: not listed in the manifest");
}

#[test]
fn edited_manifest_count_names_the_shard() {
    let fx = Fixture::new();
    let path = fx.build().join("manifest.json");
    let text = fs::read_to_string(&path).unwrap();
    // shard 2's entry: first_example 64, then its examples count
    let edited = text.replacen(
        "\"first_example\": 64,\n      \"examples\": 32",
        "\"first_example\": 64,\n      \"examples\": 33",
        1,
    );
    assert_ne!(edited, text);
    fs::write(&path, edited).unwrap();
    pipeline_run(["verify".as_ref(), fx.build().as_os_str()])
        .expect_code(1)
        .expect_output("shards/000002.ebs.zst: examples is 32 but the manifest says 33")
        .expect_output("manifest.json: root hash");
}

#[test]
fn wrong_magic_and_version_in_a_shard_header() {
    let fx = Fixture::new();
    let mut header = [0u8; 32];
    header[..8].copy_from_slice(b"NOTSHARD");
    replace_frame(&fx.shard(1), 0, &header);
    let mut header = *b"EBSHARD\0\x02\0\0\0\0\0\0\0\x20\0\0\0\0\0\0\0\x40\0\0\0\0\0\0\0";
    replace_frame(&fx.shard(2), 0, &header);
    pipeline_run(["verify".as_ref(), fx.build().as_os_str()])
        .expect_code(2)
        .expect_output("shards/000001.ebs.zst: unreadable:")
        .expect_output("wrong magic")
        .expect_output("format version 2; this build reads version 1");
    // Sanity: the version-1 header with the same fields reads again.
    header[8] = 1;
    replace_frame(&fx.shard(2), 0, &header);
    let out = pipeline_run(["verify".as_ref(), fx.build().as_os_str()]).expect_code(2);
    assert!(!out.stdout.contains("000002"), "{}", out.dump());
}

#[test]
fn unreadable_manifests_and_goldens_are_one_line_errors() {
    let fx = Fixture::new();
    let manifest = fx.build().join("manifest.json");
    let golden = fx.root.path().join("golden.json");
    let text = fs::read_to_string(&manifest).unwrap();

    let cases: Vec<(&str, &str, String, &str)> = vec![
        (
            "build",
            "garbage",
            "{ not json".into(),
            "is not a valid manifest",
        ),
        (
            "build",
            "unknown field",
            text.replacen('{', "{\"extra\": 1,", 1),
            "unknown field `extra`",
        ),
        (
            "golden",
            "future version",
            text.replacen("\"format_version\": 1", "\"format_version\": 7", 1),
            "format version 7",
        ),
        (
            "golden",
            "not earlyberts",
            "{\"files\": []}".into(),
            "no format_version",
        ),
    ];
    for (which, name, content, message) in cases {
        fs::write(&manifest, &text).unwrap();
        fs::write(&golden, &text).unwrap();
        let target = if which == "build" { &manifest } else { &golden };
        fs::write(target, content).unwrap();
        let out = pipeline_run([
            "verify".as_ref(),
            fx.build().as_os_str(),
            "--golden".as_ref(),
            golden.as_os_str(),
        ])
        .expect_code(2)
        .expect_output(message);
        assert_eq!(
            out.stderr.lines().count(),
            1,
            "{name}: one line\n{}",
            out.dump()
        );
        assert!(
            out.stderr.starts_with("pipeline: "),
            "{name}\n{}",
            out.dump()
        );
    }
    fs::remove_file(&manifest).unwrap();
    pipeline_run(["verify".as_ref(), fx.build().as_os_str()])
        .expect_code(2)
        .expect_output("manifest.json");
}

#[test]
fn a_different_build_is_named_against_golden() {
    let fx = Fixture::new();
    let other = fx.root.path().join("other");
    let mut examples = fx.examples.clone();
    examples[70].nsp_label = match examples[70].nsp_label {
        earlyberts_format::NspLabel::IsNext => earlyberts_format::NspLabel::RandomNext,
        earlyberts_format::NspLabel::RandomNext => earlyberts_format::NspLabel::IsNext,
    };
    write_synthetic_build(&other, &examples, 32);
    // The other build is internally consistent, so only the golden comparison fails.
    pipeline_run(["verify".as_ref(), other.as_os_str()]).expect_code(0);
    pipeline_run([
        "verify".as_ref(),
        other.as_os_str(),
        "--golden".as_ref(),
        fx.build().as_os_str(),
    ])
    .expect_code(1)
    .expect_output("shards/000002.ebs.zst: hash ")
    .expect_output("first differing example is 70 (example 6 of the shard): NSP label");
    // Different shard sizes: hashes are not comparable, examples still are.
    let resharded = fx.root.path().join("resharded");
    write_synthetic_build(&resharded, &synthetic_examples(100, 7), 50);
    pipeline_run([
        "verify".as_ref(),
        resharded.as_os_str(),
        "--golden".as_ref(),
        fx.build().as_os_str(),
    ])
    .expect_code(1)
    .expect_output("examples_per_shard is 50, golden has 32");
}
