//! A subset of a source's points (`convert --keep`): the same frames, only the kept points,
//! in input order. The inner decoder fills a per-thread buffer of the whole frame, from which
//! the kept points are copied.

use super::npz::ExtraMember;
use super::{FrameDecoder, FrameInfo, FrameSource, RawChunk, TrajMeta};
use anyhow::Result;
use std::cell::RefCell;
use std::sync::Arc;

/// A source that yields only the points `keep` of `inner`.
pub struct Subset<'a> {
    inner: Box<dyn FrameSource<'a> + 'a>,
    meta: TrajMeta,
    decoder: Arc<SubsetDecoder<'a>>,
}

impl<'a> Subset<'a> {
    /// The points `keep` (ascending, in range) of `inner`.
    pub fn new(inner: Box<dyn FrameSource<'a> + 'a>, keep: Vec<usize>) -> Subset<'a> {
        let full = inner.meta().clone();
        let meta = TrajMeta {
            points: keep.len(),
            ..full.clone()
        };
        let decoder = Arc::new(SubsetDecoder {
            inner: inner.decoder(),
            keep,
            full_len: full.frame_len(),
            dims: full.dims,
        });
        Subset {
            inner,
            meta,
            decoder,
        }
    }
}

struct SubsetDecoder<'a> {
    inner: Arc<dyn FrameDecoder + 'a>,
    keep: Vec<usize>,
    full_len: usize,
    dims: usize,
}

thread_local! {
    static FULL: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

impl FrameDecoder for SubsetDecoder<'_> {
    fn frame_bytes(&self) -> Option<usize> {
        self.inner.frame_bytes()
    }

    fn frame_index_info(&self, index: usize, info: &mut FrameInfo) {
        self.inner.frame_index_info(index, info);
    }

    fn decode(
        &self,
        stored: &[u8],
        coords: &mut [f64],
        info: &mut FrameInfo,
    ) -> Result<(), String> {
        FULL.with(|full| {
            let mut full = full.borrow_mut();
            full.resize(self.full_len, 0.0);
            self.inner.decode(stored, &mut full, info)?;
            let d = self.dims;
            for (out, &i) in coords.chunks_exact_mut(d).zip(&self.keep) {
                out.copy_from_slice(&full[i * d..(i + 1) * d]);
            }
            Ok(())
        })
    }
}

impl<'a> FrameSource<'a> for Subset<'a> {
    fn meta(&self) -> &TrajMeta {
        &self.meta
    }

    fn decoder(&self) -> Arc<dyn FrameDecoder + 'a> {
        self.decoder.clone()
    }

    fn read(&mut self, max: usize, buf: Vec<u8>) -> Result<Option<RawChunk<'a>>> {
        self.inner.read(max, buf)
    }

    fn skip(&mut self, n: usize) -> Result<()> {
        self.inner.skip(n)
    }

    fn extras(&mut self) -> Result<Vec<ExtraMember>> {
        self.inner.extras()
    }
}
