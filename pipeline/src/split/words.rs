//! The splitter's words and marks: lists of abbreviations, titles and sentence openers
//! (lowercase; they cover Wikipedia's and novels' usage), opening and closing quotes and
//! brackets, terminal marks. A leaf: `rules.rs` and `lines.rs` read it.

/// Titles before names: never end a sentence (`Dr. Watson`, `St. Louis`).
pub(super) const TITLES: &[&str] = &[
    "adm", "capt", "cmdr", "col", "cpl", "dr", "fr", "ft", "gen", "gov", "hon", "lt", "maj",
    "messrs", "mlle", "mme", "mr", "mrs", "ms", "mt", "pres", "prof", "rep", "rev", "sen", "sgt",
    "st", "supt",
];

/// Abbreviations that are followed by a number (`No. 5`, `Jan. 12`, `p. 3`).
pub(super) const BEFORE_NUMBER: &[&str] = &[
    "approx", "apr", "art", "aug", "c", "ca", "ch", "dec", "ed", "eq", "ext", "feb", "fig", "figs",
    "jan", "jul", "jun", "mar", "no", "nos", "nov", "nr", "oct", "op", "p", "para", "pp", "pt",
    "ref", "sec", "sep", "sept", "vol", "vols",
];

/// Abbreviations never followed by a sentence end (`e.g.`, `vs.`).
pub(super) const NEVER_FINAL: &[&str] = &["cf", "e.g", "eg", "i.e", "ie", "viz", "vs"];

/// Words that commonly begin an English sentence: after an abbreviation that may also end
/// one (`Inc.`, `U.S.`, `etc.`), one of these makes the period a sentence end.
pub(super) const STARTERS: &[&str] = &[
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

pub(super) const OPENERS: &[char] = &['"', '\'', '(', '[', '{', '“', '‘', '«'];
pub(super) const CLOSERS: &[char] = &['"', '\'', ')', ']', '}', '”', '’', '»'];

pub(super) fn is_terminal(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '…')
}
/// Abbreviations that end sentences as often as not (`Inc.`, `Jr.`, `etc.`): a period after
/// them ends a sentence only before a typical sentence opener.
pub(super) const ABBREVIATIONS: &[&str] = &[
    "abbr", "acad", "adj", "adv", "al", "assn", "ave", "avg", "b", "blvd", "bros", "cent", "co",
    "corp", "d", "dept", "div", "drs", "eds", "esp", "est", "etc", "excl", "ext", "fl", "govt",
    "hrs", "hwy", "ibid", "inc", "incl", "inst", "intl", "jr", "lbs", "llc", "ltd", "max", "mfg",
    "min", "misc", "mos", "natl", "orig", "oz", "plc", "pop", "pvt", "rd", "repr", "resp", "sq",
    "sr", "trans", "univ", "yrs",
];

pub(super) fn is_starter(word: &str) -> bool {
    STARTERS.binary_search(&leading_word(word)).is_ok()
}

/// The letters and digits `text` starts with.
pub(super) fn leading_word(text: &str) -> &str {
    let end = text
        .find(|c: char| !c.is_alphanumeric())
        .unwrap_or(text.len());
    &text[..end]
}
