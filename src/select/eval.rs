//! Selection evaluation: AST × topology → one boolean per atom, with MDAnalysis's
//! definitions of `protein`, `backbone`, `nucleic` and of `resid` with insertion codes.

use super::glob::Glob;
use super::parser::{IntField, Node, ResidValue, StrField};
use super::SelectError;
use crate::topology::{Atom, Topology};
use std::collections::HashMap;

/// Residue names MDAnalysis's `protein` recognises (CHARMM, OPLS, GROMOS, AMBER).
const PROTEIN_RESNAMES: [&str; 104] = [
    "ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HSD", "HSE", "HSP", "ILE", "LEU",
    "LYS", "MET", "PHE", "PRO", "SER", "THR", "TRP", "TYR", "VAL", "ALAD", "HIS", "MSE", "ARGN",
    "ASPH", "CYS2", "CYSH", "QLN", "PGLU", "GLUH", "HIS1", "HISD", "HISE", "HISH", "LYSH", "ASN1",
    "CYS1", "HISA", "HISB", "HIS2", "HID", "HIE", "HIP", "ORN", "DAB", "LYN", "HYP", "CYM", "CYX",
    "ASH", "GLH", "ACE", "NME", "NALA", "NGLY", "NSER", "NTHR", "NLEU", "NILE", "NVAL", "NASN",
    "NGLN", "NARG", "NHID", "NHIE", "NHIP", "NTRP", "NPHE", "NTYR", "NGLU", "NASP", "NLYS", "NPRO",
    "NCYS", "NCYX", "NMET", "CALA", "CGLY", "CSER", "CTHR", "CLEU", "CILE", "CVAL", "CASF", "CASN",
    "CGLN", "CARG", "CHID", "CHIE", "CHIP", "CTRP", "CPHE", "CTYR", "CGLU", "CASP", "CLYS", "CPRO",
    "CCYS", "CCYX", "CMET", "CME", "ASF",
];

/// Residue names MDAnalysis's `nucleic` recognises.
const NUCLEIC_RESNAMES: [&str; 34] = [
    "ADE", "URA", "CYT", "GUA", "THY", "DA", "DC", "DG", "DT", "RA", "RU", "RG", "RC", "A", "T",
    "U", "C", "G", "DA5", "DC5", "DG5", "DT5", "DA3", "DC3", "DG3", "DT3", "RA5", "RU5", "RG5",
    "RC5", "RA3", "RU3", "RG3", "RC3",
];

/// Atom names of MDAnalysis's `backbone` (in protein residues only; no OT1/OT2/OXT).
const BACKBONE_NAMES: [&str; 4] = ["N", "CA", "C", "O"];

/// One boolean per atom: whether `node` selects it.
pub(crate) fn eval(node: &Node, top: &Topology) -> Result<Vec<bool>, SelectError> {
    let atoms = &top.atoms;
    let in_list = |list: &'static [&'static str]| move |v: &str| list.contains(&v);
    Ok(match node {
        Node::All => vec![true; atoms.len()],
        Node::Protein => by_value(atoms, StrField::Resname, in_list(&PROTEIN_RESNAMES)),
        Node::Nucleic => by_value(atoms, StrField::Resname, in_list(&NUCLEIC_RESNAMES)),
        Node::Backbone => {
            let names = by_value(atoms, StrField::Name, in_list(&BACKBONE_NAMES));
            let protein = by_value(atoms, StrField::Resname, in_list(&PROTEIN_RESNAMES));
            names.iter().zip(protein).map(|(&n, p)| n && p).collect()
        }
        Node::Not(inner) => eval(inner, top)?.into_iter().map(|b| !b).collect(),
        Node::And(parts) => combine(parts, top, |x, y| x && y)?,
        Node::Or(parts) => combine(parts, top, |x, y| x || y)?,
        Node::Str(field, globs) => strings(atoms, *field, globs),
        Node::Int(field, ranges) => {
            let value = |i: usize, a: &Atom| match field {
                IntField::Index => i as i64,
                IntField::Bynum => i as i64 + 1,
                IntField::Resnum => a.resid,
            };
            let hit = |v: i64| ranges.iter().any(|&(lo, hi)| in_range(v, lo, hi));
            atoms
                .iter()
                .enumerate()
                .map(|(i, a)| hit(value(i, a)))
                .collect()
        }
        Node::Resid { values, col } => resids(top, values, *col)?,
    })
}

/// `lo` exactly, or `lo..=hi` for a range.
fn in_range(v: i64, lo: i64, hi: Option<i64>) -> bool {
    match hi {
        Some(hi) => lo <= v && v <= hi,
        None => v == lo,
    }
}

/// Fold the masks of `parts` with `op`.
fn combine(
    parts: &[Node],
    top: &Topology,
    op: fn(bool, bool) -> bool,
) -> Result<Vec<bool>, SelectError> {
    let mut acc: Option<Vec<bool>> = None;
    for part in parts {
        let mask = eval(part, top)?;
        acc = Some(match acc {
            None => mask,
            Some(mut a) => {
                a.iter_mut().zip(mask).for_each(|(x, y)| *x = op(*x, y));
                a
            }
        });
    }
    Ok(acc.unwrap_or_else(|| vec![false; top.atoms.len()]))
}

/// The value of string attribute `field` of `a`.
fn get(a: &Atom, field: StrField) -> &str {
    match field {
        StrField::Name => &a.name,
        StrField::Type => &a.atom_type,
        StrField::Resname => &a.resname,
        StrField::Segid => &a.segid,
        StrField::Element => &a.element,
        StrField::Chain => &a.chain,
        StrField::Altloc => &a.altloc,
    }
}

/// `pred` on string attribute `field` of each atom, computed once per distinct value.
fn by_value(atoms: &[Atom], field: StrField, pred: impl Fn(&str) -> bool) -> Vec<bool> {
    let mut seen: HashMap<&str, bool> = HashMap::new();
    atoms
        .iter()
        .map(|a| {
            let v = get(a, field);
            *seen.entry(v).or_insert_with(|| pred(v))
        })
        .collect()
}

/// Pattern match on a string attribute (any of the patterns).
fn strings(atoms: &[Atom], field: StrField, globs: &[Glob]) -> Vec<bool> {
    by_value(atoms, field, |v| globs.iter().any(|g| g.matches(v)))
}

/// MDAnalysis's `resid`: without insertion codes in the topology, plain numbers and
/// ranges (codes in the selection are an error); with them (PDB), a single value matches
/// that number *and* code, and a range `lo[A]:hi[B]` takes codes ≥ A at lo, all of the
/// numbers between, and codes ≤ B at hi.
fn resids(top: &Topology, values: &[ResidValue], col: usize) -> Result<Vec<bool>, SelectError> {
    let has_codes =
        |v: &ResidValue| !v.lo.1.is_empty() || v.hi.as_ref().is_some_and(|h| !h.1.is_empty());
    if !top.has_icodes && values.iter().any(has_codes) {
        let msg = "'resid' has insertion codes but this topology has none (only PDB has them)";
        return Err(SelectError::at(msg.to_string(), col));
    }
    let hit = |a: &Atom, v: &ResidValue| -> bool {
        let (lo, lo_code) = (&v.lo.0, v.lo.1.as_str());
        if !top.has_icodes {
            return in_range(a.resid, *lo, v.hi.as_ref().map(|h| h.0));
        }
        let code = a.icode.as_str();
        match &v.hi {
            None => a.resid == *lo && code == lo_code,
            Some((hi, hi_code)) if hi == lo => {
                a.resid == *lo && lo_code <= code && code <= hi_code.as_str()
            }
            Some((hi, hi_code)) => {
                (a.resid == *lo && code >= lo_code)
                    || (*lo < a.resid && a.resid < *hi)
                    || (a.resid == *hi && code <= hi_code.as_str())
            }
        }
    };
    Ok(top
        .atoms
        .iter()
        .map(|a| values.iter().any(|v| hit(a, v)))
        .collect())
}
