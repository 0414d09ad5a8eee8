//! `pipeline where BUILD`: at which steps, in which examples and at which positions the
//! model saw a sentence, a document or a piece of text — the reverse of `inspect --step`.

use std::{
    io::{self, Write},
    path::PathBuf,
    process::ExitCode,
    time::Instant,
};

use anyhow::Context;
use earlyberts_format::{Build, Invalid};
use earlyberts_pipeline::{
    Error,
    provenance::{Query, Scope, Sighting, Sightings, Steps, open_index, sightings},
};

use crate::{
    GlobalArgs,
    cmd::{build_vocabulary, inspect::Format},
};

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["sentence", "document", "text"])))]
pub struct WhereArgs {
    /// The build directory.
    pub build: PathBuf,
    /// Sentence N of the sentence store (corpus order, from 0).
    #[arg(long, value_name = "N")]
    pub sentence: Option<u32>,
    /// Every sentence of document D of the sentence store (from 0).
    #[arg(long, value_name = "D")]
    pub document: Option<u32>,
    /// A piece of text, tokenized with the build's vocabulary and searched as a token
    /// sequence in every example (masked positions count as their original tokens).
    #[arg(long, value_name = "TEXT")]
    pub text: Option<String>,
    /// Print only the occurrences of the first step that has any.
    #[arg(long)]
    pub first: bool,
    /// Examples per optimizer step (default: the recipe's training.batch_size, else 256).
    #[arg(long, value_name = "N")]
    pub batch_size: Option<u64>,
    /// List the steps of later passes over the data too, up to step S (a run of more
    /// steps than the build has batches sees each example again).
    #[arg(long, value_name = "S")]
    pub until_step: Option<u64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// vocab.txt for --text (default: the built-in uncased BERT vocabulary).
    #[arg(long, value_name = "FILE")]
    pub vocab: Option<PathBuf>,
}

/// Exit status 0 when something was found, 1 when nothing was (as grep's).
pub fn run(_global: &GlobalArgs, args: WhereArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let build = Build::open(&args.build)
        .with_context(|| format!("cannot search '{}'", args.build.display()))?;
    let index = open_index(&build)?;
    let query = query(&args, &build)?;
    let steps = Steps {
        batch_size: args.batch_size.unwrap_or(build.manifest().batch_size()),
        first: args.first,
        until: args.until_step,
    };
    let found = sightings(&build, &index, &query, steps).map_err(|e| match e {
        Error::Invalid(Invalid::TooSmall { field, .. }) if field == "batch_size" => {
            anyhow::anyhow!("--batch-size 0: a step holds at least 1 example")
        }
        Error::Invalid(Invalid::TooSmall { field, .. }) if field == "until_step" => {
            anyhow::anyhow!("--until-step 0: steps are numbered from 1")
        }
        e => anyhow::Error::new(e).context(format!("cannot search '{}'", args.build.display())),
    })?;
    render(&found.lines, args.format)?;
    summarize(&found, &build, started);
    Ok(match found.lines.is_empty() {
        true => ExitCode::from(1),
        false => ExitCode::SUCCESS,
    })
}

fn query(args: &WhereArgs, build: &Build) -> anyhow::Result<Query> {
    if let Some(n) = args.sentence {
        return Ok(Query::Sentence(n));
    }
    if let Some(d) = args.document {
        return Ok(Query::Document(d));
    }
    let text = args
        .text
        .as_deref()
        .expect("clap requires one of the three");
    let vocab = build_vocabulary(build, args.vocab.as_deref())?;
    Query::text(text, &vocab).map_err(|e| match e {
        Error::EmptyQuery { .. } => anyhow::anyhow!("--text {e}"),
        e => e.into(),
    })
}

fn render(lines: &[Sighting], format: Format) -> anyhow::Result<()> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    for l in lines {
        match format {
            Format::Jsonl => {
                serde_json::to_writer(&mut out, l)?;
                writeln!(out)?;
            }
            Format::Text => {
                let [start, end] = l.positions;
                let positions = match start == end {
                    true => "none (cut by the length rule)".to_string(),
                    false => format!("{start}..{end}"),
                };
                writeln!(
                    out,
                    "step {}  example {}  segment {:?}  sentence {}  document {}  positions {positions}  masked {} of {}",
                    l.step,
                    l.example,
                    l.segment,
                    l.sentence,
                    l.document,
                    l.masked,
                    end - start
                )?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

fn summarize(found: &Sightings, build: &Build, started: Instant) {
    let (lines, occurrences) = (&found.lines, found.occurrences);
    let seconds = started.elapsed().as_secs_f64();
    let plural = |n: usize, what: &str| match n {
        1 => format!("1 {what}"),
        n => format!("{n} {what}s"),
    };
    match lines.first() {
        None => eprintln!("not found in the {} examples ({seconds:.2} s)", build.len()),
        Some(first) => eprintln!(
            "{} {}, {} printed; the first at step {} ({seconds:.2} s)",
            plural(occurrences, "occurrence"),
            match found.scope {
                Scope::All => "in the build",
                Scope::FirstStep { .. } => "up to the first step",
            },
            plural(lines.len(), "line"),
            first.step
        ),
    }
}
