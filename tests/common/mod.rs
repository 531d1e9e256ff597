//! Helpers shared by the integration tests: the command under test, fixture `.npy`/`.npz`
//! files written from Rust (hand-made npy headers inside zip archives made with the `zip`
//! crate, so no Python is needed), and an independent reader for the outputs.
//!
//! The reader here deliberately does not use aligntraj's own I/O code: a bug there must not be
//! able to hide itself by being on both sides of a comparison.
#![allow(dead_code)]

use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

/// The `aligntraj` binary built for this test run.
pub fn cmd() -> assert_cmd::Command {
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_aligntraj"))
}

/// A path inside the project (`data/chain2d.npz`).
pub fn project_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// `../shared/data/paths.npz` (the book's trajectory, not committed), or `None` after printing
/// that the calling test is skipped.
pub fn shared_paths(test: &str) -> Option<PathBuf> {
    let p = project_file("../shared/data/paths.npz");
    if p.is_file() {
        Some(p)
    } else {
        // Written to the process's stderr directly: the test harness captures print!/eprint!,
        // so a plain `cargo test` would not show a macro's line.
        let line = format!(
            "SKIPPED {test}: {} is absent (tests named needs_shared_* use the book's data)\n",
            p.display()
        );
        let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
        None
    }
}

/// How fixture numbers are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enc {
    /// `<f8`
    F64Le,
    /// `>f8`
    F64Be,
    /// `<f4`
    F32Le,
    /// `>f4`
    F32Be,
}

impl Enc {
    pub fn descr(self) -> &'static str {
        match self {
            Enc::F64Le => "<f8",
            Enc::F64Be => ">f8",
            Enc::F32Le => "<f4",
            Enc::F32Be => ">f4",
        }
    }

    pub fn encode(self, values: &[f64]) -> Vec<u8> {
        let mut out = Vec::new();
        for &v in values {
            match self {
                Enc::F64Le => out.extend_from_slice(&v.to_le_bytes()),
                Enc::F64Be => out.extend_from_slice(&v.to_be_bytes()),
                Enc::F32Le => out.extend_from_slice(&(v as f32).to_le_bytes()),
                Enc::F32Be => out.extend_from_slice(&(v as f32).to_be_bytes()),
            }
        }
        out
    }
}

/// A version 1.0 `.npy` file: header for `descr` / `fortran` / `shape`, then `data` as given.
pub fn npy_raw(descr: &str, fortran: bool, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let shape_txt = match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let fortran = if fortran { "True" } else { "False" };
    let dict =
        format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape_txt}, }}");
    let mut header = dict.into_bytes();
    // Pad with spaces and end with '\n' so the data start on a 64-byte boundary.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(data);
    out
}

/// A C-order float `.npy` of `values` (row-major for `shape`).
pub fn npy(enc: Enc, shape: &[usize], values: &[f64]) -> Vec<u8> {
    assert_eq!(shape.iter().product::<usize>(), values.len());
    npy_raw(enc.descr(), false, shape, &enc.encode(values))
}

/// A Fortran-order float `.npy` of a `(frames, points, dims)` array given row-major in `values`:
/// element `[f][p][d]` is stored at `f + frames·(p + points·d)`.
pub fn npy_fortran3(enc: Enc, shape: [usize; 3], values: &[f64]) -> Vec<u8> {
    let [nf, np, nd] = shape;
    let mut col = vec![0.0; values.len()];
    for f in 0..nf {
        for p in 0..np {
            for d in 0..nd {
                col[f + nf * (p + np * d)] = values[(f * np + p) * nd + d];
            }
        }
    }
    npy_raw(enc.descr(), true, &shape, &enc.encode(&col))
}

/// A member of a fixture archive.
pub struct Member<'a> {
    pub name: &'a str,
    pub bytes: Vec<u8>,
    pub deflate: bool,
}

/// A stored member `NAME` (the name as in the zip, e.g. `arr.npy`).
pub fn stored(name: &str, bytes: Vec<u8>) -> Member<'_> {
    Member {
        name,
        bytes,
        deflate: false,
    }
}

/// A deflated member, as `numpy.savez_compressed` writes.
pub fn deflated(name: &str, bytes: Vec<u8>) -> Member<'_> {
    Member {
        name,
        bytes,
        deflate: true,
    }
}

/// The bytes of a zip archive holding `members`.
pub fn npz_bytes(members: &[Member<'_>]) -> Vec<u8> {
    let mut z = ZipWriter::new(Cursor::new(Vec::new()));
    for m in members {
        let method = if m.deflate {
            CompressionMethod::Deflated
        } else {
            CompressionMethod::Stored
        };
        z.start_file(
            m.name,
            SimpleFileOptions::default().compression_method(method),
        )
        .unwrap();
        z.write_all(&m.bytes).unwrap();
    }
    z.finish().unwrap().into_inner()
}

/// Writes a zip archive holding `members` at `path`.
pub fn write_npz(path: &Path, members: &[Member<'_>]) {
    std::fs::write(path, npz_bytes(members)).unwrap();
}

/// Writes `arr.npy` (stored) holding `values` shaped `shape` in `enc`.
pub fn write_traj(path: &Path, enc: Enc, shape: [usize; 3], values: &[f64]) {
    write_npz(path, &[stored("arr.npy", npy(enc, &shape, values))]);
}

/// Deterministic pseudo-random numbers in [-scale, scale) (a 64-bit LCG; no dependency).
pub fn noise(n: usize, seed: u64, scale: f64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) * scale
        })
        .collect()
}

/// A trajectory with a different offset per frame (so centering has work to do).
pub fn drifting(frames: usize, points: usize, dims: usize, seed: u64) -> Vec<f64> {
    let mut v = noise(frames * points * dims, seed, 3.0);
    for f in 0..frames {
        for p in 0..points {
            for d in 0..dims {
                v[(f * points + p) * dims + d] += 10.0 + 0.5 * f as f64 - 2.0 * d as f64;
            }
        }
    }
    v
}

/// The uncompressed bytes of every member of an archive, by zip name, in archive order.
pub fn zip_members(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut z = ZipArchive::new(Cursor::new(bytes)).expect("a readable zip");
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut data = Vec::new();
            f.read_to_end(&mut data).unwrap();
            (f.name().to_string(), data)
        })
        .collect()
}

/// The uncompressed bytes of member `name` of an archive given as bytes.
pub fn zip_member(bytes: &[u8], name: &str) -> Vec<u8> {
    zip_members(bytes)
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no member {name}"))
        .1
}

/// An array read back from `.npy` bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    pub descr: String,
    pub fortran: bool,
    pub shape: Vec<usize>,
    /// Row-major values, widened to f64.
    pub values: Vec<f64>,
}

/// Parses `.npy` bytes (float dtypes only), independently of aligntraj's reader.
pub fn parse_npy(bytes: &[u8]) -> Array {
    assert_eq!(&bytes[..6], b"\x93NUMPY", "not an npy");
    let (hlen, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        _ => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
    };
    let header = std::str::from_utf8(&bytes[start..start + hlen]).unwrap();
    let field = |key: &str| -> &str {
        let i = header
            .find(key)
            .unwrap_or_else(|| panic!("{key} in {header}"))
            + key.len();
        header[i..].trim_start_matches([':', ' ', '\''])
    };
    let descr = field("'descr'")[..3].to_string();
    let fortran = field("'fortran_order'").starts_with("True");
    let shape_txt = field("'shape'");
    let shape: Vec<usize> = shape_txt[1..shape_txt.find(')').unwrap()]
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    let data = &bytes[start + hlen..];
    let n: usize = shape.iter().product();
    let values: Vec<f64> = match descr.as_str() {
        "<f8" => data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
            .collect(),
        ">f8" => data
            .chunks_exact(8)
            .map(|b| f64::from_be_bytes(b.try_into().unwrap()))
            .collect(),
        "<f4" => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64)
            .collect(),
        ">f4" => data
            .chunks_exact(4)
            .map(|b| f32::from_be_bytes(b.try_into().unwrap()) as f64)
            .collect(),
        other => panic!("unexpected dtype {other}"),
    };
    assert_eq!(values.len(), n, "data length matches the shape");
    Array {
        descr,
        fortran,
        shape,
        values,
    }
}

/// Member `key` of an `.npz` given as bytes.
pub fn npz_array(bytes: &[u8], key: &str) -> Array {
    parse_npy(&zip_member(bytes, &format!("{key}.npy")))
}

/// Member `key` of the `.npz` at `path`.
pub fn read_array(path: &Path, key: &str) -> Array {
    npz_array(&std::fs::read(path).unwrap(), key)
}

/// `X − c` per frame, with `c = Σ_{i∈fit} w_i x_i / Σ w_i`, by plain loops (the reference the
/// tests compare with).
pub fn expected_com(
    x: &[f64],
    shape: [usize; 3],
    weights: Option<&[f64]>,
    fit: Option<&[usize]>,
) -> Vec<f64> {
    let [nf, np, nd] = shape;
    let all: Vec<usize> = (0..np).collect();
    let fit = fit.unwrap_or(&all);
    let mut out = x.to_vec();
    for f in 0..nf {
        for d in 0..nd {
            let (mut num, mut den) = (0.0, 0.0);
            for &p in fit {
                let w = weights.map_or(1.0, |w| w[p]);
                num += w * x[(f * np + p) * nd + d];
                den += w;
            }
            let c = num / den;
            for p in 0..np {
                out[(f * np + p) * nd + d] -= c;
            }
        }
    }
    out
}

/// The largest absolute difference between two equally long slices.
pub fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// Files in `dir` (names), sorted: to check that a failed run left nothing behind.
pub fn dir_listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
