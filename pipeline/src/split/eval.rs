//! Boundary precision, recall and F1 of a splitter against gold sentences.
//!
//! Only boundaries after `.`, `!`, `?` or `…` (possibly followed by closing quotes or
//! brackets) count, on both sides; positions are counted in non-whitespace characters so
//! that whitespace differences do not matter. Paragraph ends are given, not scored.

use crate::stage::SentenceSplitter;

/// A paragraph with its gold sentences.
pub struct GoldParagraph {
    pub sentences: Vec<String>,
}

/// Scores of one evaluation.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BoundaryScore {
    pub true_positives: usize,
    pub false_positives: usize,
    pub false_negatives: usize,
}

impl BoundaryScore {
    pub fn precision(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }
    pub fn recall(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_negatives,
        )
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

/// Reads CoNLL-U: paragraphs start at `# newpar` (or `# newdoc`), sentences are `# text = …`.
pub fn read_conllu(text: &str) -> Vec<GoldParagraph> {
    let mut paragraphs: Vec<GoldParagraph> = Vec::new();
    for line in text.lines() {
        if line.starts_with("# newpar") || line.starts_with("# newdoc") {
            if paragraphs.last().is_none_or(|p| !p.sentences.is_empty()) {
                paragraphs.push(GoldParagraph {
                    sentences: Vec::new(),
                });
            }
        } else if let Some(sentence) = line.strip_prefix("# text = ") {
            if paragraphs.is_empty() {
                paragraphs.push(GoldParagraph {
                    sentences: Vec::new(),
                });
            }
            paragraphs
                .last_mut()
                .expect("pushed above")
                .sentences
                .push(sentence.to_string());
        }
    }
    paragraphs
}

/// Splits each paragraph (its sentences joined by spaces) and scores the boundaries.
pub fn evaluate(splitter: &impl SentenceSplitter, paragraphs: &[GoldParagraph]) -> BoundaryScore {
    let mut score = BoundaryScore::default();
    let mut ranges = Vec::new();
    for paragraph in paragraphs {
        let text = paragraph.sentences.join(" ");
        let gold = boundaries(paragraph.sentences.iter().map(String::as_str));
        ranges.clear();
        splitter.split(&text, &mut ranges);
        let predicted = boundaries(ranges.iter().map(|r| &text[r.clone()]));
        score.true_positives += predicted.iter().filter(|b| gold.contains(b)).count();
        score.false_positives += predicted.iter().filter(|b| !gold.contains(b)).count();
        score.false_negatives += gold.iter().filter(|b| !predicted.contains(b)).count();
    }
    score
}

/// Scored boundaries between consecutive sentences, as non-whitespace character offsets.
fn boundaries<'a>(sentences: impl Iterator<Item = &'a str>) -> Vec<usize> {
    let sentences: Vec<&str> = sentences.collect();
    let mut offset = 0;
    let mut out = Vec::new();
    for (i, s) in sentences.iter().enumerate() {
        offset += s.chars().filter(|c| !c.is_whitespace()).count();
        let last = s
            .trim_end()
            .trim_end_matches(['"', '\'', ')', ']', '”', '’', '»'])
            .chars()
            .last();
        if i + 1 < sentences.len() && last.is_some_and(|c| matches!(c, '.' | '!' | '?' | '…')) {
            out.push(offset);
        }
    }
    out
}
