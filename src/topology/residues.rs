//! Residues and chains of a topology, for the reports: runs of consecutive atoms that share a
//! segment, chain, residue number, insertion code and residue name are one residue (what
//! MDAnalysis calls a residue for files written residue by residue, as MD files are).

use super::Topology;

/// One residue: a run of consecutive atoms.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Residue {
    /// Residue name (`ALA`).
    pub resname: String,
    /// Residue number as in the file.
    pub resid: i64,
    /// Segment id (PSF segid, PDB segment or chain, `SYSTEM` when none).
    pub segid: String,
    /// PDB chain id (empty if none).
    pub chain: String,
    /// The first atom (0-based).
    pub first: usize,
    /// Number of atoms.
    pub atoms: usize,
    /// A protein or nucleic-acid residue (MDAnalysis's `protein or nucleic`): a link of a
    /// polymer chain.
    #[serde(skip)]
    pub polymer: bool,
}

impl Residue {
    /// A short label for axes and CSV headers: `ALA12`, with the chain when there is one
    /// (`A:ALA12`).
    pub fn label(&self) -> String {
        if self.chain.is_empty() {
            format!("{}{}", self.resname, self.resid)
        } else {
            format!("{}:{}{}", self.chain, self.resname, self.resid)
        }
    }
}

impl Residue {
    /// The residue number alone (`12`, or `A:12` with a chain): axis ticks.
    pub fn short_label(&self) -> String {
        if self.chain.is_empty() {
            self.resid.to_string()
        } else {
            format!("{}:{}", self.chain, self.resid)
        }
    }
}

/// The residues of a topology and which residue each atom is in.
#[derive(Clone, Debug, Default)]
pub struct Residues {
    /// In file order.
    pub list: Vec<Residue>,
    /// `of_atom[i]`: index into `list` of atom i's residue.
    pub of_atom: Vec<usize>,
}

impl Residues {
    /// Splits `top`'s atoms into residues.
    pub fn of(top: &Topology) -> Residues {
        let mut list: Vec<Residue> = Vec::new();
        let mut of_atom = Vec::with_capacity(top.atoms.len());
        for (i, a) in top.atoms.iter().enumerate() {
            let same = list.last().is_some_and(|r| {
                let p = &top.atoms[i - 1];
                r.resid == a.resid
                    && p.icode == a.icode
                    && r.resname == a.resname
                    && r.segid == a.segid
                    && r.chain == a.chain
            });
            if same {
                if let Some(r) = list.last_mut() {
                    r.atoms += 1;
                }
            } else {
                list.push(Residue {
                    resname: a.resname.clone(),
                    resid: a.resid,
                    segid: a.segid.clone(),
                    chain: a.chain.clone(),
                    first: i,
                    atoms: 1,
                    polymer: false,
                });
            }
            of_atom.push(list.len() - 1);
        }
        let polymer =
            crate::select::select_allow_empty(top, "protein or nucleic").unwrap_or_default();
        for i in polymer {
            list[of_atom[i]].polymer = true;
        }
        Residues { list, of_atom }
    }

    /// Whether atoms `a` and `b` are neighbours along a chain: in the same residue, or in
    /// adjacent polymer (protein, nucleic) residues of one chain and segment — the pairs an
    /// overlay joins with a line (a CA trace; never water to water).
    pub fn bonded_in_chain(&self, a: usize, b: usize) -> bool {
        let (ra, rb) = (self.of_atom[a], self.of_atom[b]);
        let (x, y) = (&self.list[ra], &self.list[rb]);
        ra == rb
            || (ra.abs_diff(rb) == 1
                && x.polymer
                && y.polymer
                && x.segid == y.segid
                && x.chain == y.chain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::{Topology, TopologyFormat};

    #[test]
    fn residues_are_runs_and_chains_break_lines() {
        // Two residues of chain A, then one of chain B and a water: counted by hand from the
        // PDB text below.
        let pdb = "\
ATOM      1  N   ALA A   1       0.000   0.000   0.000  1.00  0.00           N
ATOM      2  CA  ALA A   1       1.000   0.000   0.000  1.00  0.00           C
ATOM      3  N   GLY A   2       2.000   0.000   0.000  1.00  0.00           N
ATOM      4  CA  GLY A   2       3.000   0.000   0.000  1.00  0.00           C
ATOM      5  CA  GLY B   3       4.000   0.000   0.000  1.00  0.00           C
HETATM    6  O   HOH W   1       5.000   0.000   0.000  1.00  0.00           O
END
";
        let top = Topology::parse(pdb.as_bytes(), TopologyFormat::Pdb, "t.pdb").unwrap();
        let r = Residues::of(&top);
        assert_eq!(r.list.len(), 4);
        assert_eq!(r.of_atom, vec![0, 0, 1, 1, 2, 3]);
        assert_eq!(r.list[1].label(), "A:GLY2");
        assert_eq!(r.list[1].short_label(), "A:2");
        assert_eq!((r.list[1].first, r.list[1].atoms), (2, 2));
        assert!(r.bonded_in_chain(1, 3)); // CA of residue 1 to CA of residue 2, chain A
        assert!(!r.bonded_in_chain(3, 4)); // chain A to chain B
        assert!(!r.bonded_in_chain(4, 5));
        assert!(r.bonded_in_chain(0, 1)); // same residue
        assert!(r.list[0].polymer && !r.list[3].polymer); // ALA yes, HOH no
    }
}
