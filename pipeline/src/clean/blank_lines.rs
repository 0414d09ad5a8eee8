//! `blank_lines`: whitespace-only lines become empty, and runs of empty lines one.

/// The rule's pass: `text` rewritten into `out`; returns the characters it changed.
pub(super) fn pass(text: &str, out: &mut String) -> u64 {
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
