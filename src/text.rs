//! Text that reaches the terminal: file content and names quoted escaped and cut short, and
//! whole messages kept to one line. A hostile file must not be able to move the cursor,
//! retitle the window or flood the screen through an error message.

/// Longest quotation of file content inside a message, in characters.
const QUOTE_MAX: usize = 60;
/// Longest message line, in characters.
const LINE_MAX: usize = 300;

/// `s` with every non-printable character escaped (`\x1b`, `\n`, `\u{202e}`).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}') {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// `'s'`, escaped and cut to about 60 characters (`…` marks the cut).
pub fn quote(s: &str) -> String {
    let escaped = escape(s);
    if escaped.chars().count() <= QUOTE_MAX {
        format!("'{escaped}'")
    } else {
        let cut: String = escaped.chars().take(QUOTE_MAX).collect();
        format!("'{cut}…'")
    }
}

/// A message made safe for one terminal line: escaped, at most about 300 characters.
pub fn one_line(s: &str) -> String {
    let escaped = escape(s);
    if escaped.chars().count() <= LINE_MAX {
        escaped
    } else {
        let cut: String = escaped.chars().take(LINE_MAX).collect();
        format!("{cut}…")
    }
}

/// Formats frame indices as `3 frames (first: 0, 5, 9)`; `shown` are the first few indices
/// and `count` how many there are in all.
pub fn frame_list(count: usize, shown: &[usize]) -> String {
    let first: Vec<String> = shown.iter().map(|i| i.to_string()).collect();
    let more = if count > shown.len() { ", …" } else { "" };
    format!(
        "{count} frame{} (first: {}{more})",
        if count == 1 { "" } else { "s" },
        first.join(", ")
    )
}

static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Silences [`warn`] for the rest of the process (`--quiet`).
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, std::sync::atomic::Ordering::Relaxed);
}

/// Prints `warning: {msg}` on stderr (one line, escaped) unless `--quiet` was given; for
/// warnings raised deep in a format reader, which has no options of its own.
pub fn warn(msg: &str) {
    if !QUIET.load(std::sync::atomic::Ordering::Relaxed) {
        eprintln!("warning: {}", one_line(msg));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_long_text_cut() {
        let evil = "x\x1b]0;PWNED\x07\x1b[2J\ny";
        let q = quote(evil);
        assert!(!q.chars().any(|c| c.is_control()), "{q:?}");
        assert!(q.contains("\\u{1b}"));
        let long = "f4".repeat(1000);
        assert!(quote(&long).chars().count() < 70);
        assert!(one_line(&long).chars().count() <= 301);
    }

    #[test]
    fn frame_lists_say_how_many_and_which() {
        assert_eq!(frame_list(1, &[4]), "1 frame (first: 4)");
        assert_eq!(frame_list(12, &[0, 5]), "12 frames (first: 0, 5, …)");
    }
}
