//! Trajectory formats behind two small traits: a [`FrameSource`] frames stored bytes (I/O
//! only), a [`FrameDecoder`] turns one frame's bytes into `f64` coordinates, a [`FrameEncoder`]
//! turns them back, and a [`FrameSink`] writes encoded frames in order.
//!
//! The engine's reader thread calls [`FrameSource::read`]; rayon tasks call `decode`, the
//! stages and `encode_*` on each frame in parallel; the writer thread calls
//! [`FrameSink::write`]. So decoders and encoders are pure functions of one frame. A new format
//! is one source and one sink; nothing else changes.
//!
//! Units inside the engine: whatever the file holds for `.npz`/`.npy`; Å and ps for MD formats.
//! Coordinates are `f64`, N × D row-major. Nothing here may panic on any input: every size read
//! from a file is checked against the bytes actually there before anything is allocated.

pub mod concat;
pub(crate) mod dcd;
pub(crate) mod gro;
pub mod memory;
pub mod npy;
pub mod npz;
pub(crate) mod npz_sink;
pub(crate) mod pdb;
pub(crate) mod subset;
pub(crate) mod textio;
pub(crate) mod trr;
pub(crate) mod util;
pub(crate) mod xtc;
pub(crate) mod xyz;
pub(crate) mod zipread;

#[cfg(test)]
mod fixtures_tests;
#[cfg(test)]
mod testkit;
#[cfg(test)]
mod text_fixtures;

use anyhow::Result;
use std::path::Path;
use std::sync::Arc;

/// Element width of stored coordinates (the output keeps the input's width where it can).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    /// 4-byte floats.
    F32,
    /// 8-byte floats.
    F64,
}

/// What the engine knows of a trajectory before reading frames.
#[derive(Clone, Debug, PartialEq)]
pub struct TrajMeta {
    /// The input as named in messages (a path, or `<stdin>`).
    pub source: String,
    /// The array's name in messages: the npz member key, or the format name.
    pub key: String,
    /// Number of frames (≥ 1), known at open.
    pub frames: usize,
    /// Points per frame (≥ 1).
    pub points: usize,
    /// Coordinates per point (≥ 2).
    pub dims: usize,
    /// Stored element width.
    pub width: Width,
    /// Stored most significant byte first (a `>f4`/`>f8` array; false for MD formats).
    pub big_endian: bool,
    /// Length unit of the decoded coordinates, for messages ("Å" for MD formats, "" for npz).
    pub unit: &'static str,
    /// Nominal time between frames in ps, where the format says it.
    pub dt: Option<f64>,
}

impl TrajMeta {
    /// Numbers per frame (points × dims).
    pub fn frame_len(&self) -> usize {
        self.points * self.dims
    }

    /// `source: array 'key'`, the prefix of messages about this trajectory.
    pub fn what(&self) -> String {
        format!("{}: array '{}'", self.source, self.key)
    }
}

/// Per-frame data besides coordinates, carried from source to sink.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FrameInfo {
    /// Simulation time in ps.
    pub time: Option<f64>,
    /// Integration step number.
    pub step: Option<i64>,
    /// Unit cell in Å, rows = box vectors a, b, c.
    pub cell: Option<[[f64; 3]; 3]>,
    /// XTC compression precision as stored (1000.0 = 0.001 nm).
    pub precision: Option<f32>,
    /// TRR lambda.
    pub lambda: Option<f64>,
}

/// Owned bytes (read from a file) or bytes borrowed from memory (in-memory arrays).
pub enum ChunkBytes<'a> {
    /// Read into a buffer the engine recycles.
    Owned(Vec<u8>),
    /// A slice of an array in memory.
    Borrowed(&'a [u8]),
}

impl ChunkBytes<'_> {
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            ChunkBytes::Owned(v) => v,
            ChunkBytes::Borrowed(s) => s,
        }
    }
}

/// The stored bytes of consecutive frames, as read (not decoded).
pub struct RawChunk<'a> {
    /// Index (in the source) of the first frame.
    pub first: usize,
    /// Number of frames.
    pub frames: usize,
    /// The bytes.
    pub bytes: ChunkBytes<'a>,
    /// Start of each frame in `bytes` plus the end (`frames + 1` entries); empty when every
    /// frame is [`FrameDecoder::frame_bytes`] long.
    pub offsets: Vec<usize>,
}

/// Reads `len` bytes at `start` of `file` into `buf` (cleared first): the bytes of frames
/// `first..first + n`, named in the error when the file is shorter than it was when indexed.
pub(crate) fn read_frames_at(
    file: &mut std::fs::File,
    start: u64,
    len: usize,
    (first, n): (usize, usize),
    buf: &mut Vec<u8>,
) -> Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    buf.clear();
    buf.resize(len, 0);
    file.seek(SeekFrom::Start(start))?;
    file.read_exact(buf)
        .map_err(|e| anyhow::anyhow!("frames {first}..{}: {e} (file changed?)", first + n))
}

/// Frames `first..first + n` of a file whose frames start at `offsets` (each frame's start,
/// then the end), as one chunk read into `buf`.
pub(crate) fn read_indexed_frames<'a>(
    file: &mut std::fs::File,
    offsets: &[u64],
    (first, n): (usize, usize),
    mut buf: Vec<u8>,
) -> Result<RawChunk<'a>> {
    let span = &offsets[first..=first + n];
    let start = span[0];
    read_frames_at(
        file,
        start,
        usize::try_from(span[n] - start)?,
        (first, n),
        &mut buf,
    )?;
    Ok(RawChunk {
        first,
        frames: n,
        bytes: ChunkBytes::Owned(buf),
        offsets: span.iter().map(|&o| (o - start) as usize).collect(),
    })
}

impl RawChunk<'_> {
    /// The stored bytes of frame `i` of the chunk.
    pub fn frame(&self, i: usize, fixed: Option<usize>) -> &[u8] {
        let bytes = self.bytes.as_slice();
        match fixed {
            Some(n) if self.offsets.is_empty() => &bytes[i * n..(i + 1) * n],
            _ => &bytes[self.offsets[i]..self.offsets[i + 1]],
        }
    }
}

/// Turns one frame's stored bytes into coordinates. Called in parallel.
pub trait FrameDecoder: Send + Sync {
    /// Stored bytes per frame when every frame has the same size, else `None`.
    fn frame_bytes(&self) -> Option<usize>;
    /// Decodes one frame into `coords` (points × dims) and `info`. Errors are one short line
    /// without the file name or frame index (the engine adds them).
    fn decode(&self, stored: &[u8], coords: &mut [f64], info: &mut FrameInfo)
        -> Result<(), String>;
    /// Fills what the frame's bytes do not say but its index in the source does (DCD time and
    /// step come from the header: `istart + index × nsavc`). Called after `decode`.
    fn frame_index_info(&self, _index: usize, _info: &mut FrameInfo) {}
}

/// Reads a trajectory frame by frame. Owned by the engine's reader thread.
pub trait FrameSource<'a>: Send {
    /// Shape, width and names, known at open.
    fn meta(&self) -> &TrajMeta;
    /// The per-frame decoder (shared with the compute threads).
    fn decoder(&self) -> Arc<dyn FrameDecoder + 'a>;
    /// Reads the stored bytes of up to `max` (≥ 1) next frames, reusing `buf`'s allocation;
    /// `Ok(None)` after the last frame, once the source's integrity checks passed.
    fn read(&mut self, max: usize, buf: Vec<u8>) -> Result<Option<RawChunk<'a>>>;
    /// Skips the next `n` frames without decoding them.
    fn skip(&mut self, n: usize) -> Result<()>;
    /// Other content the sink may carry over (the other members of an npz), taken once after
    /// the last frame was read.
    fn extras(&mut self) -> Result<Vec<npz::ExtraMember>> {
        Ok(Vec::new())
    }
}

/// Turns one frame's coordinates into stored bytes. Called in parallel.
pub trait FrameEncoder: Send + Sync {
    /// Bytes per frame when fixed (then [`encode_into`](Self::encode_into) is used), else
    /// `None` ([`encode_append`](Self::encode_append)).
    fn frame_bytes(&self) -> Option<usize>;
    /// Fixed-size formats: writes exactly `frame_bytes()` bytes into `out`. `frame` is the
    /// frame's index in the output.
    fn encode_into(
        &self,
        frame: usize,
        coords: &[f64],
        info: &FrameInfo,
        out: &mut [u8],
    ) -> Result<(), String> {
        let _ = (frame, coords, info, out);
        Err("internal: this format's frames have no fixed size".into())
    }
    /// Variable-size formats: appends the frame's bytes to `out`.
    fn encode_append(
        &self,
        frame: usize,
        coords: &[f64],
        info: &FrameInfo,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        let n = self.frame_bytes().ok_or_else(|| {
            "internal: encoder has neither a fixed size nor encode_append".to_string()
        })?;
        let start = out.len();
        out.resize(start + n, 0);
        self.encode_into(frame, coords, info, &mut out[start..])
    }
}

/// Writes a trajectory. Owned by the engine's writer thread.
pub trait FrameSink<'a>: Send {
    /// The per-frame encoder (shared with the compute threads).
    fn encoder(&self) -> Arc<dyn FrameEncoder + 'a>;
    /// Writes the encoded bytes of `frames` consecutive frames, in order.
    fn write(&mut self, encoded: &[u8], frames: usize) -> Result<()>;
    /// Completes the output: copies `extras` where the format carries them, writes trailers
    /// and commits the file (atomically, for a file target).
    fn finish(self: Box<Self>, extras: Vec<npz::ExtraMember>) -> Result<()>;
}

/// A sink over any writer (the MD formats): `finish` writes trailers and hands the writer
/// back; [`Committing`] turns it into a [`FrameSink`] whose output is committed atomically.
pub trait WriterSink<'a>: Send {
    /// The per-frame encoder (shared with the compute threads).
    fn encoder(&self) -> Arc<dyn FrameEncoder + 'a>;
    /// Writes the encoded bytes of `frames` consecutive frames, in order.
    fn write(&mut self, encoded: &[u8], frames: usize) -> Result<()>;
    /// Writes trailers, patches headers if needed, flushes, and hands the writer back.
    fn finish(self: Box<Self>) -> Result<Box<dyn std::io::Write + Send + 'a>>;
}

/// The sink of a format without a file header (XTC, TRR, GRO, PDB, XYZ): encoded frames are
/// written as they come, then `trailer` (PDB's `END`).
pub struct StreamSink<'a, E> {
    out: Box<dyn std::io::Write + Send + 'a>,
    encoder: Arc<E>,
    trailer: &'static [u8],
}

impl<'a, E> StreamSink<'a, E> {
    /// A sink writing into `out` with `encoder`, ending with `trailer`.
    pub(crate) fn new(
        out: Box<dyn std::io::Write + Send + 'a>,
        encoder: E,
        trailer: &'static [u8],
    ) -> Self {
        StreamSink {
            out,
            encoder: Arc::new(encoder),
            trailer,
        }
    }
}

impl<'a, E: FrameEncoder + 'a> WriterSink<'a> for StreamSink<'a, E> {
    fn encoder(&self) -> Arc<dyn FrameEncoder + 'a> {
        self.encoder.clone()
    }

    fn write(&mut self, encoded: &[u8], _frames: usize) -> Result<()> {
        self.out.write_all(encoded)?;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<Box<dyn std::io::Write + Send + 'a>> {
        self.out.write_all(self.trailer)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Inputs for creating a sink for an MD format.
pub struct SinkSpec<'t> {
    /// Shape of the frames that will be written (`frames` is exact: a header may hold it).
    pub meta: TrajMeta,
    /// Atom names etc. for PDB/GRO/XYZ output (None: placeholder names).
    pub topology: Option<&'t crate::topology::Topology>,
    /// Time between frames (ps) for formats with a header timestep (DCD), when known.
    pub dt: Option<f64>,
}

/// A [`WriterSink`] writing into an [`Output`](crate::io::output::Output) shared with this
/// adapter, which commits it once the sink has finished.
pub struct Committing<'a> {
    /// The format's sink.
    pub sink: Box<dyn WriterSink<'a> + 'a>,
    /// The output it writes into.
    pub output: crate::io::output::SharedOutput,
}

impl<'a> FrameSink<'a> for Committing<'a> {
    fn encoder(&self) -> Arc<dyn FrameEncoder + 'a> {
        self.sink.encoder()
    }

    fn write(&mut self, encoded: &[u8], frames: usize) -> Result<()> {
        self.sink.write(encoded, frames)
    }

    fn finish(self: Box<Self>, _extras: Vec<npz::ExtraMember>) -> Result<()> {
        let Committing { sink, output } = *self;
        let mut writer = sink.finish()?;
        writer.flush()?;
        drop(writer);
        output.commit()
    }
}

/// The file formats, chosen by extension (or `--format` for standard input).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A NumPy zip archive of `.npy` members.
    Npz,
    /// A bare NumPy array.
    Npy,
    /// GROMACS compressed trajectory (nm, float32, lossy at its precision).
    Xtc,
    /// GROMACS full-precision trajectory (nm).
    Trr,
    /// CHARMM/NAMD/OpenMM binary trajectory (Å, float32).
    Dcd,
    /// Protein Data Bank, MODEL records as frames (Å).
    Pdb,
    /// GROMACS structure, concatenated frames (nm).
    Gro,
    /// XYZ (and extended XYZ), concatenated frames (Å).
    Xyz,
}

impl Format {
    /// The format of `path` by its extension, if it names one.
    pub fn of_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_string_lossy().to_ascii_lowercase();
        Some(match ext.as_str() {
            "npz" => Format::Npz,
            "npy" => Format::Npy,
            "xtc" => Format::Xtc,
            "trr" => Format::Trr,
            "dcd" => Format::Dcd,
            "pdb" | "ent" => Format::Pdb,
            "gro" => Format::Gro,
            "xyz" | "extxyz" => Format::Xyz,
            _ => return None,
        })
    }

    /// The usual extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Npz => "npz",
            Format::Npy => "npy",
            Format::Xtc => "xtc",
            Format::Trr => "trr",
            Format::Dcd => "dcd",
            Format::Pdb => "pdb",
            Format::Gro => "gro",
            Format::Xyz => "xyz",
        }
    }

    /// Whether this is an MD format (3-D, Å inside, read from files through its own reader).
    pub fn is_md(self) -> bool {
        !matches!(self, Format::Npz | Format::Npy)
    }

    /// Whether the format names atoms (a structure file that is its own topology).
    pub fn has_topology(self) -> bool {
        matches!(self, Format::Pdb | Format::Gro)
    }
}

/// Opens an MD trajectory file in `format`.
pub fn open_md_source(path: &Path, format: Format) -> Result<Box<dyn FrameSource<'static>>> {
    let name = crate::text::escape(&path.to_string_lossy());
    let opened: Result<Box<dyn FrameSource<'static>>> = match format {
        Format::Xtc => xtc::XtcSource::open(path).map(|s| Box::new(s) as _),
        Format::Trr => trr::TrrSource::open(path).map(|s| Box::new(s) as _),
        Format::Dcd => dcd::DcdSource::open(path).map(|s| Box::new(s) as _),
        Format::Pdb => pdb::PdbSource::open(path).map(|s| Box::new(s) as _),
        Format::Gro => gro::GroSource::open(path).map(|s| Box::new(s) as _),
        Format::Xyz => xyz::XyzSource::open(path).map(|s| Box::new(s) as _),
        Format::Npz | Format::Npy => anyhow::bail!("internal: {name} is not an MD format"),
    };
    opened.map_err(|e| {
        let msg = format!("{e:#}");
        if msg.contains(name.as_str()) {
            e
        } else {
            anyhow::anyhow!("{name}: {msg}")
        }
    })
}

/// Creates the sink of an MD `format` writing into `output` (committed when the sink finishes).
pub fn create_md_sink(
    output: crate::io::output::Output,
    format: Format,
    spec: &SinkSpec<'_>,
) -> Result<Box<dyn FrameSink<'static>>> {
    let shared = crate::io::output::SharedOutput::new(output);
    let writer: Box<dyn std::io::Write + Send> = Box::new(shared.clone());
    let sink: Box<dyn WriterSink<'static>> = match format {
        Format::Xtc => Box::new(xtc::XtcSink::create(writer, spec)?),
        Format::Trr => Box::new(trr::TrrSink::create(writer, spec)?),
        Format::Dcd => Box::new(dcd::DcdSink::create(writer, spec)?),
        Format::Pdb => Box::new(pdb::PdbSink::create(writer, spec)?),
        Format::Gro => Box::new(gro::GroSink::create(writer, spec)?),
        Format::Xyz => Box::new(xyz::XyzSink::create(writer, spec)?),
        Format::Npz | Format::Npy => anyhow::bail!("internal: not an MD format"),
    };
    Ok(Box::new(Committing {
        sink,
        output: shared,
    }))
}
