//! TRR tests: round trips in both precisions, a hand-built frame with velocities, hostile input.

use super::*;
use crate::formats::util::testing::{tmp_file, Decoded, Lcg};
use crate::formats::{ChunkBytes, WriterSink};

/// Writes frames with our sink (given width) and returns the bytes.
fn write(width: Width, frames: &[(Vec<f64>, FrameInfo)]) -> Vec<u8> {
    let meta = TrajMeta {
        source: "x".into(),
        key: "trr".into(),
        frames: frames.len(),
        points: frames[0].0.len() / 3,
        dims: 3,
        width,
        big_endian: false,
        unit: "Å",
        dt: None,
    };
    let spec = SinkSpec {
        meta,
        topology: None,
        dt: None,
    };
    let sink = TrrSink::create(Box::new(Vec::<u8>::new()), &spec).unwrap();
    let enc = sink.encoder();
    let mut buf = Vec::new();
    for (i, (c, info)) in frames.iter().enumerate() {
        enc.encode_append(i, c, info, &mut buf).unwrap();
    }
    let mut sink: Box<dyn WriterSink> = Box::new(sink);
    sink.write(&buf, frames.len()).unwrap();
    drop(sink.finish().unwrap());
    buf
}

/// Opens bytes as a TRR and decodes every frame.
fn read_all(name: &str, bytes: &[u8]) -> anyhow::Result<(TrajMeta, Decoded)> {
    let path = tmp_file(name, bytes);
    let src = TrrSource::open(&path);
    std::fs::remove_file(&path).ok();
    let mut src = src?;
    let meta = src.meta.clone();
    let dec = FrameSource::decoder(&src);
    let mut out = Vec::new();
    while let Some(ch) = src.read(2, Vec::new())? {
        let ChunkBytes::Owned(b) = &ch.bytes else {
            panic!("owned")
        };
        for k in 0..ch.frames {
            let (mut c, mut info) = (vec![0.0; meta.points * 3], FrameInfo::default());
            dec.decode(&b[ch.offsets[k]..ch.offsets[k + 1]], &mut c, &mut info)
                .map_err(|e| anyhow!("frame {}: {e}", ch.first + k))?;
            out.push((c, info));
        }
    }
    Ok((meta, out))
}

/// Three test frames of `n` atoms (coordinates exactly representable after nm round trips
/// in f32 only approximately, so comparisons use a tolerance).
fn frames(n: usize) -> Vec<(Vec<f64>, FrameInfo)> {
    let mut r = Lcg(5);
    (0..3)
        .map(|f| {
            let c = (0..3 * n).map(|_| r.uniform() * 60.0 - 10.0).collect();
            let info = FrameInfo {
                time: Some(100.0 + 10.0 * f as f64),
                step: Some(50_000 + 5_000 * f as i64),
                cell: (f != 2).then_some([[31.0, 0.0, 0.0], [0.0, 32.5, 0.0], [3.0, 2.0, 33.0]]),
                precision: None,
                lambda: Some(0.25),
            };
            (c, info)
        })
        .collect()
}

/// Sink output read back in both precisions: coordinates, box, time, step, lambda.
#[test]
fn round_trip_single_and_double() {
    for (width, tol) in [(Width::F32, 1e-5), (Width::F64, 1e-13)] {
        let input = frames(20);
        let bytes = write(width, &input);
        let (meta, back) = read_all("rt.trr", &bytes).unwrap();
        assert_eq!((meta.frames, meta.points, meta.width), (3, 20, width));
        assert_eq!(meta.dt, Some(10.0));
        for ((c, i), (c2, i2)) in input.iter().zip(&back) {
            assert!(c
                .iter()
                .zip(c2)
                .all(|(a, b)| (a - b).abs() <= tol * a.abs().max(1.0)));
            assert_eq!((i.time, i.step, i.lambda), (i2.time, i2.step, i2.lambda));
            match (i.cell, i2.cell) {
                (Some(a), Some(b)) => assert!(a
                    .iter()
                    .flatten()
                    .zip(b.iter().flatten())
                    .all(|(x, y)| (x - y).abs() <= tol * x.abs().max(1.0))),
                (a, b) => assert_eq!(a, b),
            }
        }
    }
}

/// A hand-built frame with box, x, v and f: positions decoded, v and f skipped.
#[test]
fn reads_frames_with_velocities_and_forces() {
    // Hand-built single-precision frame: box, x, v, f present (xdrfile layout).
    let n = 2usize;
    let mut b = Vec::new();
    let int = |b: &mut Vec<u8>, v: i32| b.extend(v.to_be_bytes());
    int(&mut b, 1993);
    int(&mut b, 13);
    int(&mut b, 12);
    b.extend(b"GMX_trn_file");
    for s in [0, 0, 36, 0, 0, 0, 0, 24, 24, 24, 2, 7, 0] {
        int(&mut b, s);
    }
    b.extend(1.5f32.to_be_bytes());
    b.extend(0.0f32.to_be_bytes());
    for v in [3.0f32, 0.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 3.0] {
        b.extend(v.to_be_bytes());
    }
    for block in 0..3 {
        for i in 0..3 * n {
            b.extend((block as f32 * 100.0 + i as f32 * 0.1).to_be_bytes());
        }
    }
    let (meta, fr) = read_all("vf.trr", &b).unwrap();
    assert_eq!((meta.frames, meta.points), (1, 2));
    let want: Vec<f64> = (0..6).map(|i| ((i as f32 * 0.1) * 10.0) as f64).collect();
    assert_eq!(fr[0].0, want);
    assert_eq!((fr[0].1.time, fr[0].1.step), (Some(1.5), Some(7)));
    assert_eq!(fr[0].1.cell.unwrap()[2][2], 30.0);
}

/// Opens and decodes `bytes`, which may be corrupt: must return, never panic.
fn survive(bytes: &[u8]) -> Result<usize, String> {
    read_all("hostile.trr", bytes)
        .map(|(_, f)| f.len())
        .map_err(|e| e.to_string())
}

/// Truncations, flipped bytes, absurd sizes, fixed atoms: errors, never panics.
#[test]
fn hostile_input() {
    let good = write(Width::F32, &frames(10));
    let fb = good.len() / 3;
    for cut in (0..good.len()).step_by(97) {
        match survive(&good[..cut]) {
            Ok(n) => assert_eq!(cut, n * fb),
            Err(e) => assert!(
                !e.contains('\n') && (cut == 0 || e.starts_with("frame")),
                "{e}"
            ),
        }
    }
    assert!(survive(&good[..good.len() - 1])
        .unwrap_err()
        .starts_with("frame 2: truncated"));
    for at in 0..good.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut b = good.clone();
            b[at] ^= flip;
            let _ = survive(&b);
        }
    }
    // Atom count 2^26 with a matching x size (805 MB): refused before any allocation.
    let mut b = good.clone();
    b[64..68].copy_from_slice(&(1i32 << 26).to_be_bytes());
    b[52..56].copy_from_slice(&(12i32 << 26).to_be_bytes());
    assert!(survive(&b).unwrap_err().contains("truncated"));
    let mut b = good.clone();
    b[2] = 0;
    assert!(survive(&b).unwrap_err().contains("bad magic"));
    let mut two = good[..fb].to_vec();
    two.extend(write(Width::F32, &frames(11)));
    assert!(survive(&two)
        .unwrap_err()
        .starts_with("frame 1: atom count 11 differs"));
}
