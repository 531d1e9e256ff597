//! DCD tests on hand-built byte sequences (every layout), round trips and hostile input.

use super::*;
use crate::formats::util::testing::{close, tmp_file, Decoded, Lcg, SharedBuf};

/// How to build a test DCD by hand.
#[derive(Clone, Copy)]
struct Build {
    big: bool,
    marker: usize,
    charmm: bool,
    cell: Option<[f64; 6]>,
    four: bool,
    namnf: i32,
}

/// Default build: little-endian CHARMM, 32-bit markers, cosine unit cell.
const CHARMM: Build = Build {
    big: false,
    marker: 4,
    charmm: true,
    cell: Some([30.0, 0.0, 31.0, 0.0, 0.0, 32.0]),
    four: false,
    namnf: 0,
};

/// Appends one Fortran record.
fn rec(out: &mut Vec<u8>, b: &Build, payload: &[u8]) {
    let n = payload.len() as u64;
    let m = match (b.marker, b.big) {
        (4, false) => (n as u32).to_le_bytes().to_vec(),
        (4, true) => (n as u32).to_be_bytes().to_vec(),
        (_, false) => n.to_le_bytes().to_vec(),
        (_, true) => n.to_be_bytes().to_vec(),
    };
    out.extend(&m);
    out.extend(payload);
    out.extend(&m);
}

/// Builds a DCD: natoms atoms, frames frames, atom i of frame f at (i + f/10, -i, 0.5 i).
fn build(b: Build, natoms: i32, frames: usize) -> Vec<u8> {
    let i4 = |v: i32| {
        if b.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let f4 = |v: f32| {
        if b.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let f8 = |v: f64| {
        if b.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut h = b"CORD".to_vec();
    let mut icntrl = [0i32; 20];
    icntrl[0] = frames as i32;
    icntrl[1] = 10; // ISTART
    icntrl[2] = 5; // NSAVC
    icntrl[8] = b.namnf;
    if b.charmm {
        icntrl[10] = b.cell.is_some() as i32;
        icntrl[11] = b.four as i32;
        icntrl[19] = 24;
    }
    for v in icntrl {
        h.extend(i4(v));
    }
    if b.charmm {
        h[40..44].copy_from_slice(&f4(2.0)); // DELTA (AKMA) as f32 at ICNTRL[9]
    } else {
        h[40..48].copy_from_slice(&f8(2.0)); // X-PLOR: f64
    }
    let mut out = Vec::new();
    rec(&mut out, &b, &h);
    let mut title = i4(2).to_vec();
    title.extend([b' '; 160]);
    rec(&mut out, &b, &title);
    rec(&mut out, &b, &i4(natoms));
    for f in 0..frames {
        if let (true, Some(c)) = (b.charmm, b.cell) {
            let p: Vec<u8> = c.iter().flat_map(|&v| f8(v + f as f64)).collect();
            rec(&mut out, &b, &p);
        }
        let axes: [fn(f32, f32) -> f32; 4] =
            [|i, f| i + f / 10.0, |i, _| -i, |i, _| 0.5 * i, |_, _| 9.0];
        for ax in &axes[..if b.four { 4 } else { 3 }] {
            let p: Vec<u8> = (0..natoms)
                .flat_map(|i| f4(ax(i as f32, f as f32)))
                .collect();
            rec(&mut out, &b, &p);
        }
    }
    out
}

/// Opens and decodes all frames of `bytes`.
fn read_all(name: &str, bytes: &[u8]) -> anyhow::Result<(DcdSource, Decoded)> {
    let path = tmp_file(name, bytes);
    let src = DcdSource::open(&path);
    std::fs::remove_file(&path).ok();
    let mut src = src?;
    let dec = FrameSource::decoder(&src);
    let fb = dec.frame_bytes().unwrap();
    let n = src.meta.points * 3;
    let mut out = Vec::new();
    while let Some(chunk) = src.read(2, Vec::new())? {
        let ChunkBytes::Owned(b) = &chunk.bytes else {
            panic!("owned")
        };
        assert!(chunk.offsets.is_empty());
        for k in 0..chunk.frames {
            let (mut c, mut info) = (vec![0.0; n], FrameInfo::default());
            dec.decode(&b[k * fb..(k + 1) * fb], &mut c, &mut info)
                .map_err(|e| anyhow!("frame {}: {e}", chunk.first + k))?;
            out.push((c, info));
        }
    }
    Ok((src, out))
}

/// Both byte orders, 32/64-bit markers, CHARMM (with/without 4th dimension) and X-PLOR.
#[test]
fn reads_every_layout() {
    for big in [false, true] {
        for marker in [4, 8] {
            for (charmm, four) in [(true, false), (true, true), (false, false)] {
                let b = Build {
                    big,
                    marker,
                    charmm,
                    four,
                    ..CHARMM
                };
                let (src, frames) = read_all("layout.dcd", &build(b, 7, 3)).unwrap();
                let h = src.header();
                assert_eq!(h.layout, Layout { big, marker });
                assert_eq!(
                    (src.meta.frames, src.meta.points, h.istart, h.nsavc),
                    (3, 7, 10, 5)
                );
                assert_eq!(h.delta, 2.0);
                for (f, (c, info)) in frames.iter().enumerate() {
                    assert_eq!(c[3 * 4], (4.0 + f as f32 / 10.0) as f64);
                    assert_eq!((c[3 * 4 + 1], c[3 * 4 + 2]), (-4.0, 2.0));
                    // Frame f adds f to every cell number: frame 1 has cosines 1 (0°, invalid); frame 2 degrees.
                    assert_eq!(
                        info.cell.is_some(),
                        charmm && f != 1,
                        "{big} {marker} {charmm}"
                    );
                }
            }
        }
    }
}

/// dt, time, step and the cosine unit cell as MDAnalysis computes them.
#[test]
fn time_and_cell_follow_mdanalysis() {
    let (src, frames) = read_all("t.dcd", &build(CHARMM, 4, 2)).unwrap();
    // MDAnalysis: dt = delta * nsavc in ps (1 AKMA = 4.888821e-2 ps),
    // time = (frame + istart/nsavc) * dt; here delta 2, nsavc 5, istart 10.
    let dt = 2.0 * 4.888821e-2 * 5.0;
    assert!(close(src.meta.dt.unwrap(), dt, 1e-12, 0.0));
    let dec = DcdDecoder {
        header: src.header().clone(),
        frame_bytes: 0,
    };
    let (t1, s1) = dec.time_step(1);
    assert!(close(t1, 3.0 * dt, 1e-12, 0.0));
    assert_eq!(s1, 15);
    // Cosines 0 → 90°: orthogonal box with A, B, C (frame 1 adds 1 to every raw number: cos = 1
    // → 0° is invalid in MDAnalysis' triclinic_vectors, so frame 1 has no cell).
    assert_eq!(
        frames[0].1.cell,
        Some([[30.0, 0.0, 0.0], [0.0, 31.0, 0.0], [0.0, 0.0, 32.0]])
    );
    assert_eq!(frames[1].1.cell, None);
}

/// Degrees, cosines and new-CHARMM box matrices; writing cosines reads back.
#[test]
fn unit_cell_conventions() {
    // Degrees (NAMD 2.5): A=10, gamma=60, B=10, beta=90, alpha=90, C=10: hexagonal prism;
    // expected vectors from MDAnalysis' triclinic_vectors formula: b = (10 cos60, 10 sin60, 0).
    let c = cell_from_dcd(&[10.0, 60.0, 10.0, 90.0, 90.0, 10.0]).unwrap();
    assert!(close(c[1][0], 5.0, 1e-12, 0.0) && close(c[1][1], 75f64.sqrt(), 1e-12, 0.0));
    assert_eq!(c[2], [0.0, 0.0, 10.0]);
    // The same as cosines.
    let c2 = cell_from_dcd(&[10.0, 0.5, 10.0, 0.0, 0.0, 10.0]).unwrap();
    for (r, r2) in c.iter().zip(&c2) {
        for (a, b) in r.iter().zip(r2) {
            assert!(close(*a, *b, 1e-12, 1e-12));
        }
    }
    // Writing gives cosines that read back to the same vectors.
    let raw = cell_to_dcd(Some(&c));
    assert!(close(raw[1], 0.5, 1e-12, 0.0) && raw[3].abs() < 1e-15);
    let c3 = cell_from_dcd(&raw).unwrap();
    assert!(c3
        .iter()
        .flatten()
        .zip(c.iter().flatten())
        .all(|(a, b)| close(*a, *b, 1e-12, 1e-12)));
    // New-CHARMM symmetric box matrix (a negative entry): [a11, a12, a22, a13, a23, a33].
    let c4 = cell_from_dcd(&[10.0, -2.0, 10.0, 0.0, 0.0, 10.0]).unwrap();
    assert!(close(c4[0][0], 104f64.sqrt(), 1e-12, 0.0));
    assert_eq!(cell_from_dcd(&[0.0; 6]), None);
}

/// Sink output read back: same coordinates, cells, dt; ISTART keeps frame 0's time.
#[test]
fn round_trip_through_sink() {
    let natoms = 50;
    let mut r = Lcg(11);
    let frames: Vec<(Vec<f64>, FrameInfo)> = (0..3)
        .map(|f| {
            let c = (0..3 * natoms)
                .map(|_| (r.uniform() * 100.0 - 50.0) as f32 as f64)
                .collect();
            let cell = (f != 1).then_some([[40.0, 0.0, 0.0], [5.0, 41.0, 0.0], [1.0, 2.0, 42.0]]);
            (
                c,
                FrameInfo {
                    cell,
                    time: Some(6.0 + 2.0 * f as f64),
                    ..Default::default()
                },
            )
        })
        .collect();
    let meta = TrajMeta {
        source: "x".into(),
        key: "dcd".into(),
        frames: 3,
        points: natoms,
        dims: 3,
        width: Width::F32,
        big_endian: false,
        unit: "Å",
        dt: Some(2.0),
    };
    let spec = SinkSpec {
        meta,
        topology: None,
        dt: None,
    };
    let shared = SharedBuf::default();
    let sink = DcdSink::create(Box::new(shared.clone()), &spec).unwrap();
    let enc = sink.encoder();
    let fb = enc.frame_bytes().unwrap();
    let mut buf = vec![0u8; 3 * fb];
    for (i, (c, info)) in frames.iter().enumerate() {
        enc.encode_into(i, c, info, &mut buf[i * fb..(i + 1) * fb])
            .unwrap();
    }
    let mut sink: Box<dyn WriterSink> = Box::new(sink);
    sink.write(&buf, 3).unwrap();
    drop(sink.finish().unwrap());
    let file = shared.0.lock().unwrap().clone();
    let header = charmm_header(natoms, 3, 2.0, 3).unwrap();
    assert_eq!(file[..header.len()], header[..]);
    let (src, back) = read_all("rt.dcd", &file).unwrap();
    assert_eq!((src.header().nset, src.header().istart), (3, 3));
    // Frame 0 at 6 ps with dt 2 ps: ISTART 3, so MDAnalysis' time (frame + 3) × 2 continues it.
    let dec = DcdDecoder::from_header(src.header()).unwrap();
    assert!(close(dec.time_step(2).0, 10.0, 1e-6, 0.0));
    assert!(
        close(src.meta.dt.unwrap(), 2.0, 1e-6, 0.0),
        "{:?}",
        src.meta.dt
    );
    for ((c, i), (c2, i2)) in frames.iter().zip(&back) {
        assert_eq!(c, c2);
        match (i.cell, i2.cell) {
            (Some(a), Some(b)) => {
                assert!(a
                    .iter()
                    .flatten()
                    .zip(b.iter().flatten())
                    .all(|(x, y)| close(*x, *y, 1e-12, 1e-12)))
            }
            (a, b) => assert_eq!(a, b),
        }
    }
}

/// Opens and decodes `bytes`, which may be corrupt: must return, never panic.
fn survive(bytes: &[u8]) -> Result<usize, String> {
    read_all("hostile.dcd", bytes)
        .map(|(_, f)| f.len())
        .map_err(|e| e.to_string())
}

/// Truncations, flipped bytes, absurd sizes, fixed atoms: errors, never panics.
#[test]
fn hostile_input() {
    let good = build(CHARMM, 9, 3);
    let header_len = 4 + 84 + 4 + 4 + 164 + 4 + 12;
    let fb = 56 + 3 * (8 + 36);
    for cut in (0..good.len()).step_by(97) {
        match survive(&good[..cut]) {
            Ok(n) => assert_eq!(cut, header_len + n * fb),
            Err(e) => assert!(!e.contains('\n'), "{e}"),
        }
    }
    let e = survive(&good[..good.len() - 5]).unwrap_err();
    assert!(e.starts_with("frame 2: truncated"), "{e}");
    for at in 0..good.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut b = good.clone();
            b[at] ^= flip;
            let _ = survive(&b);
        }
    }
    // Absurd atom count (i32::MAX, about 2e9; the field is 32-bit, so 1e12 cannot be stored):
    // refused by the size check, nothing allocated.
    let mut b = build(CHARMM, 9, 1);
    b[268..272].copy_from_slice(&i32::MAX.to_le_bytes());
    let e = survive(&b).unwrap_err();
    assert!(e.contains("truncated"), "{e}");
    // A 64-bit marker claiming a 10^12-byte title record.
    let mut b = build(
        Build {
            marker: 8,
            ..CHARMM
        },
        9,
        1,
    );
    b[8 + 84 + 8..8 + 84 + 16].copy_from_slice(&1_000_000_000_000u64.to_le_bytes());
    assert!(survive(&b).unwrap_err().contains("passes the end"));
    // An atom-count record holding 10^12 as an 8-byte integer is refused.
    let mut b = build(CHARMM, 9, 1);
    let mut patch = Vec::new();
    rec(&mut patch, &CHARMM, &1_000_000_000_000i64.to_le_bytes());
    b.splice(264..276, patch);
    let e = survive(&b).unwrap_err();
    assert!(e.contains("atom count record"), "{e}");
    let e = survive(&build(CHARMM, -5, 1)).unwrap_err();
    assert!(e.contains("invalid atom count"), "{e}");
    let e = survive(&build(Build { namnf: 3, ..CHARMM }, 9, 1)).unwrap_err();
    assert!(e.contains("fixed atoms"), "{e}");
    assert!(survive(b"hello world, not a dcd file")
        .unwrap_err()
        .contains("not a DCD"));
    assert!(survive(&build(CHARMM, 9, 0))
        .unwrap_err()
        .contains("no frames"));
}
