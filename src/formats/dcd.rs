//! DCD (CHARMM/NAMD/OpenMM/X-PLOR) source and sink.
//!
//! Reads either byte order and 32- or 64-bit Fortran record markers; the header's CHARMM
//! version field decides CHARMM (f32 DELTA, unit-cell and 4th-dimension flags) versus X-PLOR
//! (f64 DELTA). Frames have a fixed size, so the frame count comes from the file size (as
//! MDAnalysis does; NSET is often stale) and `skip` is arithmetic. The unit cell
//! `[A, cos γ | γ, B, cos β | β, cos α | α, C]` is interpreted exactly as MDAnalysis'
//! `DCDReader` does and turned into box vectors with MDAnalysis' `triclinic_vectors`.
//! Fixed atoms (NAMNF ≠ 0) are refused. The sink writes a little-endian CHARMM DCD with
//! 32-bit markers and a unit-cell record in every frame (zeros for frames without a cell),
//! angles written as cosines (CHARMM/NAMD convention, read by MDAnalysis and VMD).
//!
//! Time: DCD frames carry no time, so `decode` leaves `FrameInfo::time`/`step` to the engine;
//! [`DcdDecoder::time_step`] gives them from the frame index, as MDAnalysis computes them.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, Context};

use super::util::{one_line, read_up_to};
use super::{
    ChunkBytes, FrameDecoder, FrameEncoder, FrameInfo, FrameSource, RawChunk, SinkSpec, TrajMeta,
    Width, WriterSink,
};

/// Picoseconds per AKMA time unit, as MDAnalysis converts (`1 / (1 / 4.888821e-2)`).
pub const AKMA_PS: f64 = 1.0 / (1.0 / 4.888821e-2);

/// Byte order and record-marker width of a DCD file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Big-endian numbers.
    pub big: bool,
    /// Record marker bytes (4 or 8).
    pub marker: usize,
}

impl Layout {
    /// Reads a record marker at `at`.
    fn marker_at(&self, b: &[u8], at: usize) -> Option<u64> {
        let s = b.get(at..at.checked_add(self.marker)?)?;
        Some(match (self.marker, self.big) {
            (4, false) => u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as u64,
            (4, true) => u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as u64,
            (_, false) => u64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]),
            (_, true) => u64::from_be_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]),
        })
    }

    /// Reads a 4-byte integer at `at`.
    fn i32_at(&self, b: &[u8], at: usize) -> i32 {
        let s = super::util::take4(b, at).unwrap_or([0; 4]);
        if self.big {
            i32::from_be_bytes(s)
        } else {
            i32::from_le_bytes(s)
        }
    }

    /// Reads an 8-byte float at `at`.
    fn f64_at(&self, b: &[u8], at: usize) -> f64 {
        let s = super::util::take8(b, at).unwrap_or([0; 8]);
        if self.big {
            f64::from_be_bytes(s)
        } else {
            f64::from_le_bytes(s)
        }
    }

    /// Detects byte order and marker width from the file's first 12 bytes (marker 84, "CORD").
    fn detect(b: &[u8]) -> Result<Self, String> {
        for l in [
            Layout {
                big: false,
                marker: 4,
            },
            Layout {
                big: true,
                marker: 4,
            },
            Layout {
                big: false,
                marker: 8,
            },
            Layout {
                big: true,
                marker: 8,
            },
        ] {
            if l.marker_at(b, 0) == Some(84) && b.get(l.marker..l.marker + 4) == Some(b"CORD") {
                return Ok(l);
            }
        }
        Err("not a DCD file (no 84-byte CORD record at the start)".into())
    }
}

/// Everything the header says that matters for reading frames.
#[derive(Clone, Debug, PartialEq)]
pub struct DcdHeader {
    /// Byte order and marker width.
    pub layout: Layout,
    /// Atoms per frame.
    pub natoms: usize,
    /// NSET as written (frames are counted from the file size).
    pub nset: i32,
    /// First step (ISTART).
    pub istart: i32,
    /// Steps between frames (NSAVC).
    pub nsavc: i32,
    /// Integrator step in AKMA (f32 for CHARMM, f64 for X-PLOR).
    pub delta: f64,
    /// CHARMM version field ≠ 0.
    pub charmm: bool,
    /// Frames start with a 48-byte unit-cell record.
    pub has_cell: bool,
    /// Frames carry a 4th coordinate record (skipped).
    pub four_dims: bool,
    /// Header length in bytes (offset of frame 0).
    pub len: usize,
}

impl DcdHeader {
    /// Bytes per frame.
    pub fn frame_bytes(&self) -> Option<usize> {
        let m = self.layout.marker;
        let axis = self.natoms.checked_mul(4)?.checked_add(2 * m)?;
        let cell = if self.has_cell { 48 + 2 * m } else { 0 };
        axis.checked_mul(if self.four_dims { 4 } else { 3 })?
            .checked_add(cell)
    }

    /// Time between frames in ps (MDAnalysis: delta × nsavc, AKMA → ps).
    pub fn dt_ps(&self) -> f64 {
        self.delta * AKMA_PS * self.nsavc as f64
    }
}

/// Reads one Fortran record starting at `at` in `b`: (payload start, payload length, next).
fn record(l: &Layout, b: &[u8], at: usize, what: &str) -> Result<(usize, usize, usize), String> {
    let n = l
        .marker_at(b, at)
        .ok_or_else(|| format!("header ends in the {what} record"))?;
    let start = at + l.marker;
    let n = usize::try_from(n)
        .ok()
        .filter(|&n| n <= b.len().saturating_sub(start))
        .ok_or_else(|| format!("{what} record length {n} passes the end of the header"))?;
    let end = start + n;
    if l.marker_at(b, end) != Some(n as u64) {
        return Err(format!(
            "{what} record: end marker does not match length {n}"
        ));
    }
    Ok((start, n, end + l.marker))
}

/// Parses the DCD header from the file's first bytes `b` (must hold the whole header).
pub fn parse_header(b: &[u8]) -> Result<DcdHeader, String> {
    let layout = Layout::detect(b)?;
    let l = &layout;
    let (h, n, next) = record(l, b, 0, "first")?;
    if n != 84 {
        return Err(format!("first record is {n} bytes, not 84"));
    }
    let icntrl = |i: usize| l.i32_at(b, h + 4 + 4 * i);
    let charmm = icntrl(19) != 0;
    let delta = if charmm {
        let s = super::util::take4(b, h + 40).unwrap_or([0; 4]);
        (if l.big {
            f32::from_be_bytes(s)
        } else {
            f32::from_le_bytes(s)
        }) as f64
    } else {
        l.f64_at(b, h + 40)
    };
    let (t, n, next) = record(l, b, next, "title")?;
    if n < 4 || (n - 4) % 80 != 0 || l.i32_at(b, t) as i64 * 80 != (n - 4) as i64 {
        return Err(format!(
            "title record of {n} bytes does not hold 80-character lines"
        ));
    }
    let (a, n, end) = record(l, b, next, "atom count")?;
    if n != 4 {
        return Err(format!("atom count record is {n} bytes, not 4"));
    }
    let natoms = l.i32_at(b, a);
    if natoms <= 0 {
        return Err(format!("invalid atom count {natoms}"));
    }
    if icntrl(8) != 0 {
        return Err(format!(
            "fixed atoms (NAMNF = {}) are not supported",
            icntrl(8)
        ));
    }
    Ok(DcdHeader {
        layout,
        natoms: natoms as usize,
        nset: icntrl(0),
        istart: icntrl(1),
        nsavc: icntrl(2),
        delta,
        charmm,
        has_cell: charmm && icntrl(10) != 0,
        four_dims: charmm && icntrl(11) == 1,
        len: end,
    })
}

/// Reads the header bytes from the file: the fixed part, then the title as its record says.
fn read_header(file: &mut File, len: u64) -> Result<DcdHeader, String> {
    let mut head = vec![0u8; 2 * 8 + 84 + 8];
    let got = read_up_to(file, &mut head).map_err(|e| e.to_string())?;
    head.truncate(got);
    let l = Layout::detect(&head)?;
    let title_at = 2 * l.marker + 84;
    let tlen = l
        .marker_at(&head, title_at)
        .ok_or("header ends before the title record")?;
    // Whole header: first record, title record, atom-count record (payload 4).
    let total = tlen
        .checked_add((title_at + 4 * l.marker + 4) as u64)
        .filter(|&t| t <= len)
        .ok_or_else(|| format!("title record length {tlen} passes the end of the file"))?;
    let mut all = vec![0u8; total as usize];
    file.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    file.read_exact(&mut all).map_err(|e| e.to_string())?;
    parse_header(&all)
}

/// DCD trajectory read frame by frame from a file.
pub struct DcdSource {
    /// Shape and names.
    meta: TrajMeta,
    /// The open file.
    file: File,
    /// Header facts.
    header: DcdHeader,
    /// Next frame to read.
    next: usize,
    /// Shared decoder.
    decoder: Arc<DcdDecoder>,
}

impl DcdSource {
    /// Opens `path`, parses the header and counts frames from the file size.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let mut file =
            File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let len = file.metadata()?.len();
        let header =
            read_header(&mut file, len).map_err(|e| anyhow!("header: {}", one_line(&e)))?;
        let fb = header
            .frame_bytes()
            .ok_or_else(|| anyhow!("header: absurd atom count"))?;
        let data = len - header.len as u64;
        let frames = usize::try_from(data / fb as u64)?;
        let rem = data % fb as u64;
        if rem != 0 {
            return Err(anyhow!("frame {frames}: truncated ({rem} of {fb} bytes)"));
        }
        if frames == 0 {
            return Err(anyhow!("no frames"));
        }
        let meta = TrajMeta {
            source: path.display().to_string(),
            key: "dcd".into(),
            frames,
            points: header.natoms,
            dims: 3,
            width: Width::F32,
            big_endian: false,
            unit: "Å",
            dt: Some(header.dt_ps()),
        };
        let decoder = Arc::new(DcdDecoder {
            header: header.clone(),
            frame_bytes: fb,
        });
        Ok(Self {
            meta,
            file,
            header,
            next: 0,
            decoder,
        })
    }

    /// The parsed header.
    #[cfg(test)]
    pub fn header(&self) -> &DcdHeader {
        &self.header
    }
}

impl<'a> FrameSource<'a> for DcdSource {
    fn meta(&self) -> &TrajMeta {
        &self.meta
    }

    fn decoder(&self) -> Arc<dyn FrameDecoder + 'a> {
        self.decoder.clone()
    }

    fn read(&mut self, max: usize, mut buf: Vec<u8>) -> anyhow::Result<Option<RawChunk<'a>>> {
        let first = self.next;
        if first >= self.meta.frames {
            return Ok(None);
        }
        let n = max.max(1).min(self.meta.frames - first);
        let fb = self.decoder.frame_bytes;
        let start = self.header.len as u64 + first as u64 * fb as u64;
        super::read_frames_at(&mut self.file, start, n * fb, (first, n), &mut buf)?;
        self.next += n;
        Ok(Some(RawChunk {
            first,
            frames: n,
            bytes: ChunkBytes::Owned(buf),
            offsets: Vec::new(),
        }))
    }

    fn skip(&mut self, n: usize) -> anyhow::Result<()> {
        self.next = self.next.saturating_add(n).min(self.meta.frames);
        Ok(())
    }
}

/// Decodes one DCD frame (positions in Å, unit cell).
pub struct DcdDecoder {
    /// Header facts.
    header: DcdHeader,
    /// Bytes per frame.
    frame_bytes: usize,
}

impl DcdDecoder {
    /// A decoder for frames laid out as `header` says.
    #[cfg(test)]
    pub fn from_header(header: &DcdHeader) -> Option<Self> {
        Some(Self {
            header: header.clone(),
            frame_bytes: header.frame_bytes()?,
        })
    }

    /// Time (ps) and step of frame `frame`, as MDAnalysis computes time
    /// (`(frame + istart / nsavc) × dt`); step is `istart + frame × nsavc`.
    pub fn time_step(&self, frame: usize) -> (f64, i64) {
        let h = &self.header;
        let nsavc = if h.nsavc == 0 { 1 } else { h.nsavc };
        let dt = h.delta * AKMA_PS * nsavc as f64;
        let time = (frame as f64 + h.istart as f64 / nsavc as f64) * dt;
        (time, h.istart as i64 + frame as i64 * nsavc as i64)
    }

    /// Reads the record at `at` that must hold `n` payload bytes; returns the payload start.
    fn expect(&self, b: &[u8], at: usize, n: usize, what: &str) -> Result<usize, String> {
        let l = &self.header.layout;
        let m = l.marker;
        let (a, z) = (l.marker_at(b, at), l.marker_at(b, at + m + n));
        if a != Some(n as u64) || z != Some(n as u64) {
            return Err(format!("{what} record markers {a:?}/{z:?}, expected {n}"));
        }
        Ok(at + m)
    }
}

impl FrameDecoder for DcdDecoder {
    fn frame_bytes(&self) -> Option<usize> {
        Some(self.frame_bytes)
    }

    fn frame_index_info(&self, index: usize, info: &mut FrameInfo) {
        let (time, step) = self.time_step(index);
        (info.time, info.step) = (Some(time), Some(step));
    }

    fn decode(
        &self,
        stored: &[u8],
        coords: &mut [f64],
        info: &mut FrameInfo,
    ) -> Result<(), String> {
        let h = &self.header;
        if stored.len() != self.frame_bytes {
            return Err(format!(
                "frame is {} bytes, expected {}",
                stored.len(),
                self.frame_bytes
            ));
        }
        if coords.len() != 3 * h.natoms {
            return Err(format!(
                "{} coordinates expected, buffer has {}",
                3 * h.natoms,
                coords.len()
            ));
        }
        let m = h.layout.marker;
        let mut at = 0;
        info.cell = None;
        if h.has_cell {
            let p = self.expect(stored, 0, 48, "unit cell")?;
            let raw: [f64; 6] = std::array::from_fn(|i| h.layout.f64_at(stored, p + 8 * i));
            info.cell = cell_from_dcd(&raw);
            at = 48 + 2 * m;
        }
        let n4 = 4 * h.natoms;
        for axis in 0..3 {
            let p = self.expect(stored, at, n4, ["x", "y", "z"][axis])?;
            let conv = if h.layout.big {
                f32::from_be_bytes
            } else {
                f32::from_le_bytes
            };
            for (i, c) in stored[p..p + n4].chunks_exact(4).enumerate() {
                coords[3 * i + axis] = conv([c[0], c[1], c[2], c[3]]) as f64;
            }
            at = p + n4 + m;
        }
        info.time = None;
        info.step = None;
        info.precision = None;
        info.lambda = None;
        Ok(())
    }
}

/// MDAnalysis' `triclinic_vectors`: lengths and angles (degrees) → box rows; None if invalid.
pub fn triclinic_vectors(d: [f64; 6]) -> Option<[[f64; 3]; 3]> {
    let [lx, ly, lz, alpha, beta, gamma] = d;
    if !(d.iter().all(|&v| v > 0.0) && alpha < 180.0 && beta < 180.0 && gamma < 180.0) {
        return None;
    }
    if alpha == 90.0 && beta == 90.0 && gamma == 90.0 {
        return Some([[lx, 0.0, 0.0], [0.0, ly, 0.0], [0.0, 0.0, lz]]);
    }
    let cos = |a: f64| if a == 90.0 { 0.0 } else { a.to_radians().cos() };
    let (ca, cb) = (cos(alpha), cos(beta));
    let (cg, sg) = if gamma == 90.0 {
        (0.0, 1.0)
    } else {
        (gamma.to_radians().cos(), gamma.to_radians().sin())
    };
    let b = [ly * cg, ly * sg, 0.0];
    let c0 = lz * cb;
    let c1 = lz * (ca - cb * cg) / sg;
    let c2 = (lz * lz - c0 * c0 - c1 * c1).sqrt();
    if c2.is_nan() || c2 <= 0.0 {
        return None;
    }
    Some([[lx, 0.0, 0.0], b, [c0, c1, c2]])
}

/// Angle in degrees between two vectors (MDAnalysis `triclinic_box` convention).
fn angle_deg(u: [f64; 3], v: [f64; 3]) -> f64 {
    let dot = u[0] * v[0] + u[1] * v[1] + u[2] * v[2];
    let nu = (u[0] * u[0] + u[1] * u[1] + u[2] * u[2]).sqrt();
    let nv = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    (dot / (nu * nv)).clamp(-1.0, 1.0).acos().to_degrees()
}

/// Interprets a DCD unit-cell record `[A, γ, B, β, α, C]` as MDAnalysis' `DCDReader` does.
pub fn cell_from_dcd(raw: &[f64; 6]) -> Option<[[f64; 3]; 3]> {
    let mut uc = [raw[0], raw[2], raw[5], raw[4], raw[3], raw[1]];
    if uc[3..].iter().all(|a| (-1.0..=1.0).contains(a)) {
        for a in &mut uc[3..] {
            *a = 90.0 - a.asin() * 90.0 / std::f64::consts::FRAC_PI_2;
        }
    } else if uc.iter().any(|&v| v < 0.0) || uc[3..].iter().any(|&a| a > 180.0) {
        // New CHARMM: the six numbers are the symmetric box matrix.
        let (e1, e2, e3) = (
            [raw[0], raw[1], raw[3]],
            [raw[1], raw[2], raw[4]],
            [raw[3], raw[4], raw[5]],
        );
        let norm = |v: [f64; 3]| (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        uc = [
            norm(e1),
            norm(e2),
            norm(e3),
            angle_deg(e2, e3),
            angle_deg(e1, e3),
            angle_deg(e1, e2),
        ];
    }
    if uc[..3].iter().all(|&v| v == 0.0) {
        return None;
    }
    triclinic_vectors(uc)
}

/// The DCD unit-cell record `[A, cos γ, B, cos β, cos α, C]` of a cell (zeros for none).
pub fn cell_to_dcd(cell: Option<&[[f64; 3]; 3]>) -> [f64; 6] {
    let Some(c) = cell else { return [0.0; 6] };
    let dot = |u: &[f64; 3], v: &[f64; 3]| u[0] * v[0] + u[1] * v[1] + u[2] * v[2];
    let (a, b, cc) = (
        dot(&c[0], &c[0]).sqrt(),
        dot(&c[1], &c[1]).sqrt(),
        dot(&c[2], &c[2]).sqrt(),
    );
    if !(a > 0.0 && b > 0.0 && cc > 0.0 && (a * b * cc).is_finite()) {
        return [0.0; 6];
    }
    let cos = |u, v, nu: f64, nv: f64| (dot(u, v) / (nu * nv)).clamp(-1.0, 1.0);
    [
        a,
        cos(&c[0], &c[1], a, b),
        b,
        cos(&c[0], &c[2], a, cc),
        cos(&c[1], &c[2], b, cc),
        cc,
    ]
}

/// Encodes one frame as a CHARMM DCD frame (little-endian, 32-bit markers, unit cell).
pub struct DcdEncoder {
    /// Atoms per frame.
    natoms: usize,
    /// Time of output frame 0 once it has been encoded (the sink's header needs it).
    first_time: std::sync::Mutex<Option<Option<f64>>>,
}

impl DcdEncoder {
    /// Bytes of one encoded frame.
    fn size(&self) -> usize {
        56 + 3 * (8 + 4 * self.natoms)
    }
}

impl FrameEncoder for DcdEncoder {
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
        if coords.len() != 3 * self.natoms || out.len() != self.size() {
            return Err(format!(
                "DCD frame of {} atoms needs {} coordinates and {} bytes, got {} and {}",
                self.natoms,
                3 * self.natoms,
                self.size(),
                coords.len(),
                out.len()
            ));
        }
        if frame == 0 {
            if let Ok(mut t) = self.first_time.lock() {
                *t = Some(info.time);
            }
        }
        let mut w = 0;
        let mut put = |bytes: &[u8]| {
            out[w..w + bytes.len()].copy_from_slice(bytes);
            w += bytes.len();
        };
        put(&48u32.to_le_bytes());
        for v in cell_to_dcd(info.cell.as_ref()) {
            put(&v.to_le_bytes());
        }
        put(&48u32.to_le_bytes());
        let n4 = (4 * self.natoms as u32).to_le_bytes();
        for axis in 0..3 {
            put(&n4);
            for x in coords.iter().skip(axis).step_by(3) {
                put(&(*x as f32).to_le_bytes());
            }
            put(&n4);
        }
        Ok(())
    }

    fn encode_append(
        &self,
        frame: usize,
        coords: &[f64],
        info: &FrameInfo,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        let at = out.len();
        out.resize(at + self.size(), 0);
        self.encode_into(frame, coords, info, &mut out[at..])
    }
}

/// Writes a CHARMM-style DCD file.
pub struct DcdSink<'a> {
    /// Destination.
    out: Box<dyn Write + Send + 'a>,
    /// Shared encoder.
    encoder: Arc<DcdEncoder>,
    /// Frames announced in the header.
    frames: usize,
    /// Time between frames (ps).
    dt: f64,
    /// Header written yet (it is written before the first frame: it needs frame 0's time).
    started: bool,
}

/// ISTART for a DCD whose frame 0 is at `time0` ps with `dt` ps per frame (NSAVC 1):
/// `time0 / dt` when that is a whole number (within 1e-6 frames), else 0 (time offset lost).
pub fn istart_for(time0: Option<f64>, dt: f64) -> i32 {
    let Some(t) = time0 else { return 0 };
    let k = (t / dt).round();
    let ok = (t / dt - k).abs() <= 1e-6 && k.abs() <= i32::MAX as f64;
    if ok {
        k as i32
    } else {
        0
    }
}

/// The CHARMM header MDAnalysis' `DCDWriter` writes (NSAVC 1, unit cell on), with ISTART
/// `istart` so that MDAnalysis' time `(frame + ISTART / NSAVC) × dt` continues the input's.
pub fn charmm_header(
    natoms: usize,
    frames: usize,
    dt_ps: f64,
    istart: i32,
) -> Result<Vec<u8>, String> {
    let n = i32::try_from(natoms)
        .ok()
        .filter(|n| n.checked_mul(4).is_some());
    let n = n.ok_or_else(|| format!("DCD cannot hold {natoms} atoms"))?;
    let nset = i32::try_from(frames).map_err(|_| format!("DCD cannot hold {frames} frames"))?;
    let mut h = Vec::with_capacity(276);
    let int = |h: &mut Vec<u8>, v: i32| h.extend(v.to_le_bytes());
    int(&mut h, 84);
    h.extend(b"CORD");
    // ICNTRL: NSET, ISTART, NSAVC, NSTEP (last step), 5 zeros, DELTA, cell flag, 8 zeros, version.
    let last = istart.saturating_add((nset - 1).max(0));
    for v in [nset, istart, 1, last, 0, 0, 0, 0, 0] {
        int(&mut h, v);
    }
    h.extend(((dt_ps / AKMA_PS) as f32).to_le_bytes());
    int(&mut h, 1);
    for _ in 0..8 {
        int(&mut h, 0);
    }
    int(&mut h, 24);
    int(&mut h, 84);
    int(&mut h, 4 + 3 * 80);
    int(&mut h, 3);
    for line in [
        "REMARKS FILENAME=written by aligntraj",
        "REMARKS DCD in the CHARMM layout",
        "",
    ] {
        h.extend(format!("{line:<80}").as_bytes());
    }
    int(&mut h, 4 + 3 * 80);
    for v in [4, n, 4] {
        int(&mut h, v);
    }
    Ok(h)
}

impl<'a> DcdSink<'a> {
    /// Prepares the sink; the header (NSET `spec.meta.frames`, dt `spec.dt`, else `meta.dt`, else
    /// 1 ps, ISTART from frame 0's time) is written with the first frames.
    pub fn create(writer: Box<dyn Write + Send + 'a>, spec: &SinkSpec) -> anyhow::Result<Self> {
        let m = &spec.meta;
        if m.dims != 3 || m.points == 0 {
            return Err(anyhow!(
                "DCD needs 3-D points, got {} points × {} dims",
                m.points,
                m.dims
            ));
        }
        let dt = spec
            .dt
            .or(m.dt)
            .filter(|d| d.is_finite() && *d > 0.0)
            .unwrap_or(1.0);
        charmm_header(m.points, m.frames, dt, 0).map_err(|e| anyhow!(e))?;
        let encoder = Arc::new(DcdEncoder {
            natoms: m.points,
            first_time: Default::default(),
        });
        Ok(Self {
            out: writer,
            encoder,
            frames: m.frames,
            dt,
            started: false,
        })
    }

    /// Writes the header once, with ISTART from frame 0's time when it has been encoded.
    fn start(&mut self) -> anyhow::Result<()> {
        if !self.started {
            let t0 = self
                .encoder
                .first_time
                .lock()
                .ok()
                .and_then(|t| t.flatten());
            let istart = istart_for(t0, self.dt);
            let h = charmm_header(self.encoder.natoms, self.frames, self.dt, istart);
            self.out.write_all(&h.map_err(|e| anyhow!(e))?)?;
            self.started = true;
        }
        Ok(())
    }
}

impl<'a> WriterSink<'a> for DcdSink<'a> {
    fn encoder(&self) -> Arc<dyn FrameEncoder + 'a> {
        self.encoder.clone()
    }

    fn write(&mut self, encoded: &[u8], _frames: usize) -> anyhow::Result<()> {
        self.start()?;
        self.out.write_all(encoded)?;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> anyhow::Result<Box<dyn Write + Send + 'a>> {
        self.start()?;
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
#[path = "dcd_tests.rs"]
mod tests;
