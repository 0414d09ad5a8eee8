//! `pipeline inspect BUILD_DIR`: examples as readable text or JSON lines.

use std::{
    io::{self, Write},
    ops::Range,
    path::PathBuf,
    process::ExitCode,
};

use anyhow::{Context, bail};
use earlyberts_format::{Build, Example, StepBatch, Vocab};
use serde::Serialize;

use crate::{GlobalArgs, cmd::build_vocabulary};

#[derive(clap::Args)]
pub struct InspectArgs {
    /// The build directory.
    pub build: PathBuf,
    /// Global example indices to print: `K` or `START..END` (END excluded).
    #[arg(long, value_name = "RANGE", value_parser = parse_range, conflicts_with = "step")]
    pub examples: Option<Range<u64>>,
    /// Print the batch that optimizer step S (1-based) trains on.
    #[arg(long, value_name = "S")]
    pub step: Option<u64>,
    /// Examples per optimizer step for --step (default: the recipe's training.batch_size, else 256).
    #[arg(long, value_name = "N", requires = "step")]
    pub batch_size: Option<u64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// vocab.txt to render tokens with (default: the built-in uncased BERT vocabulary).
    #[arg(long, value_name = "FILE")]
    pub vocab: Option<PathBuf>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// `[CLS] the cat [MASK](sat) ...`: each labelled token followed by its label.
    Text,
    /// One JSON object per example.
    Jsonl,
}

/// One example as `--format jsonl` prints it.
#[derive(Serialize)]
struct ExampleJson<'a> {
    index: u64,
    token_ids: &'a [u16],
    segment_ids: Vec<u8>,
    mlm_positions: &'a [u16],
    mlm_labels: &'a [u16],
    nsp_label: u8,
}

pub fn run(_global: &GlobalArgs, args: InspectArgs) -> anyhow::Result<ExitCode> {
    let build = Build::open(&args.build)
        .with_context(|| format!("cannot inspect '{}'", args.build.display()))?;
    let runs = selection(&args, &build)?;
    let vocab = match args.format {
        Format::Text => Some(build_vocabulary(&build, args.vocab.as_deref())?),
        Format::Jsonl => None,
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut example = Example::default();
    for run in runs {
        let mut stream = build.stream_from(run.start)?;
        for _ in run.clone() {
            let index = stream
                .read_next(&mut example)?
                .expect("selected ranges lie inside the build");
            match &vocab {
                Some(vocab) => write_text(&mut out, index, &example, vocab)?,
                None => write_json(&mut out, index, &example)?,
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The examples to print, as runs of consecutive global indices.
fn selection(args: &InspectArgs, build: &Build) -> anyhow::Result<Vec<Range<u64>>> {
    let total = build.len();
    if let Some(step) = args.step {
        let batch_size = args.batch_size.unwrap_or(build.manifest().batch_size());
        let batch = StepBatch::new(step, batch_size, total)?;
        return Ok(batch.runs());
    }
    let range = args.examples.clone().unwrap_or(0..5.min(total));
    if range.end > total {
        bail!(
            "--examples {}..{} goes past the end of the build ({total} examples)",
            range.start,
            range.end
        );
    }
    Ok(vec![range])
}

fn write_text(out: &mut impl Write, index: u64, e: &Example, vocab: &Vocab) -> io::Result<()> {
    writeln!(out, "{}", e.to_text(index, vocab))
}

fn write_json(out: &mut impl Write, index: u64, e: &Example) -> io::Result<()> {
    let json = ExampleJson {
        index,
        token_ids: &e.token_ids,
        segment_ids: e.segment_ids(),
        mlm_positions: &e.mlm_positions,
        mlm_labels: &e.mlm_labels,
        nsp_label: e.nsp_label.id(),
    };
    serde_json::to_writer(&mut *out, &json)?;
    writeln!(out)
}

fn parse_range(text: &str) -> Result<Range<u64>, String> {
    let number = |s: &str| {
        s.trim()
            .replace('_', "")
            .parse::<u64>()
            .map_err(|_| format!("'{s}' is not a whole number"))
    };
    let range = match text.split_once("..") {
        Some((start, end)) => number(start)?..number(end)?,
        None => {
            let k = number(text)?;
            k..k + 1
        }
    };
    if range.start >= range.end {
        return Err(format!("'{text}' is an empty range"));
    }
    Ok(range)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse() {
        assert_eq!(parse_range("1000..1010"), Ok(1000..1010));
        assert_eq!(parse_range("7"), Ok(7..8));
        assert_eq!(parse_range("1_000..2_000"), Ok(1000..2000));
        assert!(parse_range("5..5").is_err());
        assert!(parse_range("a..b").is_err());
    }
}
