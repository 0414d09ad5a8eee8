//! The first panics of the process, from any thread, kept for the error message.
//!
//! burn's GPU backend runs kernels on its own device thread; a panic there (a missing CUDA
//! header, a failed NVRTC compile) is logged as "Task failed" and the caller sees only a
//! closed channel ("RecvError"). With [`record`] installed, every panic message is kept with
//! its thread and location, so the binary can print the cause instead of the symptom.

use std::{
    panic::{self, PanicHookInfo},
    sync::{Mutex, Once},
};

/// At most this many messages are kept (the first ones are the causes).
const KEPT: usize = 8;

static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();

/// Installs the recording hook (once per process). Nothing is printed by the hook unless
/// `RUST_BACKTRACE` is set, in which case the default hook runs too.
pub fn record() {
    INSTALL.call_once(|| {
        let default = panic::take_hook();
        let verbose = std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0");
        panic::set_hook(Box::new(move |info| {
            if let Ok(mut kept) = PANICS.lock()
                && kept.len() < KEPT
            {
                kept.push(describe(info));
            }
            if verbose {
                default(info);
            }
        }));
    });
}

/// The panics recorded so far, first first.
pub fn recorded() -> Vec<String> {
    PANICS.lock().map(|kept| kept.clone()).unwrap_or_default()
}

/// `thread 'NAME' at FILE:LINE: MESSAGE` (the message's first line).
fn describe(info: &PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    let message = message.lines().next().unwrap_or(message);
    let thread = std::thread::current();
    let location = info
        .location()
        .map(|l| format!(" at {}:{}", l.file(), l.line()))
        .unwrap_or_default();
    format!(
        "thread '{}'{location}: {message}",
        thread.name().unwrap_or("unnamed")
    )
}

/// One line about a failure: the first recorded panic (the cause), and the last one when
/// it differs (where it surfaced).
pub fn summary() -> Option<String> {
    let kept = recorded();
    let first = kept.first()?;
    Some(match kept.last() {
        Some(last) if kept.len() > 1 && last != first => format!("{first} (then {last})"),
        _ => first.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_on_another_thread_is_kept_with_its_thread_and_location() {
        record();
        let worker = std::thread::Builder::new()
            .name("device-thread".into())
            .spawn(|| panic!("nvrtc: cuda.h not found\nmore lines"))
            .unwrap();
        assert!(worker.join().is_err());
        let kept = recorded();
        let line = kept
            .iter()
            .find(|l| l.contains("cuda.h not found"))
            .expect("the worker's panic is recorded");
        assert!(line.starts_with("thread 'device-thread' at "), "{line}");
        assert!(line.contains("panics.rs:"), "{line}");
        assert!(!line.contains("more lines"), "{line}");
        assert!(summary().is_some());
    }
}
