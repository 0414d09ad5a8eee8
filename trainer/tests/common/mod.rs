//! A small synthetic build for the trainer's tests.

use earlyberts_format::{Build, BuildInfo, RecipeInfo, ShardLayout, synthetic, write_build};

/// The batch size the tests' builds are made for (their recipe's `training.batch_size`).
pub const BATCH: u64 = 8;

/// `n` synthetic examples of at most 48 tokens (to keep the tiny model fast), 16 per shard,
/// made for steps of [`BATCH`].
pub fn build(dir: &std::path::Path, n: usize) -> Build {
    build_with(dir, n, info("test"))
}

/// What the tests' builds record: a recipe `name` made for steps of [`BATCH`].
pub fn info(name: &str) -> BuildInfo {
    let params = serde_json::json!({"training": {"batch_size": BATCH}});
    BuildInfo {
        recipe: RecipeInfo::new(name, params),
        ..BuildInfo::synthetic(name)
    }
}

/// [`build`], recording `info` (e.g. another vocabulary) in its manifest.
pub fn build_with(dir: &std::path::Path, n: usize, info: BuildInfo) -> Build {
    let examples: Vec<_> = synthetic::examples(n, 5)
        .into_iter()
        .map(|mut e| {
            // keep the tiny model fast: at most 48 tokens
            if e.token_ids.len() > 48 {
                e.token_ids.truncate(47);
                e.token_ids.push(102);
                e.segment_a_len = e.segment_a_len.min(47);
                let keep = e.mlm_positions.iter().take_while(|&&p| p < 47).count();
                e.mlm_positions.truncate(keep);
                e.mlm_labels.truncate(keep);
            }
            e
        })
        .collect();
    write_build(
        dir,
        ShardLayout {
            examples_per_shard: 16,
            ..ShardLayout::default()
        },
        info,
        &examples,
    )
    .unwrap();
    Build::open(dir).unwrap()
}
