//! `invisible`: drops zero-width space, word joiner, byte-order mark and soft hyphen, which
//! split words invisibly.

/// The rule's pass: `text` rewritten into `out`; returns the characters it changed.
pub(super) fn pass(text: &str, out: &mut String) -> u64 {
    let before = text.chars().count();
    out.extend(
        text.chars()
            .filter(|c| !matches!(c, '\u{200B}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}')),
    );
    (before - out.chars().count()) as u64
}
