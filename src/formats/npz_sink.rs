//! Writing NumPy outputs: an `.npz` whose trajectory member is written first (stored, as frames
//! arrive) and whose other members follow unchanged, or a bare `.npy`.
//!
//! To a regular file the archive is written with sizes in its local headers; to a pipe, FIFO or
//! standard output it is streamed with data descriptors (numpy and aligntraj read both). A sink
//! dropped before [`FrameSink::finish`] belongs to a failed run: its zip writer is abandoned
//! without writing a central directory (a reader downstream sees a truncated archive, never a
//! complete-looking one), and a temporary file is removed.

use super::npy::{encode_header, Dtype, NpyCodec};
use super::npz::ExtraMember;
use super::{FrameEncoder, FrameSink};
use crate::io::output::{io_reason, Output};
use crate::text::quote;
use anyhow::{anyhow, bail, Result};
use std::io::{self, Seek, SeekFrom, Write};
use std::sync::Arc;
use zip::write::{SimpleFileOptions, StreamWriter};
use zip::{CompressionMethod, DateTime, ZipWriter};

enum ZipOut {
    File(ZipWriter<Output>),
    Stream(ZipWriter<StreamWriter<Output>>),
}

macro_rules! with_zip {
    ($out:expr, $z:ident => $body:expr) => {
        match $out {
            ZipOut::File($z) => $body,
            ZipOut::Stream($z) => $body,
        }
    };
}

fn member_options(deflated: bool, large: bool) -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(if deflated {
            CompressionMethod::Deflated
        } else {
            CompressionMethod::Stored
        })
        .last_modified_time(DateTime::default())
        .unix_permissions(0o644)
        .large_file(large)
}

fn write_err(name: &str, e: io::Error) -> anyhow::Error {
    if e.kind() == io::ErrorKind::BrokenPipe {
        return anyhow::Error::new(e);
    }
    anyhow!("{name}: cannot write: {}", io_reason(&e))
}

fn zip_err(name: &str, e: zip::result::ZipError) -> anyhow::Error {
    match e {
        zip::result::ZipError::Io(io) => write_err(name, io),
        other => anyhow!("{name}: cannot write: {other}"),
    }
}

/// An `.npz` being written.
pub(crate) struct NpzSink {
    zip: Option<ZipOut>,
    codec: Arc<NpyCodec>,
    name: String,
    /// The trajectory member's name in the zip (so an extra member of the same name is not
    /// copied over it).
    member: String,
}

impl NpzSink {
    /// Starts an archive on `output` with the trajectory member `member` (its name in the zip,
    /// e.g. `arr.npy`) of `shape` in `dtype`.
    pub fn create(
        output: Output,
        member: &str,
        dtype: Dtype,
        shape: [usize; 3],
    ) -> Result<NpzSink> {
        let name = output.name().to_string();
        let data = shape
            .iter()
            .fold(dtype.size() as u64, |a, &d| a.saturating_mul(d as u64));
        let options = member_options(false, data >= u32::MAX as u64 - (1 << 20));
        let mut zip = if output.is_seekable() {
            ZipOut::File(ZipWriter::new(output))
        } else {
            ZipOut::Stream(ZipWriter::new_stream(output))
        };
        let header = encode_header(dtype, &shape);
        with_zip!(&mut zip, z => {
            z.start_file(member, options).map_err(|e| zip_err(&name, e))?;
            z.write_all(&header).map_err(|e| write_err(&name, e))?;
        });
        Ok(NpzSink {
            zip: Some(zip),
            codec: Arc::new(NpyCodec {
                dtype,
                frame_len: shape[1] * shape[2],
                dims: shape[2],
            }),
            name,
            member: member.to_string(),
        })
    }
}

impl FrameSink<'static> for NpzSink {
    fn encoder(&self) -> Arc<dyn FrameEncoder> {
        self.codec.clone()
    }

    fn write(&mut self, encoded: &[u8], _: usize) -> Result<()> {
        let name = &self.name;
        let zip = self
            .zip
            .as_mut()
            .ok_or_else(|| anyhow!("internal: sink finished"))?;
        with_zip!(zip, z => z.write_all(encoded).map_err(|e| write_err(name, e)))
    }

    fn finish(mut self: Box<Self>, extras: Vec<ExtraMember>) -> Result<()> {
        let name = self.name.clone();
        let mut zip = self
            .zip
            .take()
            .ok_or_else(|| anyhow!("internal: sink finished"))?;
        let copied = copy_extras(&mut zip, extras, &self.member, &name);
        if let Err(e) = copied {
            std::mem::forget(zip);
            return Err(e);
        }
        let output = match zip {
            ZipOut::File(z) => z.finish().map_err(|e| zip_err(&name, e))?,
            ZipOut::Stream(z) => z.finish().map_err(|e| zip_err(&name, e))?.into_inner(),
        };
        output.commit()
    }
}

fn copy_extras(zip: &mut ZipOut, extras: Vec<ExtraMember>, skip: &str, name: &str) -> Result<()> {
    for mut extra in extras {
        if extra.name == skip {
            continue;
        }
        let len = extra.data.seek(SeekFrom::End(0))?;
        extra.data.seek(SeekFrom::Start(0))?;
        let options = member_options(extra.deflated, len >= u32::MAX as u64 - (1 << 20));
        with_zip!(zip, z => {
            z.start_file(extra.name.as_str(), options).map_err(|e| zip_err(name, e))?;
            io::copy(&mut extra.data, z)
                .map_err(|e| anyhow!("{name}: cannot copy member {}: {}", quote(&extra.name), io_reason(&e)))?;
        });
    }
    Ok(())
}

impl Drop for NpzSink {
    fn drop(&mut self) {
        // A failed run: zip's own drop would write a central directory (and print its own
        // error on a full disk); abandon the writer instead. The temporary file it holds is
        // removed by the cleanup registry when the run ends.
        if let Some(zip) = self.zip.take() {
            std::mem::forget(zip);
        }
    }
}

/// A bare `.npy` being written (the trajectory alone).
pub(crate) struct NpySink {
    output: Option<Output>,
    codec: Arc<NpyCodec>,
}

impl NpySink {
    /// Starts an `.npy` of `shape` in `dtype` on `output`.
    pub fn create(mut output: Output, dtype: Dtype, shape: [usize; 3]) -> Result<NpySink> {
        let name = output.name().to_string();
        output
            .write_all(&encode_header(dtype, &shape))
            .map_err(|e| write_err(&name, e))?;
        Ok(NpySink {
            output: Some(output),
            codec: Arc::new(NpyCodec {
                dtype,
                frame_len: shape[1] * shape[2],
                dims: shape[2],
            }),
        })
    }
}

impl FrameSink<'static> for NpySink {
    fn encoder(&self) -> Arc<dyn FrameEncoder> {
        self.codec.clone()
    }

    fn write(&mut self, encoded: &[u8], _: usize) -> Result<()> {
        let out = self
            .output
            .as_mut()
            .ok_or_else(|| anyhow!("internal: sink finished"))?;
        let name = out.name().to_string();
        out.write_all(encoded).map_err(|e| write_err(&name, e))
    }

    fn finish(mut self: Box<Self>, _extras: Vec<ExtraMember>) -> Result<()> {
        match self.output.take() {
            Some(out) => out.commit(),
            None => bail!("internal: sink finished"),
        }
    }
}
