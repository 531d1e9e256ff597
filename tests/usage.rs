//! SPEC §2: every malformed or contradictory option value is a usage error — exit 2 — found
//! before any file is opened: the input named here does not exist (an opened input would say
//! "cannot open input", exit 1) and no output appears.

mod common;

use common::*;

#[test]
fn malformed_and_contradictory_values_exit_2_before_any_file_is_opened() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-input.npz");
    let out = dir.path().join("out.npz");
    let m = missing.to_str().unwrap();
    let table: Vec<Vec<&str>> = vec![
        vec!["align", "--sign", "foo", "--rotate", "principal", m],
        vec!["align", "--chunk-frames", "0", m],
        vec!["align", "--threads", "0", m],
        vec!["align", "--rotate", "kabsch:0,1", m],
        vec!["align", "--rotate", "spin", m],
        vec!["align", "--center", "pointx", m],
        vec!["align", "--fit-points", "0:x", m],
        vec!["align", "--fit-points", "3:3", m],
        vec!["align", "--fit-points", ",", m],
        vec!["align", "--ref", "-1", m],
        vec!["align", "--ref", "3", "--rotate", "principal", m],
        vec!["align", "--sign", "continuous", m],
        vec!["align", "--to-ref-center", "--rotate", "principal", m],
        vec!["align", "--report", "frames.txt", m],
        vec!["align", "--rmsf", "rmsf.json", m],
        vec!["align", "--frames", "5:2", m],
        vec!["align", "--frames", "0:10:0", m],
        vec!["align", "--frames", "a:b", m],
        vec!["rotate", "--principal", "--ref", "2", m],
        vec!["rotate", "--kabsch", "--sign", "skew", m],
        vec!["rotate", "--point-vector", "0,x", m],
        vec!["center", "--point", "1,2", m],
        vec!["center", m],
        vec!["center", "--com", "--bogus", m],
        vec!["sensitivity", m, "--pipeline", "com+spin"],
        vec!["sensitivity", m, "--steps", "1"],
        vec!["sensitivity", m, "--max-delta", "-1"],
        vec!["sensitivity", m, "--frames", "0"],
        vec!["sensitivity", m, "--direction", "up"],
        vec!["sensitivity", m, "--plot", "s.pdf"],
        vec!["check", m, "--trials", "0"],
        vec!["check", m, "--report", "c.csv"],
        vec!["plot", m, "-o", "x.txt"],
        vec!["plot", m, "-o", "x.png", "--every", "0"],
        vec!["plot", m, "-o", "x.png", "--width", "3"],
        vec!["plot", m, "-o", "x.png", "--kind", "heat"],
        vec!["plot", m, "-o", "x.png", "--per", "atom"],
        vec!["plot", m, "-o", "x.png", "--points", "0:x"],
        vec!["sensitivity", m, "--points", "5:5"],
        vec!["sensitivity", m, "--sweep-points", "1,,2"],
        vec!["sensitivity", m, "--per", "chain"],
        vec!["generate", "--kind", "cube"],
        vec!["generate", "--dtype", "f16"],
        vec!["generate", "--frames", "0"],
    ];
    for args in table {
        let mut c = cmd();
        c.args(&args).current_dir(dir.path());
        if args[0] != "sensitivity" && args[0] != "check" && args[0] != "plot" {
            c.arg("-o").arg(&out);
        }
        let output = c.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with("error:"), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("cannot open input"),
            "{args:?} opened the input: {stderr}"
        );
        assert!(!out.exists(), "{args:?} wrote an output");
    }
    assert_eq!(dir_listing(dir.path()), Vec::<String>::new());
}

#[test]
fn every_command_answers_help_with_examples() {
    for command in [
        "center",
        "rotate",
        "align",
        "info",
        "generate",
        "sensitivity",
        "check",
        "plot",
    ] {
        let out = cmd().args([command, "--help"]).output().unwrap();
        assert!(out.status.success(), "{command}");
        let text = String::from_utf8(out.stdout).unwrap();
        let examples = text.split("Examples:").nth(1).unwrap_or_default();
        assert!(
            examples.matches("aligntraj ").count() >= 2,
            "{command} --help has fewer than two examples:\n{text}"
        );
    }
}

#[test]
fn info_takes_the_common_quiet_flag() {
    cmd()
        .args(["info", "-q"])
        .arg(project_file("data/chain2d.npz"))
        .assert()
        .success();
}
