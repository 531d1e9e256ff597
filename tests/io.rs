//! Inputs and outputs: dtypes, byte orders, layouts, containers, extra members, standard
//! streams, pipes, chunking and `info`. Expected values come from `common::expected_com`
//! (plain loops over the fixture's own numbers).

mod common;

use common::*;
use predicates::prelude::*;
use std::io::{Cursor, Read};
use std::path::Path;

const SHAPE: [usize; 3] = [9, 4, 3];

fn fixture() -> Vec<f64> {
    drifting(SHAPE[0], SHAPE[1], SHAPE[2], 42)
}

/// `center --com IN -o OUT`, returning the output file's bytes.
fn com_file(input: &Path, out: &Path) -> Vec<u8> {
    cmd()
        .args(["center", "--com"])
        .arg(input)
        .arg("-o")
        .arg(out)
        .assert()
        .success()
        .stdout("")
        .stderr("");
    std::fs::read(out).unwrap()
}

/// Writes `input_bytes`, centres it, and checks dtype, layout, shape and values.
fn check_round_trip(name: &str, input_bytes: Vec<u8>, x: &[f64], out_descr: &str, tol: f64) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join(name);
    std::fs::write(&input, input_bytes).unwrap();
    let out = com_file(&input, &dir.path().join("out.npz"));
    let y = npz_array(&out, "arr");
    assert_eq!(y.descr, out_descr, "{name}: dtype");
    assert!(!y.fortran, "{name}: output is C order");
    assert_eq!(y.shape, SHAPE.to_vec(), "{name}: shape");
    let expected = expected_com(x, SHAPE, None, None);
    let err = max_abs_diff(&y.values, &expected);
    assert!(err <= tol, "{name}: max error {err:e}");
}

#[test]
fn f64_in_f64_out() {
    let x = fixture();
    let bytes = npz_bytes(&[stored("arr.npy", npy(Enc::F64Le, &SHAPE, &x))]);
    check_round_trip("f64.npz", bytes, &x, "<f8", 1e-13);
}

#[test]
fn f32_in_f32_out() {
    // The reference is computed in f64 from the f32 values; the output is rounded once to f32,
    // so it is within half an f32 ulp (|values| < 8 → 2^-21) of the reference.
    let x: Vec<f64> = fixture().iter().map(|&v| v as f32 as f64).collect();
    let bytes = npz_bytes(&[stored("arr.npy", npy(Enc::F32Le, &SHAPE, &x))]);
    check_round_trip("f32.npz", bytes, &x, "<f4", 2f64.powi(-21));
}

#[test]
fn deflated_input() {
    let x = fixture();
    let bytes = npz_bytes(&[deflated("arr.npy", npy(Enc::F64Le, &SHAPE, &x))]);
    check_round_trip("deflated.npz", bytes, &x, "<f8", 1e-13);
}

#[test]
fn big_endian_input_keeps_its_dtype() {
    let x = fixture();
    let bytes = npz_bytes(&[stored("arr.npy", npy(Enc::F64Be, &SHAPE, &x))]);
    check_round_trip("be64.npz", bytes, &x, ">f8", 1e-13);
    let x32: Vec<f64> = x.iter().map(|&v| v as f32 as f64).collect();
    let bytes = npz_bytes(&[deflated("arr.npy", npy(Enc::F32Be, &SHAPE, &x32))]);
    check_round_trip("be32.npz", bytes, &x32, ">f4", 2f64.powi(-21));
}

#[test]
fn fortran_order_input() {
    let x = fixture();
    let bytes = npz_bytes(&[stored("arr.npy", npy_fortran3(Enc::F64Le, SHAPE, &x))]);
    check_round_trip("fortran.npz", bytes, &x, "<f8", 1e-13);
    // A bare Fortran-order float32 .npy too.
    let x32: Vec<f64> = x.iter().map(|&v| v as f32 as f64).collect();
    check_round_trip(
        "fortran.npy",
        npy_fortran3(Enc::F32Le, SHAPE, &x32),
        &x32,
        "<f4",
        2f64.powi(-21),
    );
}

#[test]
fn npy_input() {
    let x = fixture();
    check_round_trip("traj.npy", npy(Enc::F64Le, &SHAPE, &x), &x, "<f8", 1e-13);
    // The output is an npz whose only member is arr.npy.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("t.npy");
    std::fs::write(&input, npy(Enc::F64Le, &SHAPE, &x)).unwrap();
    let out = com_file(&input, &dir.path().join("out.npz"));
    let names: Vec<String> = zip_members(&out).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["arr.npy"]);
}

#[test]
fn extra_members_survive_byte_for_byte() {
    let x = fixture();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.npz");
    let times: Vec<f64> = (0..SHAPE[0]).map(|i| 0.5 * i as f64).collect();
    write_npz(
        &input,
        &[
            deflated("times.npy", npy(Enc::F64Le, &[SHAPE[0]], &times)),
            stored("arr.npy", npy(Enc::F64Le, &SHAPE, &x)),
            stored(
                "box.npy",
                npy(Enc::F32Be, &[3, 3], &[1., 0., 0., 0., 2., 0., 0., 0., 3.]),
            ),
            deflated(
                "masses.npy",
                npy(Enc::F64Le, &[SHAPE[1]], &[1., 2., 3., 4.]),
            ),
            stored("label.npy", npy_raw("<i8", false, &[2], &[7u8; 16])),
        ],
    );
    let out = com_file(&input, &dir.path().join("out.npz"));
    let in_bytes = std::fs::read(&input).unwrap();
    let mut a = zip::ZipArchive::new(Cursor::new(&in_bytes)).unwrap();
    let mut b = zip::ZipArchive::new(Cursor::new(&out)).unwrap();
    let mut in_names: Vec<String> = a.file_names().map(str::to_string).collect();
    let mut out_names: Vec<String> = b.file_names().map(str::to_string).collect();
    in_names.sort();
    out_names.sort();
    assert_eq!(in_names, out_names, "same members");
    for name in in_names.iter().filter(|n| *n != "arr.npy") {
        // Raw (still compressed) bytes, compression method and CRC are identical …
        let raw = |z: &mut zip::ZipArchive<Cursor<&Vec<u8>>>| {
            let i = z.index_for_name(name).unwrap();
            let mut f = z.by_index_raw(i).unwrap();
            let mut v = Vec::new();
            f.read_to_end(&mut v).unwrap();
            (v, f.compression(), f.crc32())
        };
        assert_eq!(raw(&mut a), raw(&mut b), "member {name}");
        // … and so are the decompressed contents.
        assert_eq!(
            zip_member(&in_bytes, name),
            zip_member(&out, name),
            "{name}"
        );
    }
    // The trajectory itself was centred.
    let y = npz_array(&out, "arr");
    assert!(max_abs_diff(&y.values, &expected_com(&x, SHAPE, None, None)) <= 1e-13);
}

#[test]
fn key_is_chosen_and_kept() {
    let x = fixture();
    let other = drifting(SHAPE[0], SHAPE[1], SHAPE[2], 99);
    let dir = tempfile::tempdir().unwrap();
    // Without `arr`, the only 3-D float member is the trajectory; its key is kept.
    let input = dir.path().join("pos.npz");
    write_npz(
        &input,
        &[
            stored(
                "masses.npy",
                npy(Enc::F64Le, &[SHAPE[1]], &[1., 1., 1., 1.]),
            ),
            stored("positions.npy", npy(Enc::F64Le, &SHAPE, &x)),
        ],
    );
    let out = com_file(&input, &dir.path().join("out.npz"));
    let y = npz_array(&out, "positions");
    assert!(max_abs_diff(&y.values, &expected_com(&x, SHAPE, None, None)) <= 1e-13);
    // With `arr` and `--key other`, `other` is centred and `arr` copied unchanged.
    let input = dir.path().join("two.npz");
    write_npz(
        &input,
        &[
            stored("arr.npy", npy(Enc::F64Le, &SHAPE, &x)),
            stored("other.npy", npy(Enc::F64Le, &SHAPE, &other)),
        ],
    );
    let out = dir.path().join("out2.npz");
    cmd()
        .args(["center", "--com", "--key", "other"])
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    let out = std::fs::read(&out).unwrap();
    let y = npz_array(&out, "other");
    assert!(max_abs_diff(&y.values, &expected_com(&other, SHAPE, None, None)) <= 1e-13);
    assert_eq!(npz_array(&out, "arr").values, x);
}

#[test]
fn stdin_to_stdout() {
    let x = fixture();
    let input = npz_bytes(&[
        stored("arr.npy", npy(Enc::F64Le, &SHAPE, &x)),
        deflated("t.npy", npy(Enc::F64Le, &[2], &[1.0, 2.0])),
    ]);
    let expected = expected_com(&x, SHAPE, None, None);
    // No IN (stdin is not a terminal), and `-`; no -o (stdout is not a terminal), and `-o -`.
    for args in [
        vec!["center", "--com"],
        vec!["center", "--com", "-"],
        vec!["center", "--com", "-", "-o", "-"],
    ] {
        let out = cmd()
            .args(&args)
            .write_stdin(input.clone())
            .assert()
            .success()
            .stderr("")
            .get_output()
            .stdout
            .clone();
        let y = npz_array(&out, "arr");
        assert_eq!(y.shape, SHAPE.to_vec(), "{args:?}");
        assert!(max_abs_diff(&y.values, &expected) <= 1e-13, "{args:?}");
        assert_eq!(zip_member(&out, "t.npy"), zip_member(&input, "t.npy"));
    }
    // A bare .npy on standard input as well.
    let out = cmd()
        .args(["center", "--com"])
        .write_stdin(npy(Enc::F32Le, &SHAPE, &x))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(npz_array(&out, "arr").descr, "<f4");
}

#[test]
fn pipe_center_com_into_center_point() {
    // `aligntraj center --com a.npz | aligntraj center --point 0 -o b.npz`
    let x = fixture();
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.npz");
    write_traj(&a, Enc::F64Le, SHAPE, &x);
    let first = cmd()
        .args(["center", "--com"])
        .arg(&a)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let b = dir.path().join("b.npz");
    cmd()
        .args(["center", "--point", "0", "-o"])
        .arg(&b)
        .write_stdin(first)
        .assert()
        .success()
        .stderr("");
    // Reference: y = X − c, then z = y − y₀, by loops.
    let y = expected_com(&x, SHAPE, None, None);
    let [nf, np, nd] = SHAPE;
    let mut z = y.clone();
    for f in 0..nf {
        for p in 0..np {
            for d in 0..nd {
                z[(f * np + p) * nd + d] = y[(f * np + p) * nd + d] - y[f * np * nd + d];
            }
        }
    }
    let got = read_array(&b, "arr");
    assert!(max_abs_diff(&got.values, &z) <= 1e-13);
    assert!((0..nf).all(|f| (0..nd).all(|d| got.values[f * np * nd + d] == 0.0)));
}

fn run_bytes(input: &Path, extra: &[&str], out: &Path) -> Vec<u8> {
    cmd()
        .arg("center")
        .arg(input)
        .args(extra)
        .arg("-o")
        .arg(out)
        .assert()
        .success();
    std::fs::read(out).unwrap()
}

#[test]
fn chunked_runs_match_one_chunk_chain2d() {
    // 2048 frames: --chunk-frames 1 and 7 read many chunks (the last one partial), 2048 one.
    let input = project_file("data/chain2d.npz");
    let dir = tempfile::tempdir().unwrap();
    let o = |n: &str| dir.path().join(format!("{n}.npz"));
    let one = run_bytes(&input, &["--com", "--chunk-frames", "2048"], &o("one"));
    for extra in [
        &["--com", "--chunk-frames", "1"][..],
        &["--com", "--chunk-frames", "7"],
        &["--com"],
        &["--com", "--chunk-frames", "7", "--threads", "1"],
    ] {
        assert!(
            one == run_bytes(&input, extra, &o("many")),
            "{extra:?} differs from one chunk"
        );
    }
}

#[test]
fn chunked_runs_match_one_chunk_big_input() {
    // 300 frames × 2000 points × 3 dims: the default chunk (≈ 4 MiB of f64 = 87 frames) is
    // smaller than the input, so the default run reads 4 chunks; compare with one 300-frame chunk.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("big.npz");
    cmd()
        .args([
            "generate", "--kind", "blob3d", "--frames", "300", "--points", "2000",
        ])
        .args(["--dims", "3", "--dtype", "f32", "-o"])
        .arg(&input)
        .assert()
        .success();
    let o = |n: &str| dir.path().join(format!("{n}.npz"));
    for how in [&["--com", "--masses", "masses"][..], &["--point", "5"]] {
        let one = run_bytes(
            &input,
            &[how, &["--chunk-frames", "300"]].concat(),
            &o("one"),
        );
        let default = run_bytes(&input, how, &o("default"));
        let seven = run_bytes(
            &input,
            &[how, &["--chunk-frames", "7"]].concat(),
            &o("seven"),
        );
        assert!(
            one == default,
            "{how:?}: default chunking differs from one chunk"
        );
        assert!(
            one == seven,
            "{how:?}: 7-frame chunks differ from one chunk"
        );
    }
}

#[test]
fn info_prints_members_shape_dtype_key() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.npz");
    let x = fixture();
    write_npz(
        &input,
        &[
            stored("arr.npy", npy(Enc::F32Le, &SHAPE, &x)),
            deflated(
                "masses.npy",
                npy(Enc::F64Le, &[SHAPE[1]], &[1., 2., 3., 4.]),
            ),
        ],
    );
    cmd().arg("info").arg(&input).assert().success().stdout(
        predicate::str::contains("arr")
            .and(predicate::str::contains("(9, 4, 3)"))
            .and(predicate::str::contains("<f4"))
            .and(predicate::str::contains("masses"))
            .and(predicate::str::contains("(4,)"))
            .and(predicate::str::contains("<f8"))
            .and(predicate::str::is_match(r"(?m)^key\s+arr$").unwrap())
            .and(predicate::str::is_match(r"(?m)^frames\s+9$").unwrap())
            .and(predicate::str::is_match(r"(?m)^points\s+4$").unwrap())
            .and(predicate::str::is_match(r"(?m)^dims\s+3$").unwrap())
            .and(predicate::str::contains("float32")),
    );
    // From standard input, a bare .npy, and a chosen key.
    cmd()
        .arg("info")
        .write_stdin(npy(Enc::F64Be, &SHAPE, &x))
        .assert()
        .success()
        .stdout(predicate::str::contains(">f8").and(predicate::str::contains("(9, 4, 3)")));
    let two = dir.path().join("two.npz");
    write_npz(
        &two,
        &[
            stored("a.npy", npy(Enc::F64Le, &SHAPE, &x)),
            stored("b.npy", npy(Enc::F64Le, &[2, 5, 2], &[0.0; 20])),
        ],
    );
    cmd()
        .args(["info", "--key", "b"])
        .arg(&two)
        .assert()
        .success()
        .stdout(
            predicate::str::is_match(r"(?m)^key\s+b$")
                .unwrap()
                .and(predicate::str::is_match(r"(?m)^frames\s+2$").unwrap()),
        );
}

#[test]
fn quiet_run_prints_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.npz");
    write_traj(&input, Enc::F64Le, SHAPE, &fixture());
    cmd()
        .args(["center", "--com", "--quiet"])
        .arg(&input)
        .arg("-o")
        .arg(dir.path().join("o.npz"))
        .assert()
        .success()
        .stdout("")
        .stderr("");
}

#[test]
fn nonfinite_frames_pass_through_with_allow_nonfinite() {
    // Frame 4 point 2 is NaN: with --allow-nonfinite that frame is copied unchanged, the
    // others are centred.
    let mut x = fixture();
    let [_, np, nd] = SHAPE;
    x[(4 * np + 2) * nd + 1] = f64::NAN;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("nan.npz");
    write_traj(&input, Enc::F64Le, SHAPE, &x);
    let out = dir.path().join("o.npz");
    cmd()
        .args(["center", "--com", "--allow-nonfinite"])
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    let y = read_array(&out, "arr").values;
    let expected = expected_com(&x, SHAPE, None, None);
    let frame = np * nd;
    for f in 0..SHAPE[0] {
        let (a, b) = (
            &y[f * frame..(f + 1) * frame],
            &x[f * frame..(f + 1) * frame],
        );
        if f == 4 {
            assert!(a
                .iter()
                .zip(b)
                .all(|(p, q)| p == q || (p.is_nan() && q.is_nan())));
        } else {
            assert!(max_abs_diff(a, &expected[f * frame..(f + 1) * frame]) <= 1e-13);
        }
    }
}
