//! The decisions of the splitter: where a terminal mark ends a sentence, what a heading and a
//! list item look like. Word lists are lowercase; they cover Wikipedia's and novels' usage.

/// Titles before names: never end a sentence (`Dr. Watson`, `St. Louis`).
const TITLES: &[&str] = &[
    "adm", "capt", "cmdr", "col", "cpl", "dr", "fr", "ft", "gen", "gov", "hon", "lt", "maj",
    "messrs", "mme", "mlle", "mr", "mrs", "ms", "mt", "pres", "prof", "rep", "rev", "sen", "sgt",
    "st", "supt",
];

/// Abbreviations that are followed by a number (`No. 5`, `Jan. 12`, `p. 3`).
const BEFORE_NUMBER: &[&str] = &[
    "approx", "ext", "apr", "art", "aug", "c", "ca", "ch", "dec", "ed", "eq", "feb", "fig", "figs",
    "jan", "jul", "jun", "mar", "no", "nos", "nov", "nr", "oct", "op", "p", "para", "pp", "pt",
    "ref", "sec", "sep", "sept", "vol", "vols",
];

/// Abbreviations never followed by a sentence end (`e.g.`, `vs.`).
const NEVER_FINAL: &[&str] = &["cf", "e.g", "eg", "i.e", "ie", "viz", "vs"];

/// Words that commonly begin an English sentence: after an abbreviation that may also end
/// one (`Inc.`, `U.S.`, `etc.`), one of these makes the period a sentence end.
const STARTERS: &[&str] = &[
    "A",
    "According",
    "After",
    "All",
    "Also",
    "Although",
    "An",
    "And",
    "As",
    "At",
    "Because",
    "Before",
    "Both",
    "But",
    "By",
    "During",
    "Each",
    "For",
    "From",
    "He",
    "Her",
    "His",
    "How",
    "I",
    "If",
    "In",
    "It",
    "Its",
    "Later",
    "Many",
    "Most",
    "My",
    "No",
    "Now",
    "On",
    "One",
    "Our",
    "She",
    "Since",
    "So",
    "Some",
    "That",
    "The",
    "Their",
    "Then",
    "There",
    "These",
    "They",
    "This",
    "Those",
    "Thus",
    "Today",
    "We",
    "What",
    "When",
    "Where",
    "While",
    "Who",
    "Why",
    "With",
    "You",
];

const OPENERS: &[char] = &['"', '\'', '(', '[', '{', '“', '‘', '«'];
const CLOSERS: &[char] = &['"', '\'', ')', ']', '}', '”', '’', '»'];

fn is_terminal(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '…')
}

/// Calls `cut` with the byte offset after every sentence end in `text[from..to]` (one line).
pub(super) fn cut_line(text: &str, from: usize, to: usize, mut cut: impl FnMut(usize)) {
    let bytes = text.as_bytes();
    let mut i = from;
    while i < to {
        let b = bytes[i];
        // '…' is E2 80 A6 in UTF-8; everything else we look for is ASCII.
        if !matches!(b, b'.' | b'!' | b'?' | 0xE2) {
            i += 1;
            continue;
        }
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
        if followed_by_space && ends_sentence(text, from, marks_start, marks_end, j) {
            cut(j);
        }
        i = j.max(marks_end);
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

/// Whether the terminal marks `text[marks_start..marks_end]`, followed by whitespace at
/// `after`, end a sentence.
fn ends_sentence(
    text: &str,
    line_start: usize,
    marks_start: usize,
    marks_end: usize,
    after: usize,
) -> bool {
    let next = text[after..].trim_start();
    let next_word = next.trim_start_matches(OPENERS);
    let Some(next_char) = next_word.chars().next() else {
        return true;
    };
    if matches!(
        next_char,
        '.' | ',' | ';' | ':' | ')' | ']' | '}' | '!' | '?' | '-'
    ) {
        return false; // spaced ellipses ". . .", emoticons ":)", trailing punctuation
    }
    let next_lower = next_char.is_lowercase();
    let marks = &text[marks_start..marks_end];
    if marks.contains('…') || marks.starts_with("..") {
        return !next_lower;
    }
    if marks != "." {
        // "Why? where ..." ends a sentence; "\"Why?\" he asked" does not.
        return !next_lower || after == marks_end;
    }
    let before = &text[line_start..marks_start];
    // Whitespace can be wider than one byte (U+00A0, U+3000): step over the whole character.
    let word_start = before
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_whitespace())
        .map_or(0, |(k, c)| k + c.len_utf8());
    let word = before[word_start..].trim_start_matches(OPENERS);
    if word.is_empty() {
        return !next_lower;
    }
    let lower = word.to_lowercase();
    let lower = lower.as_str();
    if before[..word_start].trim().is_empty() && word.chars().all(|c| c.is_ascii_digit()) {
        return false; // list marker: "1. First item"
    }
    if BEFORE_NUMBER.contains(&lower) && next_char.is_ascii_digit() {
        return false;
    }
    let mut chars = word.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        // "J. R. R. Tolkien" (an initial); "option a. then" (a label)
        return !(c.is_uppercase() || next_lower);
    }
    if NEVER_FINAL.contains(&lower) || TITLES.contains(&lower) {
        return false;
    }
    if ABBREVIATIONS.contains(&lower) || BEFORE_NUMBER.contains(&lower) || is_dotted(word) {
        return !next_lower && is_starter(next_word);
    }
    // A plain word: its period ends the sentence, whatever case follows (web text often
    // starts sentences in lower case).
    true
}

/// Dotted abbreviations such as `U.S`, `Ph.D`, `a.m` (the final period excluded), but not
/// domain names or numbers: every part is one to three letters.
fn is_dotted(word: &str) -> bool {
    word.contains('.')
        && word
            .split('.')
            .all(|part| (1..=3).contains(&part.len()) && part.chars().all(char::is_alphabetic))
}

/// Abbreviations that end sentences as often as not (`Inc.`, `Jr.`, `etc.`): a period after
/// them ends a sentence only before a typical sentence opener.
const ABBREVIATIONS: &[&str] = &[
    "abbr", "acad", "adj", "adv", "al", "assn", "ave", "avg", "b", "blvd", "bros", "cent", "co",
    "corp", "d", "dept", "div", "drs", "eds", "esp", "est", "etc", "excl", "ext", "fl", "govt",
    "hrs", "hwy", "ibid", "inc", "incl", "inst", "intl", "jr", "lbs", "llc", "ltd", "max", "mfg",
    "min", "misc", "mos", "natl", "orig", "oz", "plc", "pop", "pvt", "rd", "repr", "resp", "sq",
    "sr", "trans", "univ", "yrs",
];

fn is_starter(word: &str) -> bool {
    let end = word
        .find(|c: char| !c.is_alphanumeric())
        .unwrap_or(word.len());
    STARTERS.contains(&&word[..end])
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

/// A line that starts a list item: a bullet, or a number or letter followed by `.` or `)`.
pub(super) fn starts_list_item(line: &str) -> bool {
    let line = line.trim_start();
    if ["* ", "- ", "• ", "– ", "— ", "# "]
        .iter()
        .any(|m| line.starts_with(m))
    {
        return true;
    }
    let marker_len = line.find(['.', ')']).unwrap_or(0);
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
