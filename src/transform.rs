//! The `center`, `rotate` and `align` commands: options → plan → one engine run from the input
//! through the pipeline to the output, with the per-frame report as an observer, and one
//! summary warning for the frames that needed a fallback.

use crate::engine::{self, Observer, RunOptions, RunSummary};
use crate::formats::npy::Dtype;
use crate::formats::Format;
use crate::formats::TrajMeta;
use crate::io::output::{resolve_output, OutputTarget};
use crate::io::InputLocation;
use crate::options::{PipelineSpec, RotateSpec, SignRule};
use crate::plan::{
    create_sink, load_fit, load_topology, Input, InputOptions, PipelineContext, SinkPlan,
    StageOptions,
};
use crate::report::frames::FrameReporter;
use anyhow::Result;
use std::path::{Path, PathBuf};

/// One transforming run, as the command line or the Python module asks for it.
#[derive(Clone, Debug)]
pub struct TransformJob {
    /// Input, key, frames, chunking.
    pub input: InputOptions,
    /// Masses, fit set, reference, sign rule.
    pub stages: StageOptions,
    /// The stages.
    pub pipeline: PipelineSpec,
    /// `-o` as given: a path, `-`, or none (SPEC §2).
    pub output: Option<String>,
    /// `--report FILE.json|csv`.
    pub report: Option<PathBuf>,
    /// `--rmsf FILE.csv`.
    pub rmsf: Option<PathBuf>,
    /// Print nothing but errors.
    pub quiet: bool,
    /// Warn when rotation stages see frames away from the origin.
    pub check_centred: bool,
}

/// What a transform did.
#[derive(Clone, Debug)]
pub struct TransformOutcome {
    /// Where the output went.
    pub output: OutputTarget,
    /// Counts of degenerate, off-centre and non-finite frames.
    pub summary: RunSummary,
}

/// The input's format as the options and its name say (npz when nothing says: npz and npy
/// are told apart by content).
fn input_format(location: &InputLocation, given: Option<Format>) -> Format {
    given
        .or_else(|| location.path().and_then(Format::of_path))
        .unwrap_or(Format::Npz)
}

/// Where a piped input is buffered when it must be read twice: the output's folder.
fn spool_dir(target: &OutputTarget) -> PathBuf {
    match target {
        OutputTarget::Path(p) => match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        },
        OutputTarget::Stdout => std::env::temp_dir(),
    }
}

/// Whether the run must read its input more than once (or read members before the frames).
fn needs_reread(job: &TransformJob) -> bool {
    let average = job.pipeline.rotate == RotateSpec::Kabsch
        && job.stages.reference == crate::options::RefSpec::Average;
    let masses_member = job
        .stages
        .masses
        .as_deref()
        .is_some_and(|m| !Path::new(m).is_file());
    average || masses_member
}

/// Runs `job` (see the module documentation).
pub fn run_transform(job: &TransformJob) -> Result<TransformOutcome> {
    let location = job.input.location.clone().unwrap_or(InputLocation::Stdin);
    let in_format = input_format(&location, job.input.format);
    let (target, announce) = resolve_output(job.output.as_deref(), &location, in_format)?;
    let format = target.format(in_format);
    let mut input = Input::open(
        &location,
        job.input.format,
        needs_reread(job),
        &spool_dir(&target),
        job.quiet,
    )?;
    let source = input.source(job.input.key.as_deref())?;
    let meta = source.meta().clone();
    let masses_used = job.stages.masses.as_deref() == Some("topology");
    let topology = load_topology(&job.input, &input, meta.points, masses_used && !job.quiet)?;
    let fit = load_fit(&job.stages, &input, topology.as_ref(), meta.points)?;
    let member = input.member_name(&meta.key);
    let mut ctx = PipelineContext {
        input: &mut input,
        meta: meta.clone(),
        fit,
        options: job.stages.clone(),
        input_options: job.input.clone(),
        check_centred: job.check_centred,
        pending: Some(source),
        motion: None,
    };
    let unwrap = crate::plan::unwrap_boxes(&job.input, ctx.input, meta.frames)?;
    let (mut steps, reference) = ctx.build(&job.pipeline)?;
    let source = ctx.main_source()?;
    let fit = ctx.fit.clone();
    let (_, count) = job.input.frames.resolve(meta.frames);
    let dtype = Dtype {
        width: meta.width,
        big_endian: meta.big_endian,
    };
    let out_meta = TrajMeta {
        frames: count,
        ..meta.clone()
    };
    let plan = SinkPlan {
        member,
        dtype,
        meta: out_meta,
        topology: topology.as_ref(),
    };
    let sink = create_sink(&target, format, &plan)?;
    let mut reporter = (job.report.is_some() || job.rmsf.is_some()).then(|| {
        FrameReporter::new(
            &meta,
            &job.pipeline,
            reference.clone(),
            fit,
            job.stages.to_ref_center,
        )
        .with_files(job.report.clone(), job.rmsf.clone())
        .with_topology(topology.as_ref())
    });
    let mut observers: Vec<&mut dyn Observer> = Vec::new();
    if let Some(r) = reporter.as_mut() {
        observers.push(r);
    }
    let run = RunOptions {
        chunk_frames: job.input.chunk_frames,
        allow_nonfinite: job.input.allow_nonfinite,
        range: job.input.frames,
        progress: (!job.quiet).then(|| job.pipeline.to_string()),
        unwrap,
    };
    let summary = engine::run(source, &mut steps, Some(sink), &mut observers, &run)?;
    if let Some(r) = reporter {
        write_reports(job, r)?;
    }
    if !job.quiet {
        if announce {
            eprintln!("wrote {target}");
        }
        warn_summary(
            &meta.source,
            &job.pipeline,
            job.stages.sign,
            &summary,
            job.check_centred,
        );
    }
    Ok(TransformOutcome {
        output: target,
        summary,
    })
}

/// Writes `--report` and `--rmsf` from the reporter that observed the run.
fn write_reports(job: &TransformJob, reporter: FrameReporter) -> Result<()> {
    reporter.write_files(|path, report| {
        if !job.quiet {
            eprintln!(
                "wrote {}: {} jump frames, {} degenerate",
                crate::text::escape(&path.to_string_lossy()),
                report.summary.jumps,
                report.summary.degenerate
            );
        }
    })?;
    Ok(())
}

/// One warning per kind of fallback, worded for the stage that needed it.
pub fn warn_summary(
    source: &str,
    pipeline: &PipelineSpec,
    sign: SignRule,
    s: &RunSummary,
    check_centred: bool,
) {
    if s.degenerate.count > 0 {
        let fallback = match (&pipeline.rotate, sign) {
            (RotateSpec::Principal, SignRule::Continuous) => "the previous frame's rotation used",
            (RotateSpec::None, _) => "left as they were",
            _ => "identity rotation used",
        };
        eprintln!(
            "warning: {source}: {} degenerate for {pipeline} (the rotation is undefined): {fallback}",
            s.degenerate.describe()
        );
    }
    if s.nonfinite.count > 0 {
        eprintln!(
            "warning: {source}: {} hold NaN or Inf coordinates: passed through unchanged",
            s.nonfinite.describe()
        );
    }
    if check_centred && s.off_center.count > 0 {
        eprintln!(
            "warning: {source}: {} not centred on their fit-set centroid; rotations act about \
             the origin (center first: aligntraj center --com, or use align --center com)",
            s.off_center.describe()
        );
    }
}

/// `aligntraj convert`: frames from one format to another, unchanged but for units the formats
/// prescribe (nm ↔ Å for XTC/TRR/GRO), optionally a range of frames and a subset of atoms.
#[derive(Clone, Debug)]
pub struct ConvertJob {
    /// Input, key, frames, topology.
    pub input: InputOptions,
    /// `-o`.
    pub output: Option<String>,
    /// `--keep EXPR`: the atoms to keep, in input order (needs a topology).
    pub keep: Option<String>,
    /// Print nothing but errors.
    pub quiet: bool,
}

/// Runs `job` through the engine with no stages.
pub fn run_convert(job: &ConvertJob) -> Result<OutputTarget> {
    let location = job.input.location.clone().unwrap_or(InputLocation::Stdin);
    let in_format = input_format(&location, job.input.format);
    let (target, announce) = resolve_output(job.output.as_deref(), &location, in_format)?;
    let format = target.format(in_format);
    let mut input = Input::open(
        &location,
        job.input.format,
        false,
        &spool_dir(&target),
        job.quiet,
    )?;
    let mut source = input.source(job.input.key.as_deref())?;
    let meta = source.meta().clone();
    let mut topology = load_topology(&job.input, &input, meta.points, false)?;
    if let Some(expr) = &job.keep {
        let t = topology
            .as_ref()
            .ok_or_else(|| crate::topology::needs_topology("--keep"))?;
        let keep = crate::select::select(t, expr)
            .map_err(|e| crate::plan::selection_error(expr, &e.to_string()))?;
        topology = Some(t.subset(&keep));
        source = Box::new(crate::formats::subset::Subset::new(source, keep));
    }
    let kept = source.meta().clone();
    let (_, count) = job.input.frames.resolve(meta.frames);
    let dtype = Dtype {
        width: kept.width,
        big_endian: kept.big_endian,
    };
    let plan = SinkPlan {
        member: input.member_name(&meta.key),
        dtype,
        meta: TrajMeta {
            frames: count,
            ..kept
        },
        topology: topology.as_ref(),
    };
    let sink = create_sink(&target, format, &plan)?;
    let run = RunOptions {
        chunk_frames: job.input.chunk_frames,
        allow_nonfinite: true,
        range: job.input.frames,
        progress: (!job.quiet).then(|| "convert".to_string()),
        unwrap: None,
    };
    engine::run(source, &mut [], Some(sink), &mut [], &run)?;
    if announce && !job.quiet {
        eprintln!("wrote {target}");
    }
    Ok(target)
}

/// `aligntraj concat`: shards (e.g. of a job array, made with `--frames A:B`) joined into one
/// trajectory, in the order given.
#[derive(Clone, Debug)]
pub struct ConcatJob {
    /// The parts, in order.
    pub parts: Vec<std::path::PathBuf>,
    /// `-o`.
    pub output: Option<String>,
    /// `--key`.
    pub key: Option<String>,
    /// Print nothing but errors.
    pub quiet: bool,
}

/// Runs `job` through the engine with no stages: the output's frames are the parts' frames,
/// byte for byte when the formats agree; its other members are the first part's.
pub fn run_concat(job: &ConcatJob) -> Result<OutputTarget> {
    let locations: Vec<InputLocation> =
        job.parts.iter().cloned().map(InputLocation::Path).collect();
    let Some(first) = locations.first() else {
        anyhow::bail!("concat: give the parts to join");
    };
    let in_format = input_format(first, None);
    let (target, announce) = resolve_output(job.output.as_deref(), first, in_format)?;
    let format = target.format(in_format);
    let mut member = String::new();
    let mut parts = Vec::new();
    for (i, location) in locations.iter().enumerate() {
        let mut input = Input::open(location, None, false, &spool_dir(&target), job.quiet)?;
        let source = input.source(job.key.as_deref())?;
        if i == 0 {
            member = input.member_name(&source.meta().key);
        }
        parts.push(source);
    }
    let source = crate::formats::concat::Concat::new(parts)?;
    let meta = crate::formats::FrameSource::meta(&source).clone();
    let dtype = Dtype {
        width: meta.width,
        big_endian: meta.big_endian,
    };
    let plan = SinkPlan {
        member,
        dtype,
        meta,
        topology: None,
    };
    let sink = create_sink(&target, format, &plan)?;
    let run = RunOptions {
        progress: (!job.quiet).then(|| "concat".to_string()),
        ..Default::default()
    };
    engine::run(Box::new(source), &mut [], Some(sink), &mut [], &run)?;
    if announce && !job.quiet {
        eprintln!("wrote {target}");
    }
    Ok(target)
}
