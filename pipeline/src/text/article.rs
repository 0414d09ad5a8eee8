//! Articles through the text stages, as a build splits them: what `pipeline sentences`
//! prints, and what `prepare --write-sentences` writes of the same articles.

use sha2::{Digest, Sha256};

use super::{TextPlan, deal::Dealt, plan::Articles, stages::TextStages};
use crate::{
    Result,
    clean::TextCleaner,
    source::{Chunk, ChunkAt, CorpusKind},
    tokenize::BertWordPiece,
};

/// The sentences of each of `articles`, read as Wikipedia articles of a build of `plan`:
/// cleaned, split by the plan's splitter (spaCy's results, if it splits, under `plan.out`),
/// as split (before the row rule).
pub fn article_sentences(plan: &TextPlan, articles: Vec<String>) -> Result<Vec<Vec<String>>> {
    let mut key = Sha256::new();
    for article in &articles {
        key.update((article.len() as u64).to_le_bytes());
        key.update(article.as_bytes());
    }
    let key = format!("{:x}", key.finalize());
    let splitter = plan.splitter(Articles::Text { key: &key })?;
    let stages = TextStages {
        cleaner: TextCleaner::new(plan.clean),
        splitter: splitter.as_ref(),
        row_rule: plan.row_rule,
        tokenizer: BertWordPiece::new(&plan.vocab)?,
        export: true,
    };
    let count = articles.len();
    let mut dealt = Dealt {
        at: ChunkAt::default(),
        kind: CorpusKind::Wikipedia,
        chunk: Chunk {
            texts: articles,
            bytes: 0,
        },
        opens_file: true,
    };
    let output = stages.process(&mut dealt)?;
    let mut out = vec![Vec::new(); count];
    for (sentence, &document) in output.texts.into_iter().zip(&output.documents) {
        out[document as usize].push(sentence);
    }
    Ok(out)
}
