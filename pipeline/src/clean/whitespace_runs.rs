//! `whitespace_runs`: runs of spaces, tabs and other horizontal spaces become one space;
//! spaces at line ends are dropped.

/// The rule's pass: `text` rewritten into `out`; returns the characters it changed.
pub(super) fn pass(text: &str, out: &mut String) -> u64 {
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
