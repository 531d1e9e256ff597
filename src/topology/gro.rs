//! GRO topology reader: title line, atom count line, then fixed columns `%5d%-5s%5s%5d`
//! (resid, resname, atom name, atom number) for each atom of the first frame, as
//! MDAnalysis's `GROParser` reads them, including its unwrapping of 5-digit resids.

use super::text::{col, lines, py_int, py_strip, quote};
use super::{Atom, Topology};
use anyhow::{bail, Context};

/// What a wrapped 5-digit residue number gains per wrap (MDAnalysis).
const WRAP_STEP: i64 = 100_000;

/// Parse GRO bytes into a topology (masses guessed from atom names).
pub(crate) fn parse(bytes: &[u8]) -> anyhow::Result<Topology> {
    let lines = lines(bytes);
    if lines.len() < 2 {
        bail!("too short for a GRO file: no atom count line");
    }
    let n = py_int(&lines[1]).filter(|&n| n >= 0).with_context(|| {
        format!(
            "line 2: expected the atom count, found {}",
            quote(&lines[1])
        )
    })?;
    let available = lines.len() - 2;
    if n as u64 > available as u64 {
        bail!("line 2 announces {n} atoms but only {available} lines follow");
    }
    if n == 0 {
        bail!("line 2: the file has no atoms");
    }
    let n = n as usize;
    let mut atoms = Vec::with_capacity(n);
    for (i, line) in lines[2..2 + n].iter().enumerate() {
        atoms.push(parse_atom(line).with_context(|| format!("line {}", i + 3))?);
    }
    unwrap_resids(&mut atoms);
    let mut top = Topology {
        atoms,
        ..Topology::default()
    };
    top.fill_guessed(false);
    Ok(top)
}

/// One atom line: resid, resname, name and atom number in fixed columns.
fn parse_atom(line: &str) -> anyhow::Result<Atom> {
    let bad = || format!("cannot read the atom record {}", quote(line));
    let resid = py_int(col(line, 0, 5)).with_context(bad)?;
    py_int(col(line, 15, 20)).with_context(bad)?;
    let name = py_strip(col(line, 10, 15)).to_string();
    if name.is_empty() {
        bail!("missing atom name in {}", quote(line));
    }
    Ok(Atom {
        name,
        resname: py_strip(col(line, 5, 10)).to_string(),
        resid,
        segid: "SYSTEM".to_string(),
        ..Atom::default()
    })
}

/// MDAnalysis's fix for resids that wrapped past 99999: every block of resid 0 (other
/// than one at the very first atom) adds 100000 to the resids from there on.
fn unwrap_resids(atoms: &mut [Atom]) {
    let mut offset: i64 = 0;
    let mut prev_zero = false;
    for (i, atom) in atoms.iter_mut().enumerate() {
        let zero = atom.resid == 0;
        if zero && !prev_zero && i != 0 {
            offset = offset.saturating_add(WRAP_STEP);
        }
        prev_zero = zero;
        atom.resid = atom.resid.saturating_add(offset);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRO: &str = "\
Test system t= 0.0
    5
    1ALA      N    1   0.000   0.000   0.000
    1ALA     CA    2   0.100   0.000   0.000
    2SOL     OW    3   0.200   0.000   0.000
    2SOL    HW1    4   0.300   0.000   0.000
    3NA      NA    5   0.400   0.000   0.000
   1.00000   1.00000   1.00000
";

    #[test]
    fn reads_columns_and_guesses_masses() {
        let top = parse(GRO.as_bytes()).unwrap();
        assert_eq!(top.n_atoms(), 5);
        let a = &top.atoms;
        assert_eq!(
            (a[1].name.as_str(), a[1].resname.as_str(), a[1].resid),
            ("CA", "ALA", 1)
        );
        assert_eq!((a[3].name.as_str(), a[3].atom_type.as_str()), ("HW1", "H"));
        assert_eq!(
            (a[4].atom_type.as_str(), a[4].element.as_str()),
            ("NA", "Na")
        );
        assert_eq!(a[0].segid, "SYSTEM");
        assert_eq!(top.masses_guessed, 5);
        let want = 14.007 + 12.011 + 15.999 + 1.008 + 22.98977;
        assert!((top.total_mass() - want).abs() < 1e-9);
        assert!(!top.has_icodes);
    }

    #[test]
    fn resid_wrap_like_mdanalysis() {
        let mk = |r: i64| format!("{:5}SOL     OW    1   0.000   0.000   0.000\n", r % 100_000);
        let mut text = String::from("t\n5\n");
        for r in [0, 99999, 100000, 100000, 100001] {
            text.push_str(&mk(r));
        }
        let top = parse(text.as_bytes()).unwrap();
        let resids: Vec<_> = top.atoms.iter().map(|a| a.resid).collect();
        assert_eq!(resids, [0, 99999, 100000, 100000, 100001]);
    }

    #[test]
    fn errors_name_the_line() {
        let e = |t: &str| format!("{:#}", parse(t.as_bytes()).unwrap_err());
        assert!(e("t\n").contains("no atom count"));
        assert!(e("t\nabc\n").contains("line 2: expected the atom count, found \"abc\""));
        assert!(e("t\n3\n    1ALA      N    1\n").contains("announces 3 atoms"));
        assert!(e("t\n1\n    xALA      N    1\n").starts_with("line 3: cannot read"));
        assert!(e("t\n1\n    1ALA           1\n").contains("missing atom name"));
        assert!(e("t\n-1\n").contains("expected the atom count"));
    }

    #[test]
    fn fuzz_never_panics() {
        super::super::fuzz::fuzz(GRO.as_bytes(), parse);
    }
}
