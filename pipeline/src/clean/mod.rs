//! `clean`: deterministic text rules applied before sentence splitting.
//!
//! Rule set version [`RULES_VERSION`]. Each rule is off unless the recipe turns it on; the
//! `earlyberts` recipe turns none on, because the reference fed spaCy the text as published.
//! Rules run in a fixed order, and each counts the characters it removed or replaced:
//!
//! 1. `control_chars`: drop C0/C1 control characters except tab and newline; `\r\n` and a
//!    lone `\r` become `\n`.
//! 2. `invisible`: drop zero-width space, word joiner, byte-order mark and soft hyphen, which
//!    split words invisibly.
//! 3. `nfc`: Unicode NFC, so that `e` + combining acute and `é` are the same text (counts
//!    the characters composition folded away, at least 1 per changed document).
//! 4. `whitespace_runs`: runs of spaces, tabs and other horizontal spaces become one space;
//!    spaces at line ends are dropped.
//! 5. `blank_lines`: whitespace-only lines become empty, and runs of empty lines one.

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

pub use crate::stage::CleanCounts;
use crate::stage::Cleaner;

/// Version of the rule definitions; recorded in manifests so a changed rule changes builds.
pub const RULES_VERSION: u32 = 1;

/// Which rules are on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CleanRules {
    pub control_chars: bool,
    pub invisible: bool,
    pub nfc: bool,
    pub whitespace_runs: bool,
    pub blank_lines: bool,
}

/// One rule: rewrites its input into `out` and returns how many characters it changed.
type Pass = fn(&str, &mut String) -> u64;

/// The rule-based cleaner.
#[derive(Clone, Copy, Debug, Default)]
pub struct TextCleaner {
    rules: CleanRules,
}

impl TextCleaner {
    pub fn new(rules: CleanRules) -> TextCleaner {
        TextCleaner { rules }
    }
}

impl Cleaner for TextCleaner {
    fn clean(&self, text: &str, out: &mut String) -> CleanCounts {
        let mut counts = CleanCounts::default();
        out.clear();
        out.push_str(text);
        let mut scratch = String::with_capacity(text.len());
        let r = self.rules;
        let passes: [(bool, Pass, &mut u64); 5] = [
            (r.control_chars, control_chars, &mut counts.control_chars),
            (r.invisible, invisible, &mut counts.invisible),
            (r.nfc, nfc, &mut counts.nfc),
            (
                r.whitespace_runs,
                whitespace_runs,
                &mut counts.whitespace_runs,
            ),
            (r.blank_lines, blank_lines, &mut counts.blank_lines),
        ];
        for (on, pass, count) in passes {
            if on {
                scratch.clear();
                *count += pass(out, &mut scratch);
                std::mem::swap(out, &mut scratch);
            }
        }
        counts
    }
}

fn control_chars(text: &str, out: &mut String) -> u64 {
    let mut changed = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                changed += 1;
                if chars.peek() != Some(&'\n') {
                    out.push('\n');
                }
            }
            '\t' | '\n' => out.push(c),
            c if c.is_control() => changed += 1,
            c => out.push(c),
        }
    }
    changed
}

fn invisible(text: &str, out: &mut String) -> u64 {
    let before = text.chars().count();
    out.extend(
        text.chars()
            .filter(|c| !matches!(c, '\u{200B}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}')),
    );
    (before - out.chars().count()) as u64
}

fn nfc(text: &str, out: &mut String) -> u64 {
    out.extend(text.nfc());
    if out == text {
        return 0;
    }
    // Characters folded away by composition; at least 1 for a text NFC changed.
    (text.chars().count() - out.chars().count()).max(1) as u64
}

fn whitespace_runs(text: &str, out: &mut String) -> u64 {
    let mut changed = 0;
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut in_run = false;
        let start = out.len();
        for c in line.chars() {
            if c.is_whitespace() {
                if in_run || c != ' ' {
                    changed += 1;
                }
                if !in_run {
                    out.push(' ');
                }
                in_run = true;
            } else {
                out.push(c);
                in_run = false;
            }
        }
        if in_run && out.len() > start {
            out.pop();
            changed += 1;
        }
    }
    changed
}

fn blank_lines(text: &str, out: &mut String) -> u64 {
    let mut changed = 0;
    let mut previous_blank = false;
    let mut first = true;
    for line in text.split('\n') {
        let blank = line.trim().is_empty();
        if blank && previous_blank {
            changed += line.chars().count() as u64 + 1;
            continue;
        }
        if !first {
            out.push('\n');
        }
        first = false;
        if blank {
            changed += line.chars().count() as u64;
        } else {
            out.push_str(line);
        }
        previous_blank = blank;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(rules: CleanRules, text: &str) -> (String, CleanCounts) {
        let mut out = String::new();
        let counts = TextCleaner::new(rules).clean(text, &mut out);
        (out, counts)
    }

    #[test]
    fn no_rules_keeps_text_as_published() {
        let text = "a\u{200B}b\r\n  c\u{7}\n\n\n";
        assert_eq!(
            clean(CleanRules::default(), text),
            (text.to_string(), CleanCounts::default())
        );
    }

    #[test]
    fn each_rule_does_one_thing() {
        let only = |f: fn(&mut CleanRules)| {
            let mut r = CleanRules::default();
            f(&mut r);
            r
        };
        let (text, counts) = clean(
            only(|r| r.control_chars = true),
            "a\u{7}b\r\nc\rd\u{85}e\tf",
        );
        assert_eq!((text.as_str(), counts.control_chars), ("ab\nc\nde\tf", 4));
        let (text, counts) = clean(
            only(|r| r.invisible = true),
            "co\u{AD}op\u{200B}erate\u{FEFF}",
        );
        assert_eq!((text.as_str(), counts.invisible), ("cooperate", 3));
        let (text, counts) = clean(only(|r| r.nfc = true), "Cafe\u{301} caf\u{e9}");
        assert_eq!((text.as_str(), counts.nfc), ("Caf\u{e9} caf\u{e9}", 1));
        let (text, counts) = clean(only(|r| r.whitespace_runs = true), "a  b\t\u{a0}c \nd ");
        assert_eq!((text.as_str(), counts.whitespace_runs), ("a b c\nd", 5));
        let (text, counts) = clean(only(|r| r.blank_lines = true), "a\n \n\n\t\nb\n");
        assert_eq!((text.as_str(), counts.blank_lines), ("a\n\nb\n", 4));
    }

    #[test]
    fn rules_serialise_by_name() {
        let rules: CleanRules = serde_json::from_str(r#"{"nfc": true}"#).unwrap();
        assert!(rules.nfc && !rules.control_chars);
        assert!(serde_json::from_str::<CleanRules>(r#"{"nfkc": true}"#).is_err());
    }
}
