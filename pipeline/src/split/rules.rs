//! The decisions of the splitter: where a terminal mark ends a sentence inside a line
//! (`lines.rs` decides at line breaks; `words.rs` holds the word lists).

use super::{
    lines::quote_opens_next_sentence,
    words::{
        ABBREVIATIONS, BEFORE_NUMBER, CLOSERS, NEVER_FINAL, OPENERS, TITLES, is_starter,
        is_terminal, leading_word,
    },
};

/// How a terminal mark is judged: as this splitter always did, or as spaCy's parser does on
/// Wikipedia where the two differ (glued sentences, spaced ellipses, `v.`, `pro-U.S.`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Marks {
    Classic,
    SpacyLike,
}

/// Calls `cut` with the byte offset after every sentence end in `text[from..to]` (one line).
pub(super) fn cut_line(
    text: &str,
    from: usize,
    to: usize,
    marks: Marks,
    mut cut: impl FnMut(usize),
) {
    let mut i = from;
    let mut candidates = MarkCandidates::new(&text.as_bytes()[..to], from);
    while let Some(next) = candidates.next_from(i) {
        i = next;
        let Some(c) = text[i..to].chars().next() else {
            break;
        };
        if !is_terminal(c) {
            i += c.len_utf8();
            continue;
        }
        let marks_start = i;
        let mut j = i;
        for c in text[i..to].chars() {
            if !is_terminal(c) {
                break;
            }
            j += c.len_utf8();
        }
        let marks_end = j;
        for c in text[j..to].chars() {
            if !CLOSERS.contains(&c) {
                break;
            }
            j += c.len_utf8();
        }
        j = skip_citations(text, j, to);
        let followed_by_space = text[j..to].chars().next().is_none_or(char::is_whitespace);
        if followed_by_space && ends_sentence(text, from, marks_start, marks_end, j, marks) {
            cut(match marks {
                Marks::SpacyLike => quote_opens_next_sentence(text, j).unwrap_or(j),
                Marks::Classic => j,
            });
        } else if marks == Marks::SpacyLike && is_glued_sentence(text, from, marks_start, j, to) {
            cut(j);
        }
        i = j.max(marks_end);
    }
}

/// The next byte at or after a position that may start a terminal mark: `.`, `!`, `?`, or
/// 0xE2 (the first byte of `…`, E2 80 A6, and of other characters). Two SIMD searches, each
/// remembered until passed, instead of a test per byte.
struct MarkCandidates<'t> {
    bytes: &'t [u8],
    ascii: Option<usize>,
    ellipsis: Option<usize>,
}

impl<'t> MarkCandidates<'t> {
    fn new(bytes: &'t [u8], from: usize) -> Self {
        let rest = bytes.get(from..).unwrap_or_default();
        MarkCandidates {
            bytes,
            ascii: memchr::memchr3(b'.', b'!', b'?', rest).map(|k| from + k),
            ellipsis: memchr::memchr(0xE2, rest).map(|k| from + k),
        }
    }

    fn next_from(&mut self, from: usize) -> Option<usize> {
        let rest = self.bytes.get(from..)?;
        if self.ascii.is_some_and(|at| at < from) {
            self.ascii = memchr::memchr3(b'.', b'!', b'?', rest).map(|k| from + k);
        }
        if self.ellipsis.is_some_and(|at| at < from) {
            self.ellipsis = memchr::memchr(0xE2, rest).map(|k| from + k);
        }
        match (self.ascii, self.ellipsis) {
            (Some(a), Some(e)) => Some(a.min(e)),
            (a, e) => a.or(e),
        }
    }
}

/// Skips citation markers glued to a sentence end: `[1]`, `[12][13]`, `[citation needed]`.
fn skip_citations(text: &str, mut j: usize, to: usize) -> usize {
    while text[j..to].starts_with('[') {
        let inner = &text[j + 1..to];
        match inner.find(']') {
            Some(close)
                if close <= 24
                    && inner[..close]
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == ' ') =>
            {
                j += close + 2;
            }
            _ => break,
        }
    }
    j
}

/// `homeless.The communists`: Wikipedia's text lost the space (or a citation) between two
/// sentences, and spaCy's tokenizer still splits there: a lowercase word of two letters or
/// more, one period, then a capitalised word. Not `U.S.Army`, `www.Example`, `ASP.NET`.
fn is_glued_sentence(
    text: &str,
    line_start: usize,
    period: usize,
    after: usize,
    to: usize,
) -> bool {
    if after != period + 1 {
        return false;
    }
    let mut next = text[after..to].chars();
    let glued_word = matches!((next.next(), next.next()), (Some(a), Some(b)) if a.is_uppercase() && b.is_lowercase());
    let before = &text[line_start..period];
    let word = before
        .rsplit(|c: char| c.is_whitespace())
        .next()
        .unwrap_or("");
    let mut last = word.chars().rev();
    let lowercase_end = matches!((last.next(), last.next()), (Some(a), Some(b)) if a.is_lowercase() && b.is_lowercase());
    glued_word && lowercase_end && word.chars().all(char::is_alphabetic)
}

/// A run of terminal marks in its line, as the decisions below see it.
struct Marked<'t> {
    /// The marks themselves (`.`, `?!`, `...`, `…`).
    marks: &'t str,
    /// The line before the marks.
    before: &'t str,
    /// The word the marks end, opening quotes and brackets trimmed.
    word: &'t str,
    /// Whether `word` is the line's first.
    word_starts_line: bool,
    /// The text after the marks, their closers and the whitespace, opening quotes trimmed.
    next_word: &'t str,
    /// Whether nothing (no closer) stands between the marks and the whitespace.
    bare: bool,
}

/// Whether the terminal marks `text[marks_start..marks_end]`, followed by whitespace at
/// `after`, end a sentence.
fn ends_sentence(
    text: &str,
    line_start: usize,
    marks_start: usize,
    marks_end: usize,
    after: usize,
    mode: Marks,
) -> bool {
    let before = &text[line_start..marks_start];
    // Whitespace can be wider than one byte (U+00A0, U+3000): step over the whole character.
    let word_start = before
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_whitespace())
        .map_or(0, |(k, c)| k + c.len_utf8());
    let marked = Marked {
        marks: &text[marks_start..marks_end],
        before,
        word: before[word_start..].trim_start_matches(OPENERS),
        word_starts_line: before[..word_start].trim().is_empty(),
        next_word: text[after..].trim_start().trim_start_matches(OPENERS),
        bare: after == marks_end,
    };
    match mode {
        Marks::Classic => classic_ends_sentence(&marked),
        Marks::SpacyLike => spacy_ends_sentence(&marked),
    }
}

fn classic_ends_sentence(m: &Marked) -> bool {
    let Some(next_char) = m.next_word.chars().next() else {
        return true;
    };
    if matches!(
        next_char,
        '.' | ',' | ';' | ':' | ')' | ']' | '}' | '!' | '?' | '-'
    ) {
        return false; // spaced ellipses ". . .", emoticons ":)", trailing punctuation
    }
    let next_lower = next_char.is_lowercase();
    if m.marks.contains('…') || m.marks.starts_with("..") {
        return !next_lower;
    }
    if m.marks != "." {
        // "Why? where ..." ends a sentence; "\"Why?\" he asked" does not.
        return !next_lower || m.bare;
    }
    if m.word.is_empty() {
        return !next_lower;
    }
    period_ends_sentence(m.word, m.word_starts_line, m.next_word, next_char)
}

/// Where spaCy's parser decides otherwise on Wikipedia: `. ,` (a template removed after the
/// period), spaced ellipses, `pro-U.S.`, `Roe v. Wade`, `n. 59`, inline
/// numbered lists (`; 2. the claim`), an initial before a sentence opener (`Linear B. The`).
fn spacy_ends_sentence(m: &Marked) -> bool {
    let Some(next_char) = m.next_word.chars().next() else {
        return true;
    };
    if m.marks != "." {
        return classic_ends_sentence(m);
    }
    if m.word.is_empty() {
        return m.before.trim_end().ends_with(". .") || classic_ends_sentence(m);
    }
    if matches!(
        next_char,
        '.' | ';' | ':' | ')' | ']' | '}' | '!' | '?' | '-'
    ) {
        return false;
    }
    // A template removed after the period left `. ,`: judged as before a lowercase word.
    let next_char = if next_char == ',' { 'a' } else { next_char };
    let word = m.word.rsplit('-').next().unwrap_or(m.word);
    let mut chars = word.chars();
    match (chars.next(), chars.next()) {
        (None, _) => true,
        (Some(c), None) if c.is_alphabetic() && (c == 'v' || next_char.is_ascii_digit()) => false,
        (Some(c), None) if c.is_ascii_digit() && !m.word_starts_line => true,
        (Some(c), None) if c.is_uppercase() && opens_sentence_after_initial(m.next_word) => true,
        _ => period_ends_sentence(word, m.word_starts_line, m.next_word, next_char),
    }
}

/// After an initial, a sentence opener of three letters or more (`The`, `This`, not `A.`).
fn opens_sentence_after_initial(next_word: &str) -> bool {
    leading_word(next_word).len() >= 3 && is_starter(next_word)
}

/// Whether a period after `word` ends a sentence before `next_word` (which begins with
/// `next_char`).
fn period_ends_sentence(
    word: &str,
    word_starts_line: bool,
    next_word: &str,
    next_char: char,
) -> bool {
    let next_lower = next_char.is_lowercase();
    let listed = Listed::of(word);
    if word_starts_line && word.chars().all(|c| c.is_ascii_digit()) {
        return false; // list marker: "1. First item"
    }
    if listed.before_number && next_char.is_ascii_digit() {
        return false;
    }
    let mut chars = word.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        // "J. R. R. Tolkien" (an initial); "option a. then" (a label)
        return !(c.is_uppercase() || next_lower);
    }
    if listed.never_final || listed.title {
        return false;
    }
    if listed.abbreviation || listed.before_number || is_dotted(word) {
        return !next_lower && is_starter(next_word);
    }
    // A plain word: its period ends the sentence, whatever case follows (web text often
    // starts sentences in lower case).
    true
}

/// Which word lists a word is in, compared lowercased. Every period of the text asks, so
/// this neither allocates nor scans: entries are short, ASCII and sorted (a test checks).
#[derive(Default)]
struct Listed {
    title: bool,
    before_number: bool,
    never_final: bool,
    abbreviation: bool,
}

/// The longest entry of the word lists, in bytes.
pub(super) const LONGEST_LISTED: usize = 6;

impl Listed {
    fn of(word: &str) -> Listed {
        if word.is_ascii() {
            if word.len() > LONGEST_LISTED {
                return Listed::default();
            }
            let mut buffer = [0u8; LONGEST_LISTED];
            let lower = &mut buffer[..word.len()];
            lower.copy_from_slice(word.as_bytes());
            lower.make_ascii_lowercase();
            Listed::of_lowercase(std::str::from_utf8(lower).expect("ASCII"))
        } else {
            // Lowercasing may turn a non-ASCII letter into an ASCII one (K, the Kelvin sign).
            Listed::of_lowercase(&word.to_lowercase())
        }
    }

    fn of_lowercase(lower: &str) -> Listed {
        let has = |list: &[&str]| list.binary_search(&lower).is_ok();
        Listed {
            title: has(TITLES),
            before_number: has(BEFORE_NUMBER),
            never_final: has(NEVER_FINAL),
            abbreviation: has(ABBREVIATIONS),
        }
    }
}

/// Dotted abbreviations such as `U.S`, `Ph.D`, `a.m` (the final period excluded), but not
/// domain names or numbers: every part is one to three letters.
fn is_dotted(word: &str) -> bool {
    word.contains('.')
        && word
            .split('.')
            .all(|part| (1..=3).contains(&part.len()) && part.chars().all(char::is_alphabetic))
}
