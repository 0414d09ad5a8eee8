//! The text stages run: [`prepare`] into a store, [`prepare_part`] into spaCy's results.

use earlyberts_format::{verify::Progress, write_atomic};
use rayon::prelude::*;

use super::{
    TextPlan,
    deal::{Dealer, Dealt},
    export::SentenceCsvWriter,
    plan::Articles,
    resume::{Checkpoint, Resumed},
    sink::StoreSink,
    stages::{ChunkOutput, TextStages, clean_in_place},
};
use crate::{
    Error, Result,
    clean::TextCleaner,
    source::{self, CorpusKind},
    split::spacy::SpacyPart,
    store::{STORE_MANIFEST, StoreManifest, StoreWriter},
    tokenize::BertWordPiece,
};

/// What [`prepare`] made, and where it started.
pub struct Prepared {
    pub manifest: StoreManifest,
    /// The store shards an interrupted run had committed, kept (`None`: from the start).
    pub resumed: Option<Resumed>,
}

/// What a part of the spaCy work did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartReport {
    /// Chunks of documents in this part.
    pub chunks: usize,
    /// Chunks of documents this run split.
    pub computed: u64,
    /// Chunks found split already (by this part earlier, or by another).
    pub cached: u64,
    /// Wikipedia articles read.
    pub documents: u64,
}

/// Chunks in a window: enough to keep every thread busy while one chunk is slow.
fn window() -> usize {
    2 * rayon::current_num_threads().max(1)
}

/// Runs the text stages and writes the store to `plan.out`; `progress` advances by input
/// text bytes.
pub fn prepare(plan: &TextPlan, progress: &dyn Progress) -> Result<Prepared> {
    refuse_missing_parts(plan)?;
    set_total(plan, progress, |_| true)?;
    let splitter = plan.splitter(Articles::Inputs)?;
    let stages = TextStages {
        cleaner: TextCleaner::new(plan.clean),
        splitter: splitter.as_ref(),
        row_rule: plan.row_rule,
        tokenizer: BertWordPiece::new(&plan.vocab)?,
        export: plan.export_sentences.is_some(),
    };
    let checkpoint = Checkpoint::load(plan)?;
    let mut sink = StoreSink::new(
        match &checkpoint {
            Some(c) => StoreWriter::resume(&plan.out, plan.sentences_per_shard, c.shards.clone())?,
            None => StoreWriter::new(&plan.out, plan.sentences_per_shard)?,
        },
        match &plan.export_sentences {
            Some(path) => Some(SentenceCsvWriter::create(path)?),
            None => None,
        },
        match plan.resumable() {
            true => Some((plan.fingerprint()?, plan.out.clone())),
            false => None,
        },
        checkpoint.as_ref(),
        plan.inputs.iter().map(|(_, p)| p.clone()).collect(),
    );
    let mut dealer = Dealer::new(
        &plan.inputs,
        |_| true,
        checkpoint.as_ref().map(|c| c.at),
        progress,
    );
    // A window is processed on the pool while the window before it is sunk and the one after
    // it read (rayon::join): reading and sinking are sequential, and would leave the other
    // threads idle between windows. The sink still takes the chunks in order.
    let mut current = dealer.window(window())?;
    let mut done: Option<(Vec<Dealt>, Vec<ChunkOutput>)> = None;
    while !current.is_empty() {
        let (outputs, next) = rayon::join(
            || {
                current
                    .par_iter_mut()
                    .map(|dealt| stages.process(dealt))
                    .collect::<Result<Vec<ChunkOutput>>>()
            },
            || -> Result<Vec<Dealt>> {
                if let Some((dealt, outputs)) = done.take() {
                    sink_window(&mut sink, &dealt, &outputs, progress)?;
                }
                dealer.window(window())
            },
        );
        let (outputs, next) = (outputs?, next?);
        done = Some((std::mem::replace(&mut current, next), outputs));
    }
    if let Some((dealt, outputs)) = done {
        sink_window(&mut sink, &dealt, &outputs, progress)?;
    }
    let sunk = sink.finish()?;
    let manifest = StoreManifest::new(
        plan.fingerprint()?,
        sunk.counts,
        splitter.ran()?,
        sunk.totals,
        sunk.shards,
    );
    write_atomic(plan.out.join(STORE_MANIFEST), manifest.to_json().as_bytes())?;
    Checkpoint::remove(&plan.out)?;
    Ok(Prepared {
        manifest,
        resumed: checkpoint.as_ref().map(Checkpoint::resumed),
    })
}

/// Appends a processed window to the store, chunk by chunk in order.
fn sink_window(
    sink: &mut StoreSink,
    window: &[Dealt],
    outputs: &[ChunkOutput],
    progress: &dyn Progress,
) -> Result<()> {
    for (dealt, output) in window.iter().zip(outputs) {
        sink.append(dealt, output)?;
        progress.advance(dealt.chunk.bytes);
    }
    Ok(())
}

/// Runs `part` of the spaCy work of `plan`: splits that part's chunks of the Wikipedia
/// articles into the store's `rows/` directory, and writes no store.
pub fn prepare_part(
    plan: &TextPlan,
    part: &SpacyPart,
    progress: &dyn Progress,
) -> Result<PartReport> {
    let articles = CorpusKind::has_articles;
    set_total(plan, progress, articles)?;
    let cleaner = TextCleaner::new(plan.clean);
    let mut dealer = Dealer::new(&plan.inputs, articles, None, progress);
    let mut documents = 0;
    loop {
        let mut window = dealer.window(window())?;
        if window.is_empty() {
            break;
        }
        window
            .par_iter_mut()
            .map(|dealt: &mut Dealt| {
                clean_in_place(&cleaner, &mut dealt.chunk.texts);
                part.split(dealt.at, &dealt.chunk.texts)
            })
            .collect::<Result<()>>()?;
        for dealt in &window {
            documents += dealt.chunk.texts.len() as u64;
            progress.advance(dealt.chunk.bytes);
        }
    }
    let (computed, cached) = part.counts();
    Ok(PartReport {
        chunks: part.chunks(),
        computed,
        cached,
        documents,
    })
}

/// Where parts of the spaCy work ran for the store, refuses (naming them, with the
/// core-hours they take) to assemble it while chunks are missing, unless `split_missing`.
fn refuse_missing_parts(plan: &TextPlan) -> Result<()> {
    if !plan.assembles_parts()? {
        return Ok(());
    }
    match plan.spacy_to_split()? {
        Some(missing) if !missing.is_empty() => Err(Error::SpacyWorkMissing {
            summary: missing.to_string(),
        }),
        _ => Ok(()),
    }
}

/// Sets the progress total to the text bytes of the inputs `wanted` takes. Opening every
/// input for its size hint also checks them all before any work.
fn set_total(
    plan: &TextPlan,
    progress: &dyn Progress,
    wanted: fn(CorpusKind) -> bool,
) -> Result<()> {
    let mut hint = 0;
    for (kind, path) in &plan.inputs {
        if wanted(*kind) {
            hint += source::open(path)?.text_bytes_hint();
        }
    }
    progress.set_total(hint);
    Ok(())
}
