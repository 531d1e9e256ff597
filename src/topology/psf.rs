//! PSF topology reader (CHARMM standard and EXT, NAMD/X-PLOR): the `!NATOM` section (id,
//! segid, resid, resname, name, type, charge, mass) and the `!NBOND` pairs; the other
//! sections are ignored. Fields are read as MDAnalysis's `PSFParser` reads them: standard
//! files by fixed columns, falling back to whitespace splitting for the rest of the file
//! at the first line the columns do not fit; EXT and NAMD files by whitespace splitting
//! (MDAnalysis's EXT columns fail on real EXT files and it falls back to splitting too).

use super::text::{col, lines, py_float, py_int, py_split, py_strip, quote};
use super::{Atom, Topology};
use anyhow::{bail, Context};
use std::borrow::Cow;

/// How the atom lines are cut into fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// CHARMM standard: `(I8,1X,A4,1X,A4,1X,A4,1X,A4,1X,A4,1X,2G14.6)`.
    Columns,
    /// Whitespace-separated fields (EXT, NAMD, or after the columns failed).
    Split,
}

/// A cursor over the lines of the file, counting 1-based line numbers for messages.
struct Lines<'a> {
    /// The file's lines.
    lines: Vec<Cow<'a, str>>,
    /// Index of the next line to read (so also the 1-based number of the last one read).
    pos: usize,
}

impl<'a> Lines<'a> {
    /// The next line, if any.
    fn next(&mut self) -> Option<&str> {
        let line = self.lines.get(self.pos)?;
        self.pos += 1;
        Some(line)
    }

    /// The next non-blank line and its 1-based number.
    fn next_nonblank(&mut self) -> Option<(usize, String)> {
        while let Some(line) = self.next() {
            if !py_strip(line).is_empty() {
                let line = line.to_string();
                return Some((self.pos, line));
            }
        }
        None
    }

    /// Lines not read yet.
    fn remaining(&self) -> usize {
        self.lines.len() - self.pos
    }
}

/// Parse PSF bytes into a topology (masses as the file gives them).
pub(crate) fn parse(bytes: &[u8]) -> anyhow::Result<Topology> {
    let mut cur = Lines {
        lines: lines(bytes),
        pos: 0,
    };
    let header = cur.next().unwrap_or("").to_string();
    if !header.starts_with("PSF") {
        bail!("not a PSF file: line 1 is {}", quote(&header));
    }
    let flags: Vec<&str> = py_split(col(&header, 3, usize::MAX)).collect();
    let layout = if flags.contains(&"NAMD") || flags.contains(&"EXT") {
        Layout::Split
    } else {
        Layout::Columns
    };
    let ntitle = section(&mut cur, "NTITLE", 1)?;
    for _ in 0..ntitle {
        cur.next();
    }
    let natom = section(&mut cur, "NATOM", 1)?;
    if natom == 0 {
        bail!("the !NATOM section has no atoms");
    }
    let atoms = parse_atoms(&mut cur, natom, layout)?;
    let bonds = parse_bonds(&mut cur, atoms.len())?;
    Ok(Topology {
        atoms,
        bonds,
        ..Topology::default()
    }
    .with_elements())
}

impl Topology {
    /// PSF files give masses but no elements: guess elements and nothing else.
    fn with_elements(mut self) -> Self {
        self.fill_guessed(true);
        self
    }
}

/// Read a section header `N !NAME` (blank lines skipped) and return N, checked to fit in
/// the lines left at `per_line` entries a line.
fn section(cur: &mut Lines, name: &str, per_line: usize) -> anyhow::Result<usize> {
    let Some((lineno, line)) = cur.next_nonblank() else {
        bail!("the file ends before the !{name} section");
    };
    let fields: Vec<&str> = py_split(&line).collect();
    let found = fields
        .get(1)
        .map(|f| f.trim_matches(|c| c == '!' || c == ':'));
    if found != Some(name) {
        bail!(
            "line {lineno}: expected the !{name} section, found {}",
            quote(&line)
        );
    }
    let count = py_float(fields[0])
        .filter(|c| c.is_finite() && *c >= 0.0 && c.fract() == 0.0)
        .with_context(|| format!("line {lineno}: bad !{name} count {}", quote(fields[0])))?;
    let lines_needed = (count / per_line as f64).ceil();
    if lines_needed > cur.remaining() as f64 {
        bail!(
            "line {lineno}: !{name} announces {count} entries but only {} lines follow",
            cur.remaining()
        );
    }
    Ok(count as usize)
}

/// The `natom` atom lines after `!NATOM`.
fn parse_atoms(cur: &mut Lines, natom: usize, mut layout: Layout) -> anyhow::Result<Vec<Atom>> {
    let mut atoms = Vec::with_capacity(natom);
    for _ in 0..natom {
        let line = cur.next().unwrap_or("").to_string();
        let lineno = cur.pos;
        let atom = match layout {
            Layout::Columns => atom_from_columns(&line).or_else(|| {
                layout = Layout::Split;
                atom_from_fields(&line)
            }),
            Layout::Split => atom_from_fields(&line),
        };
        let atom = atom.with_context(|| {
            format!(
                "line {lineno}: cannot read the atom record {}",
                quote(&line)
            )
        })?;
        if !(atom.mass.is_finite() && atom.mass >= 0.0 && atom.charge.is_finite()) {
            bail!("line {lineno}: bad mass or charge in {}", quote(&line));
        }
        atoms.push(atom);
    }
    Ok(atoms)
}

/// An atom from the standard fixed columns; `None` when a number does not parse.
fn atom_from_columns(line: &str) -> Option<Atom> {
    py_int(col(line, 0, 8))?;
    let text = |a, b| py_strip(col(line, a, b)).to_string();
    Some(with_system_segid(Atom {
        segid: text(9, 13),
        resid: atoi(col(line, 14, 18)),
        resname: text(19, 23),
        name: text(24, 28),
        atom_type: text(29, 33),
        charge: py_float(col(line, 34, 48))?,
        mass: py_float(col(line, 48, 62))?,
        ..Atom::default()
    }))
}

/// An atom from the first eight whitespace-separated fields; `None` if they do not fit.
fn atom_from_fields(line: &str) -> Option<Atom> {
    let f: Vec<&str> = py_split(line).take(8).collect();
    if f.len() < 8 {
        return None;
    }
    py_int(f[0])?;
    Some(with_system_segid(Atom {
        segid: f[1].to_string(),
        resid: atoi(f[2]),
        resname: f[3].to_string(),
        name: f[4].to_string(),
        atom_type: f[5].to_string(),
        charge: py_float(f[6])?,
        mass: py_float(f[7])?,
        ..Atom::default()
    }))
}

/// A blank segid is `SYSTEM`, as in MDAnalysis.
fn with_system_segid(mut atom: Atom) -> Atom {
    if atom.segid.is_empty() {
        atom.segid = "SYSTEM".to_string();
    }
    atom
}

/// MDAnalysis's `atoi`: the leading digits of the stripped text as a number, else 0
/// (so `12A` is 12 and `-5` is 0).
fn atoi(s: &str) -> i64 {
    let digits: String = py_strip(s)
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap_or(0)
}

/// The optional `!NBOND` section that follows the atoms: pairs of 1-based atom numbers.
fn parse_bonds(cur: &mut Lines, n_atoms: usize) -> anyhow::Result<Vec<(usize, usize)>> {
    let save = cur.pos;
    let Some((_, line)) = cur.next_nonblank() else {
        return Ok(Vec::new());
    };
    cur.pos = save;
    if py_split(&line)
        .nth(1)
        .map(|f| f.trim_matches(|c| c == '!' || c == ':'))
        != Some("NBOND")
    {
        return Ok(Vec::new());
    }
    let nbond = section(cur, "NBOND", 4)?;
    let mut numbers = Vec::with_capacity(nbond.saturating_mul(2));
    while numbers.len() < nbond.saturating_mul(2) {
        let Some(line) = cur.next().map(str::to_string) else {
            bail!("the file ends inside the !NBOND section");
        };
        for field in py_split(&line) {
            let n = py_int(field)
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| (1..=n_atoms).contains(n))
                .with_context(|| {
                    format!(
                        "line {}: bad atom number {} in !NBOND",
                        cur.pos,
                        quote(field)
                    )
                })?;
            numbers.push(n - 1);
        }
    }
    if numbers.len() != nbond * 2 {
        bail!(
            "line {}: !NBOND has {} atom numbers, expected {}",
            cur.pos,
            numbers.len(),
            nbond * 2
        );
    }
    Ok(numbers.chunks_exact(2).map(|p| (p[0], p[1])).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STANDARD: &str = "PSF CMAP

       1 !NTITLE
 REMARKS test

       4 !NATOM
       1 PROA 1    ALA  N    NH3   -0.300000       14.0070           0
       2 PROA 1    ALA  CA   CT1    0.210000       12.0110           0
       3 PROA 12A  ALA  HA   HB1    0.100000        1.0080           0
       4      2    TIP3 OH2  OT    -0.834000       15.9994           0

       3 !NBOND: bonds
       1       2       2       3
       1       4

       0 !NTHETA: angles
";

    const EXT: &str = "PSF EXT CMAP XPLOR

         1 !NTITLE
 REMARKS ext

         2 !NATOM
         1 PROA     1        MET      N        NH3     -0.300000       14.0070           0
         2 PROA     1        MET      CA       CG2R61   0.210000       12.0110           0

         1 !NBOND: bonds
         1         2
";

    #[test]
    fn standard_psf() {
        let top = parse(STANDARD.as_bytes()).unwrap();
        assert_eq!(top.n_atoms(), 4);
        let a = &top.atoms;
        assert_eq!(
            (
                a[0].segid.as_str(),
                a[0].name.as_str(),
                a[0].atom_type.as_str()
            ),
            ("PROA", "N", "NH3")
        );
        assert_eq!((a[2].resid, a[2].name.as_str()), (12, "HA"));
        assert_eq!(
            (a[3].segid.as_str(), a[3].resname.as_str(), a[3].resid),
            ("SYSTEM", "TIP3", 2)
        );
        assert!((a[3].charge + 0.834).abs() < 1e-12 && (a[3].mass - 15.9994).abs() < 1e-12);
        assert_eq!(a[1].element, "C");
        assert_eq!(top.bonds, vec![(0, 1), (1, 2), (0, 3)]);
        assert_eq!(top.masses_guessed, 0);
    }

    #[test]
    fn ext_psf() {
        let top = parse(EXT.as_bytes()).unwrap();
        assert_eq!(top.n_atoms(), 2);
        assert_eq!(top.atoms[1].atom_type, "CG2R61");
        assert!((top.atoms[1].mass - 12.011).abs() < 1e-12);
        assert_eq!(top.bonds, vec![(0, 1)]);
    }

    #[test]
    fn columns_fall_back_to_fields() {
        let text = "PSF\n\n 0 !NTITLE\n 2 !NATOM\n1 S 3 GLY N NH1 -0.4 14.007 0\n2 S 3 GLY CA CT2 0.1 12.011 0\n";
        let top = parse(text.as_bytes()).unwrap();
        assert_eq!((top.atoms[1].name.as_str(), top.atoms[1].resid), ("CA", 3));
        assert!(top.bonds.is_empty());
    }

    #[test]
    fn bad_psf_errors() {
        let e = |t: &str| format!("{:#}", parse(t.as_bytes()).unwrap_err());
        assert!(e("HELLO\n").contains("not a PSF file"));
        assert!(e("PSF\n\n 1 !NTITLE\n").contains("announces 1 entries"));
        assert!(e("PSF\n\n 0 !NTITLE\n").contains("before the !NATOM"));
        assert!(e("PSF\n\n 0 !NTITLE\n 1e18 !NATOM\n").contains("announces"));
        assert!(e("PSF\n\n 0 !NTITLE\n 1 !NATOM\nx\n")
            .contains("line 5: cannot read the atom record \"x\""));
        let bad_bond =
            "PSF\n\n 0 !NTITLE\n 1 !NATOM\n1 S 3 GLY N NH1 -0.4 14.007 0\n\n 1 !NBOND\n 1 9\n";
        assert!(e(bad_bond).contains("bad atom number \"9\""));
        let nan = "PSF\n\n 0 !NTITLE\n 1 !NATOM\n1 S 3 GLY N NH1 -0.4 nan 0\n";
        assert!(e(nan).contains("bad mass"));
    }

    #[test]
    fn fuzz_never_panics() {
        super::super::fuzz::fuzz(STANDARD.as_bytes(), parse);
        super::super::fuzz::fuzz(EXT.as_bytes(), parse);
    }
}
