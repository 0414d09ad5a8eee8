//! `pipeline sentences`: text on stdin → one sentence per line, a blank line between
//! paragraphs.

use std::{
    io::{self, Read, Write},
    process::ExitCode,
};

use anyhow::Context;
use earlyberts_pipeline::{
    clean::{CleanRules, TextCleaner},
    split::{LineBreaks, RuleSplitter},
    stage::{Cleaner, SentenceSplitter},
};

use crate::GlobalArgs;

#[derive(clap::Args)]
pub struct SentencesArgs {
    /// What a single line break means: `wrapped` prose (default), one `paragraph` per line,
    /// or `spacy-like` (a sentence ends at a line break only after terminated text).
    #[arg(long, value_enum, default_value_t = LineBreakArg::Wrapped)]
    pub line_breaks: LineBreakArg,
    /// Cleaning rules to apply first, comma-separated (control_chars, invisible, nfc,
    /// whitespace_runs, blank_lines).
    #[arg(long, value_delimiter = ',', value_name = "RULES")]
    pub clean: Vec<String>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum LineBreakArg {
    Wrapped,
    Paragraph,
    /// A line break or blank line ends a sentence only after terminated text.
    SpacyLike,
}

pub fn run(_global: &GlobalArgs, args: SentencesArgs) -> anyhow::Result<ExitCode> {
    let rules = rules_from_names(&args.clean)?;
    let mut text = String::new();
    io::stdin()
        .read_to_string(&mut text)
        .context("cannot read standard input as UTF-8 text")?;
    let mut cleaned = String::new();
    TextCleaner::new(rules).clean(&text, &mut cleaned);
    let splitter = RuleSplitter::new(match args.line_breaks {
        LineBreakArg::Wrapped => LineBreaks::Wrapped,
        LineBreakArg::Paragraph => LineBreaks::Paragraph,
        LineBreakArg::SpacyLike => LineBreaks::SpacyLike,
    });
    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut ranges = Vec::new();
    for (i, paragraph) in paragraphs(&cleaned).enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        ranges.clear();
        splitter.split(paragraph, &mut ranges);
        for range in &ranges {
            let sentence: String = paragraph[range.clone()]
                .chars()
                .map(|c| if c == '\n' { ' ' } else { c })
                .collect();
            writeln!(out, "{sentence}")?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Paragraphs: runs of lines separated by blank lines.
fn paragraphs(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let mut start = None;
        let mut offset = 0;
        for line in rest.split_inclusive('\n') {
            let blank = line.trim().is_empty();
            match (start, blank) {
                (None, false) => start = Some(offset),
                (Some(s), true) => {
                    let paragraph = &rest[s..offset];
                    rest = &rest[offset..];
                    return Some(paragraph);
                }
                _ => {}
            }
            offset += line.len();
        }
        let paragraph = start.map(|s| &rest[s..]);
        rest = "";
        paragraph
    })
}

/// Turns rule names into a rule set.
pub fn rules_from_names(names: &[String]) -> anyhow::Result<CleanRules> {
    let mut rules = CleanRules::default();
    for name in names {
        let flag = match name.trim() {
            "control_chars" => &mut rules.control_chars,
            "invisible" => &mut rules.invisible,
            "nfc" => &mut rules.nfc,
            "whitespace_runs" => &mut rules.whitespace_runs,
            "blank_lines" => &mut rules.blank_lines,
            other => anyhow::bail!(
                "unknown cleaning rule '{other}' (known: control_chars, invisible, nfc, whitespace_runs, blank_lines)"
            ),
        };
        *flag = true;
    }
    Ok(rules)
}
