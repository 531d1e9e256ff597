//! Shared machinery of the text formats (GRO, PDB, XYZ): a bounded-memory line scanner for the
//! framing pass at open, the frame table that `read`/`skip` use, line splitting and number
//! parsing for decoders, fixed-width number formatting for encoders, and the unit-cell
//! conversions MDAnalysis uses (`triclinic_vectors` / `triclinic_box`).
//!
//! Line numbers: framing errors (at open, in `read`) name the 1-based line in the file.
//! Decoders only see one frame's bytes, so their errors name the 1-based line *within the
//! frame* (`line 3 of the frame: …`); each source keeps every frame's first file line
//! (`first_line(frame)`), and [`file_line_message`] rewrites such a message to name the line
//! in the file.

use super::{ChunkBytes, RawChunk, SinkSpec, StreamSink};
use anyhow::{bail, Context};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// Bytes of each line kept by the scanner (enough for any record header or count line).
pub const HEAD_CAP: usize = 1024;

/// Longest excerpt of file content quoted in an error.
const QUOTE_CAP: usize = 40;

/// Quotes file content for an error: escaped (`{:?}`), cut to a few dozen bytes.
pub fn quote(bytes: &[u8]) -> String {
    let cut = bytes.len() > QUOTE_CAP;
    let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(QUOTE_CAP)]);
    if cut {
        format!("{shown:?}…")
    } else {
        format!("{shown:?}")
    }
}

/// Rewrites a decoder message `line K of the frame: …` to `line N: …` where N is the line in
/// the file, given the frame's first file line (1-based); other messages are returned as is.
#[cfg(test)]
pub fn file_line_message(msg: &str, first_line: u64) -> String {
    let parsed = msg.strip_prefix("line ").and_then(|rest| {
        let (num, tail) = rest.split_once(" of the frame")?;
        Some((num.parse::<u64>().ok()?, tail))
    });
    match parsed {
        Some((k, tail)) => format!(
            "line {}{tail}",
            first_line.saturating_add(k.saturating_sub(1))
        ),
        None => msg.to_string(),
    }
}

/// A decoder error naming the line within the frame (1-based).
pub fn line_err(k: usize, problem: &str, line: &[u8]) -> String {
    format!("line {k} of the frame: {problem} in {}", quote(line))
}

/// Splits a frame's bytes into lines (without `\n` and a trailing `\r`).
pub fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    body.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
}

/// True when the line holds only ASCII whitespace.
pub fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// Parses a (trimmed) decimal number as f32 (MDAnalysis stores text coordinates as float32);
/// None unless it parses and is finite.
pub fn parse_f32(field: &[u8]) -> Option<f32> {
    let s = std::str::from_utf8(field.trim_ascii()).ok()?;
    s.parse::<f32>().ok().filter(|v| v.is_finite())
}

/// Parses a (trimmed) decimal number as f64; None unless it parses and is finite.
pub fn parse_f64(field: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(field.trim_ascii()).ok()?;
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Parses an atom count line: one non-negative integer, surrounding whitespace allowed.
pub fn parse_count(line: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(line.trim_ascii()).ok()?;
    s.parse::<u64>().ok()
}

/// Appends `v` formatted as `%{width}.{prec}f`; false (nothing appended) when it does not fit
/// in `width` characters or is not finite.
pub fn push_fixed(out: &mut Vec<u8>, v: f64, width: usize, prec: usize) -> bool {
    if !v.is_finite() {
        return false;
    }
    let s = format!("{v:width$.prec$}");
    if s.len() != width {
        return false;
    }
    out.extend_from_slice(s.as_bytes());
    true
}

/// Makes a topology string safe for a fixed-width column: printable ASCII only (others become
/// `?`, spaces too when `no_space`), at most `max` characters; `fallback` when empty.
pub fn clean_name(s: &str, max: usize, no_space: bool, fallback: &str) -> String {
    let t: String = s
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || (c == ' ' && !no_space) {
                c
            } else if no_space && c.is_whitespace() {
                '_'
            } else {
                '?'
            }
        })
        .take(max)
        .collect();
    if t.is_empty() {
        fallback.to_string()
    } else {
        t
    }
}

/// The 3×3 cell (rows = box vectors, Å) of (a, b, c, α, β, γ) as MDAnalysis
/// `lib.mdamath.triclinic_vectors` builds it; None where MDAnalysis gives the zero matrix.
pub fn dims_to_cell(d: [f64; 6]) -> Option<[[f64; 3]; 3]> {
    let [lx, ly, lz, alpha, beta, gamma] = d;
    if !(d.iter().all(|&v| v > 0.0) && alpha < 180.0 && beta < 180.0 && gamma < 180.0) {
        return None;
    }
    if alpha == 90.0 && beta == 90.0 && gamma == 90.0 {
        return Some([[lx, 0.0, 0.0], [0.0, ly, 0.0], [0.0, 0.0, lz]]);
    }
    let cos_of = |a: f64| if a == 90.0 { 0.0 } else { a.to_radians().cos() };
    let (cos_a, cos_b) = (cos_of(alpha), cos_of(beta));
    let (cos_g, sin_g) = if gamma == 90.0 {
        (0.0, 1.0)
    } else {
        (gamma.to_radians().cos(), gamma.to_radians().sin())
    };
    let cx = lz * cos_b;
    let cy = lz * (cos_a - cos_b * cos_g) / sin_g;
    let cz = (lz * lz - cx * cx - cy * cy).sqrt();
    if cz > 0.0 {
        Some([[lx, 0.0, 0.0], [ly * cos_g, ly * sin_g, 0.0], [cx, cy, cz]])
    } else {
        None
    }
}

/// (a, b, c, α, β, γ) of a cell (rows = box vectors) as MDAnalysis `lib.mdamath.triclinic_box`
/// computes it; None where MDAnalysis gives zeros (degenerate cell).
pub fn cell_to_dims(c: &[[f64; 3]; 3]) -> Option<[f64; 6]> {
    let dot = |u: &[f64; 3], v: &[f64; 3]| u[0] * v[0] + u[1] * v[1] + u[2] * v[2];
    let (lx, ly, lz) = (
        dot(&c[0], &c[0]).sqrt(),
        dot(&c[1], &c[1]).sqrt(),
        dot(&c[2], &c[2]).sqrt(),
    );
    let ang = |u, v, lu: f64, lv: f64| (dot(u, v) / (lu * lv)).acos().to_degrees();
    let alpha = ang(&c[1], &c[2], ly, lz);
    let beta = ang(&c[0], &c[2], lx, lz);
    let gamma = ang(&c[0], &c[1], lx, ly);
    let d = [lx, ly, lz, alpha, beta, gamma];
    let ok = d.iter().all(|&v| v > 0.0) && alpha < 180.0 && beta < 180.0 && gamma < 180.0;
    ok.then_some(d)
}

/// True when a cell has no off-diagonal components (written as 3 numbers in GRO).
pub fn is_rectangular(c: &[[f64; 3]; 3]) -> bool {
    c[0][1] == 0.0
        && c[0][2] == 0.0
        && c[1][0] == 0.0
        && c[1][2] == 0.0
        && c[2][0] == 0.0
        && c[2][1] == 0.0
}

/// Reads a file line by line for the framing pass, keeping at most [`HEAD_CAP`] bytes of each
/// line (memory stays bounded whatever the line lengths), with byte offsets and line numbers.
pub struct LineScanner<R: BufRead> {
    /// The reader.
    r: R,
    /// Byte offset of the next unread byte.
    pos: u64,
    /// Lines consumed so far (the next line's 1-based number is `lines + 1`).
    lines: u64,
    /// The head of the last line returned by `next_line` (no `\n`; `\r` stripped).
    head: Vec<u8>,
}

impl<R: BufRead> LineScanner<R> {
    /// A scanner at the start of `r`.
    pub fn new(r: R) -> Self {
        LineScanner {
            r,
            pos: 0,
            lines: 0,
            head: Vec::with_capacity(HEAD_CAP),
        }
    }

    /// Byte offset of the next unread byte.
    pub fn pos(&self) -> u64 {
        self.pos
    }

    /// 1-based number of the next line.
    pub fn next_line_no(&self) -> u64 {
        self.lines + 1
    }

    /// The head of the last line read by [`Self::next_line`].
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// Reads the next line; Ok(false) at the end of the file. Its head is in [`Self::head`].
    pub fn next_line(&mut self) -> std::io::Result<bool> {
        self.head.clear();
        let mut any = false;
        loop {
            let buf = self.r.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            any = true;
            let (take, done) = match memchr::memchr(b'\n', buf) {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            let room = HEAD_CAP.saturating_sub(self.head.len());
            let body = if done { take - 1 } else { take };
            self.head.extend_from_slice(&buf[..body.min(room)]);
            self.r.consume(take);
            self.pos += take as u64;
            if done {
                break;
            }
        }
        if any {
            self.lines += 1;
            if self.head.last() == Some(&b'\r') {
                self.head.pop();
            }
        }
        Ok(any)
    }

    /// Skips up to `n` lines without keeping them; returns how many were there (a last line
    /// without `\n` counts).
    pub fn skip_lines(&mut self, n: u64) -> std::io::Result<u64> {
        let mut done = 0u64;
        let mut partial = false;
        while done < n {
            let buf = self.r.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            let mut used = buf.len();
            for i in memchr::memchr_iter(b'\n', buf) {
                done += 1;
                if done == n {
                    used = i + 1;
                    break;
                }
            }
            partial = buf[used - 1] != b'\n';
            self.r.consume(used);
            self.pos += used as u64;
        }
        if partial && done < n {
            done += 1;
        }
        self.lines += done;
        Ok(done)
    }

    /// True when every remaining byte is whitespace (consumes them).
    pub fn rest_is_blank(&mut self) -> std::io::Result<bool> {
        while self.next_line()? {
            if !is_blank(&self.head) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Checks a sink spec for a 3-D text format (dims 3, ≥ 1 point, topology of the same size);
/// returns the number of points.
fn check_spec(spec: &SinkSpec<'_>, fmt: &str) -> anyhow::Result<usize> {
    let m = &spec.meta;
    if m.dims != 3 {
        bail!(
            "{fmt} output needs 3 coordinates per point, the data has {}",
            m.dims
        );
    }
    if m.points == 0 {
        bail!("{fmt} output needs at least one point");
    }
    if let Some(t) = spec.topology {
        if t.atoms.len() != m.points {
            bail!(
                "topology {} has {} atoms, the trajectory has {}",
                t.source,
                t.atoms.len(),
                m.points
            );
        }
    }
    Ok(m.points)
}

/// Opens a file for the framing pass.
pub fn open_scanner(path: &Path) -> anyhow::Result<LineScanner<BufReader<File>>> {
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    Ok(LineScanner::new(BufReader::with_capacity(1 << 16, f)))
}

/// Where each frame's text is: byte offsets (frames + 1 entries) and first file lines.
#[derive(Clone, Debug, Default)]
pub struct FrameTable {
    /// Start of each frame plus the end of the last.
    pub offsets: Vec<u64>,
    /// 1-based file line of each frame's first line.
    pub first_lines: Vec<u64>,
}

impl FrameTable {
    /// Number of frames.
    pub fn frames(&self) -> usize {
        self.first_lines.len()
    }

    /// Records a frame spanning `start..end` whose first line is `line`.
    pub fn push(&mut self, start: u64, end: u64, line: u64) {
        if self.offsets.is_empty() {
            self.offsets.push(start);
        }
        self.offsets.push(end);
        self.first_lines.push(line);
    }
}

/// Reads framed text frames from a file: the `read`/`skip` half of a text `FrameSource`.
pub struct TextReader {
    /// The open file.
    file: File,
    /// Frame positions from the framing pass.
    pub table: FrameTable,
    /// Index of the next frame to read.
    next: usize,
}

impl TextReader {
    /// Opens `path` again for reading the frames found by the framing pass.
    pub fn new(path: &Path, table: FrameTable) -> anyhow::Result<Self> {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        Ok(TextReader {
            file,
            table,
            next: 0,
        })
    }

    /// Reads the bytes of up to `max` next frames into `buf` (see `FrameSource::read`).
    pub fn read(
        &mut self,
        max: usize,
        mut buf: Vec<u8>,
    ) -> anyhow::Result<Option<RawChunk<'static>>> {
        let total = self.table.frames();
        if self.next >= total {
            return Ok(None);
        }
        let first = self.next;
        let k = max.max(1).min(total - first);
        let start = self.table.offsets[first];
        let end = self.table.offsets[first + k];
        let len = usize::try_from(end - start).context("frame too large for memory")?;
        buf.clear();
        buf.resize(len, 0);
        self.file.seek(SeekFrom::Start(start))?;
        if let Err(e) = self.file.read_exact(&mut buf) {
            bail!("frame {first}: file changed or truncated since it was opened ({e})");
        }
        let offsets = self.table.offsets[first..=first + k]
            .iter()
            .map(|&o| (o - start) as usize)
            .collect();
        self.next += k;
        Ok(Some(RawChunk {
            first,
            frames: k,
            bytes: ChunkBytes::Owned(buf),
            offsets,
        }))
    }

    /// Skips the next `n` frames (no I/O: the next `read` seeks).
    pub fn skip(&mut self, n: usize) -> anyhow::Result<()> {
        self.next = self.next.saturating_add(n).min(self.table.frames());
        Ok(())
    }

    /// 1-based file line where frame `frame` starts.
    #[cfg(test)]
    pub fn first_line(&self, frame: usize) -> Option<u64> {
        self.table.first_lines.get(frame).copied()
    }
}

impl<'a, E> StreamSink<'a, E> {
    /// A sink for `spec` in the 3-D text format `fmt` (checked by [`check_spec`]) writing into
    /// `out`; `make` builds the encoder from the point count and the topology (if any); the
    /// output ends with `trailer`.
    pub fn for_spec(
        out: Box<dyn std::io::Write + Send + 'a>,
        spec: &SinkSpec<'_>,
        fmt: &str,
        make: impl FnOnce(usize, Option<&crate::topology::Topology>) -> E,
        trailer: &'static [u8],
    ) -> anyhow::Result<Self> {
        let points = check_spec(spec, fmt)?;
        Ok(StreamSink::new(out, make(points, spec.topology), trailer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Test: cell conversions match mdanalysis.
    #[test]
    fn cell_conversions_match_mdanalysis() {
        // Expected vectors computed by hand from MDAnalysis' triclinic_vectors formulas:
        // a=10, b=20, c=30, α=β=90, γ=60 → b = (20 cos60, 20 sin60, 0) = (10, 17.3205081, 0).
        let c = dims_to_cell([10.0, 20.0, 30.0, 90.0, 90.0, 60.0]).unwrap();
        assert!((c[1][0] - 10.0).abs() < 1e-12 && (c[1][1] - 17.320508075688775).abs() < 1e-12);
        assert_eq!(c[2], [0.0, 0.0, 30.0]);
        let d = cell_to_dims(&c).unwrap();
        for (x, y) in d.iter().zip([10.0, 20.0, 30.0, 90.0, 90.0, 60.0]) {
            assert!((x - y).abs() < 1e-9, "{d:?}");
        }
        assert!(dims_to_cell([1.0, 1.0, 1.0, 0.0, 90.0, 90.0]).is_none());
        assert!(cell_to_dims(&[[0.0; 3]; 3]).is_none());
    }

    /// Test: scanner counts lines and skips.
    #[test]
    fn scanner_counts_lines_and_skips() {
        let text = b"a\r\nbb\n\nccc\nlast";
        let mut s = LineScanner::new(&text[..]);
        assert!(s.next_line().unwrap());
        assert_eq!(s.head(), b"a");
        assert_eq!(s.skip_lines(2).unwrap(), 2);
        assert_eq!(s.next_line_no(), 4);
        assert!(s.next_line().unwrap());
        assert_eq!(s.head(), b"ccc");
        assert_eq!(s.skip_lines(5).unwrap(), 1);
        assert_eq!(s.pos(), text.len() as u64);
        assert!(!s.next_line().unwrap());
    }

    /// Test: messages and formatting.
    #[test]
    fn messages_and_formatting() {
        assert_eq!(
            file_line_message("line 3 of the frame: bad", 10),
            "line 12: bad"
        );
        assert_eq!(file_line_message("other", 10), "other");
        let mut v = Vec::new();
        assert!(push_fixed(&mut v, -0.0004, 8, 3));
        assert!(!push_fixed(&mut v, 10000.0, 8, 3));
        assert!(!push_fixed(&mut v, f64::NAN, 8, 3));
        assert_eq!(v, b"  -0.000");
        assert_eq!(quote(&[b'x'; 50]).chars().count(), 43);
        assert_eq!(clean_name("  C A ", 5, true, "X"), "C_A");
    }
}
