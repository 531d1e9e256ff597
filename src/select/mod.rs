//! Atom selections in MDAnalysis's language (`backbone`, `name CA CB`, `resid 10:20 and
//! not name H*`, …), selecting exactly the atoms MDAnalysis's `select_atoms` selects:
//! `lexer` (tokens with columns) → `parser` (AST) → `eval` (one boolean per atom).
//! Also the reader of `--fit-points @FILE` index lists.

mod eval;
mod glob;
mod lexer;
mod parser;
mod values;

use crate::topology::Topology;
use anyhow::{bail, Context};
use std::fmt;

/// A selection that cannot be parsed or evaluated: one line, pointing at the offending
/// token by its 1-based column where there is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectError {
    /// The whole one-line message.
    message: String,
}

impl SelectError {
    /// An error with no column.
    pub(crate) fn new(message: &str) -> Self {
        SelectError {
            message: message.to_string(),
        }
    }

    /// `{message} at column {col}`.
    pub(crate) fn at(message: String, col: usize) -> Self {
        SelectError {
            message: format!("{message} at column {col}"),
        }
    }

    /// The same error with `suffix` appended (a hint, the offending value).
    pub(crate) fn with_suffix(mut self, suffix: &str) -> Self {
        self.message.push_str(suffix);
        self
    }
}

impl fmt::Display for SelectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SelectError {}

/// Select atoms of `topology` with MDAnalysis selection `expr`: sorted 0-based indices.
/// An empty result is an error (`selection 'name XX' matches no atom`); use
/// [`select_allow_empty`] where an empty set is acceptable.
pub fn select(topology: &Topology, expr: &str) -> Result<Vec<usize>, SelectError> {
    let indices = select_allow_empty(topology, expr)?;
    if indices.is_empty() {
        let shown = parser::shown(expr.trim());
        return Err(SelectError::new(&format!(
            "selection '{shown}' matches no atom"
        )));
    }
    Ok(indices)
}

/// Like [`select`] but an empty result is `Ok(vec![])`.
pub(crate) fn select_allow_empty(
    topology: &Topology,
    expr: &str,
) -> Result<Vec<usize>, SelectError> {
    let mask = select_mask(topology, expr)?;
    Ok(mask
        .iter()
        .enumerate()
        .filter(|(_, &m)| m)
        .map(|(i, _)| i)
        .collect())
}

/// One boolean per atom of `topology`: whether `expr` selects it.
pub(crate) fn select_mask(topology: &Topology, expr: &str) -> Result<Vec<bool>, SelectError> {
    let tokens = lexer::tokenize(expr);
    let ast = parser::parse(&tokens, expr.chars().count() + 1)?;
    eval::eval(&ast, topology)
}

/// Read a `--fit-points @FILE` text: 0-based point indices separated by whitespace, commas
/// or newlines; `#` starts a comment to the end of the line. Returned in file order
/// (duplicates kept: the caller validates against the point count). At least one index.
pub(crate) fn parse_index_file_list(text: &str) -> anyhow::Result<Vec<usize>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let data = line.split('#').next().unwrap_or("");
        for field in data
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|f| !f.is_empty())
        {
            let n: usize = field.parse().ok().with_context(|| {
                let shown = crate::topology::text::quote(field);
                format!("line {}: {shown} is not a 0-based point index", i + 1)
            })?;
            out.push(n);
        }
    }
    if out.is_empty() {
        bail!("no point index in the file");
    }
    Ok(out)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod mda_agreement;
