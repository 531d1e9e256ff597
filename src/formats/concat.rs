//! Several sources read one after another as one trajectory (`aligntraj concat`): the shards
//! of a job array joined back. They must agree in points, dims and stored element type; the
//! first one's extra members (masses, …) ride along.

use super::npz::ExtraMember;
use super::{FrameDecoder, FrameSource, RawChunk, TrajMeta};
use anyhow::{bail, Result};
use std::sync::Arc;

/// The frames of `parts`, in order.
pub struct Concat<'a> {
    parts: Vec<Box<dyn FrameSource<'a> + 'a>>,
    current: usize,
    meta: TrajMeta,
    extras: Option<Vec<ExtraMember>>,
}

impl<'a> Concat<'a> {
    /// Joins `parts` (at least one), checking that their frames have the same shape and type.
    pub fn new(parts: Vec<Box<dyn FrameSource<'a> + 'a>>) -> Result<Concat<'a>> {
        let Some(first) = parts.first() else {
            bail!("concat: no parts to join")
        };
        let mut meta = first.meta().clone();
        for p in &parts[1..] {
            let m = p.meta();
            if (m.points, m.dims, m.width, m.big_endian)
                != (meta.points, meta.dims, meta.width, meta.big_endian)
            {
                bail!(
                    "{}: frames are ({}, {}) {:?} but {}'s are ({}, {}) {:?}; shards must match",
                    m.what(),
                    m.points,
                    m.dims,
                    m.width,
                    meta.what(),
                    meta.points,
                    meta.dims,
                    meta.width
                );
            }
            meta.frames += m.frames;
        }
        Ok(Concat {
            parts,
            current: 0,
            meta,
            extras: None,
        })
    }
}

impl<'a> FrameSource<'a> for Concat<'a> {
    fn meta(&self) -> &TrajMeta {
        &self.meta
    }

    fn decoder(&self) -> Arc<dyn FrameDecoder + 'a> {
        self.parts[0].decoder()
    }

    fn read(&mut self, max: usize, buf: Vec<u8>) -> Result<Option<RawChunk<'a>>> {
        let mut buf = buf;
        while self.current < self.parts.len() {
            match self.parts[self.current].read(max, buf)? {
                Some(chunk) => return Ok(Some(chunk)),
                None => {
                    // This part is done (and verified): keep the first part's extra members.
                    if self.current == 0 {
                        self.extras = Some(self.parts[0].extras()?);
                    }
                    self.current += 1;
                    buf = Vec::new();
                }
            }
        }
        Ok(None)
    }

    fn skip(&mut self, mut n: usize) -> Result<()> {
        while n > 0 && self.current < self.parts.len() {
            let here = self.parts[self.current].meta().frames;
            let take = n.min(here);
            self.parts[self.current].skip(take)?;
            n -= take;
            if n > 0 {
                self.current += 1;
            }
        }
        Ok(())
    }

    fn extras(&mut self) -> Result<Vec<ExtraMember>> {
        Ok(self.extras.take().unwrap_or_default())
    }
}
