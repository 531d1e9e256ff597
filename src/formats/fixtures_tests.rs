//! Readers checked against `expected.json`: what MDAnalysis 2.11 reads from the fixtures
//! written by MDAnalysis (tests/data/make_fixtures.py in the main repository).

use super::dcd::DcdSource;
use super::trr::TrrSource;
use super::xtc::XtcSource;
use super::{ChunkBytes, FrameInfo, FrameSource};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Fixture folder (final crate: `concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/")`).
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/");

/// Path of a fixture, or None (test skipped with a note) when the fixtures are absent.
fn fixture(name: &str) -> Option<(PathBuf, Value)> {
    let p = Path::new(DATA).join(name);
    let exp = std::fs::read_to_string(Path::new(DATA).join("expected.json")).ok();
    match (p.exists(), exp) {
        (true, Some(e)) => Some((
            p,
            serde_json::from_str::<Value>(&e).unwrap()["files"][name].clone(),
        )),
        _ => {
            eprintln!("fixture {name} absent: skipped");
            None
        }
    }
}

/// Decodes every frame of a source.
pub(crate) fn decode_all<'a>(src: &mut dyn FrameSource<'a>) -> Vec<(Vec<f64>, FrameInfo)> {
    let dec = src.decoder();
    let n = src.meta().points * 3;
    let mut out = Vec::new();
    while let Some(chunk) = src.read(4, Vec::new()).unwrap() {
        let b: &[u8] = match &chunk.bytes {
            ChunkBytes::Owned(v) => v,
            ChunkBytes::Borrowed(s) => s,
        };
        for k in 0..chunk.frames {
            let range = match dec.frame_bytes() {
                Some(fb) => k * fb..(k + 1) * fb,
                None => chunk.offsets[k]..chunk.offsets[k + 1],
            };
            let (mut c, mut info) = (vec![0.0; n], FrameInfo::default());
            dec.decode(&b[range], &mut c, &mut info).unwrap();
            out.push((c, info));
        }
    }
    out
}

/// Asserts |a − b| ≤ tol·max(1, |b|).
fn near(a: f64, b: f64, tol: f64, what: &str) {
    assert!(
        (a - b).abs() <= tol * b.abs().max(1.0),
        "{what}: {a} vs MDAnalysis {b}"
    );
}

/// Compares decoded frames with the expected entry (positions, box, time, step).
fn check(
    exp: &Value,
    frames: &[(Vec<f64>, FrameInfo)],
    time_of: &dyn Fn(usize, &FrameInfo) -> Option<f64>,
) {
    assert_eq!(frames.len() as u64, exp["n_frames"].as_u64().unwrap());
    for ef in exp["frames"].as_array().unwrap() {
        let f = ef["frame"].as_u64().unwrap() as usize;
        let (c, info) = &frames[f];
        for (atom, xyz) in ef["positions"].as_object().unwrap() {
            let i: usize = atom.parse().unwrap();
            for k in 0..3 {
                near(
                    c[3 * i + k],
                    xyz[k].as_f64().unwrap(),
                    1e-6,
                    &format!("frame {f} atom {i}"),
                );
            }
        }
        let tri = &ef["triclinic_dimensions"];
        let cell = info.cell.expect("cell");
        for r in 0..3 {
            for k in 0..3 {
                near(
                    cell[r][k],
                    tri[r][k].as_f64().unwrap(),
                    1e-6,
                    &format!("frame {f} box"),
                );
            }
        }
        if let Some(t) = ef["time"].as_f64() {
            near(
                time_of(f, info).unwrap(),
                t,
                1e-9,
                &format!("frame {f} time"),
            );
        }
        if let Some(s) = ef["step"].as_i64() {
            assert_eq!(info.step, Some(s), "frame {f} step");
        }
    }
}

/// traj.xtc against expected.json.
#[test]
fn xtc_matches_mdanalysis() {
    let Some((path, exp)) = fixture("traj.xtc") else {
        return;
    };
    let mut src = XtcSource::open(&path).unwrap();
    assert_eq!(src.meta().points as u64, exp["n_atoms"].as_u64().unwrap());
    let frames = decode_all(&mut src);
    check(&exp, &frames, &|_, i| i.time);
    let p = exp["precision"].as_f64().unwrap() as f32;
    assert!(frames.iter().all(|(_, i)| i.precision == Some(p)));
}

/// traj.dcd against expected.json (time and md_step via `time_step`).
#[test]
fn dcd_matches_mdanalysis() {
    let Some((path, exp)) = fixture("traj.dcd") else {
        return;
    };
    let mut src = DcdSource::open(&path).unwrap();
    assert_eq!(src.meta().points as u64, exp["n_atoms"].as_u64().unwrap());
    let h = &exp["header"];
    assert_eq!(src.header().istart as i64, h["istart"].as_i64().unwrap());
    assert_eq!(src.header().nsavc as i64, h["nsavc"].as_i64().unwrap());
    near(
        src.meta().dt.unwrap(),
        h["dt_ps"].as_f64().unwrap(),
        1e-12,
        "dt",
    );
    let dec = super::dcd::DcdDecoder::from_header(src.header()).unwrap();
    let frames = decode_all(&mut src);
    check(&exp, &frames, &|f, _| Some(dec.time_step(f).0));
    for ef in exp["frames"].as_array().unwrap() {
        let f = ef["frame"].as_u64().unwrap() as usize;
        assert_eq!(dec.time_step(f).1, ef["md_step"].as_i64().unwrap());
    }
}

/// traj.trr against expected.json.
#[test]
fn trr_matches_mdanalysis() {
    let Some((path, exp)) = fixture("traj.trr") else {
        return;
    };
    let mut src = TrrSource::open(&path).unwrap();
    assert_eq!(src.meta().points as u64, exp["n_atoms"].as_u64().unwrap());
    let frames = decode_all(&mut src);
    check(&exp, &frames, &|_, i| i.time);
}

/// `skip` then `read` gives the same frames as reading everything (all three sources).
#[test]
fn skip_then_read_matches_full_read() {
    for name in ["traj.xtc", "traj.dcd", "traj.trr"] {
        let Some((path, _)) = fixture(name) else {
            return;
        };
        let open = || -> Box<dyn FrameSource> {
            match name {
                "traj.xtc" => Box::new(XtcSource::open(&path).unwrap()),
                "traj.dcd" => Box::new(DcdSource::open(&path).unwrap()),
                _ => Box::new(TrrSource::open(&path).unwrap()),
            }
        };
        let all = decode_all(open().as_mut());
        let mut src = open();
        src.skip(3).unwrap();
        let first = src.read(1, Vec::new()).unwrap().unwrap().first;
        assert_eq!(first, 3, "{name}");
        src.skip(2).unwrap();
        let rest = decode_all(src.as_mut());
        assert_eq!(rest.len(), all.len() - 6, "{name}");
        assert_eq!(rest[0], all[6], "{name}");
        src.skip(100).unwrap();
        assert!(src.read(5, Vec::new()).unwrap().is_none(), "{name}");
    }
}
