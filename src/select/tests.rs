//! Selection tests on a small hand-built topology, and a crude fuzz of the whole path.

use super::*;
use crate::topology::fuzz::{assert_one_line, Rng};
use crate::topology::{Atom, Topology};

/// Ten atoms: an ALA and a GLY (PROA), a water (SOLV), a sodium ion, one PDB-style
/// residue 3 with insertion code A.
fn topology(icodes: bool) -> Topology {
    let rows = [
        ("N", "ALA", 1, "", "PROA", "N"),
        ("CA", "ALA", 1, "", "PROA", "C"),
        ("CB", "ALA", 1, "", "PROA", "C"),
        ("C", "ALA", 1, "", "PROA", "C"),
        ("O", "ALA", 1, "", "PROA", "O"),
        ("N", "GLY", 2, "", "PROA", "N"),
        ("CA", "GLY", 3, "A", "PROA", "C"),
        ("OH2", "TIP3", 10, "", "SOLV", "O"),
        ("H1", "TIP3", 10, "", "SOLV", "H"),
        ("SOD", "SOD", 20, "", "IONS", "Na"),
    ];
    let atoms = rows
        .iter()
        .map(|&(name, resname, resid, icode, segid, element)| Atom {
            name: name.into(),
            resname: resname.into(),
            resid,
            icode: icode.into(),
            segid: segid.into(),
            element: element.into(),
            atom_type: element.to_uppercase(),
            ..Atom::default()
        })
        .collect();
    Topology {
        atoms,
        has_icodes: icodes,
        ..Topology::default()
    }
}

fn sel(expr: &str) -> Vec<usize> {
    select_allow_empty(&topology(false), expr).unwrap_or_else(|e| panic!("{expr}: {e}"))
}

fn sel_pdb(expr: &str) -> Vec<usize> {
    select_allow_empty(&topology(true), expr).unwrap_or_else(|e| panic!("{expr}: {e}"))
}

#[test]
fn keywords() {
    assert_eq!(sel("all"), (0..10).collect::<Vec<_>>());
    assert_eq!(sel("name CA"), [1, 6]);
    assert_eq!(sel("name CA CB"), [1, 2, 6]);
    assert_eq!(sel("name C*"), [1, 2, 3, 6]);
    assert_eq!(sel("name ?"), [0, 3, 4, 5]);
    assert_eq!(sel("name [CN]"), [0, 3, 5]);
    assert_eq!(sel("resname TIP3 SOD"), [7, 8, 9]);
    assert_eq!(sel("resid 2:10"), [5, 6, 7, 8]);
    assert_eq!(sel("resid 2-3"), [5, 6]);
    assert_eq!(sel("resid 1 20"), [0, 1, 2, 3, 4, 9]);
    assert_eq!(sel("resnum 10 to 20"), [7, 8, 9]);
    assert_eq!(sel("index 0 9"), [0, 9]);
    assert_eq!(sel("index 2:4"), [2, 3, 4]);
    assert_eq!(sel("bynum 1:2"), [0, 1]);
    assert_eq!(sel("element Na"), [9]);
    assert_eq!(sel("type O"), [4, 7]);
    assert_eq!(sel("segid SOLV IONS"), [7, 8, 9]);
    assert_eq!(sel("protein"), [0, 1, 2, 3, 4, 5, 6]);
    assert_eq!(sel("backbone"), [0, 1, 3, 4, 5, 6]);
    assert_eq!(sel("nucleic"), Vec::<usize>::new());
}

#[test]
fn operators() {
    assert_eq!(sel("backbone and not name O"), [0, 1, 3, 5, 6]);
    assert_eq!(sel("not protein"), [7, 8, 9]);
    assert_eq!(sel("name CA or resname SOD"), [1, 6, 9]);
    // and/or: same precedence, left to right, as MDAnalysis.
    assert_eq!(sel("name N or name O and resid 1"), [0, 4]);
    assert_eq!(sel("name N or (name O and resid 1)"), [0, 4, 5]);
    assert_eq!(sel("not name N and protein"), [1, 2, 3, 4, 6]);
    assert_eq!(sel("not (name N and protein)"), [1, 2, 3, 4, 6, 7, 8, 9]);
    assert_eq!(sel("((all))"), (0..10).collect::<Vec<_>>());
    assert_eq!(sel("protein and (name CA or name CB) and resid 1"), [1, 2]);
}

#[test]
fn resid_with_insertion_codes() {
    assert_eq!(sel_pdb("resid 3"), Vec::<usize>::new());
    assert_eq!(sel_pdb("resid 3A"), [6]);
    assert_eq!(sel_pdb("resid 2:3"), [5]);
    assert_eq!(sel_pdb("resid 2:3A"), [5, 6]);
    assert_eq!(sel_pdb("resid 3:10"), [6, 7, 8]);
    assert_eq!(sel_pdb("resid 3A-3B"), [6]);
    assert_eq!(sel("resid 3"), [6]);
    let err = select(&topology(false), "name CA or resid 3A")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "'resid' has insertion codes but this topology has none (only PDB has them) at column 12"
    );
}

#[test]
fn empty_selection_is_an_error_in_select() {
    let top = topology(false);
    assert_eq!(
        select(&top, "name XX").unwrap_err().to_string(),
        "selection 'name XX' matches no atom"
    );
    assert_eq!(select(&top, "name CA").unwrap(), [1, 6]);
    assert!(select_allow_empty(&top, "name XX").unwrap().is_empty());
    let mask = select_mask(&top, "name SOD").unwrap();
    assert_eq!(mask.iter().filter(|&&m| m).count(), 1);
}

#[test]
fn error_columns() {
    let top = topology(false);
    let e = |s: &str| select(&top, s).unwrap_err().to_string();
    assert_eq!(
        e("resnam ALA"),
        "unknown keyword 'resnam' at column 1; did you mean 'resname'?"
    );
    assert_eq!(
        e("name CA and resid x"),
        "'resid' needs a number or range at column 19 (got 'x')"
    );
    assert_eq!(
        e("(name CA or name CB"),
        "unbalanced parenthesis at column 1"
    );
    assert_eq!(
        e("name CA or name CB))"),
        "unbalanced parenthesis at column 19"
    );
}

#[test]
fn index_file_lists() {
    assert_eq!(
        parse_index_file_list("0 1,2\n# c\n 5, 7 # x\n\n").unwrap(),
        [0, 1, 2, 5, 7]
    );
    assert_eq!(parse_index_file_list("3,3").unwrap(), [3, 3]);
    let err = parse_index_file_list("1\n2 x\n").unwrap_err().to_string();
    assert_eq!(err, "line 2: \"x\" is not a 0-based point index");
    assert!(parse_index_file_list("# only\n").is_err());
    assert!(parse_index_file_list("-1").is_err());
}

#[test]
fn fuzz_expressions_never_panic() {
    let top = topology(true);
    let words = [
        "name",
        "CA",
        "resid",
        "1:3",
        "3A",
        "-",
        ":",
        "to",
        "and",
        "or",
        "not",
        "(",
        ")",
        "all",
        "backbone",
        "protein",
        "index",
        "5-",
        "--2",
        "*",
        "[",
        "[!]",
        "é",
        "\u{0}",
        "resnum",
        "x",
        "element",
        "around",
        "9999999999999999999999",
        "segid",
        "bynum",
        "type",
        "?",
        "1 : ",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..20_000 {
        let n = rng.below(8);
        let expr: Vec<&str> = (0..n).map(|_| words[rng.below(words.len())]).collect();
        let expr = expr.join(if rng.below(2) == 0 { " " } else { "" });
        if let Err(e) = select_allow_empty(&top, &expr) {
            assert_one_line(&e.to_string(), expr.as_bytes());
        }
    }
    for _ in 0..2000 {
        let bytes: Vec<u8> = (0..rng.below(30)).map(|_| rng.next() as u8).collect();
        let expr = String::from_utf8_lossy(&bytes);
        if let Err(e) = select_allow_empty(&top, &expr) {
            assert_one_line(&e.to_string(), expr.as_bytes());
        }
        if let Err(e) = parse_index_file_list(&expr) {
            assert_one_line(&e.to_string(), expr.as_bytes());
        }
    }
}

#[test]
#[ignore = "timing check; run with --release --ignored --nocapture"]
fn big_topology_timing() {
    let n = 1_000_000;
    let names = ["N", "CA", "C", "O", "CB", "HA"];
    let mut gro = format!("big\n{n}\n");
    for i in 0..n {
        let (resid, name, num) = ((i / 6 + 1) % 100_000, names[i % 6], (i + 1) % 100_000);
        gro.push_str(&format!(
            "{resid:5}ALA  {name:>5}{num:5}   0.000   0.000   0.000\n"
        ));
    }
    let t = std::time::Instant::now();
    let top = Topology::parse(gro.as_bytes(), crate::topology::TopologyFormat::Gro, "big").unwrap();
    let read = t.elapsed();
    let t = std::time::Instant::now();
    let idx = select(&top, "backbone and resid 1:50000 and not name O").unwrap();
    eprintln!(
        "{n} atoms: parse {read:?}, select {:?} ({} atoms)",
        t.elapsed(),
        idx.len()
    );
    assert_eq!(idx.len(), 150_000);
}
