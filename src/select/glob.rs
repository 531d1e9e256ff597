//! Shell-style patterns with the rules of Python's `fnmatch.fnmatchcase`, which MDAnalysis
//! uses for string selections: `*`, `?`, `[abc]`, `[a-z]`, `[!abc]`; a `[` without its
//! `]` is a literal; matching is case-sensitive and covers the whole text.

/// One element of a compiled pattern.
#[derive(Clone, Debug, PartialEq)]
enum Piece {
    /// `*`: any run of characters.
    Star,
    /// `?`: any one character.
    Any,
    /// A character set: negated or not, ranges of characters (`(a, a)` for one).
    Set(bool, Vec<(char, char)>),
    /// A literal character.
    Lit(char),
}

/// A compiled pattern.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Glob {
    /// The pattern's elements, in order (runs of `*` merged).
    pieces: Vec<Piece>,
}

impl Glob {
    /// Compile `pattern` (never fails: anything unusual is a literal).
    pub(crate) fn new(pattern: &str) -> Glob {
        let chars: Vec<char> = pattern.chars().collect();
        let mut pieces = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '*' => {
                    if pieces.last() != Some(&Piece::Star) {
                        pieces.push(Piece::Star);
                    }
                }
                '?' => pieces.push(Piece::Any),
                '[' => match parse_set(&chars, i) {
                    Some((piece, next)) => {
                        pieces.push(piece);
                        i = next;
                        continue;
                    }
                    None => pieces.push(Piece::Lit('[')),
                },
                c => pieces.push(Piece::Lit(c)),
            }
            i += 1;
        }
        Glob { pieces }
    }

    /// Whether `text` matches the whole pattern.
    pub(crate) fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().collect();
        let (mut p, mut t) = (0, 0);
        let mut backtrack: Option<(usize, usize)> = None;
        while t < text.len() {
            match self.pieces.get(p) {
                Some(Piece::Star) => {
                    backtrack = Some((p, t));
                    p += 1;
                    continue;
                }
                Some(piece) if one(piece, text[t]) => {
                    p += 1;
                    t += 1;
                    continue;
                }
                _ => {}
            }
            match backtrack {
                Some((bp, bt)) => {
                    backtrack = Some((bp, bt + 1));
                    p = bp + 1;
                    t = bt + 1;
                }
                None => return false,
            }
        }
        self.pieces[p..].iter().all(|piece| *piece == Piece::Star)
    }
}

/// Whether a single-character piece matches `c`.
fn one(piece: &Piece, c: char) -> bool {
    match piece {
        Piece::Any => true,
        Piece::Lit(l) => *l == c,
        Piece::Set(negated, ranges) => ranges.iter().any(|&(a, b)| a <= c && c <= b) != *negated,
        Piece::Star => false,
    }
}

/// A `[...]` set starting at `chars[start]`, as `fnmatch.translate` reads it: a `!` first
/// negates, a `]` first (after any `!`) is a member. Returns the piece and the index after
/// the closing `]`, or `None` when there is no closing `]`.
fn parse_set(chars: &[char], start: usize) -> Option<(Piece, usize)> {
    let mut j = start + 1;
    if chars.get(j) == Some(&'!') {
        j += 1;
    }
    if chars.get(j) == Some(&']') {
        j += 1;
    }
    let close = j + chars.get(j..)?.iter().position(|&c| c == ']')?;
    let mut body = &chars[start + 1..close];
    let negated = body.first() == Some(&'!');
    if negated {
        body = &body[1..];
    }
    let mut ranges = Vec::new();
    let mut k = 0;
    while k < body.len() {
        if k + 2 < body.len() && body[k + 1] == '-' {
            if body[k] <= body[k + 2] {
                ranges.push((body[k], body[k + 2]));
            }
            k += 3;
        } else {
            ranges.push((body[k], body[k]));
            k += 1;
        }
    }
    Some((Piece::Set(negated, ranges), close + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        Glob::new(p).matches(t)
    }

    #[test]
    fn fnmatchcase_rules() {
        assert!(m("CA", "CA") && !m("CA", "CB") && !m("CA", "ca"));
        assert!(m("C*", "C") && m("C*", "CA") && !m("C*", "NC"));
        assert!(m("*A", "CA") && m("*", "") && !m("?", ""));
        assert!(m("H?1", "HB1") && !m("H?1", "HB12"));
        assert!(m("C[AB]", "CB") && !m("C[AB]", "CG"));
        assert!(m("C[!AB]", "CG") && !m("C[!AB]", "CA"));
        assert!(m("O[1-2]", "O2") && !m("O[1-2]", "O3"));
        assert!(m("[]]", "]") && m("[!]]", "a") && !m("[!]]", "]"));
        assert!(m("[", "[") && m("a[b", "a[b") && m("[!", "[!"));
        assert!(m("[a-]", "-") && m("[-a]", "-"));
        assert!(!m("[z-a]", "m"));
        assert!(m("*B*C*", "xxBxxCxx") && !m("*B*C", "xxBxxCxx"));
        assert!(m("**a", "a"));
    }
}
