//! MD files end to end (issue 10, SPEC §6), on fixtures written by MDAnalysis 2.11
//! (`tests/data/make_fixtures.py`): one-command alignment of a CHARMM run (DCD + PSF) and a
//! GROMACS run (XTC + GRO + NDX) agrees with MDAnalysis `AlignTraj` (numbers recorded by the
//! fixture script in `aligned_expected.json`), XTC with `--select` gives the bytes of the same
//! run on the npz `convert` made, and bad inputs fail on one line with nothing written.
//! The outputs are read back with the independent npz reader of `tests/common`.

mod common;

use common::*;
use serde_json::Value;
use std::path::PathBuf;

fn data(name: &str) -> PathBuf {
    project_file(&format!("tests/data/{name}"))
}

fn expected_case(trajectory: &str) -> Value {
    let text = std::fs::read_to_string(data("aligned_expected.json")).unwrap();
    let all: Value = serde_json::from_str(&text).unwrap();
    all["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["trajectory"] == trajectory)
        .unwrap()
        .clone()
}

/// `align TRAJ --top TOP --select backbone --masses topology --to-ref-center` into an npz,
/// compared with MDAnalysis AlignTraj(select="backbone", weights="mass"): per-frame RMSD of
/// the fit set (the report's `rmsd_ref`) and the aligned positions of chosen atoms.
fn agrees_with_align_traj(trajectory: &str, top: &str, tol: f64) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fitted.npz");
    let report = dir.path().join("r.json");
    cmd()
        .arg("align")
        .arg(data(trajectory))
        .arg("--top")
        .arg(data(top))
        .args([
            "--select",
            "backbone",
            "--masses",
            "topology",
            "--to-ref-center",
            "-q",
            "--report",
        ])
        .arg(&report)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    let want = expected_case(trajectory);
    let rep: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    for (row, w) in rep["rows"]
        .as_array()
        .unwrap()
        .iter()
        .zip(want["rmsd"].as_array().unwrap())
    {
        let (got, w) = (row["rmsd_ref"].as_f64().unwrap(), w.as_f64().unwrap());
        assert!(
            (got - w).abs() < tol,
            "{trajectory}: rmsd {got} vs MDAnalysis {w}"
        );
    }
    let y = read_array(&out, "arr");
    assert_eq!(y.descr, "<f4");
    let n = y.shape[1];
    for (frame, atoms) in want["frames"].as_object().unwrap() {
        let f: usize = frame.parse().unwrap();
        for (atom, pos) in atoms["positions"].as_object().unwrap() {
            let a: usize = atom.parse().unwrap();
            for k in 0..3 {
                let (got, w) = (y.values[(f * n + a) * 3 + k], pos[k].as_f64().unwrap());
                assert!(
                    (got - w).abs() < tol,
                    "{trajectory} frame {f} atom {a}: {got} vs {w}"
                );
            }
        }
    }
}

#[test]
fn charmm_run_matches_mdanalysis_aligntraj() {
    agrees_with_align_traj("traj.dcd", "top.psf", 1e-4);
}

#[test]
fn gromacs_run_matches_mdanalysis_aligntraj() {
    agrees_with_align_traj("traj.xtc", "conf.gro", 1e-3);
}

#[test]
fn xtc_with_select_equals_the_same_run_on_its_npz() {
    let dir = tempfile::tempdir().unwrap();
    let npz = dir.path().join("traj.npz");
    cmd()
        .arg("convert")
        .arg(data("traj.xtc"))
        .arg("-o")
        .arg(&npz)
        .assert()
        .success();
    let a = dir.path().join("a.npz");
    let b = dir.path().join("b.npz");
    let sel = [
        "--top",
        data("conf.gro").to_str().unwrap(),
        "--select",
        "backbone",
        "-q",
    ]
    .map(String::from);
    cmd()
        .arg("align")
        .arg(data("traj.xtc"))
        .args(&sel)
        .arg("-o")
        .arg(&a)
        .assert()
        .success();
    cmd()
        .arg("align")
        .arg(&npz)
        .args(&sel)
        .arg("-o")
        .arg(&b)
        .assert()
        .success();
    let (x, y) = (read_array(&a, "arr"), read_array(&b, "arr"));
    assert_eq!(x.shape, vec![10, 176, 3]);
    assert_eq!(x, y);
    // The index group of the same atoms gives the same bytes as the selection.
    let c = dir.path().join("c.npz");
    let d = dir.path().join("d.npz");
    cmd()
        .arg("align")
        .arg(data("traj.xtc"))
        .args([
            "--top",
            data("conf.gro").to_str().unwrap(),
            "--select",
            "name CA",
            "-q",
            "-o",
        ])
        .arg(&c)
        .assert()
        .success();
    cmd()
        .arg("align")
        .arg(data("traj.xtc"))
        .args([
            "--ndx",
            data("index.ndx").to_str().unwrap(),
            "--group",
            "C-alpha",
            "-q",
            "-o",
        ])
        .arg(&d)
        .assert()
        .success();
    assert_eq!(std::fs::read(&c).unwrap(), std::fs::read(&d).unwrap());
}

#[test]
fn every_format_converts_and_reads_back() {
    // npz → each MD format → npz keeps the coordinates to the format's precision.
    let dir = tempfile::tempdir().unwrap();
    let npz = dir.path().join("ref.npz");
    cmd()
        .arg("convert")
        .arg(data("traj.dcd"))
        .arg("-o")
        .arg(&npz)
        .assert()
        .success();
    let x = read_array(&npz, "arr");
    for (ext, tol) in [
        ("xtc", 5.1e-3),
        ("trr", 1e-4),
        ("dcd", 1e-4),
        ("pdb", 5.1e-4),
        ("gro", 5.1e-3),
        ("xyz", 1e-4),
    ] {
        let md = dir.path().join(format!("t.{ext}"));
        let back = dir.path().join(format!("back-{ext}.npz"));
        cmd()
            .arg("convert")
            .arg(&npz)
            .args(["--top", data("top.psf").to_str().unwrap(), "-o"])
            .arg(&md)
            .assert()
            .success();
        cmd()
            .arg("convert")
            .arg(&md)
            .args(["--top", data("top.psf").to_str().unwrap(), "-o"])
            .arg(&back)
            .assert()
            .success();
        let y = read_array(&back, "arr");
        assert_eq!(y.shape, x.shape, "{ext}");
        let err = max_abs_diff(&x.values, &y.values);
        assert!(err <= tol, "{ext}: max error {err} Å");
    }
}

#[test]
fn convert_keeps_a_subset_and_a_frame_range() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ca.npz");
    cmd()
        .arg("convert")
        .arg(data("traj.dcd"))
        .args([
            "--top",
            data("top.psf").to_str().unwrap(),
            "--keep",
            "name CA",
            "--frames",
            "2:8:3",
            "-o",
        ])
        .arg(&out)
        .assert()
        .success();
    let y = read_array(&out, "arr");
    assert_eq!(y.shape, vec![2, 10, 3]);
    let all = dir.path().join("all.npz");
    cmd()
        .arg("convert")
        .arg(data("traj.dcd"))
        .arg("-o")
        .arg(&all)
        .assert()
        .success();
    let x = read_array(&all, "arr");
    // The first CA of the peptide is atom 2 (MET N, HT1.. in the PSF: selections.json agrees).
    let first_ca = 2;
    assert_eq!(
        &y.values[..3],
        &x.values[(2 * 176 + first_ca) * 3..(2 * 176 + first_ca) * 3 + 3]
    );
}

#[test]
fn info_describes_md_files() {
    let out = cmd()
        .arg("info")
        .arg(data("traj.xtc"))
        .args([
            "--top",
            data("conf.gro").to_str().unwrap(),
            "--select",
            "backbone",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "frames   10",
        "points   176",
        "Å",
        "dt       10 ps",
        "box      31.000 32.040 33.000",
        "select   39 atoms",
        "time     100 … 190 ps",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn bad_md_inputs_fail_on_one_line_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.xtc");
    let xtc = std::fs::read(data("traj.xtc")).unwrap();
    let dcd = std::fs::read(data("traj.dcd")).unwrap();
    let cut_xtc = dir.path().join("cut.xtc");
    std::fs::write(&cut_xtc, &xtc[..xtc.len() * 2 / 3]).unwrap();
    let cut_dcd = dir.path().join("cut.dcd");
    std::fs::write(&cut_dcd, &dcd[..dcd.len() * 2 / 3 + 7]).unwrap();
    let magic = dir.path().join("magic.xtc");
    let mut bad = xtc.clone();
    bad[3] ^= 0x55;
    std::fs::write(&magic, bad).unwrap();
    let short_gro = dir.path().join("short.gro");
    let gro = std::fs::read_to_string(data("conf.gro")).unwrap();
    let mut lines: Vec<String> = gro.lines().map(String::from).collect();
    lines[5].truncate(12);
    std::fs::write(&short_gro, lines.join("\n") + "\n").unwrap();
    let small_top = dir.path().join("small.gro");
    std::fs::write(
        &small_top,
        "x\n    1\n    1ALA     CA    1   0.000   0.000   0.000\n   1.0 1.0 1.0\n",
    )
    .unwrap();
    let d = |n: &str| data(n).to_str().unwrap().to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                d("traj.xtc"),
                "--top".into(),
                small_top.to_str().unwrap().into(),
            ],
            "1 atoms",
        ),
        (vec![cut_xtc.to_str().unwrap().into()], "cut.xtc"),
        (vec![cut_dcd.to_str().unwrap().into()], "cut.dcd"),
        (vec![magic.to_str().unwrap().into()], "magic.xtc"),
        (vec![short_gro.to_str().unwrap().into()], "short.gro"),
        (
            vec![
                d("traj.xtc"),
                "--top".into(),
                d("conf.gro"),
                "--select".into(),
                "resnam ALA".into(),
            ],
            "did you mean 'resname'",
        ),
        (
            vec![
                d("traj.xtc"),
                "--top".into(),
                d("conf.gro"),
                "--select".into(),
                "name XX".into(),
            ],
            "matches no atom",
        ),
        (
            vec![
                d("traj.xtc"),
                "--ndx".into(),
                d("index.ndx"),
                "--group".into(),
                "Sytem".into(),
            ],
            "did you mean \"System\"",
        ),
        (
            vec![d("traj.xtc"), "--select".into(), "backbone".into()],
            "needs a topology",
        ),
    ];
    for (args, needle) in cases {
        let a = cmd()
            .arg("align")
            .args(&args)
            .arg("-o")
            .arg(&out)
            .assert()
            .code(1);
        let stderr = String::from_utf8_lossy(&a.get_output().stderr).to_string();
        assert!(
            stderr.starts_with("error:") && stderr.lines().count() == 1,
            "{args:?}: {stderr}"
        );
        assert!(
            stderr.contains(needle),
            "{args:?}: {stderr} (wanted {needle:?})"
        );
        assert!(!out.exists());
    }
    assert_eq!(
        dir_listing(dir.path()),
        vec!["cut.dcd", "cut.xtc", "magic.xtc", "short.gro", "small.gro"]
    );
}

#[test]
fn unwrap_keeps_molecules_whole_and_centres_continuous() {
    // In the fixture, water 1 (atoms 102–104) is split across the +x face in frame 1 and the
    // Na ion (atom 174) crosses +y between frames 1 and 2 (tests/data/README.md).
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str], name: &str| {
        let out = dir.path().join(name);
        cmd()
            .arg("align")
            .arg(data("traj.dcd"))
            .args(extra)
            .args(["-q", "-o"])
            .arg(&out)
            .assert()
            .success();
        read_array(&out, "arr")
    };
    let at = |a: &Array, f: usize, i: usize, k: usize| a.values[(f * 176 + i) * 3 + k];
    let raw = run(&["--center", "none", "--rotate", "none"], "raw.npz");
    let unwrapped = run(
        &["--center", "none", "--rotate", "none", "--unwrap"],
        "u.npz",
    );
    // The ion jumps by about a box length (32 Å) without --unwrap, by well under half with it.
    assert!((at(&raw, 2, 174, 1) - at(&raw, 1, 174, 1)).abs() > 16.0);
    assert!((at(&unwrapped, 2, 174, 1) - at(&unwrapped, 1, 174, 1)).abs() < 16.0);
    // Centred on water 1: split, its atoms sit half a box from their centre; unwrapped, whole.
    let split = run(
        &[
            "--center",
            "com",
            "--fit-points",
            "102:105",
            "--rotate",
            "none",
        ],
        "s.npz",
    );
    let whole = run(
        &[
            "--center",
            "com",
            "--fit-points",
            "102:105",
            "--rotate",
            "none",
            "--unwrap",
        ],
        "w.npz",
    );
    let radius = |a: &Array, f: usize| {
        (102..105)
            .map(|i| (0..3).map(|k| at(a, f, i, k).powi(2)).sum::<f64>().sqrt())
            .fold(0.0, f64::max)
    };
    assert!(radius(&split, 1) > 5.0, "{}", radius(&split, 1));
    assert!(radius(&whole, 1) < 2.0, "{}", radius(&whole, 1));
    // The centre of the fit atoms is continuous in time with --unwrap: every frame's water sits
    // at the origin and stays whole.
    assert!((0..10).all(|f| radius(&whole, f) < 2.0));
}
