//! The shipped example data are what `aligntraj generate` makes (data/README.md says how).

mod common;

use common::*;

#[test]
fn shipped_data_regenerate_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    for (name, args) in [
        ("chain2d.npz", vec!["--kind", "chain2d"]),
        (
            "blob3d.npz",
            vec![
                "--kind", "blob3d", "--frames", "500", "--points", "200", "--dims", "3", "--dtype",
                "f32",
            ],
        ),
    ] {
        let out = dir.path().join(name);
        cmd()
            .arg("generate")
            .args(&args)
            .arg("-o")
            .arg(&out)
            .assert()
            .success();
        assert!(
            std::fs::read(&out).unwrap()
                == std::fs::read(project_file(&format!("data/{name}"))).unwrap(),
            "data/{name} is not what `aligntraj generate {}` makes",
            args.join(" ")
        );
    }
}

#[test]
fn generated_chain_looks_like_the_books() {
    // Bonds of 0.36 (the book's chain: 0.363 on average), 12 points, 2048 frames, float64.
    let a = read_array(&project_file("data/chain2d.npz"), "arr");
    assert_eq!(
        (a.descr.as_str(), a.shape.clone()),
        ("<f8", vec![2048, 12, 2])
    );
    for f in a.values.chunks(24).step_by(97) {
        for p in 0..11 {
            let (dx, dy) = (f[2 * p + 2] - f[2 * p], f[2 * p + 3] - f[2 * p + 1]);
            assert!(((dx * dx + dy * dy).sqrt() - 0.36).abs() < 1e-9);
        }
    }
}
