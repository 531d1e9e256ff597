//! The `.npy` format at the byte level: the header (parsed here, bounded like numpy's own
//! reader), the element types a trajectory may have, and the per-frame codec between stored
//! bytes and `f64`.
//!
//! Only float32 and float64 arrays are trajectories; every other dtype is rejected with a
//! message that names it. Header text is quoted in messages only escaped and cut short.

use super::{FrameDecoder, FrameEncoder, FrameInfo, Width};
use crate::text::quote;
use std::io::Read;

/// numpy's default `max_header_size`: longer headers are refused before they are read.
pub(crate) const MAX_HEADER_LEN: usize = 10_000;

/// Element type of a trajectory array: float32 or float64, in either byte order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dtype {
    /// 4-byte or 8-byte floats.
    pub width: Width,
    /// Most significant byte first (`>`).
    pub big_endian: bool,
}

impl Dtype {
    /// Little-endian float32 (`<f4`).
    pub const F32: Dtype = Dtype {
        width: Width::F32,
        big_endian: false,
    };
    /// Little-endian float64 (`<f8`).
    pub const F64: Dtype = Dtype {
        width: Width::F64,
        big_endian: false,
    };

    /// Parses a numpy type descriptor such as `<f4`, `>f8` or `|f8`. Other dtypes are an
    /// error naming the descriptor and its kind.
    pub fn from_descr(descr: &str) -> Result<Dtype, String> {
        let (big_endian, rest) = match descr.as_bytes().first() {
            Some(b'<' | b'|' | b'=') => (false, &descr[1..]),
            Some(b'>') => (true, &descr[1..]),
            _ => (false, descr),
        };
        let width = match rest {
            "f4" => Width::F32,
            "f8" => Width::F64,
            _ => {
                return Err(format!(
                    "dtype {} ({}) is not float32 or float64",
                    quote(descr),
                    describe_kind(rest)
                ))
            }
        };
        Ok(Dtype { width, big_endian })
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self.width {
            Width::F32 => 4,
            Width::F64 => 8,
        }
    }

    /// The numpy descriptor, e.g. `<f4`.
    pub fn descr(self) -> String {
        format!(
            "{}f{}",
            if self.big_endian { '>' } else { '<' },
            self.size()
        )
    }

    /// `float32` or `float64`.
    pub fn name(self) -> &'static str {
        match self.width {
            Width::F32 => "float32",
            Width::F64 => "float64",
        }
    }

    /// Decodes `bytes` (a whole number of elements) into `out` (one value per element).
    pub fn decode(self, bytes: &[u8], out: &mut [f64]) {
        match (self.width, self.big_endian) {
            (Width::F32, false) => {
                for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                    *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64;
                }
            }
            (Width::F32, true) => {
                for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                    *o = f32::from_be_bytes([b[0], b[1], b[2], b[3]]) as f64;
                }
            }
            (Width::F64, false) => {
                for (o, b) in out.iter_mut().zip(bytes.chunks_exact(8)) {
                    *o = f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
                }
            }
            (Width::F64, true) => {
                for (o, b) in out.iter_mut().zip(bytes.chunks_exact(8)) {
                    *o = f64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
                }
            }
        }
    }

    /// Encodes `values` into `out` (exactly `values.len() × size` bytes). float32 rounds to
    /// nearest. Returns the index of the first value that is not finite in this dtype (a
    /// finite f64 beyond float32's range), if any.
    pub fn encode(self, values: &[f64], out: &mut [u8]) -> Option<usize> {
        // One branch-free pass that the compiler vectorises; the first bad value is only
        // searched for when there is one.
        let mut ok = true;
        match (self.width, self.big_endian) {
            (Width::F32, false) => {
                for (v, o) in values.iter().zip(out.chunks_exact_mut(4)) {
                    let f = *v as f32;
                    ok &= f.is_finite();
                    o.copy_from_slice(&f.to_le_bytes());
                }
            }
            (Width::F32, true) => {
                for (v, o) in values.iter().zip(out.chunks_exact_mut(4)) {
                    let f = *v as f32;
                    ok &= f.is_finite();
                    o.copy_from_slice(&f.to_be_bytes());
                }
            }
            (Width::F64, false) => {
                for (v, o) in values.iter().zip(out.chunks_exact_mut(8)) {
                    ok &= v.is_finite();
                    o.copy_from_slice(&v.to_le_bytes());
                }
            }
            (Width::F64, true) => {
                for (v, o) in values.iter().zip(out.chunks_exact_mut(8)) {
                    ok &= v.is_finite();
                    o.copy_from_slice(&v.to_be_bytes());
                }
            }
        }
        if ok {
            return None;
        }
        let f32_out = self.width == Width::F32;
        values
            .iter()
            .position(|v| !v.is_finite() || (f32_out && !(*v as f32).is_finite()))
    }
}

fn describe_kind(code: &str) -> &'static str {
    match code.chars().next() {
        Some('i' | 'u') => "integer",
        Some('c') => "complex",
        Some('O') => "object",
        Some('b' | '?') => "boolean",
        Some('f') => "unsupported float width",
        Some('S' | 'U') => "string",
        _ => "not a float type",
    }
}

/// What an `.npy` header says about its array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NpyHeader {
    /// The type descriptor as written (`<f4`; structured dtypes as their literal text).
    pub descr: String,
    /// Whether the data are in Fortran (column-major) order.
    pub fortran_order: bool,
    /// The array shape.
    pub shape: Vec<usize>,
    /// Bytes before the data: magic, version, length field and header text.
    pub header_len: usize,
}

impl NpyHeader {
    /// Reads the magic string and header from the start of an `.npy` stream, leaving `reader`
    /// at the first data byte. The header is bounded ([`MAX_HEADER_LEN`]) before it is read.
    pub fn read_from(reader: &mut impl Read) -> Result<NpyHeader, String> {
        let mut pre = [0u8; 8];
        reader
            .read_exact(&mut pre)
            .map_err(|_| "not an .npy array (shorter than its magic string)".to_string())?;
        if &pre[..6] != b"\x93NUMPY" {
            return Err("not an .npy array (bad magic string)".into());
        }
        let (len_bytes, version) = match pre[6] {
            1 => (2, 1),
            2 | 3 => (4, pre[6]),
            v => return Err(format!("unsupported .npy version {v}.{}", pre[7])),
        };
        let mut len = [0u8; 4];
        reader
            .read_exact(&mut len[..len_bytes])
            .map_err(|_| "truncated .npy header".to_string())?;
        let text_len = u32::from_le_bytes(len) as usize;
        if text_len > MAX_HEADER_LEN {
            return Err(format!(
                ".npy header of {text_len} bytes is longer than the {MAX_HEADER_LEN} allowed"
            ));
        }
        let mut text = vec![0u8; text_len];
        reader
            .read_exact(&mut text)
            .map_err(|_| "truncated .npy header".to_string())?;
        let text = if version == 3 {
            String::from_utf8(text).map_err(|_| ".npy header is not UTF-8".to_string())?
        } else {
            text.iter().map(|&b| b as char).collect()
        };
        let mut header = parse_dict(&text)?;
        header.header_len = 6 + 2 + len_bytes + text_len;
        Ok(header)
    }

    /// Bytes of data the header announces, or an error when that overflows.
    pub fn data_len(&self, item_size: usize) -> Result<u64, String> {
        self.shape
            .iter()
            .try_fold(item_size as u64, |acc, &d| acc.checked_mul(d as u64))
            .ok_or_else(|| format!("shape {} is too large", shape_str(&self.shape)))
    }

    /// The shape written numpy-style, e.g. `(2048, 12, 2)`.
    pub fn shape_str(&self) -> String {
        shape_str(&self.shape)
    }
}

/// Parses the header dictionary `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4, 2), }`.
fn parse_dict(text: &str) -> Result<NpyHeader, String> {
    let bad = |what: &str| format!("malformed .npy header ({what}): {}", quote(text.trim()));
    let body = text
        .trim()
        .strip_prefix('{')
        .and_then(|t| t.trim_end().strip_suffix('}'))
        .ok_or_else(|| bad("not a dictionary"))?;
    let value_of = |key: &str| -> Option<&str> {
        let at = body
            .find(&format!("'{key}'"))
            .or_else(|| body.find(&format!("\"{key}\"")))?;
        let rest = &body[at + key.len() + 2..];
        Some(rest.trim_start().strip_prefix(':')?.trim_start())
    };
    let descr = value_of("descr").ok_or_else(|| bad("no 'descr'"))?;
    let descr = match descr.chars().next() {
        Some(q @ ('\'' | '"')) => {
            let end = descr[1..]
                .find(q)
                .ok_or_else(|| bad("unterminated 'descr'"))?;
            descr[1..1 + end].to_string()
        }
        // Structured dtypes are a list: keep the literal for the message.
        _ => descr
            .split("'fortran_order'")
            .next()
            .unwrap_or("")
            .trim()
            .trim_end_matches(',')
            .to_string(),
    };
    let fortran = value_of("fortran_order").ok_or_else(|| bad("no 'fortran_order'"))?;
    let fortran_order = if fortran.starts_with("True") {
        true
    } else if fortran.starts_with("False") {
        false
    } else {
        return Err(bad("'fortran_order' is not True or False"));
    };
    let shape = value_of("shape").ok_or_else(|| bad("no 'shape'"))?;
    let inner = shape
        .strip_prefix('(')
        .and_then(|s| s.split_once(')'))
        .map(|(s, _)| s)
        .ok_or_else(|| bad("'shape' is not a tuple"))?;
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('L').parse::<usize>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| bad("'shape' holds something other than sizes"))?;
    Ok(NpyHeader {
        descr,
        fortran_order,
        shape,
        header_len: 0,
    })
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

/// Bytes per element of any plain numpy dtype (`<i8`, `|b1`, `<U5`, `<M8[ns]`), or `None` for
/// object and structured dtypes, whose data length the header does not give.
pub(crate) fn item_size(descr: &str) -> Option<u64> {
    let code = descr.trim_start_matches(['<', '>', '|', '=']);
    let kind = code.chars().next()?;
    let digits: String = code[kind.len_utf8()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let n: u64 = digits.parse().ok()?;
    let rest = &code[kind.len_utf8() + digits.len()..];
    match kind {
        'b' | 'i' | 'u' | 'f' | 'c' | 'S' | 'a' | 'V' if rest.is_empty() => Some(n),
        'U' if rest.is_empty() => n.checked_mul(4),
        'M' | 'm' if rest.is_empty() || rest.starts_with('[') => Some(n),
        _ => None,
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
    let total = (10 + dict.len() + 1).div_ceil(64) * 64;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&((total - 10) as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.resize(total - 1, b' ');
    out.push(b'\n');
    out
}

/// The per-frame codec of C-order `.npy` data: `points × dims` elements of one dtype.
pub(crate) struct NpyCodec {
    /// Element type.
    pub dtype: Dtype,
    /// Numbers per frame.
    pub frame_len: usize,
    /// Coordinates per point (to name the point in messages).
    pub dims: usize,
}

impl FrameDecoder for NpyCodec {
    fn frame_bytes(&self) -> Option<usize> {
        Some(self.frame_len * self.dtype.size())
    }

    fn decode(&self, stored: &[u8], coords: &mut [f64], _: &mut FrameInfo) -> Result<(), String> {
        self.dtype.decode(stored, coords);
        Ok(())
    }
}

impl FrameEncoder for NpyCodec {
    fn frame_bytes(&self) -> Option<usize> {
        Some(self.frame_len * self.dtype.size())
    }

    fn encode_into(
        &self,
        _: usize,
        coords: &[f64],
        _: &FrameInfo,
        out: &mut [u8],
    ) -> Result<(), String> {
        match self.dtype.encode(coords, out) {
            None => Ok(()),
            Some(i) => Err(format!(
                "point {}: aligned coordinate {:e} is not representable as {}",
                i / self.dims,
                coords[i],
                self.dtype.name()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtypes_parse_and_reject() {
        assert_eq!(Dtype::from_descr("<f4").unwrap(), Dtype::F32);
        assert!(Dtype::from_descr(">f8").unwrap().big_endian);
        assert!(Dtype::from_descr("<i8").unwrap_err().contains("integer"));
        assert!(Dtype::from_descr("<c16").unwrap_err().contains("complex"));
        assert!(Dtype::from_descr("|O").unwrap_err().contains("object"));
    }

    #[test]
    fn item_sizes_of_plain_dtypes() {
        assert_eq!(item_size("<i8"), Some(8));
        assert_eq!(item_size("|b1"), Some(1));
        assert_eq!(item_size("<U5"), Some(20));
        assert_eq!(item_size("<M8[ns]"), Some(8));
        assert_eq!(item_size("|O"), None);
        assert_eq!(item_size("[('x', '<f4')]"), None);
    }

    #[test]
    fn header_round_trips() {
        let dt = Dtype {
            width: Width::F64,
            big_endian: true,
        };
        let bytes = encode_header(dt, &[3, 4, 2]);
        assert_eq!(bytes.len() % 64, 0);
        let h = NpyHeader::read_from(&mut bytes.as_slice()).unwrap();
        assert_eq!(
            (h.descr.as_str(), h.shape.as_slice()),
            (">f8", &[3, 4, 2][..])
        );
        assert!(!h.fortran_order);
        assert_eq!(h.header_len, bytes.len());
    }

    #[test]
    fn headers_are_bounded_and_checked() {
        // A version-2 header claiming 0xFFFFFFFF bytes is refused before any allocation.
        let mut v2 = b"\x93NUMPY\x02\x00".to_vec();
        v2.extend_from_slice(&u32::MAX.to_le_bytes());
        let err = NpyHeader::read_from(&mut v2.as_slice()).unwrap_err();
        assert!(err.contains("longer than"), "{err}");
        // A shape whose byte count overflows u64 is an error, not a panic.
        let h = NpyHeader {
            descr: "<f8".into(),
            fortran_order: false,
            shape: vec![4, 1 << 62, 4],
            header_len: 0,
        };
        assert!(h.data_len(8).is_err());
        // Control characters in a malformed header are escaped, and the message is one line.
        let text = "{'descr': '<f4', 'fortran_order': Maybe\x1b[2J, 'shape': (1,)}\n";
        let mut raw = b"\x93NUMPY\x01\x00".to_vec();
        raw.extend_from_slice(&(text.len() as u16).to_le_bytes());
        raw.extend_from_slice(text.as_bytes());
        let err = NpyHeader::read_from(&mut raw.as_slice()).unwrap_err();
        assert!(!err.contains('\x1b') && !err.contains('\n'), "{err:?}");
    }

    #[test]
    fn encode_decode_round_trip_all_dtypes() {
        let vals = [1.5, -2.25, 1e-3, 0.0];
        for width in [Width::F32, Width::F64] {
            for big_endian in [false, true] {
                let dt = Dtype { width, big_endian };
                let mut bytes = vec![0; vals.len() * dt.size()];
                assert_eq!(dt.encode(&vals, &mut bytes), None);
                let mut back = [0.0; 4];
                dt.decode(&bytes, &mut back);
                // float32 rounds to nearest: within half an ulp (2^-24 relative).
                for (a, b) in vals.iter().zip(back) {
                    assert!((a - b).abs() <= a.abs() * 2f64.powi(-24), "{a} vs {b}");
                }
            }
        }
        // 3e38 + 3e38 is finite in f64 but not in float32: reported, not written as inf silently.
        let mut out = [0u8; 8];
        assert_eq!(Dtype::F32.encode(&[1.0, 6e38], &mut out), Some(1));
    }
}
