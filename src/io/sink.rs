//! Writing the aligned trajectory as an `.npz`, a chunk of frames at a time.
//!
//! The trajectory member is written first, stored (uncompressed) as frames arrive, in the
//! input's dtype and under its key; then every other member of the input archive is copied
//! byte for byte. To a file the archive goes through [`AtomicFile`]; to standard output it is
//! streamed (zip data descriptors), which `numpy.load` and aligntraj both read.

use super::atomic::AtomicFile;
use super::input::{Container, Input};
use super::npy::{encode_header, Dtype};
use super::source::TrajectoryMeta;
use anyhow::{anyhow, bail, Context, Result};
use ndarray::Array3;
use std::fs::File;
use std::io::{self, BufWriter, Stdout, Write};
use std::path::{Path, PathBuf};
use tempfile::TempPath;
use zip::write::{SimpleFileOptions, StreamWriter};
use zip::{CompressionMethod, DateTime, ZipWriter};

/// Where the aligned trajectory goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputTarget {
    /// A file, written atomically.
    Path(PathBuf),
    /// Standard output, streamed.
    Stdout,
}

impl std::fmt::Display for OutputTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutputTarget::Path(p) => write!(f, "{}", p.display()),
            OutputTarget::Stdout => write!(f, "<stdout>"),
        }
    }
}

enum ZipOut {
    File(ZipWriter<BufWriter<File>>, TempPath, PathBuf),
    Stream(ZipWriter<StreamWriter<BufWriter<Stdout>>>),
}

macro_rules! with_zip {
    ($out:expr, $z:ident => $body:expr) => {
        match $out {
            ZipOut::File($z, _, _) => $body,
            ZipOut::Stream($z) => $body,
        }
    };
}

/// An `.npz` being written, frames in order; nothing appears at a file target until
/// [`finish`](Self::finish) succeeds.
pub struct FrameSink {
    /// `None` once [`finish`](Self::finish) has taken it.
    out: Option<ZipOut>,
    meta: TrajectoryMeta,
    written: usize,
    bytes: Vec<u8>,
    target: OutputTarget,
}

impl FrameSink {
    /// Starts the output archive with the trajectory member's header (`meta` gives key, shape
    /// and dtype).
    pub fn create(target: &OutputTarget, meta: &TrajectoryMeta) -> Result<FrameSink> {
        let data_bytes = (meta.frames * meta.frame_bytes()) as u64;
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Stored)
            .last_modified_time(DateTime::default())
            .unix_permissions(0o644)
            .large_file(data_bytes >= (u32::MAX as u64) - (1 << 20));
        let mut out = match target {
            OutputTarget::Path(p) => {
                let (writer, temp, target) = AtomicFile::create(p)?.into_parts();
                ZipOut::File(ZipWriter::new(writer), temp, target)
            }
            OutputTarget::Stdout => ZipOut::Stream(ZipWriter::new_stream(
                BufWriter::with_capacity(1 << 20, io::stdout()),
            )),
        };
        let name = format!("{}.npy", meta.key);
        let header = encode_header(meta.dtype, &[meta.frames, meta.points, meta.dims]);
        with_zip!(&mut out, z => {
            z.start_file(name.as_str(), options)
                .map_err(|e| anyhow!("{target}: cannot write: {e}"))?;
            z.write_all(&header).map_err(|e| write_err(target, e))?;
        });
        Ok(FrameSink {
            out: Some(out),
            meta: meta.clone(),
            written: 0,
            bytes: Vec::new(),
            target: target.clone(),
        })
    }

    /// Appends the frames of `chunk` (shape `(n, points, dims)`), converted to the output dtype.
    pub fn write_chunk(&mut self, chunk: &Array3<f64>) -> Result<()> {
        let n = chunk.len_of(ndarray::Axis(0));
        if self.written + n > self.meta.frames {
            bail!("internal: more frames written than declared");
        }
        self.bytes.clear();
        match chunk.as_slice() {
            Some(s) => self.meta.dtype.encode_into(s, &mut self.bytes),
            None => {
                let v: Vec<f64> = chunk.iter().copied().collect();
                self.meta.dtype.encode_into(&v, &mut self.bytes)
            }
        }
        let target = &self.target;
        let bytes = &self.bytes;
        let out = self.out.as_mut().expect("not finished");
        with_zip!(out, z => z.write_all(bytes).map_err(|e| write_err(target, e))?);
        self.written += n;
        Ok(())
    }

    /// Appends `frames` frames already encoded in the output dtype.
    pub fn write_raw(&mut self, bytes: &[u8], frames: usize) -> Result<()> {
        if self.written + frames > self.meta.frames
            || bytes.len() != frames * self.meta.frame_bytes()
        {
            bail!("internal: raw write does not match the declared frames");
        }
        let target = &self.target;
        let out = self.out.as_mut().expect("not finished");
        with_zip!(out, z => z.write_all(bytes).map_err(|e| write_err(target, e))?);
        self.written += frames;
        Ok(())
    }

    /// Adds a small extra array member (for example `masses`), after all frames are written.
    pub fn write_member(
        &mut self,
        key: &str,
        dtype: Dtype,
        shape: &[usize],
        values: &[f64],
    ) -> Result<()> {
        if self.written != self.meta.frames {
            bail!("internal: extra member written before the last frame");
        }
        let mut bytes = encode_header(dtype, shape);
        dtype.encode_into(values, &mut bytes);
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Stored)
            .last_modified_time(DateTime::default())
            .unix_permissions(0o644);
        let target = &self.target;
        let out = self.out.as_mut().expect("not finished");
        with_zip!(out, z => {
            z.start_file(format!("{key}.npy"), options).map_err(|e| anyhow!("{target}: cannot write: {e}"))?;
            z.write_all(&bytes).map_err(|e| write_err(target, e))?;
        });
        Ok(())
    }

    /// Copies every member of `input` (if given) other than the trajectory, raw (byte for
    /// byte), then completes the archive and, for a file, moves it into place.
    pub fn finish(mut self, input: Option<&Input>) -> Result<()> {
        if self.written != self.meta.frames {
            bail!(
                "internal: {} of {} frames written",
                self.written,
                self.meta.frames
            );
        }
        let target = self.target.clone();
        if let Some(input) = input.filter(|i| i.container == Container::Npz) {
            let mut archive = input.archive()?;
            let traj_name = format!("{}.npy", self.meta.key);
            for i in 0..archive.len() {
                let file = archive
                    .by_index_raw(i)
                    .map_err(|e| anyhow!("{}: corrupt zip (entry {i}): {e}", input.location))?;
                if file.name() == traj_name || file.is_dir() {
                    continue;
                }
                let name = file.name().to_string();
                let out = self.out.as_mut().expect("not finished");
                with_zip!(out, z => z.raw_copy_file(file)).with_context(|| {
                    format!(
                        "{target}: cannot copy member '{name}' from {}",
                        input.location
                    )
                })?;
            }
        }
        match self.out.take().expect("not finished") {
            ZipOut::File(z, temp, path) => {
                let writer = z
                    .finish()
                    .map_err(|e| anyhow!("{target}: cannot write: {e}"))?;
                let file = writer
                    .into_inner()
                    .map_err(|e| write_err(&target, e.into_error()))?;
                drop(file);
                temp.persist(&path).map_err(|e| {
                    anyhow!(
                        "{}: cannot move output into place: {}",
                        path.display(),
                        e.error
                    )
                })?;
            }
            ZipOut::Stream(z) => {
                let mut w = z
                    .finish()
                    .map_err(|e| anyhow!("{target}: cannot write: {e}"))?;
                w.flush().map_err(|e| write_err(&target, e))?;
            }
        }
        Ok(())
    }
}

impl Drop for FrameSink {
    /// A sink dropped before [`finish`](Self::finish) belongs to a failed run. zip's own drop
    /// would write the central directory, turning a half-written trajectory into an archive
    /// that looks complete; on standard output the reader downstream would trust it. So the
    /// stream writer is abandoned instead (its buffer is not flushed and no directory is
    /// written: readers see a truncated zip). A file target needs nothing: its temporary file
    /// is deleted when the guard drops.
    fn drop(&mut self) {
        if let Some(ZipOut::Stream(z)) = self.out.take() {
            std::mem::forget(z);
        }
    }
}

fn write_err(target: &OutputTarget, e: io::Error) -> anyhow::Error {
    if e.kind() == io::ErrorKind::BrokenPipe {
        return anyhow::Error::new(e);
    }
    anyhow!("{target}: cannot write: {e}")
}

/// Whether `a` and `b` name the same existing file.
pub fn is_same_path(a: &Path, b: &Path) -> bool {
    super::input::same_file(a, b)
}
