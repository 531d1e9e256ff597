//! Test helpers shared by the text-format tests: temp files, reading every frame through the
//! contract's traits, encoding frames, hostile-input loops and the MDAnalysis fixtures.

use super::{ChunkBytes, FrameEncoder, FrameInfo, FrameSource};
use std::path::{Path, PathBuf};

/// A fresh path in the temp folder, unique per process and name.
pub fn tmp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("txtfmt-{}-{name}", std::process::id()))
}

/// A temp file removed when dropped.
pub struct TmpFile(PathBuf);

impl std::ops::Deref for TmpFile {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TmpFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Writes `bytes` to a fresh temp file (removed when the handle is dropped).
pub fn write_tmp(name: &str, bytes: &[u8]) -> TmpFile {
    let p = tmp_path(name);
    std::fs::write(&p, bytes).unwrap();
    TmpFile(p)
}

/// Reads and decodes every frame, `max` frames per chunk; errors as strings.
pub fn read_all(
    src: &mut dyn FrameSource<'static>,
    max: usize,
) -> Result<Vec<(Vec<f64>, FrameInfo)>, String> {
    let n = src.meta().points * src.meta().dims;
    let dec = src.decoder();
    let mut out = Vec::new();
    while let Some(chunk) = src.read(max, Vec::new()).map_err(|e| format!("{e:#}"))? {
        let bytes: &[u8] = match &chunk.bytes {
            ChunkBytes::Owned(v) => v,
            ChunkBytes::Borrowed(b) => b,
        };
        for f in 0..chunk.frames {
            let mut coords = vec![0.0; n];
            let mut info = FrameInfo::default();
            let frame = &bytes[chunk.offsets[f]..chunk.offsets[f + 1]];
            dec.decode(frame, &mut coords, &mut info)
                .map_err(|e| format!("frame {}: {e}", chunk.first + f))?;
            out.push((coords, info));
        }
    }
    Ok(out)
}

/// Encodes frames one after another with `encode_append`.
pub fn encode_all(
    enc: &dyn FrameEncoder,
    frames: &[(Vec<f64>, FrameInfo)],
) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for (i, (c, info)) in frames.iter().enumerate() {
        enc.encode_append(i, c, info, &mut out)?;
    }
    Ok(out)
}

/// Asserts two coordinate sets agree within `tol` (absolute).
pub fn assert_close(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tol, "value {i}: {x} vs {y}");
    }
}

/// Asserts two optional cells agree within `tol`.
pub fn assert_cell(a: Option<[[f64; 3]; 3]>, b: Option<[[f64; 3]; 3]>, tol: f64) {
    match (a, b) {
        (None, None) => {}
        (Some(a), Some(b)) => assert_close(a.as_flattened(), b.as_flattened(), tol),
        _ => panic!("cell {a:?} vs {b:?}"),
    }
}

/// Variants of `text` that a hostile or damaged file may be: every truncation, single-byte
/// garbage, CRLF line endings.
pub fn damaged(text: &[u8]) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = (0..text.len()).map(|i| text[..i].to_vec()).collect();
    for i in 0..text.len() {
        for g in [b'x', b'.', b'-', b' ', b'\n', b'9', 0xff] {
            let mut t = text.to_vec();
            t[i] = g;
            v.push(t);
        }
    }
    v.push(crlf(text));
    v
}

/// The text with `\n` turned into `\r\n`.
pub fn crlf(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 2);
    for &b in text {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// Opens and reads every damaged variant of `text` with `open`; each must give an error or a
/// read whose frames have the announced shape, and never panic. Returns (ok, errors) counts.
pub fn hostile_loop(
    name: &str,
    text: &[u8],
    open: impl Fn(&Path) -> anyhow::Result<Box<dyn FrameSource<'static>>>,
) -> (usize, usize) {
    let path = tmp_path(name);
    let (mut ok, mut err) = (0, 0);
    for t in damaged(text) {
        std::fs::write(&path, &t).unwrap();
        let res = open(&path).map_err(|e| format!("{e:#}")).and_then(|mut s| {
            let frames = s.meta().frames;
            let got = read_all(s.as_mut(), 2)?;
            assert_eq!(got.len(), frames);
            Ok(())
        });
        match res {
            Ok(()) => ok += 1,
            Err(e) => {
                assert!(!e.contains('\n') && e.len() < 400, "bad message {e:?}");
                err += 1
            }
        }
    }
    let _ = std::fs::remove_file(&path);
    (ok, err)
}

/// Asserts that the CRLF version of `text` reads exactly like `text`, and that a file of
/// one 3 MB line without a newline is an error.
pub fn crlf_same_and_long_line(
    name: &str,
    text: &[u8],
    open: impl Fn(&Path) -> anyhow::Result<Box<dyn FrameSource<'static>>>,
) {
    let a = read_all(open(&write_tmp(name, text)).unwrap().as_mut(), 2).unwrap();
    let b = read_all(open(&write_tmp(name, &crlf(text))).unwrap().as_mut(), 2).unwrap();
    assert_eq!(a, b);
    let long = [b"1\n".as_slice(), &vec![b'7'; 3 << 20]].concat();
    assert!(open(&write_tmp(name, &long)).is_err());
    let long = [&vec![b'7'; 3 << 20], b"\n".as_slice()].concat();
    assert!(open(&write_tmp(name, &long)).is_err());
    let _ = std::fs::remove_file(tmp_path(name));
}

/// The MDAnalysis fixture folder.
pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

/// The fixture's entry of `expected.json`, or None when the fixtures are not there (set
/// `TXTFMT_REQUIRE_FIXTURES=1` to make that a failure).
pub fn expected(file: &str) -> Option<(PathBuf, serde_json::Value)> {
    let found = find_expected(file);
    if found.is_none() && std::env::var_os("TXTFMT_REQUIRE_FIXTURES").is_some() {
        panic!("fixture {file} or its expected.json entry is missing");
    }
    found
}

/// Loads the fixture's entry of `expected.json`.
fn find_expected(file: &str) -> Option<(PathBuf, serde_json::Value)> {
    let dir = Path::new(FIXTURES);
    let json = std::fs::read_to_string(dir.join("expected.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&json).ok()?;
    let entry = v.get("files")?.get(file)?.clone();
    let path = dir.join(file);
    path.exists().then_some((path, entry))
}
