//! XTC tests: molly as the independent reference, round trips, hostile input.

use super::*;
use crate::formats::util::testing::{close, tmp_file, Decoded, Lcg};
use crate::formats::{ChunkBytes, WriterSink};
use std::io::Cursor;

/// Water-like test coordinates in nm: triples of atoms close together (exercises runs).
pub(crate) fn water_nm(natoms: usize, seed: u64) -> Vec<f32> {
    let mut r = Lcg(seed);
    let mut out = Vec::with_capacity(3 * natoms);
    let mut centre = [0f64; 3];
    for i in 0..natoms {
        if i % 3 == 0 {
            centre = [
                r.uniform() * 5.0,
                r.uniform() * 5.0,
                r.uniform() * 5.0 - 1.0,
            ];
        }
        for c in centre {
            out.push((c + (r.uniform() - 0.5) * 0.2) as f32);
        }
    }
    out
}

/// An XTC file written by molly itself: `frames` frames, per-frame precision and box.
pub(crate) fn molly_xtc(natoms: usize, frames: usize) -> Vec<u8> {
    let mut w = molly::XTCWriter::new(Vec::new());
    for f in 0..frames {
        let frame = molly::Frame {
            step: 100 * f as u32,
            time: 0.5 * f as f32 + 2.0,
            boxvec: [5.0, 0.0, 0.0, 0.5, 5.1, 0.0, 0.2, 0.3, 5.2],
            precision: if f % 2 == 0 { 1000.0 } else { 100.0 },
            positions: water_nm(natoms, 7 + f as u64),
        };
        w.write_frame(&frame).expect("molly writes");
    }
    w.file
}

/// Reads every frame with molly (the reference decoder) from bytes.
fn molly_frames(bytes: &[u8]) -> Vec<molly::Frame> {
    let mut r = molly::XTCReader::new(Cursor::new(bytes.to_vec()));
    r.read_all_frames().expect("molly reads").into_vec()
}

/// Opens `bytes` as a source and decodes every frame.
pub(crate) fn read_all(name: &str, bytes: &[u8]) -> anyhow::Result<(TrajMeta, Decoded)> {
    let path = tmp_file(name, bytes);
    let src = XtcSource::open(&path);
    std::fs::remove_file(&path).ok();
    let mut src = src?;
    let meta = src.meta.clone();
    let dec = FrameSource::decoder(&src);
    let mut out = Vec::new();
    while let Some(chunk) = src.read(3, Vec::new())? {
        let ChunkBytes::Owned(b) = &chunk.bytes else {
            panic!("owned")
        };
        for k in 0..chunk.frames {
            let mut c = vec![0.0; meta.points * 3];
            let mut info = FrameInfo::default();
            dec.decode(
                &b[chunk.offsets[k]..chunk.offsets[k + 1]],
                &mut c,
                &mut info,
            )
            .map_err(|e| anyhow!("frame {}: {e}", chunk.first + k))?;
            out.push((c, info));
        }
    }
    Ok((meta, out))
}

/// Our slice decoder gives exactly molly's values (× 10 in f32) for several atom counts.
#[test]
fn decodes_like_molly() {
    for natoms in [10, 11, 300, 1001] {
        let bytes = molly_xtc(natoms, 5);
        let (meta, frames) = read_all(&format!("m{natoms}.xtc"), &bytes).unwrap();
        assert_eq!((meta.frames, meta.points, meta.dims), (5, natoms, 3));
        assert_eq!(meta.dt, Some(0.5));
        for (f, (m, (c, info))) in molly_frames(&bytes).iter().zip(&frames).enumerate() {
            // Expected: molly's f32 nm values × 10 in f32 (what MDAnalysis computes).
            for (a, b) in c.iter().zip(&m.positions) {
                assert_eq!(*a, (b * 10.0) as f64, "frame {f}");
            }
            assert_eq!(info.step, Some(100 * f as i64));
            assert_eq!(info.time, Some(m.time as f64));
            assert_eq!(info.precision, Some(m.precision));
            let cell = info.cell.unwrap();
            assert_eq!(cell[1][0], (0.5f32 * 10.0) as f64);
            assert_eq!(cell[2][2], (5.2f32 * 10.0) as f64);
        }
    }
}

/// Frames of ≤ 9 atoms are stored as plain floats.
#[test]
fn small_frames_are_plain_floats() {
    let bytes = molly_xtc(4, 3);
    let (meta, frames) = read_all("small.xtc", &bytes).unwrap();
    assert_eq!((meta.frames, meta.points), (3, 4));
    for (m, (c, info)) in molly_frames(&bytes).iter().zip(&frames) {
        for (a, b) in c.iter().zip(&m.positions) {
            assert_eq!(*a, (b * 10.0) as f64);
        }
        assert_eq!(info.precision, None);
    }
}

/// Writes frames through our sink into bytes.
pub(crate) fn write_with_sink(meta: &TrajMeta, frames: &[(Vec<f64>, FrameInfo)]) -> Vec<u8> {
    let spec = SinkSpec {
        meta: meta.clone(),
        topology: None,
        dt: None,
    };
    let sink = XtcSink::create(Box::new(Vec::<u8>::new()), &spec).unwrap();
    let enc = sink.encoder();
    let mut sink: Box<dyn WriterSink> = Box::new(sink);
    let mut buf = Vec::new();
    for (i, (c, info)) in frames.iter().enumerate() {
        enc.encode_append(i, c, info, &mut buf).unwrap();
    }
    sink.write(&buf, frames.len()).unwrap();
    drop(sink.finish().unwrap());
    buf
}

/// Read → write → read is lossless, and byte-identical to molly's own output.
#[test]
fn round_trip_keeps_everything() {
    for natoms in [5, 1001] {
        let bytes = molly_xtc(natoms, 4);
        let (meta, frames) = read_all(&format!("rt{natoms}.xtc"), &bytes).unwrap();
        let again = write_with_sink(&meta, &frames);
        if natoms > 9 {
            // molly wrote the input; our writer also uses molly's compressor: same bytes.
            assert_eq!(again, bytes);
        }
        let (meta2, frames2) = read_all(&format!("rt{natoms}b.xtc"), &again).unwrap();
        assert_eq!(
            meta2,
            TrajMeta {
                source: meta2.source.clone(),
                ..meta.clone()
            }
        );
        for ((c, i), (c2, i2)) in frames.iter().zip(&frames2) {
            assert_eq!(c, c2);
            assert_eq!(i, i2);
        }
    }
}

/// Arbitrary f64 coordinates come back within half a precision quantum.
#[test]
fn encodes_engine_coordinates_within_precision() {
    let natoms = 500;
    let mut r = Lcg(3);
    let c: Vec<f64> = (0..3 * natoms).map(|_| r.uniform() * 80.0 - 20.0).collect();
    let info = FrameInfo {
        time: Some(12.5),
        step: Some(-7),
        cell: Some([[40.0, 0.0, 0.0], [0.0, 41.0, 0.0], [0.0, 0.0, 42.5]]),
        precision: Some(100.0),
        lambda: None,
    };
    let meta = TrajMeta {
        source: "x".into(),
        key: "xtc".into(),
        frames: 1,
        points: natoms,
        dims: 3,
        width: Width::F32,
        big_endian: false,
        unit: "Å",
        dt: None,
    };
    let bytes = write_with_sink(&meta, &[(c.clone(), info.clone())]);
    let (_, back) = read_all("enc.xtc", &bytes).unwrap();
    let (c2, i2) = &back[0];
    for (a, b) in c.iter().zip(c2) {
        // Half a quantum (0.5 / 100 nm = 0.05 Å) plus f32 round-off.
        assert!((a - b).abs() <= 0.05 + 1e-5, "{a} {b}");
    }
    assert_eq!(i2, &info);
    // No precision given: default 1000.
    let plain = FrameInfo {
        precision: None,
        ..info
    };
    let bytes = write_with_sink(&meta, &[(c.clone(), plain)]);
    let (_, back) = read_all("enc2.xtc", &bytes).unwrap();
    assert_eq!(back[0].1.precision, Some(1000.0));
    assert!(c
        .iter()
        .zip(&back[0].0)
        .all(|(a, b)| close(*a, *b, 0.0, 0.005 + 1e-5)));
}

/// Huge or NaN coordinates and 64-bit steps are errors, not garbage.
#[test]
fn encoder_refuses_unrepresentable() {
    let enc = XtcEncoder {
        natoms: 10,
        dt: 1.0,
    };
    let mut c = vec![1.0; 30];
    c[4] = 1e12;
    let mut out = Vec::new();
    let e = enc
        .encode_append(0, &c, &FrameInfo::default(), &mut out)
        .unwrap_err();
    assert!(e.contains("does not fit"), "{e}");
    c[4] = f64::NAN;
    assert!(enc
        .encode_append(0, &c, &FrameInfo::default(), &mut out)
        .is_err());
    let big_step = FrameInfo {
        step: Some(1 << 40),
        ..Default::default()
    };
    assert!(enc
        .encode_append(0, &[0.0; 30], &big_step, &mut out)
        .is_err());
}

/// Opens and decodes `bytes`, which may be corrupt: must return, never panic.
fn survive(bytes: &[u8]) -> Result<usize, String> {
    read_all("hostile.xtc", bytes)
        .map(|(_, f)| f.len())
        .map_err(|e| e.to_string())
}

/// Every 97th-byte truncation: an error naming the frame, or a clean frame boundary.
#[test]
fn truncations_error_or_end_on_a_frame() {
    let bytes = molly_xtc(200, 3);
    let frame_ends: Vec<usize> = {
        let mut v = vec![0];
        let mut r = molly::XTCReader::new(Cursor::new(bytes.clone()));
        let mut f = molly::Frame::default();
        while r.read_frame(&mut f).is_ok() {
            v.push(r.file.position() as usize);
        }
        v
    };
    for cut in (0..bytes.len()).step_by(97) {
        match survive(&bytes[..cut]) {
            Ok(n) => assert!(frame_ends.get(n) == Some(&cut), "cut {cut}"),
            Err(e) => assert!(!e.contains('\n') && e.contains("frame") || cut == 0, "{e}"),
        }
    }
    let e = survive(&bytes[..bytes.len() - 3]).unwrap_err();
    assert!(e.starts_with("frame 2: truncated"), "{e}");
}

/// Every byte of a file flipped three ways: the parser returns, never panics.
#[test]
fn flipped_bytes_never_panic() {
    let bytes = molly_xtc(50, 2);
    for at in 0..bytes.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut b = bytes.clone();
            b[at] ^= flip;
            let _ = survive(&b);
        }
    }
}

/// Byte count 2^31, 2^30 atoms, atom count changes, bad magic, empty file.
#[test]
fn absurd_sizes_are_refused_without_allocating() {
    let mut bytes = molly_xtc(20, 1);
    // Byte count 2^31 (offset 88 = header + prelude).
    bytes[88..92].copy_from_slice(&(1u32 << 31).to_be_bytes());
    let e = survive(&bytes).unwrap_err();
    assert!(e.contains("truncated"), "{e}");
    // Atom count 2^30 in both header fields with a small byte count.
    let mut bytes = molly_xtc(20, 1);
    bytes[4..8].copy_from_slice(&(1u32 << 30).to_be_bytes());
    bytes[52..56].copy_from_slice(&(1u32 << 30).to_be_bytes());
    let e = survive(&bytes).unwrap_err();
    assert!(e.contains("cannot fit"), "{e}");
    // Atom count changing between frames.
    let mut two = molly_xtc(20, 1);
    two.extend(molly_xtc(21, 1));
    let e = survive(&two).unwrap_err();
    assert!(e.starts_with("frame 1: atom count 21 differs"), "{e}");
    // Bad magic.
    let mut bytes = molly_xtc(20, 1);
    bytes[3] = 0;
    assert!(survive(&bytes)
        .unwrap_err()
        .starts_with("frame 0: bad magic"));
    assert!(survive(&[]).unwrap_err().contains("no frames"));
}

/// Decode speed of our path (framing + slice decoder) vs molly's `XTCReader`.
#[test]
#[ignore]
fn speed_vs_molly() {
    let bytes = molly_xtc(5000, 200);
    let mb = bytes.len() as f64 / 1e6;
    let path = tmp_file("speed.xtc", &bytes);
    let best = |f: &mut dyn FnMut()| {
        (0..5)
            .map(|_| {
                let t = std::time::Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .fold(f64::MAX, f64::min)
    };
    let molly_s = best(&mut || {
        let mut r = molly::XTCReader::open(&path).unwrap();
        let mut f = molly::Frame::default();
        let mut n = 0;
        while r.read_frame(&mut f).is_ok() {
            n += 1;
        }
        assert_eq!(n, 200);
    });
    let mut coords = vec![0.0; 15000];
    let ours_s = best(&mut || {
        let mut src = XtcSource::open(&path).unwrap();
        let dec = FrameSource::decoder(&src);
        let mut buf = Vec::new();
        while let Some(ch) = src.read(16, std::mem::take(&mut buf)).unwrap() {
            let ChunkBytes::Owned(b) = ch.bytes else {
                panic!()
            };
            for k in 0..ch.frames {
                let mut info = FrameInfo::default();
                dec.decode(&b[ch.offsets[k]..ch.offsets[k + 1]], &mut coords, &mut info)
                    .unwrap();
            }
            buf = b;
        }
    });
    let scan_s = best(&mut || {
        XtcSource::open(&path).unwrap();
    });
    std::fs::remove_file(&path).ok();
    println!(
        "XTC {mb:.1} MB, 5000 atoms x 200 frames, 1 thread, best of 5: molly XTCReader {:.0} MB/s; \
         ours open+read+decode {:.0} MB/s (header scan alone {:.1} ms)",
        mb / molly_s,
        mb / ours_s,
        scan_s * 1e3
    );
}

/// Frames with the GROMACS 2023 magic (64-bit byte count) decode like molly reads them.
#[test]
fn reads_2023_magic() {
    let mut w = molly::XTCWriter::new_with_magic(Vec::new(), molly::Magic::Xtc2023);
    for f in 0..2 {
        let frame = molly::Frame {
            step: f,
            time: f as f32,
            boxvec: [3.0, 0.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 3.0],
            precision: 1000.0,
            positions: water_nm(30, 100 + f as u64),
        };
        w.write_frame(&frame).unwrap();
    }
    let bytes = w.file;
    assert_eq!(&bytes[..4], &2023i32.to_be_bytes());
    let (meta, frames) = read_all("m2023.xtc", &bytes).unwrap();
    assert_eq!(meta.frames, 2);
    for (m, (c, _)) in molly_frames(&bytes).iter().zip(&frames) {
        assert!(c
            .iter()
            .zip(&m.positions)
            .all(|(a, b)| *a == (b * 10.0) as f64));
    }
}
