//! SPEC §5 for centering: every bad input exits 1 with one `error:` line naming the file, the
//! array and the problem, writes nothing, and leaves an existing output file byte-for-byte
//! untouched (and no temporary file behind).

mod common;

use common::*;
use std::path::{Path, PathBuf};

const SHAPE: [usize; 3] = [10, 5, 3];

/// A temporary folder with a good trajectory `good.npz` (10 × 5 × 3 f64).
struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Case {
        let c = Case {
            dir: tempfile::tempdir().unwrap(),
        };
        write_traj(&c.path("good.npz"), Enc::F64Le, SHAPE, &good());
        c
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, bytes: Vec<u8>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn npz(&self, name: &str, members: &[Member<'_>]) -> PathBuf {
        let p = self.path(name);
        write_npz(&p, members);
        p
    }

    /// Runs `aligntraj ARGS -o OUT` twice, first with no OUT, then with an existing OUT, and
    /// checks both failures (see the module comment). `needles` must all appear in the error.
    fn rejects(&self, args: &[&str], stdin: Option<Vec<u8>>, needles: &[&str]) {
        let out = self.path("out.npz");
        let sentinel = b"an existing output, not to be touched".to_vec();
        for existing in [false, true] {
            let _ = std::fs::remove_file(&out);
            if existing {
                std::fs::write(&out, &sentinel).unwrap();
            }
            let before = dir_listing(self.dir.path());
            let mut c = cmd();
            c.args(args).arg("-o").arg(&out);
            if let Some(bytes) = &stdin {
                c.write_stdin(bytes.clone());
            }
            let assert = c.assert().code(1).stdout("");
            let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
            assert_one_line_error(&stderr, needles, args);
            assert_eq!(
                dir_listing(self.dir.path()),
                before,
                "{args:?}: files changed"
            );
            if existing {
                assert_eq!(
                    std::fs::read(&out).unwrap(),
                    sentinel,
                    "{args:?}: output touched"
                );
            } else {
                assert!(!out.exists(), "{args:?}: output created");
            }
        }
    }
}

fn assert_one_line_error(stderr: &str, needles: &[&str], args: &[&str]) {
    assert!(
        stderr.starts_with("error: ") && stderr.ends_with('\n') && stderr.lines().count() == 1,
        "{args:?}: not one error line: {stderr:?}"
    );
    for n in needles {
        assert!(
            stderr.to_lowercase().contains(&n.to_lowercase()),
            "{args:?}: error {stderr:?} does not mention {n:?}"
        );
    }
}

fn good() -> Vec<f64> {
    drifting(SHAPE[0], SHAPE[1], SHAPE[2], 1)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn missing_file() {
    let c = Case::new();
    let p = c.path("missing.npz");
    c.rejects(
        &["center", "--com", s(&p)],
        None,
        &["missing.npz", "no such file"],
    );
}

#[test]
fn directory_instead_of_file() {
    let c = Case::new();
    let d = c.path("adir");
    std::fs::create_dir(&d).unwrap();
    c.rejects(&["center", "--com", s(&d)], None, &["adir", "directory"]);
}

#[test]
fn not_a_zip_or_npy() {
    let c = Case::new();
    let p = c.write("junk.npz", b"x,y\n1,2\n".to_vec());
    c.rejects(
        &["center", "--com", s(&p)],
        None,
        &["junk.npz", "not an .npz"],
    );
    let p = c.write("empty.npz", Vec::new());
    c.rejects(
        &["center", "--com", s(&p)],
        None,
        &["empty.npz", "not an .npz"],
    );
    // Empty standard input.
    c.rejects(
        &["center", "--com"],
        Some(Vec::new()),
        &["<stdin>", "empty"],
    );
    c.rejects(
        &["center", "--com"],
        Some(b"hello".to_vec()),
        &["<stdin>", "not an .npz"],
    );
}

#[test]
fn truncated_zip() {
    let c = Case::new();
    let whole = std::fs::read(c.path("good.npz")).unwrap();
    for keep in [whole.len() / 2, whole.len() - 10] {
        let p = c.write("trunc.npz", whole[..keep].to_vec());
        c.rejects(&["center", "--com", s(&p)], None, &["trunc.npz", "zip"]);
    }
    // A bare .npy whose data stop early (header says 10 frames, 6½ are there).
    let full = npy(Enc::F64Le, &SHAPE, &good());
    let p = c.write("cut.npy", full[..full.len() - 420].to_vec());
    c.rejects(
        &["center", "--com", s(&p)],
        None,
        &["cut.npy", "'arr'", "truncated"],
    );
}

/// The offset of the `k`-th data byte of the first stored `.npy` member of `zip`.
fn data_offset(zip: &[u8], k: usize) -> usize {
    let magic = zip.windows(6).position(|w| w == b"\x93NUMPY").unwrap();
    let hlen = u16::from_le_bytes([zip[magic + 8], zip[magic + 9]]) as usize;
    magic + 10 + hlen + k
}

#[test]
fn corrupt_member_data_fails_the_crc() {
    let c = Case::new();
    let mut bytes = std::fs::read(c.path("good.npz")).unwrap();
    // Flip the lowest mantissa byte of element 34 (frame 2): a finite, plausible number, so
    // only the zip CRC can tell.
    let i = data_offset(&bytes, 34 * 8);
    bytes[i] ^= 0x01;
    let p = c.write("crc.npz", bytes);
    for chunk in ["1", "4", "100"] {
        c.rejects(
            &["center", "--com", s(&p), "--chunk-frames", chunk],
            None,
            &["crc.npz", "'arr'", "CRC"],
        );
    }
    // The same through standard input.
    let bytes = std::fs::read(&p).unwrap();
    c.rejects(
        &["center", "--com"],
        Some(bytes),
        &["<stdin>", "'arr'", "CRC"],
    );
}

#[test]
fn corrupt_deflated_member() {
    let c = Case::new();
    let mut bytes = npz_bytes(&[deflated("arr.npy", npy(Enc::F64Le, &SHAPE, &good()))]);
    // Damage the compressed stream near its end (past the npy header).
    let end = bytes.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
    bytes[end - 20] ^= 0x55;
    let p = c.write("defl.npz", bytes);
    let out = c.path("o.npz");
    let assert = cmd()
        .args(["center", "--com"])
        .arg(&p)
        .arg("-o")
        .arg(&out)
        .assert()
        .code(1);
    let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    assert_one_line_error(&stderr, &["defl.npz", "'arr'"], &[]);
    assert!(
        stderr.contains("corrupt") || stderr.contains("truncated"),
        "{stderr}"
    );
    assert!(!out.exists());
}

#[test]
fn no_suitable_member() {
    let c = Case::new();
    let p = c.npz(
        "nosuit.npz",
        &[
            stored("a.npy", npy(Enc::F64Le, &[3], &[1., 2., 3.])),
            stored("b.npy", npy(Enc::F64Le, &[2, 2], &[0.; 4])),
        ],
    );
    // The error lists the members and their shapes.
    c.rejects(
        &["center", "--com", s(&p)],
        None,
        &["nosuit.npz", "a (3,)", "b (2, 2)"],
    );
    // Two candidates, and neither called arr.
    let p = c.npz(
        "two.npz",
        &[
            stored("a.npy", npy(Enc::F64Le, &[1, 2, 2], &[0.; 4])),
            stored("b.npy", npy(Enc::F64Le, &[1, 2, 2], &[0.; 4])),
        ],
    );
    c.rejects(&["center", "--com", s(&p)], None, &["two.npz", "--key"]);
    // A --key that is not there.
    let g = c.path("good.npz");
    c.rejects(
        &["center", "--com", "--key", "pos", s(&g)],
        None,
        &["good.npz", "'pos'"],
    );
    // An archive with no arrays at all.
    let p = c.npz("none.npz", &[]);
    c.rejects(&["center", "--com", s(&p)], None, &["none.npz"]);
}

#[test]
fn wrong_shapes() {
    let c = Case::new();
    let cases: [(&str, &[usize], &str); 5] = [
        ("nd2.npz", &[10, 15], "2-D"),
        ("nd4.npz", &[2, 3, 2, 2], "4-D"),
        ("dims1.npz", &[10, 5, 1], "dims 1"),
        ("frames0.npz", &[0, 5, 3], "zero frames"),
        ("points0.npz", &[10, 0, 3], "zero points"),
    ];
    for (name, shape, problem) in cases {
        let n: usize = shape.iter().product();
        let p = c.npz(
            name,
            &[stored("arr.npy", npy(Enc::F64Le, shape, &vec![0.5; n]))],
        );
        c.rejects(&["center", "--com", s(&p)], None, &[name, "'arr'", problem]);
    }
}

#[test]
fn non_float_dtypes() {
    let c = Case::new();
    for (descr, size, problem) in [
        ("<i8", 8, "integer"),
        ("<u2", 2, "integer"),
        ("<c16", 16, "complex"),
        ("|b1", 1, "boolean"),
        ("<f2", 2, "float"),
    ] {
        let data = vec![0u8; 2 * 3 * 2 * size];
        let p = c.npz(
            "t.npz",
            &[stored("arr.npy", npy_raw(descr, false, &[2, 3, 2], &data))],
        );
        c.rejects(
            &["center", "--com", s(&p)],
            None,
            &["t.npz", "'arr'", descr, problem],
        );
    }
    // An object array (numpy would store pickles after the header; the header alone must
    // already be refused).
    let p = c.npz(
        "obj.npz",
        &[stored("arr.npy", npy_raw("|O", false, &[2, 3, 2], b"junk"))],
    );
    c.rejects(
        &["center", "--com", "--key", "arr", s(&p)],
        None,
        &["obj.npz", "'arr'", "object"],
    );
}

#[test]
fn point_index_out_of_range() {
    let c = Case::new();
    let g = c.path("good.npz");
    // Points are 0..4.
    c.rejects(
        &["center", s(&g), "--point", "5"],
        None,
        &["point 5", "out of range"],
    );
    c.rejects(
        &["center", "--com", "--fit-points", "0:2,5", s(&g)],
        None,
        &["fit points", "5", "out of range"],
    );
    c.rejects(
        &["center", "--com", "--fit-points", "2:9", s(&g)],
        None,
        &["fit points", "2:9"],
    );
}

#[test]
fn bad_masses() {
    let c = Case::new();
    let x = good();
    let p = c.npz(
        "m.npz",
        &[
            stored("arr.npy", npy(Enc::F64Le, &SHAPE, &x)),
            stored("short.npy", npy(Enc::F64Le, &[4], &[1.; 4])),
            stored("square.npy", npy(Enc::F64Le, &[5, 5], &[1.; 25])),
            stored("neg.npy", npy(Enc::F64Le, &[5], &[1., 2., -0.5, 1., 1.])),
            stored(
                "nan.npy",
                npy(Enc::F64Le, &[5], &[1., 2., f64::NAN, 1., 1.]),
            ),
            stored("zero.npy", npy(Enc::F64Le, &[5], &[0.; 5])),
        ],
    );
    let f = s(&p);
    c.rejects(
        &["center", "--com", "--masses", "short", f],
        None,
        &["m.npz", "'short'", "(4,)", "5 points"],
    );
    c.rejects(
        &["center", "--com", "--masses", "square", f],
        None,
        &["m.npz", "'square'", "(5, 5)"],
    );
    c.rejects(
        &["center", "--com", "--masses", "neg", f],
        None,
        &["m.npz", "'neg'", "point 2", "-0.5"],
    );
    c.rejects(
        &["center", "--com", "--masses", "nan", f],
        None,
        &["m.npz", "'nan'", "NaN"],
    );
    c.rejects(
        &["center", "--com", "--masses", "zero", f],
        None,
        &["m.npz", "'zero'", "zero"],
    );
    c.rejects(
        &["center", "--com", "--masses", "nothere", f],
        None,
        &["nothere", "m.npz"],
    );
    // Weights all zero on the fit set only.
    let q = c.npz(
        "mz.npz",
        &[
            stored("arr.npy", npy(Enc::F64Le, &SHAPE, &x)),
            stored("w.npy", npy(Enc::F64Le, &[5], &[0., 0., 1., 1., 1.])),
        ],
    );
    c.rejects(
        &[
            "center",
            "--com",
            "--masses",
            "w",
            "--fit-points",
            "0:2",
            s(&q),
        ],
        None,
        &["sum to 0"],
    );
    // A .npy file of the wrong length.
    let m = c.write("m3.npy", npy(Enc::F64Le, &[3], &[1.; 3]));
    c.rejects(
        &["center", "--com", "--masses", s(&m), f],
        None,
        &["m3.npy", "(3,)"],
    );
}

#[test]
fn nonfinite_coordinates() {
    let c = Case::new();
    let [_, np, nd] = SHAPE;
    for (name, bad) in [("nan.npz", f64::NAN), ("inf.npz", f64::NEG_INFINITY)] {
        let mut x = good();
        x[(7 * np + 3) * nd + 2] = bad;
        let p = c.npz(name, &[stored("arr.npy", npy(Enc::F64Le, &SHAPE, &x))]);
        // Also with small chunks: the bad frame comes after output has started.
        for chunk in ["1", "1000"] {
            c.rejects(
                &["center", "--com", s(&p), "--chunk-frames", chunk],
                None,
                &[name, "'arr'", "frame 7", "point 3", "--allow-nonfinite"],
            );
        }
    }
}

#[test]
fn output_equal_to_input() {
    let c = Case::new();
    let g = c.path("good.npz");
    let before = std::fs::read(&g).unwrap();
    let listing = dir_listing(c.dir.path());
    let dotted = c.dir.path().join(".").join("good.npz");
    let link = c.path("link.npz");
    std::os::unix::fs::symlink(&g, &link).unwrap();
    let listing_with_link = dir_listing(c.dir.path());
    for (input, out) in [(&g, &g), (&g, &dotted), (&link, &g)] {
        let assert = cmd()
            .args(["center", "--com"])
            .arg(input)
            .arg("-o")
            .arg(out)
            .assert()
            .code(1)
            .stdout("");
        let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
        assert_one_line_error(&stderr, &["good.npz", "input"], &[]);
        assert_eq!(std::fs::read(&g).unwrap(), before, "input changed");
        assert_eq!(dir_listing(c.dir.path()), listing_with_link);
    }
    assert_eq!(listing.len() + 1, listing_with_link.len());
}

#[test]
fn output_folder_missing() {
    let c = Case::new();
    let g = c.path("good.npz");
    let out = c.path("nope").join("out.npz");
    let assert = cmd()
        .args(["center", "--com"])
        .arg(&g)
        .arg("-o")
        .arg(&out)
        .assert()
        .code(1)
        .stdout("");
    let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    assert_one_line_error(&stderr, &["nope", "out.npz", "no such file"], &[]);
    assert!(!c.path("nope").exists());
}

#[test]
fn usage_errors_exit_2() {
    // clap's own errors: no --com/--point, or an unknown flag.
    let c = Case::new();
    let g = c.path("good.npz");
    cmd().arg("center").arg(&g).assert().code(2);
    cmd()
        .args(["center", "--com", "--bogus"])
        .arg(&g)
        .assert()
        .code(2);
}

#[test]
fn failed_run_to_stdout_is_not_a_complete_archive() {
    // The error comes after output has started (chunks of 1 frame, NaN in frame 7). Whatever
    // reached standard output must not read back as a finished archive: a reader downstream
    // would otherwise take a truncated trajectory for a whole one.
    let c = Case::new();
    let [_, np, nd] = SHAPE;
    let mut x = good();
    x[(7 * np + 3) * nd] = f64::NAN;
    let p = c.npz(
        "nan.npz",
        &[
            stored("arr.npy", npy(Enc::F64Le, &SHAPE, &x)),
            stored("t.npy", npy(Enc::F64Le, &[2], &[1., 2.])),
        ],
    );
    let assert = cmd()
        .args(["center", "--com", "--chunk-frames", "1"])
        .arg(&p)
        .assert()
        .code(1);
    let out = assert.get_output();
    assert_one_line_error(
        &String::from_utf8_lossy(&out.stderr),
        &["nan.npz", "frame 7"],
        &[],
    );
    assert!(
        zip::ZipArchive::new(std::io::Cursor::new(&out.stdout)).is_err(),
        "a failed run wrote a readable archive ({} bytes) to standard output",
        out.stdout.len()
    );
    // Piped into a second aligntraj, the failure shows there as a broken input, not as data.
    cmd()
        .args(["center", "--point", "0"])
        .arg("-o")
        .arg(c.path("b.npz"))
        .write_stdin(out.stdout.clone())
        .assert()
        .code(1);
    assert!(!c.path("b.npz").exists());
}

#[test]
fn corrupt_masses_member() {
    // Masses 1, 1, 1, 1, 2 with the lowest byte of the first mass flipped: still a plausible
    // positive number, so only the zip CRC shows the damage.
    let c = Case::new();
    let mut bytes = npz_bytes(&[
        stored("arr.npy", npy(Enc::F64Le, &SHAPE, &good())),
        stored("w.npy", npy(Enc::F64Le, &[5], &[1., 1., 1., 1., 2.])),
    ]);
    let second = bytes
        .windows(6)
        .enumerate()
        .filter(|(_, w)| *w == b"\x93NUMPY")
        .nth(1)
        .unwrap()
        .0;
    let i = data_offset(&bytes[second..], 0) + second;
    bytes[i] ^= 0x01;
    let p = c.write("cm.npz", bytes);
    c.rejects(
        &["center", "--com", "--masses", "w", s(&p)],
        None,
        &["cm.npz", "masses 'w'", "CRC"],
    );
}
