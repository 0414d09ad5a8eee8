//! Recipes: every parameter of a build, in a TOML file (`manifests/recipes/*.toml`).
//!
//! Unknown keys and out-of-range values are refused before any work starts. Input globs are
//! relative to the current directory and expanded in sorted order.
//!
//! A build records its recipe as JSON in `manifest.json` (`recipe.params`) with a hash of it
//! (`recipe.hash`); `pipeline audit` and `verify` read it back into [`Recipe`]. So the JSON of
//! a recipe is a format: a build made today must audit tomorrow, and a recipe that did not
//! change must keep its hash.
//!
//! # Adding a recipe option
//! 1. Add the field to the section it belongs to (`TextParams`, [`PairingOptions`],
//!    [`MaskingPolicy`], …) with a doc comment, and give it
//!    `#[serde(default, skip_serializing_if = "…")]` where the test is "is the default":
//!    manifests written before the option existed then still parse (`default`), and every
//!    recipe that leaves the option at its default serialises — and hashes — as before
//!    (`skip_serializing_if`). A required field silently breaks `audit` of older builds.
//! 2. Check its range in the section's `validate` with an [`Invalid`] (the field named as
//!    in the TOML file: `masking.max_length`).
//! 3. Use it in the stage that owns it (`pairs/`, `mask/`, …) and nowhere else; the stage's
//!    module doc says what it does.
//! 4. If it changes what the audit expects, change the expectation where it is computed
//!    (e.g. [`MaskingPolicy::expected_shares`]), not in `audit.rs`.
//! 5. Document it in docs/DETERMINISM.md; set it in `manifests/recipes/*.toml` only if a
//!    recipe wants another value than the default (that changes the recipe's hash and its
//!    golden manifests: regenerate them with `EARLYBERTS_BLESS=1`).
//!
//! The tests `committed_recipes_keep_their_recorded_hashes` and
//! `recorded_recipes_read_back_unchanged` fail when step 1 is skipped.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use earlyberts_format::{Invalid, ShardLayout, Vocab, at_least, probability};

use crate::{
    Error, Result,
    clean::CleanRules,
    mask::{MaskingPolicy, Truncation},
    pairs::PairingOptions,
    reference::ReferenceParams,
    source::CorpusKind,
    split::{LineBreaks, SplitterChoice, spacy::SpacyPlan},
    text::{RowRule, TextPlan},
};

/// A recipe file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RecipeFile", into = "RecipeFile")]
pub struct Recipe {
    /// The recipe's name, recorded in manifests.
    pub name: String,
    /// Which kind of build, with the parameters only that kind reads.
    pub kind: RecipeKind,
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

/// The two kinds of recipe (docs/DETERMINISM.md): the same rules, two sources of randomness.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum RecipeKind {
    /// Keyed PCG streams: any example computable alone, any prefix equal to the full build.
    #[default]
    Keyed,
    /// The reference script's CPython, numpy and torch streams, run history and row rules:
    /// the examples EarlyBERTs trained on; with its own parameters (its run history, its
    /// collator batch).
    Reference(ReferenceParams),
}

impl RecipeKind {
    pub fn is_reference(&self) -> bool {
        matches!(self, RecipeKind::Reference(_))
    }
}

/// A recipe as its TOML file and a manifest's `recipe.params` spell it: the kind a marker,
/// the reference kind's parameters a section of their own. Its JSON is hashed into every
/// manifest, so its fields and their order are a format.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecipeFile {
    name: String,
    #[serde(default, skip_serializing_if = "KindMarker::is_keyed")]
    kind: KindMarker,
    inputs: Inputs,
    text: TextParams,
    pairs: PairingOptions,
    masking: MaskingPolicy,
    shards: ShardLayout,
    training: TrainingParams,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reference: Option<ReferenceParams>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum KindMarker {
    #[default]
    Keyed,
    Reference,
}

impl KindMarker {
    fn is_keyed(&self) -> bool {
        *self == KindMarker::Keyed
    }
}

impl TryFrom<RecipeFile> for Recipe {
    type Error = String;

    fn try_from(file: RecipeFile) -> Result<Recipe, String> {
        let kind = match (file.kind, file.reference) {
            (KindMarker::Keyed, None) => RecipeKind::Keyed,
            (KindMarker::Reference, Some(reference)) => RecipeKind::Reference(reference),
            (KindMarker::Keyed, Some(_)) => {
                return Err(
                    "only a recipe with kind = \"reference\" has a [reference] section".into(),
                );
            }
            (KindMarker::Reference, None) => {
                return Err("kind = \"reference\" needs a [reference] section".into());
            }
        };
        Ok(Recipe {
            name: file.name,
            kind,
            inputs: file.inputs,
            text: file.text,
            pairs: file.pairs,
            masking: file.masking,
            shards: file.shards,
            training: file.training,
        })
    }
}

impl From<Recipe> for RecipeFile {
    fn from(recipe: Recipe) -> RecipeFile {
        let (kind, reference) = match recipe.kind {
            RecipeKind::Keyed => (KindMarker::Keyed, None),
            RecipeKind::Reference(reference) => (KindMarker::Reference, Some(reference)),
        };
        RecipeFile {
            name: recipe.name,
            kind,
            inputs: recipe.inputs,
            text: recipe.text,
            pairs: recipe.pairs,
            masking: recipe.masking,
            shards: recipe.shards,
            training: recipe.training,
            reference,
        }
    }
}

/// Input globs given on the command line in place of the recipe's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InputOverrides {
    pub wikipedia: Option<Vec<String>>,
    pub bookcorpus: Option<Vec<String>>,
    /// The reference's `wiki-sentences.csv`: Wikipedia's rows, already split.
    pub sentences: Option<Vec<String>>,
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
    /// What a single line break in Wikipedia text means to the rule-based splitter.
    pub line_breaks: LineBreaks,
    /// Which splitter makes Wikipedia's sentences: the rules (default) or spaCy.
    #[serde(default, skip_serializing_if = "SplitterChoice::is_rules")]
    pub splitter: SplitterChoice,
    /// Sentences per store shard.
    pub sentences_per_shard: u64,
    /// The cleaning rules that are on.
    #[serde(default)]
    pub clean: CleanRules,
}

impl Recipe {
    /// Reads and validates a recipe file.
    pub fn load(path: &Path) -> Result<Recipe> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let recipe: Recipe = toml::from_str(&text).map_err(|e| Error::Recipe {
            path: path.to_path_buf(),
            reason: one_line(&e.to_string()),
        })?;
        recipe.validate().map_err(|invalid| Error::RecipeValue {
            path: path.to_path_buf(),
            invalid,
        })?;
        Ok(recipe)
    }

    /// Checks every value is in range.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.name.is_empty() {
            return Err(Invalid::Empty {
                field: "name".into(),
            });
        }
        let sha = &self.text.vocab_sha256;
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Invalid::Malformed {
                field: "text.vocab_sha256".into(),
                value: sha.clone(),
                expected: "a sha256",
            });
        }
        at_least("text.sentences_per_shard", self.text.sentences_per_shard, 1)?;
        probability(
            "pairs.random_next_fraction",
            self.pairs.random_next_fraction,
        )?;
        self.masking.validate()?;
        self.shards.validate().map_err(|e| e.within("shards"))?;
        at_least("training.batch_size", self.training.batch_size, 1)?;
        if !self.text.splitter.is_rules() && self.text.clean != CleanRules::default() {
            // Its results on disk are keyed by the spaCy setup alone.
            return Err(Invalid::Unusable {
                field: "text.clean".into(),
                value: "rules on, with the spaCy splitter".into(),
                reason: "spaCy splits the text as published: turn the rules off, or split with the rules".into(),
            });
        }
        self.validate_kind()
    }

    /// The reference kind reads the text, pairs and cuts as the script did.
    fn validate_kind(&self) -> Result<(), Invalid> {
        let RecipeKind::Reference(reference) = &self.kind else {
            return Ok(());
        };
        let mixed = |field: &str, reason: &str| {
            Err(Invalid::Unusable {
                field: field.into(),
                value: "set in a reference recipe".into(),
                reason: reason.into(),
            })
        };
        let keyed_pairs = PairingOptions {
            random_next_fraction: 0.5,
            respect_documents: false,
            derangement: false,
        };
        if self.pairs != keyed_pairs {
            return mixed(
                "pairs",
                "the reference kind pairs as the script does: random_next_fraction = 0.5, respect_documents = false, derangement = false",
            );
        }
        if self.text.clean != CleanRules::default() {
            return mixed(
                "text.clean",
                "the reference kind reads the text as the script did, without cleaning rules",
            );
        }
        if self.masking.truncation != Truncation::MlmPy {
            return mixed(
                "masking.truncation",
                "the reference kind cuts long sequences as mlm.py does: truncation = \"mlm_py\"",
            );
        }
        at_least("reference.batch_size", reference.batch_size, 1)?;
        reference.history.validate()
    }

    /// The vocabulary the recipe's ids refer to: `path`, or the built-in uncased BERT one,
    /// checked against the recipe's sha256 and its random-token range.
    pub fn vocabulary(&self, path: Option<&Path>) -> Result<Vocab> {
        let vocab = Vocab::expecting(path, &self.text.vocab_sha256)?;
        let [start, end] = self.masking.random_token_range;
        if end as usize > vocab.len() {
            return Err(Error::Invalid(Invalid::Unusable {
                field: "masking.random_token_range".into(),
                value: format!("[{start}, {end})"),
                reason: format!("past the vocabulary's {} entries", vocab.len()),
            }));
        }
        Ok(vocab)
    }

    /// The text stages' plan: this recipe's rules over its inputs (or `wikipedia` and
    /// `bookcorpus` globs in their place), with `vocab`, into the store at `out`.
    pub fn text_plan(
        &self,
        vocab: Vocab,
        inputs: &InputOverrides,
        out: PathBuf,
    ) -> Result<TextPlan> {
        let mut plan = TextPlan::new(
            self.input_files(inputs)?,
            vocab,
            self.text.clean,
            self.text.line_breaks,
            self.text.sentences_per_shard,
            out,
        );
        // The reference read its Wikipedia sentences back from a CSV file.
        if self.kind.is_reference() {
            plan.row_rule = RowRule::CsvRoundTrip;
        }
        if let SplitterChoice::Spacy { model, version } = &self.text.splitter {
            plan.spacy = Some(SpacyPlan::pinned(model, version));
        }
        Ok(plan)
    }

    /// The input files: globs expanded (sorted), Wikipedia first (its articles, or its
    /// sentences from the reference's `wiki-sentences.csv`), then BookCorpus. The
    /// overrides, when given, replace the recipe's globs.
    pub fn input_files(&self, overrides: &InputOverrides) -> Result<Vec<(CorpusKind, PathBuf)>> {
        let mut files = Vec::new();
        let wikipedia = match &overrides.sentences {
            Some(csv) => (CorpusKind::WikipediaSentences, csv.as_slice()),
            None => (
                CorpusKind::Wikipedia,
                overrides
                    .wikipedia
                    .as_deref()
                    .unwrap_or(&self.inputs.wikipedia),
            ),
        };
        let sets = [
            wikipedia,
            (
                CorpusKind::Bookcorpus,
                overrides
                    .bookcorpus
                    .as_deref()
                    .unwrap_or(&self.inputs.bookcorpus),
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
                    return Err(Error::NoInput {
                        pattern: PathBuf::from(pattern),
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
            (
                RECIPE.replace(
                    "sentences_per_shard = 10",
                    "sentences_per_shard = 10\n[text.clean]\nnfc = true\n[text.splitter.spacy]\nmodel = \"m\"\nversion = \"1\"",
                ),
                "spaCy splits the text as published",
            ),
            (
                RECIPE.replace("name = \"t\"", "name = \"t\"\nkind = \"reference\""),
                "kind = \"reference\" needs a [reference] section",
            ),
        ];
        for (text, message) in cases {
            let err = load(&text).unwrap_err().to_string();
            assert!(err.contains(message), "{err:?} lacks {message:?}");
            assert_eq!(err.lines().count(), 1, "{err}");
        }
    }

    /// Each committed recipe with the golden manifests of its builds.
    fn golden_manifests() -> Vec<(Recipe, earlyberts_format::Manifest)> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        ["earlyberts", "earlyberts-keyed"]
            .iter()
            .flat_map(|name| {
                let recipe = root.join(format!("manifests/recipes/{name}.toml"));
                let recipe = Recipe::load(&recipe).unwrap();
                let root = root.clone();
                (0..5).map(move |seed| {
                    let path = root.join(format!("golden/fixture-{name}-seed{seed}.json"));
                    (
                        recipe.clone(),
                        earlyberts_format::Manifest::load(&path).unwrap(),
                    )
                })
            })
            .collect()
    }

    /// A new recipe option that serialises at its default changes the hash of every
    /// existing recipe (and so every golden manifest): options need `skip_serializing_if`.
    #[test]
    fn committed_recipes_keep_their_recorded_hashes() {
        for (recipe, golden) in golden_manifests() {
            assert_eq!(recipe.info().hash, golden.recipe.hash);
            assert_eq!(recipe.info().params, golden.recipe.params);
        }
    }

    /// Builds record their recipe as JSON; `audit` reads it back. A new required field
    /// would make every older build unauditable: options need `default`.
    #[test]
    fn recorded_recipes_read_back_unchanged() {
        for (_, golden) in golden_manifests() {
            let params = golden.recipe.params;
            let recipe: Recipe = serde_json::from_value(params.clone()).unwrap();
            assert_eq!(serde_json::to_value(&recipe).unwrap(), params);
            // `text.clean` came after the first builds; a manifest without it still reads.
            let mut older = params.clone();
            older["text"].as_object_mut().unwrap().remove("clean");
            let recipe: Recipe = serde_json::from_value(older).unwrap();
            assert_eq!(recipe.text.clean, CleanRules::default());
        }
    }
}
