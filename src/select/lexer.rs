//! Selection lexer: splits an expression into words and parentheses, as MDAnalysis does
//! (parentheses are tokens of their own, everything else is split on whitespace), keeping
//! each token's 1-based column for error messages.

use crate::topology::text::is_py_space;

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `(`
    Open,
    /// `)`
    Close,
    /// Anything else: a keyword, an operator or a value.
    Word,
}

/// One token and where it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    /// What it is.
    pub kind: Kind,
    /// Its text.
    pub text: String,
    /// 1-based column (in characters) of its first character.
    pub col: usize,
}

/// Split `expr` into tokens. Never fails: every character belongs to a token or is space.
pub(crate) fn tokenize(expr: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    let mut word_col = 0;
    for (i, c) in expr.chars().enumerate() {
        let col = i + 1;
        let kind = match c {
            '(' => Some(Kind::Open),
            ')' => Some(Kind::Close),
            _ if is_py_space(c) => None,
            _ => {
                if word.is_empty() {
                    word_col = col;
                }
                word.push(c);
                continue;
            }
        };
        if !word.is_empty() {
            let text = std::mem::take(&mut word);
            tokens.push(Token {
                kind: Kind::Word,
                text,
                col: word_col,
            });
        }
        if let Some(kind) = kind {
            tokens.push(Token {
                kind,
                text: c.to_string(),
                col,
            });
        }
    }
    if !word.is_empty() {
        tokens.push(Token {
            kind: Kind::Word,
            text: word,
            col: word_col,
        });
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(expr: &str) -> Vec<(String, usize)> {
        tokenize(expr)
            .into_iter()
            .map(|t| (t.text, t.col))
            .collect()
    }

    #[test]
    fn words_parens_columns() {
        let got = show("(name CA)and\tnot(resid 1:5 )");
        let want = [
            ("(", 1),
            ("name", 2),
            ("CA", 7),
            (")", 9),
            ("and", 10),
            ("not", 14),
            ("(", 17),
            ("resid", 18),
            ("1:5", 24),
            (")", 28),
        ];
        let want: Vec<_> = want.iter().map(|(t, c)| (t.to_string(), *c)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn empty_and_unicode() {
        assert!(tokenize("   \n ").is_empty());
        assert_eq!(show("é  x"), [("é".to_string(), 1), ("x".to_string(), 4)]);
        assert_eq!(tokenize(")")[0].kind, Kind::Close);
    }
}
