//! XTC (GROMACS compressed trajectory) source and sink.
//!
//! Framing scans the frame headers once at open (seeking past the compressed data) and keeps
//! every frame's byte offset. Decoding is our own bounds-checked port of xdrfile's
//! `xdr3dfcoord` working on one frame's bytes: molly's decoder only reads from an `io::Read`
//! and panics on corrupt data (asserts, slice indexing), so it cannot face hostile files; it
//! serves as the independent reference in the tests. Encoding uses molly's
//! `writer::write_compressed_positions` into the frame's byte vector, after we check that every
//! coordinate fits the integer range. Positions and box are nm in the file, Å here (× 10 in
//! f32, as xdrfile + MDAnalysis compute them).

use crate::formats::StreamSink;
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, Context};

use super::util::{be_f32, be_i32, be_u32, be_u64, one_line, read_up_to};
use super::{
    FrameDecoder, FrameEncoder, FrameInfo, FrameSource, RawChunk, SinkSpec, TrajMeta, Width,
};

/// Magic number of the classic XTC format (32-bit compressed byte count).
const MAGIC_1995: i32 = 1995;
/// Magic number of GROMACS 2023 large-frame XTC (64-bit compressed byte count).
const MAGIC_2023: i32 = 2023;
/// Bytes of magic, natoms, step, time, box (9 floats) and natoms again.
const HEADER: usize = 56;
/// Bytes of precision, minint[3], maxint[3], smallidx after the header (natoms > 9).
const PRELUDE: usize = 32;
/// nm → Å.
const NM_TO_A: f32 = 10.0;
/// Å → nm: divided in f64, then rounded once to f32 (undoes the reader's f32 × 10 exactly
/// more often than MDAnalysis' f32 × 0.1, so read + write round trips keep the box bytes).
#[inline]
pub fn to_nm(x: f64) -> f32 {
    (x / 10.0) as f32
}

/// XTC precision used when the frame does not say (MDAnalysis and GROMACS default).
pub const DEFAULT_PRECISION: f32 = 1000.0;
/// Largest |coordinate × precision| the encoder accepts (keeps max − min inside i32).
const MAX_ABS_INT: f64 = 1_073_741_823.0;
/// First usable index of `MAGICINTS`.
const FIRSTIDX: usize = 9;
/// xdrfile's table of small-integer sizes (`magicints`).
#[rustfmt::skip]
const MAGICINTS: [u32; 73] = [
    0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 10, 12, 16, 20, 25, 32, 40, 50, 64, 80, 101, 128, 161, 203, 256,
    322, 406, 512, 645, 812, 1024, 1290, 1625, 2048, 2580, 3250, 4096, 5060, 6501, 8192, 10321,
    13003, 16384, 20642, 26007, 32768, 41285, 52015, 65536, 82570, 104031, 131072, 165140, 208063,
    262144, 330280, 416127, 524287, 660561, 832255, 1048576, 1321122, 1664510, 2097152, 2642245,
    3329021, 4194304, 5284491, 6658042, 8388607, 10568983, 13316085, 16777216,
];

/// The fixed-size header at the start of every XTC frame.
#[derive(Clone, Copy, Debug)]
struct Header {
    /// 1995 or 2023.
    magic: i32,
    /// Atoms in the frame.
    natoms: usize,
    /// Integration step.
    step: i32,
    /// Time in ps.
    time: f32,
    /// Box vectors (rows a, b, c) in nm.
    boxv: [f32; 9],
}

/// Parses the 56-byte header at the start of `b`.
fn parse_header(b: &[u8]) -> Result<Header, String> {
    if b.len() < HEADER {
        return Err(format!("header needs {HEADER} bytes, {} left", b.len()));
    }
    let magic = be_i32(b, 0).unwrap_or(0);
    if magic != MAGIC_1995 && magic != MAGIC_2023 {
        return Err(format!("bad magic number {magic} (expected 1995 or 2023)"));
    }
    let natoms = be_u32(b, 4).unwrap_or(0);
    let again = be_u32(b, 52).unwrap_or(0);
    if natoms != again {
        return Err(format!(
            "atom counts {natoms} and {again} in the header disagree"
        ));
    }
    if natoms > i32::MAX as u32 {
        return Err(format!("absurd atom count {natoms}"));
    }
    let mut boxv = [0f32; 9];
    for (i, v) in boxv.iter_mut().enumerate() {
        *v = be_f32(b, 16 + 4 * i).unwrap_or(0.0);
    }
    Ok(Header {
        magic,
        natoms: natoms as usize,
        step: be_i32(b, 8).unwrap_or(0),
        time: be_f32(b, 12).unwrap_or(0.0),
        boxv,
    })
}

/// Where a frame's compressed bytes start and how many there are (natoms > 9).
fn compressed_span(b: &[u8], h: &Header) -> Result<(usize, usize), String> {
    let at = HEADER + PRELUDE;
    let (count, start) = if h.magic == MAGIC_2023 {
        (be_u64(b, at), at + 8)
    } else {
        (be_u32(b, at).map(u64::from), at + 4)
    };
    let count = count.ok_or("frame ends inside the compression header")?;
    let count = usize::try_from(count).map_err(|_| format!("absurd byte count {count}"))?;
    Ok((start, count))
}

/// Total stored length of a frame whose first bytes are `b` (at least up to the byte count).
fn frame_len(b: &[u8], h: &Header) -> Result<usize, String> {
    if h.natoms <= 9 {
        return Ok(HEADER + 12 * h.natoms);
    }
    let (start, count) = compressed_span(b, h)?;
    // Each atom costs at least one bit: bounds the coordinate allocation by the file size.
    if h.natoms / 8 > count {
        return Err(format!(
            "{} atoms cannot fit in {count} compressed bytes",
            h.natoms
        ));
    }
    count
        .checked_add(3)
        .map(|c| c & !3)
        .and_then(|c| c.checked_add(start))
        .ok_or_else(|| format!("absurd byte count {count}"))
}

/// Converts a stored box (nm, rows a, b, c) to the engine's cell in Å (None when all zero).
fn box_to_cell(b: &[f32; 9]) -> Option<[[f64; 3]; 3]> {
    if b.iter().all(|&v| v == 0.0) {
        return None;
    }
    let mut c = [[0f64; 3]; 3];
    for (i, v) in b.iter().enumerate() {
        c[i / 3][i % 3] = (v * NM_TO_A) as f64;
    }
    Some(c)
}

/// What a header scan of the whole file found.
struct Scan {
    /// Start of each frame and the file end (frames + 1 entries).
    offsets: Vec<u64>,
    /// Atoms per frame.
    natoms: usize,
    /// Times of the first two frames.
    times: Vec<f32>,
}

/// Reads every frame header of `file` (length `len`), seeking past the data.
fn scan(file: &mut File, len: u64) -> Result<Scan, String> {
    let mut offsets = Vec::new();
    let mut times = Vec::new();
    let mut natoms = 0;
    let mut pos = 0u64;
    let mut head = [0u8; HEADER + PRELUDE + 8];
    while pos < len {
        let frame = offsets.len();
        let at = |e: String| format!("frame {frame}: {e}");
        file.seek(SeekFrom::Start(pos))
            .map_err(|e| at(e.to_string()))?;
        let got = read_up_to(file, &mut head).map_err(|e| at(e.to_string()))?;
        let h = parse_header(&head[..got]).map_err(at)?;
        if frame == 0 {
            natoms = h.natoms;
        } else if h.natoms != natoms {
            return Err(at(format!(
                "atom count {} differs from frame 0's {natoms}",
                h.natoms
            )));
        }
        let flen = frame_len(&head[..got], &h).map_err(at)? as u64;
        if flen > len - pos {
            return Err(at(format!(
                "truncated: needs {flen} bytes, {} left",
                len - pos
            )));
        }
        if times.len() < 2 {
            times.push(h.time);
        }
        offsets.push(pos);
        pos += flen;
    }
    if offsets.is_empty() {
        return Err("no frames".into());
    }
    if natoms == 0 {
        return Err("frame 0: no atoms".into());
    }
    offsets.push(pos);
    Ok(Scan {
        offsets,
        natoms,
        times,
    })
}

/// XTC trajectory read frame by frame from a file.
pub struct XtcSource {
    /// Shape and names.
    meta: TrajMeta,
    /// The open file.
    file: File,
    /// Start of each frame plus the end.
    offsets: Vec<u64>,
    /// Next frame to read.
    next: usize,
    /// Shared decoder.
    decoder: Arc<XtcDecoder>,
}

impl XtcSource {
    /// Opens `path` and scans its frame headers (count, offsets, atom count, dt).
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let mut file =
            File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let len = file.metadata()?.len();
        let s = scan(&mut file, len).map_err(|e| anyhow!(one_line(&e)))?;
        let dt = (s.times.len() == 2).then(|| (s.times[1] as f64) - (s.times[0] as f64));
        let meta = TrajMeta {
            source: path.display().to_string(),
            key: "xtc".into(),
            frames: s.offsets.len() - 1,
            points: s.natoms,
            dims: 3,
            width: Width::F32,
            big_endian: false,
            unit: "Å",
            dt,
        };
        let decoder = Arc::new(XtcDecoder { natoms: s.natoms });
        Ok(Self {
            meta,
            file,
            offsets: s.offsets,
            next: 0,
            decoder,
        })
    }
}

impl<'a> FrameSource<'a> for XtcSource {
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

/// Decodes one XTC frame (positions in Å, box, time, step, precision).
pub struct XtcDecoder {
    /// Atoms per frame (from frame 0).
    natoms: usize,
}

impl FrameDecoder for XtcDecoder {
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
        info.time = Some(h.time as f64);
        info.step = Some(h.step as i64);
        info.cell = box_to_cell(&h.boxv);
        info.lambda = None;
        if h.natoms <= 9 {
            let body = stored
                .get(HEADER..HEADER + 12 * h.natoms)
                .ok_or("frame ends early")?;
            super::util::f32s_into(body, f32::from_be_bytes, NM_TO_A, coords);
            info.precision = None;
            return Ok(());
        }
        let (start, count) = compressed_span(stored, &h)?;
        let data = start
            .checked_add(count)
            .and_then(|end| stored.get(start..end))
            .ok_or("compressed data end early")?;
        let prelude = stored
            .get(HEADER..HEADER + PRELUDE)
            .ok_or("frame ends early")?;
        info.precision = Some(decompress(prelude, data, coords)?);
        Ok(())
    }
}

/// The compressed stream ended before all atoms were decoded.
struct Short;

/// MSB-first bit reader over the compressed bytes (xdrfile's `receivebits`).
struct Bits<'a> {
    /// Compressed bytes.
    data: &'a [u8],
    /// Next byte to load.
    pos: usize,
    /// Loaded bits not yet consumed (low `nacc` bits).
    acc: u64,
    /// Number of valid bits in `acc`.
    nacc: u32,
}

impl Bits<'_> {
    /// Reads the next `n` (≤ 32) bits as an unsigned number.
    #[inline(always)]
    fn get(&mut self, n: u32) -> Result<u32, Short> {
        if self.nacc < n {
            // Fast refill: nacc ≤ 31 here, so 32 more bits fit in the u64.
            if let Some(w) = super::util::take4(self.data, self.pos) {
                self.acc = (self.acc << 32) | u32::from_be_bytes(w) as u64;
                self.nacc += 32;
                self.pos += 4;
            }
        }
        while self.nacc < n {
            let b = *self.data.get(self.pos).ok_or(Short)?;
            self.pos += 1;
            self.acc = (self.acc << 8) | b as u64;
            self.nacc += 8;
        }
        self.nacc -= n;
        let v = (self.acc >> self.nacc) & ((1u64 << n) - 1);
        self.acc &= (1u64 << self.nacc) - 1;
        Ok(v as u32)
    }

    /// Reads three integers packed in `nbits` (≤ 96) bits with mixed radix `sizes` (`receiveints`).
    #[inline(always)]
    fn ints(&mut self, nbits: u32, sizes: &[u32; 3]) -> Result<[i32; 3], Short> {
        if nbits <= 64 {
            // The packed number fits a u64: two divisions instead of byte-wise long division
            // (exact either way: the long division never produces a digit above 255).
            let (mut v, mut shift, mut left) = (0u64, 0, nbits);
            while left > 8 {
                v |= (self.get(8)? as u64) << shift;
                shift += 8;
                left -= 8;
            }
            if left > 0 {
                v |= (self.get(left)? as u64) << shift;
            }
            let (s1, s2) = (sizes[1] as u64, sizes[2] as u64);
            let z = v % s2;
            let v = v / s2;
            return Ok([(v / s1) as u32 as i32, (v % s1) as i32, z as i32]);
        }
        let mut bytes = [0u8; 12];
        let mut nb = 0;
        let mut left = nbits;
        while left > 8 {
            bytes[nb] = self.get(8)? as u8;
            nb += 1;
            left -= 8;
        }
        if left > 0 {
            bytes[nb] = self.get(left)? as u8;
            nb += 1;
        }
        let mut nums = [0i32; 3];
        for i in (1..3).rev() {
            let size = sizes[i] as u64;
            let mut num = 0u64;
            for byte in bytes[..nb].iter_mut().rev() {
                num = (num << 8) | *byte as u64;
                let p = num / size;
                *byte = p as u8;
                num -= p * size;
            }
            nums[i] = num as i32;
        }
        nums[0] = i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        Ok(nums)
    }
}

/// Bits needed for values below `size` (xdrfile's `sizeofint`).
fn sizeofint(size: u32) -> u32 {
    let (mut num, mut bits) = (1u64, 0);
    while size as u64 >= num && bits < 32 {
        bits += 1;
        num <<= 1;
    }
    bits
}

/// Bits needed for three values with mixed radix `sizes` (xdrfile's `sizeofints`).
fn sizeofints(sizes: &[u32; 3]) -> u32 {
    let mut bytes = [0u8; 32];
    bytes[0] = 1;
    let mut nbytes = 1;
    for &size in sizes {
        let mut tmp = 0u64;
        let mut cnt = 0;
        while cnt < nbytes {
            tmp += bytes[cnt] as u64 * size as u64;
            bytes[cnt] = (tmp & 0xff) as u8;
            tmp >>= 8;
            cnt += 1;
        }
        while tmp != 0 && cnt < bytes.len() {
            bytes[cnt] = (tmp & 0xff) as u8;
            cnt += 1;
            tmp >>= 8;
        }
        nbytes = cnt;
    }
    let (mut num, mut bits) = (1u32, 0);
    while bytes[nbytes - 1] as u32 >= num {
        bits += 1;
        num *= 2;
    }
    bits + (nbytes as u32 - 1) * 8
}

/// The per-frame constants of the compressed stream, validated.
struct Stream {
    /// Precision (1/nm).
    precision: f32,
    /// Smallest integer coordinate per axis.
    minint: [i32; 3],
    /// Range sizes per axis.
    sizeint: [u32; 3],
    /// Bits per axis when a range exceeds 2^24 (then `bitsize` is 0).
    bitsizeint: [u32; 3],
    /// Bits of the packed triple, 0 when axes are stored separately.
    bitsize: u32,
    /// Initial index into `MAGICINTS`.
    smallidx: usize,
}

/// Reads and checks precision, minint, maxint and smallidx.
fn parse_prelude(p: &[u8]) -> Result<Stream, String> {
    let precision = be_f32(p, 0).unwrap_or(0.0);
    if !(precision.is_finite() && precision > 0.0) {
        return Err(format!("invalid precision {precision}"));
    }
    let mut minint = [0i32; 3];
    let mut sizeint = [0u32; 3];
    for i in 0..3 {
        minint[i] = be_i32(p, 4 + 4 * i).unwrap_or(0);
        let max = be_i32(p, 16 + 4 * i).unwrap_or(0);
        let size = max as i64 - minint[i] as i64 + 1;
        sizeint[i] = u32::try_from(size)
            .ok()
            .filter(|&s| s > 0)
            .ok_or_else(|| format!("invalid coordinate range {}..{max}", minint[i]))?;
    }
    let mut bitsizeint = [0u32; 3];
    let bitsize = if (sizeint[0] | sizeint[1] | sizeint[2]) > 0xff_ffff {
        bitsizeint = sizeint.map(sizeofint);
        0
    } else {
        sizeofints(&sizeint)
    };
    let smallidx = be_u32(p, 28).unwrap_or(0) as usize;
    if !(FIRSTIDX..MAGICINTS.len()).contains(&smallidx) {
        return Err(format!("invalid small-integer index {smallidx}"));
    }
    Ok(Stream {
        precision,
        minint,
        sizeint,
        bitsizeint,
        bitsize,
        smallidx,
    })
}

/// The adaptive size of the small integers that code runs of neighbouring atoms.
struct Small {
    /// Index into `MAGICINTS` (also the bit count of a packed small triple).
    idx: usize,
    /// Half the next smaller size.
    smaller: i32,
    /// Half the current size (the offset of small deltas).
    num: i32,
    /// Current size per axis.
    size: [u32; 3],
}

impl Small {
    /// State for the stream's initial `smallidx` (checked by `parse_prelude`).
    fn new(idx: usize) -> Self {
        Small {
            idx,
            smaller: MAGICINTS[FIRSTIDX.max(idx - 1)] as i32 / 2,
            num: MAGICINTS[idx] as i32 / 2,
            size: [MAGICINTS[idx]; 3],
        }
    }

    /// Grows (`by` > 0) or shrinks (`by` < 0) the size as xdrfile does, refusing bad indices.
    fn shift(&mut self, by: i32) -> Result<(), String> {
        if by == 0 {
            return Ok(());
        }
        let next = self.idx as i64 + by as i64;
        if next < FIRSTIDX as i64 || next >= MAGICINTS.len() as i64 {
            return Err(format!("invalid small-integer index {next}"));
        }
        self.idx = next as usize;
        if by < 0 {
            self.num = self.smaller;
            self.smaller = match self.idx > FIRSTIDX {
                true => MAGICINTS[self.idx - 1] as i32 / 2,
                false => 0,
            };
        } else {
            self.smaller = self.num;
            self.num = MAGICINTS[self.idx] as i32 / 2;
        }
        self.size = [MAGICINTS[self.idx]; 3];
        Ok(())
    }
}

/// Reads one full-size coordinate triple (relative to minint).
#[inline(always)]
fn full_triple(bits: &mut Bits, s: &Stream) -> Result<[i32; 3], Short> {
    let mut c = if s.bitsize == 0 {
        let b = &s.bitsizeint;
        [bits.get(b[0])?, bits.get(b[1])?, bits.get(b[2])?].map(|v| v as i32)
    } else {
        bits.ints(s.bitsize, &s.sizeint)?
    };
    for (v, m) in c.iter_mut().zip(s.minint) {
        *v = v.wrapping_add(m);
    }
    Ok(c)
}

/// Decompresses `data` (after the prelude `p`) into `coords` (Å); returns the precision.
fn decompress(p: &[u8], data: &[u8], coords: &mut [f64]) -> Result<f32, String> {
    let s = parse_prelude(p)?;
    let natoms = coords.len() / 3;
    let inv = 1.0f32 / s.precision;
    let put = |coords: &mut [f64], i: usize, c: &[i32; 3]| {
        for k in 0..3 {
            coords[3 * i + k] = ((c[k] as f32 * inv) * NM_TO_A) as f64;
        }
    };
    let mut bits = Bits {
        data,
        pos: 0,
        acc: 0,
        nacc: 0,
    };
    let mut small = Small::new(s.smallidx);
    let mut run: i32 = 0;
    let mut i = 0;
    let short = |_| "compressed data end early".to_string();
    while i < natoms {
        let c = full_triple(&mut bits, &s).map_err(short)?;
        let mut prev = c;
        let mut is_smaller = 0;
        if bits.get(1).map_err(short)? == 1 {
            run = bits.get(5).map_err(short)? as i32;
            is_smaller = run % 3;
            run -= is_smaller;
            is_smaller -= 1;
        }
        if run == 0 {
            put(coords, i, &c);
            i += 1;
        } else {
            let count = 1 + run as usize / 3;
            if count > natoms - i {
                return Err(format!(
                    "run of {count} atoms passes the atom count {natoms}"
                ));
            }
            for k in (0..run).step_by(3) {
                let mut t = bits.ints(small.idx as u32, &small.size).map_err(short)?;
                for (v, p) in t.iter_mut().zip(prev) {
                    *v = v.wrapping_add(p).wrapping_sub(small.num);
                }
                if k == 0 {
                    // xdrfile swaps a run's first two atoms (better compression for water).
                    std::mem::swap(&mut t, &mut prev);
                    put(coords, i, &prev);
                    i += 1;
                } else {
                    prev = t;
                }
                put(coords, i, &t);
                i += 1;
            }
        }
        small.shift(is_smaller)?;
    }
    Ok(s.precision)
}

/// Encodes one frame as XTC (Å → nm; precision from the frame, default 1000).
pub struct XtcEncoder {
    /// Atoms per frame.
    natoms: usize,
    /// Time between frames (ps) for frames without a time.
    dt: f64,
}

impl XtcEncoder {
    /// Appends the 56-byte header.
    fn header(&self, frame: usize, info: &FrameInfo, out: &mut Vec<u8>) -> Result<(), String> {
        let step = info.step.unwrap_or(frame as i64);
        let step =
            i32::try_from(step).map_err(|_| format!("step {step} outside XTC's 32-bit range"))?;
        let time = info.time.unwrap_or(frame as f64 * self.dt) as f32;
        out.extend(MAGIC_1995.to_be_bytes());
        out.extend((self.natoms as u32).to_be_bytes());
        out.extend(step.to_be_bytes());
        out.extend(time.to_be_bytes());
        let cell = info.cell.unwrap_or([[0.0; 3]; 3]);
        for v in cell.iter().flatten() {
            out.extend(to_nm(*v).to_be_bytes());
        }
        out.extend((self.natoms as u32).to_be_bytes());
        Ok(())
    }
}

impl FrameEncoder for XtcEncoder {
    fn frame_bytes(&self) -> Option<usize> {
        None
    }

    fn encode_into(&self, _: usize, _: &[f64], _: &FrameInfo, _: &mut [u8]) -> Result<(), String> {
        Err("XTC frames have no fixed size: use encode_append".into())
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
        let precision = info.precision.unwrap_or(DEFAULT_PRECISION);
        if !(precision.is_finite() && precision > 0.0) {
            return Err(format!("invalid XTC precision {precision}"));
        }
        self.header(frame, info, out)?;
        let nm: Vec<f32> = coords.iter().map(|&x| to_nm(x)).collect();
        if self.natoms <= 9 {
            nm.iter().for_each(|v| out.extend(v.to_be_bytes()));
            return Ok(());
        }
        let unfit = |x: f32| {
            let v = (x as f64 * precision as f64).abs();
            v.is_nan() || v > MAX_ABS_INT
        };
        if let Some(x) = nm.iter().find(|&&x| unfit(x)) {
            return Err(format!(
                "coordinate {} Å does not fit XTC precision {precision}",
                x * 10.0
            ));
        }
        out.extend(precision.to_be_bytes());
        molly::writer::write_compressed_positions(out, &nm, precision, molly::Magic::Xtc1995)
            .map_err(|e| format!("XTC compression failed: {e}"))?;
        Ok(())
    }
}

/// Writes an XTC file frame by frame.
pub type XtcSink<'a> = StreamSink<'a, XtcEncoder>;

impl<'a> XtcSink<'a> {
    /// Prepares an XTC sink for frames of `spec.meta.points` atoms (XTC has no file header).
    pub fn create(writer: Box<dyn Write + Send + 'a>, spec: &SinkSpec) -> anyhow::Result<Self> {
        let m = &spec.meta;
        if m.dims != 3 || m.points == 0 {
            return Err(anyhow!(
                "XTC needs 3-D points, got {} points × {} dims",
                m.points,
                m.dims
            ));
        }
        if m.points > molly::XTC_1995_MAX_NATOMS {
            return Err(anyhow!("XTC cannot hold {} atoms per frame", m.points));
        }
        let dt = spec.dt.or(m.dt).unwrap_or(1.0);
        Ok(StreamSink::new(
            writer,
            XtcEncoder {
                natoms: m.points,
                dt,
            },
            b"",
        ))
    }
}

#[cfg(test)]
#[path = "xtc_tests.rs"]
mod tests;
