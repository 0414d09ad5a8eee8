//! `pipeline where BUILD`: at which steps, in which examples and at which positions the
//! model saw a sentence, a document or a piece of text — the reverse of `inspect --step`.

use std::{
    io::{self, Write},
    path::PathBuf,
    process::ExitCode,
    time::Instant,
};

use anyhow::{Context, bail};
use earlyberts_format::{
    Build, StepBatch,
    provenance::{PROVENANCE_INFO_FILE, ProvenanceIndex},
};
use earlyberts_pipeline::{
    provenance::{Occurrence, Query, Scope, find},
    stage::Tokenizer,
    tokenize::BertWordPiece,
};
use serde::Serialize;

use crate::{
    GlobalArgs,
    cmd::{batch_size, build_vocabulary, inspect::Format},
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

/// One line of the answer.
#[derive(Serialize)]
struct Line {
    step: u64,
    example: u64,
    segment: earlyberts_format::provenance::Segment,
    sentence: u32,
    document: u32,
    positions: [u16; 2],
    masked: u16,
}

/// Exit status 0 when something was found, 1 when nothing was (as grep's).
pub fn run(_global: &GlobalArgs, args: WhereArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let build = Build::open(&args.build)
        .with_context(|| format!("cannot search '{}'", args.build.display()))?;
    let index = open_index(&build)?;
    let query = query(&args, &build)?;
    let batch = batch_size(&build, args.batch_size);
    if batch == 0 {
        bail!("--batch-size 0: a step holds at least 1 example");
    }
    if args.until_step == Some(0) {
        bail!("--until-step 0: steps are numbered from 1");
    }
    let scope = match args.first && args.until_step.is_none() {
        true => Scope::FirstStep { batch_size: batch },
        false => Scope::All,
    };
    let found = find(&build, &index, &query, scope)
        .with_context(|| format!("cannot search '{}'", args.build.display()))?;
    let mut lines: Vec<Line> = found
        .iter()
        .flat_map(|o| {
            StepBatch::steps_of(o.example, batch, build.len(), args.until_step)
                .into_iter()
                .map(move |step| line(step, o))
        })
        .collect();
    lines.sort_by_key(|l| (l.step, l.example, l.positions[0]));
    if args.first
        && let Some(first) = lines.first().map(|l| l.step)
    {
        lines.retain(|l| l.step == first);
    }
    render(&lines, args.format)?;
    summarize(&lines, (found.len(), scope), &build, started);
    Ok(match lines.is_empty() {
        true => ExitCode::from(1),
        false => ExitCode::SUCCESS,
    })
}

fn open_index(build: &Build) -> anyhow::Result<ProvenanceIndex> {
    let rebuild = "run `pipeline build` again with the options that made the build: it writes the index and leaves the shards as they are";
    match ProvenanceIndex::open(build) {
        Ok(index) => Ok(index),
        Err(earlyberts_format::Error::Io { path, source })
            if source.kind() == io::ErrorKind::NotFound =>
        {
            bail!(
                "'{}' has no provenance index ({PROVENANCE_INFO_FILE} is missing: '{}'); {rebuild}",
                build.dir().display(),
                path.display()
            )
        }
        Err(e @ earlyberts_format::Error::Provenance { .. }) => bail!("{e}; {rebuild}"),
        Err(e) => Err(e.into()),
    }
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
    let mut ids = Vec::new();
    BertWordPiece::new(&vocab)?.encode_into(text, &mut ids)?;
    if ids.is_empty() {
        bail!("--text '{text}' has no tokens to search for");
    }
    Ok(Query::Tokens(ids))
}

fn line(step: u64, o: &Occurrence) -> Line {
    Line {
        step,
        example: o.example,
        segment: o.segment,
        sentence: o.sentence,
        document: o.document,
        positions: [o.positions.start, o.positions.end],
        masked: o.masked,
    }
}

fn render(lines: &[Line], format: Format) -> anyhow::Result<()> {
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

fn summarize(
    lines: &[Line],
    (occurrences, scope): (usize, Scope),
    build: &Build,
    started: Instant,
) {
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
            match scope {
                Scope::All => "in the build",
                Scope::FirstStep { .. } => "up to the first step",
            },
            plural(lines.len(), "line"),
            first.step
        ),
    }
}
