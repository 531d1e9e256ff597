//! The command line: clap definitions and their translation into the library's requests.
//! No logic lives here beyond resolving defaults that depend on the terminal.

use aligntraj::generate::{generate, GenerateRequest, Kind};
use aligntraj::io::{Dtype, InputLocation, OutputTarget};
use aligntraj::report::check::{run_check, CheckRequest};
use aligntraj::report::frames::{check_report_path, write_frame_report, FrameReporter};
use aligntraj::report::overlay::{run_plot, PlotRequest};
use aligntraj::report::plot::{render, Heatmaps, ImageFormat};
use aligntraj::report::sensitivity::{self, run_sensitivity, Direction, SensitivityRequest};
use aligntraj::spec::{
    parse_index_list, CenterSpec, PipelineSpec, RefSpec, RotateSpec, SignRule, StageOptions,
};
use aligntraj::transform::{
    resolve_output, run_transform, run_transform_observed, TransformRequest,
};
use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Align molecular-dynamics and point-cloud trajectories stored as NumPy .npz/.npy arrays
/// shaped (frames, points, dims).
#[derive(Parser, Debug)]
#[command(name = "aligntraj", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Translate every frame: centre of mass (weighted fit-set centroid) or one point to the origin.
    Center(CenterArgs),
    /// Rotate every (already centred) frame about the origin: principal axes, point vectors, or Kabsch onto a reference.
    Rotate(RotateArgs),
    /// Center and rotate in one pass (one read, one write): `--center com --rotate kabsch` by default.
    Align(AlignArgs),
    /// Show an input's members, the trajectory's shape and dtype, and how far its centroid drifts.
    Info(InfoArgs),
    /// Write a synthetic trajectory (the example data and benchmark inputs).
    Generate(GenerateArgs),
    /// Measure how a nudge of one point moves every point after alignment (the book's
    /// perturbation experiment): a sensitivity matrix and summary per pipeline.
    Sensitivity(SensitivityArgs),
    /// Apply random rotations and translations to the whole input and check that each
    /// pipeline's alignment does not change (exit 1 when a frame breaks invariance).
    Check(CheckArgs),
    /// Draw the overlay figure: raw input and each pipeline's aligned frames, coloured by time.
    Plot(PlotArgs),
}

/// Input and stage options of the report commands.
#[derive(Args, Debug)]
struct ReportArgs {
    /// Input .npz or .npy; `-` reads standard input.
    #[arg(value_name = "IN")]
    input: PathBuf,
    /// A pipeline CENTER+ROTATE (com+principal, point0+point-vector, com+kabsch, none+none, …);
    /// repeat to compare several.
    #[arg(long = "pipeline", value_name = "P")]
    pipelines: Vec<String>,
    /// The trajectory member (default: `arr`, else the only 3-D float array).
    #[arg(long)]
    key: Option<String>,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Print nothing but errors.
    #[arg(short, long)]
    quiet: bool,
    /// Kabsch reference: a frame index K of the input, `average`, or FILE.npz[#KEY][@FRAME].
    #[arg(long = "ref", value_name = "REF", default_value = "0")]
    reference: String,
    /// Principal-axes sign rule: `skew` (default) or `continuous`.
    #[arg(long, value_name = "RULE", default_value = "skew")]
    sign: String,
    #[command(flatten)]
    fit: FitArgs,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Defaults: pipelines com+principal and point0+point-vector, all frames, \
δ = 0 … 0.2 in 16 steps along +x. Frames are aligned one at a time, so --sign continuous \
(which needs the previous frame) is replaced by the skew rule. A Kabsch reference is built \
once from the input and is not perturbed."
)]
struct SensitivityArgs {
    #[command(flatten)]
    common: ReportArgs,
    /// Write the full report (matrices, sweeps, summaries) as JSON.
    #[arg(long, value_name = "FILE.json")]
    report: Option<PathBuf>,
    /// Write each pipeline's matrix S as DIR/<pipeline>.csv.
    #[arg(long, value_name = "DIR")]
    csv: Option<PathBuf>,
    /// Draw the matrices as heatmaps side by side (PNG or SVG by extension).
    #[arg(long, value_name = "FILE.png|svg")]
    plot: Option<PathBuf>,
    /// Use N frames sampled evenly (default: all).
    #[arg(long, value_name = "N")]
    frames: Option<usize>,
    /// Largest nudge δ.
    #[arg(long, value_name = "D", default_value_t = 0.2)]
    max_delta: f64,
    /// Number of δ values from 0 to --max-delta, inclusive (S uses the first non-zero one).
    #[arg(long, value_name = "N", default_value_t = 16)]
    steps: usize,
    /// Nudge direction: `x` (+x, the book's) or `random` (a random unit vector per frame and point).
    #[arg(long, value_name = "DIR", default_value = "x")]
    direction: String,
    /// Seed of the random directions.
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Defaults: pipelines com+principal, com+kabsch and point0+point-vector. \
A frame breaks invariance when a point moves by more than 1e-9 × the frame's radius of \
gyration (1e-4 for float32 input). A Kabsch reference taken from the input moves with it, so \
its output is compared after that one global rotation."
)]
struct CheckArgs {
    #[command(flatten)]
    common: ReportArgs,
    /// Number of random rigid motions.
    #[arg(long, value_name = "N", default_value_t = 8)]
    trials: usize,
    /// Random seed.
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Defaults: panels raw input, com+principal and point0+point-vector; \
about 128 frames drawn. 3-D data are drawn in their x and y coordinates."
)]
struct PlotArgs {
    #[command(flatten)]
    common: ReportArgs,
    /// Output picture: FILE.png or FILE.svg.
    #[arg(short, long, value_name = "FILE.png|svg")]
    output: PathBuf,
    /// Draw every S-th frame (default: frames / 128, at least 1).
    #[arg(long, value_name = "S")]
    every: Option<usize>,
    /// Picture width in pixels.
    #[arg(long, default_value_t = 1500)]
    width: u32,
    /// Picture height in pixels.
    #[arg(long, default_value_t = 450)]
    height: u32,
}

/// Input, output and run options shared by the transforming commands.
#[derive(Args, Debug)]
struct IoArgs {
    /// Input .npz or .npy; `-` or absent reads standard input.
    #[arg(value_name = "IN")]
    input: Option<PathBuf>,
    /// Output .npz; `-` for standard output. Default: standard output when it is not a
    /// terminal, else <stem>.aligned.npz beside the input.
    #[arg(short, long, value_name = "OUT")]
    output: Option<String>,
    /// The trajectory member (default: `arr`, else the only 3-D float array).
    #[arg(long)]
    key: Option<String>,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Frames read, aligned and written at a time (default: about 4 MiB of f64 per chunk).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    chunk_frames: Option<u64>,
    /// Pass frames with NaN/Inf coordinates through unchanged (counted as degenerate) instead of failing.
    #[arg(long)]
    allow_nonfinite: bool,
    /// Print nothing but errors.
    #[arg(short, long)]
    quiet: bool,
}

/// Which points and weights define a transform.
#[derive(Args, Debug)]
struct FitArgs {
    /// Per-point weights: a member key of the input npz, or a .npy of shape (points,).
    #[arg(long, value_name = "SRC")]
    masses: Option<String>,
    /// Points that define the transform, e.g. `0:100,120,200:300` (half-open ranges from 0);
    /// the transform is applied to every point.
    #[arg(long, value_name = "SPEC")]
    fit_points: Option<String>,
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("how").required(true).args(["com", "point"])))]
struct CenterArgs {
    /// Move the (mass-weighted, fit-set) centroid of every frame to the origin.
    #[arg(long)]
    com: bool,
    /// Move point K (default 0) of every frame to the origin.
    #[arg(long, value_name = "K", num_args = 0..=1, default_missing_value = "0")]
    point: Option<String>,
    #[command(flatten)]
    fit: FitArgs,
    #[command(flatten)]
    io: IoArgs,
}

/// Options of the rotation stages.
#[derive(Args, Debug)]
struct RotationOptions {
    /// Kabsch reference: a frame index K of the input, `average` (iterative average
    /// structure), or FILE.npz[#KEY][@FRAME].
    #[arg(long = "ref", value_name = "REF", default_value = "0")]
    reference: String,
    /// Principal-axes sign rule: `skew` (rotation-invariant, default) or `continuous`
    /// (closest to the previous frame: no flips in time, depends on history).
    #[arg(long, value_name = "RULE", default_value = "skew")]
    sign: String,
    /// Kabsch: move results to the reference's centre instead of leaving them at the origin
    /// (what MDAnalysis and MDTraj do).
    #[arg(long)]
    to_ref_center: bool,
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("how").required(true).args(["principal", "point_vector", "kabsch"])))]
struct RotateArgs {
    /// Principal axes of the (weighted) gyration tensor onto +x, +y, … (see --sign).
    #[arg(long)]
    principal: bool,
    /// x_B − x_A onto +x, x_C − x_A into the +y half-plane, …: D points A,B[,C…]
    /// (default 0,1 in 2-D, 0,1,2 in 3-D).
    #[arg(long, value_name = "A,B[,C…]", num_args = 0..=1, default_missing_value = "")]
    point_vector: Option<String>,
    /// Least-squares (Kabsch) superposition onto --ref.
    #[arg(long)]
    kabsch: bool,
    #[command(flatten)]
    rotation: RotationOptions,
    #[command(flatten)]
    fit: FitArgs,
    #[command(flatten)]
    io: IoArgs,
}

#[derive(Args, Debug)]
struct AlignArgs {
    /// Centering stage: com, pointK (point0, point3, …) or none.
    #[arg(long, value_name = "STAGE", default_value = "com")]
    center: String,
    /// Rotation stage: kabsch, principal, point-vector[:A,B,…] or none.
    #[arg(long, value_name = "STAGE", default_value = "kabsch")]
    rotate: String,
    /// Per-frame diagnostics (rmsd_ref, step_rmsd, angle_deg, jump, degenerate) as .json
    /// (with a summary) or .csv.
    #[arg(long, value_name = "FILE.json|FILE.csv")]
    report: Option<PathBuf>,
    #[command(flatten)]
    rotation: RotationOptions,
    #[command(flatten)]
    fit: FitArgs,
    #[command(flatten)]
    io: IoArgs,
}

#[derive(Args, Debug)]
struct InfoArgs {
    /// Input .npz or .npy; `-` or absent reads standard input.
    #[arg(value_name = "IN")]
    input: Option<PathBuf>,
    /// The trajectory member (default: `arr`, else the only 3-D float array).
    #[arg(long)]
    key: Option<String>,
}

#[derive(Args, Debug)]
struct GenerateArgs {
    /// chain2d (a 2-D chain like the book's) or blob3d (a tumbling random coil with masses).
    #[arg(long, default_value = "chain2d")]
    kind: String,
    /// Number of frames.
    #[arg(long, default_value_t = 2048)]
    frames: usize,
    /// Points per frame.
    #[arg(long, default_value_t = 12)]
    points: usize,
    /// Dimensions (chain2d: 2).
    #[arg(long, default_value_t = 2)]
    dims: usize,
    /// f32 or f64.
    #[arg(long, default_value = "f64")]
    dtype: String,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output .npz (`-` for standard output).
    #[arg(short, long, value_name = "OUT")]
    output: Option<String>,
}

fn input_location(input: Option<PathBuf>) -> Result<InputLocation> {
    match input {
        Some(p) if p.as_os_str() == "-" => Ok(InputLocation::Stdin),
        Some(p) => Ok(InputLocation::Path(p)),
        None if std::io::stdin().is_terminal() => {
            bail!("no input: give an .npz or .npy file, or pipe one into standard input")
        }
        None => Ok(InputLocation::Stdin),
    }
}

/// Resolves the options shared by the report commands.
fn report_inputs(
    a: ReportArgs,
) -> Result<(InputLocation, Option<String>, StageOptions, Vec<String>)> {
    set_threads(a.threads)?;
    let options = StageOptions {
        masses: a.fit.masses,
        fit_points: a.fit.fit_points,
        key: a.key.clone(),
        reference: a.reference.parse::<RefSpec>()?,
        sign: a.sign.parse::<SignRule>()?,
        ..Default::default()
    };
    Ok((input_location(Some(a.input))?, a.key, options, a.pipelines))
}

fn set_threads(threads: Option<usize>) -> Result<()> {
    if let Some(n) = threads {
        if n == 0 {
            bail!("--threads must be at least 1");
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()?;
    }
    Ok(())
}

fn transform_request(
    io: IoArgs,
    fit: FitArgs,
    rotation: Option<RotationOptions>,
    pipeline: PipelineSpec,
) -> Result<TransformRequest> {
    set_threads(io.threads)?;
    let chunk_frames = io.chunk_frames.map(|n| n as usize);
    let mut options = StageOptions {
        masses: fit.masses,
        fit_points: fit.fit_points,
        key: io.key.clone(),
        chunk_frames,
        allow_nonfinite: io.allow_nonfinite,
        ..Default::default()
    };
    if let Some(r) = rotation {
        options.reference = r.reference.parse::<RefSpec>()?;
        options.sign = r.sign.parse::<SignRule>()?;
        options.to_ref_center = r.to_ref_center;
    }
    Ok(TransformRequest {
        input: input_location(io.input)?,
        output: io.output,
        key: io.key,
        pipeline,
        options,
        chunk_frames,
        allow_nonfinite: io.allow_nonfinite,
        quiet: io.quiet,
        warn_off_center: false,
    })
}

/// Splits a flag with an optional value (`--point [K]`, `--point-vector [A,B,…]`) from the
/// input path clap may have taken as its value: `--point data.npz` means point 0 of data.npz.
fn optional_value(
    value: Option<String>,
    input: &mut Option<PathBuf>,
    flag: &str,
) -> Result<Option<String>> {
    match value {
        Some(v) if v.is_empty() => Ok(None),
        Some(v) if parse_index_list(&v).is_ok() => Ok(Some(v)),
        Some(v) if input.is_none() => {
            *input = Some(PathBuf::from(v));
            Ok(None)
        }
        Some(v) => bail!("{flag} {v}: expected point indices such as 0 or 0,1,2"),
        None => Ok(None),
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Center(a) => {
            let mut io = a.io;
            let center = match optional_value(a.point, &mut io.input, "--point")? {
                _ if a.com => CenterSpec::Com,
                Some(k) => CenterSpec::Point(parse_index_list(&k)?[0]),
                None => CenterSpec::Point(0),
            };
            let pipeline = PipelineSpec {
                center,
                rotate: RotateSpec::None,
            };
            run_transform(&transform_request(io, a.fit, None, pipeline)?)?;
        }
        Command::Rotate(a) => {
            let mut io = a.io;
            let rotate = if a.principal {
                RotateSpec::Principal
            } else if a.kabsch {
                RotateSpec::Kabsch
            } else {
                match optional_value(a.point_vector, &mut io.input, "--point-vector")? {
                    None => RotateSpec::PointVector(None),
                    Some(list) => RotateSpec::PointVector(Some(
                        parse_index_list(&list)
                            .map_err(|e| anyhow::anyhow!("--point-vector {e}"))?,
                    )),
                }
            };
            let pipeline = PipelineSpec {
                center: CenterSpec::None,
                rotate,
            };
            let mut req = transform_request(io, a.fit, Some(a.rotation), pipeline)?;
            req.warn_off_center = true;
            run_transform(&req)?;
        }
        Command::Align(a) => {
            let pipeline = PipelineSpec {
                center: a
                    .center
                    .parse()
                    .map_err(|e| anyhow::anyhow!("--center: {e}"))?,
                rotate: a
                    .rotate
                    .parse()
                    .map_err(|e| anyhow::anyhow!("--rotate: {e}"))?,
            };
            let report = a.report.as_deref().map(check_report_path).transpose()?;
            let mut req = transform_request(a.io, a.fit, Some(a.rotation), pipeline)?;
            req.warn_off_center = req.pipeline.center == CenterSpec::None;
            match report {
                None => {
                    run_transform(&req)?;
                }
                Some(path) => {
                    let mut reporter = FrameReporter::new(&req.pipeline);
                    run_transform_observed(&req, Some(&mut reporter))?;
                    let report = reporter.finish();
                    write_frame_report(&path, &report)?;
                    if !req.quiet {
                        eprintln!(
                            "wrote {}: {} jump frames, {} degenerate",
                            path.display(),
                            report.summary.jumps,
                            report.summary.degenerate
                        );
                    }
                }
            }
        }
        Command::Sensitivity(a) => {
            let quiet = a.common.quiet;
            let (input, key, options, pipelines) = report_inputs(a.common)?;
            if options.sign == SignRule::Continuous && !quiet {
                eprintln!("note: --sign continuous needs the previous frame; sensitivity aligns frames one at a time, so the skew rule is used");
            }
            let req = SensitivityRequest {
                input,
                key,
                options,
                pipelines,
                frames: a.frames,
                max_delta: a.max_delta,
                steps: a.steps,
                direction: a.direction.parse::<Direction>()?,
                seed: a.seed,
            };
            if let Some(p) = &a.plot {
                ImageFormat::of(p, "--plot")?;
            }
            let report = run_sensitivity(&req)?;
            if let Some(p) = &a.report {
                sensitivity::write_report(p, &report)?;
            }
            if let Some(dir) = &a.csv {
                sensitivity::write_csv_dir(dir, &report)?;
            }
            if let Some(p) = &a.plot {
                let panels = report
                    .pipelines
                    .iter()
                    .map(|r| (r.name.as_str(), r.matrix.as_slice()))
                    .collect();
                let n = report.pipelines.len() as u32;
                render(p, (480 * n + 110, 500), &Heatmaps { panels })?;
            }
            if !quiet {
                print!("{}", sensitivity::format_table(&report));
            }
        }
        Command::Check(a) => {
            let quiet = a.common.quiet;
            let (input, key, options, pipelines) = report_inputs(a.common)?;
            let report = run_check(&CheckRequest {
                input,
                key,
                options,
                pipelines,
                trials: a.trials,
                seed: a.seed,
            })?;
            if !quiet {
                print!("{}", report.table());
            }
            if let Some(line) = report.failure_line() {
                bail!("{line}");
            }
        }
        Command::Plot(a) => {
            let quiet = a.common.quiet;
            let (input, key, options, pipelines) = report_inputs(a.common)?;
            let output = a.output.clone();
            run_plot(&PlotRequest {
                input,
                key,
                options,
                pipelines,
                every: a.every,
                width: a.width,
                height: a.height,
                output: a.output,
            })?;
            if !quiet {
                eprintln!("wrote {}", output.display());
            }
        }
        Command::Info(a) => {
            print!(
                "{}",
                aligntraj::info::info_text(input_location(a.input)?, a.key.as_deref())?
            );
        }
        Command::Generate(a) => {
            let dtype = match a.dtype.as_str() {
                "f32" | "float32" => Dtype::F32,
                "f64" | "float64" => Dtype::F64,
                other => bail!("--dtype {other}: expected f32 or f64"),
            };
            let output = match a.output.as_deref() {
                None | Some("-") => resolve_output(Some("-"), &InputLocation::Stdin)?,
                Some(p) => OutputTarget::Path(p.into()),
            };
            generate(&GenerateRequest {
                kind: a.kind.parse::<Kind>()?,
                frames: a.frames,
                points: a.points,
                dims: a.dims,
                dtype,
                seed: a.seed,
                output,
            })?;
        }
    }
    Ok(())
}
