//! Temporary files that must not outlive a failed or interrupted run.
//!
//! Every temporary output file is registered here while it is being written. A run that fails
//! removes them ([`remove_all`]) before it exits, and a SIGINT, SIGTERM or SIGHUP does the same
//! from a watcher thread and exits with 128 + the signal number (130 for Ctrl-C, 143 for
//! SIGTERM), so an interrupted run leaves nothing behind and an existing output untouched.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};

static TEMPS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static WATCH: Once = Once::new();

fn temps() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    TEMPS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Registers a temporary file for removal on failure or signal (and starts the signal
/// watcher the first time).
pub(crate) fn register(path: &Path) {
    watch_signals();
    temps().push(path.to_path_buf());
}

/// Forgets `path` (it was renamed into place or removed).
pub(crate) fn unregister(path: &Path) {
    temps().retain(|p| p != path);
}

/// Removes every registered temporary file (best effort).
pub(crate) fn remove_all() {
    for p in temps().drain(..) {
        let _ = std::fs::remove_file(p);
    }
}

/// Removes the registered temporary files unless the registry is held (a panic inside it).
fn remove_all_if_free() {
    if let Ok(mut temps) = TEMPS.try_lock() {
        for p in temps.drain(..) {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Starts (once) a thread that removes the temporary files and exits on SIGINT, SIGTERM and
/// SIGHUP (without temporary files the default behaviour would be the same exit status), and
/// a panic hook that removes them too: a bug must not leave a partial file behind either.
fn watch_signals() {
    WATCH.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            remove_all_if_free();
            previous(info);
        }));
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
            return;
        };
        let _ = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                if let Some(sig) = signals.forever().next() {
                    remove_all();
                    std::process::exit(128 + sig);
                }
            });
    });
}
