//! Topologies: the atoms of a system (names, residues, elements, masses) read from a PSF,
//! PDB or GRO file the way MDAnalysis reads them, so that selections and masses agree
//! with MDAnalysis. Readers take bytes and return `Result`; they never panic.

#[cfg(test)]
#[cfg(test)]
pub(crate) mod fuzz;
pub(crate) mod gro;
pub(crate) mod masses;
pub(crate) mod ndx;
pub(crate) mod pdb;
pub(crate) mod psf;
pub mod residues;
pub(crate) mod text;

use anyhow::{bail, Context};
use std::collections::HashMap;
use std::path::Path;

/// One atom, with the attributes MDAnalysis selections use.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Atom {
    /// Atom name (`CA`, `OW`), trimmed.
    pub name: String,
    /// Atom type (PSF type; PDB: the element column as written, else guessed; GRO: guessed
    /// as MDAnalysis does — the element type guessed from the name, upper case).
    pub atom_type: String,
    /// Element symbol, capitalised (`C`, `Na`); empty when unknown. PDB: the element column
    /// when the file has one; otherwise guessed from the name (MDAnalysis leaves it unset).
    pub element: String,
    /// Residue name (`ALA`, `SOL`), trimmed.
    pub resname: String,
    /// Residue number as in the file (MDAnalysis `resid`; also used for `resnum`).
    pub resid: i64,
    /// PDB insertion code (column 27), empty if none.
    pub icode: String,
    /// Segment id as MDAnalysis has it: PSF segid, PDB columns 67-76 (else the chain id),
    /// `SYSTEM` when the file gives none.
    pub segid: String,
    /// PDB chain id (empty if none).
    pub chain: String,
    /// PDB alternate location indicator (empty if none).
    pub altloc: String,
    /// Mass in u, when the file gives it (PSF) or it was derived (see `masses_guessed`).
    pub mass: f64,
    /// Partial charge (PSF), else 0.
    pub charge: f64,
}

/// The atoms of a system, in file order, and what the topology file said about them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Topology {
    /// Where it came from (path as given), for messages.
    pub source: String,
    /// The atoms, in file order.
    pub atoms: Vec<Atom>,
    /// Bonds as 0-based atom index pairs (PSF; empty otherwise).
    pub bonds: Vec<(usize, usize)>,
    /// How many masses were guessed from atom names (0 when the file gave every mass);
    /// the caller prints one warning with this count.
    pub masses_guessed: usize,
    /// How many of the guessed or element-derived masses are unknown and set to 0 (as
    /// MDAnalysis does); the caller may warn about them.
    pub masses_unknown: usize,
    /// Whether the format carries insertion codes (PDB), which changes how `resid` matches.
    pub has_icodes: bool,
}

/// The error of an option that needs a topology when none was given: `what` is the option
/// (`--select`, `--per residue`, …).
pub fn needs_topology(what: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{what} needs a topology: give --top FILE (PSF, PDB or GRO), or a PDB/GRO input"
    )
}

/// The topology formats we read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TopologyFormat {
    /// CHARMM/NAMD/X-PLOR protein structure file.
    Psf,
    /// Protein Data Bank (first model).
    Pdb,
    /// GROMACS structure (first frame).
    Gro,
}

impl TopologyFormat {
    /// The format a path's extension names (case-insensitive), or an error naming it.
    pub fn from_path(path: &Path) -> anyhow::Result<Self> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            "psf" => Ok(Self::Psf),
            "pdb" | "ent" => Ok(Self::Pdb),
            "gro" => Ok(Self::Gro),
            _ => bail!(
                "cannot tell the topology format from the extension {} (expected .psf, .pdb or .gro)",
                text::quote(&ext)
            ),
        }
    }
}

impl Topology {
    /// Read a topology file, the format chosen by its extension (`.psf`, `.pdb`, `.gro`).
    /// Errors name the file: `topology conf.gro: line 5: …`.
    pub fn read(path: impl AsRef<Path>) -> anyhow::Result<Topology> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let run = || -> anyhow::Result<Topology> {
            let format = TopologyFormat::from_path(path)?;
            let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read it: {e}"))?;
            Topology::parse(&bytes, format, &shown)
        };
        run().with_context(|| format!("topology {shown}"))
    }

    /// Parse topology bytes of a known format; `source` is kept for messages.
    pub fn parse(bytes: &[u8], format: TopologyFormat, source: &str) -> anyhow::Result<Topology> {
        let mut top = match format {
            TopologyFormat::Psf => psf::parse(bytes)?,
            TopologyFormat::Pdb => pdb::parse(bytes)?,
            TopologyFormat::Gro => gro::parse(bytes)?,
        };
        top.source = source.to_string();
        Ok(top)
    }

    /// The atoms `keep` (ascending, in range) and the bonds between them, renumbered.
    pub fn subset(&self, keep: &[usize]) -> Topology {
        let mut new_index = vec![usize::MAX; self.atoms.len()];
        for (n, &i) in keep.iter().enumerate() {
            new_index[i] = n;
        }
        let bonds = self
            .bonds
            .iter()
            .filter_map(|&(a, b)| {
                let (a, b) = (*new_index.get(a)?, *new_index.get(b)?);
                (a != usize::MAX && b != usize::MAX).then_some((a, b))
            })
            .collect();
        let guessed = self.masses_guessed.min(keep.len());
        Topology {
            atoms: keep.iter().map(|&i| self.atoms[i].clone()).collect(),
            bonds,
            masses_guessed: guessed,
            ..self.clone()
        }
    }

    /// Number of atoms.
    pub fn n_atoms(&self) -> usize {
        self.atoms.len()
    }

    /// Sum of the atoms' masses.
    pub fn total_mass(&self) -> f64 {
        self.atoms.iter().map(|a| a.mass).sum()
    }

    /// Fill what the file did not give, as MDAnalysis's default guesser does: an empty type
    /// becomes the element type guessed from the name; an empty element the guessed type if
    /// it is an element. When `masses_given` is false, masses come from the element (if the
    /// file gave one), else from the guessed type (counted in `masses_guessed`); unknown
    /// masses are 0 and counted in `masses_unknown`.
    pub(crate) fn fill_guessed(&mut self, masses_given: bool) {
        // Guesses depend on the name alone: compute each distinct name once.
        let mut by_name: HashMap<String, Guess> = HashMap::new();
        for atom in &mut self.atoms {
            if !by_name.contains_key(&atom.name) {
                by_name.insert(atom.name.clone(), Guess::new(&atom.name));
            }
            let Some(guess) = by_name.get(&atom.name) else {
                continue;
            };
            if !masses_given {
                let mass = if atom.element.is_empty() {
                    self.masses_guessed += 1;
                    guess.mass
                } else {
                    masses::mass_of(&atom.element)
                };
                if mass.is_none() {
                    self.masses_unknown += 1;
                }
                atom.mass = mass.unwrap_or(0.0);
            }
            if atom.element.is_empty() {
                atom.element = guess.element.to_string();
            }
            if atom.atom_type.is_empty() {
                atom.atom_type = guess.atom_type.clone();
            }
        }
    }
}

/// What MDAnalysis's guesser derives from an atom name.
struct Guess {
    /// The guessed element type (`C`, `CL`, `DUMMY`), MDAnalysis's guessed atom type.
    atom_type: String,
    /// That type as an element symbol (`Cl`), or empty.
    element: &'static str,
    /// Mass of the type, if known.
    mass: Option<f64>,
}

impl Guess {
    /// Guess from `name`.
    fn new(name: &str) -> Guess {
        let atom_type = masses::guess_atom_element(name);
        Guess {
            element: masses::element_symbol(&atom_type).unwrap_or(""),
            mass: masses::mass_of(&atom_type),
            atom_type,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_from_extension() {
        assert_eq!(
            TopologyFormat::from_path(Path::new("a.PSF")).unwrap(),
            TopologyFormat::Psf
        );
        assert_eq!(
            TopologyFormat::from_path(Path::new("a.pdb")).unwrap(),
            TopologyFormat::Pdb
        );
        assert_eq!(
            TopologyFormat::from_path(Path::new("x/a.gro")).unwrap(),
            TopologyFormat::Gro
        );
        let err = TopologyFormat::from_path(Path::new("a.xyz"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"xyz\""), "{err}");
    }

    #[test]
    fn read_missing_file_names_it() {
        let err = Topology::read("/nonexistent/dir/top.gro").unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.starts_with("topology /nonexistent/dir/top.gro: cannot read it"),
            "{msg}"
        );
        assert!(!msg.contains('\n'));
    }

    #[test]
    fn guessing_fills_types_elements_masses() {
        let mut top = Topology {
            atoms: ["CA", "OW", "XX1", "CAL"]
                .iter()
                .map(|n| Atom {
                    name: n.to_string(),
                    ..Atom::default()
                })
                .collect(),
            ..Topology::default()
        };
        top.fill_guessed(false);
        let types: Vec<_> = top.atoms.iter().map(|a| a.atom_type.as_str()).collect();
        assert_eq!(types, ["C", "O", "X", "CA"]);
        let elements: Vec<_> = top.atoms.iter().map(|a| a.element.as_str()).collect();
        assert_eq!(elements, ["C", "O", "", "Ca"]);
        assert_eq!(top.masses_guessed, 4);
        assert_eq!(top.masses_unknown, 1);
        assert!((top.total_mass() - (12.011 + 15.999 + 40.08)).abs() < 1e-9);
    }
}
