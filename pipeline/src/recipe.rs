//! Recipes: every parameter of a build, in a TOML file (`manifests/recipes/*.toml`).
//!
//! Unknown keys and out-of-range values are refused before any work starts. Input globs are
//! relative to the current directory and expanded in sorted order.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use earlyberts_format::ShardLayout;

use crate::{
    Error, Result, clean::CleanRules, mask::MaskingPolicy, pairs::PairingOptions,
    source::CorpusKind, split::LineBreaks,
};

/// A recipe file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// The recipe's name, recorded in manifests.
    pub name: String,
    /// Where the corpora are.
    pub inputs: Inputs,
    /// The text stages.
    pub text: TextParams,
    /// Next-sentence-prediction pairs and their order.
    pub pairs: PairingOptions,
    /// Static masking and the length rule.
    pub masking: MaskingPolicy,
    /// How examples are cut into shards and compressed.
    pub shards: ShardLayout,
    /// What the trainer will do with the build.
    pub training: TrainingParams,
}

/// Training facts a build needs to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingParams {
    /// Examples per optimizer step (the reference: 256); `inspect --step` uses it.
    pub batch_size: u64,
}

/// Input files, as globs; Wikipedia's sentences come first, then BookCorpus's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    #[serde(default)]
    pub wikipedia: Vec<String>,
    #[serde(default)]
    pub bookcorpus: Vec<String>,
}

/// Parameters of clean, split, tokenize and the sentence store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextParams {
    /// sha256 of the WordPiece `vocab.txt`.
    pub vocab_sha256: String,
    /// What a single line break in Wikipedia text means to the splitter.
    pub line_breaks: LineBreaks,
    /// Sentences per store shard.
    pub sentences_per_shard: u64,
    /// The cleaning rules that are on.
    #[serde(default)]
    pub clean: CleanRules,
}

impl Recipe {
    /// Reads and validates a recipe file.
    pub fn load(path: &Path) -> Result<Recipe> {
        let bad = |reason: String| Error::Recipe {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let recipe: Recipe = toml::from_str(&text).map_err(|e| bad(one_line(&e.to_string())))?;
        recipe.validate().map_err(bad)?;
        Ok(recipe)
    }

    /// Checks every value is in range.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.is_empty() {
            return Err("name is empty".into());
        }
        let hex = self.text.vocab_sha256.len() == 64
            && self
                .text
                .vocab_sha256
                .bytes()
                .all(|b| b.is_ascii_hexdigit());
        if !hex {
            return Err(format!(
                "text.vocab_sha256 '{}' is not a sha256",
                self.text.vocab_sha256
            ));
        }
        if self.text.sentences_per_shard == 0 {
            return Err("text.sentences_per_shard must be at least 1".into());
        }
        let fraction = self.pairs.random_next_fraction;
        if !(0.0..=1.0).contains(&fraction) {
            return Err(format!(
                "pairs.random_next_fraction is {fraction}, outside [0, 1]"
            ));
        }
        self.masking.validate()?;
        self.shards.validate().map_err(|e| format!("shards: {e}"))?;
        if self.training.batch_size == 0 {
            return Err("training.batch_size must be at least 1".into());
        }
        Ok(())
    }

    /// The input files: globs expanded (sorted), Wikipedia first. `wikipedia` and
    /// `bookcorpus`, when given, replace the recipe's globs.
    pub fn input_files(
        &self,
        wikipedia: Option<&[String]>,
        bookcorpus: Option<&[String]>,
    ) -> Result<Vec<(CorpusKind, PathBuf)>> {
        let mut files = Vec::new();
        let sets = [
            (
                CorpusKind::Wikipedia,
                wikipedia.unwrap_or(&self.inputs.wikipedia),
            ),
            (
                CorpusKind::Bookcorpus,
                bookcorpus.unwrap_or(&self.inputs.bookcorpus),
            ),
        ];
        for (kind, patterns) in sets {
            for pattern in patterns {
                let mut matched: Vec<PathBuf> = glob::glob(pattern)
                    .map_err(|e| Error::Recipe {
                        path: PathBuf::from(pattern),
                        reason: format!("bad glob: {e}"),
                    })?
                    .filter_map(|entry| entry.ok())
                    .collect();
                if matched.is_empty() {
                    return Err(Error::Corpus {
                        path: PathBuf::from(pattern),
                        format: "input",
                        reason: "no file matches (fetch the sources first, or pass --wiki/--books)"
                            .into(),
                    });
                }
                matched.sort();
                files.extend(matched.into_iter().map(|p| (kind, p)));
            }
        }
        Ok(files)
    }
}

/// TOML errors span several lines (a source excerpt); keep the message line.
fn one_line(message: &str) -> String {
    let lines: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let location = lines.first().copied().unwrap_or_default();
    let reason = lines.last().copied().unwrap_or_default();
    if location == reason {
        reason.to_string()
    } else {
        format!("{location}: {reason}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECIPE: &str = r#"
name = "t"
[inputs]
wikipedia = ["w/*.parquet"]
[text]
vocab_sha256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
line_breaks = "paragraph"
sentences_per_shard = 10
[pairs]
random_next_fraction = 0.5
respect_documents = false
derangement = false
[masking]
probability = 0.15
mask_token = 0.8
random_token_of_rest = 0.5
random_token_range = [0, 30522]
max_predictions = 80
max_length = 512
[shards]
examples_per_shard = 200000
examples_per_block = 1024
zstd_level = 3
[training]
batch_size = 256
"#;

    fn load(text: &str) -> Result<Recipe> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.toml");
        std::fs::write(&path, text).unwrap();
        Recipe::load(&path)
    }

    #[test]
    fn recipes_parse_and_refuse_bad_values() {
        let recipe = load(RECIPE).unwrap();
        assert_eq!(recipe.text.clean, CleanRules::default());
        let cases = [
            (
                RECIPE.replace("name = \"t\"", "name = \"t\"\nsurprise = 1"),
                "unknown field `surprise`",
            ),
            (
                RECIPE.replace("sentences_per_shard = 10", "sentences_per_shard = 0"),
                "sentences_per_shard must be at least 1",
            ),
            (
                RECIPE.replace("sentences_per_shard = 10", "sentences_per_shard = \"ten\""),
                "invalid type",
            ),
            (
                RECIPE.replace("\"paragraph\"", "\"lines\""),
                "unknown variant `lines`",
            ),
            (RECIPE.replace("07eced", "zz"), "is not a sha256"),
            (
                RECIPE.replace("probability = 0.15", "probability = 1.5"),
                "masking.probability is 1.5, outside [0, 1]",
            ),
            (
                RECIPE.replace("max_predictions = 80", "max_predictions = 0"),
                "max_predictions must be at least 1",
            ),
            (
                RECIPE.replace("max_length = 512", "max_length = 2"),
                "max_length is 2",
            ),
            (
                RECIPE.replace("random_next_fraction = 0.5", "random_next_fraction = -1"),
                "outside [0, 1]",
            ),
            (
                RECIPE.replace("examples_per_shard = 200000", "examples_per_shard = 0"),
                "examples_per_shard must be at least 1",
            ),
            (
                RECIPE.replace("[training]\nbatch_size = 256", ""),
                "missing field `training`",
            ),
        ];
        for (text, message) in cases {
            let err = load(&text).unwrap_err().to_string();
            assert!(err.contains(message), "{err:?} lacks {message:?}");
            assert_eq!(err.lines().count(), 1, "{err}");
        }
    }
}
