//! The `.npy` format at the byte level: header parsing and writing, dtypes, and the conversion
//! of raw frame bytes to and from `f64`.
//!
//! Only float32 and float64 arrays are trajectories; every other dtype is rejected with a
//! message that names it.

use anyhow::{bail, Context, Result};
use ndarray_npy::npy::header::Header;
use std::io::Read;

/// Byte order of the stored numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteOrder {
    /// `<`: least significant byte first.
    Little,
    /// `>`: most significant byte first.
    Big,
}

/// Element type of a trajectory array: float32 or float64, in either byte order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dtype {
    /// Bytes per element: 4 (float32) or 8 (float64).
    pub size: usize,
    /// Byte order of the stored elements.
    pub order: ByteOrder,
}

impl Dtype {
    /// Little-endian float32 (`<f4`).
    pub const F32: Dtype = Dtype {
        size: 4,
        order: ByteOrder::Little,
    };
    /// Little-endian float64 (`<f8`).
    pub const F64: Dtype = Dtype {
        size: 8,
        order: ByteOrder::Little,
    };

    /// Parses a numpy type descriptor such as `<f4`, `>f8` or `|f8`. Integer, complex, object
    /// and other dtypes are an error naming the descriptor.
    pub fn from_descr(descr: &str) -> Result<Dtype> {
        let (order, rest) = match descr.as_bytes().first() {
            Some(b'<') | Some(b'|') | Some(b'=') => (ByteOrder::Little, &descr[1..]),
            Some(b'>') => (ByteOrder::Big, &descr[1..]),
            _ => (ByteOrder::Little, descr),
        };
        let size = match rest {
            "f4" => 4,
            "f8" => 8,
            _ => bail!(
                "dtype {descr} ({}) is not float32 or float64",
                describe_kind(rest)
            ),
        };
        Ok(Dtype { size, order })
    }

    /// The numpy descriptor, e.g. `<f4`.
    pub fn descr(&self) -> String {
        let o = match self.order {
            ByteOrder::Little => '<',
            ByteOrder::Big => '>',
        };
        format!("{o}f{}", self.size)
    }

    /// `float32` or `float64`.
    pub fn name(&self) -> &'static str {
        if self.size == 4 {
            "float32"
        } else {
            "float64"
        }
    }

    /// Decodes `bytes` (a whole number of elements) into `out`, appending.
    pub fn decode_into(&self, bytes: &[u8], out: &mut Vec<f64>) {
        out.reserve(bytes.len() / self.size);
        match (self.size, self.order) {
            (4, ByteOrder::Little) => out.extend(
                bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64),
            ),
            (4, ByteOrder::Big) => out.extend(
                bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_be_bytes([b[0], b[1], b[2], b[3]]) as f64),
            ),
            (8, ByteOrder::Little) => out.extend(
                bytes
                    .chunks_exact(8)
                    .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes"))),
            ),
            _ => out.extend(
                bytes
                    .chunks_exact(8)
                    .map(|b| f64::from_be_bytes(b.try_into().expect("8 bytes"))),
            ),
        }
    }

    /// Encodes `values` in this dtype into `out` (exactly `values.len() × size` bytes).
    pub fn encode_to_slice(&self, values: &[f64], out: &mut [u8]) {
        match (self.size, self.order) {
            (4, ByteOrder::Little) => {
                for (v, o) in values.iter().zip(out.chunks_exact_mut(4)) {
                    o.copy_from_slice(&(*v as f32).to_le_bytes());
                }
            }
            (4, ByteOrder::Big) => {
                for (v, o) in values.iter().zip(out.chunks_exact_mut(4)) {
                    o.copy_from_slice(&(*v as f32).to_be_bytes());
                }
            }
            (8, ByteOrder::Little) => {
                for (v, o) in values.iter().zip(out.chunks_exact_mut(8)) {
                    o.copy_from_slice(&v.to_le_bytes());
                }
            }
            _ => {
                for (v, o) in values.iter().zip(out.chunks_exact_mut(8)) {
                    o.copy_from_slice(&v.to_be_bytes());
                }
            }
        }
    }

    /// Encodes `values` in this dtype, appending to `out`. float32 output rounds to nearest.
    pub fn encode_into(&self, values: &[f64], out: &mut Vec<u8>) {
        out.reserve(values.len() * self.size);
        match (self.size, self.order) {
            (4, ByteOrder::Little) => {
                for &v in values {
                    out.extend_from_slice(&(v as f32).to_le_bytes());
                }
            }
            (4, ByteOrder::Big) => {
                for &v in values {
                    out.extend_from_slice(&(v as f32).to_be_bytes());
                }
            }
            (8, ByteOrder::Little) => {
                for &v in values {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
            _ => {
                for &v in values {
                    out.extend_from_slice(&v.to_be_bytes());
                }
            }
        }
    }
}

fn describe_kind(code: &str) -> &'static str {
    match code.chars().next() {
        Some('i') | Some('u') => "integer",
        Some('c') => "complex",
        Some('O') => "object",
        Some('b') | Some('?') => "boolean",
        Some('f') => "unsupported float width",
        Some('S') | Some('U') => "string",
        _ => "not a float type",
    }
}

/// What an `.npy` header says about its array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NpyHeader {
    /// The numpy type descriptor as written, e.g. `<f4` (structured dtypes are shown as a Python literal).
    pub descr: String,
    /// Whether the data are in Fortran (column-major) order.
    pub fortran_order: bool,
    /// The array shape.
    pub shape: Vec<usize>,
}

impl NpyHeader {
    /// Reads the magic string and header from the start of an `.npy` stream, leaving `reader`
    /// positioned at the first data byte.
    pub fn read_from<R: Read>(reader: &mut R) -> Result<NpyHeader> {
        let header = Header::from_reader(reader).context("not a valid .npy header")?;
        // The descriptor is a Python literal: '<f4' for plain dtypes, a list for structured ones.
        let literal = header.type_descriptor.to_string();
        let descr = literal
            .strip_prefix('\'')
            .and_then(|s| s.strip_suffix('\''))
            .map_or(literal.clone(), str::to_string);
        Ok(NpyHeader {
            descr,
            fortran_order: header.layout.is_fortran(),
            shape: header.shape,
        })
    }

    /// The shape written numpy-style, e.g. `(2048, 12, 2)`.
    pub fn shape_str(&self) -> String {
        shape_str(&self.shape)
    }
}

/// A shape written numpy-style, e.g. `(2048, 12, 2)` or `(12,)`.
pub fn shape_str(shape: &[usize]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Encodes a version 1.0 `.npy` header (C order) for `shape` and `dtype`, padded so the data
/// start on a 64-byte boundary as numpy writes it.
pub fn encode_header(dtype: Dtype, shape: &[usize]) -> Vec<u8> {
    let dict = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
        dtype.descr(),
        shape_str(shape)
    );
    // magic (6) + version (2) + header length (2) + dict + padding + '\n'
    let unpadded = 10 + dict.len() + 1;
    let total = unpadded.div_ceil(64) * 64;
    let header_len = total - 10;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header_len as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.resize(total - 1, b' ');
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtypes_parse_and_reject() {
        assert_eq!(Dtype::from_descr("<f4").unwrap(), Dtype::F32);
        assert_eq!(Dtype::from_descr(">f8").unwrap().order, ByteOrder::Big);
        let err = Dtype::from_descr("<i8").unwrap_err().to_string();
        assert!(err.contains("integer"), "{err}");
        assert!(Dtype::from_descr("<c16")
            .unwrap_err()
            .to_string()
            .contains("complex"));
        assert!(Dtype::from_descr("|O")
            .unwrap_err()
            .to_string()
            .contains("object"));
    }

    #[test]
    fn header_round_trips_through_ndarray_npy() {
        let bytes = encode_header(
            Dtype {
                size: 8,
                order: ByteOrder::Big,
            },
            &[3, 4, 2],
        );
        assert_eq!(bytes.len() % 64, 0);
        let h = NpyHeader::read_from(&mut bytes.as_slice()).unwrap();
        assert_eq!(h.descr, ">f8");
        assert_eq!(h.shape, vec![3, 4, 2]);
        assert!(!h.fortran_order);
    }

    #[test]
    fn encode_decode_round_trip_all_dtypes() {
        let vals = [1.5, -2.25, 1e-3, 0.0];
        for size in [4, 8] {
            for order in [ByteOrder::Little, ByteOrder::Big] {
                let dt = Dtype { size, order };
                let mut bytes = Vec::new();
                dt.encode_into(&vals, &mut bytes);
                let mut back = Vec::new();
                dt.decode_into(&bytes, &mut back);
                for (a, b) in vals.iter().zip(&back) {
                    assert!((a - b).abs() <= 1e-7 * a.abs().max(1.0));
                }
            }
        }
    }
}
