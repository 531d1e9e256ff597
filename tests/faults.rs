//! Fault injection (issue 9): signals in the middle of a write, a full disk, a closed pipe, a
//! read-only folder, an input that stops early, and special outputs (FIFO, device, symlink).
//!
//! Whatever happens, a run leaves no temporary file and an existing output as it was; it ends
//! with exit 0, or 1 and one `error:` line, or 128 + the signal; never a panic. Tests that need
//! root (mount, mknod) say so on stderr and skip when they cannot set up.

mod common;

use common::{dir_listing, Enc};
use std::io::{Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const SENTINEL: &[u8] = b"an existing output that a failed run must leave as it was\n";

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_aligntraj"))
}

/// A 180 MB trajectory (3000 frames × 5000 points, float32), generated once per test run.
fn big_input() -> &'static Path {
    static BIG: OnceLock<PathBuf> = OnceLock::new();
    BIG.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("faults");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("big.npz");
        let status = bin()
            .args([
                "generate", "--kind", "blob3d", "--frames", "3000", "--points", "5000",
            ])
            .args(["--dims", "3", "--dtype", "f32", "-o"])
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success());
        path
    })
}

/// A small valid input (stored float64, 40 frames × 30 points × 3).
fn small_input(dir: &Path) -> PathBuf {
    let path = dir.join("small.npz");
    let values = common::drifting(40, 30, 3, 5);
    common::write_traj(&path, Enc::F64Le, [40, 30, 3], &values);
    path
}

/// Asserts the usual ending of a failed run: exit 1 and exactly one short `error:` line.
fn assert_one_line_error(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {err:?}");
    assert!(
        lines[0].starts_with("error: ") && lines[0].len() < 400,
        "{err:?}"
    );
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// No `.aligntraj-*` (or other temporary) file in `dir`: only the names in `expected`.
fn assert_only(dir: &Path, expected: &[&str]) {
    let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(dir_listing(dir), want, "files left in {}", dir.display());
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}

/// Sends `signal` to the child once its temporary output exists in `dir` (so the signal lands
/// in the middle of the write), or after `max_wait`.
fn signal_mid_write(child: &mut Child, dir: &Path, signal: i32, max_wait: Duration) {
    let start = Instant::now();
    while start.elapsed() < max_wait {
        let writing = dir_listing(dir)
            .iter()
            .any(|n| n.starts_with(".aligntraj-"));
        if writing || child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    // Let some bytes reach the temporary file first.
    std::thread::sleep(Duration::from_millis(20));
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, signal);
    }
}

/// Issue 9 item 6: SIGINT, SIGTERM and SIGHUP in the middle of a large write remove the
/// temporary file and exit 128 + signal; the existing output is untouched.
#[test]
fn item6_signals_mid_write_leave_no_temporary_file() {
    let input = big_input();
    for (signal, code) in [
        (libc::SIGINT, 130),
        (libc::SIGTERM, 143),
        (libc::SIGHUP, 129),
    ] {
        let dir = tempdir();
        let out = dir.path().join("out.npz");
        std::fs::write(&out, SENTINEL).unwrap();
        let mut child = bin()
            .args(["align", "--center", "com", "--rotate", "kabsch", "--quiet"])
            .arg(input)
            .arg("-o")
            .arg(&out)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        signal_mid_write(&mut child, dir.path(), signal, Duration::from_secs(5));
        let result = child.wait_with_output().unwrap();
        let status = result.status.code();
        assert!(
            status == Some(code) || status == Some(0),
            "signal {signal}: exit {:?}, stderr {}",
            result.status,
            String::from_utf8_lossy(&result.stderr)
        );
        assert_only(dir.path(), &["out.npz"]);
        if status == Some(code) {
            assert_eq!(std::fs::read(&out).unwrap(), SENTINEL, "signal {signal}");
        } else {
            eprintln!("signal {signal}: the run finished before the signal");
        }
    }
}

/// Issue 9 item 6: a signal while a deflated Fortran-order member is inflated into a
/// temporary file (beside the input) removes that file too.
#[test]
fn item6_signal_while_inflating_leaves_no_temporary_file() {
    let dir = tempdir();
    let input = dir.path().join("fortran.npz");
    let shape = [3000, 5000, 3];
    let npy = common::npy_raw("<f4", true, &shape, &vec![0u8; 3000 * 5000 * 3 * 4]);
    common::write_npz(&input, &[common::deflated("arr.npy", npy)]);
    let out_dir = tempdir();
    let out = out_dir.path().join("out.npz");
    std::fs::write(&out, SENTINEL).unwrap();
    let mut child = bin()
        .args(["center", "--com", "--quiet"])
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .spawn()
        .unwrap();
    signal_mid_write(&mut child, dir.path(), libc::SIGINT, Duration::from_secs(5));
    let status = child.wait().unwrap().code();
    assert!(status == Some(130) || status == Some(0), "{status:?}");
    assert_only(dir.path(), &["fortran.npz"]);
    assert_only(out_dir.path(), &["out.npz"]);
}

/// A tmpfs of `size` mounted at `dir`, unmounted on drop; `None` (after saying why) when this
/// test cannot mount.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, options: &str, test: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped {test}: needs root/mount");
            return None;
        }
        Some(Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A full disk while the output is written: one line naming the problem, no temporary file,
/// the existing output untouched.
#[test]
fn disk_full_on_small_tmpfs_is_one_line_and_leaves_nothing() {
    let work = tempdir();
    let input = work.path().join("in.npz");
    let values = common::noise(100 * 3000 * 3, 3, 10.0);
    common::write_traj(&input, Enc::F32Le, [100, 3000, 3], &values);
    let Some(fs) = Tmpfs::mount(
        &work.path().join("small"),
        "size=2m",
        "disk_full_on_small_tmpfs",
    ) else {
        return;
    };
    let out = fs.0.join("out.npz");
    std::fs::write(&out, SENTINEL).unwrap();
    let result = bin()
        .args(["center", "--com"])
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let err = assert_one_line_error(&result);
    assert!(err.contains("no space left on device"), "{err}");
    assert_only(&fs.0, &["out.npz"]);
    assert_eq!(std::fs::read(&out).unwrap(), SENTINEL);
}

/// A character device of the kernel's (`1, minor`: 3 is null, 7 is full) made in `dir`, so that
/// a regression cannot replace the system's `/dev/null`; `None` without root.
fn char_device(dir: &Path, name: &str, minor: u32, test: &str) -> Option<PathBuf> {
    let path = dir.join(name);
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: mknod with a valid C string; it only creates a node in our own folder.
    let rc = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, minor)) };
    if rc != 0 {
        eprintln!("skipped {test}: needs root/mknod");
        return None;
    }
    Some(path)
}

/// `-o` a full device: one line, and the device stays a device.
#[test]
fn dev_full_output_is_one_line_and_stays_a_device() {
    let dir = tempdir();
    let input = small_input(dir.path());
    let full = char_device(dir.path(), "full", 7, "dev_full_output")
        .unwrap_or_else(|| PathBuf::from("/dev/full"));
    let result = bin()
        .args(["center", "--com"])
        .arg(&input)
        .arg("-o")
        .arg(&full)
        .output()
        .unwrap();
    let err = assert_one_line_error(&result);
    assert!(err.contains("no space left on device"), "{err}");
    assert!(std::fs::metadata(&full)
        .unwrap()
        .file_type()
        .is_char_device());
}

/// Issue 9 item 7: `-o` a device writes through it; the device is not replaced by a file.
#[test]
fn item7_device_output_stays_a_device() {
    let dir = tempdir();
    let input = small_input(dir.path());
    let Some(null) = char_device(dir.path(), "null", 3, "item7_device_output") else {
        return;
    };
    let result = bin()
        .args(["center", "--com"])
        .arg(&input)
        .arg("-o")
        .arg(&null)
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert!(std::fs::metadata(&null)
        .unwrap()
        .file_type()
        .is_char_device());
    assert_only(dir.path(), &["null", "small.npz"]);
}

/// `aligntraj … -o - | head -c 100`: the closed pipe ends the run quietly (exit 0) or with one
/// line; never a panic or a signal.
#[test]
fn broken_pipe_is_not_a_panic() {
    let mut child = bin()
        .args(["center", "--com"])
        .arg(big_input())
        .args(["-o", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 100];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The reader has gone (its end of the pipe is closed when `stdout` drops above).
    let result = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&result.stderr);
    match result.status.code() {
        Some(0) => assert!(err.is_empty(), "{err}"),
        Some(1) => {
            assert_one_line_error(&result);
        }
        other => panic!("exit {other:?} ({:?}): {err}", result.status),
    }
    assert_eq!(&first[..2], b"PK");
}

/// A read-only output folder: one line, nothing created. As root, permissions do not stop a
/// write, so the folder is a read-only tmpfs then.
#[test]
fn read_only_folder_is_one_line() {
    use std::os::unix::fs::PermissionsExt;
    let work = tempdir();
    let input = small_input(work.path());
    let ro = work.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    let _mounted;
    if std::fs::write(ro.join("probe"), b"x").is_ok() {
        let _ = std::fs::remove_file(ro.join("probe"));
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
        match Tmpfs::mount(&ro, "ro,size=1m", "read_only_folder") {
            Some(m) => _mounted = m,
            None => return,
        }
    }
    let result = bin()
        .args(["center", "--com"])
        .arg(&input)
        .arg("-o")
        .arg(ro.join("out.npz"))
        .output()
        .unwrap();
    let err = assert_one_line_error(&result);
    assert!(err.contains("out.npz"), "{err}");
    assert!(dir_listing(&ro).is_empty());
}

/// A FIFO at `path` (made with mkfifo(3)).
fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
}

/// An input that stops early while it is read (a FIFO whose writer gives up half way, and
/// standard input cut short): one line, no temporary file, the existing output untouched.
#[test]
fn input_truncated_while_being_read_is_one_line() {
    let dir = tempdir();
    let input = small_input(dir.path());
    let bytes = std::fs::read(&input).unwrap();
    let half = bytes[..bytes.len() / 2].to_vec();
    let fifo = dir.path().join("in.fifo");
    mkfifo(&fifo);
    let out = dir.path().join("out.npz");
    std::fs::write(&out, SENTINEL).unwrap();
    let writer = {
        let (fifo, half) = (fifo.clone(), half.clone());
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
            f.write_all(&half).unwrap();
            std::thread::sleep(Duration::from_millis(50));
        })
    };
    let result = bin()
        .args(["align", "--center", "com", "--rotate", "kabsch"])
        .arg(&fifo)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    writer.join().unwrap();
    assert_one_line_error(&result);
    assert_eq!(std::fs::read(&out).unwrap(), SENTINEL);
    assert_only(dir.path(), &["in.fifo", "out.npz", "small.npz"]);
    // The same cut on standard input, with an input that must be spooled (--ref average).
    for extra in [&[][..], &["--ref", "average"][..]] {
        let mut child = bin()
            .args(["align", "--center", "com", "--rotate", "kabsch"])
            .args(extra)
            .arg("-")
            .arg("-o")
            .arg(&out)
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let _ = child.stdin.take().unwrap().write_all(&half);
        let result = child.wait_with_output().unwrap();
        let lines: Vec<String> = String::from_utf8_lossy(&result.stderr)
            .lines()
            .filter(|l| !l.starts_with("note: "))
            .map(String::from)
            .collect();
        assert_eq!(result.status.code(), Some(1), "{extra:?}: {lines:?}");
        assert!(
            lines.len() == 1 && lines[0].starts_with("error: "),
            "{lines:?}"
        );
        assert_eq!(std::fs::read(&out).unwrap(), SENTINEL);
        assert_only(dir.path(), &["in.fifo", "out.npz", "small.npz"]);
    }
}

/// Issue 9 item 7: `-o` a FIFO writes into it (a reader gets a complete archive) and the FIFO
/// stays a FIFO.
#[test]
fn item7_fifo_output_written_in_place() {
    let dir = tempdir();
    let input = small_input(dir.path());
    let fifo = dir.path().join("out.npz");
    mkfifo(&fifo);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    let result = bin()
        .args(["center", "--com"])
        .arg(&input)
        .arg("-o")
        .arg(&fifo)
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let bytes = reader.join().unwrap();
    let arr = common::npz_array(&bytes, "arr");
    assert_eq!(arr.shape, vec![40, 30, 3]);
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    assert_only(dir.path(), &["out.npz", "small.npz"]);
}

/// Issue 9 item 7: `-o` a symlink: the link stays, its target gets the data, and the temporary
/// file is made beside the target (shown with the target on another file system, where a
/// rename from beside the link would fail).
#[test]
fn item7_symlink_output_follows_link() {
    let dir = tempdir();
    let input = small_input(dir.path());
    let targets = dir.path().join("targets");
    std::fs::create_dir(&targets).unwrap();
    let _mounted = Tmpfs::mount(
        &targets,
        "size=4m",
        "item7_symlink_output (other file system)",
    );
    let target = targets.join("real.npz");
    std::fs::write(&target, SENTINEL).unwrap();
    let link = dir.path().join("link.npz");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    // And a relative link to a target that does not exist yet.
    let link2 = dir.path().join("link2.npz");
    std::os::unix::fs::symlink("targets/new.npz", &link2).unwrap();
    for l in [&link, &link2] {
        let result = bin()
            .args(["center", "--com"])
            .arg(&input)
            .arg("-o")
            .arg(l)
            .output()
            .unwrap();
        assert!(
            result.status.success(),
            "{}",
            String::from_utf8_lossy(&result.stderr)
        );
        assert!(std::fs::symlink_metadata(l)
            .unwrap()
            .file_type()
            .is_symlink());
    }
    assert_eq!(common::read_array(&target, "arr").shape, vec![40, 30, 3]);
    assert_eq!(
        common::read_array(&targets.join("new.npz"), "arr").shape,
        vec![40, 30, 3]
    );
    assert_only(&targets, &["new.npz", "real.npz"]);
    assert_only(
        dir.path(),
        &["link.npz", "link2.npz", "small.npz", "targets"],
    );
}

/// Runs `aligntraj ARGS` and returns its exit code and peak resident memory in MiB: the
/// `VmHWM` of `/proc/PID/status`, read until it exits. (The rusage of wait4 would not do: a
/// spawned child's maximum includes this test process's own high-water mark.)
fn peak_rss_mib(args: &[&std::ffi::OsStr]) -> (Option<i32>, f64) {
    let mut child = bin()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            let hwm = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
            peak_kib = peak_kib.max(hwm.unwrap_or(0));
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    (status.code(), peak_kib as f64 / 1024.0)
}

/// Issue 9 item 9: memory does not grow with the number of frames (5 M tiny deflated frames),
/// and a frame larger than a chunk costs a few copies of itself, not more.
#[test]
fn item9_memory_is_flat_in_frames_and_bounded_for_wide_frames() {
    let dir = tempdir();
    let d = dir.path();
    // 16 bytes of results per frame allocated up front would add 76 MiB.
    let frames = 5_000_000;
    let mut npy = common::npy_raw("<f4", false, &[frames, 2, 2], &[]);
    npy.reserve(frames * 16);
    for f in 0..frames {
        for v in [1.0f32, 2.0, 3.0 + (f % 7) as f32, 5.0] {
            npy.extend_from_slice(&v.to_le_bytes());
        }
    }
    let tiny = d.join("tiny.npz");
    common::write_npz(&tiny, &[common::deflated("arr.npy", npy)]);
    let out = d.join("out.npz");
    let (code, mib) = peak_rss_mib(&[
        "center".as_ref(),
        "--com".as_ref(),
        tiny.as_ref(),
        "-o".as_ref(),
        out.as_ref(),
    ]);
    assert_eq!(code, Some(0));
    eprintln!("item9: center --com over {frames} frames of 2 points: peak {mib:.0} MiB");
    assert!(mib < 120.0, "{mib:.0} MiB for {frames} tiny frames");
    let wide = d.join("wide.npz");
    let status = bin()
        .args([
            "generate", "--kind", "blob3d", "--frames", "2", "--points", "2000000",
        ])
        .args(["--dims", "3", "--dtype", "f32", "-o"])
        .arg(&wide)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let frame_f64_mib = 2_000_000.0 * 3.0 * 8.0 / (1 << 20) as f64;
    let (code, mib) = peak_rss_mib(&[
        "center".as_ref(),
        "--com".as_ref(),
        wide.as_ref(),
        "-o".as_ref(),
        out.as_ref(),
    ]);
    assert_eq!(code, Some(0));
    eprintln!("item9: center --com, 2 frames of 2 M points ({frame_f64_mib:.0} MiB as f64 each): peak {mib:.0} MiB");
    assert!(mib < 5.0 * frame_f64_mib, "{mib:.0} MiB");
}
