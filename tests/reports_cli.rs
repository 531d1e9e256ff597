//! The report commands from the outside: `sensitivity`, `check`, `plot` and `align --report`
//! (issue 5, SPEC §4). Fixtures are bare `.npy` files written here; expected numbers come from
//! closed forms derived in the comments, not from aligntraj.

mod common;

use common::{cmd, npy, project_file as project, shared_paths, Enc};
use predicates::str::contains;
use serde_json::Value;
use std::f64::consts::PI;
use std::path::Path;

/// Writes `frames[f][i][d]` as a little-endian f64 `.npy`.
fn write_npy(path: &Path, frames: &[Vec<Vec<f64>>]) {
    let (f, n, d) = (frames.len(), frames[0].len(), frames[0][0].len());
    let values: Vec<f64> = frames.iter().flatten().flatten().copied().collect();
    std::fs::write(path, npy(Enc::F64Le, &[f, n, d], &values)).unwrap();
}

fn rot2(p: &[f64], a: f64) -> Vec<f64> {
    vec![
        a.cos() * p[0] - a.sin() * p[1],
        a.sin() * p[0] + a.cos() * p[1],
    ]
}

fn sensitivity_json(input: &Path, extra: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("s.json");
    cmd()
        .arg("sensitivity")
        .arg(input)
        .args(extra)
        .arg("--report")
        .arg(&report)
        .assert()
        .success()
        .stdout(contains("leak_mean"));
    serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap()
}

fn summary<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["pipelines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no pipeline {name}"))
        .get("summary")
        .unwrap()
}

/// The book's finding: aligning to point 0 makes the others' response to a nudge larger and
/// far more uneven than COM + principal axes; both move the nudged point by about its nudge
/// (`self` within 0.2 of 1: SPEC expects 1 − 1/N = 0.917 for COM with N = 12, and a point
/// pipeline pins point 0 so its mean is lower, (N − 1)/N · ~1).
fn assert_book_finding(report: &Value) {
    let com = summary(report, "com+principal");
    let p0 = summary(report, "point0+point-vector");
    let f = |v: &Value, k: &str| v[k].as_f64().unwrap();
    assert!(
        f(p0, "leak_mean") > f(com, "leak_mean"),
        "leak_mean: point0 {} vs com {}",
        p0["leak_mean"],
        com["leak_mean"]
    );
    assert!(
        f(p0, "unevenness") > 2.0 * f(com, "unevenness"),
        "unevenness: point0 {} vs com {}",
        p0["unevenness"],
        com["unevenness"]
    );
    for s in [com, p0] {
        assert!((f(s, "self") - 1.0).abs() < 0.2, "self = {}", s["self"]);
    }
    // The point-0 pipeline pins its anchor: S[0][0] = 0 exactly.
    let p0m = &report["pipelines"][1]["matrix"];
    assert_eq!(report["pipelines"][1]["name"], "point0+point-vector");
    assert!(p0m[0][0].as_f64().unwrap().abs() < 1e-12);
    assert_eq!(report["deltas"].as_array().unwrap().len(), 16);
    assert_eq!(report["deltas"][0].as_f64().unwrap(), 0.0);
}

#[test]
fn needs_shared_sensitivity_on_paths_reproduces_the_books_finding() {
    let Some(paths) =
        shared_paths("needs_shared_sensitivity_on_paths_reproduces_the_books_finding")
    else {
        return;
    };
    let report = sensitivity_json(&paths, &["--frames", "64"]);
    assert_eq!(report["frames"].as_array().unwrap().len(), 64);
    assert_book_finding(&report);
}

#[test]
fn sensitivity_on_chain2d_reproduces_the_books_finding() {
    let report = sensitivity_json(&project("data/chain2d.npz"), &[]);
    assert_eq!(report["frames"].as_array().unwrap().len(), 2048);
    assert_book_finding(&report);
}

/// Rigid body, no noise, `com+kabsch` onto frame 0. Every frame is a rotated, shifted copy of
/// one shape, so every aligned frame equals the centred reference Y (Σ y_i = 0). Nudge point
/// k by δu. COM centering turns the nudge into e_i = δ(u[i = k] − u/N). To first order Kabsch
/// then rotates by the small angle θ minimising Σ ‖θ J y_i + e_i‖² (J: +90° rotation), i.e.
/// θ = −Σ (J y_i)·e_i / Σ ‖y_i‖² = −δ (J y_k)·u / Σ ‖y_i‖² (the u/N part drops out because
/// Σ J y_i = 0). Point j then moves by d_j = ‖e_j + θ J y_j‖, so
///   S[k][j] = ‖u([j = k] − 1/N) − c_k J y_j‖,  c_k = (J y_k)·u / Σ ‖y_i‖²,
/// averaged over frames, u being the input's +x nudge as seen in the aligned frame (turned
/// back with the frame), and each row sum Σ_j S[k][j] follows. Compared at δ = 1e-6
/// (second-order error ~1e-6).
#[test]
fn rigid_body_com_kabsch_rows_sum_as_the_algebra_predicts() {
    let shape: Vec<Vec<f64>> = vec![
        vec![0.0, 0.0],
        vec![1.5, 0.2],
        vec![2.1, 1.7],
        vec![0.4, 2.9],
        vec![-1.3, 1.1],
        vec![-0.6, -1.4],
    ];
    let n = shape.len();
    let frames: Vec<Vec<Vec<f64>>> = (0..5)
        .map(|f| {
            let a = 0.7 * f as f64;
            shape
                .iter()
                .map(|p| {
                    let r = rot2(p, a);
                    vec![r[0] + 3.0 * f as f64, r[1] - 2.0]
                })
                .collect()
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("rigid.npy");
    write_npy(&input, &frames);
    let report = sensitivity_json(
        &input,
        &[
            "--pipeline",
            "com+kabsch",
            "--max-delta",
            "1e-6",
            "--steps",
            "2",
        ],
    );
    let s = &report["pipelines"][0]["matrix"];
    // Independent closed form from the centred shape.
    let c: Vec<f64> = (0..2)
        .map(|d| shape.iter().map(|p| p[d]).sum::<f64>() / n as f64)
        .collect();
    let y: Vec<[f64; 2]> = shape.iter().map(|p| [p[0] - c[0], p[1] - c[1]]).collect();
    let norm2: f64 = y.iter().map(|p| p[0] * p[0] + p[1] * p[1]).sum();
    let jy = |p: [f64; 2]| [-p[1], p[0]];
    let mut expected = vec![vec![0.0; n]; n];
    for f in 0..frames.len() {
        // Frame f is the shape turned by 0.7 f: aligning turns it back, so the input's +x
        // nudge acts along u = +x turned by −0.7 f in the aligned frame.
        let uv = rot2(&[1.0, 0.0], -0.7 * f as f64);
        let u = [uv[0], uv[1]];
        for k in 0..n {
            let ck = (jy(y[k])[0] * u[0] + jy(y[k])[1] * u[1]) / norm2;
            for j in 0..n {
                let kron = if j == k { 1.0 } else { 0.0 };
                let v = [
                    u[0] * (kron - 1.0 / n as f64) - ck * jy(y[j])[0],
                    u[1] * (kron - 1.0 / n as f64) - ck * jy(y[j])[1],
                ];
                expected[k][j] += (v[0] * v[0] + v[1] * v[1]).sqrt() / frames.len() as f64;
            }
        }
    }
    for k in 0..n {
        let mut got_row = 0.0;
        for j in 0..n {
            let got = s[k][j].as_f64().unwrap();
            let want = expected[k][j];
            assert!(
                (got - want).abs() < 1e-4,
                "S[{k}][{j}] = {got}, expected {want}"
            );
            got_row += got;
        }
        let expected_row: f64 = expected[k].iter().sum();
        assert!(
            (got_row - expected_row).abs() < 1e-4 * expected_row,
            "row {k}: sum {got_row}, expected {expected_row}"
        );
    }
}

fn check_pipelines(input: &Path) {
    cmd()
        .arg("check")
        .arg(input)
        .args(["--pipeline", "com+principal", "--pipeline", "com+kabsch"])
        .args(["--pipeline", "point0+point-vector", "--trials", "4"])
        .assert()
        .success()
        .stdout(contains("point0+point-vector"));
    // No alignment at all cannot be invariant: the check must be able to fail.
    cmd()
        .arg("check")
        .arg(input)
        .args(["--pipeline", "none+none", "--trials", "2"])
        .assert()
        .code(1)
        .stderr(contains("error:").and(contains("none+none")));
}

use predicates::prelude::PredicateBooleanExt;

#[test]
fn check_passes_real_alignments_and_fails_none_on_shipped_data() {
    check_pipelines(&project("data/chain2d.npz"));
    check_pipelines(&project("data/blob3d.npz"));
}

#[test]
fn check_passes_real_alignments_and_fails_none_on_paths() {
    if let Some(p) = shared_paths("check_passes_real_alignments_and_fails_none_on_paths") {
        check_pipelines(&p);
    }
}

/// A bent 8-point shape turning 1° per frame with a small per-point wiggle; with `flip_at`, the
/// whole frame is turned by a further 180° from that frame on.
fn turning_shape(frames: usize, flip_at: Option<usize>) -> Vec<Vec<Vec<f64>>> {
    (0..frames)
        .map(|f| {
            let extra = if flip_at.is_some_and(|k| f >= k) {
                PI
            } else {
                0.0
            };
            let a = (f as f64).to_radians() + extra;
            (0..8)
                .map(|i| {
                    let t = i as f64;
                    let wiggle = 0.02 * (0.3 * f as f64 + t).sin();
                    let p = [t, 0.15 * t * t + wiggle];
                    let r = rot2(&p, a);
                    vec![r[0] + 5.0, r[1] + 1.0]
                })
                .collect()
        })
        .collect()
}

fn align_report(input: &Path, args: &[&str], report: &Path) -> Value {
    cmd()
        .arg("align")
        .arg(input)
        .args(args)
        .arg("--report")
        .arg(report)
        .arg("-o")
        .arg(input.with_extension("out.npz"))
        .assert()
        .success();
    serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap()
}

/// Centering alone keeps the input's 180° turn at frame 30: the step RMSD there is about
/// 2 × the RMS radius (~8) against median steps of ~0.07 (1° of a shape ~4 across), so frame
/// 30, and only it, is a jump.
#[test]
fn align_report_flags_a_known_flip() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("flip.npy");
    write_npy(&input, &turning_shape(60, Some(30)));
    let report = align_report(
        &input,
        &["--center", "com", "--rotate", "none"],
        &dir.path().join("r.json"),
    );
    assert_eq!(report["summary"]["jump_frames"], serde_json::json!([30]));
    assert_eq!(report["summary"]["jumps"], 1);
    assert_eq!(report["rows"].as_array().unwrap().len(), 60);
    assert_eq!(report["rows"][0]["step_rmsd"], Value::Null);
    // CSV: the same rows, header first.
    let csv = dir.path().join("r.csv");
    cmd()
        .arg("align")
        .arg(&input)
        .args(["--center", "com", "--rotate", "none", "--report"])
        .arg(&csv)
        .arg("-o")
        .arg(dir.path().join("o.npz"))
        .assert()
        .success();
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "frame,rmsd_ref,rmsd_all,step_rmsd,angle_deg,jump,degenerate"
    );
    assert_eq!(lines.len(), 61);
    assert!(lines[31].starts_with("30,") && lines[31].contains(",true,"));
}

/// The smooth turning shape aligned by principal axes with continuous signs: nothing jumps,
/// and each aligned frame differs from frame 0 only by the wiggle (rmsd_ref < 0.1).
#[test]
fn align_report_smooth_continuous_has_no_jumps() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("smooth.npy");
    write_npy(&input, &turning_shape(60, None));
    let report = align_report(
        &input,
        &[
            "--center",
            "com",
            "--rotate",
            "principal",
            "--sign",
            "continuous",
        ],
        &dir.path().join("r.json"),
    );
    assert_eq!(report["summary"]["jumps"], 0);
    assert_eq!(report["summary"]["degenerate"], 0);
    for row in report["rows"].as_array().unwrap() {
        assert!(row["rmsd_ref"].as_f64().unwrap() < 0.1, "{row}");
    }
}

#[test]
fn plot_writes_a_png_of_the_asked_size_and_an_svg() {
    let dir = tempfile::tempdir().unwrap();
    let png_path = dir.path().join("o.png");
    cmd()
        .args([
            "plot",
            "data/chain2d.npz",
            "--width",
            "640",
            "--height",
            "300",
            "-o",
        ])
        .arg(&png_path)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .assert()
        .success();
    let decoder = png::Decoder::new(std::fs::File::open(&png_path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (640, 300));
    let px = &buf[..info.buffer_size()];
    let first = &px[..3];
    let distinct = px.chunks(3).filter(|p| p != &first).count();
    assert!(
        distinct > 1000,
        "only {distinct} pixels differ from the first"
    );

    let svg = dir.path().join("o.svg");
    cmd()
        .args(["plot", "data/blob3d.npz", "--every", "50", "-o"])
        .arg(&svg)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .assert()
        .success();
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.trim_start().starts_with("<svg") && text.trim_end().ends_with("</svg>"));
    assert!(text.contains("x, y of 3-D"));
    assert!(text.contains("<polyline"));
}

#[test]
fn sensitivity_writes_csv_and_heatmap() {
    let dir = tempfile::tempdir().unwrap();
    cmd()
        .args(["sensitivity", "data/chain2d.npz", "--frames", "16", "--csv"])
        .arg(dir.path().join("csv"))
        .arg("--plot")
        .arg(dir.path().join("s.svg"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .assert()
        .success();
    let m = std::fs::read_to_string(dir.path().join("csv/com+principal.csv")).unwrap();
    // Header plus one line per point (12).
    assert_eq!(m.lines().count(), 13);
    assert!(m.starts_with("row,0,1,"));
    assert!(std::fs::read_to_string(dir.path().join("s.svg"))
        .unwrap()
        .contains("point0+point-vector"));
}

#[test]
fn report_commands_fail_on_one_line() {
    // Malformed option values are usage errors (exit 2) before any file is opened.
    for args in [
        vec!["plot", "data/chain2d.npz", "-o", "x.txt"],
        vec!["sensitivity", "data/chain2d.npz", "--pipeline", "com+spin"],
        vec!["sensitivity", "data/chain2d.npz", "--steps", "1"],
    ] {
        cmd()
            .args(&args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .assert()
            .code(2);
    }
    for args in [
        vec!["sensitivity", "no/such.npz"],
        vec!["check", "no/such.npz"],
    ] {
        let out = cmd()
            .args(&args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .assert()
            .code(1)
            .get_output()
            .clone();
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
    assert!(!project("x.txt").exists());
}

/// `rmsd_ref` (fit set, fit weights), `rmsd_all` (all points, unweighted) and RMSF, each
/// against a computation written out here from the aligned output and the raw input: the
/// reference is raw frame 0 minus its weighted fit-set centroid (what `com+kabsch --ref 0`
/// fits onto), RMSF is `sqrt(mean_f ‖x_fi − mean_f x_fi‖²)`.
#[test]
fn rmsd_and_rmsf_match_an_independent_computation() {
    let dir = tempfile::tempdir().unwrap();
    let (frames, n, d) = (30, 9, 3);
    let x = common::drifting(frames, n, d, 17);
    let masses: Vec<f64> = (0..n).map(|i| 1.0 + i as f64 * 0.37).collect();
    let fit = [0usize, 2, 3, 5, 8];
    let input = dir.path().join("t.npz");
    common::write_npz(
        &input,
        &[
            common::stored("arr.npy", npy(Enc::F64Le, &[frames, n, d], &x)),
            common::stored("masses.npy", npy(Enc::F64Le, &[n], &masses)),
        ],
    );
    let out = dir.path().join("o.npz");
    let report = dir.path().join("r.json");
    let rmsf_csv = dir.path().join("rmsf.csv");
    cmd()
        .arg("align")
        .arg(&input)
        .args([
            "--masses",
            "masses",
            "--fit-points",
            "0,2,3,5,8",
            "-q",
            "-o",
        ])
        .arg(&out)
        .arg("--report")
        .arg(&report)
        .arg("--rmsf")
        .arg(&rmsf_csv)
        .assert()
        .success();
    let y = common::read_array(&out, "arr").values;
    let rep: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let at = |v: &[f64], f: usize, i: usize, k: usize| v[(f * n + i) * d + k];
    let wsum: f64 = fit.iter().map(|&i| masses[i]).sum();
    let c: Vec<f64> = (0..d)
        .map(|k| {
            fit.iter()
                .map(|&i| masses[i] * at(&x, 0, i, k))
                .sum::<f64>()
                / wsum
        })
        .collect();
    let reference: Vec<f64> = (0..n * d).map(|j| x[j] - c[j % d]).collect();
    for f in 0..frames {
        let sq = |i: usize| {
            (0..d)
                .map(|k| (at(&y, f, i, k) - reference[i * d + k]).powi(2))
                .sum::<f64>()
        };
        let rmsd_ref = (fit.iter().map(|&i| masses[i] * sq(i)).sum::<f64>() / wsum).sqrt();
        let rmsd_all = ((0..n).map(sq).sum::<f64>() / n as f64).sqrt();
        let row = &rep["rows"][f];
        assert!(
            (row["rmsd_ref"].as_f64().unwrap() - rmsd_ref).abs() < 1e-10,
            "frame {f}"
        );
        assert!(
            (row["rmsd_all"].as_f64().unwrap() - rmsd_all).abs() < 1e-10,
            "frame {f}"
        );
    }
    let rmsf: Vec<f64> = (0..n)
        .map(|i| {
            let mean: Vec<f64> = (0..d)
                .map(|k| (0..frames).map(|f| at(&y, f, i, k)).sum::<f64>() / frames as f64)
                .collect();
            let msd = (0..frames)
                .map(|f| {
                    (0..d)
                        .map(|k| (at(&y, f, i, k) - mean[k]).powi(2))
                        .sum::<f64>()
                })
                .sum::<f64>();
            (msd / frames as f64).sqrt()
        })
        .collect();
    let got: Vec<f64> = rep["summary"]["rmsf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    for (g, w) in got.iter().zip(&rmsf) {
        assert!((g - w).abs() < 1e-10, "rmsf {g} vs {w}");
    }
    let csv = std::fs::read_to_string(&rmsf_csv).unwrap();
    assert_eq!(csv.lines().next(), Some("point,rmsf"));
    assert_eq!(csv.lines().count(), n + 1);
}

/// Sensitivity at scale (issue 12): with more than 512 points the default nudges 256 points
/// spread evenly (and says so), its matrix is 256 × N, and each row equals the same point's
/// row of the run that nudges every point.
#[test]
fn sampled_sensitivity_rows_equal_the_all_points_rows() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("body.npz");
    cmd()
        .args([
            "generate", "--kind", "blob3d", "--frames", "3", "--points", "600", "--dims", "3",
            "--seed", "5", "-o",
        ])
        .arg(&input)
        .assert()
        .success();
    let run = |extra: &[&str], name: &str| -> (Value, String) {
        let report = dir.path().join(name);
        let out = cmd()
            .arg("sensitivity")
            .arg(&input)
            .args(["--pipeline", "com+kabsch", "--steps", "3", "--report"])
            .arg(&report)
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        (json, String::from_utf8_lossy(&out.stderr).to_string())
    };
    let (sampled, note) = run(&[], "s.json");
    assert!(note.contains("nudging 256"), "{note}");
    let (all, _) = run(&["--points", "0:600"], "a.json");
    let rows: Vec<usize> = sampled["nudged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(rows.len(), 256);
    assert_eq!(rows[1], 2); // ⌊1 · 600 / 256⌋
    let (ms, ma) = (
        &sampled["pipelines"][0]["matrix"],
        &all["pipelines"][0]["matrix"],
    );
    assert_eq!(ms.as_array().unwrap().len(), 256);
    assert_eq!(ms[0].as_array().unwrap().len(), 600);
    for (r, &k) in rows.iter().enumerate() {
        assert_eq!(ms[r], ma[k], "row of point {k}");
    }
    assert_eq!(
        sampled["pipelines"][0]["sweep"].as_array().unwrap().len(),
        256
    );
}

/// `align --report` and `--rmsf` write the same bytes whatever the thread count and chunk size
/// (the per-frame sums run in parallel, each frame's in a fixed order, and the RMSF update
/// runs per coordinate in frame order), with a Kabsch reference and with the aligned first
/// frame as the reference, and with a NaN frame passed through.
#[test]
fn align_report_bytes_do_not_depend_on_threads_or_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let (frames, n, d) = (47, 400, 3);
    let mut x = common::drifting(frames, n, d, 23);
    x[(20 * n + 399) * d] = f64::NAN;
    let input = dir.path().join("t.npy");
    std::fs::write(&input, npy(Enc::F64Le, &[frames, n, d], &x)).unwrap();
    for pipeline in [
        &["--center", "com", "--rotate", "kabsch"][..],
        &["--center", "com", "--rotate", "principal"],
    ] {
        let mut outputs = Vec::new();
        for (threads, chunk) in [("1", None), ("2", None), ("2", Some("1")), ("1", Some("7"))] {
            let tag = format!("{threads}-{}", chunk.unwrap_or("d"));
            let (report, rmsf) = (
                dir.path().join(format!("r{tag}.json")),
                dir.path().join(format!("f{tag}.csv")),
            );
            let mut c = cmd();
            c.arg("align")
                .arg(&input)
                .args(pipeline)
                .args(["--allow-nonfinite", "-q", "--threads", threads, "-o"])
                .arg(dir.path().join(format!("o{tag}.npy")))
                .arg("--report")
                .arg(&report)
                .arg("--rmsf")
                .arg(&rmsf);
            if let Some(chunk) = chunk {
                c.args(["--chunk-frames", chunk]);
            }
            c.assert().success();
            outputs.push((
                tag,
                std::fs::read(&report).unwrap(),
                std::fs::read(&rmsf).unwrap(),
            ));
        }
        let json: Value = serde_json::from_slice(&outputs[0].1).unwrap();
        assert_eq!(json["rows"].as_array().unwrap().len(), frames);
        for (tag, report, rmsf) in &outputs[1..] {
            assert!(
                report == &outputs[0].1,
                "{pipeline:?} {tag}: report differs"
            );
            assert!(rmsf == &outputs[0].2, "{pipeline:?} {tag}: RMSF differs");
        }
    }
}
