//! `aligntraj._aligntraj`: thin PyO3 wrappers over the aligntraj library. The public Python API
//! (argument normalisation, documentation, warnings) lives in `aligntraj/__init__.py`; the
//! functions here take already-checked arguments: C-contiguous, native-endian float32/float64
//! arrays shaped `(frames, points, dims)`.
//!
//! Every call runs the library's one engine ([`aligntraj::engine::run`]) with an in-memory
//! source and sink, with the GIL released and, when `threads` is given, inside a local rayon
//! pool. Errors become `ValueError` (or `OSError` when a file operation failed) with the CLI's
//! one-line message; a panic becomes `RuntimeError`.

use aligntraj::engine::{self, FrameRange, RunOptions, RunSummary};
use aligntraj::formats::memory::{MemorySink, MemorySource};
use aligntraj::formats::npy::Dtype;
use aligntraj::formats::{
    ChunkBytes, FrameDecoder, FrameEncoder, FrameSink, FrameSource, RawChunk, TrajMeta,
};
use aligntraj::options::{CenterSpec, PipelineSpec, PointSet, RefSpec, RotateSpec, SignRule};
use aligntraj::stages::{self, CenterKind, Fit, Reference, RotateKind, StagePlan};
use anyhow::{anyhow, bail, Result};
use numpy::{
    Element, PyArray3, PyArrayDescrMethods, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2,
    PyReadonlyArray3, PyReadwriteArray3, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Arc;

/// How an in-memory array is named in messages.
const NAME: &str = "input";

/// The library's file-operation failures (their messages carry the OS reason as text).
const FILE_FAILURES: [&str; 9] = [
    ": cannot open input: ",
    ": cannot read: ",
    ": cannot read it",
    ": cannot write: ",
    ": cannot write output in folder ",
    ": cannot move output into place: ",
    ": cannot keep temporary file: ",
    ": cannot buffer the input",
    "no such file or directory",
];

/// An error of the library as a Python exception: `OSError` when a file operation failed (an
/// `io::Error` in the chain, or one of the library's file-failure messages), `ValueError`
/// otherwise; the message is the CLI's line.
fn to_py(err: anyhow::Error) -> PyErr {
    let msg = aligntraj::text::one_line(&format!("{err:#}"))
        .replace("pass --allow-nonfinite", "pass allow_nonfinite=True");
    let io = err
        .chain()
        .any(|c| c.downcast_ref::<std::io::Error>().is_some())
        || FILE_FAILURES.iter().any(|p| msg.contains(p));
    if io {
        PyOSError::new_err(msg)
    } else {
        PyValueError::new_err(msg)
    }
}

/// Runs `f` with the GIL released, inside a local rayon pool of `threads` threads when given,
/// turning a panic into `RuntimeError`.
fn detached<T: Send>(
    py: Python<'_>,
    threads: Option<usize>,
    f: impl FnOnce() -> Result<T> + Send,
) -> PyResult<T> {
    if threads == Some(0) {
        return Err(PyValueError::new_err("threads must be at least 1"));
    }
    let outcome = py.detach(move || {
        catch_unwind(AssertUnwindSafe(move || match threads {
            None => f(),
            Some(n) => rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .map_err(|e| anyhow!("cannot start {n} threads: {e}"))?
                .install(f),
        }))
    });
    match outcome {
        Ok(r) => r.map_err(to_py),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(PyRuntimeError::new_err(format!(
                "internal error in aligntraj: {msg}"
            )))
        }
    }
}

/// The Kabsch reference as given from Python.
enum RefChoice {
    /// Frame K of the input.
    Frame(usize),
    /// A `(points, dims)` structure: centred like a reference file (COM over the fit set when
    /// the pipeline does not centre), or with `true` like a frame of the input (a chunked run's
    /// `ref=K`).
    Array(Vec<f64>, bool),
    /// The iterative average structure.
    Average,
}

/// One alignment, everything parsed.
struct Job {
    pipeline: PipelineSpec,
    reference: RefChoice,
    masses: Option<Vec<f64>>,
    fit: Option<Vec<usize>>,
    sign: SignRule,
    to_ref_center: bool,
    check_centred: bool,
    allow_nonfinite: bool,
}

/// The trajectory's bytes: read from one buffer and written to another, or aligned in place.
#[derive(Clone, Copy)]
struct Shared {
    ptr: *mut u8,
    len: usize,
}
// SAFETY: the buffer outlives the run (the caller holds the array borrowed), and the in-place
// source and sink touch disjoint frame ranges at any moment (see `InPlaceSource`).
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

impl Shared {
    /// SAFETY: no `&mut` over the range exists while the slice is alive.
    unsafe fn slice(&self, start: usize, end: usize) -> &[u8] {
        debug_assert!(start <= end && end <= self.len);
        std::slice::from_raw_parts(self.ptr.add(start), end - start)
    }
}

/// A source over the buffer an in-place run also writes: each chunk is copied into the
/// engine's recycled buffer (one chunk, about 4 MiB, at a time) before it is decoded, so the
/// writer may overwrite frames already read. The engine reads frames in order and writes a
/// frame only after reading it, so the ranges read and written never overlap.
struct InPlaceSource<'a> {
    meta: TrajMeta,
    decoder: Arc<dyn FrameDecoder + 'a>,
    buf: Shared,
    frame_bytes: usize,
    next: usize,
}

impl<'a> FrameSource<'a> for InPlaceSource<'a> {
    fn meta(&self) -> &TrajMeta {
        &self.meta
    }

    fn decoder(&self) -> Arc<dyn FrameDecoder + 'a> {
        self.decoder.clone()
    }

    fn read(&mut self, max: usize, buf: Vec<u8>) -> Result<Option<RawChunk<'a>>> {
        let n = max.max(1).min(self.meta.frames - self.next);
        if n == 0 {
            return Ok(None);
        }
        let mut out = buf;
        out.clear();
        // SAFETY: frames next.. have not been written yet (see the type's documentation).
        out.extend_from_slice(unsafe {
            self.buf.slice(
                self.next * self.frame_bytes,
                (self.next + n) * self.frame_bytes,
            )
        });
        self.next += n;
        Ok(Some(RawChunk {
            first: 0,
            frames: n,
            bytes: ChunkBytes::Owned(out),
            offsets: Vec::new(),
        }))
    }

    fn skip(&mut self, n: usize) -> Result<()> {
        self.next += n.min(self.meta.frames - self.next);
        Ok(())
    }
}

/// The sink of an in-place run (see [`InPlaceSource`]).
struct InPlaceSink<'a> {
    encoder: Arc<dyn FrameEncoder + 'a>,
    buf: Shared,
    written: usize,
}

impl<'a> FrameSink<'a> for InPlaceSink<'a> {
    fn encoder(&self) -> Arc<dyn FrameEncoder + 'a> {
        self.encoder.clone()
    }

    fn write(&mut self, encoded: &[u8], _: usize) -> Result<()> {
        let end = self.written + encoded.len();
        if end > self.buf.len {
            bail!("internal: more frames than the output array holds");
        }
        // SAFETY: these frames were read already; the source only reads later ones.
        unsafe {
            std::ptr::copy_nonoverlapping(
                encoded.as_ptr(),
                self.buf.ptr.add(self.written),
                encoded.len(),
            )
        };
        self.written = end;
        Ok(())
    }

    fn finish(self: Box<Self>, _: Vec<aligntraj::formats::npz::ExtraMember>) -> Result<()> {
        Ok(())
    }
}

/// Frame `k` of the input, decoded, as the CLI reads a `--ref K` frame.
fn input_frame(source: &MemorySource<'_>, bytes: &[u8], k: usize) -> Result<Vec<f64>> {
    let meta = source.meta();
    if k >= meta.frames {
        bail!(
            "{}: reference frame {k} is out of range ({} frames)",
            meta.what(),
            meta.frames
        );
    }
    let decoder = source.decoder();
    let fb = bytes.len() / meta.frames;
    let mut coords = vec![0.0; meta.frame_len()];
    let mut info = Default::default();
    decoder
        .decode(&bytes[k * fb..(k + 1) * fb], &mut coords, &mut info)
        .map_err(|e| anyhow!("{}: frame {k}: {e}", meta.what()))?;
    if let Some(at) = coords.iter().position(|v| !v.is_finite()) {
        bail!(
            "{}: reference frame {k} point {} has a NaN or Inf coordinate",
            meta.what(),
            at / meta.dims
        );
    }
    Ok(coords)
}

fn center_kind(spec: &CenterSpec) -> CenterKind {
    match spec {
        CenterSpec::Com => CenterKind::Com,
        CenterSpec::Point(k) => CenterKind::Point(*k),
        CenterSpec::None => CenterKind::None,
    }
}

/// Aligns the array in `input` (`shape`, `dtype`) into `output`, or in place when `output` is
/// None: the CLI's plan (`PipelineContext::build`) with the input in memory.
fn run_job(
    job: &Job,
    input: Shared,
    output: Option<Shared>,
    dtype: Dtype,
    shape: [usize; 3],
) -> Result<RunSummary> {
    // SAFETY: nothing writes the input until the main run below.
    let bytes = unsafe { input.slice(0, input.len) };
    let probe = MemorySource::new(bytes, dtype, shape, NAME)?;
    let meta = probe.meta().clone();
    let (points, dims) = (meta.points, meta.dims);
    let fit = Fit::new(points, job.masses.as_deref(), job.fit.as_deref())
        .map_err(|e| anyhow!("{NAME}: {e}"))?;
    let center = center_kind(&job.pipeline.center);
    if let CenterKind::Point(k) = center {
        if k >= points {
            bail!(
                "{}: centering point {k} is out of range (frames have {points} points)",
                meta.what()
            );
        }
    }
    let rotate = match &job.pipeline.rotate {
        RotateSpec::None => RotateKind::None,
        RotateSpec::Principal => RotateKind::Principal(job.sign),
        RotateSpec::PointVector(p) => {
            RotateKind::PointVector(p.clone().unwrap_or_else(|| (0..dims).collect()))
        }
        RotateSpec::Kabsch => {
            let reference: Reference = match &job.reference {
                RefChoice::Frame(k) => stages::center_reference(
                    input_frame(&probe, bytes, *k)?,
                    dims,
                    &center,
                    &fit,
                    false,
                    format!("frame {k} of {NAME}"),
                ),
                RefChoice::Array(values, is_frame) => {
                    if values.len() != points * dims {
                        bail!(
                            "{NAME}: the reference has {} values but frames are ({points}, {dims})",
                            values.len()
                        );
                    }
                    if let Some(at) = values.iter().position(|v| !v.is_finite()) {
                        bail!(
                            "{NAME}: the reference point {} has a NaN or Inf coordinate",
                            at / dims
                        );
                    }
                    stages::center_reference(
                        values.clone(),
                        dims,
                        &center,
                        &fit,
                        !is_frame,
                        "reference array".into(),
                    )
                }
                RefChoice::Average => {
                    let run = RunOptions {
                        allow_nonfinite: job.allow_nonfinite,
                        ..Default::default()
                    };
                    aligntraj::plan::average_reference(
                        &mut || Ok(Box::new(MemorySource::new(bytes, dtype, shape, NAME)?)),
                        input_frame(&probe, bytes, 0)?,
                        &meta,
                        &center,
                        &fit,
                        None,
                        &run,
                        NAME,
                    )?
                }
            };
            RotateKind::Kabsch {
                reference: Arc::new(reference),
                to_ref_center: job.to_ref_center,
            }
        }
    };
    let plan = StagePlan {
        center,
        rotate,
        fit,
        points,
        dims,
        check_centred: job.check_centred,
    };
    let mut steps = stages::build_steps(plan).map_err(|e| anyhow!("{}: {e}", meta.what()))?;
    let run = RunOptions {
        allow_nonfinite: job.allow_nonfinite,
        ..Default::default()
    };
    match output {
        Some(out) => {
            // SAFETY: `out` is a separate buffer (checked by the caller), written only here.
            let out = unsafe { std::slice::from_raw_parts_mut(out.ptr, out.len) };
            let sink = MemorySink::new(out, dtype, points, dims);
            engine::run(
                Box::new(probe),
                &mut steps,
                Some(Box::new(sink)),
                &mut [],
                &run,
            )
        }
        None => {
            let decoder = probe.decoder();
            drop(probe);
            let encoder = MemorySink::new(&mut [], dtype, points, dims).encoder();
            let source = InPlaceSource {
                meta,
                decoder,
                buf: input,
                frame_bytes: points * dims * dtype.size(),
                next: 0,
            };
            let sink = InPlaceSink {
                encoder,
                buf: input,
                written: 0,
            };
            engine::run(
                Box::new(source),
                &mut steps,
                Some(Box::new(sink)),
                &mut [],
                &run,
            )
        }
    }
}

fn parse<T: std::str::FromStr<Err = String>>(what: &str, s: &str) -> PyResult<T> {
    s.parse::<T>()
        .map_err(|e| PyValueError::new_err(format!("{what}: {e}")))
}

fn summary_dict<'py>(py: Python<'py>, s: &RunSummary) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("frames", s.frames)?;
    for (name, t) in [
        ("degenerate", &s.degenerate),
        ("off_center", &s.off_center),
        ("nonfinite", &s.nonfinite),
    ] {
        d.set_item(name, t.count)?;
        d.set_item(format!("{name}_first"), t.first.clone())?;
        d.set_item(format!("{name}_text"), t.describe())?;
    }
    Ok(d)
}

/// The typed half of `_align`, for T = f32 or f64.
#[allow(clippy::too_many_arguments)]
fn align_typed<'py, T: Element>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    out: Option<&Bound<'py, PyAny>>,
    in_place: bool,
    dtype: Dtype,
    job: Job,
    threads: Option<usize>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyDict>)> {
    if in_place {
        let mut xw: PyReadwriteArray3<T> = x.extract()?;
        let shape: [usize; 3] = xw.shape().try_into().expect("3-D");
        let slice = xw
            .as_slice_mut()
            .map_err(|_| PyValueError::new_err("out: must be C-contiguous"))?;
        let buf = Shared {
            ptr: slice.as_mut_ptr().cast(),
            len: std::mem::size_of_val(slice),
        };
        let summary = detached(py, threads, move || run_job(&job, buf, None, dtype, shape))?;
        drop(xw);
        return Ok((x.clone(), summary_dict(py, &summary)?));
    }
    let xr: PyReadonlyArray3<T> = x.extract()?;
    let shape: [usize; 3] = xr.shape().try_into().expect("3-D");
    let input = xr
        .as_slice()
        .map_err(|_| PyValueError::new_err("X must be C-contiguous"))?;
    let input = Shared {
        ptr: input.as_ptr() as *mut u8,
        len: std::mem::size_of_val(input),
    };
    let out_array: Bound<'py, PyArray3<T>> = match out {
        Some(o) => o.cast::<PyArray3<T>>()?.clone(),
        // SAFETY: every element is written by the run before the array is returned; on error
        // the array is dropped unseen.
        None => unsafe { PyArray3::<T>::new(py, shape, false) },
    };
    let mut ow = out_array.try_readwrite().map_err(|_| {
        PyValueError::new_err("out: cannot write it while X is borrowed (does it overlap X?)")
    })?;
    let os = ow
        .as_slice_mut()
        .map_err(|_| PyValueError::new_err("out: must be C-contiguous"))?;
    let output = Shared {
        ptr: os.as_mut_ptr().cast(),
        len: std::mem::size_of_val(os),
    };
    let summary = detached(py, threads, move || {
        run_job(&job, input, Some(output), dtype, shape)
    })?;
    drop(ow);
    drop(xr);
    Ok((out_array.into_any(), summary_dict(py, &summary)?))
}

/// Aligns `x` (C-contiguous, native float32/float64, 3-D): into a new array, into `out`, or in
/// place when `in_place`. Returns `(result, summary)`.
#[pyfunction]
#[pyo3(signature = (x, center, rotate, ref_frame=0, ref_array=None, ref_average=false,
    ref_is_frame=false, masses=None, fit=None, sign="skew", to_ref_center=false, check_centred=false,
    allow_nonfinite=false, out=None, in_place=false, threads=None))]
#[allow(clippy::too_many_arguments)]
fn _align<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    center: &str,
    rotate: &str,
    ref_frame: usize,
    ref_array: Option<PyReadonlyArray2<'py, f64>>,
    ref_average: bool,
    ref_is_frame: bool,
    masses: Option<PyReadonlyArray1<'py, f64>>,
    fit: Option<Vec<usize>>,
    sign: &str,
    to_ref_center: bool,
    check_centred: bool,
    allow_nonfinite: bool,
    out: Option<&Bound<'py, PyAny>>,
    in_place: bool,
    threads: Option<usize>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyDict>)> {
    let pipeline = PipelineSpec {
        center: parse("center", center)?,
        rotate: parse("rotate", rotate)?,
    };
    let sign = match sign {
        "skew" => SignRule::Skew,
        "continuous" => SignRule::Continuous,
        s => {
            return Err(PyValueError::new_err(format!(
                "sign: unknown sign rule '{}' (expected skew or continuous)",
                aligntraj::text::escape(s)
            )))
        }
    };
    let reference = if ref_average {
        RefChoice::Average
    } else if let Some(a) = &ref_array {
        RefChoice::Array(a.as_array().iter().copied().collect(), ref_is_frame)
    } else {
        RefChoice::Frame(ref_frame)
    };
    let job = Job {
        pipeline,
        reference,
        masses: masses.map(|m| m.as_array().iter().copied().collect()),
        fit,
        sign,
        to_ref_center,
        check_centred,
        allow_nonfinite,
    };
    let arr = x.cast::<numpy::PyUntypedArray>()?;
    let dt = arr.dtype();
    if dt.is_equiv_to(&numpy::dtype::<f64>(py)) {
        align_typed::<f64>(py, x, out, in_place, Dtype::F64, job, threads)
    } else if dt.is_equiv_to(&numpy::dtype::<f32>(py)) {
        align_typed::<f32>(py, x, out, in_place, Dtype::F32, job, threads)
    } else {
        Err(PyTypeError::new_err(format!(
            "X has dtype {dt}: expected float32 or float64"
        )))
    }
}

/// Which points a selection string picks in a topology file (0-based, ascending).
#[pyfunction]
fn _select(py: Python<'_>, top: PathBuf, expr: String) -> PyResult<Vec<usize>> {
    detached(py, None, move || {
        let topology = aligntraj::topology::Topology::read(&top)?;
        aligntraj::select::select(&topology, &expr)
            .map_err(|e| aligntraj::plan::selection_error(&expr, &e.to_string()))
    })
}

/// Resolves a `--fit-points` string against `points` points.
#[pyfunction]
fn _fit_points(spec: &str, points: usize) -> PyResult<Vec<usize>> {
    let set: PointSet = parse("fit", spec)?;
    set.resolve(points)
        .map_err(|e| PyValueError::new_err(format!("fit points {e}")))
}

/// A file read whole, with its per-frame data.
struct ReadResult {
    bytes: Vec<u8>,
    dtype: Dtype,
    shape: [usize; 3],
    meta: TrajMeta,
    times: Vec<Option<f64>>,
    steps: Vec<Option<i64>>,
    cells: Vec<Option<[[f64; 3]; 3]>>,
    topology: Option<(usize, String)>,
}

struct InfoCollector<'r> {
    result: &'r mut ReadResult,
}

impl aligntraj::engine::Observer for InfoCollector<'_> {
    fn chunk(&mut self, view: &aligntraj::engine::ChunkView<'_>) -> Result<()> {
        for info in view.info {
            self.result.times.push(info.time);
            self.result.steps.push(info.step);
            self.result.cells.push(info.cell);
        }
        Ok(())
    }
}

/// Encoded frames appended to a shared vector (a `'static` sink for file sources).
struct VecSink {
    encoder: Arc<dyn FrameEncoder>,
    data: Arc<std::sync::Mutex<Vec<u8>>>,
}

impl FrameSink<'static> for VecSink {
    fn encoder(&self) -> Arc<dyn FrameEncoder> {
        self.encoder.clone()
    }

    fn write(&mut self, encoded: &[u8], _: usize) -> Result<()> {
        self.data
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(encoded);
        Ok(())
    }

    fn finish(self: Box<Self>, _: Vec<aligntraj::formats::npz::ExtraMember>) -> Result<()> {
        Ok(())
    }
}

fn read_file(
    path: PathBuf,
    key: Option<String>,
    frames: Option<String>,
    top: Option<PathBuf>,
) -> Result<ReadResult> {
    let range: FrameRange = match &frames {
        Some(f) => f.parse().map_err(|e: String| anyhow!("frames: {e}"))?,
        None => FrameRange::default(),
    };
    let location = aligntraj::io::InputLocation::Path(path);
    let mut input =
        aligntraj::plan::Input::open(&location, None, false, &std::env::temp_dir(), true)?;
    let source = input.source(key.as_deref())?;
    let meta = source.meta().clone();
    let options = aligntraj::plan::InputOptions {
        location: Some(location),
        key,
        frames: range,
        top,
        ..Default::default()
    };
    let topology = aligntraj::plan::load_topology(&options, &input, meta.points, false)?
        .map(|t| (t.atoms.len(), t.source.clone()));
    let (_, count) = range.resolve(meta.frames);
    let dtype = Dtype {
        width: meta.width,
        big_endian: false,
    };
    let mut result = ReadResult {
        bytes: Vec::with_capacity(count * meta.frame_len() * dtype.size()),
        dtype,
        shape: [count, meta.points, meta.dims],
        meta: meta.clone(),
        times: Vec::new(),
        steps: Vec::new(),
        cells: Vec::new(),
        topology,
    };
    let data = Arc::new(std::sync::Mutex::new(Vec::with_capacity(
        result.bytes.len(),
    )));
    let sink = VecSink {
        encoder: MemorySink::new(&mut [], dtype, meta.points, meta.dims).encoder(),
        data: data.clone(),
    };
    let run = RunOptions {
        allow_nonfinite: true,
        range,
        ..Default::default()
    };
    let mut collector = InfoCollector {
        result: &mut result,
    };
    engine::run(
        source,
        &mut [],
        Some(Box::new(sink)),
        &mut [&mut collector],
        &run,
    )?;
    let bytes = std::mem::take(&mut *data.lock().unwrap_or_else(|p| p.into_inner()));
    result.bytes = bytes;
    Ok(result)
}

fn to_array<'py, T: Element + Copy>(
    py: Python<'py>,
    bytes: &[u8],
    shape: [usize; 3],
) -> PyResult<Bound<'py, PyAny>> {
    let n = shape.iter().product::<usize>();
    let size = std::mem::size_of::<T>();
    // SAFETY: the array has n elements of T, written entirely below.
    let arr = unsafe { PyArray3::<T>::new(py, shape, false) };
    {
        let mut w = arr.readwrite();
        let dst = w.as_slice_mut().expect("new arrays are contiguous");
        // SAFETY: `bytes` holds n native-endian T (written by the engine's encoder).
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst.as_mut_ptr().cast::<u8>(), n * size)
        };
    }
    Ok(arr.into_any())
}

/// Reads a trajectory of any format; returns `(array, meta)`.
#[pyfunction]
#[pyo3(signature = (path, key=None, frames=None, top=None))]
fn _read<'py>(
    py: Python<'py>,
    path: PathBuf,
    key: Option<String>,
    frames: Option<String>,
    top: Option<PathBuf>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyDict>)> {
    let r = detached(py, None, move || read_file(path, key, frames, top))?;
    let array = match r.dtype.width {
        aligntraj::formats::Width::F32 => to_array::<f32>(py, &r.bytes, r.shape)?,
        aligntraj::formats::Width::F64 => to_array::<f64>(py, &r.bytes, r.shape)?,
    };
    let meta = PyDict::new(py);
    meta.set_item("source", &r.meta.source)?;
    meta.set_item("key", &r.meta.key)?;
    meta.set_item("dtype", r.dtype.name())?;
    meta.set_item("units", r.meta.unit)?;
    meta.set_item("dt", r.meta.dt)?;
    let any = |v: &[Option<f64>]| v.iter().any(Option::is_some);
    meta.set_item(
        "time",
        any(&r.times).then(|| {
            r.times
                .iter()
                .map(|t| t.unwrap_or(f64::NAN))
                .collect::<Vec<_>>()
        }),
    )?;
    meta.set_item(
        "step",
        r.steps
            .iter()
            .any(Option::is_some)
            .then(|| r.steps.iter().map(|s| s.unwrap_or(-1)).collect::<Vec<_>>()),
    )?;
    if r.cells.iter().any(Option::is_some) {
        let flat: Vec<f64> = r
            .cells
            .iter()
            .flat_map(|c| {
                c.unwrap_or([[f64::NAN; 3]; 3])
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
            })
            .collect();
        let cells = numpy::ndarray::Array3::from_shape_vec((r.cells.len(), 3, 3), flat)
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        meta.set_item("box", numpy::PyArray3::from_owned_array(py, cells))?;
    } else {
        meta.set_item("box", py.None())?;
    }
    match r.topology {
        Some((atoms, source)) => {
            let t = PyDict::new(py);
            t.set_item("atoms", atoms)?;
            t.set_item("source", source)?;
            meta.set_item("topology", t)?;
        }
        None => meta.set_item("topology", py.None())?,
    }
    Ok((array, meta))
}

/// `aligntraj align` on files: the CLI's streaming path ([`aligntraj::transform::run_transform`]).
/// Returns the output path.
#[pyfunction]
#[pyo3(signature = (src, dst, center, rotate, reference, key=None, frames=None, masses=None,
    fit_points=None, select=None, top=None, sign="skew", to_ref_center=false,
    allow_nonfinite=false, report=None, threads=None))]
#[allow(clippy::too_many_arguments)]
fn _align_file(
    py: Python<'_>,
    src: PathBuf,
    dst: String,
    center: &str,
    rotate: &str,
    reference: &str,
    key: Option<String>,
    frames: Option<String>,
    masses: Option<String>,
    fit_points: Option<String>,
    select: Option<String>,
    top: Option<PathBuf>,
    sign: &str,
    to_ref_center: bool,
    allow_nonfinite: bool,
    report: Option<PathBuf>,
    threads: Option<usize>,
) -> PyResult<String> {
    let pipeline = PipelineSpec {
        center: parse("center", center)?,
        rotate: parse("rotate", rotate)?,
    };
    let sign = match sign {
        "skew" => SignRule::Skew,
        "continuous" => SignRule::Continuous,
        s => {
            return Err(PyValueError::new_err(format!(
                "sign: unknown sign rule '{}' (expected skew or continuous)",
                aligntraj::text::escape(s)
            )))
        }
    };
    let range: FrameRange = match &frames {
        Some(f) => parse("frames", f)?,
        None => FrameRange::default(),
    };
    let check_centred = pipeline.center == CenterSpec::None;
    let job = aligntraj::transform::TransformJob {
        input: aligntraj::plan::InputOptions {
            location: Some(aligntraj::io::InputLocation::Path(src)),
            key,
            frames: range,
            allow_nonfinite,
            top,
            ..Default::default()
        },
        stages: aligntraj::plan::StageOptions {
            masses,
            fit_points: fit_points.map(|f| parse("fit", &f)).transpose()?,
            reference: parse::<RefSpec>("ref", reference)?,
            sign,
            to_ref_center,
            select,
            ndx: None,
        },
        pipeline,
        output: Some(dst),
        report,
        rmsf: None,
        quiet: true,
        check_centred,
    };
    let outcome = detached(py, threads, move || {
        aligntraj::transform::run_transform(&job)
    })?;
    Ok(outcome.output.to_string())
}

/// Stage options shared by `_sensitivity` and `_check` (files only: the Python layer saves
/// arrays to a temporary `.npy` first).
fn stage_options(
    masses: Option<String>,
    fit_points: Option<String>,
    reference: &str,
) -> PyResult<aligntraj::plan::StageOptions> {
    Ok(aligntraj::plan::StageOptions {
        masses,
        fit_points: fit_points.map(|f| parse("fit", &f)).transpose()?,
        reference: parse::<RefSpec>("ref", reference)?,
        ..Default::default()
    })
}

fn pipelines(list: Vec<String>) -> PyResult<Vec<PipelineSpec>> {
    list.iter().map(|p| parse("pipeline", p)).collect()
}

/// `aligntraj sensitivity` on a file; returns the JSON report as a string.
#[pyfunction]
#[pyo3(signature = (path, pipelines_, frames=None, max_delta=0.2, steps=16, direction="x",
    seed=0, masses=None, fit_points=None, reference="0", threads=None, points=None,
    sweep_points=None))]
#[allow(clippy::too_many_arguments)]
fn _sensitivity(
    py: Python<'_>,
    path: PathBuf,
    pipelines_: Vec<String>,
    frames: Option<usize>,
    max_delta: f64,
    steps: usize,
    direction: &str,
    seed: u64,
    masses: Option<String>,
    fit_points: Option<String>,
    reference: &str,
    threads: Option<usize>,
    points: Option<String>,
    sweep_points: Option<String>,
) -> PyResult<String> {
    use aligntraj::options::PointChoice;
    use aligntraj::report::sensitivity::{run_sensitivity, Direction, SensitivityRequest};
    let indices = |name: &str, v: Option<String>| -> PyResult<Option<PointChoice>> {
        v.map(|s| parse(name, &s).map(PointChoice::Indices))
            .transpose()
    };
    let direction = match direction {
        "x" => Direction::X,
        "random" => Direction::Random,
        d => {
            return Err(PyValueError::new_err(format!(
                "direction: unknown direction '{}' (expected x or random)",
                aligntraj::text::escape(d)
            )))
        }
    };
    let req = SensitivityRequest {
        input: aligntraj::plan::InputOptions {
            location: Some(aligntraj::io::InputLocation::Path(path)),
            ..Default::default()
        },
        stages: stage_options(masses, fit_points, reference)?,
        pipelines: pipelines(pipelines_)?,
        frames,
        max_delta,
        steps,
        direction,
        seed,
        nudged: indices("points", points)?,
        sweep_points: indices("sweep_points", sweep_points)?,
        per: Some(aligntraj::report::Per::Point),
    };
    detached(py, threads, move || {
        let report = run_sensitivity(&req)?;
        Ok(serde_json::to_string(&report)?)
    })
}

/// `aligntraj check` on a file; returns the JSON report as a string.
#[pyfunction]
#[pyo3(signature = (path, pipelines_, trials=8, seed=0, masses=None, fit_points=None,
    reference="0", threads=None))]
#[allow(clippy::too_many_arguments)]
fn _check(
    py: Python<'_>,
    path: PathBuf,
    pipelines_: Vec<String>,
    trials: usize,
    seed: u64,
    masses: Option<String>,
    fit_points: Option<String>,
    reference: &str,
    threads: Option<usize>,
) -> PyResult<String> {
    use aligntraj::report::check::{run_check, CheckRequest};
    let req = CheckRequest {
        input: aligntraj::plan::InputOptions {
            location: Some(aligntraj::io::InputLocation::Path(path)),
            ..Default::default()
        },
        stages: stage_options(masses, fit_points, reference)?,
        pipelines: pipelines(pipelines_)?,
        trials,
        seed,
    };
    detached(py, threads, move || {
        let report = run_check(&req)?;
        Ok(serde_json::to_string(&report)?)
    })
}

/// Panics on purpose (tests that a panic becomes `RuntimeError`).
#[pyfunction]
fn _panic(py: Python<'_>) -> PyResult<()> {
    detached(py, None, || -> Result<()> { panic!("test panic") })
}

#[pymodule]
fn _aligntraj(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_align, m)?)?;
    m.add_function(wrap_pyfunction!(_select, m)?)?;
    m.add_function(wrap_pyfunction!(_fit_points, m)?)?;
    m.add_function(wrap_pyfunction!(_read, m)?)?;
    m.add_function(wrap_pyfunction!(_align_file, m)?)?;
    m.add_function(wrap_pyfunction!(_sensitivity, m)?)?;
    m.add_function(wrap_pyfunction!(_check, m)?)?;
    m.add_function(wrap_pyfunction!(_panic, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
