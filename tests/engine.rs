//! The one engine: output bytes never depend on the observers (`--report`, `--rmsf`), for every
//! pipeline, `--sign continuous` included, C and Fortran order, f32 and f64; and the defects
//! found by trying the CLI as a new user would (issue 8), each with its own test.

mod common;

use common::*;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;

/// A small drifting, tumbling trajectory in C order (f64 and f32) and Fortran order (f64, f32).
fn inputs(dir: &Path) -> Vec<std::path::PathBuf> {
    let x = drifting(40, 9, 3, 5);
    let x32: Vec<f64> = x.iter().map(|&v| v as f32 as f64).collect();
    let shape = [40, 9, 3];
    let files = [
        ("c64.npz", npy(Enc::F64Le, &shape, &x)),
        ("c32.npz", npy(Enc::F32Le, &shape, &x32)),
        ("f64.npz", npy_fortran3(Enc::F64Le, shape, &x)),
        ("f32.npz", npy_fortran3(Enc::F32Be, shape, &x32)),
    ];
    files
        .into_iter()
        .map(|(name, npy)| {
            let p = dir.join(name);
            write_npz(&p, &[deflated("arr.npy", npy)]);
            p
        })
        .collect()
}

#[test]
fn output_bytes_do_not_depend_on_observers() {
    let dir = tempfile::tempdir().unwrap();
    let pipelines: [&[&str]; 8] = [
        &["--center", "com", "--rotate", "kabsch"],
        &["--center", "com", "--rotate", "principal"],
        &[
            "--center",
            "com",
            "--rotate",
            "principal",
            "--sign",
            "continuous",
        ],
        &["--center", "point0", "--rotate", "point-vector"],
        &["--center", "point3", "--rotate", "kabsch", "--ref", "5"],
        &["--center", "none", "--rotate", "principal"],
        &["--center", "com", "--rotate", "none"],
        &[
            "--center",
            "com",
            "--rotate",
            "kabsch",
            "--ref",
            "average",
            "--fit-points",
            "0:6",
        ],
    ];
    for input in inputs(dir.path()) {
        for p in pipelines {
            let plain = dir.path().join("plain.npz");
            let observed = dir.path().join("observed.npz");
            cmd()
                .arg("align")
                .args(p)
                .arg(&input)
                .arg("-o")
                .arg(&plain)
                .arg("-q")
                .assert()
                .success();
            cmd()
                .arg("align")
                .args(p)
                .arg(&input)
                .arg("-o")
                .arg(&observed)
                .arg("--report")
                .arg(dir.path().join("r.json"))
                .arg("--rmsf")
                .arg(dir.path().join("rmsf.csv"))
                .arg("-q")
                .assert()
                .success();
            let (a, b) = (
                std::fs::read(&plain).unwrap(),
                std::fs::read(&observed).unwrap(),
            );
            assert!(a == b, "{input:?} {p:?}: --report changed the output");
        }
    }
}

#[test]
fn allow_nonfinite_is_honoured_with_kabsch() {
    // Defect 1: the Kabsch reference reader ignored --allow-nonfinite. Frame 3 holds a NaN;
    // frame 0 (the reference) is finite.
    let dir = tempfile::tempdir().unwrap();
    let mut x = drifting(6, 5, 3, 2);
    x[3 * 15 + 4] = f64::NAN;
    let input = dir.path().join("nan.npz");
    write_traj(&input, Enc::F64Le, [6, 5, 3], &x);
    let out = dir.path().join("o.npz");
    let a = cmd()
        .args(["align", "--allow-nonfinite"])
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert!(
        stderr.contains("NaN") && stderr.contains("unchanged"),
        "{stderr}"
    );
    let y = read_array(&out, "arr");
    assert!(y.values[3 * 15 + 4].is_nan());
    assert_eq!(&y.values[3 * 15..4 * 15][..4], &x[3 * 15..3 * 15 + 4]);
    // Without the flag: one line naming the frame and suggesting the flag.
    let a = cmd()
        .arg("align")
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert!(
        stderr.contains("frame 3") && stderr.contains("--allow-nonfinite"),
        "{stderr}"
    );
}

#[test]
fn a_path_that_cannot_seek_is_read_as_a_stream() {
    // Defect 2: `aligntraj align <(cat x.npz)` and `/dev/stdin` failed with "Illegal seek".
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.npz");
    let bytes = std::fs::read(project_file("data/chain2d.npz")).unwrap();
    cmd()
        .args(["align", "/dev/stdin", "-o"])
        .arg(&out)
        .write_stdin(bytes)
        .assert()
        .success();
    assert_eq!(read_array(&out, "arr").shape, vec![2048, 12, 2]);
}

#[test]
fn a_full_disk_is_one_line() {
    // Defect 3: the zip crate's drop message was glued to ours. /dev/full fails every write
    // with ENOSPC (and, being a device, is written in place, not replaced).
    let a = cmd()
        .args(["align", "-o", "/dev/full"])
        .arg(project_file("data/blob3d.npz"))
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert!(
        stderr.starts_with("error:") && stderr.lines().count() == 1,
        "{stderr}"
    );
    assert!(stderr.contains("no space left"), "{stderr}");
}

#[test]
fn without_o_a_log_being_appended_to_gets_no_binary() {
    // Defect 5: `aligntraj align traj.npz >> job.log` appended the zip to the log.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("traj.npz");
    std::fs::copy(project_file("data/chain2d.npz"), &input).unwrap();
    let log = dir.path().join("job.log");
    std::fs::write(&log, "earlier output\n").unwrap();
    let append = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aligntraj"))
        .arg("align")
        .arg(&input)
        .stdout(Stdio::from(append))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "earlier output\n");
    let beside = dir.path().join("traj.aligned.npz");
    assert_eq!(read_array(&beside, "arr").shape, vec![2048, 12, 2]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("traj.aligned.npz"));
    // An empty file opened without append (`> out.npz`) is standard output.
    let target = dir.path().join("redirected.npz");
    let file = std::fs::File::create(&target).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aligntraj"))
        .arg("align")
        .arg(&input)
        .stdout(Stdio::from(file))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(read_array(&target, "arr").shape, vec![2048, 12, 2]);
}

#[test]
fn o_npy_writes_a_real_npy() {
    // Defect 6: `-o out.npy` silently wrote a zip.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.npy");
    cmd()
        .arg("align")
        .arg(project_file("data/blob3d.npz"))
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    let bytes = std::fs::read(&out).unwrap();
    assert!(bytes.starts_with(b"\x93NUMPY"));
    let a = parse_npy(&bytes);
    assert_eq!(
        (a.descr.as_str(), a.shape.clone()),
        ("<f4", vec![500, 200, 3])
    );
    // Same numbers as the npz output.
    let npz = dir.path().join("out.npz");
    cmd()
        .arg("align")
        .arg(project_file("data/blob3d.npz"))
        .arg("-o")
        .arg(&npz)
        .assert()
        .success();
    assert_eq!(read_array(&npz, "arr").values, a.values);
}

#[test]
fn messages_name_the_option_and_fit_the_stage() {
    // Defect 8: a bad centering point is named as such (not as another option).
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.npz");
    let a = cmd()
        .args(["center", "--point", "99"])
        .arg(project_file("data/chain2d.npz"))
        .arg("-o")
        .arg(&out)
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert!(
        stderr.contains("centering point 99") && !stderr.contains("--center"),
        "{stderr}"
    );
    // Defect 9: a NaN frame under `center` is not said to get a rotation.
    let mut x = drifting(4, 3, 2, 1);
    x[5] = f64::INFINITY;
    let input = dir.path().join("inf.npz");
    write_traj(&input, Enc::F64Le, [4, 3, 2], &x);
    let a = cmd()
        .args(["center", "--com", "--allow-nonfinite"])
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert!(
        stderr.contains("passed through unchanged") && !stderr.contains("rotation"),
        "{stderr}"
    );
}

/// Peak resident memory of this process's finished children, in KiB.
fn children_max_rss_kib() -> i64 {
    // SAFETY: getrusage writes into the zeroed struct we pass.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru);
        ru.ru_maxrss
    }
}

#[test]
fn piped_input_streams_in_bounded_memory() {
    // Defect 4: `center --com big.npz | rotate --kabsch` held the whole stream in memory. Here
    // 150 MB of float32 frames go through a pipe; the second stage must stay far below that.
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.npz");
    cmd()
        .args([
            "generate", "--kind", "blob3d", "--frames", "2500", "--points", "5000", "--dims", "3",
            "--dtype", "f32", "-o",
        ])
        .arg(&big)
        .assert()
        .success();
    let out = dir.path().join("o.npz");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_aligntraj"))
        .args(["rotate", "--kabsch", "-q", "-o"])
        .arg(&out)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut file = std::fs::File::open(&big).unwrap();
    std::io::copy(&mut file, &mut stdin).unwrap();
    stdin.flush().unwrap();
    drop(stdin);
    assert!(child.wait().unwrap().success());
    let peak_mib = children_max_rss_kib() / 1024;
    assert!(
        peak_mib < 100,
        "peak RSS {peak_mib} MiB for a 150 MB piped input"
    );
    assert_eq!(read_array(&out, "arr").shape, vec![2500, 5000, 3]);
}
