//! `pipeline sentences`: an article on stdin → its sentences, one per line, exactly as a
//! build splits it (`prepare --write-sentences` writes the same); `--jsonl` for many
//! articles at once.

use std::{
    io::{self, BufRead, Read, Write},
    path::PathBuf,
    process::ExitCode,
};

use anyhow::Context;
use earlyberts_format::Vocab;
use earlyberts_pipeline::{
    clean::{CleanRules, RULES},
    recipe::{InputOverrides, Recipe},
    split::LineBreaks,
    text::{TextPlan, article_sentences},
};

use crate::{
    GlobalArgs,
    cmd::{SpacyArgs, flag_context},
};

#[derive(clap::Args)]
pub struct SentencesArgs {
    /// Split as a build of this recipe does: its cleaning rules and its splitter (the rules,
    /// or spaCy with the flags below).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["line_breaks", "clean"])]
    pub recipe: Option<PathBuf>,
    /// Without --recipe, the rule splitter's line breaks: `wrapped` prose (default), one
    /// `paragraph` per line, or `spacy-like` (a sentence ends at a line break only after
    /// terminated text: the keyed recipe's).
    #[arg(long, value_enum)]
    pub line_breaks: Option<LineBreakArg>,
    #[arg(long, value_delimiter = ',', value_name = "RULES", help = format!(
        "Without --recipe, cleaning rules to apply first, comma-separated ({})",
        RULES.map(|r| r.name).join(", ")
    ))]
    pub clean: Vec<String>,
    /// Read one article per line as a JSON string, and write each article's sentences as
    /// one line, a JSON array of strings.
    #[arg(long)]
    pub jsonl: bool,
    #[command(flatten)]
    pub spacy: SpacyArgs,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum LineBreakArg {
    Wrapped,
    Paragraph,
    /// A line break or blank line ends a sentence only after terminated text.
    SpacyLike,
}

pub fn run(global: &GlobalArgs, args: SentencesArgs) -> anyhow::Result<ExitCode> {
    let scratch = tempfile::tempdir().context("cannot make a temporary directory")?;
    let plan = plan(global, &args, scratch.path().into())?;
    let articles = read_articles(args.jsonl)?;
    let split = article_sentences(&plan, articles).map_err(flag_context)?;
    let mut out = io::BufWriter::new(io::stdout().lock());
    for sentences in split {
        if args.jsonl {
            writeln!(out, "{}", serde_json::to_string(&sentences)?)?;
            continue;
        }
        for sentence in sentences {
            writeln!(out, "{}", sentence.replace('\n', " "))?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The text stages of `--recipe`, or of the rule splitter with `--line-breaks` and
/// `--clean`; spaCy's scratch results go to `scratch`.
fn plan(global: &GlobalArgs, args: &SentencesArgs, scratch: PathBuf) -> anyhow::Result<TextPlan> {
    let Some(path) = &args.recipe else {
        let line_breaks = match args.line_breaks.unwrap_or(LineBreakArg::Wrapped) {
            LineBreakArg::Wrapped => LineBreaks::Wrapped,
            LineBreakArg::Paragraph => LineBreaks::Paragraph,
            LineBreakArg::SpacyLike => LineBreaks::SpacyLike,
        };
        let rules = CleanRules::from_names(&args.clean)?;
        let vocab = Vocab::bert_base_uncased();
        return Ok(TextPlan::new(vec![], vocab, rules, line_breaks, 1, scratch));
    };
    let recipe = Recipe::load(path)?;
    // The sentences do not depend on the vocabulary: the built-in one stands in for a
    // recipe's own.
    let no_inputs = InputOverrides {
        wikipedia: Some(vec![]),
        bookcorpus: Some(vec![]),
        sentences: None,
    };
    let mut plan = recipe
        .text_plan(Vocab::bert_base_uncased(), &no_inputs, scratch)
        .map_err(flag_context)?;
    plan.apply_spacy(&args.spacy.overrides(global.threads, None))?;
    Ok(plan)
}

/// Standard input: one article, or one per line as JSON strings.
fn read_articles(jsonl: bool) -> anyhow::Result<Vec<String>> {
    if !jsonl {
        let mut text = String::new();
        io::stdin()
            .read_to_string(&mut text)
            .context("cannot read standard input as UTF-8 text")?;
        return Ok(vec![text]);
    }
    let mut articles = Vec::new();
    for (i, line) in io::stdin().lock().lines().enumerate() {
        let line = line.context("cannot read standard input as UTF-8 text")?;
        let article: String = serde_json::from_str(&line)
            .with_context(|| format!("line {} of standard input is not a JSON string", i + 1))?;
        articles.push(article);
    }
    Ok(articles)
}
