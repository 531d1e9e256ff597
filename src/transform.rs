//! The `center`, `rotate` and `align` commands: one pass from a frame source through a
//! pipeline to a frame sink, with the degenerate-frame summary and the output rules of
//! SPEC §2 (standard streams, `<stem>.aligned.npz`, never the input, never a terminal).

use crate::io::{trajectory_member, FrameSink, FrameSource, Input, InputLocation, OutputTarget};
use crate::pipeline::Pipeline;
use crate::progress::Progress;
use crate::spec::{PipelineSpec, RefSpec, RotateSpec, StageContext, StageOptions};
use crate::stage::FrameFacts;
use anyhow::{bail, Result};
use ndarray::Array3;
use std::io::IsTerminal;
use std::path::PathBuf;

/// A request to transform one trajectory.
#[derive(Clone, Debug)]
pub struct TransformRequest {
    /// The input file or standard input.
    pub input: InputLocation,
    /// `-o` as given: a path, `-` for standard output, or none (see [`resolve_output`]).
    pub output: Option<String>,
    /// `--key`: the trajectory member.
    pub key: Option<String>,
    /// The stages to apply.
    pub pipeline: PipelineSpec,
    /// Options shared by the stages.
    pub options: StageOptions,
    /// `--chunk-frames`: frames per chunk (default: about 4 MiB of f64).
    pub chunk_frames: Option<usize>,
    /// `--allow-nonfinite`: pass frames with NaN/Inf through unchanged instead of failing.
    pub allow_nonfinite: bool,
    /// `--quiet`: print nothing but errors.
    pub quiet: bool,
    /// Warn when rotation stages see frames that are not centred (the `rotate` command).
    pub warn_off_center: bool,
}

/// What a transform did.
#[derive(Clone, Debug)]
pub struct TransformOutcome {
    /// Where the output went.
    pub output: OutputTarget,
    /// The pipeline's name (`com+principal`).
    pub pipeline: String,
    /// Number of frames written.
    pub frames: usize,
    /// Per-frame facts, in frame order.
    pub facts: Vec<FrameFacts>,
}

impl TransformOutcome {
    /// Indices of frames whose transform was degenerate.
    pub fn degenerate_frames(&self) -> Vec<usize> {
        frames_where(&self.facts, |f| f.degenerate)
    }
}

/// Indices of the frames whose facts satisfy `pred`.
pub fn frames_where(facts: &[FrameFacts], pred: impl Fn(&FrameFacts) -> bool) -> Vec<usize> {
    facts
        .iter()
        .enumerate()
        .filter(|(_, f)| pred(f))
        .map(|(i, _)| i)
        .collect()
}

/// Resolves `-o` per SPEC §2: `-` is standard output (refused when it is a terminal); a path
/// must not be the input; without `-o`, standard output when it is not a terminal, otherwise
/// `<stem>.aligned.npz` beside the input.
pub fn resolve_output(requested: Option<&str>, input: &InputLocation) -> Result<OutputTarget> {
    let stdout_tty = std::io::stdout().is_terminal();
    let target = match requested {
        Some("-") => {
            if stdout_tty {
                bail!("refusing to write a binary .npz to the terminal: redirect standard output or give -o FILE");
            }
            OutputTarget::Stdout
        }
        Some(path) => OutputTarget::Path(PathBuf::from(path)),
        None if !stdout_tty => OutputTarget::Stdout,
        None => match input {
            InputLocation::Path(p) => {
                let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                p.with_file_name(format!("{stem}.aligned.npz")).into()
            }
            InputLocation::Stdin => bail!(
                "refusing to write a binary .npz to the terminal: redirect standard output or give -o FILE"
            ),
        },
    };
    if let (OutputTarget::Path(out), InputLocation::Path(inp)) = (&target, input) {
        if out == inp || crate::io::input::same_file(out, inp) {
            bail!(
                "{}: output would overwrite the input; choose another -o",
                out.display()
            );
        }
    }
    Ok(target)
}

impl From<PathBuf> for OutputTarget {
    fn from(p: PathBuf) -> Self {
        OutputTarget::Path(p)
    }
}

/// Runs `req`: reads the trajectory chunk by chunk, applies the pipeline, writes the output
/// atomically, and prints (unless quiet) one summary warning for degenerate and off-centre frames.
pub fn run_transform(req: &TransformRequest) -> Result<TransformOutcome> {
    run_transform_observed(req, None)
}

/// Sees every aligned chunk of a transform, in frame order (`align --report`).
pub trait ChunkObserver {
    /// Called once, after the stages are built and before the first chunk.
    fn start(&mut self, ctx: &StageContext<'_>, pipeline: &Pipeline) -> Result<()>;
    /// Called with each aligned chunk (frames `first..first + n`) and its facts, in order.
    fn chunk(&mut self, first: usize, aligned: &Array3<f64>, facts: &[FrameFacts]) -> Result<()>;
}

/// [`run_transform`], showing each aligned chunk to `observer` (which then takes the
/// chunked path rather than the raw streaming one).
pub fn run_transform_observed(
    req: &TransformRequest,
    mut observer: Option<&mut dyn ChunkObserver>,
) -> Result<TransformOutcome> {
    let input = Input::open(req.input.clone())?;
    let (member, meta) = trajectory_member(&input, req.key.as_deref())?;
    let output = resolve_output(req.output.as_deref(), &input.location)?;
    let ctx = StageContext::load(&input, &meta, &req.options)?;
    let averaging =
        req.pipeline.rotate == RotateSpec::Kabsch && req.options.reference == RefSpec::Average;
    if averaging && !input.is_rereadable_from_disk() && !req.quiet {
        eprintln!(
            "note: {}: standard input cannot be re-read, so it is held in memory ({} MB) for the passes of --ref average",
            input.location,
            (meta.frames * meta.frame_bytes()) >> 20
        );
    }
    let mut pipeline = req.pipeline.build(&ctx)?;
    if let Some(o) = observer.as_deref_mut() {
        o.start(&ctx, &pipeline)?;
    }
    let mut source = FrameSource::open(&input, member, req.allow_nonfinite)?;
    let chunk = meta.chunk_frames(req.chunk_frames);
    let mut sink = FrameSink::create(&output, &meta)?;
    let progress = Progress::new(&pipeline.name(), meta.frames, meta.frame_len(), req.quiet);
    let facts = if observer.is_none() && pipeline.is_parallelizable() && !meta.fortran_order {
        stream_raw(
            &pipeline,
            source,
            sink,
            &input,
            chunk,
            req.allow_nonfinite,
            &progress,
        )?
    } else {
        let mut facts = Vec::with_capacity(meta.frames);
        while let Some(mut frames) = source.read_chunk(chunk)? {
            let chunk_facts = pipeline.process(&mut frames);
            if let Some(o) = observer.as_deref_mut() {
                o.chunk(facts.len(), &frames, &chunk_facts)?;
            }
            facts.extend(chunk_facts);
            sink.write_chunk(&frames)?;
            progress.advance(frames.len_of(ndarray::Axis(0)));
        }
        sink.finish(Some(&input))?;
        facts
    };
    progress.finish();
    let outcome = TransformOutcome {
        output,
        pipeline: pipeline.name(),
        frames: meta.frames,
        facts,
    };
    if !req.quiet {
        if let OutputTarget::Path(p) = &outcome.output {
            if req.output.is_none() {
                eprintln!("wrote {}", p.display());
            }
        }
        warn_summary(&outcome, &meta.source, req.warn_off_center);
    }
    Ok(outcome)
}

/// The streaming path for parallelizable pipelines on C-order members: a reader thread
/// fills the next chunk of stored bytes while this thread aligns the current one (frames in
/// parallel, decoded and encoded per frame) and a writer thread writes the previous one.
/// Buffers circulate between the three, so memory is a few chunks whatever the input size.
fn stream_raw(
    pipeline: &Pipeline,
    mut source: FrameSource,
    mut sink: FrameSink,
    input: &Input,
    chunk: usize,
    allow_nonfinite: bool,
    progress: &Progress,
) -> Result<Vec<FrameFacts>> {
    use std::sync::mpsc::{channel, sync_channel};
    let meta = source.meta().clone();
    let mut facts = Vec::with_capacity(meta.frames);
    std::thread::scope(|scope| -> Result<()> {
        let (full_tx, full_rx) = sync_channel::<Result<(usize, usize, Vec<u8>)>>(1);
        let (empty_tx, empty_rx) = channel::<Vec<u8>>();
        let (out_tx, out_rx) = sync_channel::<(usize, Vec<u8>)>(1);
        let (spent_tx, spent_rx) = channel::<Vec<u8>>();
        let reader = scope.spawn(move || loop {
            let mut buf = empty_rx.try_recv().unwrap_or_default();
            let start = source.position();
            let msg = match source.read_raw(chunk, &mut buf) {
                Ok(Some(n)) => Ok((start, n, buf)),
                Ok(None) => break,
                Err(e) => Err(e),
            };
            let failed = msg.is_err();
            if full_tx.send(msg).is_err() || failed {
                break;
            }
        });
        let writer = scope.spawn(move || -> Result<FrameSink> {
            for (n, buf) in out_rx {
                sink.write_raw(&buf, n)?;
                let _ = spent_tx.send(buf);
            }
            Ok(sink)
        });
        let mut result = Ok(());
        for msg in full_rx.iter() {
            let (start, n, bytes) = match msg {
                Ok(m) => m,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            let mut out = spent_rx.try_recv().unwrap_or_default();
            match pipeline.process_raw(
                &bytes,
                &mut out,
                meta.dtype,
                meta.points,
                meta.dims,
                !allow_nonfinite,
            ) {
                Ok(f) => facts.extend(f),
                Err((i, point)) => {
                    result = Err(anyhow::anyhow!(
                        "{}: array '{}': frame {} point {point} has a NaN or Inf coordinate \
                         (pass --allow-nonfinite to pass such frames through unchanged)",
                        meta.source,
                        meta.key,
                        start + i
                    ));
                    break;
                }
            }
            let _ = empty_tx.send(bytes);
            if out_tx.send((n, out)).is_err() {
                break; // the writer failed; its error is reported below
            }
            progress.advance(n);
        }
        drop(full_rx);
        drop(out_tx);
        let _ = reader.join();
        let sink = writer
            .join()
            .map_err(|_| anyhow::anyhow!("internal: writer thread panicked"))?;
        let sink = match (result, sink) {
            (Err(e), _) => return Err(e),
            (Ok(()), Err(e)) => return Err(e),
            (Ok(()), Ok(sink)) => sink,
        };
        sink.finish(Some(input))
    })?;
    Ok(facts)
}

/// Formats a list of frame indices as `3 frames (first: 0, 5, 9)`.
pub fn frame_list(frames: &[usize]) -> String {
    let first: Vec<String> = frames.iter().take(8).map(|i| i.to_string()).collect();
    let more = if frames.len() > 8 { ", …" } else { "" };
    format!(
        "{} frame{} (first: {}{more})",
        frames.len(),
        if frames.len() == 1 { "" } else { "s" },
        first.join(", ")
    )
}

fn warn_summary(outcome: &TransformOutcome, source: &str, warn_off_center: bool) {
    let degenerate = outcome.degenerate_frames();
    if !degenerate.is_empty() {
        eprintln!(
            "warning: {source}: {} degenerate for {}: identity (or previous) rotation used",
            frame_list(&degenerate),
            outcome.pipeline
        );
    }
    if warn_off_center {
        let off = frames_where(&outcome.facts, |f| f.off_center);
        if !off.is_empty() {
            eprintln!(
                "warning: {source}: {} not centred on their fit-set centroid; rotations act about \
                 the origin (center first: aligntraj center --com, or use align --center com)",
                frame_list(&off)
            );
        }
    }
}
