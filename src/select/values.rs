//! Numeric selection values, read as MDAnalysis reads them: tokens around a range
//! separator are joined first (`10 : 20`, `10 to 20`, `10- 20`), then each value is an
//! integer or a range `lo:hi`, `lo-hi`, `lo to hi` (inclusive; matched at the start of
//! the value, as Python's `re.match` does). `resid` values may carry an insertion code
//! (`10A`, `10A:12B`).

use super::lexer::Token;
use super::parser::{shown, IntField, Node, ResidValue};
use super::SelectError;
use crate::topology::text::{is_py_space, py_int};

/// What keyword `kw` needs as values, for the "needs …" message.
pub(crate) fn what_it_needs(kw: &str) -> &'static str {
    match kw {
        "name" => "at least one name",
        "resname" => "at least one residue name",
        "type" => "at least one atom type",
        "segid" => "at least one segment id",
        "element" => "at least one element",
        "chainID" | "chainid" => "at least one chain id",
        "altLoc" | "altloc" => "at least one altloc",
        _ => "a number or range",
    }
}

/// A joined value: its text and the column of its first token.
struct Value {
    /// The joined text (`10 : 20`).
    text: String,
    /// 1-based column of its first token.
    col: usize,
}

/// MDAnalysis's `join_separated_values`: glue `to`, `:`, `-` (alone, or starting the
/// next token, or ending the previous one) to the values around them.
fn join(kw: &Token, tokens: Vec<Token>) -> Result<Vec<Value>, SelectError> {
    let mut out: Vec<Value> = Vec::new();
    let mut rest = tokens.into_iter();
    while let Some(tok) = rest.next() {
        let v = tok.text;
        if matches!(v.as_str(), "to" | ":" | "-") {
            let (Some(prev), Some(next)) = (out.last_mut(), rest.next()) else {
                return Err(bad_value(kw, &v, tok.col));
            };
            prev.text = format!("{} {v} {}", prev.text, next.text);
            continue;
        }
        let glue = match out.last() {
            Some(prev) => {
                v.starts_with("--")
                    || v.starts_with("to")
                    || v.starts_with(':')
                    || ["to", ":", "-"].iter().any(|d| prev.text.ends_with(d))
            }
            None => false,
        };
        match out.last_mut() {
            Some(prev) if glue => prev.text = format!("{} {v}", prev.text),
            _ => out.push(Value {
                text: v,
                col: tok.col,
            }),
        }
    }
    Ok(out)
}

/// The "needs a number or range" error for value `v` at `col`.
fn bad_value(kw: &Token, v: &str, col: usize) -> SelectError {
    SelectError::at(format!("'{}' needs a number or range", kw.text), col)
        .with_suffix(&format!(" (got '{}')", shown(v)))
}

/// `-?\d+` at the start of `s` (ASCII digits): the number and the rest.
fn lead_int(s: &str) -> Option<(i64, &str)> {
    let sign = usize::from(s.starts_with('-'));
    let digits = s[sign..].bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let end = sign + digits;
    Some((s[..end].parse().ok()?, &s[end..]))
}

/// `\s*(?:[:-]| to )\s*` at the start of `s`, with the regex's backtracking: the rest.
fn separator(s: &str) -> Option<&str> {
    let ws: Vec<usize> = s
        .char_indices()
        .take_while(|&(_, c)| is_py_space(c))
        .map(|(i, c)| i + c.len_utf8())
        .collect();
    for cut in std::iter::once(0).chain(ws).rev() {
        let t = &s[cut..];
        let after = t
            .strip_prefix(':')
            .or_else(|| t.strip_prefix('-'))
            .or_else(|| t.strip_prefix(" to "));
        if let Some(r) = after {
            return Some(r.trim_start_matches(is_py_space));
        }
    }
    None
}

/// `\w?` (Python: Unicode alphanumeric or `_`) at the start of `s`.
fn word_char(s: &str) -> Option<char> {
    s.chars()
        .next()
        .filter(|c| c.is_alphanumeric() || *c == '_')
}

/// Values of `index`, `bynum`, `resnum`: Python `int(v)`, else a range at the start of v.
pub(crate) fn ints(kw: &Token, field: IntField, tokens: Vec<Token>) -> Result<Node, SelectError> {
    let mut out = Vec::new();
    for v in join(kw, tokens)? {
        if let Some(n) = py_int(&v.text) {
            out.push((n, None));
            continue;
        }
        let range = lead_int(&v.text).and_then(|(lo, r)| {
            let (hi, _) = lead_int(separator(r)?)?;
            Some((lo, Some(hi)))
        });
        out.push(range.ok_or_else(|| bad_value(kw, &v.text, v.col))?);
    }
    Ok(Node::Int(field, out))
}

/// Values of `resid`: `-?\d+\w?` alone, else `-?\d+\w? SEP -?\d+\w?` at the start.
pub(crate) fn resid(kw: &Token, tokens: Vec<Token>) -> Result<Node, SelectError> {
    let mut values = Vec::new();
    for v in join(kw, tokens)? {
        let parsed = single_resid(&v.text).or_else(|| resid_range(&v.text));
        values.push(parsed.ok_or_else(|| bad_value(kw, &v.text, v.col))?);
    }
    Ok(Node::Resid {
        values,
        col: kw.col,
    })
}

/// `(-?\d+)(\w?)$`: one residue number with an optional insertion code.
fn single_resid(s: &str) -> Option<ResidValue> {
    let (n, rest) = lead_int(s)?;
    let mut chars = rest.chars();
    let code = match (chars.next(), chars.next()) {
        (None, _) => String::new(),
        (Some(c), None) if word_char(rest).is_some() => c.to_string(),
        _ => return None,
    };
    Some(ResidValue {
        lo: (n, code),
        hi: None,
    })
}

/// `(-?\d+)(\w?)SEP(-?\d+)(\w?)` at the start: a range, the code tried first with then
/// without a character (the regex's backtracking).
fn resid_range(s: &str) -> Option<ResidValue> {
    let (lo, rest) = lead_int(s)?;
    let with_code = word_char(rest).map(|c| (c.to_string(), &rest[c.len_utf8()..]));
    for (code, after) in with_code.into_iter().chain([(String::new(), rest)]) {
        let Some(r) = separator(after) else { continue };
        let Some((hi, tail)) = lead_int(r) else {
            continue;
        };
        let hi_code = word_char(tail).map(String::from).unwrap_or_default();
        return Some(ResidValue {
            lo: (lo, code),
            hi: Some((hi, hi_code)),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::lexer::tokenize;
    use super::*;

    fn kw() -> Token {
        Token {
            kind: super::super::lexer::Kind::Word,
            text: "resid".into(),
            col: 1,
        }
    }

    fn ranges(expr: &str) -> Result<Vec<(i64, Option<i64>)>, String> {
        match ints(&kw(), IntField::Index, tokenize(expr)) {
            Ok(Node::Int(_, v)) => Ok(v),
            Ok(other) => Err(format!("{other:?}")),
            Err(e) => Err(e.to_string()),
        }
    }

    fn rv(expr: &str) -> Result<Vec<ResidValue>, String> {
        match resid(&kw(), tokenize(expr)) {
            Ok(Node::Resid { values, .. }) => Ok(values),
            Ok(other) => Err(format!("{other:?}")),
            Err(e) => Err(e.to_string()),
        }
    }

    fn r(lo: i64, lc: &str, hi: Option<(i64, &str)>) -> ResidValue {
        ResidValue {
            lo: (lo, lc.into()),
            hi: hi.map(|(h, c)| (h, c.into())),
        }
    }

    #[test]
    fn int_values_and_ranges() {
        assert_eq!(ranges("5").unwrap(), [(5, None)]);
        assert_eq!(ranges("1 2 +3").unwrap(), [(1, None), (2, None), (3, None)]);
        assert_eq!(ranges("10:20").unwrap(), [(10, Some(20))]);
        assert_eq!(ranges("10-20").unwrap(), [(10, Some(20))]);
        assert_eq!(ranges("10 : 20").unwrap(), [(10, Some(20))]);
        assert_eq!(ranges("10 to 20").unwrap(), [(10, Some(20))]);
        assert_eq!(ranges("10- 20").unwrap(), [(10, Some(20))]);
        assert_eq!(ranges("10 :20").unwrap(), [(10, Some(20))]);
        assert_eq!(ranges("-5--3").unwrap(), [(-5, Some(-3))]);
        assert_eq!(ranges("1 -5").unwrap(), [(1, None), (-5, None)]);
        assert_eq!(ranges("1:5x").unwrap(), [(1, Some(5))]);
        assert_eq!(ranges("1_0").unwrap(), [(10, None)]);
        assert!(ranges("x").unwrap_err().contains("(got 'x')"));
        assert!(ranges(": 5").is_err());
        assert!(ranges("5 to").is_err());
        assert!(ranges("99999999999999999999").is_err());
    }

    #[test]
    fn resid_values_with_icodes() {
        assert_eq!(rv("10").unwrap(), [r(10, "", None)]);
        assert_eq!(rv("10A").unwrap(), [r(10, "A", None)]);
        assert_eq!(rv("10:20").unwrap(), [r(10, "", Some((20, "")))]);
        assert_eq!(rv("10A-12B").unwrap(), [r(10, "A", Some((12, "B")))]);
        assert_eq!(rv("10 to 12").unwrap(), [r(10, "", Some((12, "")))]);
        assert_eq!(rv("-3").unwrap(), [r(-3, "", None)]);
        assert!(rv("10AB").is_err());
        assert!(rv("+3").is_err());
        assert_eq!(rv("1 2").unwrap(), [r(1, "", None), r(2, "", None)]);
    }
}
