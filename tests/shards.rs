//! Job arrays (issue 11): shards made with `--frames A:B` and a fixed reference (`--ref K`,
//! counted in the whole input, or `--ref FILE`), run 2 at a time with `xargs -P 2`, then
//! joined with `concat`, give the array of the single run byte for byte.

mod common;

use common::*;
use std::process::Command;

fn shards_equal_single_run(reference: &str) {
    let dir = tempfile::tempdir().unwrap();
    let input = project_file("data/blob3d.npz"); // 500 frames
    let single = dir.path().join("single.npz");
    cmd()
        .args(["align", "--ref", reference, "-q"])
        .arg(&input)
        .arg("-o")
        .arg(&single)
        .assert()
        .success();
    let bin = env!("CARGO_BIN_EXE_aligntraj");
    let script = format!(
        "printf '0 0:130\\n1 130:250\\n2 250:400\\n3 400:\\n' | xargs -P 2 -L 1 sh -c '\"{bin}\" align --ref {reference} -q --frames \"$1\" \"{input}\" -o \"{dir}/part$0.npz\"'",
        input = input.display(),
        dir = dir.path().display()
    );
    let status = Command::new("sh").arg("-c").arg(&script).status().unwrap();
    assert!(status.success());
    let joined = dir.path().join("joined.npz");
    cmd()
        .arg("concat")
        .args((0..4).map(|i| dir.path().join(format!("part{i}.npz"))))
        .arg("-o")
        .arg(&joined)
        .arg("-q")
        .assert()
        .success();
    let (a, b) = (read_array(&single, "arr"), read_array(&joined, "arr"));
    assert_eq!(a.shape, vec![500, 200, 3]);
    assert!(
        a == b,
        "--ref {reference}: shards joined differ from the single run"
    );
    // The other members come from the first part, unchanged.
    assert_eq!(read_array(&joined, "masses"), read_array(&single, "masses"));
}

#[test]
fn shards_with_ref_k_equal_the_single_run() {
    shards_equal_single_run("123");
}

#[test]
fn shards_with_ref_file_equal_the_single_run() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("ref.npz");
    // A reference file: frame 7 of the input itself, extracted by convert.
    cmd()
        .args(["convert", "--frames", "7:8", "-q"])
        .arg(project_file("data/blob3d.npz"))
        .arg("-o")
        .arg(&reference)
        .assert()
        .success();
    shards_equal_single_run(reference.to_str().unwrap());
}

#[test]
fn concat_refuses_parts_that_do_not_match() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.npz");
    let a = cmd()
        .arg("concat")
        .arg(project_file("data/blob3d.npz"))
        .arg(project_file("data/chain2d.npz"))
        .arg("-o")
        .arg(&out)
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert!(
        stderr.contains("shards must match") && stderr.lines().count() == 1,
        "{stderr}"
    );
    assert!(!out.exists());
}
