//! From options to a runnable plan: open the input, load the masses and the fit set, resolve the
//! Kabsch reference (running the engine for `--ref average`), build the stages for the
//! trajectory's dimension, and create the sink. Stages read no files: everything they need is
//! loaded here and handed in.

use crate::engine::{self, ChunkView, FrameRange, Observer, RunOptions, Unwrap};
use crate::formats::npy::Dtype;
use crate::formats::npz::NpzFile;
use crate::formats::npz_sink::{NpySink, NpzSink};
use crate::formats::{ChunkBytes, Format, FrameSink, FrameSource, RawChunk, TrajMeta};
use crate::io::output::{Output, OutputTarget};
use crate::io::{InputLocation, RawInput, Spool};
use crate::options::{CenterSpec, PipelineSpec, PointSet, RefSpec, RotateSpec, SignRule};
use crate::stages::{
    self, CenterKind, Fit, FrameFacts, Reference, RotateKind, Stage, StagePlan, Step,
};
use crate::text::quote;
use crate::topology::Topology;
use anyhow::{anyhow, bail, Result};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Frames of a piped input that may be held in memory to find a reference frame; beyond this
/// the input is copied to a temporary file instead.
const PEEK_LIMIT: usize = 64 << 20;

/// Maximum passes of `--ref average`.
pub const AVERAGE_MAX_ITER: usize = 50;
/// `--ref average` stops when successive averages differ by less than this × their Rg.
pub const AVERAGE_TOL: f64 = 1e-6;

/// The options every command that reads a trajectory shares.
#[derive(Clone, Debug, Default)]
pub struct InputOptions {
    /// The input.
    pub location: Option<InputLocation>,
    /// `--key`: the trajectory member.
    pub key: Option<String>,
    /// `--frames`: which frames.
    pub frames: FrameRange,
    /// `--allow-nonfinite`.
    pub allow_nonfinite: bool,
    /// `--chunk-frames`.
    pub chunk_frames: Option<usize>,
    /// `--format`: the input's format (default: by extension, or by content for npz/npy).
    pub format: Option<Format>,
    /// `--top`: a topology (PSF, PDB, GRO); a PDB/GRO input is its own.
    pub top: Option<PathBuf>,
    /// `--unwrap`: make points continuous across the periodic box before any stage.
    pub unwrap: bool,
}

/// Options that shape the stages.
#[derive(Clone, Debug, Default)]
pub struct StageOptions {
    /// `--masses SRC`: a member of the input, or a `.npy` path.
    pub masses: Option<String>,
    /// `--fit-points`.
    pub fit_points: Option<PointSet>,
    /// `--ref`.
    pub reference: RefSpec,
    /// `--sign`.
    pub sign: SignRule,
    /// `--to-ref-center`.
    pub to_ref_center: bool,
    /// `--select EXPR`: the fit set as an MDAnalysis selection (needs a topology).
    pub select: Option<String>,
    /// `--ndx FILE --group NAME`: the fit set as a GROMACS index group.
    pub ndx: Option<(PathBuf, String)>,
}

/// An opened input: a file with its members (possibly a spooled copy of a stream), or a
/// stream read once.
pub struct Input {
    /// The input as named in messages.
    pub name: String,
    location: InputLocation,
    file: Option<NpzFile>,
    stream: Option<Box<dyn Read + Send>>,
    md: Option<(Format, PathBuf)>,
    _spool: Option<Spool>,
}

impl Input {
    /// Opens `location` in `format` (default: by extension; npz/npy are recognised by their
    /// content). A stream is copied to a temporary file in `spool_dir` first when `reread` (it
    /// must be read more than once) or when it is an MD format, with a note unless `quiet`.
    pub fn open(
        location: &InputLocation,
        format: Option<Format>,
        reread: bool,
        spool_dir: &Path,
        quiet: bool,
    ) -> Result<Input> {
        let name = location.to_string();
        let format = format.or_else(|| location.path().and_then(Format::of_path));
        if let Some(f) = format.filter(|f| f.is_md()) {
            let (path, spool) = match location.open()? {
                RawInput::File => (
                    location.path().map(Path::to_path_buf).unwrap_or_default(),
                    None,
                ),
                RawInput::Stream(mut s) => {
                    if !quiet {
                        eprintln!("note: {name}: {} is read from a file, so the stream is copied to a temporary file in {} first", f.extension(), crate::text::escape(&spool_dir.to_string_lossy()));
                    }
                    let spool = Spool::new(&mut s, spool_dir, &name)?;
                    (spool.path().to_path_buf(), Some(spool))
                }
            };
            return Ok(Input {
                name,
                location: location.clone(),
                file: None,
                stream: None,
                md: Some((f, path)),
                _spool: spool,
            });
        }
        match location.open()? {
            RawInput::File => {
                let path = location
                    .path()
                    .ok_or_else(|| anyhow!("internal: file without path"))?;
                Ok(Input {
                    file: Some(NpzFile::open(path, &name)?),
                    name,
                    location: location.clone(),
                    stream: None,
                    md: None,
                    _spool: None,
                })
            }
            RawInput::Stream(mut s) if reread => {
                if !quiet {
                    eprintln!("note: {name} is read more than once, so it is copied to a temporary file in {} first", crate::text::escape(&spool_dir.to_string_lossy()));
                }
                let spool = Spool::new(&mut s, spool_dir, &name)?;
                let file = NpzFile::open(spool.path(), &name)?;
                Ok(Input {
                    file: Some(file),
                    name,
                    location: location.clone(),
                    stream: None,
                    md: None,
                    _spool: Some(spool),
                })
            }
            RawInput::Stream(s) => Ok(Input {
                name,
                location: location.clone(),
                file: None,
                stream: Some(s),
                md: None,
                _spool: None,
            }),
        }
    }

    /// Where it came from.
    pub fn location(&self) -> &InputLocation {
        &self.location
    }

    /// Whether the input can be opened again (a file or a spooled stream).
    pub fn rereadable(&self) -> bool {
        self.file.is_some() || self.md.is_some()
    }

    /// The input's format.
    pub fn format(&self) -> Format {
        match (&self.md, &self.file) {
            (Some((f, _)), _) => *f,
            (None, Some(file)) if !file.is_zip => Format::Npy,
            _ => Format::Npz,
        }
    }

    /// The file an MD input is read from (the input itself, or its spooled copy).
    pub fn md_path(&self) -> Option<&Path> {
        self.md.as_ref().map(|(_, p)| p.as_path())
    }

    /// The opened file, if the input is one.
    pub fn file(&self) -> Option<&NpzFile> {
        self.file.as_ref()
    }

    /// A source over the trajectory `key` (a stream input can give one source only).
    pub fn source(&mut self, key: Option<&str>) -> Result<Box<dyn FrameSource<'static>>> {
        if let Some((format, path)) = &self.md {
            return crate::formats::open_md_source(path, *format);
        }
        if let Some(file) = &self.file {
            return file.source(file.choose(key)?);
        }
        let stream = self
            .stream
            .take()
            .ok_or_else(|| anyhow!("{}: the input stream was already read", self.name))?;
        crate::formats::npz::open_stream(stream, &self.name, key)
    }

    /// The trajectory member's name inside the zip (for the output), or `arr.npy`.
    pub fn member_name(&self, key: &str) -> String {
        if self.md.is_some() {
            return "arr.npy".into();
        }
        self.file
            .as_ref()
            .and_then(|f| f.member(key))
            .and_then(|m| m.entry.as_ref().map(|e| e.name.clone()))
            .unwrap_or_else(|| format!("{key}.npy"))
    }
}

/// Loads `--masses SRC`: a member of the input, or a `.npy` path, holding one weight per point
/// (finite, ≥ 0, not all 0).
pub fn load_masses(src: &str, input: &Input, points: usize) -> Result<Vec<f64>> {
    let one_d = |s: &[usize]| s.len() == 1 && s[0] == points;
    let expected = format!("({points},): one weight for each of the {points} points");
    let (what, values) = if let Some(m) = input.file().and_then(|f| f.member(src)) {
        let file = input.file().ok_or_else(|| anyhow!("internal"))?;
        (
            format!("{}: masses {}", input.name, quote(src)),
            file.read_array(m, &one_d, &expected, "masses")?.1,
        )
    } else if Path::new(src).is_file() {
        let file = NpzFile::open(Path::new(src), &crate::text::escape(src))?;
        let m = file.choose(None).or_else(|_| {
            file.members
                .first()
                .ok_or_else(|| anyhow!("{}: no array", file.name))
        })?;
        (
            format!("{}: masses", file.name),
            file.read_array(m, &one_d, &expected, "masses")?.1,
        )
    } else {
        let members = input
            .file()
            .map(|f| f.summary())
            .unwrap_or_else(|| "none".into());
        bail!(
            "masses {}: neither a member of {} (members: {members}) nor a .npy file",
            quote(src),
            input.name
        );
    };
    if let Some(i) = values.iter().position(|m| !m.is_finite() || *m < 0.0) {
        bail!(
            "{what}: mass of point {i} is {} (masses must be finite and ≥ 0)",
            values[i]
        );
    }
    if values.iter().all(|&m| m == 0.0) {
        bail!("{what}: every mass is zero");
    }
    Ok(values)
}

/// The topology of the run: `--top`, else a PDB/GRO input itself; its atom count must match.
/// One warning (unless `quiet`) says how many masses were guessed from atom names.
pub fn load_topology(
    opts: &InputOptions,
    input: &Input,
    points: usize,
    warn_masses: bool,
) -> Result<Option<Topology>> {
    let path = match (&opts.top, input.format().has_topology(), input.md_path()) {
        (Some(top), _, _) => top.clone(),
        (None, true, Some(p)) => p.to_path_buf(),
        _ => return Ok(None),
    };
    let topology = Topology::read(&path)?;
    if topology.atoms.len() != points {
        bail!(
            "topology {} has {} atoms but {} has {points} points per frame",
            crate::text::escape(&path.to_string_lossy()),
            topology.atoms.len(),
            input.name
        );
    }
    if topology.masses_guessed > 0 && warn_masses {
        eprintln!(
            "warning: {}: {} of {} masses guessed from atom names",
            crate::text::escape(&path.to_string_lossy()),
            topology.masses_guessed,
            topology.atoms.len()
        );
    }
    Ok(Some(topology))
}

/// A selection error that quotes the expression once.
pub fn selection_error(expr: &str, e: &str) -> anyhow::Error {
    if e.starts_with("selection ") {
        anyhow!("{e}")
    } else {
        anyhow!("selection {}: {e}", crate::text::quote(expr))
    }
}

/// The fit points from `--fit-points`, `--select` or `--ndx/--group` (at most one is given).
fn fit_indices(
    opts: &StageOptions,
    topology: Option<&Topology>,
    points: usize,
) -> Result<Option<Vec<usize>>> {
    if let Some(set) = &opts.fit_points {
        return set
            .resolve(points)
            .map(Some)
            .map_err(|e| anyhow!("fit points {e}"));
    }
    if let Some(expr) = &opts.select {
        let topology = topology.ok_or_else(|| crate::topology::needs_topology("--select"))?;
        let picked = crate::select::select(topology, expr)
            .map_err(|e| selection_error(expr, &e.to_string()))?;
        return Ok(Some(picked));
    }
    if let Some((path, group)) = &opts.ndx {
        let name = crate::text::escape(&path.to_string_lossy());
        let groups = crate::topology::ndx::read_ndx(path)?;
        let picked = crate::topology::ndx::find_group(&groups, group)
            .map_err(|e| anyhow!("{name}: {e:#}"))?
            .to_vec();
        if let Some(&bad) = picked.iter().find(|&&i| i >= points) {
            bail!(
                "{}: group {} holds atom {} but frames have {points} points",
                crate::text::escape(&path.to_string_lossy()),
                crate::text::quote(group),
                bad + 1
            );
        }
        return Ok(Some(picked));
    }
    Ok(None)
}

/// The fit set from the options: masses (a member, a `.npy`, or `topology`) and the fit points.
pub fn load_fit(
    opts: &StageOptions,
    input: &Input,
    topology: Option<&Topology>,
    points: usize,
) -> Result<Fit> {
    let masses = match opts.masses.as_deref() {
        Some("topology") => {
            let t = topology.ok_or_else(|| crate::topology::needs_topology("--masses topology"))?;
            Some(t.atoms.iter().map(|a| a.mass).collect::<Vec<f64>>())
        }
        Some(m) => Some(load_masses(m, input, points)?),
        None => None,
    };
    let indices = fit_indices(opts, topology, points)?;
    Fit::new(points, masses.as_deref(), indices.as_deref())
        .map_err(|e| anyhow!("{}: {e}", input.name))
}

/// The stage kinds of a pipeline (the Kabsch reference filled in later).
fn center_kind(spec: &CenterSpec) -> CenterKind {
    match spec {
        CenterSpec::Com => CenterKind::Com,
        CenterSpec::Point(k) => CenterKind::Point(*k),
        CenterSpec::None => CenterKind::None,
    }
}

/// Everything `build_steps` needs but the reference.
pub struct PipelineContext<'i> {
    /// The opened input (reference frames, the average passes).
    pub input: &'i mut Input,
    /// The trajectory's shape.
    pub meta: TrajMeta,
    /// The fit set.
    pub fit: Fit,
    /// Stage options.
    pub options: StageOptions,
    /// Input options (key, frames, chunking, non-finite policy).
    pub input_options: InputOptions,
    /// Compute `off_center` facts (the `rotate` command, `align --center none`).
    pub check_centred: bool,
    /// The source of the main pass, opened first (for a stream input, the only one; frames
    /// read ahead to find a reference frame are replayed from it).
    pub pending: Option<Box<dyn FrameSource<'static>>>,
    /// A transformation applied to every input frame before anything else (the random rigid
    /// motions of `check`), also to the frames a reference is taken or averaged from.
    pub motion: Option<Arc<dyn Stage>>,
}

/// A shared stage as a step of its own.
struct SharedStage(Arc<dyn Stage>);

impl Stage for SharedStage {
    fn name(&self) -> String {
        self.0.name()
    }

    fn apply(&self, frame: &mut [f64]) -> FrameFacts {
        self.0.apply(frame)
    }
}

/// Frames read ahead from a stream input (and the rest of that stream).
struct Peeked {
    source: Box<dyn FrameSource<'static>>,
    bytes: Vec<u8>,
    frames: usize,
}

impl<'i> PipelineContext<'i> {
    /// Builds the steps of `spec`, loading the reference a Kabsch stage needs.
    pub fn build(&mut self, spec: &PipelineSpec) -> Result<(Vec<Step>, Option<Arc<Reference>>)> {
        let (points, dims) = (self.meta.points, self.meta.dims);
        let center = center_kind(&spec.center);
        if let CenterKind::Point(k) = center {
            if k >= points {
                bail!(
                    "{}: centering point {k} is out of range (frames have {points} points)",
                    self.meta.what()
                );
            }
        }
        let (rotate, reference) = match &spec.rotate {
            RotateSpec::None => (RotateKind::None, None),
            RotateSpec::Principal => (RotateKind::Principal(self.options.sign), None),
            RotateSpec::PointVector(p) => (
                RotateKind::PointVector(p.clone().unwrap_or_else(|| (0..dims).collect())),
                None,
            ),
            RotateSpec::Kabsch => {
                let reference = Arc::new(self.reference(&center)?);
                (
                    RotateKind::Kabsch {
                        reference: reference.clone(),
                        to_ref_center: self.options.to_ref_center,
                    },
                    Some(reference),
                )
            }
        };
        let plan = StagePlan {
            center,
            rotate,
            fit: self.fit.clone(),
            points,
            dims,
            check_centred: self.check_centred,
        };
        let steps = stages::build_steps(plan).map_err(|e| anyhow!("{}: {e}", self.meta.what()))?;
        Ok((steps, reference))
    }

    /// The Kabsch reference of `--ref`, centred as the pipeline centres frames.
    fn reference(&mut self, center: &CenterKind) -> Result<Reference> {
        let dims = self.meta.dims;
        match self.options.reference.clone() {
            RefSpec::Frame(k) => {
                let raw = self.input_frame(k)?;
                Ok(stages::center_reference(
                    raw,
                    dims,
                    center,
                    &self.fit,
                    false,
                    format!("frame {k} of {}", self.input.name),
                ))
            }
            RefSpec::File { path, key, frame } => {
                let (raw, description) = reference_file(&path, key.as_deref(), frame, &self.meta)?;
                Ok(stages::center_reference(
                    raw,
                    dims,
                    center,
                    &self.fit,
                    true,
                    description,
                ))
            }
            RefSpec::Average => self.average(center),
        }
    }

    /// Frame `k` of the input (counted in the whole input), decoded (and moved by `motion`).
    fn input_frame(&mut self, k: usize) -> Result<Vec<f64>> {
        let mut frame = self.raw_input_frame(k)?;
        if let Some(m) = &self.motion {
            m.apply(&mut frame);
        }
        Ok(frame)
    }

    fn raw_input_frame(&mut self, k: usize) -> Result<Vec<f64>> {
        let meta = &self.meta;
        if k >= meta.frames {
            bail!(
                "{}: reference frame {k} is out of range ({} frames)",
                meta.what(),
                meta.frames
            );
        }
        if self.input.rereadable() {
            let mut source = self.input.source(self.input_options.key.as_deref())?;
            source.skip(k)?;
            let raw = source
                .read(1, Vec::new())?
                .ok_or_else(|| anyhow!("{}: frame {k} is missing", meta.what()))?;
            return decode_one(&*source, &raw, 0, k);
        }
        // A stream: read frames 0..=k ahead and replay them to the main pass.
        let frame_bytes = source_frame_bytes(self);
        if (k + 1).saturating_mul(frame_bytes) > PEEK_LIMIT {
            bail!("{}: reference frame {k} is too far into a piped input to hold in memory; give the file instead, or --ref FILE", meta.what());
        }
        let mut source = self
            .pending
            .take()
            .ok_or_else(|| anyhow!("internal: no pending source"))?;
        let raw = source
            .read(k + 1, Vec::new())?
            .ok_or_else(|| anyhow!("{}: no frames", meta.what()))?;
        if raw.frames != k + 1 {
            bail!("{}: frame {k} is missing", meta.what());
        }
        let frame = decode_one(&*source, &raw, k, k)?;
        let ChunkBytes::Owned(bytes) = raw.bytes else {
            bail!("internal: borrowed peek")
        };
        self.pending = Some(Box::new(Replay {
            peeked: Peeked {
                source,
                bytes,
                frames: k + 1,
            },
            served: 0,
        }));
        Ok(frame)
    }

    /// The iterative average structure over the frames of the run.
    fn average(&mut self, center: &CenterKind) -> Result<Reference> {
        if !self.input.rereadable() {
            bail!("internal: --ref average needs a re-readable input");
        }
        let first = self.input_frame(self.input_options.frames.start.min(self.meta.frames - 1))?;
        let run = RunOptions {
            chunk_frames: self.input_options.chunk_frames,
            allow_nonfinite: self.input_options.allow_nonfinite,
            range: self.input_options.frames,
            progress: None,
            unwrap: unwrap_boxes(&self.input_options, self.input, self.meta.frames)?,
        };
        let input = &mut *self.input;
        let key = self.input_options.key.as_deref();
        let name = input.name.clone();
        average_reference(
            &mut || input.source(key),
            first,
            &self.meta,
            center,
            &self.fit,
            self.motion.as_ref(),
            &run,
            &name,
        )
    }

    /// The source for the main pass (replaying frames read ahead from a stream).
    pub fn main_source(&mut self) -> Result<Box<dyn FrameSource<'static>>> {
        match self.pending.take() {
            Some(p) => Ok(p),
            None => self.input.source(self.input_options.key.as_deref()),
        }
    }
}

/// The iterative average structure of `--ref average` (SPEC §3): starting from `first` (a raw
/// frame, moved by `motion` already), align every frame `run` reads to the current average and
/// average again, until successive averages differ by less than [`AVERAGE_TOL`] × their Rg or
/// after [`AVERAGE_MAX_ITER`] passes. `open` gives a fresh source over the input for each pass
/// (a file, or an array in memory); `motion` moves every frame first; `name` names the input in
/// the reference's description.
#[allow(clippy::too_many_arguments)]
pub fn average_reference<'a>(
    open: &mut dyn FnMut() -> Result<Box<dyn FrameSource<'a> + 'a>>,
    first: Vec<f64>,
    meta: &TrajMeta,
    center: &CenterKind,
    fit: &Fit,
    motion: Option<&Arc<dyn Stage>>,
    run: &RunOptions,
    name: &str,
) -> Result<Reference> {
    let dims = meta.dims;
    let mut reference = stages::center_reference(first, dims, center, fit, false, String::new());
    for iteration in 1..=AVERAGE_MAX_ITER {
        let current = Arc::new(reference.clone());
        let plan = StagePlan {
            center: center.clone(),
            rotate: RotateKind::Kabsch {
                reference: current,
                to_ref_center: false,
            },
            fit: fit.clone(),
            points: meta.points,
            dims,
            check_centred: false,
        };
        let mut steps = stages::build_steps(plan).map_err(|e| anyhow!("{}: {e}", meta.what()))?;
        if let Some(m) = motion {
            steps.insert(0, Step::Parallel(Box::new(SharedStage(m.clone()))));
        }
        let mut sum = AverageSum::new(meta.frame_len());
        let source = open()?;
        engine::run(source, &mut steps, None, &mut [&mut sum], run)?;
        if sum.count == 0 {
            bail!("{}: no finite frame to average", meta.what());
        }
        let average: Vec<f64> = sum.sum.iter().map(|s| s / sum.count as f64).collect();
        let change = fit.rmsd(&average, &reference.coords, dims);
        let rg = fit.rms(&average, dims);
        reference.coords = average;
        if change <= AVERAGE_TOL * rg {
            reference.description = format!("average structure of {name} ({iteration} passes)");
            break;
        }
        reference.description = format!(
            "average structure of {name} ({iteration} passes, not converged: change {change:.3e})"
        );
    }
    reference.center = vec![0.0; dims];
    Ok(reference)
}

fn source_frame_bytes(ctx: &PipelineContext<'_>) -> usize {
    let size = match ctx.meta.width {
        crate::formats::Width::F32 => 4,
        crate::formats::Width::F64 => 8,
    };
    ctx.meta.frame_len() * size
}

/// Decodes frame `i` of `raw` (frame `index` of the source, for messages).
fn decode_one(
    source: &dyn FrameSource<'_>,
    raw: &RawChunk<'_>,
    i: usize,
    index: usize,
) -> Result<Vec<f64>> {
    let meta = source.meta();
    let decoder = source.decoder();
    let mut coords = vec![0.0; meta.frame_len()];
    let mut info = Default::default();
    decoder
        .decode(raw.frame(i, decoder.frame_bytes()), &mut coords, &mut info)
        .map_err(|e| anyhow!("{}: frame {index}: {e}", meta.what()))?;
    if let Some(at) = coords.iter().position(|v| !v.is_finite()) {
        bail!(
            "{}: reference frame {index} point {} has a NaN or Inf coordinate",
            meta.what(),
            at / meta.dims
        );
    }
    Ok(coords)
}

/// Reads frame `frame` of `FILE[#KEY]` (or a whole 2-D structure) for a trajectory `meta`.
fn reference_file(
    path: &Path,
    key: Option<&str>,
    frame: usize,
    meta: &TrajMeta,
) -> Result<(Vec<f64>, String)> {
    let name = crate::text::escape(&path.to_string_lossy());
    let file = NpzFile::open(path, &name)?;
    let member = match key {
        Some(k) => file.choose(Some(k))?,
        None => file.choose(None).or_else(|_| {
            file.members
                .iter()
                .find(|m| m.header.as_ref().is_ok_and(|h| h.shape.len() == 2))
                .ok_or_else(|| {
                    anyhow!(
                        "{name}: no (points, dims) or trajectory array (members: {})",
                        file.summary()
                    )
                })
        })?,
    };
    let shape = member
        .header
        .as_ref()
        .map_err(|e| anyhow!("{name}: {e}"))?
        .shape
        .clone();
    let description = format!(
        "frame {frame} of {name}#{}",
        crate::text::escape(&member.key)
    );
    let wanted = format!(
        "({}, {}) like the trajectory's frames",
        meta.points, meta.dims
    );
    if shape.len() == 2 {
        if frame != 0 {
            bail!(
                "{name}: array {} is a single structure; it has no frame {frame}",
                quote(&member.key)
            );
        }
        let fits = |s: &[usize]| s == [meta.points, meta.dims];
        let (_, values) = file.read_array(member, &fits, &wanted, "reference")?;
        if let Some(at) = values.iter().position(|v| !v.is_finite()) {
            bail!(
                "{name}: the reference point {} has a NaN or Inf coordinate",
                at / meta.dims
            );
        }
        return Ok((values, description));
    }
    let mut source = file.source(member)?;
    let m = source.meta().clone();
    if (m.points, m.dims) != (meta.points, meta.dims) {
        bail!(
            "{name}: array {} frames are ({}, {}) but the trajectory's are ({}, {})",
            quote(&member.key),
            m.points,
            m.dims,
            meta.points,
            meta.dims
        );
    }
    if frame >= m.frames {
        bail!(
            "{name}: reference frame {frame} is out of range ({} frames)",
            m.frames
        );
    }
    source.skip(frame)?;
    let raw = source
        .read(1, Vec::new())?
        .ok_or_else(|| anyhow!("{name}: frame {frame} is missing"))?;
    Ok((decode_one(&*source, &raw, 0, frame)?, description))
}

/// Sums aligned frames in frame order (finite frames only) for `--ref average`.
struct AverageSum {
    sum: Vec<f64>,
    count: usize,
}

impl AverageSum {
    fn new(len: usize) -> Self {
        AverageSum {
            sum: vec![0.0; len],
            count: 0,
        }
    }
}

impl Observer for AverageSum {
    fn chunk(&mut self, view: &ChunkView<'_>) -> Result<()> {
        for i in 0..view.frames {
            let frame = view.frame(i);
            if frame.iter().all(|v| v.is_finite()) {
                self.sum.iter_mut().zip(frame).for_each(|(s, x)| *s += x);
                self.count += 1;
            }
        }
        Ok(())
    }
}

/// A stream source whose first frames were read ahead: replays them, then reads on.
struct Replay {
    peeked: Peeked,
    served: usize,
}

impl FrameSource<'static> for Replay {
    fn meta(&self) -> &TrajMeta {
        self.peeked.source.meta()
    }

    fn decoder(&self) -> Arc<dyn crate::formats::FrameDecoder> {
        self.peeked.source.decoder()
    }

    fn read(&mut self, max: usize, buf: Vec<u8>) -> Result<Option<RawChunk<'static>>> {
        let left = self.peeked.frames - self.served;
        if left == 0 {
            return self.peeked.source.read(max, buf);
        }
        let fb = self.peeked.bytes.len() / self.peeked.frames;
        let n = max.max(1).min(left);
        let mut out = buf;
        out.clear();
        out.extend_from_slice(&self.peeked.bytes[self.served * fb..(self.served + n) * fb]);
        self.served += n;
        Ok(Some(RawChunk {
            first: 0,
            frames: n,
            bytes: ChunkBytes::Owned(out),
            offsets: Vec::new(),
        }))
    }

    fn skip(&mut self, n: usize) -> Result<()> {
        let from_peek = n.min(self.peeked.frames - self.served);
        self.served += from_peek;
        self.peeked.source.skip(n - from_peek)
    }

    fn extras(&mut self) -> Result<Vec<crate::formats::npz::ExtraMember>> {
        self.peeked.source.extras()
    }
}

/// `--unwrap`'s boxes: none needed for MD formats (each frame carries its box); for an npz,
/// the member `box` of shape (frames, 3) (orthorhombic edge lengths) or (frames, 3, 3) (rows =
/// box vectors).
pub fn unwrap_boxes(opts: &InputOptions, input: &Input, frames: usize) -> Result<Option<Unwrap>> {
    if !opts.unwrap {
        return Ok(None);
    }
    let Some(file) = input.file() else {
        return Ok(Some(Unwrap { cells: None }));
    };
    let Some(member) = file.member("box") else {
        bail!("{}: --unwrap needs a box: add a member 'box' of shape ({frames}, 3) or ({frames}, 3, 3)", input.name);
    };
    let fits = |s: &[usize]| s == [frames, 3] || s == [frames, 3, 3];
    let expected = format!("({frames}, 3) or ({frames}, 3, 3)");
    let (shape, values) = file.read_array(member, &fits, &expected, "box")?;
    let cells = if shape.len() == 2 {
        values
            .chunks_exact(3)
            .map(|e| [[e[0], 0.0, 0.0], [0.0, e[1], 0.0], [0.0, 0.0, e[2]]])
            .collect()
    } else {
        values
            .chunks_exact(9)
            .map(|m| [[m[0], m[1], m[2]], [m[3], m[4], m[5]], [m[6], m[7], m[8]]])
            .collect()
    };
    Ok(Some(Unwrap {
        cells: Some(Arc::new(cells)),
    }))
}

/// What a sink is created for: the trajectory that will be written.
pub struct SinkPlan<'t> {
    /// The trajectory member's name in an npz output (its name in the input zip, or `arr.npy`).
    pub member: String,
    /// Element type of npz/npy output (the input's).
    pub dtype: Dtype,
    /// Shape of the output (frames exact), time step.
    pub meta: TrajMeta,
    /// Atom names for PDB/GRO/XYZ output.
    pub topology: Option<&'t Topology>,
}

/// Creates the sink for `target` in `format`.
pub fn create_sink(
    target: &OutputTarget,
    format: Format,
    plan: &SinkPlan<'_>,
) -> Result<Box<dyn FrameSink<'static>>> {
    let m = &plan.meta;
    if format.is_md() && m.dims != 3 {
        bail!(
            "{target}: {} holds 3-D coordinates but {} has {} dims; write .npz or .npy",
            format.extension(),
            m.what(),
            m.dims
        );
    }
    let output = Output::create(target)?;
    let shape = [m.frames, m.points, m.dims];
    Ok(match format {
        Format::Npz => Box::new(NpzSink::create(output, &plan.member, plan.dtype, shape)?),
        Format::Npy => Box::new(NpySink::create(output, plan.dtype, shape)?),
        md => {
            let spec = crate::formats::SinkSpec {
                meta: m.clone(),
                topology: plan.topology,
                dt: m.dt,
            };
            crate::formats::create_md_sink(output, md, &spec)
                .map_err(|e| anyhow!("{target}: {e:#}"))?
        }
    })
}
