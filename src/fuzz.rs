//! A fuzzing entry point: any bytes, read as an input the way the commands read one, must give
//! `Ok` or an error, never a panic, an abort or an allocation the bytes do not justify.
//!
//! A cargo-fuzz or AFL target is one line: `fuzz_target!(|b: &[u8]| { let _ = fuzz_open(b); })`.
//! `tests/fuzz_inputs.rs` runs the binary on mutated files; the unit test here feeds this
//! function mutants in-process.

use crate::engine::{self, RunOptions};
use crate::formats::npz::{open_stream, NpzFile};
use anyhow::Result;
use std::io::{Cursor, Read, Write};

/// Parses `bytes` as an `.npz`/`.npy` input and streams all its frames through the engine (no
/// stages, no sink): once as a pipe (local headers in order) and once as a seekable file
/// (central directory, Fortran order, a `masses` member). Returns the first error.
pub fn fuzz_open(bytes: &[u8]) -> Result<()> {
    let stream: Box<dyn Read + Send> = Box::new(Cursor::new(bytes.to_vec()));
    let piped = open_stream(stream, "<fuzz>", None).and_then(drain);
    let seekable = open_file(bytes);
    piped.and(seekable)
}

/// Reads every frame of `source` and what follows it (the other members).
fn drain(source: Box<dyn crate::formats::FrameSource<'static>>) -> Result<()> {
    engine::run(source, &mut [], None, &mut [], &RunOptions::default()).map(|_| ())
}

/// The seekable path: the bytes as a temporary file, its trajectory and a `masses` member.
fn open_file(bytes: &[u8]) -> Result<()> {
    let mut tmp = tempfile::NamedTempFile::new()?;
    tmp.write_all(bytes)?;
    tmp.flush()?;
    let file = NpzFile::open(tmp.path(), "<fuzz>")?;
    if let Some(m) = file.member("masses") {
        let any_1d = |s: &[usize]| s.len() == 1;
        let _ = file.read_array(m, &any_1d, "1-D", "masses");
    }
    drain(file.source(file.choose(None)?)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::npy::{encode_header, Dtype};

    /// A small valid input: kind 0 and 1 an archive of `arr.npy` (3, 4, 3) float64 and
    /// `masses.npy`, stored or deflated; kind 2 the bare `.npy`.
    fn seed(kind: usize) -> Vec<u8> {
        let deflate = kind == 1;
        use zip::write::SimpleFileOptions;
        let method = if deflate {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        let opts = SimpleFileOptions::default().compression_method(method);
        let mut arr = encode_header(Dtype::F64, &[3, 4, 3]);
        for i in 0..36 {
            arr.extend_from_slice(&(i as f64 * 0.5).to_le_bytes());
        }
        let mut masses = encode_header(Dtype::F64, &[4]);
        for m in [1.0f64, 2.0, 3.0, 4.0] {
            masses.extend_from_slice(&m.to_le_bytes());
        }
        let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in [("arr.npy", &arr), ("masses.npy", &masses)] {
            z.start_file(name, opts).unwrap();
            z.write_all(data).unwrap();
        }
        if kind == 2 {
            return arr;
        }
        z.finish().unwrap().into_inner()
    }

    /// A flip, truncation, insertion or 4-byte field overwrite, chosen by `r`.
    fn mutate(bytes: &mut Vec<u8>, r: &mut u64) {
        let mut next = || {
            *r ^= *r << 13;
            *r ^= *r >> 7;
            *r ^= *r << 17;
            *r
        };
        let at = (next() % bytes.len().max(1) as u64) as usize;
        match next() % 4 {
            0 => bytes[at] ^= 1 << (next() % 8),
            1 => bytes.truncate(at),
            2 => bytes
                .splice(at..at, (0..next() % 9).map(|_| next() as u8))
                .for_each(drop),
            _ => {
                let v = [0u32, 1, u32::MAX, 1 << 31, next() as u32][(next() % 5) as usize];
                let end = (at + 4).min(bytes.len());
                bytes[at..end].copy_from_slice(&v.to_le_bytes()[..end - at]);
            }
        }
    }

    #[test]
    fn valid_inputs_pass_and_mutants_never_panic() {
        for kind in 0..3 {
            fuzz_open(&seed(kind)).unwrap();
        }
        let mut r = 0x2545_F491_4F6C_DD1Du64;
        for i in 0..3000 {
            let mut bytes = seed(i % 3);
            for _ in 0..1 + i % 3 {
                if !bytes.is_empty() {
                    mutate(&mut bytes, &mut r);
                }
            }
            // A panic fails the test; errors are the expected answer to most mutants.
            let _ = fuzz_open(&bytes);
        }
    }
}
