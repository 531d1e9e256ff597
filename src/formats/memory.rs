//! Trajectories in memory: a C-order `(frames, points, dims)` array of float32/float64 bytes as
//! a frame source (chunks are borrowed slices: no copy), and a sink that writes the encoded
//! frames into a caller's buffer. Used by the Python module and the benchmarks.

use super::npy::{Dtype, NpyCodec};
use super::npz::ExtraMember;
use super::{ChunkBytes, FrameDecoder, FrameEncoder, FrameSink, FrameSource, RawChunk, TrajMeta};
use anyhow::{bail, Result};
use std::sync::Arc;

/// An array in memory read as a trajectory.
pub struct MemorySource<'a> {
    meta: TrajMeta,
    codec: Arc<NpyCodec>,
    bytes: &'a [u8],
    next: usize,
}

impl<'a> MemorySource<'a> {
    /// `bytes` holds `frames × points × dims` elements of `dtype`, C order; `name` names it in
    /// messages.
    pub fn new(
        bytes: &'a [u8],
        dtype: Dtype,
        shape: [usize; 3],
        name: &str,
    ) -> Result<MemorySource<'a>> {
        let [frames, points, dims] = shape;
        let len = frames
            .checked_mul(points)
            .and_then(|v| v.checked_mul(dims))
            .and_then(|v| v.checked_mul(dtype.size()));
        if len != Some(bytes.len()) {
            bail!(
                "{name}: {} bytes do not hold a ({frames}, {points}, {dims}) {} array",
                bytes.len(),
                dtype.name()
            );
        }
        if frames == 0 || points == 0 || dims < 2 {
            bail!("{name}: shape ({frames}, {points}, {dims}): need frames ≥ 1, points ≥ 1 and dims ≥ 2");
        }
        Ok(MemorySource {
            meta: TrajMeta {
                source: name.to_string(),
                key: "array".into(),
                frames,
                points,
                dims,
                width: dtype.width,
                big_endian: dtype.big_endian,
                unit: "",
                dt: None,
            },
            codec: Arc::new(NpyCodec {
                dtype,
                frame_len: points * dims,
                dims,
            }),
            bytes,
            next: 0,
        })
    }

    fn frame_bytes(&self) -> usize {
        self.meta.frame_len() * self.codec.dtype.size()
    }
}

impl<'a> FrameSource<'a> for MemorySource<'a> {
    fn meta(&self) -> &TrajMeta {
        &self.meta
    }

    fn decoder(&self) -> Arc<dyn FrameDecoder + 'a> {
        self.codec.clone()
    }

    fn read(&mut self, max: usize, _: Vec<u8>) -> Result<Option<RawChunk<'a>>> {
        let n = max.max(1).min(self.meta.frames - self.next);
        if n == 0 {
            return Ok(None);
        }
        let fb = self.frame_bytes();
        let slice = &self.bytes[self.next * fb..(self.next + n) * fb];
        self.next += n;
        Ok(Some(RawChunk {
            first: 0,
            frames: n,
            bytes: ChunkBytes::Borrowed(slice),
            offsets: Vec::new(),
        }))
    }

    fn skip(&mut self, n: usize) -> Result<()> {
        self.next += n.min(self.meta.frames - self.next);
        Ok(())
    }
}

/// Encoded frames written into a caller's buffer, in order.
pub struct MemorySink<'a> {
    codec: Arc<NpyCodec>,
    out: &'a mut [u8],
    written: usize,
}

impl<'a> MemorySink<'a> {
    /// A sink writing `points × dims` frames of `dtype` into `out` (which must hold them all).
    pub fn new(out: &'a mut [u8], dtype: Dtype, points: usize, dims: usize) -> MemorySink<'a> {
        MemorySink {
            codec: Arc::new(NpyCodec {
                dtype,
                frame_len: points * dims,
                dims,
            }),
            out,
            written: 0,
        }
    }
}

impl<'a> FrameSink<'a> for MemorySink<'a> {
    fn encoder(&self) -> Arc<dyn FrameEncoder + 'a> {
        self.codec.clone()
    }

    fn write(&mut self, encoded: &[u8], _: usize) -> Result<()> {
        let end = self.written + encoded.len();
        if end > self.out.len() {
            bail!("internal: more frames than the output array holds");
        }
        self.out[self.written..end].copy_from_slice(encoded);
        self.written = end;
        Ok(())
    }

    fn finish(self: Box<Self>, _: Vec<ExtraMember>) -> Result<()> {
        Ok(())
    }
}
