//! PDB topology reader: the ATOM/HETATM records of the first model, read column by column
//! as MDAnalysis's `PDBParser` reads them (line stripped first, reading stops at the first
//! line starting with `END`, 4-digit resids unwrapped, segid from columns 67-76 or else
//! the chain id, element column validated against the periodic table).

use super::masses::element_symbol;
use super::text::{col, lines, py_int, py_strip};
use super::{Atom, Topology};
use anyhow::bail;

/// Residue numbers that drop by more than this are taken as a 4-digit wrap (MDAnalysis).
const WRAP_DROP: i64 = 5000;
/// What a wrapped residue number gains per wrap.
const WRAP_STEP: i64 = 10000;

/// Parse PDB bytes into a topology (masses from the element column, else guessed).
pub(crate) fn parse(bytes: &[u8]) -> anyhow::Result<Topology> {
    let mut atoms = Vec::new();
    let mut raw_elements = Vec::new();
    let mut segids = Vec::new();
    let mut resid_prev: i64 = 0;
    for raw in lines(bytes) {
        let line = py_strip(&raw);
        if line.starts_with("END") {
            break;
        }
        if !(line.starts_with("ATOM") || line.starts_with("HETATM")) {
            continue;
        }
        let field = |a, b| py_strip(col(line, a, b)).to_string();
        let resid = match py_int(col(line, 22, 26)) {
            Some(r) => {
                let r = unwrap_resid(r, resid_prev);
                resid_prev = r;
                r
            }
            None => 1,
        };
        atoms.push(Atom {
            name: field(12, 16),
            altloc: field(16, 17),
            resname: field(17, 21),
            chain: field(21, 22),
            resid,
            icode: field(26, 27),
            ..Atom::default()
        });
        raw_elements.push(field(76, 78));
        segids.push(field(66, 76));
    }
    if atoms.is_empty() {
        bail!("no ATOM or HETATM record before the first END");
    }
    assign_segids(&mut atoms, segids);
    if raw_elements.iter().any(|e| !e.is_empty()) {
        for (atom, raw) in atoms.iter_mut().zip(raw_elements) {
            atom.element = element_symbol(&raw).unwrap_or("").to_string();
            atom.atom_type = raw;
        }
    }
    let mut top = Topology {
        atoms,
        has_icodes: true,
        ..Topology::default()
    };
    top.fill_guessed(false);
    Ok(top)
}

/// MDAnalysis's resid wrap: while the number drops by more than 5000 from the previous
/// one, add 10000 (done in one step, so a hostile file cannot make it loop long).
fn unwrap_resid(resid: i64, prev: i64) -> i64 {
    let drop = prev.saturating_sub(resid);
    if drop <= WRAP_DROP {
        return resid;
    }
    let wraps = (drop - WRAP_DROP - 1) / WRAP_STEP + 1;
    resid.saturating_add(wraps.saturating_mul(WRAP_STEP))
}

/// Segment ids as MDAnalysis sets them: the segid columns; if all are blank, the chain ids;
/// if those are blank too, `SYSTEM`.
fn assign_segids(atoms: &mut [Atom], mut segids: Vec<String>) {
    if segids.iter().all(String::is_empty) {
        segids = atoms.iter().map(|a| a.chain.clone()).collect();
    }
    let none = segids.iter().all(String::is_empty);
    for (atom, seg) in atoms.iter_mut().zip(segids) {
        atom.segid = if none { "SYSTEM".to_string() } else { seg };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDB: &str = "\
REMARK  test
CRYST1   10.000   10.000   10.000  90.00  90.00  90.00 P 1           1
MODEL        1
ATOM      1  N   ALA A   1       0.000   0.000   0.000  1.00  0.00      PROA N
ATOM      2  CA  ALA A   1       1.000   0.000   0.000  1.00  0.00      PROA C
ATOM      3 CL   ALA A   2A      1.000   0.000   0.000  1.00  0.00      PROACL
HETATM    4  O   HOH B 900       2.000   0.000   0.000  1.00  0.00      WAT  O
HETATM    5 ZZ   UNK B 901       2.000   0.000   0.000  1.00  0.00      WAT Xx
ENDMDL
MODEL        2
ATOM      1  N   ALA A   1       0.000   0.000   0.000  1.00  0.00      PROA N
ENDMDL
";

    #[test]
    fn reads_first_model_with_chains_segids_elements() {
        let top = parse(PDB.as_bytes()).unwrap();
        assert_eq!(top.n_atoms(), 5);
        let a = &top.atoms;
        assert_eq!(
            (a[1].name.as_str(), a[1].resname.as_str(), a[1].resid),
            ("CA", "ALA", 1)
        );
        assert_eq!(
            (
                a[2].name.as_str(),
                a[2].icode.as_str(),
                a[2].element.as_str()
            ),
            ("CL", "A", "Cl")
        );
        assert_eq!(
            (a[3].chain.as_str(), a[3].segid.as_str(), a[3].resid),
            ("B", "WAT", 900)
        );
        assert_eq!((a[4].element.as_str(), a[4].atom_type.as_str()), ("", "Xx"));
        assert_eq!(a[2].atom_type, "CL");
        assert!((a[1].mass - 12.011).abs() < 1e-9);
        assert!((a[2].mass - 35.45).abs() < 1e-9);
        assert_eq!(top.masses_guessed, 1);
        assert!(top.has_icodes);
    }

    #[test]
    fn segid_falls_back_to_chain_then_system() {
        let chain_only = "ATOM      1  CA  GLY X   1       0.000   0.000   0.000\n";
        let top = parse(chain_only.as_bytes()).unwrap();
        assert_eq!(top.atoms[0].segid, "X");
        assert_eq!(top.atoms[0].element, "C");
        assert_eq!(top.masses_guessed, 1);
        let bare = "ATOM      1  CA  GLY     1       0.000   0.000   0.000\n";
        assert_eq!(parse(bare.as_bytes()).unwrap().atoms[0].segid, "SYSTEM");
    }

    #[test]
    fn resids_wrap_and_default() {
        let mk = |r: &str| format!("ATOM      1  CA  GLY A{r}       0.000   0.000   0.000\n");
        let text = [mk("9998"), mk("9999"), mk("   0"), mk("   1"), mk("abcd")].concat();
        let top = parse(text.as_bytes()).unwrap();
        let resids: Vec<_> = top.atoms.iter().map(|a| a.resid).collect();
        assert_eq!(resids, [9998, 9999, 10000, 10001, 1]);
        assert_eq!(unwrap_resid(0, 25001), 30000);
        assert_eq!(unwrap_resid(0, 5000), 0);
        assert_eq!(unwrap_resid(0, 5001), 10000);
    }

    #[test]
    fn empty_or_garbage_is_an_error() {
        assert!(parse(b"").is_err());
        assert!(parse(b"END\nATOM      1  CA  GLY A   1\n").is_err());
        assert!(parse(b"\xff\xfe\x00ATOM").is_err());
    }

    #[test]
    fn fuzz_never_panics() {
        super::super::fuzz::fuzz(PDB.as_bytes(), parse);
    }
}
