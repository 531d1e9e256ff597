//! The progress bar: frames/s and ETA on stderr, shown only when stderr is a terminal, the
//! run is long enough to matter and `--quiet` is off.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// Numbers (frames × points × dims) below which no bar is drawn: such runs take well under a second.
const MIN_WORK: usize = 20_000_000;

/// A progress bar over frames that may be hidden.
pub(crate) struct Progress(ProgressBar);

impl Progress {
    /// A bar for `frames` frames of `frame_len` numbers each, titled `what` (`None`: hidden,
    /// as with `--quiet`).
    pub fn new(what: Option<&str>, frames: usize, frame_len: usize) -> Progress {
        let show = what.is_some()
            && std::io::stderr().is_terminal()
            && frames.saturating_mul(frame_len) >= MIN_WORK;
        let bar = if show {
            ProgressBar::with_draw_target(Some(frames as u64), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} frames  {fps}  ETA {eta}",
            )
            .expect("valid template")
            .with_key(
                "fps",
                |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.0} frames/s", state.per_sec());
                },
            )
            .progress_chars("=> "),
        );
        bar.set_prefix(what.unwrap_or_default().to_string());
        Progress(bar)
    }

    /// Marks `n` more frames done.
    pub fn advance(&self, n: usize) {
        self.0.inc(n as u64);
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}
