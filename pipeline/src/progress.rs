//! Progress bars on stderr, shown only on a terminal and never with `--quiet`.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A byte-counting bar; hidden when stderr is not a terminal or `quiet` is set.
pub fn bytes_bar(total: u64, quiet: bool) -> ProgressBar {
    bar(
        total,
        quiet,
        "{prefix} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
    )
}

/// A counting bar (examples); hidden like [`bytes_bar`].
pub fn count_bar(total: u64, quiet: bool) -> ProgressBar {
    bar(
        total,
        quiet,
        "{prefix} [{bar:30}] {human_pos}/{human_len} {per_sec} eta {eta}",
    )
}

fn bar(total: u64, quiet: bool, template: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if quiet || !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template(template)
            .expect("the templates are valid")
            .progress_chars("=> "),
    );
    bar
}

/// Lets the libraries report progress without knowing indicatif.
pub struct Bar(pub ProgressBar);

impl earlyberts_format::verify::Progress for Bar {
    fn set_total(&self, total: u64) {
        self.0.set_length(total);
    }

    fn advance(&self, bytes: u64) {
        self.0.inc(bytes);
    }
}
