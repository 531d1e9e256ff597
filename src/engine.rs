//! The one engine: every command moves its frames through [`run`].
//!
//! A reader thread frames the source's stored bytes into chunks; this thread decodes each
//! frame, runs the pipeline's steps and encodes the result, frames of a chunk in parallel
//! (rayon), showing the aligned `f64` frames to the observers in frame order; a writer thread
//! writes the encoded chunks. Buffers circulate between the three, so memory is a few chunks
//! whatever the input size. Steps that depend on the previous frame (`--sign continuous`) run
//! in frame order between parallel phases; the rest of the pipeline stays parallel.
//!
//! Each frame is decoded once and encoded once, by the same functions whatever the options, so
//! the output bytes do not depend on the observers, the thread count or the chunk size.

use crate::formats::{FrameEncoder, FrameInfo, FrameSink, FrameSource, RawChunk, TrajMeta};
use crate::progress::Progress;
use crate::stages::{FrameFacts, Step};
use anyhow::{anyhow, bail, Result};
use rayon::prelude::*;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::Mutex;

/// Frames to read, as a Python slice over the source's frames (`START:STOP:STEP`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameRange {
    /// First frame (from 0).
    pub start: usize,
    /// One past the last frame (clamped to the frame count).
    pub stop: Option<usize>,
    /// Stride, ≥ 1.
    pub step: usize,
}

impl Default for FrameRange {
    fn default() -> Self {
        FrameRange {
            start: 0,
            stop: None,
            step: 1,
        }
    }
}

impl FrameRange {
    /// The frames of a source of `frames` frames this range selects, as `(start, count)`.
    pub fn resolve(&self, frames: usize) -> (usize, usize) {
        let stop = self.stop.unwrap_or(frames).min(frames);
        let start = self.start.min(stop);
        (start, (stop - start).div_ceil(self.step.max(1)))
    }
}

/// How a run reads and reports.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Frames per chunk (default: about 4 MiB of `f64`; 2 MiB when there are observers and
    /// that still holds at least 32 frames).
    pub chunk_frames: Option<usize>,
    /// Pass frames holding NaN/Inf through unchanged (counted) instead of failing.
    pub allow_nonfinite: bool,
    /// Which frames of the source.
    pub range: FrameRange,
    /// Title of the progress bar (None: no bar).
    pub progress: Option<String>,
    /// `--unwrap`: make points continuous across the periodic box before any stage. The box
    /// comes from each frame's `FrameInfo::cell`, else from these cells (an npz `box` member),
    /// indexed by the frame's index in the source.
    pub unwrap: Option<Unwrap>,
}

/// The boxes `--unwrap` needs when the format has none per frame.
#[derive(Clone, Debug, Default)]
pub struct Unwrap {
    /// One cell per source frame (Å or the npz's units), rows = box vectors.
    pub cells: Option<std::sync::Arc<Vec<crate::unwrap::Cell>>>,
}

/// Counts of frames with a property and the first few of them (memory flat in frames).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// How many frames.
    pub count: usize,
    /// The first (at most [`Tally::KEEP`]) frame indices, ascending.
    pub first: Vec<usize>,
}

impl Tally {
    /// Frame indices kept.
    pub const KEEP: usize = 8;

    pub(crate) fn add(&mut self, frame: usize) {
        self.count += 1;
        if self.first.len() < Self::KEEP {
            self.first.push(frame);
        }
    }

    /// `3 frames (first: 0, 5, 9)`.
    pub fn describe(&self) -> String {
        crate::text::frame_list(self.count, &self.first)
    }
}

/// What a run did.
#[derive(Clone, Debug, Default)]
pub struct RunSummary {
    /// Frames processed.
    pub frames: usize,
    /// Frames whose transform was undefined (a fallback was used).
    pub degenerate: Tally,
    /// Frames a rotation stage saw away from the origin.
    pub off_center: Tally,
    /// Frames with NaN/Inf passed through unchanged (`allow_nonfinite`).
    pub nonfinite: Tally,
}

/// The aligned frames of one chunk, shown to observers in frame order.
pub struct ChunkView<'c> {
    /// Index (among the frames the run reads) of the chunk's first frame.
    pub first: usize,
    /// Frames in the chunk.
    pub frames: usize,
    /// Numbers per frame.
    pub frame_len: usize,
    /// The aligned coordinates, `frames × frame_len`.
    pub coords: &'c [f64],
    /// What the stages found, per frame.
    pub facts: &'c [FrameFacts],
    /// Time, step, box per frame.
    pub info: &'c [FrameInfo],
    /// Frame `i` of the run is frame `range_start + i × range_step` of the source.
    pub range_start: usize,
    /// See `range_start`.
    pub range_step: usize,
}

impl ChunkView<'_> {
    /// Coordinates of frame `i` of the chunk.
    pub fn frame(&self, i: usize) -> &[f64] {
        &self.coords[i * self.frame_len..(i + 1) * self.frame_len]
    }

    /// Index in the source of frame `i` of the chunk.
    pub fn source_index(&self, i: usize) -> usize {
        self.range_start + (self.first + i) * self.range_step
    }
}

/// Sees every chunk of aligned frames, in order, on the engine's thread, once the chunk has been
/// encoded (encoding reads the frames without changing them) and handed to the writer: the
/// observers cannot change the output, and the writer does not wait for them. An observer may use rayon inside [`Observer::chunk`] for per-frame work, as long as
/// what it keeps does not depend on how the frames are split among threads or chunks.
pub trait Observer {
    /// Called with each chunk.
    fn chunk(&mut self, view: &ChunkView<'_>) -> Result<()>;

    /// Called once after the last chunk of a run that went well so far, while the output is
    /// being finished on another thread (the end of a large output can take a while): for work
    /// that needs every frame, such as formatting a report. Nothing the user sees may change
    /// here, since the run can still fail.
    fn last(&mut self) -> Result<()> {
        Ok(())
    }
}

/// [`Observer::last`] for each observer, in order.
fn last(observers: &mut [&mut dyn Observer]) -> Result<()> {
    observers.iter_mut().try_for_each(|o| o.last())
}

/// Per-chunk working memory, reused.
#[derive(Default)]
struct Work {
    coords: Vec<f64>,
    facts: Vec<FrameFacts>,
    info: Vec<FrameInfo>,
    nonfinite: Vec<bool>,
    encoded: Vec<Vec<u8>>,
}

/// The first per-frame error of a parallel phase (lowest frame index wins, so messages do
/// not depend on scheduling).
struct FirstError(Mutex<Option<(usize, String)>>);

impl FirstError {
    fn new() -> Self {
        FirstError(Mutex::new(None))
    }

    fn set(&self, frame: usize, msg: String) {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if g.as_ref().is_none_or(|(f, _)| frame < *f) {
            *g = Some((frame, msg));
        }
    }

    fn take(self) -> Option<(usize, String)> {
        self.0.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}

/// One frame's work before encoding: decode, check, run the leading parallel steps.
struct FrameTask<'t, 'r> {
    decoder: &'t dyn crate::formats::FrameDecoder,
    steps: Vec<&'t dyn crate::stages::Stage>,
    raw: &'t RawChunk<'r>,
    fixed: Option<usize>,
    allow_nonfinite: bool,
    dims: usize,
    /// Frame `i` of the chunk is frame `range_start + (first + i) × range_step` of the source.
    first: usize,
    range_start: usize,
    range_step: usize,
}

impl FrameTask<'_, '_> {
    fn run(
        &self,
        i: usize,
        coords: &mut [f64],
        fact: &mut FrameFacts,
        info: &mut FrameInfo,
        bad: &mut bool,
    ) -> Result<(), String> {
        *fact = FrameFacts::default();
        *info = FrameInfo::default();
        self.decoder
            .decode(self.raw.frame(i, self.fixed), coords, info)?;
        let index = self.range_start + (self.first + i) * self.range_step;
        self.decoder.frame_index_info(index, info);
        // A branch-free pass (vectorised); the bad point is only searched for when there is one.
        *bad = !coords.iter().fold(true, |ok, v| ok & v.is_finite());
        if *bad && !self.allow_nonfinite {
            let at = coords.iter().position(|v| !v.is_finite()).unwrap_or(0);
            return Err(format!(
                "point {} has a NaN or Inf coordinate (pass --allow-nonfinite to pass such frames through unchanged)",
                at / self.dims
            ));
        }
        if !*bad {
            for stage in &self.steps {
                fact.merge(stage.apply(coords));
            }
        }
        Ok(())
    }
}

/// What the compute phase needs to know besides the chunk.
struct Compute<'p, 'a> {
    meta: &'p TrajMeta,
    decoder: std::sync::Arc<dyn crate::formats::FrameDecoder + 'a>,
    encoder: Option<std::sync::Arc<dyn FrameEncoder + 'a>>,
    steps: &'p mut [Step],
    allow_nonfinite: bool,
    range_start: usize,
    range_step: usize,
    /// `--unwrap`'s boxes and its state across chunks.
    unwrap: Option<(Unwrap, crate::unwrap::Unwrapper)>,
}

impl<'p, 'a> Compute<'p, 'a> {
    /// The compute side of a run over frames `start, start + step, …` of a source of `meta`.
    fn new(
        meta: &'p TrajMeta,
        decoder: std::sync::Arc<dyn crate::formats::FrameDecoder + 'a>,
        encoder: Option<std::sync::Arc<dyn FrameEncoder + 'a>>,
        steps: &'p mut [Step],
        opts: &RunOptions,
        start: usize,
        step: usize,
    ) -> Result<Self> {
        let unwrap = opts
            .unwrap
            .clone()
            .map(|u| (u, crate::unwrap::Unwrapper::default()));
        if unwrap.is_some() && meta.dims != 3 {
            bail!(
                "{}: --unwrap needs 3-D coordinates (the trajectory has {} dims)",
                meta.what(),
                meta.dims
            );
        }
        Ok(Compute {
            meta,
            decoder,
            encoder,
            steps,
            allow_nonfinite: opts.allow_nonfinite,
            range_start: start,
            range_step: step,
            unwrap,
        })
    }
}

impl Compute<'_, '_> {
    /// Unwraps the chunk's frames in order (before any stage).
    fn unwrap_frames(&mut self, work: &mut Work, first: usize) -> Result<()> {
        let len = self.meta.frame_len();
        let Some((boxes, state)) = self.unwrap.as_mut() else {
            return Ok(());
        };
        let frames = work
            .coords
            .chunks_exact_mut(len)
            .zip(&work.info)
            .zip(&work.nonfinite);
        for (i, ((coords, info), bad)) in frames.enumerate() {
            if *bad {
                continue; // passed through unchanged, and not a reference for the next frame
            }
            let index = self.range_start + (first + i) * self.range_step;
            let cell = info
                .cell
                .or_else(|| boxes.cells.as_ref().and_then(|c| c.get(index).copied()));
            let Some(cell) = cell else {
                bail!("{}: frame {index} has no box; --unwrap needs one (from the format, or an npz member 'box')", self.meta.what());
            };
            state
                .apply(coords, &cell)
                .map_err(|e| anyhow!("{}: frame {index}: {e}", self.meta.what()))?;
        }
        Ok(())
    }

    fn source_index(&self, run_index: usize) -> usize {
        self.range_start + run_index * self.range_step
    }

    /// Decodes, checks and runs the leading parallel steps on every frame of `raw`; with
    /// `fused` (a fixed-size encoder and the chunk's output bytes) each frame is also encoded
    /// on the same task, while it is still in cache. The functions called per frame are the
    /// same either way, so the bytes are too.
    fn decode_phase(
        &self,
        raw: &RawChunk<'_>,
        first: usize,
        work: &mut Work,
        n_par: usize,
        fused: Option<(&dyn FrameEncoder, &mut [u8])>,
    ) -> Result<()> {
        let len = self.meta.frame_len();
        let dims = self.meta.dims;
        let fixed = self.decoder.frame_bytes();
        let errors = FirstError::new();
        let steps: Vec<&dyn crate::stages::Stage> = self.steps[..n_par]
            .iter()
            .filter_map(|s| match s {
                Step::Parallel(stage) => Some(&**stage),
                Step::Ordered(_) => None,
            })
            .collect();
        let task = FrameTask {
            decoder: &*self.decoder,
            steps,
            raw,
            fixed,
            allow_nonfinite: self.allow_nonfinite,
            dims,
            first,
            range_start: self.range_start,
            range_step: self.range_step,
        };
        let frame = |i: usize,
                     coords: &mut [f64],
                     fact: &mut FrameFacts,
                     info: &mut FrameInfo,
                     bad: &mut bool| { task.run(i, coords, fact, info, bad) };
        let n = work.facts.len().max(1);
        let frames = work
            .coords
            .par_chunks_exact_mut(len)
            .zip(work.facts.par_iter_mut())
            .zip(work.info.par_iter_mut())
            .zip(work.nonfinite.par_iter_mut());
        match fused {
            None => {
                frames
                    .enumerate()
                    .with_min_len(4)
                    .for_each(|(i, (((coords, fact), info), bad))| {
                        if let Err(e) = frame(i, coords, fact, info, bad) {
                            errors.set(i, e);
                        }
                    })
            }
            Some((encoder, out)) => {
                let fb = out.len() / n;
                frames
                    .zip(out.par_chunks_exact_mut(fb.max(1)))
                    .enumerate()
                    .with_min_len(4)
                    .for_each(|(i, ((((coords, fact), info), bad), dst))| {
                        let result = frame(i, coords, fact, info, bad).and_then(|()| match encoder
                            .encode_into(first + i, coords, info, dst)
                        {
                            Err(e) if !*bad => Err(e),
                            _ => Ok(()),
                        });
                        if let Err(e) = result {
                            errors.set(i, e);
                        }
                    });
            }
        }
        match errors.take() {
            Some((i, e)) => bail!(
                "{}: frame {}: {e}",
                self.meta.what(),
                self.source_index(first + i)
            ),
            None => Ok(()),
        }
    }

    /// Runs the steps after the leading parallel ones: ordered steps frame by frame in order,
    /// parallel ones over the chunk.
    fn later_steps(&mut self, work: &mut Work, n_par: usize) {
        let len = self.meta.frame_len();
        for step in self.steps[n_par..].iter_mut() {
            match step {
                Step::Ordered(stage) => {
                    for ((coords, fact), bad) in work
                        .coords
                        .chunks_exact_mut(len)
                        .zip(work.facts.iter_mut())
                        .zip(&work.nonfinite)
                    {
                        if !bad {
                            fact.merge(stage.apply(coords));
                        }
                    }
                }
                Step::Parallel(stage) => {
                    let stage = &**stage;
                    work.coords
                        .par_chunks_exact_mut(len)
                        .zip(work.facts.par_iter_mut())
                        .zip(work.nonfinite.par_iter())
                        .for_each(|((coords, fact), bad)| {
                            if !bad {
                                fact.merge(stage.apply(coords));
                            }
                        });
                }
            }
        }
    }

    /// Encodes the chunk's frames into `out` (in parallel), numbering them from `first`.
    fn encode_phase(&self, work: &mut Work, first: usize, out: &mut Vec<u8>) -> Result<()> {
        let Some(encoder) = &self.encoder else {
            return Ok(());
        };
        let len = self.meta.frame_len();
        let n = work.facts.len();
        let errors = FirstError::new();
        match encoder.frame_bytes() {
            Some(fb) => {
                out.resize(n * fb, 0);
                out.par_chunks_exact_mut(fb.max(1))
                    .zip(work.coords.par_chunks_exact(len))
                    .zip(work.info.par_iter())
                    .zip(work.nonfinite.par_iter())
                    .enumerate()
                    .with_min_len(4)
                    .for_each(|(i, (((dst, coords), info), bad))| {
                        // Frames passed through with NaN/Inf keep them; only finite input
                        // that would not fit the output dtype is an error.
                        if let (Err(e), false) =
                            (encoder.encode_into(first + i, coords, info, dst), bad)
                        {
                            errors.set(i, e);
                        }
                    });
            }
            None => {
                work.encoded.resize_with(n, Vec::new);
                work.encoded
                    .par_iter_mut()
                    .zip(work.coords.par_chunks_exact(len))
                    .zip(work.info.par_iter())
                    .zip(work.nonfinite.par_iter())
                    .enumerate()
                    .for_each(|(i, (((dst, coords), info), bad))| {
                        dst.clear();
                        if let (Err(e), false) =
                            (encoder.encode_append(first + i, coords, info, dst), bad)
                        {
                            errors.set(i, e);
                        }
                    });
                out.clear();
                for e in &work.encoded {
                    out.extend_from_slice(e);
                }
            }
        }
        match errors.take() {
            Some((i, e)) => bail!("frame {}: {e}", self.source_index(first + i)),
            None => Ok(()),
        }
    }
}

/// Number of leading parallel steps.
fn leading_parallel(steps: &[Step]) -> usize {
    steps
        .iter()
        .take_while(|s| matches!(s, Step::Parallel(_)))
        .count()
}

/// Runs `steps` over the frames of `source` selected by `opts.range`, writing to `sink` (if
/// any, completed with the source's extra members) and showing every aligned chunk to
/// `observers`. Returns the counts of degenerate, off-centre and non-finite frames.
pub fn run<'a>(
    mut source: Box<dyn FrameSource<'a> + 'a>,
    steps: &mut [Step],
    sink: Option<Box<dyn FrameSink<'a> + 'a>>,
    observers: &mut [&mut dyn Observer],
    opts: &RunOptions,
) -> Result<RunSummary> {
    let meta = source.meta().clone();
    let (start, count) = opts.range.resolve(meta.frames);
    let step = opts.range.step.max(1);
    // Observers read each chunk again after it is aligned: half-size chunks are more likely
    // to be still in cache then (measured: `align --report` 12 ms faster on the medium file),
    // unless that leaves few frames per chunk, whose per-chunk costs then dominate (a
    // 20,000-point frame is 480 kB: 8 frames per 4 MiB chunk).
    let frame_bytes = (meta.frame_len() * 8).max(1);
    let target = if !observers.is_empty() && CHUNK_TARGET / 2 / frame_bytes >= 32 {
        CHUNK_TARGET / 2
    } else {
        CHUNK_TARGET
    };
    let chunk = opts
        .chunk_frames
        .unwrap_or_else(|| target / frame_bytes)
        .clamp(1, count.max(1));
    let progress = Progress::new(opts.progress.as_deref(), count, meta.frame_len());
    let encoder = sink.as_ref().map(|s| s.encoder());
    let mut compute = Compute::new(&meta, source.decoder(), encoder, steps, opts, start, step)?;
    source.skip(start)?;
    let plan = ReadPlan {
        start,
        count,
        step,
        chunk,
    };
    if meta.frame_len() * 8 > CHUNK_TARGET {
        // Frames larger than a chunk: one frame at a time on this thread, so that memory is
        // one stored frame, its f64 copy and its encoding, not twice that for the overlap.
        let summary = run_in_turn(&mut compute, source, sink, plan, observers, &progress)?;
        progress.finish();
        return Ok(summary);
    }
    let summary = std::thread::scope(|scope| -> Result<RunSummary> {
        let (full_tx, full_rx) = sync_channel::<Result<RawChunk<'a>>>(1);
        let (empty_tx, empty_rx) = channel::<Vec<u8>>();
        let (out_tx, out_rx) = sync_channel::<(Vec<u8>, usize)>(1);
        let (spent_tx, spent_rx) = channel::<Vec<u8>>();
        let reader = scope.spawn(move || read_loop(source, plan, full_tx, empty_rx));
        let writer = sink.map(|mut sink| {
            scope.spawn(move || -> Result<Box<dyn FrameSink<'a> + 'a>> {
                for (buf, n) in out_rx {
                    sink.write(&buf, n)?;
                    let _ = spent_tx.send(buf);
                }
                Ok(sink)
            })
        });
        let buffers = Buffers {
            full: full_rx,
            empty: empty_tx,
            out: writer.is_some().then_some(out_tx),
            spent: spent_rx,
        };
        let (result, mut summary) = compute_loop(&mut compute, buffers, observers, &progress);
        let source = reader
            .join()
            .map_err(|_| anyhow!("internal: reader thread panicked"))?;
        let sink = writer
            .map(|w| {
                w.join()
                    .map_err(|_| anyhow!("internal: writer thread panicked"))
            })
            .transpose()?;
        result?;
        let mut source = source?;
        let sink = sink.transpose()?;
        if summary.frames != count {
            bail!("{}: fewer frames than the header says", meta.what());
        }
        match sink {
            Some(sink) => {
                let extras = source.extras()?;
                let finishing = scope.spawn(move || sink.finish(extras));
                let observed = last(observers);
                finishing
                    .join()
                    .map_err(|_| anyhow!("internal: writer thread panicked"))??;
                observed?;
            }
            None => last(observers)?,
        }
        summary.frames = count;
        Ok(summary)
    })?;
    progress.finish();
    Ok(summary)
}

/// Bytes of `f64` frames per chunk by default (a few chunks are in memory at a time).
const CHUNK_TARGET: usize = 4 << 20;

/// Reads, aligns and writes one chunk at a time on this thread (no reader or writer thread):
/// for frames larger than a chunk, where overlapping would double the memory.
fn run_in_turn<'a>(
    compute: &mut Compute<'_, 'a>,
    mut source: Box<dyn FrameSource<'a> + 'a>,
    mut sink: Option<Box<dyn FrameSink<'a> + 'a>>,
    plan: ReadPlan,
    observers: &mut [&mut dyn Observer],
    progress: &Progress,
) -> Result<RunSummary> {
    let mut work = Work::default();
    let mut summary = RunSummary::default();
    let n_par = leading_parallel(compute.steps);
    let (mut buf, mut out) = (Vec::new(), Vec::new());
    while summary.frames < plan.count {
        let want = plan.chunk.min(plan.count - summary.frames);
        let raw = read_frames(&mut *source, want, plan.step, std::mem::take(&mut buf))?
            .ok_or_else(|| anyhow!("{}: fewer frames than the header says", meta_name(&*source)))?;
        let done = summary.frames;
        process_chunk(
            compute,
            &raw,
            done,
            &mut work,
            n_par,
            &mut out,
            &mut summary,
        )?;
        if let Some(s) = sink.as_mut() {
            s.write(&out, raw.frames)?;
        }
        show(compute, &work, done, observers)?;
        summary.frames += raw.frames;
        progress.advance(raw.frames);
        if let crate::formats::ChunkBytes::Owned(b) = raw.bytes {
            buf = b;
        }
    }
    if plan.step == 1
        && plan.start + plan.count == source.meta().frames
        && source.read(1, buf)?.is_some()
    {
        bail!("{}: more frames than the header says", meta_name(&*source));
    }
    last(observers)?;
    if let Some(sink) = sink {
        let extras = source.extras()?;
        sink.finish(extras)?;
    }
    Ok(summary)
}

/// Which frames the reader thread reads, and how many at a time.
#[derive(Clone, Copy)]
struct ReadPlan {
    start: usize,
    count: usize,
    step: usize,
    chunk: usize,
}

/// The reader thread: frames the source's bytes into chunks (recycling spent buffers), then
/// reads on to the end so that the source verifies itself (CRC, sizes). Returns the source,
/// whose extra members the sink still needs.
fn read_loop<'a>(
    mut source: Box<dyn FrameSource<'a> + 'a>,
    plan: ReadPlan,
    full: SyncSender<Result<RawChunk<'a>>>,
    empty: Receiver<Vec<u8>>,
) -> Result<Box<dyn FrameSource<'a> + 'a>> {
    let mut left = plan.count;
    while left > 0 {
        let buf = empty.try_recv().unwrap_or_default();
        let msg = read_frames(&mut *source, plan.chunk.min(left), plan.step, buf);
        let stop = !matches!(msg, Ok(Some(_)));
        if let Ok(Some(c)) = &msg {
            left -= c.frames;
        }
        let msg = msg.and_then(|c| {
            c.ok_or_else(|| anyhow!("{}: fewer frames than the header says", meta_name(&*source)))
        });
        if full.send(msg).is_err() || stop {
            return Ok(source);
        }
    }
    if plan.step == 1 && plan.start + plan.count == source.meta().frames {
        let buf = empty.try_recv().unwrap_or_default();
        if source.read(1, buf)?.is_some() {
            bail!("{}: more frames than the header says", meta_name(&*source));
        }
    }
    Ok(source)
}

/// The channels between the reader, this thread and the writer.
struct Buffers<'a> {
    full: Receiver<Result<RawChunk<'a>>>,
    empty: Sender<Vec<u8>>,
    out: Option<SyncSender<(Vec<u8>, usize)>>,
    spent: Receiver<Vec<u8>>,
}

/// This thread's part: each chunk from the reader is aligned, observed, encoded and handed to
/// the writer; read buffers go back to the reader. Returns the first error and the counts.
fn compute_loop(
    compute: &mut Compute<'_, '_>,
    buffers: Buffers<'_>,
    observers: &mut [&mut dyn Observer],
    progress: &Progress,
) -> (Result<()>, RunSummary) {
    let mut work = Work::default();
    let mut summary = RunSummary::default();
    let n_par = leading_parallel(compute.steps);
    for msg in buffers.full.iter() {
        let raw = match msg {
            Ok(raw) => raw,
            Err(e) => return (Err(e), summary),
        };
        let mut out = buffers.spent.try_recv().unwrap_or_default();
        let done = summary.frames;
        let r = process_chunk(
            compute,
            &raw,
            done,
            &mut work,
            n_par,
            &mut out,
            &mut summary,
        );
        if let crate::formats::ChunkBytes::Owned(buf) = raw.bytes {
            let _ = buffers.empty.send(buf);
        }
        if let Err(e) = r {
            return (Err(e), summary);
        }
        summary.frames += raw.frames;
        progress.advance(raw.frames);
        if let Some(tx) = &buffers.out {
            if tx.send((out, raw.frames)).is_err() {
                break; // the writer failed: its error is reported by the caller
            }
        }
        if let Err(e) = show(compute, &work, done, observers) {
            return (Err(e), summary);
        }
    }
    (Ok(()), summary)
}

fn meta_name(source: &dyn FrameSource<'_>) -> String {
    source.meta().what()
}

/// Reads `n` frames taking every `step`-th (a chunk of consecutive frames when `step` is 1).
fn read_frames<'a>(
    source: &mut dyn FrameSource<'a>,
    n: usize,
    step: usize,
    buf: Vec<u8>,
) -> Result<Option<RawChunk<'a>>> {
    if step == 1 {
        return source.read(n, buf);
    }
    let mut bytes = buf;
    bytes.clear();
    let mut offsets = vec![0];
    for i in 0..n {
        if i > 0 {
            source.skip(step - 1)?;
        }
        let Some(one) = source.read(1, Vec::new())? else {
            return Ok(None);
        };
        bytes.extend_from_slice(one.bytes.as_slice());
        offsets.push(bytes.len());
    }
    Ok(Some(RawChunk {
        first: 0,
        frames: n,
        bytes: crate::formats::ChunkBytes::Owned(bytes),
        offsets,
    }))
}

/// Decodes, aligns and encodes one chunk into `out`, leaving the aligned frames in `work`
/// for the observers (see [`show`]).
fn process_chunk(
    compute: &mut Compute<'_, '_>,
    raw: &RawChunk<'_>,
    first: usize,
    work: &mut Work,
    n_par: usize,
    out: &mut Vec<u8>,
    summary: &mut RunSummary,
) -> Result<()> {
    let n = raw.frames;
    let len = compute.meta.frame_len();
    work.coords.resize(n * len, 0.0);
    work.facts.resize(n, FrameFacts::default());
    work.info.resize(n, FrameInfo::default());
    work.nonfinite.resize(n, false);
    // When every step runs per frame in parallel, each frame is encoded on the task that
    // aligned it, while it is still in cache.
    // With --unwrap every step waits for the frames to be unwrapped in order.
    let n_par = if compute.unwrap.is_some() { 0 } else { n_par };
    let fusable = n_par == compute.steps.len() && compute.unwrap.is_none();
    let fixed_encoder = compute
        .encoder
        .clone()
        .filter(|e| e.frame_bytes().is_some());
    if let (true, Some(encoder)) = (fusable, fixed_encoder) {
        out.resize(n * encoder.frame_bytes().unwrap_or(0), 0);
        compute.decode_phase(raw, first, work, n_par, Some((&*encoder, &mut out[..])))?;
        tally(compute, work, first, summary);
        return Ok(());
    }
    compute.decode_phase(raw, first, work, n_par, None)?;
    compute.unwrap_frames(work, first)?;
    compute.later_steps(work, n_par);
    tally(compute, work, first, summary);
    compute
        .encode_phase(work, first, out)
        .map_err(|e| anyhow!("{}: {e}", compute.meta.what()))
}

/// Shows the chunk's aligned frames to every observer, in order: after the chunk is encoded
/// (encoding reads the frames without changing them) and handed to the writer, so that the
/// writer is not kept waiting while the observers work.
fn show(
    compute: &Compute<'_, '_>,
    work: &Work,
    first: usize,
    observers: &mut [&mut dyn Observer],
) -> Result<()> {
    if observers.is_empty() {
        return Ok(());
    }
    let view = ChunkView {
        first,
        frames: work.facts.len(),
        frame_len: compute.meta.frame_len(),
        coords: &work.coords,
        facts: &work.facts,
        info: &work.info,
        range_start: compute.range_start,
        range_step: compute.range_step,
    };
    for o in observers.iter_mut() {
        o.chunk(&view)?;
    }
    Ok(())
}

/// Adds the chunk's degenerate, off-centre and non-finite frames to the run's counts.
fn tally(compute: &Compute<'_, '_>, work: &Work, first: usize, summary: &mut RunSummary) {
    for (i, (fact, bad)) in work.facts.iter().zip(&work.nonfinite).enumerate() {
        let index = compute.source_index(first + i);
        if *bad {
            summary.nonfinite.add(index);
        }
        if fact.degenerate {
            summary.degenerate.add(index);
        }
        if fact.off_center {
            summary.off_center.add(index);
        }
    }
}
