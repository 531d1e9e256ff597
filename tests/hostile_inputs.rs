//! Regression tests for issue 9's hostile-input defects, each built from its reproduction: the
//! answer is exit 0 with a sound output or exit 1 with one short, escaped `error:` line; never
//! an abort, a panic, an allocation the file does not justify, or a leftover temporary file.

mod common;

use common::{deflated, dir_listing, npy, npy_raw, npz_bytes, stored, zip_members, Enc};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `aligntraj ARGS` in `dir` with at most 1 GiB of address space, `stdin` piped in if given.
fn run(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aligntraj"));
    cmd.args(args)
        .current_dir(dir)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit only affects the forked child.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 1 << 30,
                rlim_max: 1 << 30,
            };
            libc::setrlimit(libc::RLIMIT_AS, &lim);
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    if let Some(bytes) = stdin {
        let _ = child.stdin.take().unwrap().write_all(bytes);
    }
    child.wait_with_output().unwrap()
}

/// Exit 1 with one `error:` line of at most ~300 characters and no control characters.
fn one_line_error(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err:?}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err:?}");
    assert!(lines[0].starts_with("error: "), "{err:?}");
    assert!(
        lines[0].chars().count() <= 320,
        "{} characters",
        lines[0].len()
    );
    assert!(!lines[0].chars().any(char::is_control), "{err:?}");
    err
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}

/// A header alone (no data) claiming `shape`.
fn header_only(shape: &[usize], fortran: bool) -> Vec<u8> {
    npy_raw("<f8", fortran, shape, &[0u8; 64])
}

/// Issue 9 item 1: every size read from a header is checked against the bytes really there
/// before anything is allocated (file and pipe; trajectory, Fortran order, masses).
#[test]
fn item1_sizes_from_headers_are_checked_before_allocation() {
    let dir = tempdir();
    let d = dir.path();
    let shapes: [(&[usize], bool); 5] = [
        (&[1, 1_000_000_000_000, 3], false),
        (&[4, 1 << 62, 4], false),
        (&[4, 5, 1 << 61], false),
        (&[1_000_000_000_000, 5, 3], false),
        (&[1_000_000, 1000, 3], true),
    ];
    for (shape, fortran) in shapes {
        let bytes = header_only(shape, fortran);
        std::fs::write(d.join("h.npy"), &bytes).unwrap();
        std::fs::write(
            d.join("h.npz"),
            npz_bytes(&[stored("arr.npy", bytes.clone())]),
        )
        .unwrap();
        for args in [
            &["info", "h.npy"][..],
            &["center", "--com", "h.npz", "-o", "o.npz"],
            &["center", "--com", "h.npy", "-o", "o.npy"],
        ] {
            one_line_error(&run(d, args, None));
        }
        one_line_error(&run(
            d,
            &["center", "--com", "-", "-o", "o.npz"],
            Some(&bytes),
        ));
        assert_eq!(dir_listing(d), ["h.npy", "h.npz"], "{shape:?}");
    }
    // A version-2 header of 0xFFFFFFFF bytes.
    let mut v2 = b"\x93NUMPY\x02\x00".to_vec();
    v2.extend_from_slice(&u32::MAX.to_le_bytes());
    v2.extend_from_slice(&[b' '; 100]);
    std::fs::write(d.join("v2.npy"), &v2).unwrap();
    let err = one_line_error(&run(d, &["info", "v2.npy"], None));
    assert!(err.contains("10000"), "{err}");
    // A masses member claiming 10^12 weights.
    let values = common::drifting(3, 4, 3, 1);
    let traj = npy(Enc::F64Le, &[3, 4, 3], &values);
    let masses = npy_raw("<f8", false, &[1_000_000_000_000], &[0u8; 32]);
    std::fs::write(
        d.join("m.npz"),
        npz_bytes(&[stored("arr.npy", traj), stored("masses.npy", masses)]),
    )
    .unwrap();
    let args = [
        "align", "--center", "com", "--rotate", "none", "--masses", "masses",
    ];
    one_line_error(&run(
        d,
        &[&args[..], &["m.npz", "-o", "o.npz"]].concat(),
        None,
    ));
}

/// Issue 9 item 2: a trajectory stored as `arr` (no `.npy`) is replaced under its own name,
/// and `arr` beside `arr.npy` (which numpy would resolve silently) is refused.
#[test]
fn item2_member_without_suffix_is_replaced_not_duplicated() {
    let dir = tempdir();
    let d = dir.path();
    let values = common::drifting(5, 4, 3, 2);
    let traj = npy(Enc::F64Le, &[5, 4, 3], &values);
    std::fs::write(d.join("a.npz"), npz_bytes(&[stored("arr", traj.clone())])).unwrap();
    let out = run(d, &["center", "--com", "a.npz", "-o", "o.npz"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let members = zip_members(&std::fs::read(d.join("o.npz")).unwrap());
    let names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["arr"]);
    let got = common::parse_npy(&members[0].1).values;
    let want = common::expected_com(&values, [5, 4, 3], None, None);
    assert!(common::max_abs_diff(&got, &want) < 1e-12);
    // A name clash: refused from a file and from a pipe, naming both members.
    let clash = npz_bytes(&[stored("arr", traj.clone()), stored("arr.npy", traj)]);
    std::fs::write(d.join("c.npz"), &clash).unwrap();
    for out in [
        run(d, &["center", "--com", "c.npz", "-o", "o2.npz"], None),
        run(d, &["center", "--com", "-", "-o", "o2.npz"], Some(&clash)),
    ] {
        let err = one_line_error(&out);
        assert!(err.contains("'arr'") && err.contains("'arr.npy'"), "{err}");
    }
}

/// A stored archive whose member `name` has its CRC (local and central) changed.
fn stale_crc(members: &[common::Member<'_>], name: &str) -> Vec<u8> {
    let mut bytes = npz_bytes(members);
    for sig in [&b"PK\x03\x04"[..], b"PK\x01\x02"] {
        let (crc_at, name_at) = if sig[2] == 3 { (14, 30) } else { (16, 46) };
        let hits: Vec<usize> = (0..bytes.len() - 4)
            .filter(|&i| &bytes[i..i + 4] == sig)
            .collect();
        for i in hits {
            if bytes[i + name_at..].starts_with(name.as_bytes()) {
                bytes[i + crc_at] ^= 0x55;
            }
        }
    }
    bytes
}

/// Issue 9 item 3: a member with a stale CRC is an error naming it, whether it is copied (an
/// extra member) or read (`--ref FILE`).
#[test]
fn item3_crc_checked_on_copied_members_and_ref_files() {
    let dir = tempdir();
    let d = dir.path();
    let values = common::drifting(5, 4, 3, 3);
    let masses = npy(Enc::F64Le, &[4], &[1.0, 2.0, 3.0, 4.0]);
    let bad = stale_crc(
        &[
            stored("arr.npy", npy(Enc::F64Le, &[5, 4, 3], &values)),
            stored("masses.npy", masses),
        ],
        "masses.npy",
    );
    std::fs::write(d.join("a.npz"), &bad).unwrap();
    for out in [
        run(d, &["center", "--com", "a.npz", "-o", "o.npz"], None),
        run(d, &["center", "--com", "-", "-o", "o.npz"], Some(&bad)),
    ] {
        let err = one_line_error(&out);
        assert!(err.contains("masses.npy") && err.contains("CRC"), "{err}");
    }
    let good = npz_bytes(&[stored("arr.npy", npy(Enc::F64Le, &[5, 4, 3], &values))]);
    std::fs::write(d.join("g.npz"), good).unwrap();
    let reference = npy(Enc::F64Le, &[4, 3], &values[..12]);
    std::fs::write(
        d.join("ref.npz"),
        stale_crc(&[stored("arr.npy", reference)], "arr.npy"),
    )
    .unwrap();
    let args = [
        "align", "--center", "com", "--rotate", "kabsch", "--ref", "ref.npz",
    ];
    let err = one_line_error(&run(
        d,
        &[&args[..], &["g.npz", "-o", "o.npz"]].concat(),
        None,
    ));
    assert!(err.contains("ref.npz") && err.contains("CRC"), "{err}");
    assert!(!d.join("o.npz").exists());
}

/// Issue 9 item 4: messages are one line of at most ~300 characters with control characters
/// escaped, whatever a header, dtype or member name holds; `info` prints names escaped.
#[test]
fn item4_messages_are_one_escaped_line() {
    let dir = tempdir();
    let d = dir.path();
    let evil = "\x1b]0;PWNED\x07\x1b[2J";
    let long_descr = ">f4".repeat(1000);
    let cases = [
        npy_raw(&format!("<f4{evil}"), false, &[2, 2, 2], &[0; 32]),
        npy_raw(&long_descr, false, &[2, 2, 2], &[0; 32]),
        npy_raw("<f4", false, &[2, 2, 2], &[0; 32])
            .iter()
            .map(|&b| if b == b'F' { b'\n' } else { b })
            .collect(),
    ];
    for bytes in cases {
        std::fs::write(d.join("e.npy"), &bytes).unwrap();
        one_line_error(&run(d, &["info", "e.npy"], None));
        one_line_error(&run(
            d,
            &["center", "--com", "-", "-o", "o.npz"],
            Some(&bytes),
        ));
    }
    let values = common::drifting(2, 3, 2, 4);
    let traj = npy(Enc::F64Le, &[2, 3, 2], &values);
    let name = format!("x{evil}.npy");
    std::fs::write(
        d.join("n.npz"),
        npz_bytes(&[stored("arr.npy", traj.clone()), stored(&name, traj)]),
    )
    .unwrap();
    let out = run(d, &["info", "n.npz"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("PWNED"), "{text}");
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "{text:?}"
    );
    // A missing key with an ESC sequence: the message quotes it and lists the members, escaped.
    let missing = format!("y{evil}");
    let err = one_line_error(&run(d, &["info", "--key", &missing, "n.npz"], None));
    assert!(err.contains("PWNED") && err.contains("x\\u{1b}"), "{err}");
}

/// A deflated member whose headers (or data descriptor) declare `honest.len()` bytes while it
/// inflates to 256 MiB more.
fn bomb_member(honest: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(honest).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..256 {
        e.write_all(&zeros).unwrap();
    }
    e.finish().unwrap()
}

/// A zip with one deflated member `arr.npy` whose data are `data`, declaring `size`/`crc` in
/// its headers (or, with `descriptor`, only in a data descriptor after the data).
fn zip_declaring(data: &[u8], size: u32, crc: u32, descriptor: bool) -> Vec<u8> {
    let name = b"arr.npy";
    let (flags, hcrc, hc, hu) = if descriptor {
        (8u16, 0, 0, 0)
    } else {
        (0, crc, data.len() as u32, size)
    };
    let mut z = b"PK\x03\x04".to_vec();
    for v in [20u16, flags, 8, 0, 0x21] {
        z.extend_from_slice(&v.to_le_bytes());
    }
    for v in [hcrc, hc, hu] {
        z.extend_from_slice(&v.to_le_bytes());
    }
    z.extend_from_slice(&(name.len() as u16).to_le_bytes());
    z.extend_from_slice(&0u16.to_le_bytes());
    z.extend_from_slice(name);
    z.extend_from_slice(data);
    if descriptor {
        z.extend_from_slice(b"PK\x07\x08");
        for v in [crc, data.len() as u32, size] {
            z.extend_from_slice(&v.to_le_bytes());
        }
    }
    let cd = z.len() as u32;
    z.extend_from_slice(b"PK\x01\x02");
    for v in [20u16, 20, flags, 8, 0, 0x21] {
        z.extend_from_slice(&v.to_le_bytes());
    }
    for v in [crc, data.len() as u32, size] {
        z.extend_from_slice(&v.to_le_bytes());
    }
    for v in [name.len() as u16, 0, 0, 0, 0] {
        z.extend_from_slice(&v.to_le_bytes());
    }
    z.extend_from_slice(&[0; 8]);
    z.extend_from_slice(name);
    let cd_len = z.len() as u32 - cd;
    z.extend_from_slice(b"PK\x05\x06\0\0\0\0\x01\0\x01\0");
    z.extend_from_slice(&cd_len.to_le_bytes());
    z.extend_from_slice(&cd.to_le_bytes());
    z.extend_from_slice(&[0, 0]);
    z
}

/// Issue 9 item 5: a member that inflates past the size its headers declare stops one byte
/// past it ("larger than its headers say"), from a file, a pipe, and a streamed zip whose only
/// size is the `.npy` header's.
#[test]
fn item5_zip_bomb_stops_at_the_declared_size() {
    let dir = tempdir();
    let d = dir.path();
    let values = common::drifting(4, 5, 3, 6);
    let honest = npy(Enc::F32Le, &[4, 5, 3], &values);
    let mut h = crc32fast::Hasher::new();
    h.update(&honest);
    let crc = h.finalize();
    let data = bomb_member(&honest);
    for descriptor in [false, true] {
        let z = zip_declaring(&data, honest.len() as u32, crc, descriptor);
        std::fs::write(d.join("b.npz"), &z).unwrap();
        let start = std::time::Instant::now();
        for out in [
            run(d, &["center", "--com", "b.npz", "-o", "o.npz"], None),
            run(d, &["center", "--com", "-", "-o", "o.npz"], Some(&z)),
        ] {
            let err = one_line_error(&out);
            assert!(err.contains("larger than"), "{err}");
        }
        assert!(start.elapsed().as_secs_f64() < 1.0, "{:?}", start.elapsed());
    }
}

/// Issue 9 item 8: finite input gives finite output or an error naming the frame: float32
/// extremes centre exactly; a result beyond float32 is refused, not written as inf.
#[test]
fn item8_finite_input_never_gives_inf_or_nan() {
    let dir = tempdir();
    let d = dir.path();
    let cases: [(&[f64], Enc); 3] = [
        (&[-3e38, 0.0, 3e38, 0.0], Enc::F32Le),
        (&[3e38, 0.0, -3e38, 0.0, 3e38, 0.0], Enc::F32Le),
        (&[1e307, -1e307, -1e307, 1e307, 1e307, 1e307], Enc::F64Le),
    ];
    for (values, enc) in cases {
        let shape = [1, values.len() / 2, 2];
        let bytes = npz_bytes(&[stored("arr.npy", npy(enc, &shape, values))]);
        std::fs::write(d.join("x.npz"), bytes).unwrap();
        for rotate in ["none", "principal", "kabsch"] {
            let args = [
                "align", "--center", "com", "--rotate", rotate, "x.npz", "-o", "o.npz",
            ];
            let out = run(d, &args, None);
            if out.status.success() {
                let arr = common::read_array(&d.join("o.npz"), "arr");
                assert!(
                    arr.values.iter().all(|v| v.is_finite()),
                    "{values:?}: {arr:?}"
                );
            } else {
                let err = one_line_error(&out);
                assert!(err.contains("frame 0"), "{err}");
            }
        }
    }
}

/// Not in issue 9, found by the fuzzer's seeds: a piped archive (data descriptors, as written
/// to standard output) with a non-float member, e.g. integer atom types, was read with the
/// wrong element size and failed with a bogus CRC error.
#[test]
fn piped_archive_with_an_integer_member_passes_through() {
    let dir = tempdir();
    let d = dir.path();
    let values = common::drifting(3, 4, 3, 8);
    let types = npy_raw("<i8", false, &[4], &[1u8; 32]);
    let input = npz_bytes(&[
        stored("arr.npy", npy(Enc::F64Le, &[3, 4, 3], &values)),
        deflated("types.npy", types.clone()),
    ]);
    let first = run(d, &["center", "--com", "-", "-o", "-"], Some(&input));
    assert!(first.status.success());
    let second = run(
        d,
        &["rotate", "--principal", "-", "-o", "o.npz"],
        Some(&first.stdout),
    );
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let out = zip_members(&std::fs::read(d.join("o.npz")).unwrap());
    assert_eq!(out[1], ("types.npy".to_string(), types));
}
