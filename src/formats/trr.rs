//! TRR (GROMACS full-precision trajectory) source and sink.
//!
//! Every frame has a header (magic 1993, version string "GMX_trn_file", the block sizes
//! ir/e/box/vir/pres/top/sym/x/v/f, natoms, step, nre, t, lambda) followed by the present
//! blocks; single or double precision is detected per frame from the sizes. Positions and
//! box are nm in the file, Å here (× 10; f32 arithmetic for single precision, as xdrfile +
//! MDAnalysis compute it). Frames are framed by a header scan at open (offsets kept), so
//! frames may differ in layout. Only positions, box, time, step and lambda are decoded:
//! velocities and forces are skipped (the engine would have to rotate them with the frame)
//! and the sink writes positions and box only. Frames without positions, and the
//! ir/e/top/sym blocks GROMACS never writes, are refused with a clear error.

use crate::formats::StreamSink;
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, Context};

use super::util::{be_f32, be_f64, be_i32, one_line, read_up_to};
use super::{
    FrameDecoder, FrameEncoder, FrameInfo, FrameSource, RawChunk, SinkSpec, TrajMeta, Width,
};

/// TRR magic number.
const MAGIC: i32 = 1993;
/// Version string every TRR frame carries.
const VERSION: &[u8; 12] = b"GMX_trn_file";
/// Header bytes before t: magic, slen, strlen, version, 10 sizes, natoms, step, nre.
const FIXED: usize = 24 + 13 * 4;
/// nm → Å.
const NM_TO_A: f32 = 10.0;

/// One TRR frame header.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Header {
    /// ir, e, box, vir, pres, top, sym, x, v, f block sizes in bytes.
    sizes: [usize; 10],
    /// Atoms.
    natoms: usize,
    /// Integration step.
    step: i32,
    /// Bytes per real (4 or 8).
    real: usize,
    /// Time in ps.
    t: f64,
    /// Free-energy lambda.
    lambda: f64,
}

/// Index of each block in `Header::sizes`.
const BOX: usize = 2;
/// Index of the x block.
const X: usize = 7;

impl Header {
    /// Header length in bytes.
    fn len(&self) -> usize {
        FIXED + 2 * self.real
    }

    /// Whole frame length in bytes (header + blocks), if it fits usize.
    fn frame_len(&self) -> Option<usize> {
        self.sizes
            .iter()
            .try_fold(self.len(), |a, &s| a.checked_add(s))
    }

    /// Offset of block `k` from the frame start.
    fn block_at(&self, k: usize) -> usize {
        self.len() + self.sizes[..k].iter().sum::<usize>()
    }
}

/// Parses and checks a frame header from the frame's first bytes.
fn parse_header(b: &[u8]) -> Result<Header, String> {
    let int = |at: usize| be_i32(b, at).ok_or("header ends early");
    let magic = int(0)?;
    if magic != MAGIC {
        return Err(format!("bad magic number {magic} (expected 1993)"));
    }
    if int(4)? != 13 || int(8)? != 12 || b.get(12..24) != Some(&VERSION[..]) {
        return Err("bad version string (expected GMX_trn_file)".into());
    }
    let mut sizes = [0usize; 10];
    for (k, s) in sizes.iter_mut().enumerate() {
        let v = int(24 + 4 * k)?;
        *s = usize::try_from(v).map_err(|_| format!("negative block size {v}"))?;
    }
    let natoms = int(64)?;
    let natoms = usize::try_from(natoms).map_err(|_| format!("invalid atom count {natoms}"))?;
    let real = real_size(&sizes, natoms)?;
    check_sizes(&sizes, natoms, real)?;
    let step = int(68)?;
    let real_at = |at: usize| -> Result<f64, String> {
        let v = if real == 4 {
            be_f32(b, at).map(f64::from)
        } else {
            be_f64(b, at)
        };
        v.ok_or_else(|| "header ends early".to_string())
    };
    let t = real_at(FIXED)?;
    let lambda = real_at(FIXED + real)?;
    Ok(Header {
        sizes,
        natoms,
        step,
        real,
        t,
        lambda,
    })
}

/// xdrfile's `nFloatSize`: bytes per real from the box, x, v or f block size.
fn real_size(sizes: &[usize; 10], natoms: usize) -> Result<usize, String> {
    let n3 = natoms.checked_mul(3).filter(|&n| n > 0);
    let r = if sizes[BOX] > 0 {
        sizes[BOX] / 9
    } else if let Some(s) = [sizes[X], sizes[8], sizes[9]].into_iter().find(|&s| s > 0) {
        n3.map_or(0, |n| s / n)
    } else {
        0
    };
    if r != 4 && r != 8 {
        return Err(format!(
            "cannot tell single from double precision (sizes {sizes:?})"
        ));
    }
    Ok(r)
}

/// Checks every block size against natoms and precision.
fn check_sizes(sizes: &[usize; 10], natoms: usize, real: usize) -> Result<(), String> {
    if sizes[0] | sizes[1] | sizes[5] | sizes[6] != 0 {
        return Err("ir/e/top/sym blocks are not supported".into());
    }
    for k in [BOX, 3, 4] {
        if sizes[k] != 0 && sizes[k] != 9 * real {
            return Err(format!(
                "matrix block of {} bytes (expected {})",
                sizes[k],
                9 * real
            ));
        }
    }
    let vec = natoms.checked_mul(3 * real).ok_or("absurd atom count")?;
    for k in [X, 8, 9] {
        if sizes[k] != 0 && sizes[k] != vec {
            return Err(format!(
                "vector block of {} bytes for {natoms} atoms",
                sizes[k]
            ));
        }
    }
    if sizes[X] == 0 || natoms == 0 {
        return Err("frame has no positions".into());
    }
    Ok(())
}

/// Reads every frame header, seeking past the data; returns offsets (+ end) and frame 0's header.
fn scan(file: &mut File, len: u64) -> Result<(Vec<u64>, Header, Vec<f64>), String> {
    let mut offsets = Vec::new();
    let mut first: Option<Header> = None;
    let mut times = Vec::new();
    let mut pos = 0u64;
    let mut head = [0u8; FIXED + 24];
    while pos < len {
        let frame = offsets.len();
        let at = |e: String| format!("frame {frame}: {e}");
        file.seek(SeekFrom::Start(pos))
            .map_err(|e| at(e.to_string()))?;
        let got = read_up_to(file, &mut head).map_err(|e| at(e.to_string()))?;
        let h = parse_header(&head[..got]).map_err(at)?;
        if let Some(f) = &first {
            if h.natoms != f.natoms {
                return Err(at(format!(
                    "atom count {} differs from frame 0's {}",
                    h.natoms, f.natoms
                )));
            }
        }
        let flen = h
            .frame_len()
            .ok_or_else(|| at("absurd block sizes".into()))? as u64;
        if flen > len - pos {
            return Err(at(format!(
                "truncated: needs {flen} bytes, {} left",
                len - pos
            )));
        }
        if times.len() < 2 {
            times.push(h.t);
        }
        first.get_or_insert(h);
        offsets.push(pos);
        pos += flen;
    }
    let first = first.ok_or("no frames")?;
    offsets.push(pos);
    Ok((offsets, first, times))
}

/// TRR trajectory read frame by frame from a file.
pub struct TrrSource {
    /// Shape and names.
    meta: TrajMeta,
    /// The open file.
    file: File,
    /// Start of each frame plus the end.
    offsets: Vec<u64>,
    /// Next frame to read.
    next: usize,
    /// Shared decoder.
    decoder: Arc<TrrDecoder>,
}

impl TrrSource {
    /// Opens `path` and scans its frame headers.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let mut file =
            File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let len = file.metadata()?.len();
        let (offsets, h, times) = scan(&mut file, len).map_err(|e| anyhow!(one_line(&e)))?;
        // Velocities and forces are not carried: say so once per run (not per pass).
        static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        let (v, f) = (h.sizes[8] > 0, h.sizes[9] > 0);
        if (v || f) && !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
            let what = match (v, f) {
                (true, true) => "velocities and forces",
                (true, false) => "velocities",
                _ => "forces",
            };
            crate::text::warn(&format!(
                "{}: {what} are dropped (aligntraj carries positions, box, time and step)",
                path.to_string_lossy()
            ));
        }
        let meta = TrajMeta {
            source: path.display().to_string(),
            key: "trr".into(),
            frames: offsets.len() - 1,
            points: h.natoms,
            dims: 3,
            width: if h.real == 8 { Width::F64 } else { Width::F32 },
            big_endian: false,
            unit: "Å",
            dt: (times.len() == 2).then(|| times[1] - times[0]),
        };
        let decoder = Arc::new(TrrDecoder { natoms: h.natoms });
        Ok(Self {
            meta,
            file,
            offsets,
            next: 0,
            decoder,
        })
    }
}

impl<'a> FrameSource<'a> for TrrSource {
    fn meta(&self) -> &TrajMeta {
        &self.meta
    }

    fn decoder(&self) -> Arc<dyn FrameDecoder + 'a> {
        self.decoder.clone()
    }

    fn read(&mut self, max: usize, buf: Vec<u8>) -> anyhow::Result<Option<RawChunk<'a>>> {
        let first = self.next;
        if first >= self.meta.frames {
            return Ok(None);
        }
        let n = max.max(1).min(self.meta.frames - first);
        let chunk = super::read_indexed_frames(&mut self.file, &self.offsets, (first, n), buf)?;
        self.next += n;
        Ok(Some(chunk))
    }

    fn skip(&mut self, n: usize) -> anyhow::Result<()> {
        self.next = self.next.saturating_add(n).min(self.meta.frames);
        Ok(())
    }
}

/// Decodes one TRR frame: positions (Å), box, time, step, lambda (velocities/forces skipped).
pub struct TrrDecoder {
    /// Atoms per frame.
    natoms: usize,
}

/// Reads `out.len()` reals of `real` bytes at `b`, nm → Å.
fn reals_to_a(b: &[u8], real: usize, out: &mut [f64]) {
    if real == 4 {
        super::util::f32s_into(b, f32::from_be_bytes, NM_TO_A, out);
    } else {
        for (o, c) in out.iter_mut().zip(b.chunks_exact(8)) {
            *o = f64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) * 10.0;
        }
    }
}

impl FrameDecoder for TrrDecoder {
    fn frame_bytes(&self) -> Option<usize> {
        None
    }

    fn decode(
        &self,
        stored: &[u8],
        coords: &mut [f64],
        info: &mut FrameInfo,
    ) -> Result<(), String> {
        let h = parse_header(stored)?;
        if h.natoms != self.natoms {
            return Err(format!(
                "atom count {} differs from frame 0's {}",
                h.natoms, self.natoms
            ));
        }
        if coords.len() != 3 * h.natoms {
            return Err(format!(
                "{} coordinates expected, buffer has {}",
                3 * h.natoms,
                coords.len()
            ));
        }
        if h.frame_len() != Some(stored.len()) {
            return Err(format!(
                "frame is {} bytes, header says {:?}",
                stored.len(),
                h.frame_len()
            ));
        }
        let x = h.block_at(X);
        reals_to_a(&stored[x..x + h.sizes[X]], h.real, coords);
        info.cell = None;
        if h.sizes[BOX] > 0 {
            let mut b = [0f64; 9];
            let at = h.block_at(BOX);
            reals_to_a(&stored[at..at + h.sizes[BOX]], h.real, &mut b);
            if b.iter().any(|&v| v != 0.0) {
                info.cell = Some([[b[0], b[1], b[2]], [b[3], b[4], b[5]], [b[6], b[7], b[8]]]);
            }
        }
        info.time = Some(h.t);
        info.step = Some(h.step as i64);
        info.lambda = Some(h.lambda);
        info.precision = None;
        Ok(())
    }
}

/// Encodes one frame as TRR (positions and box; single or double precision).
pub struct TrrEncoder {
    /// Atoms per frame.
    natoms: usize,
    /// Bytes per real (4 or 8).
    real: usize,
    /// Time between frames (ps) for frames without a time.
    dt: f64,
}

impl TrrEncoder {
    /// Bytes of one encoded frame.
    fn size(&self) -> usize {
        FIXED + 2 * self.real + 9 * self.real + 3 * self.natoms * self.real
    }

    /// Appends one real (nm value `v`) in this encoder's precision.
    fn real(&self, out: &mut Vec<u8>, v: f64) {
        if self.real == 4 {
            out.extend((v as f32).to_be_bytes());
        } else {
            out.extend(v.to_be_bytes());
        }
    }

    /// Appends a length given in Å as nm (÷ 10 in f64, rounded once to the stored precision).
    fn length(&self, out: &mut Vec<u8>, a: f64) {
        if self.real == 4 {
            out.extend(super::xtc::to_nm(a).to_be_bytes());
        } else {
            out.extend((a / 10.0).to_be_bytes());
        }
    }
}

impl FrameEncoder for TrrEncoder {
    fn frame_bytes(&self) -> Option<usize> {
        Some(self.size())
    }

    fn encode_into(
        &self,
        frame: usize,
        coords: &[f64],
        info: &FrameInfo,
        out: &mut [u8],
    ) -> Result<(), String> {
        let mut v = Vec::with_capacity(self.size());
        self.encode_append(frame, coords, info, &mut v)?;
        if v.len() != out.len() {
            return Err(format!(
                "TRR frame is {} bytes, buffer {}",
                v.len(),
                out.len()
            ));
        }
        out.copy_from_slice(&v);
        Ok(())
    }

    fn encode_append(
        &self,
        frame: usize,
        coords: &[f64],
        info: &FrameInfo,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        if coords.len() != 3 * self.natoms {
            return Err(format!(
                "{} coordinates expected, got {}",
                3 * self.natoms,
                coords.len()
            ));
        }
        let step = info.step.unwrap_or(frame as i64);
        let step =
            i32::try_from(step).map_err(|_| format!("step {step} outside TRR's 32-bit range"))?;
        let start = out.len();
        let int = |out: &mut Vec<u8>, v: usize| out.extend((v as i32).to_be_bytes());
        out.extend(MAGIC.to_be_bytes());
        int(out, 13);
        int(out, 12);
        out.extend(VERSION);
        let r = self.real;
        for s in [
            0,
            0,
            9 * r,
            0,
            0,
            0,
            0,
            3 * self.natoms * r,
            0,
            0,
            self.natoms,
        ] {
            int(out, s);
        }
        out.extend(step.to_be_bytes());
        int(out, 0);
        self.real(out, info.time.unwrap_or(frame as f64 * self.dt));
        self.real(out, info.lambda.unwrap_or(0.0));
        for v in info.cell.unwrap_or([[0.0; 3]; 3]).iter().flatten() {
            self.length(out, *v);
        }
        for &x in coords {
            self.length(out, x);
        }
        debug_assert_eq!(out.len() - start, self.size());
        Ok(())
    }
}

/// Writes a TRR file frame by frame.
pub type TrrSink<'a> = StreamSink<'a, TrrEncoder>;

impl<'a> TrrSink<'a> {
    /// Prepares a TRR sink; double precision when `spec.meta.width` is F64.
    pub fn create(writer: Box<dyn Write + Send + 'a>, spec: &SinkSpec) -> anyhow::Result<Self> {
        let m = &spec.meta;
        if m.dims != 3 || m.points == 0 {
            return Err(anyhow!(
                "TRR needs 3-D points, got {} points × {} dims",
                m.points,
                m.dims
            ));
        }
        let real = if m.width == Width::F64 { 8 } else { 4 };
        if m.points
            .checked_mul(3 * real)
            .is_none_or(|s| s > i32::MAX as usize)
        {
            return Err(anyhow!("TRR cannot hold {} atoms per frame", m.points));
        }
        let dt = spec.dt.or(m.dt).unwrap_or(1.0);
        Ok(StreamSink::new(
            writer,
            TrrEncoder {
                natoms: m.points,
                real,
                dt,
            },
            b"",
        ))
    }
}

#[cfg(test)]
#[path = "trr_tests.rs"]
mod tests;
