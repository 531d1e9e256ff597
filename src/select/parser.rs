//! Selection parser: tokens → AST, with MDAnalysis's grammar. `not` binds tightest (it
//! takes the one term that follows); `and` and `or` have the SAME precedence and group
//! left to right, as in MDAnalysis (`a or b and c` is `(a or b) and c`); parentheses
//! group. A keyword takes every following token up to the next keyword, operator or
//! parenthesis as its values (`name CA CB`), and numeric values may be ranges.

use super::glob::Glob;
use super::lexer::{Kind, Token};
use super::SelectError;
use crate::topology::text::did_you_mean;

/// Deepest nesting of the AST we accept (parentheses, `not`, mixed `and`/`or`).
const MAX_DEPTH: usize = 200;

/// String attributes a keyword can match with patterns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StrField {
    /// `name`
    Name,
    /// `type`
    Type,
    /// `resname`
    Resname,
    /// `segid`
    Segid,
    /// `element`
    Element,
    /// `chainID` / `chainid`
    Chain,
    /// `altLoc` / `altloc`
    Altloc,
}

/// Integer attributes a keyword can match with numbers and ranges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IntField {
    /// `index`: 0-based atom index.
    Index,
    /// `bynum`: 1-based atom number.
    Bynum,
    /// `resnum`: residue number (equal to resid in every format we read).
    Resnum,
}

/// One `resid` value: a number with an optional insertion code, or an inclusive range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ResidValue {
    /// Lower end (or the single value) and its insertion code (empty if none).
    pub lo: (i64, String),
    /// Upper end and its insertion code, for a range.
    pub hi: Option<(i64, String)>,
}

/// The selection AST.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Node {
    /// `all`
    All,
    /// `protein`: residues with a protein residue name.
    Protein,
    /// `backbone`: N, CA, C, O of protein residues.
    Backbone,
    /// `nucleic`: residues with a nucleic-acid residue name.
    Nucleic,
    /// `not X`
    Not(Box<Node>),
    /// `X and Y and …`
    And(Vec<Node>),
    /// `X or Y or …`
    Or(Vec<Node>),
    /// A string keyword and its patterns.
    Str(StrField, Vec<Glob>),
    /// An integer keyword and its values/ranges (inclusive).
    Int(IntField, Vec<(i64, Option<i64>)>),
    /// `resid` values.
    Resid {
        /// The values and ranges.
        values: Vec<ResidValue>,
        /// The keyword's column, for the no-insertion-code error.
        col: usize,
    },
}

/// Keywords we evaluate.
pub(crate) const SUPPORTED: [&str; 20] = [
    "all", "not", "and", "or", "name", "type", "resname", "resid", "resnum", "index", "bynum",
    "element", "segid", "chainID", "altLoc", "backbone", "protein", "nucleic", "chainid", "altloc",
];

/// MDAnalysis keywords we do not evaluate; they still end a value list, as there.
const UNSUPPORTED: [&str; 43] = [
    "global",
    "byres",
    "around",
    "sphlayer",
    "isolayer",
    "sphzone",
    "cyzone",
    "cylayer",
    "point",
    "atom",
    "bonded",
    "group",
    "aromatic",
    "smarts",
    "nucleicbackbone",
    "nucleicbase",
    "nucleicsugar",
    "prop",
    "same",
    "resindex",
    "segindex",
    "id",
    "radius",
    "record_type",
    "tempfactor",
    "bfactor",
    "mass",
    "charge",
    "formalcharge",
    "occupancy",
    "gbscreen",
    "solventradius",
    "nbindex",
    "rmin",
    "epsilon",
    "rmin14",
    "epsilon14",
    "aromaticity",
    "chirality",
    "icode",
    "moltype",
    "molnum",
    "fragindex",
];

/// Whether MDAnalysis would treat `word` as a keyword (ending a keyword's value list).
fn is_keyword(word: &str) -> bool {
    SUPPORTED.contains(&word) || UNSUPPORTED.contains(&word)
}

/// Parse a token list into an AST.
pub(crate) fn parse(tokens: &[Token], end_col: usize) -> Result<Node, SelectError> {
    let mut p = Parser {
        tokens,
        pos: 0,
        end_col,
    };
    if tokens.is_empty() {
        return Err(SelectError::new("empty selection; try 'all' or 'name CA'"));
    }
    let (node, _) = p.expression(0)?;
    match p.peek() {
        None => Ok(node),
        Some(t) if t.kind == Kind::Close => Err(unbalanced(t.col)),
        Some(t) => Err(
            SelectError::at(format!("unexpected '{}'", shown(&t.text)), t.col)
                .with_suffix("; join selections with 'and' or 'or'"),
        ),
    }
}

/// An "unbalanced parenthesis" error at `col`.
fn unbalanced(col: usize) -> SelectError {
    SelectError::at("unbalanced parenthesis".to_string(), col)
}

/// Token text for a message: control characters escaped, cut to 40 characters.
pub(crate) fn shown(text: &str) -> String {
    let escaped: String = text.chars().flat_map(char::escape_debug).collect();
    let mut s: String = escaped.chars().take(40).collect();
    if escaped.chars().count() > 40 {
        s.push('…');
    }
    s
}

/// Recursive-descent state over the tokens.
struct Parser<'t> {
    /// All tokens.
    tokens: &'t [Token],
    /// Index of the next token.
    pos: usize,
    /// Column just past the end of the expression, for "ends early" errors.
    end_col: usize,
}

impl Parser<'_> {
    /// The next token, not consumed.
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    /// `term ((and|or) term)*`, left to right; returns the node and its depth.
    fn expression(&mut self, depth: usize) -> Result<(Node, usize), SelectError> {
        let (mut node, mut node_depth) = self.term(depth)?;
        while let Some(tok) = self.peek().filter(|t| t.kind == Kind::Word) {
            let is_and = match tok.text.as_str() {
                "and" => true,
                "or" => false,
                _ => break,
            };
            self.pos += 1;
            let (rhs, rhs_depth) = self.term(depth)?;
            node = match (node, is_and) {
                (Node::And(mut v), true) => {
                    v.push(rhs);
                    node_depth = node_depth.max(rhs_depth + 1);
                    Node::And(v)
                }
                (Node::Or(mut v), false) => {
                    v.push(rhs);
                    node_depth = node_depth.max(rhs_depth + 1);
                    Node::Or(v)
                }
                (lhs, and) => {
                    node_depth = node_depth.max(rhs_depth) + 1;
                    if and {
                        Node::And(vec![lhs, rhs])
                    } else {
                        Node::Or(vec![lhs, rhs])
                    }
                }
            };
            if depth + node_depth > MAX_DEPTH {
                return Err(SelectError::at(
                    "selection nested too deeply".into(),
                    tok_col(self),
                ));
            }
        }
        Ok((node, node_depth))
    }

    /// One term: `( expression )`, `not term`, or a keyword with its values.
    fn term(&mut self, depth: usize) -> Result<(Node, usize), SelectError> {
        if depth > MAX_DEPTH {
            return Err(SelectError::at(
                "selection nested too deeply".into(),
                tok_col(self),
            ));
        }
        let Some(tok) = self.peek().cloned() else {
            return Err(SelectError::at(
                "selection ends early; expected a keyword".into(),
                self.end_col,
            ));
        };
        self.pos += 1;
        match tok.kind {
            Kind::Open => {
                let (node, d) = self.expression(depth + 1)?;
                match self.peek() {
                    Some(t) if t.kind == Kind::Close => {
                        self.pos += 1;
                        Ok((node, d))
                    }
                    _ => Err(unbalanced(tok.col)),
                }
            }
            Kind::Close => Err(unbalanced(tok.col)),
            Kind::Word if tok.text == "not" => {
                let (inner, d) = self.term(depth + 1)?;
                Ok((Node::Not(Box::new(inner)), d + 1))
            }
            Kind::Word => Ok((self.keyword(&tok)?, 1)),
        }
    }

    /// A keyword term; `tok` (already consumed) is the keyword.
    fn keyword(&mut self, tok: &Token) -> Result<Node, SelectError> {
        let simple = match tok.text.as_str() {
            "all" => Some(Node::All),
            "protein" => Some(Node::Protein),
            "backbone" => Some(Node::Backbone),
            "nucleic" => Some(Node::Nucleic),
            _ => None,
        };
        if let Some(node) = simple {
            return Ok(node);
        }
        let field = match tok.text.as_str() {
            "name" => StrField::Name,
            "type" => StrField::Type,
            "resname" => StrField::Resname,
            "segid" => StrField::Segid,
            "element" => StrField::Element,
            "chainID" | "chainid" => StrField::Chain,
            "altLoc" | "altloc" => StrField::Altloc,
            "resid" => return super::values::resid(tok, self.values(tok)?),
            "index" => return super::values::ints(tok, IntField::Index, self.values(tok)?),
            "bynum" => return super::values::ints(tok, IntField::Bynum, self.values(tok)?),
            "resnum" => return super::values::ints(tok, IntField::Resnum, self.values(tok)?),
            _ => return Err(self.not_a_keyword(tok)),
        };
        let patterns = self
            .values(tok)?
            .iter()
            .map(|t| Glob::new(&t.text))
            .collect();
        Ok(Node::Str(field, patterns))
    }

    /// The value tokens after keyword `tok`: everything up to the next keyword, operator,
    /// parenthesis or the end; at least one.
    fn values(&mut self, tok: &Token) -> Result<Vec<Token>, SelectError> {
        let start = self.pos;
        while let Some(t) = self.peek() {
            if t.kind != Kind::Word || is_keyword(&t.text) {
                break;
            }
            self.pos += 1;
        }
        if self.pos == start {
            let col = self.peek().map_or(self.end_col, |t| t.col);
            let what = super::values::what_it_needs(&tok.text);
            return Err(SelectError::at(format!("'{}' needs {what}", tok.text), col));
        }
        Ok(self.tokens[start..self.pos].to_vec())
    }

    /// The error for a word that is not a keyword we evaluate.
    fn not_a_keyword(&self, tok: &Token) -> SelectError {
        let word = shown(&tok.text);
        if UNSUPPORTED.contains(&tok.text.as_str()) {
            return SelectError::at(
                format!("selection keyword '{word}' is not supported"),
                tok.col,
            );
        }
        let hint = did_you_mean(&tok.text, &SUPPORTED)
            .map(|k| format!("; did you mean '{k}'?"))
            .unwrap_or_default();
        SelectError::at(format!("unknown keyword '{word}'"), tok.col).with_suffix(&hint)
    }
}

/// Column of the current token (or the end), for messages.
fn tok_col(p: &Parser) -> usize {
    p.peek().map_or(p.end_col, |t| t.col)
}

#[cfg(test)]
mod tests {
    use super::super::lexer::tokenize;
    use super::*;

    fn ast(expr: &str) -> Result<Node, String> {
        parse(&tokenize(expr), expr.chars().count() + 1).map_err(|e| e.to_string())
    }

    fn names(v: &[&str]) -> Node {
        Node::Str(StrField::Name, v.iter().map(|s| Glob::new(s)).collect())
    }

    #[test]
    fn precedence_like_mdanalysis() {
        let a = names(&["A"]);
        let b = names(&["B"]);
        let c = names(&["C"]);
        let got = ast("name A or name B and name C").unwrap();
        let want = Node::And(vec![Node::Or(vec![a.clone(), b.clone()]), c.clone()]);
        assert_eq!(got, want);
        let got = ast("not name A and name B").unwrap();
        assert_eq!(
            got,
            Node::And(vec![Node::Not(Box::new(a.clone())), b.clone()])
        );
        let got = ast("name A or (name B and name C)").unwrap();
        assert_eq!(
            got,
            Node::Or(vec![a.clone(), Node::And(vec![b.clone(), c.clone()])])
        );
        let got = ast("name A or name B or name C").unwrap();
        assert_eq!(got, Node::Or(vec![a, b, c]));
        assert_eq!(
            ast("not not all").unwrap(),
            Node::Not(Box::new(Node::Not(Box::new(Node::All))))
        );
    }

    #[test]
    fn values_stop_at_keywords() {
        assert_eq!(ast("name CA CB").unwrap(), names(&["CA", "CB"]));
        let got = ast("name CA protein").unwrap_err();
        assert_eq!(
            got,
            "unexpected 'protein' at column 9; join selections with 'and' or 'or'"
        );
        let got = ast("name and").unwrap_err();
        assert_eq!(got, "'name' needs at least one name at column 6");
    }

    #[test]
    fn error_messages() {
        let e = |s: &str| ast(s).unwrap_err();
        assert_eq!(
            e("resnam ALA"),
            "unknown keyword 'resnam' at column 1; did you mean 'resname'?"
        );
        assert_eq!(
            e("NAME CA"),
            "unknown keyword 'NAME' at column 1; did you mean 'name'?"
        );
        assert_eq!(
            e("resid abc"),
            "'resid' needs a number or range at column 7 (got 'abc')"
        );
        assert_eq!(e("resid"), "'resid' needs a number or range at column 6");
        assert_eq!(
            e("(name CA or (name CB)"),
            "unbalanced parenthesis at column 1"
        );
        assert_eq!(
            e("name CA or name CB)"),
            "unbalanced parenthesis at column 19"
        );
        assert_eq!(e(")"), "unbalanced parenthesis at column 1");
        assert_eq!(
            e("name CA and"),
            "selection ends early; expected a keyword at column 12"
        );
        assert_eq!(
            e("around 5 name CA"),
            "selection keyword 'around' is not supported at column 1"
        );
        assert_eq!(e("  "), "empty selection; try 'all' or 'name CA'");
        assert_eq!(e("xyzzy"), "unknown keyword 'xyzzy' at column 1");
        assert!(e("a\u{7}b").starts_with("unknown keyword 'a\\u{7}b' at column 1"));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}all{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(ast(&deep).unwrap_err().contains("nested too deeply"));
        let nots = format!("{}all", "not ".repeat(100_000));
        assert!(ast(&nots).unwrap_err().contains("nested too deeply"));
        let mixed: String = (0..100_000)
            .map(|i| if i % 2 == 0 { "all or " } else { "all and " })
            .collect();
        assert!(ast(&format!("{mixed}all"))
            .unwrap_err()
            .contains("nested too deeply"));
        let flat = format!("{}all", "all or ".repeat(100_000));
        assert!(ast(&flat).is_ok());
    }
}
