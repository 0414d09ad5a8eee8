//! `pipeline tokenize`: lines on stdin → one line of ids (or word pieces) per input line.

use std::{
    io::{self, BufRead, Write},
    path::PathBuf,
    process::ExitCode,
};

use anyhow::Context;
use earlyberts_format::Vocab;
use earlyberts_pipeline::{stage::Tokenizer, tokenize::BertWordPiece};

use crate::GlobalArgs;

#[derive(clap::Args)]
pub struct TokenizeArgs {
    /// Print word pieces instead of ids.
    #[arg(long)]
    pub pieces: bool,
    /// vocab.txt (default: the built-in uncased BERT vocabulary).
    #[arg(long, value_name = "FILE")]
    pub vocab: Option<PathBuf>,
}

pub fn run(_global: &GlobalArgs, args: TokenizeArgs) -> anyhow::Result<ExitCode> {
    let vocab = match &args.vocab {
        Some(path) => Vocab::from_file(path)?,
        None => Vocab::bert_base_uncased(),
    };
    let tokenizer = BertWordPiece::new(&vocab)?;
    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut ids = Vec::new();
    for (n, line) in io::stdin().lock().lines().enumerate() {
        let line =
            line.with_context(|| format!("cannot read line {} of standard input as UTF-8", n + 1))?;
        ids.clear();
        tokenizer.encode_into(&line, &mut ids)?;
        let words: Vec<String> = if args.pieces {
            ids.iter()
                .map(|&id| {
                    vocab
                        .token(id)
                        .expect("tokenizer ids are in the vocabulary")
                        .to_string()
                })
                .collect()
        } else {
            ids.iter().map(u16::to_string).collect()
        };
        writeln!(out, "{}", words.join(" "))?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
