//! The reports on MD data with a topology (issue 12): `plot --kind overlay|rmsd|rmsf|sensitivity`
//! in PNG and SVG, the overlay's point budget and chain-aware lines, `sensitivity --per residue`,
//! `--points` as a selection, `--sweep-points`, and the default nudged set. Inputs are the
//! MDAnalysis-written fixtures in `tests/data` (a 10-residue peptide in water, 176 atoms);
//! residues and CA atoms are read from `conf.gro` by a parser written here, not aligntraj's.

mod common;

use common::{cmd, project_file as project};
use serde_json::Value;
use std::path::Path;

/// `(resid, resname, atom name)` of every atom of a GRO file, by the format's fixed columns.
fn gro_atoms(path: &Path) -> Vec<(i64, String, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let n: usize = lines[1].trim().parse().unwrap();
    lines[2..2 + n]
        .iter()
        .map(|l| {
            (
                l[0..5].trim().parse().unwrap(),
                l[5..10].trim().to_string(),
                l[10..15].trim().to_string(),
            )
        })
        .collect()
}

/// Residues as `(first atom, atom count)`: runs of atoms with one resid and resname.
fn gro_residues(atoms: &[(i64, String, String)]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (i, a) in atoms.iter().enumerate() {
        match out.last_mut() {
            Some((first, count)) if atoms[*first].0 == a.0 && atoms[*first].1 == a.1 => *count += 1,
            _ => out.push((i, 1)),
        }
    }
    out
}

fn xtc_args() -> Vec<String> {
    vec![
        project("tests/data/traj.xtc").display().to_string(),
        "--top".into(),
        project("tests/data/conf.gro").display().to_string(),
    ]
}

fn run_ok(args: &[String]) -> String {
    let out = cmd().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn sensitivity(extra: &[&str], dir: &Path, name: &str) -> Value {
    let report = dir.join(name);
    let mut args = vec!["sensitivity".to_string()];
    args.extend(xtc_args());
    args.extend(["--steps", "3", "-q", "--report"].map(String::from));
    args.push(report.display().to_string());
    args.extend(extra.iter().map(|s| s.to_string()));
    run_ok(&args);
    serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap()
}

fn matrix(v: &Value) -> Vec<Vec<f64>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect()
}

fn indices(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn assert_png(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let px = &buf[..info.buffer_size()];
    let distinct = px.chunks(3).filter(|p| p != &&px[..3]).count();
    assert!(distinct > 1000, "{}: nearly blank", path.display());
}

fn assert_svg(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let t = text.trim();
    assert!(
        t.starts_with("<svg") || (t.starts_with("<?xml") && t.contains("<svg")),
        "{}: no svg root",
        path.display()
    );
    assert!(t.ends_with("</svg>"), "{}: unterminated", path.display());
    text
}

/// The contents of an SVG's text elements, trimmed.
fn texts(svg: &str) -> Vec<String> {
    svg.split("</text>")
        .filter_map(|part| part.rsplit_once('>').map(|(_, t)| t.trim().to_string()))
        .collect()
}

/// Lines joining drawn points: the overlay draws them half transparent (axes and ticks are
/// opaque polylines).
fn joins(svg: &str) -> usize {
    svg.matches("<polyline")
        .zip(svg.split("<polyline").skip(1))
        .filter(|(_, rest)| {
            rest.split('>')
                .next()
                .unwrap_or("")
                .contains("opacity=\"0.55\"")
        })
        .count()
}

#[test]
fn every_plot_kind_writes_a_png_and_an_svg() {
    let dir = tempfile::tempdir().unwrap();
    for kind in ["overlay", "rmsd", "rmsf", "sensitivity"] {
        for ext in ["png", "svg"] {
            let out = dir.path().join(format!("{kind}.{ext}"));
            let mut args = vec!["plot".to_string()];
            args.extend(xtc_args());
            args.extend(
                [
                    "--select", "backbone", "--masses", "topology", "--kind", kind, "-o",
                ]
                .map(String::from),
            );
            args.push(out.display().to_string());
            let said = run_ok(&args);
            assert!(said.contains("wrote"), "{said}");
            if ext == "png" {
                assert_png(&out);
            } else {
                let svg = assert_svg(&out);
                match kind {
                    // XTC frames carry their time: 100 … 190 ps.
                    "rmsd" => assert!(
                        svg.contains("RMSD over 39 fit points, weighted")
                            && svg.contains("time (ps)")
                            && texts(&svg).iter().any(|t| t == "190")
                    ),
                    // 36 residues: 10 peptide residues, 24 waters and two ions (conf.gro).
                    "rmsf" => assert!(svg.contains("RMSF per residue") && svg.contains("MET1")),
                    "sensitivity" => assert!(svg.contains("residue k (nudged)")),
                    _ => assert!(svg.contains("raw input")),
                }
            }
        }
    }
}

#[test]
fn overlay_of_3000_points_draws_200_spread_points_per_frame() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("big.npz");
    cmd()
        .args([
            "generate", "--kind", "blob3d", "--frames", "4", "--points", "3000",
        ])
        .args(["--dims", "3", "-o"])
        .arg(&input)
        .assert()
        .success();
    let svg = dir.path().join("o.svg");
    let said = run_ok(&[
        "plot".into(),
        input.display().to_string(),
        "--every".into(),
        "1".into(),
        "-o".into(),
        svg.display().to_string(),
    ]);
    assert!(said.contains("overlay of 200 points per frame"), "{said}");
    let text = assert_svg(&svg);
    // 4 frames × 3 panels (raw, com+principal, point0+point-vector) × 200 dots; the points are
    // 15 indices apart, so none is joined to the next.
    assert_eq!(text.matches("<circle").count(), 4 * 3 * 200);
    assert_eq!(joins(&text), 0);
    assert!(text.contains("200 of 3000 points, evenly spaced"));
}

#[test]
fn overlay_with_a_topology_draws_the_ca_trace_within_the_peptide() {
    let dir = tempfile::tempdir().unwrap();
    let atoms = gro_atoms(&project("tests/data/conf.gro"));
    // The fixture has 176 atoms (≤ 200, so all are drawn by default); ask for CA atoms.
    let ca = atoms.iter().filter(|a| a.2 == "CA").count();
    assert_eq!(ca, 10);
    let svg = dir.path().join("ca.svg");
    let mut args = vec!["plot".to_string()];
    args.extend(xtc_args());
    args.extend(["--points", "name CA", "--every", "1", "-o"].map(String::from));
    args.push(svg.display().to_string());
    run_ok(&args);
    let text = assert_svg(&svg);
    // 10 frames × 3 panels: 10 dots and one polyline (the peptide's CA trace, consecutive
    // residues 1…10 of one segment) each.
    assert_eq!(text.matches("<circle").count(), 10 * 3 * ca);
    assert_eq!(joins(&text), 10 * 3);
    // The oxygen atoms of two waters are adjacent residues but not a polymer: no line.
    let ow: Vec<usize> = (0..atoms.len())
        .filter(|&i| atoms[i].2 == "OW")
        .take(2)
        .collect();
    let svg2 = dir.path().join("ow.svg");
    let mut args = vec!["plot".to_string()];
    args.extend(xtc_args());
    let spec = format!("{},{}", ow[0], ow[1]);
    args.extend(["--points", &spec, "--every", "1", "-o"].map(String::from));
    args.push(svg2.display().to_string());
    run_ok(&args);
    assert_eq!(joins(&assert_svg(&svg2)), 0);
}

#[test]
fn per_residue_matrix_is_the_mean_over_atom_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let report = sensitivity(&["--per", "residue"], dir.path(), "r.json");
    let residues = gro_residues(&gro_atoms(&project("tests/data/conf.gro")));
    assert_eq!(report["residues"].as_array().unwrap().len(), residues.len());
    assert_eq!(report["residues"][0]["resname"], "MET");
    // All 176 points nudged (≤ 512), so every residue is a row.
    assert_eq!(
        indices(&report["residue_rows"]),
        (0..residues.len()).collect::<Vec<_>>()
    );
    for p in report["pipelines"].as_array().unwrap() {
        let s = matrix(&p["matrix"]);
        let r = matrix(&p["residue_matrix"]);
        for (a, &(fa, na)) in residues.iter().enumerate() {
            for (b, &(fb, nb)) in residues.iter().enumerate() {
                let sum: f64 = s[fa..fa + na]
                    .iter()
                    .map(|row| row[fb..fb + nb].iter().sum::<f64>())
                    .sum();
                let want = sum / (na * nb) as f64;
                assert!(
                    (r[a][b] - want).abs() <= 1e-12 * want.abs().max(1e-12),
                    "{} residue {a},{b}: {} vs {want}",
                    p["name"],
                    r[a][b]
                );
            }
        }
    }
    // With --csv, the residue matrix with residue labels.
    let csv = dir.path().join("csv");
    let mut args = vec!["sensitivity".to_string()];
    args.extend(xtc_args());
    args.extend(["--steps", "2", "-q", "--frames", "2", "--csv"].map(String::from));
    args.push(csv.display().to_string());
    run_ok(&args);
    let text = std::fs::read_to_string(csv.join("com+principal.csv")).unwrap();
    assert!(text.starts_with("row,MET1,"), "{}", &text[..40]);
    assert_eq!(text.lines().count(), 1 + residues.len());
}

#[test]
fn points_as_a_selection_equal_the_same_indices() {
    let dir = tempfile::tempdir().unwrap();
    let atoms = gro_atoms(&project("tests/data/conf.gro"));
    let ca: Vec<String> = (0..atoms.len())
        .filter(|&i| atoms[i].2 == "CA")
        .map(|i| i.to_string())
        .collect();
    let by_name = sensitivity(
        &["--points", "name CA", "--per", "point"],
        dir.path(),
        "a.json",
    );
    let by_index = sensitivity(
        &["--points", &ca.join(","), "--per", "point"],
        dir.path(),
        "b.json",
    );
    assert_eq!(by_name["nudged"], by_index["nudged"]);
    assert_eq!(indices(&by_name["nudged"]).len(), 10);
    for (a, b) in by_name["pipelines"]
        .as_array()
        .unwrap()
        .iter()
        .zip(by_index["pipelines"].as_array().unwrap())
    {
        assert_eq!(a["matrix"], b["matrix"]);
    }
}

#[test]
fn default_nudges_are_the_fit_set() {
    let dir = tempfile::tempdir().unwrap();
    let r = sensitivity(
        &["--fit-points", "0:20", "--per", "point"],
        dir.path(),
        "f.json",
    );
    assert_eq!(indices(&r["nudged"]), (0..20).collect::<Vec<_>>());
    let r = sensitivity(
        &["--select", "name CA", "--per", "point"],
        dir.path(),
        "s.json",
    );
    assert_eq!(indices(&r["nudged"]).len(), 10);
}

#[test]
fn sweep_points_keep_the_full_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let r = sensitivity(
        &[
            "--points",
            "0:10",
            "--sweep-points",
            "3,12",
            "--per",
            "point",
        ],
        dir.path(),
        "w.json",
    );
    // 12 is added to the nudged points (0..10 and 12).
    let nudged = indices(&r["nudged"]);
    assert_eq!(nudged, [(0..10).collect::<Vec<_>>(), vec![12]].concat());
    assert_eq!(indices(&r["sweep_points"]), vec![3, 12]);
    let deltas: Vec<f64> = r["deltas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_f64().unwrap())
        .collect();
    for p in r["pipelines"].as_array().unwrap() {
        let full = p["sweep_full"].as_array().unwrap();
        assert_eq!(full.len(), 2);
        let s = matrix(&p["matrix"]);
        let sweep = matrix(&p["sweep"]);
        for (i, &k) in [3usize, 12].iter().enumerate() {
            let row = nudged.iter().position(|&x| x == k).unwrap();
            let d = matrix(&full[i]);
            assert_eq!(d.len(), deltas.len());
            assert_eq!(d[1].len(), 176);
            for st in 1..deltas.len() {
                // The mean over the other points is the stored per-point sweep.
                let others = (d[st].iter().sum::<f64>() - d[st][k]) / 175.0;
                assert!((others - sweep[row][st]).abs() <= 1e-12 * others.max(1e-12));
            }
            if p["discontinuities"]["count"] == 0 {
                // At δ₁, d_j / δ₁ is the row of S.
                for j in 0..176 {
                    let want = d[1][j] / deltas[1];
                    assert!((s[row][j] - want).abs() <= 1e-9 * want.max(1e-9));
                }
            }
        }
    }
}

#[test]
fn per_residue_without_a_topology_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["sensitivity", "data/chain2d.npz", "--per", "residue"],
        vec![
            "plot",
            "data/chain2d.npz",
            "--kind",
            "rmsf",
            "--per",
            "residue",
            "-o",
        ],
        vec!["plot", "data/chain2d.npz", "--points", "name CA", "-o"],
    ] {
        let out = dir.path().join("x.png");
        let o = cmd()
            .args(&args)
            .args(args.last().filter(|a| **a == "-o").map(|_| out.clone()))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("needs a topology"), "{err}");
        assert!(!out.exists());
    }
}

#[test]
fn rmsf_csv_names_atoms_and_residues_with_a_topology() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, json) = (dir.path().join("rmsf.csv"), dir.path().join("r.json"));
    let mut args = vec!["align".to_string()];
    args.extend(xtc_args());
    args.extend(["--select", "backbone", "-q", "-o"].map(String::from));
    args.push(dir.path().join("fit.xtc").display().to_string());
    args.extend(["--rmsf".into(), csv.display().to_string()]);
    args.extend(["--report".into(), json.display().to_string()]);
    run_ok(&args);
    let atoms = gro_atoms(&project("tests/data/conf.gro"));
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("point,name,resname,resid,segid,rmsf"));
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let rmsf = report["summary"]["rmsf"].as_array().unwrap();
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), atoms.len());
    for (i, row) in rows.iter().enumerate() {
        let f: Vec<&str> = row.split(',').collect();
        let (resid, resname, name) = &atoms[i];
        assert_eq!(f[0], i.to_string());
        assert_eq!(
            (f[1], f[2], f[3]),
            (name.as_str(), resname.as_str(), &*resid.to_string())
        );
        assert_eq!(f[4], "SYSTEM"); // GRO files name no segment (MDAnalysis: SYSTEM)
                                    // serde_json's parser is not correctly rounded: equal to an ulp or two.
        let (a, b) = (f[5].parse::<f64>().unwrap(), rmsf[i].as_f64().unwrap());
        assert!((a - b).abs() <= 1e-15 * b.abs(), "point {i}: {a} vs {b}");
    }
}
