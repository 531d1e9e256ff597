//! The `center`, `rotate` and `align` commands: options → plan → one engine run from the input
//! through the pipeline to the output, with the per-frame report as an observer, and one
//! summary warning for the frames that needed a fallback.

use crate::engine::{self, Observer, RunOptions, RunSummary};
use crate::formats::npy::Dtype;
use crate::formats::Format;
use crate::io::output::{resolve_output, OutputTarget};
use crate::io::InputLocation;
use crate::options::{PipelineSpec, RotateSpec, SignRule};
use crate::plan::{create_sink, load_fit, Input, InputOptions, PipelineContext, StageOptions};
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

fn input_format(location: &InputLocation) -> Format {
    location
        .path()
        .and_then(Format::of_path)
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
    let (target, announce) =
        resolve_output(job.output.as_deref(), &location, input_format(&location))?;
    let format = target.format(input_format(&location));
    let mut input = Input::open(&location, needs_reread(job), &spool_dir(&target), job.quiet)?;
    let source = input.source(job.input.key.as_deref())?;
    let meta = source.meta().clone();
    let fit = load_fit(&job.stages, &input, meta.points)?;
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
    let (mut steps, reference) = ctx.build(&job.pipeline)?;
    let source = ctx.main_source()?;
    let fit = ctx.fit.clone();
    let (_, count) = job.input.frames.resolve(meta.frames);
    let dtype = Dtype {
        width: meta.width,
        big_endian: meta.big_endian,
    };
    let sink = create_sink(
        &target,
        format,
        &member,
        dtype,
        [count, meta.points, meta.dims],
    )?;
    let mut reporter = (job.report.is_some() || job.rmsf.is_some()).then(|| {
        FrameReporter::new(
            &meta,
            &job.pipeline,
            reference.clone(),
            fit,
            job.stages.to_ref_center,
        )
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
    };
    let summary = engine::run(source, &mut steps, Some(sink), &mut observers, &run)?;
    if let Some(r) = reporter {
        let report = r.finish();
        if let Some(path) = &job.report {
            crate::report::frames::write_frame_report(path, &report)?;
            if !job.quiet {
                eprintln!(
                    "wrote {}: {} jump frames, {} degenerate",
                    crate::text::escape(&path.to_string_lossy()),
                    report.summary.jumps,
                    report.summary.degenerate
                );
            }
        }
        if let Some(path) = &job.rmsf {
            crate::report::frames::write_rmsf(path, &report)?;
        }
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
