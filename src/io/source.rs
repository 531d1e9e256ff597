//! Reading a trajectory a chunk of frames at a time, converted to `f64`.
//!
//! C-order members are streamed: memory is one chunk whatever the file size. Fortran-order
//! members interleave frames across the whole array, so they are read whole once.

use super::input::{Input, Member, MemberStream};
use super::npy::{shape_str, Dtype, NpyHeader};
use anyhow::{anyhow, bail, Result};
use ndarray::{Array3, ShapeBuilder};
use std::io::{BufReader, Read};

/// What a trajectory array is: where it lives and its shape and dtype.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrajectoryMeta {
    /// The input's name as shown in messages (a path or `<stdin>`).
    pub source: String,
    /// The member key (`arr`).
    pub key: String,
    /// Number of frames (≥ 1).
    pub frames: usize,
    /// Points per frame (≥ 1).
    pub points: usize,
    /// Coordinates per point (≥ 2).
    pub dims: usize,
    /// Stored element type; the output uses the same.
    pub dtype: Dtype,
    /// Whether the member is stored in Fortran order.
    pub fortran_order: bool,
}

impl TrajectoryMeta {
    /// Checks that `header` describes a trajectory: float32/float64, 3-D, frames ≥ 1,
    /// points ≥ 1, dims ≥ 2. Errors name the source and the array.
    pub fn from_header(source: &str, key: &str, header: &NpyHeader) -> Result<TrajectoryMeta> {
        let what = format!("{source}: array '{key}'");
        let dtype = Dtype::from_descr(&header.descr).map_err(|e| anyhow!("{what}: {e}"))?;
        let [frames, points, dims] = header.shape[..] else {
            bail!(
                "{what}: shape {} is {}-D; a trajectory is 3-D (frames, points, dims)",
                header.shape_str(),
                header.shape.len()
            );
        };
        if frames == 0 {
            bail!("{what}: shape {} has zero frames", header.shape_str());
        }
        if points == 0 {
            bail!("{what}: shape {} has zero points", header.shape_str());
        }
        if dims < 2 {
            bail!(
                "{what}: shape {} has dims {dims}; at least 2 are needed",
                header.shape_str()
            );
        }
        Ok(TrajectoryMeta {
            source: source.to_string(),
            key: key.to_string(),
            frames,
            points,
            dims,
            dtype,
            fortran_order: header.fortran_order,
        })
    }

    /// Numbers per frame (points × dims).
    pub fn frame_len(&self) -> usize {
        self.points * self.dims
    }

    /// Stored bytes per frame.
    pub fn frame_bytes(&self) -> usize {
        self.frame_len() * self.dtype.size
    }

    /// The shape written numpy-style.
    pub fn shape_str(&self) -> String {
        shape_str(&[self.frames, self.points, self.dims])
    }

    /// Frames per chunk: `requested` if given, else about 4 MiB of f64 per chunk.
    pub fn chunk_frames(&self, requested: Option<usize>) -> usize {
        requested
            .unwrap_or_else(|| (4 << 20) / (self.frame_len() * 8).max(1))
            .clamp(1, self.frames)
    }
}

/// Chooses the trajectory member of `input` (see [`Input::choose_key`]) and validates it.
pub fn trajectory_member<'a>(
    input: &'a Input,
    key: Option<&str>,
) -> Result<(&'a Member, TrajectoryMeta)> {
    let member = input.choose_key(key)?;
    let header = member.header.as_ref().map_err(|e| {
        anyhow!(
            "{}: array '{}' is not a readable .npy: {e}",
            input.location,
            member.key
        )
    })?;
    let meta = TrajectoryMeta::from_header(&input.location.to_string(), &member.key, header)?;
    Ok((member, meta))
}

/// Frames of one trajectory member, delivered in order as `(chunk, frames, points, dims)` f64 arrays.
pub struct FrameSource {
    meta: TrajectoryMeta,
    stream: BufReader<MemberStream>,
    next_frame: usize,
    whole: Option<Array3<f64>>,
    bytes: Vec<u8>,
    allow_nonfinite: bool,
}

impl FrameSource {
    /// Opens the trajectory `member` of `input` positioned at frame 0. With `allow_nonfinite`
    /// false, a NaN or Inf coordinate is an error when its chunk is read.
    pub fn open(input: &Input, member: &Member, allow_nonfinite: bool) -> Result<FrameSource> {
        let header = member.header.as_ref().map_err(|e| anyhow!("{e}"))?;
        let meta = TrajectoryMeta::from_header(&input.location.to_string(), &member.key, header)?;
        let mut stream = BufReader::with_capacity(1 << 20, input.open_member(member)?);
        NpyHeader::read_from(&mut stream)?;
        Ok(FrameSource {
            meta,
            stream,
            next_frame: 0,
            whole: None,
            bytes: Vec::new(),
            allow_nonfinite,
        })
    }

    /// Shape, dtype and names of the trajectory.
    pub fn meta(&self) -> &TrajectoryMeta {
        &self.meta
    }

    /// Index of the next frame [`read_chunk`](Self::read_chunk) returns.
    pub fn position(&self) -> usize {
        self.next_frame
    }

    /// The frames `start..start + n` the next read delivers (at most `max_frames`, at least 1),
    /// or `None` after the last frame, once the member's size and checksum are verified.
    fn next_range(&mut self, max_frames: usize) -> Result<Option<(usize, usize)>> {
        let m = &self.meta;
        let (start, n) = (
            self.next_frame,
            max_frames.max(1).min(m.frames - self.next_frame),
        );
        if n == 0 {
            self.stream
                .get_mut()
                .finish()
                .map_err(|e| anyhow!("{}: array '{}': {e}", m.source, m.key))?;
            return Ok(None);
        }
        Ok(Some((start, n)))
    }

    /// Reads up to `max_frames` frames (at least 1), or `None` after the last frame, when the
    /// member's checksum has been verified.
    pub fn read_chunk(&mut self, max_frames: usize) -> Result<Option<Array3<f64>>> {
        let Some((start, n)) = self.next_range(max_frames)? else {
            return Ok(None);
        };
        let m = &self.meta;
        let chunk = if m.fortran_order {
            if self.whole.is_none() {
                self.whole = Some(self.read_fortran_whole()?);
            }
            let whole = self.whole.as_ref().expect("just read");
            whole
                .slice(ndarray::s![start..start + n, .., ..])
                .to_owned()
        } else {
            self.bytes.resize(n * m.frame_bytes(), 0);
            if let Err(e) = self.stream.read_exact(&mut self.bytes) {
                bail!(
                    "{}: array '{}': data truncated or corrupt in frames {start}..{}: {e}",
                    m.source,
                    m.key,
                    start + n
                );
            }
            let mut values = Vec::with_capacity(n * m.frame_len());
            m.dtype.decode_into(&self.bytes, &mut values);
            Array3::from_shape_vec((n, m.points, m.dims), values).expect("sized above")
        };
        if !self.allow_nonfinite {
            check_finite(&self.meta, &chunk, start)?;
        }
        self.next_frame += n;
        Ok(Some(chunk))
    }

    /// Reads up to `max_frames` frames as stored bytes (C-order members only) into `buf`,
    /// returning the number of frames, or `None` after the last frame once the member's
    /// checksum has been verified. No conversion and no finiteness check: the caller decodes.
    pub fn read_raw(&mut self, max_frames: usize, buf: &mut Vec<u8>) -> Result<Option<usize>> {
        if self.meta.fortran_order {
            bail!("internal: raw reads need a C-order member");
        }
        let Some((start, n)) = self.next_range(max_frames)? else {
            return Ok(None);
        };
        let m = &self.meta;
        buf.resize(n * m.frame_bytes(), 0);
        if let Err(e) = self.stream.read_exact(buf) {
            bail!(
                "{}: array '{}': data truncated or corrupt in frames {start}..{}: {e}",
                m.source,
                m.key,
                start + n
            );
        }
        self.next_frame += n;
        Ok(Some(n))
    }

    fn read_fortran_whole(&mut self) -> Result<Array3<f64>> {
        let m = &self.meta;
        let mut bytes = vec![0u8; m.frames * m.frame_bytes()];
        self.stream.read_exact(&mut bytes).map_err(|e| {
            anyhow!(
                "{}: array '{}': data truncated or corrupt: {e}",
                m.source,
                m.key
            )
        })?;
        let mut values = Vec::with_capacity(m.frames * m.frame_len());
        m.dtype.decode_into(&bytes, &mut values);
        let f =
            Array3::from_shape_vec((m.frames, m.points, m.dims).f(), values).expect("sized above");
        Ok(f.as_standard_layout().into_owned())
    }
}

fn check_finite(meta: &TrajectoryMeta, chunk: &Array3<f64>, start: usize) -> Result<()> {
    if let Some(flat) = chunk.as_slice() {
        if let Some(i) = flat.iter().position(|v| !v.is_finite()) {
            let (frame, point) = (i / meta.frame_len(), (i % meta.frame_len()) / meta.dims);
            bail!(
                "{}: array '{}': frame {} point {point} has a NaN or Inf coordinate \
                 (pass --allow-nonfinite to pass such frames through unchanged)",
                meta.source,
                meta.key,
                start + frame
            );
        }
    }
    Ok(())
}
