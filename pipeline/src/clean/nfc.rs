//! `nfc`: Unicode NFC, so that `e` + combining acute and `é` are the same text; counts the
//! characters composition folded away, at least 1 for a text NFC changed.

use unicode_normalization::UnicodeNormalization;

/// The rule's pass: `text` rewritten into `out`; returns the characters it changed.
pub(super) fn pass(text: &str, out: &mut String) -> u64 {
    out.extend(text.nfc());
    if out == text {
        return 0;
    }
    // Characters folded away by composition; at least 1 for a text NFC changed.
    (text.chars().count() - out.chars().count()).max(1) as u64
}
