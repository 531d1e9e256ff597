//! The command line: clap definitions with typed values (the low level: what was typed, no
//! I/O), turned into the library's jobs (the high level). Every malformed or contradictory
//! option value is a usage error (exit 2) before any file is opened.

mod args;

use aligntraj::generate::{generate, GenerateRequest};
use aligntraj::io::output::resolve_output;
use aligntraj::io::InputLocation;
use aligntraj::options::{CenterSpec, PipelineSpec, RotateSpec};
use aligntraj::report::{check, plots, sensitivity};
use aligntraj::transform::{
    run_concat, run_convert, run_transform, ConcatJob, ConvertJob, TransformJob,
};
use anyhow::{bail, Result};
use args::*;
use clap::{CommandFactory, Parser, Subcommand};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Align molecular-dynamics and point-cloud trajectories stored as NumPy .npz/.npy arrays
/// shaped (frames, points, dims): remove translation and rotation, and measure what that does.
#[derive(Parser, Debug)]
#[command(name = "aligntraj", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Translate every frame: centre of mass (weighted fit-set centroid) or one point to the origin.
    #[command(after_help = EXAMPLES_CENTER)]
    Center(CenterArgs),
    /// Rotate every (already centred) frame about the origin: principal axes, point vectors, or Kabsch onto a reference.
    #[command(after_help = EXAMPLES_ROTATE)]
    Rotate(RotateArgs),
    /// Center and rotate in one pass (one read, one write): `--center com --rotate kabsch` by default.
    #[command(after_help = EXAMPLES_ALIGN)]
    Align(AlignArgs),
    /// Change format (npz, npy, xtc, trr, dcd, pdb, gro, xyz), take a range of frames, keep a subset of atoms.
    #[command(after_help = EXAMPLES_CONVERT)]
    Convert(ConvertArgs),
    /// Join trajectories (the shards of a job array) into one, in the order given.
    #[command(after_help = EXAMPLES_CONCAT)]
    Concat(ConcatArgs),
    /// Show an input's members or format, shape, units, box, time, topology, and how far its centroid drifts.
    #[command(after_help = EXAMPLES_INFO)]
    Info(InfoArgs),
    /// Write a synthetic trajectory (the example data and benchmark inputs).
    #[command(after_help = EXAMPLES_GENERATE)]
    Generate(GenerateArgs),
    /// Measure how a nudge of one point moves every point after alignment (the book's
    /// perturbation experiment): a sensitivity matrix and summary per pipeline.
    #[command(after_help = EXAMPLES_SENSITIVITY)]
    Sensitivity(SensitivityArgs),
    /// Apply random rotations and translations to the whole input and check that each
    /// pipeline's alignment does not change (exit 1 when a frame breaks invariance).
    #[command(after_help = EXAMPLES_CHECK)]
    Check(CheckArgs),
    /// Draw a figure: raw and aligned frames overlaid (the book's), RMSD per frame, RMSF per
    /// point or residue, or sensitivity heatmaps (`--kind`).
    #[command(after_help = EXAMPLES_PLOT)]
    Plot(PlotArgs),
}

const EXAMPLES_CENTER: &str = "Examples:
  aligntraj center --com traj.npz -o centred.npz
  aligntraj center --com --masses masses --fit-points 0:100 traj.npz -o centred.npz
  aligntraj center --point 3 traj.npz | aligntraj rotate --principal -o aligned.npz";
const EXAMPLES_ROTATE: &str = "Examples:
  aligntraj rotate --principal centred.npz -o aligned.npz
  aligntraj rotate --point-vector 0,1,2 centred.npz -o aligned.npz
  aligntraj center --com traj.npz | aligntraj rotate --kabsch --ref average -o fitted.npz";
const EXAMPLES_ALIGN: &str = "Examples:
  aligntraj align traj.npz -o fitted.npz                  # com + kabsch onto frame 0
  aligntraj align md.xtc --top md.gro --select backbone --masses topology -o fitted.xtc
  aligntraj align --rotate principal --sign continuous traj.npz -o smooth.npz --report frames.json
  aligntraj align --rotate kabsch --ref ref.npz#arr@0 --masses masses --to-ref-center traj.npz -o fitted.npz

MDAnalysis AlignTraj, MDTraj superpose and GROMACS trjconv -fit rot+trans move every frame onto the
reference's centre; aligntraj leaves results at the origin unless --to-ref-center is given.";
const EXAMPLES_INFO: &str = "Examples:
  aligntraj info traj.npz
  aligntraj info --key positions run.npz
  aligntraj info md.xtc --top md.gro --select backbone";
const EXAMPLES_CONCAT: &str = "Examples:
  aligntraj align big.npz --ref 0 --frames 0:5000 -o part0.npz     # one job of an array
  aligntraj align big.npz --ref 0 --frames 5000: -o part1.npz
  aligntraj concat part0.npz part1.npz -o aligned.npz              # = aligntraj align big.npz --ref 0";
const EXAMPLES_CONVERT: &str = "Examples:
  aligntraj convert md.xtc --top md.gro -o md.npz            # Å, float32, key arr
  aligntraj convert md.dcd --top md.psf --keep protein --frames ::10 -o protein.pdb
  aligntraj convert frames.npz -o frames.xyz";
const EXAMPLES_GENERATE: &str = "Examples:
  aligntraj generate --kind chain2d -o chain2d.npz
  aligntraj generate --kind blob3d --frames 500 --points 200 --dims 3 --dtype f32 -o blob3d.npz";
const EXAMPLES_SENSITIVITY: &str = "Examples:
  aligntraj sensitivity chain2d.npz
  aligntraj sensitivity chain2d.npz --pipeline com+kabsch --pipeline point0+point-vector --plot s.png --report s.json
  aligntraj sensitivity md.xtc --top md.gro --points \"name CA\" --per residue --plot s.png --frames 20

Defaults: pipelines com+principal and point0+point-vector, all frames, δ = 0 … 0.2 in 16 steps
along +x. Frames are aligned one at a time, so --sign continuous (which needs the previous frame)
is replaced by the skew rule. A Kabsch reference is built once from the input and is not perturbed.";
const EXAMPLES_CHECK: &str = "Examples:
  aligntraj check chain2d.npz
  aligntraj check blob3d.npz --pipeline com+kabsch --trials 4 --seed 7

Defaults: pipelines com+principal, com+kabsch and point0+point-vector. A frame breaks invariance
when a point moves by more than 1e-9 × the frame's radius of gyration (1e-4 for float32 input).
A Kabsch reference taken from the input moves with it, so its output is compared after that one
global rotation.";
const EXAMPLES_PLOT: &str = "Examples:
  aligntraj plot chain2d.npz -o overlay.png
  aligntraj plot blob3d.npz -o overlay.svg --pipeline com+kabsch --every 10
  aligntraj plot md.xtc --top md.gro --select backbone --masses topology --kind rmsd -o rmsd.png
  aligntraj plot md.xtc --top md.gro --kind rmsf -o rmsf.svg              # per residue
  aligntraj plot md.xtc --top md.gro --kind sensitivity -o s.png          # residue × residue

Defaults: overlay and sensitivity compare com+principal and point0+point-vector, rmsd and rmsf
com+kabsch and com+principal. Overlay: raw input and one panel per pipeline, about 128 frames, all
points up to 200, else the CA atoms (a trace joined within each chain), else 200 spread evenly;
3-D data drawn in x and y. rmsd: over the fit set with the fit weights, to the Kabsch reference
or aligned frame 0 (rmsd_ref of align --report), against time when the format gives it. sensitivity: S at the smallest nudge of
`aligntraj sensitivity` (same numbers), per residue with a topology.";

/// Exits with a usage error (status 2) in clap's format.
fn usage(msg: impl std::fmt::Display) -> ! {
    Cli::command()
        .error(clap::error::ErrorKind::ArgumentConflict, msg)
        .exit()
}

fn input_location(input: Option<PathBuf>) -> InputLocation {
    match input {
        Some(p) if p.as_os_str() == "-" => InputLocation::Stdin,
        Some(p) => InputLocation::Path(p),
        None if std::io::stdin().is_terminal() => {
            usage("no input: give a trajectory file, or pipe one into standard input")
        }
        None => InputLocation::Stdin,
    }
}

/// Splits a flag with an optional value (`--point [K]`, `--point-vector [A,B,…]`) from the
/// input path clap may have taken as its value: `--point data.npz` means point 0 of data.npz.
fn optional_value(
    value: Option<String>,
    input: &mut Option<PathBuf>,
    flag: &str,
) -> Option<Vec<usize>> {
    match value {
        Some(v) if v.is_empty() => None,
        Some(v) => match aligntraj::options::parse_index_list(&v) {
            Ok(list) => Some(list),
            Err(_) if input.is_none() && !v.chars().all(|c| c.is_ascii_digit() || c == ',') => {
                *input = Some(PathBuf::from(v));
                None
            }
            Err(e) => usage(format!("{flag} {e}")),
        },
        None => None,
    }
}

/// Checks the rotation options against the rotation stage (SPEC §2: contradictions are usage errors).
fn check_rotation_options(rotate: &RotateSpec, r: &RotationArgs) {
    if r.reference.is_some() && *rotate != RotateSpec::Kabsch {
        usage(format!(
            "--ref applies to the kabsch rotation only (the rotation is {rotate})"
        ));
    }
    if r.to_ref_center && *rotate != RotateSpec::Kabsch {
        usage(format!(
            "--to-ref-center applies to the kabsch rotation only (the rotation is {rotate})"
        ));
    }
    if r.sign.is_some() && *rotate != RotateSpec::Principal {
        usage(format!(
            "--sign applies to the principal rotation only (the rotation is {rotate})"
        ));
    }
}

fn transform_job(
    input: InputArgs,
    run: RunArgs,
    fit: FitArgs,
    rotation: RotationArgs,
    pipeline: PipelineSpec,
    output: Option<String>,
) -> TransformJob {
    TransformJob {
        input: input.options(&run),
        stages: stage_options(fit, rotation),
        pipeline,
        output,
        report: None,
        rmsf: None,
        quiet: run.quiet,
        check_centred: false,
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Center(a) => run_center(a),
        Command::Rotate(a) => run_rotate(a),
        Command::Align(a) => run_align(a),
        Command::Sensitivity(a) => run_sensitivity(a),
        Command::Convert(a) => {
            a.run.apply_threads()?;
            let quiet = a.run.quiet;
            let input = a.input.options(&a.run);
            run_convert(&ConvertJob {
                input,
                output: a.output.output,
                keep: a.keep,
                quiet,
            })?;
            Ok(())
        }
        Command::Check(a) => run_check(a),
        Command::Concat(a) => {
            let job = ConcatJob {
                parts: a.parts,
                output: a.output.output,
                key: a.key,
                quiet: a.quiet,
            };
            run_concat(&job)?;
            Ok(())
        }
        Command::Plot(a) => run_plot(a),
        Command::Info(a) => {
            let run = RunArgs {
                threads: None,
                chunk_frames: None,
                allow_nonfinite: true,
                quiet: a.quiet,
            };
            let opts = a.input.options(&run);
            print!(
                "{}",
                aligntraj::info::info_text(&opts, a.select.as_deref())?
            );
            Ok(())
        }
        Command::Generate(a) => run_generate(a),
    }
}

fn run_center(a: CenterArgs) -> Result<()> {
    let mut input = a.input;
    let point = optional_value(a.point, &mut input.input, "--point");
    let center = match (a.com, point) {
        (true, _) => CenterSpec::Com,
        (false, Some(list)) if list.len() == 1 => CenterSpec::Point(list[0]),
        (false, Some(list)) => usage(format!("--point takes one point index, not {}", list.len())),
        (false, None) => CenterSpec::Point(0),
    };
    let pipeline = PipelineSpec {
        center,
        rotate: RotateSpec::None,
    };
    a.run.apply_threads()?;
    let job = transform_job(
        input,
        a.run,
        a.fit,
        RotationArgs::default(),
        pipeline,
        a.output.output,
    );
    run_transform(&job)?;
    Ok(())
}

fn run_rotate(a: RotateArgs) -> Result<()> {
    let mut input = a.input;
    let rotate = if a.principal {
        RotateSpec::Principal
    } else if a.kabsch {
        RotateSpec::Kabsch
    } else {
        RotateSpec::PointVector(optional_value(
            a.point_vector,
            &mut input.input,
            "--point-vector",
        ))
    };
    check_rotation_options(&rotate, &a.rotation);
    let pipeline = PipelineSpec {
        center: CenterSpec::None,
        rotate,
    };
    a.run.apply_threads()?;
    let mut job = transform_job(input, a.run, a.fit, a.rotation, pipeline, a.output.output);
    job.check_centred = true;
    run_transform(&job)?;
    Ok(())
}

fn run_align(a: AlignArgs) -> Result<()> {
    let pipeline = PipelineSpec {
        center: a.center,
        rotate: a.rotate,
    };
    check_rotation_options(&pipeline.rotate, &a.rotation);
    a.run.apply_threads()?;
    let mut job = transform_job(a.input, a.run, a.fit, a.rotation, pipeline, a.output.output);
    job.check_centred = job.pipeline.center == CenterSpec::None;
    job.report = a.report;
    job.rmsf = a.rmsf;
    run_transform(&job)?;
    Ok(())
}

fn run_check(a: CheckArgs) -> Result<()> {
    let common = a.common;
    common.run.apply_threads()?;
    let report = check::run_check(&check::CheckRequest {
        input: common.input_options(),
        stages: stage_options(common.fit, common.rotation),
        pipelines: common.pipelines,
        trials: a.trials,
        seed: a.seed,
    })?;
    if !common.run.quiet {
        print!("{}", report.table());
    }
    if let Some(path) = &a.report {
        report.write_json(path)?;
    }
    match report.failure_line() {
        Some(line) => bail!("{line}"),
        None => Ok(()),
    }
}

fn run_plot(a: PlotArgs) -> Result<()> {
    let common = a.common;
    common.run.apply_threads()?;
    let quiet = common.run.quiet;
    let output = a.output.clone();
    let drawn = plots::run_plot(&plots::PlotRequest {
        input: common.input_options(),
        stages: stage_options(common.fit, common.rotation),
        pipelines: common.pipelines,
        kind: a.kind,
        points: a.points,
        per: a.per,
        every: a.every,
        width: a.width,
        height: a.height,
        output: a.output,
    })?;
    if !quiet {
        eprintln!(
            "wrote {} ({drawn})",
            aligntraj::text::escape(&output.to_string_lossy())
        );
    }
    Ok(())
}

fn run_generate(a: GenerateArgs) -> Result<()> {
    let requested = a.output.as_deref().unwrap_or("-");
    let (output, _) = resolve_output(
        Some(requested),
        &InputLocation::Stdin,
        aligntraj::formats::Format::Npz,
    )?;
    generate(&GenerateRequest {
        kind: a.kind,
        frames: a.frames,
        points: a.points,
        dims: a.dims,
        dtype: a.dtype.into(),
        seed: a.seed,
        output,
    })
}

fn run_sensitivity(a: SensitivityArgs) -> Result<()> {
    let common = a.common;
    common.run.apply_threads()?;
    let quiet = common.run.quiet;
    if common.rotation.sign == Some(aligntraj::options::SignRule::Continuous) && !quiet {
        eprintln!("note: --sign continuous needs the previous frame; sensitivity aligns frames one at a time, so the skew rule is used");
    }
    let (sample, range) = match a.frames {
        Some(FrameSelection::Sample(n)) => (Some(n), Default::default()),
        Some(FrameSelection::Range(r)) => (None, r),
        None => (None, Default::default()),
    };
    let mut input = common.input_options();
    input.frames = range;
    let req = sensitivity::SensitivityRequest {
        input,
        stages: stage_options(common.fit, common.rotation),
        pipelines: common.pipelines,
        frames: sample,
        max_delta: a.max_delta,
        steps: a.steps,
        direction: a.direction,
        seed: a.seed,
        nudged: a.points,
        sweep_points: a.sweep_points,
        per: a.per,
    };
    let report = sensitivity::run_sensitivity(&req)?;
    if let Some(p) = &a.report {
        sensitivity::write_report(p, &report)?;
    }
    if let Some(dir) = &a.csv {
        sensitivity::write_csv_dir(dir, &report)?;
    }
    if let Some(p) = &a.plot {
        sensitivity::plot(p, &report, (None, None))?;
    }
    if !quiet {
        print!("{}", sensitivity::format_table(&report));
    }
    Ok(())
}
