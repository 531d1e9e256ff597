//! Small text helpers shared by the topology readers: Python-compatible splitting and
//! number parsing (so fields read as MDAnalysis reads them), column slicing by character,
//! and quoting of file content for one-line error messages.

/// Longest piece of file content quoted in an error message, in characters.
const QUOTE_MAX: usize = 60;

/// Quote `s` for an error message: in double quotes, escaped as `{:?}` does, cut so the
/// escaped text stays within `QUOTE_MAX` characters (`…` marks the cut).
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    let mut used = 0;
    for c in s.chars() {
        let esc: String = if c == '\'' {
            c.to_string()
        } else {
            c.escape_debug().collect()
        };
        used += esc.chars().count();
        if used > QUOTE_MAX {
            out.push('…');
            break;
        }
        out.push_str(&esc);
    }
    out.push('"');
    out
}

/// Whitespace as Python's `str.split()` sees it (Unicode White_Space plus `\x1c`–`\x1f`).
pub(crate) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// Python's `str.strip()`.
pub(crate) fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

/// Python's `str.split()` with no arguments.
pub(crate) fn py_split(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_py_space).filter(|t| !t.is_empty())
}

/// Python's `int(s)` for base-10 text: surrounding whitespace, one sign, ASCII digits with
/// single underscores between them. `None` when Python would raise or the value overflows.
pub(crate) fn py_int(s: &str) -> Option<i64> {
    let t = py_strip(s);
    let (neg, digits) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let bytes = digits.as_bytes();
    if bytes.is_empty() || bytes[0] == b'_' || bytes[bytes.len() - 1] == b'_' {
        return None;
    }
    let mut value: i64 = 0;
    let mut prev_underscore = false;
    for &b in bytes {
        if b == b'_' {
            if prev_underscore {
                return None;
            }
            prev_underscore = true;
            continue;
        }
        prev_underscore = false;
        if !b.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
    }
    Some(if neg { -value } else { value })
}

/// Python's `float(s)` for ordinary text (surrounding whitespace allowed).
pub(crate) fn py_float(s: &str) -> Option<f64> {
    let t = py_strip(s);
    if t.is_empty() || t.contains('_') {
        return None;
    }
    t.parse::<f64>().ok()
}

/// Characters `a..b` of `line` (Python `line[a:b]`): clipped to the line, never panics.
pub(crate) fn col(line: &str, a: usize, b: usize) -> &str {
    if line.is_ascii() {
        let end = b.min(line.len());
        let start = a.min(end);
        return &line[start..end];
    }
    let mut idx = line.char_indices().map(|(i, _)| i).chain([line.len()]);
    let start = idx.nth(a).unwrap_or(line.len());
    let end = if b > a {
        idx.nth(b - a - 1).unwrap_or(line.len())
    } else {
        start
    };
    &line[start..end.max(start)]
}

/// The lines of `bytes` as text: split on `\n`, a trailing `\r` dropped, invalid UTF-8
/// replaced (`U+FFFD`) so a stray byte never stops a reader.
pub(crate) fn lines(bytes: &[u8]) -> Vec<std::borrow::Cow<'_, str>> {
    let mut out: Vec<_> = bytes
        .split(|&b| b == b'\n')
        .map(|l| String::from_utf8_lossy(l.strip_suffix(b"\r").unwrap_or(l)))
        .collect();
    if bytes.ends_with(b"\n") {
        out.pop();
    }
    out
}

/// Edit distance (Levenshtein, by characters) between `a` and `b`, capped work: strings
/// longer than 64 characters are never "near".
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len() > 64 || b.len() > 64 {
        return usize::MAX;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The candidate nearest to `word` (same text ignoring case, else within 2 edits and
/// closer than the word is long), for "did you mean" hints.
pub(crate) fn did_you_mean<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let lower = word.to_lowercase();
    if let Some(c) = candidates.iter().find(|c| c.to_lowercase() == lower) {
        return Some(c);
    }
    candidates
        .iter()
        .map(|c| (edit_distance(&lower, &c.to_lowercase()), *c))
        .filter(|&(d, _)| d <= 2 && d < word.chars().count())
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_int_rules() {
        assert_eq!(py_int(" 12 "), Some(12));
        assert_eq!(py_int("-7"), Some(-7));
        assert_eq!(py_int("+7"), Some(7));
        assert_eq!(py_int("1_000"), Some(1000));
        assert_eq!(py_int("1__0"), None);
        assert_eq!(py_int("_1"), None);
        assert_eq!(py_int("1.0"), None);
        assert_eq!(py_int(""), None);
        assert_eq!(py_int("-"), None);
        assert_eq!(py_int("99999999999999999999"), None);
    }

    #[test]
    fn columns_clip_and_handle_unicode() {
        assert_eq!(col("abcdef", 2, 4), "cd");
        assert_eq!(col("abc", 2, 10), "c");
        assert_eq!(col("abc", 5, 10), "");
        assert_eq!(col("aé€bc", 1, 3), "é€");
        assert_eq!(col("aé€bc", 3, 99), "bc");
        assert_eq!(col("aé", 4, 2), "");
    }

    #[test]
    fn quote_escapes_and_cuts() {
        assert_eq!(quote("a\tb"), "\"a\\tb\"");
        let long = "x".repeat(200);
        assert!(quote(&long).chars().count() < 70);
    }

    #[test]
    fn hints() {
        assert_eq!(edit_distance("resnam", "resname"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(
            did_you_mean("resnam", &["name", "resname"]),
            Some("resname")
        );
        assert_eq!(did_you_mean("NAME", &["name", "resname"]), Some("name"));
        assert_eq!(did_you_mean("zzzzzz", &["name"]), None);
        assert_eq!(did_you_mean("x", &["a"]), None);
    }

    #[test]
    fn lines_drop_cr_and_last_newline() {
        let l = lines(b"a\r\nb\n");
        assert_eq!(l, vec!["a", "b"]);
        assert_eq!(lines(b"a\nb").len(), 2);
        assert_eq!(lines(b"\xff\n")[0], "\u{fffd}");
    }
}
