//! The decisions of the splitter at line breaks: what a heading and a list item look like,
//! where spaCy ends a sentence at the end of a line.

use super::words::{CLOSERS, OPENERS, is_terminal, leading_word};

/// `…the court."⏎⏎After…`: spaCy's tokenizer makes a double quote that closes a line a token
/// of its own, and its parser starts the next sentence with it. For a sentence that ends at
/// `end` with a terminal mark and such quotes, and only whitespace after them on their line,
/// the position before the quotes — unless nothing follows in the text.
pub(super) fn quote_opens_next_sentence(text: &str, end: usize) -> Option<usize> {
    let unquoted = text[..end].trim_end_matches(['"', '”']);
    let line_end = memchr::memchr(b'\n', &text.as_bytes()[end..]).map_or(text.len(), |k| end + k);
    let quoted = unquoted.len() < end && unquoted.chars().last().is_some_and(is_terminal);
    let line_ends = text[end..line_end].trim().is_empty();
    (quoted && line_ends && !text[line_end..].trim().is_empty()).then_some(unquoted.len())
}

/// A line that is a heading: short, no sentence punctuation at its end.
pub(super) fn is_heading(line: &str) -> bool {
    let line = line.trim();
    let Some(last) = line.trim_end_matches(CLOSERS).chars().last() else {
        return false;
    };
    !is_terminal(last)
        && !matches!(last, ',' | ';' | ':' | '-' | '—' | '–')
        && line.split_whitespace().count() <= 8
        && line
            .chars()
            .next()
            .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
}

/// Whether `text` ends the way a sentence does: a terminal mark, then any closing quotes
/// and brackets.
pub(super) fn ends_terminated(text: &str) -> bool {
    text.trim_end()
        .trim_end_matches(CLOSERS)
        .chars()
        .last()
        .is_some_and(is_terminal)
}

/// Where spaCy ends a sentence at the line break after `text[start..end]`, if it does: after
/// text that ends as a sentence does (before a quote that closes the line: see
/// [`quote_opens_next_sentence`]), and after a heading that a clause opener follows.
pub(super) fn spacy_line_end(text: &str, start: usize, end: usize) -> Option<usize> {
    let piece = text[start..end].trim_end();
    let sentence_end = start + piece.len();
    if !ends_terminated(piece) {
        let clause_follows = CLAUSE_OPENERS.contains(&leading_word(text[end..].trim_start()));
        let heading = || is_heading(piece.rsplit('\n').next().unwrap_or(piece));
        return (clause_follows && heading()).then_some(sentence_end);
    }
    Some(quote_opens_next_sentence(text, sentence_end).unwrap_or(sentence_end))
}

/// Words that open a clause which cannot continue a heading's noun phrase: spaCy ends the
/// heading's sentence before them (`Demographics⏎⏎According to the census, …`).
const CLAUSE_OPENERS: &[&str] = &["According", "Although", "Among", "Though"];

/// A line that starts a list item: a bullet, or a number or letter followed by `.` or `)`.
pub(super) fn starts_list_item(line: &str) -> bool {
    let line = line.trim_start();
    if ["* ", "- ", "• ", "– ", "— ", "# "]
        .iter()
        .any(|m| line.starts_with(m))
    {
        return true;
    }
    // A marker is at most three characters: look no further than its end.
    let head = &line.as_bytes()[..line.len().min(4)];
    let marker_len = head
        .iter()
        .position(|&b| b == b'.' || b == b')')
        .unwrap_or(0);
    let marker = &line[..marker_len];
    let numbered = (1..=3).contains(&marker.len()) && marker.chars().all(|c| c.is_ascii_digit());
    let lettered = marker.len() == 1 && marker.chars().all(|c| c.is_ascii_alphabetic());
    (numbered || lettered) && line[marker_len + 1..].starts_with(' ')
}

/// Whether `rest` (the text after a line break) begins the way a new sentence does.
pub(super) fn starts_like_sentence(rest: &str) -> bool {
    let rest = rest.trim_start();
    starts_list_item(rest)
        || rest
            .trim_start_matches(OPENERS)
            .chars()
            .next()
            .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
}
