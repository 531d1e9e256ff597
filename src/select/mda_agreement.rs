//! Agreement with MDAnalysis 2.11 on the fixtures in `tests/data/` (made by
//! `make_fixtures.py`): every `select_atoms` case of `selections.json` (count, first,
//! last, Σ idx, Σ idx²), the PSF atoms, masses and charges of `expected.json`, and the
//! groups of `index.ndx`.

use super::{select, select_allow_empty};
use crate::topology::ndx::read_ndx;
use crate::topology::Topology;
use serde_json::Value;

/// Fixture folder. In the final crate: `concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/")`.
const DATA_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/");

/// Parse a fixture JSON file.
fn json(name: &str) -> Value {
    let path = format!("{DATA_DIR}{name}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Read a fixture topology.
fn topology(name: &str) -> Topology {
    Topology::read(format!("{DATA_DIR}{name}")).unwrap_or_else(|e| panic!("{e:#}"))
}

/// (count, first, last, Σ, Σ²) of a sorted index list, as in `selections.json`.
fn summary(idx: &[usize]) -> (u64, Option<u64>, Option<u64>, u64, u64) {
    let v: Vec<u64> = idx.iter().map(|&i| i as u64).collect();
    (
        v.len() as u64,
        v.first().copied(),
        v.last().copied(),
        v.iter().sum(),
        v.iter().map(|i| i * i).sum(),
    )
}

/// The same summary as recorded in a JSON case.
fn recorded(case: &Value) -> (u64, Option<u64>, Option<u64>, u64, u64) {
    let n = |k: &str| case[k].as_u64();
    (
        n("count").unwrap(),
        n("first"),
        n("last"),
        n("sum").unwrap(),
        n("sumsq").unwrap(),
    )
}

#[test]
fn every_selection_case_agrees_with_mdanalysis() {
    let data = json("selections.json");
    let cases = data["cases"].as_array().expect("cases");
    assert!(cases.len() >= 100, "only {} cases", cases.len());
    let mut tops = std::collections::HashMap::new();
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in cases {
        let file = case["topology"].as_str().unwrap();
        let expr = case["expr"].as_str().unwrap();
        // The PSF cases also run on the same topology in classic columns.
        let files: &[&str] = if file == "top.psf" {
            &[file, "top_classic.psf"]
        } else {
            &[file]
        };
        for &f in files {
            let top = tops.entry(f).or_insert_with(|| topology(f));
            let mut check = |expr: &str, want| match select_allow_empty(top, expr) {
                Ok(idx) if summary(&idx) == want => checked += 1,
                Ok(idx) => failures.push(format!(
                    "{f} {expr:?}: got {:?} want {want:?}",
                    summary(&idx)
                )),
                Err(e) => failures.push(format!("{f} {expr:?}: error {e}")),
            };
            check(expr, recorded(case));
            if let Some(spec) = case["spec_expr"].as_str() {
                check(spec, recorded(&case["spec_result"]));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} failed:\n{}",
        failures.len(),
        checked,
        failures.join("\n")
    );
    eprintln!("MDAnalysis agreement: {checked} selections checked");
}

#[test]
fn empty_cases_are_errors_in_select() {
    let top = topology("top.psf");
    let err = select(&top, "name XYZ").unwrap_err().to_string();
    assert_eq!(err, "selection 'name XYZ' matches no atom");
}

#[test]
fn psf_atoms_masses_charges_agree() {
    let files = &json("expected.json")["files"];
    for name in ["top.psf", "top_classic.psf"] {
        let want = &files[name];
        let top = topology(name);
        assert_eq!(
            top.n_atoms() as u64,
            want["n_atoms"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            top.bonds.len() as u64,
            want["n_bonds"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(top.masses_guessed, 0);
        let total = want["total_mass"].as_f64().unwrap();
        assert!(
            (top.total_mass() - total).abs() < 1e-3,
            "{name}: {} vs {total}",
            top.total_mass()
        );
        let charge: f64 = top.atoms.iter().map(|a| a.charge).sum();
        assert!(
            (charge - want["total_charge"].as_f64().unwrap()).abs() < 1e-4,
            "{name}"
        );
        for (i, w) in want["atoms"].as_object().unwrap() {
            let a = &top.atoms[i.parse::<usize>().unwrap()];
            assert_eq!(a.name, w["name"].as_str().unwrap(), "{name} atom {i}");
            assert_eq!(a.resname, w["resname"].as_str().unwrap(), "{name} atom {i}");
            assert_eq!(a.resid, w["resid"].as_i64().unwrap(), "{name} atom {i}");
            assert_eq!(a.segid, w["segid"].as_str().unwrap(), "{name} atom {i}");
            assert_eq!(a.atom_type, w["type"].as_str().unwrap(), "{name} atom {i}");
            assert!(
                (a.mass - w["mass"].as_f64().unwrap()).abs() < 1e-3,
                "{name} atom {i}"
            );
            assert!(
                (a.charge - w["charge"].as_f64().unwrap()).abs() < 1e-6,
                "{name} atom {i}"
            );
        }
        let bonds: Vec<(usize, usize)> = want["first_bonds_1based"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p[0].as_u64().unwrap() as usize - 1,
                    p[1].as_u64().unwrap() as usize - 1,
                )
            })
            .collect();
        assert_eq!(top.bonds[..bonds.len()], bonds[..], "{name}");
    }
}

#[test]
fn gro_and_pdb_topologies_read() {
    let files = &json("expected.json")["files"];
    for name in ["conf.gro", "multi.pdb"] {
        let top = topology(name);
        assert_eq!(
            top.n_atoms() as u64,
            files[name]["n_atoms"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            top.masses_guessed,
            if name == "conf.gro" { 176 } else { 0 },
            "{name}"
        );
        assert_eq!(top.masses_unknown, 0, "{name}");
        // Same atoms as the PSF, so the same total mass to ~1e-2 u (table vs CHARMM masses).
        assert!(
            (top.total_mass() - 1584.707).abs() < 0.05,
            "{name}: {}",
            top.total_mass()
        );
    }
    let pdb = topology("multi.pdb");
    let chains: std::collections::BTreeSet<&str> =
        pdb.atoms.iter().map(|a| a.chain.as_str()).collect();
    let want: Vec<&str> = files["multi.pdb"]["chainIDs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(chains.into_iter().collect::<Vec<_>>(), want);
}

#[test]
fn ndx_groups_agree() {
    let want = json("expected.json")["files"]["index.ndx"]["groups"].clone();
    let groups = read_ndx(format!("{DATA_DIR}index.ndx")).unwrap();
    let want = want.as_array().unwrap();
    assert_eq!(groups.len(), want.len());
    for ((name, idx), w) in groups.iter().zip(want) {
        assert_eq!(name, w["name"].as_str().unwrap());
        assert_eq!(idx.len() as u64, w["size"].as_u64().unwrap(), "{name}");
        assert_eq!(idx[0] as u64 + 1, w["first"].as_u64().unwrap(), "{name}");
        assert_eq!(
            *idx.last().unwrap() as u64 + 1,
            w["last"].as_u64().unwrap(),
            "{name}"
        );
    }
    let side = crate::topology::ndx::find_group(&groups, "Side Chain").unwrap();
    assert_eq!(side.len(), 40);
}
