//! Checks a source against the MDAnalysis fixture description in
//! `/work/main/tests/data/expected.json` (written by `make_fixtures.py` with MDAnalysis 2.11).

use super::testkit::read_all;
use super::FrameSource;
use serde_json::Value;

/// What to compare besides shape and positions.
#[derive(Clone, Copy, Default)]
pub struct Checks {
    /// Compare the frames' `time` (only where the file carries it and MDAnalysis reports it).
    pub time: bool,
    /// Compare `triclinic_dimensions` with the cell.
    pub cell: bool,
}

/// A number list from JSON.
fn nums(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().flat_map(nums).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap()],
        _ => panic!("not numbers: {v}"),
    }
}

/// Asserts `a` ≈ `b` within 1e-6 relative (absolute floor `floor`); returns |a − b|.
fn close(a: f64, b: f64, floor: f64, what: &str) -> f64 {
    assert!(
        (a - b).abs() <= (1e-6 * b.abs()).max(floor),
        "{what}: {a} vs expected {b}"
    );
    (a - b).abs()
}

/// Reads every frame of `src` and compares with the fixture entry `exp`; returns frames checked.
pub fn check(src: &mut dyn FrameSource<'static>, exp: &Value, file: &str, checks: Checks) -> usize {
    assert_eq!(
        src.meta().points as u64,
        exp["n_atoms"].as_u64().unwrap(),
        "{file} atoms"
    );
    assert_eq!(
        src.meta().frames as u64,
        exp["n_frames"].as_u64().unwrap(),
        "{file} frames"
    );
    let frames = read_all(src, 3).unwrap_or_else(|e| panic!("{file}: {e}"));
    let (mut n, mut dev_pos, mut dev_cell) = (0, 0.0f64, 0.0f64);
    for ef in exp["frames"].as_array().unwrap() {
        let f = ef["frame"].as_u64().unwrap() as usize;
        let (coords, info) = &frames[f];
        for (atom, xyz) in ef["positions"].as_object().unwrap() {
            let i: usize = atom.parse().unwrap();
            for (d, want) in nums(xyz).into_iter().enumerate() {
                let what = format!("{file} frame {f} atom {i} dim {d}");
                dev_pos = dev_pos.max(close(coords[i * 3 + d], want, 1e-5, &what));
            }
        }
        if checks.cell {
            match (&ef["triclinic_dimensions"], info.cell) {
                (Value::Null, None) => {}
                (Value::Null, Some(c)) => panic!("{file} frame {f}: cell {c:?}, expected none"),
                (v, Some(c)) => {
                    for (got, want) in c.as_flattened().iter().zip(nums(v)) {
                        dev_cell = dev_cell.max(close(
                            *got,
                            want,
                            1e-4,
                            &format!("{file} frame {f} cell"),
                        ));
                    }
                }
                (v, None) => panic!("{file} frame {f}: no cell, expected {v}"),
            }
        }
        if checks.time {
            close(
                info.time.unwrap(),
                ef["time"].as_f64().unwrap(),
                1e-6,
                &format!("{file} frame {f} time"),
            );
        }
        n += 1;
    }
    println!("{file}: {n} frames checked, max |Δ| positions {dev_pos:e} Å, cell {dev_cell:e} Å");
    n
}
