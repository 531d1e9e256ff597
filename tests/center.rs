//! `aligntraj center`: the numbers. Every expected value is computed here by plain loops
//! (`common::expected_com`) or by hand, never by aligntraj's own code.

mod common;

use common::*;
use std::path::Path;

/// Runs `center IN ARGS -o OUT` and returns the output's `arr`. (IN goes first: a bare
/// `--point` would otherwise take IN as its value.)
fn center(input: &Path, args: &[&str], out: &Path) -> Array {
    cmd()
        .arg("center")
        .arg(input)
        .args(args)
        .arg("-o")
        .arg(out)
        .assert()
        .success()
        .stderr("");
    read_array(out, "arr")
}

fn shape3(a: &Array) -> [usize; 3] {
    a.shape.clone().try_into().expect("3-D")
}

/// Every frame's plain mean over points, per dimension, is 0 within `tol`.
fn assert_frame_means_zero(a: &Array, tol: f64) {
    let [nf, np, nd] = shape3(a);
    for f in 0..nf {
        for d in 0..nd {
            let mean = (0..np)
                .map(|p| a.values[(f * np + p) * nd + d])
                .sum::<f64>()
                / np as f64;
            assert!(mean.abs() <= tol, "frame {f} dim {d}: mean {mean:e}");
        }
    }
}

/// COM centering of a file: every frame's mean is 0 and the output is `X − mean(X, axis=1)`.
fn check_com_of(input: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.npz");
    let x = read_array(input, "arr");
    let y = center(input, &["--com"], &out);
    assert_eq!(y.shape, x.shape);
    assert_eq!(y.descr, x.descr);
    assert_frame_means_zero(&y, 1e-12);
    let expected = expected_com(&x.values, shape3(&x), None, None);
    let err = max_abs_diff(&y.values, &expected);
    assert!(err <= 1e-12, "max |out − (X − mean)| = {err:e}");
    // Not vacuous: the input itself is far from centred.
    assert!(max_abs_diff(&x.values, &expected) > 1e-3);
}

#[test]
fn needs_shared_com_centers_shared_paths() {
    let Some(paths) = shared_paths("needs_shared_com_centers_shared_paths") else {
        return;
    };
    let x = read_array(&paths, "arr");
    assert_eq!(x.shape, vec![2048, 12, 2]);
    check_com_of(&paths);
}

#[test]
fn com_centers_project_chain2d() {
    check_com_of(&project_file("data/chain2d.npz"));
}

#[test]
fn com_centers_generated_3d() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.npz");
    write_traj(&input, Enc::F64Le, [40, 9, 3], &drifting(40, 9, 3, 7));
    check_com_of(&input);
}

#[test]
fn com_mass_weighted_hand_example() {
    // Two frames of three 2-D points with masses 1, 1, 2 (total 4):
    //   frame 0: (0,0) (4,0) (0,6):    c = ((0+4+0)/4, (0+0+2·6)/4)       = (1, 3)
    //   frame 1: (10,-2) (14,-2) (10,4): c = ((10+14+2·10)/4, (-2-2+2·4)/4) = (11, 1)
    // so both frames become (-1,-3) (3,-3) (-1,3). Every number is exact in binary.
    let x = [0., 0., 4., 0., 0., 6., 10., -2., 14., -2., 10., 4.];
    let expected = [-1., -3., 3., -3., -1., 3., -1., -3., 3., -3., -1., 3.];
    let masses = [1.0, 1.0, 2.0];
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.npz");
    write_npz(
        &input,
        &[
            stored("arr.npy", npy(Enc::F64Le, &[2, 3, 2], &x)),
            stored("masses.npy", npy(Enc::F64Le, &[3], &masses)),
        ],
    );
    let out = dir.path().join("out.npz");
    // Masses from a member of the input …
    let y = center(&input, &["--com", "--masses", "masses"], &out);
    assert_eq!(y.values, expected);
    // … and from a separate .npy file (float32 here: 1, 1, 2 are exact).
    let mfile = dir.path().join("m.npy");
    std::fs::write(&mfile, npy(Enc::F32Le, &[3], &masses)).unwrap();
    let y = center(
        &input,
        &["--com", "--masses", mfile.to_str().unwrap()],
        &out,
    );
    assert_eq!(y.values, expected);
    // Masses with a fit set: only points 0 and 1 (masses 1, 1) define the centre:
    //   frame 0: c = ((0+4)/2, 0) = (2, 0)   → (-2,0) (2,0) (-2,6)
    //   frame 1: c = ((10+14)/2, -2) = (12, -2) → (-2,0) (2,0) (-2,6)
    let y = center(
        &input,
        &["--com", "--masses", "masses", "--fit-points", "0:2"],
        &out,
    );
    assert_eq!(
        y.values,
        [-2., 0., 2., 0., -2., 6., -2., 0., 2., 0., -2., 6.]
    );
    // Unweighted, for contrast: c = (4/3, 2) in frame 0, so the answer differs.
    let y = center(&input, &["--com"], &out);
    assert!((y.values[0] + 4.0 / 3.0).abs() < 1e-15 && (y.values[1] + 2.0).abs() < 1e-15);
}

#[test]
fn com_mass_weighted_generated_3d_with_stored_masses() {
    // Random masses (0.5 … 2.5, one of them 0) against the loop reference.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.npz");
    let (nf, np, nd) = (25, 7, 3);
    let x = drifting(nf, np, nd, 11);
    let mut m: Vec<f64> = noise(np, 5, 1.0).iter().map(|v| v + 1.5).collect();
    m[2] = 0.0;
    write_npz(
        &input,
        &[
            stored("arr.npy", npy(Enc::F64Le, &[nf, np, nd], &x)),
            deflated("w.npy", npy(Enc::F64Le, &[np], &m)),
        ],
    );
    let out = dir.path().join("out.npz");
    let y = center(&input, &["--com", "--masses", "w"], &out);
    let expected = expected_com(&x, [nf, np, nd], Some(&m), None);
    assert!(max_abs_diff(&y.values, &expected) <= 1e-12);
    // The weighted centre is not the plain mean.
    assert!(max_abs_diff(&y.values, &expected_com(&x, [nf, np, nd], None, None)) > 1e-3);
}

/// `--fit-points` moves the frame by the fit set's centroid: the output is `X − mean(X[fit])`,
/// and differs from plain COM centering by one translation per frame (the shape is untouched).
fn check_fit_points(input: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let x = read_array(input, "arr");
    let [nf, np, nd] = shape3(&x);
    let fit = [0, 1, 2, 7];
    let all = center(input, &["--com"], &dir.path().join("all.npz"));
    let sub = center(
        input,
        &["--com", "--fit-points", "0:3,7"],
        &dir.path().join("sub.npz"),
    );
    let expected = expected_com(&x.values, [nf, np, nd], None, Some(&fit));
    assert!(max_abs_diff(&sub.values, &expected) <= 1e-12);
    // The fit set's centroid is at the origin in every frame.
    for f in 0..nf {
        for d in 0..nd {
            let c: f64 = fit
                .iter()
                .map(|&p| sub.values[(f * np + p) * nd + d])
                .sum::<f64>()
                / 4.0;
            assert!(c.abs() <= 1e-12, "frame {f}: fit centroid {c:e}");
        }
    }
    // Only the centre changed: sub − all is the same vector for every point of a frame …
    let mut largest_shift: f64 = 0.0;
    for f in 0..nf {
        for d in 0..nd {
            let shift0 = sub.values[f * np * nd + d] - all.values[f * np * nd + d];
            for p in 0..np {
                let i = (f * np + p) * nd + d;
                assert!((sub.values[i] - all.values[i] - shift0).abs() <= 1e-12);
            }
            largest_shift = largest_shift.max(shift0.abs());
        }
    }
    // … and that vector is not zero: the flag did something.
    assert!(largest_shift > 1e-3, "fit set made no difference");
}

#[test]
fn needs_shared_fit_points_change_only_the_centre_shared_paths() {
    let Some(paths) = shared_paths("needs_shared_fit_points_change_only_the_centre_shared_paths")
    else {
        return;
    };
    check_fit_points(&paths);
}

#[test]
fn fit_points_change_only_the_centre_chain2d() {
    check_fit_points(&project_file("data/chain2d.npz"));
}

/// `--point 3`: `X − x_3`, computed by loops; point 3 lands exactly on the origin.
fn check_point3(input: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let x = read_array(input, "arr");
    let [nf, np, nd] = shape3(&x);
    let y = center(input, &["--point", "3"], &dir.path().join("p3.npz"));
    for f in 0..nf {
        for p in 0..np {
            for d in 0..nd {
                let i = (f * np + p) * nd + d;
                let want = x.values[i] - x.values[(f * np + 3) * nd + d];
                assert_eq!(y.values[i], want, "frame {f} point {p} dim {d}");
            }
        }
        assert!((0..nd).all(|d| y.values[(f * np + 3) * nd + d] == 0.0));
    }
    // `--point` alone means point 0.
    let y0 = center(input, &["--point"], &dir.path().join("p0.npz"));
    assert!((0..nf).all(|f| (0..nd).all(|d| y0.values[f * np * nd + d] == 0.0)));
    assert_ne!(y0.values, y.values);
}

#[test]
fn needs_shared_point3_shared_paths() {
    let Some(paths) = shared_paths("needs_shared_point3_shared_paths") else {
        return;
    };
    check_point3(&paths);
}

#[test]
fn point3_chain2d() {
    check_point3(&project_file("data/chain2d.npz"));
}

#[test]
fn point3_generated_3d_f32() {
    // float32 in: subtraction is done in f64, then rounded once to f32. With inputs that are
    // f32 values, x − x₃ is exact in f64, so the f32 result is the f32 rounding of that.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.npz");
    let (nf, np, nd) = (12, 5, 3);
    let x: Vec<f64> = drifting(nf, np, nd, 3)
        .iter()
        .map(|&v| v as f32 as f64)
        .collect();
    write_traj(&input, Enc::F32Le, [nf, np, nd], &x);
    let y = center(&input, &["--point", "3"], &dir.path().join("out.npz"));
    assert_eq!(y.descr, "<f4");
    for f in 0..nf {
        for p in 0..np {
            for d in 0..nd {
                let i = (f * np + p) * nd + d;
                let want = (x[i] - x[(f * np + 3) * nd + d]) as f32 as f64;
                assert_eq!(y.values[i], want);
            }
        }
    }
}
