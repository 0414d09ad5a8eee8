//! `control_chars`: drops C0/C1 control characters except tab and newline; `\r\n` and a lone
//! `\r` become `\n`.

/// The rule's pass: `text` rewritten into `out`; returns the characters it changed.
pub(super) fn pass(text: &str, out: &mut String) -> u64 {
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
