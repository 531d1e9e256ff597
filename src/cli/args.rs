//! The option groups, each declared once and flattened into the subcommands that take it.
//! Values are parsed into their types here (clap value parsers), so a malformed value exits 2.

use super::input_location;
use aligntraj::engine::FrameRange;
use aligntraj::formats::npy::Dtype;
use aligntraj::formats::Format;
use aligntraj::generate::Kind;
use aligntraj::options::{
    CenterSpec, PipelineSpec, PointChoice, PointSet, RefSpec, RotateSpec, SignRule,
};
use aligntraj::plan::{InputOptions, StageOptions};
use aligntraj::report::plots::PlotKind;
use aligntraj::report::sensitivity::Direction;
use aligntraj::report::{sensitivity, Per};
use anyhow::Result;
use clap::builder::TypedValueParser as _;
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};

/// The input and which part of it.
#[derive(Args, Debug, Default)]
pub(super) struct InputArgs {
    /// Input trajectory (.npz, .npy, .xtc, .trr, .dcd, .pdb, .gro, .xyz); `-` or absent reads
    /// standard input.
    #[arg(value_name = "IN")]
    pub input: Option<PathBuf>,
    /// The trajectory member (default: `arr`, else the only 3-D float array).
    #[arg(long, value_name = "NAME")]
    pub key: Option<String>,
    /// Frames to use, a Python slice from 0: START:STOP[:STEP] (e.g. 100:, :50, ::10).
    #[arg(long, value_name = "START:STOP[:STEP]")]
    pub frames: Option<FrameRange>,
    /// Topology (.psf, .pdb, .gro) for --select, --masses topology and PDB/GRO/XYZ output;
    /// a .pdb/.gro input is its own.
    #[arg(long, value_name = "FILE")]
    pub top: Option<PathBuf>,
    /// Input format, for standard input or an unusual extension (default: by extension).
    #[arg(long, value_enum, value_name = "FMT")]
    pub format: Option<Format>,
    /// Before any stage, move points by whole box vectors so that none jumps by more than half
    /// a box between frames (GROMACS trjconv -pbc nojump; triclinic boxes too). The box comes
    /// from the format, or an npz member `box` of shape (frames, 3) or (frames, 3, 3).
    #[arg(long)]
    pub unwrap: bool,
}

impl InputArgs {
    /// The library's input options.
    pub fn options(self, run: &RunArgs) -> InputOptions {
        InputOptions {
            location: Some(input_location(self.input)),
            key: self.key,
            frames: self.frames.unwrap_or_default(),
            allow_nonfinite: run.allow_nonfinite,
            chunk_frames: run.chunk_frames.map(|n| n as usize),
            format: self.format,
            top: self.top,
            unwrap: self.unwrap,
        }
    }
}

/// How a run uses the machine and the terminal.
#[derive(Args, Debug)]
pub(super) struct RunArgs {
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// Frames read, aligned and written at a time (default: about 4 MiB of float64, half that
    /// when the run also reports on the frames and half still holds 32 frames).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub chunk_frames: Option<u64>,
    /// Pass frames with NaN/Inf coordinates through unchanged (counted) instead of failing.
    #[arg(long)]
    pub allow_nonfinite: bool,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
}

impl RunArgs {
    /// Sizes rayon's pool to `--threads` (and applies `--quiet` to warnings from deep inside).
    pub fn apply_threads(&self) -> Result<()> {
        aligntraj::text::set_quiet(self.quiet);
        if let Some(n) = self.threads {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n as usize)
                .build_global()?;
        }
        Ok(())
    }
}

/// Which points and weights define a transform.
#[derive(Args, Debug, Default)]
pub(super) struct FitArgs {
    /// Per-point weights: a member of the input npz, a .npy of shape (points,), or `topology`
    /// (the topology's masses).
    #[arg(long, value_name = "SRC")]
    pub masses: Option<String>,
    /// Points that define the transform, e.g. `0:100,120,200:300` (half-open ranges from 0),
    /// or @FILE (0-based indices in a text file); the transform is applied to every point.
    #[arg(long, value_name = "SPEC", conflicts_with_all = ["select", "ndx"])]
    pub fit_points: Option<PointSet>,
    /// Points that define the transform as an MDAnalysis selection (needs a topology), e.g.
    /// `backbone`, `name CA and resid 10:50`, `protein and not name H*`.
    #[arg(long, value_name = "EXPR", conflicts_with = "ndx")]
    pub select: Option<String>,
    /// A GROMACS index file; with --group, the points that define the transform.
    #[arg(long, value_name = "FILE", requires = "group")]
    pub ndx: Option<PathBuf>,
    /// The index group of --ndx (its name, e.g. `Backbone` or `C-alpha`).
    #[arg(long, value_name = "NAME", requires = "ndx")]
    pub group: Option<String>,
}

/// Options of the rotation stages.
#[derive(Args, Debug, Default)]
pub(super) struct RotationArgs {
    /// Kabsch reference: a frame K of the input (default 0, counted in the whole input),
    /// `average` (iterative average structure), or FILE.npz[#KEY][@FRAME].
    #[arg(long = "ref", value_name = "REF")]
    pub reference: Option<RefSpec>,
    /// Principal-axes sign rule: skew (rotation-invariant, default) or continuous (closest to
    /// the previous frame: no flips in time, depends on history).
    #[arg(long, value_enum, value_name = "RULE")]
    pub sign: Option<SignRule>,
    /// Kabsch: move results to the reference's centre instead of leaving them at the origin.
    #[arg(long)]
    pub to_ref_center: bool,
}

/// The library's stage options from the fit and rotation groups.
pub(super) fn stage_options(fit: FitArgs, rotation: RotationArgs) -> StageOptions {
    StageOptions {
        masses: fit.masses,
        fit_points: fit.fit_points,
        select: fit.select,
        ndx: fit.ndx.zip(fit.group),
        reference: rotation.reference.unwrap_or_default(),
        sign: rotation.sign.unwrap_or_default(),
        to_ref_center: rotation.to_ref_center,
    }
}

/// Where the result goes.
#[derive(Args, Debug)]
pub(super) struct OutputArgs {
    /// Output, its format by extension (.npz, .npy, .xtc, .trr, .dcd, .pdb, .gro, .xyz); `-`
    /// for standard output (the input's format). Default: standard output when it is a pipe,
    /// else <stem>.aligned.<ext> beside the input.
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<String>,
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("how").required(true).args(["com", "point"])))]
pub(super) struct CenterArgs {
    /// Move the (mass-weighted, fit-set) centroid of every frame to the origin.
    #[arg(long)]
    pub com: bool,
    /// Move point K (default 0) of every frame to the origin.
    #[arg(long, value_name = "K", num_args = 0..=1, default_missing_value = "")]
    pub point: Option<String>,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub fit: FitArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("how").required(true).args(["principal", "point_vector", "kabsch"])))]
pub(super) struct RotateArgs {
    /// Principal axes of the (weighted) gyration tensor onto +x, +y, … (see --sign).
    #[arg(long)]
    pub principal: bool,
    /// x_B − x_A onto +x, x_C − x_A into the +y half-plane, …: D points A,B[,C…]
    /// (default 0,1 in 2-D, 0,1,2 in 3-D).
    #[arg(long, value_name = "A,B[,C…]", num_args = 0..=1, default_missing_value = "")]
    pub point_vector: Option<String>,
    /// Least-squares (Kabsch) superposition onto --ref.
    #[arg(long)]
    pub kabsch: bool,
    #[command(flatten)]
    pub rotation: RotationArgs,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub fit: FitArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

/// `s` as a path if its extension (any case) is one of `allowed`; else a usage error naming
/// the `kind` of file (report, picture) when given.
fn path_with_extension(s: &str, allowed: &[&str], kind: Option<&str>) -> Result<PathBuf, String> {
    let p = PathBuf::from(s);
    if ext(&p).is_some_and(|e| allowed.contains(&e.as_str())) {
        return Ok(p);
    }
    let names: Vec<String> = allowed.iter().map(|e| format!(".{e}")).collect();
    let hint = format!("use a {} file name", names.join(" or "));
    let s = aligntraj::text::escape(s);
    Err(match kind {
        Some(kind) => format!("'{s}': unknown {kind} format ({hint})"),
        None => format!("'{s}': {hint}"),
    })
}

fn report_path(s: &str) -> Result<PathBuf, String> {
    path_with_extension(s, &["json", "csv"], Some("report"))
}

fn csv_path(s: &str) -> Result<PathBuf, String> {
    path_with_extension(s, &["csv"], None)
}

fn json_path(s: &str) -> Result<PathBuf, String> {
    path_with_extension(s, &["json"], None)
}

fn picture_path(s: &str) -> Result<PathBuf, String> {
    path_with_extension(s, &["png", "svg"], Some("picture"))
}

fn ext(p: &Path) -> Option<String> {
    p.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
}

#[derive(Args, Debug)]
pub(super) struct AlignArgs {
    /// Centering stage: com, pointK (point0, point3, …) or none.
    #[arg(long, value_name = "STAGE", default_value = "com")]
    pub center: CenterSpec,
    /// Rotation stage: kabsch, principal, point-vector[:A,B,…] or none.
    #[arg(long, value_name = "STAGE", default_value = "kabsch")]
    pub rotate: RotateSpec,
    /// Per-frame diagnostics as .json (with a summary and RMSF) or .csv: rmsd_ref (fit set,
    /// fit weights: what MDAnalysis AlignTraj and gmx rms report), rmsd_all (all points,
    /// unweighted), step_rmsd, angle_deg, jump, degenerate.
    #[arg(long, value_name = "FILE.json|FILE.csv", value_parser = report_path)]
    pub report: Option<PathBuf>,
    /// Per-point RMSF about the mean aligned structure, as CSV (`point,rmsf`; with a topology
    /// `point,name,resname,resid,segid,rmsf`).
    #[arg(long, value_name = "FILE.csv", value_parser = csv_path)]
    pub rmsf: Option<PathBuf>,
    #[command(flatten)]
    pub rotation: RotationArgs,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub fit: FitArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Args, Debug)]
pub(super) struct InfoArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Also count the atoms an MDAnalysis selection picks (needs a topology).
    #[arg(long, value_name = "EXPR")]
    pub select: Option<String>,
    /// Print nothing but errors (info still prints its report on standard output).
    #[arg(short, long)]
    pub quiet: bool,
}

/// Element type of generated data.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(super) enum DtypeArg {
    /// float32
    #[value(alias = "float32")]
    F32,
    /// float64
    #[value(alias = "float64")]
    F64,
}

impl From<DtypeArg> for Dtype {
    fn from(d: DtypeArg) -> Dtype {
        match d {
            DtypeArg::F32 => Dtype::F32,
            DtypeArg::F64 => Dtype::F64,
        }
    }
}

#[derive(Args, Debug)]
pub(super) struct GenerateArgs {
    /// chain2d (a 2-D chain like the book's) or blob3d (a tumbling random coil with masses).
    #[arg(long, value_enum, default_value = "chain2d")]
    pub kind: Kind,
    /// Number of frames.
    #[arg(long, default_value_t = 2048, value_parser = clap::value_parser!(u64).range(1..).map(|v| v as usize))]
    pub frames: usize,
    /// Points per frame.
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u64).range(2..).map(|v| v as usize))]
    pub points: usize,
    /// Dimensions (chain2d: 2).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(2..).map(|v| v as usize))]
    pub dims: usize,
    /// Element type.
    #[arg(long, value_enum, default_value = "f64")]
    pub dtype: DtypeArg,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output .npz (`-` for standard output).
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<String>,
}

/// Input and stage options of the report commands.
#[derive(Args, Debug)]
pub(super) struct ReportArgs {
    /// Input trajectory (.npz, .npy, .xtc, .trr, .dcd, .pdb, .gro, .xyz); `-` reads standard input.
    #[arg(value_name = "IN")]
    pub input: PathBuf,
    /// A pipeline CENTER+ROTATE (com+principal, point0+point-vector, com+kabsch, none+none, …);
    /// repeat to compare several.
    #[arg(long = "pipeline", value_name = "P")]
    pub pipelines: Vec<PipelineSpec>,
    /// The trajectory member (default: `arr`, else the only 3-D float array).
    #[arg(long, value_name = "NAME")]
    pub key: Option<String>,
    /// Topology (.psf, .pdb, .gro) for --select and --masses topology.
    #[arg(long, value_name = "FILE")]
    pub top: Option<PathBuf>,
    /// Input format (default: by extension).
    #[arg(long, value_enum, value_name = "FMT")]
    pub format: Option<Format>,
    #[command(flatten)]
    pub rotation: RotationArgs,
    #[command(flatten)]
    pub fit: FitArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

impl ReportArgs {
    /// The library's input options (all frames; the commands choose their own).
    pub fn input_options(&self) -> InputOptions {
        InputOptions {
            location: Some(input_location(Some(self.input.clone()))),
            key: self.key.clone(),
            frames: FrameRange::default(),
            allow_nonfinite: self.run.allow_nonfinite,
            chunk_frames: self.run.chunk_frames.map(|n| n as usize),
            format: self.format,
            top: self.top.clone(),
            unwrap: false,
        }
    }
}

/// `--frames` of sensitivity: N frames sampled evenly, or a slice.
#[derive(Clone, Copy, Debug)]
pub(super) enum FrameSelection {
    /// N frames sampled evenly.
    Sample(usize),
    /// A slice START:STOP[:STEP].
    Range(FrameRange),
}

fn frame_selection(s: &str) -> Result<FrameSelection, String> {
    if s.contains(':') {
        return s.parse().map(FrameSelection::Range);
    }
    match s.parse::<usize>() {
        Ok(0) => Err("'0': at least one frame is needed".into()),
        Ok(n) => Ok(FrameSelection::Sample(n)),
        Err(_) => Err(format!(
            "'{}': expected a number of frames or START:STOP[:STEP]",
            aligntraj::text::escape(s)
        )),
    }
}

#[derive(Args, Debug)]
pub(super) struct SensitivityArgs {
    #[command(flatten)]
    pub common: ReportArgs,
    /// Write the full report (matrices, sweeps, summaries) as JSON.
    #[arg(long, value_name = "FILE.json", value_parser = json_path)]
    pub report: Option<PathBuf>,
    /// Write each pipeline's matrix S as DIR/<pipeline>.csv.
    #[arg(long, value_name = "DIR")]
    pub csv: Option<PathBuf>,
    /// Draw the matrices as heatmaps side by side (PNG or SVG by extension).
    #[arg(long, value_name = "FILE.png|svg", value_parser = picture_path)]
    pub plot: Option<PathBuf>,
    /// N frames sampled evenly, or a slice START:STOP[:STEP] (default: all frames).
    #[arg(long, value_name = "N|START:STOP[:STEP]", value_parser = frame_selection)]
    pub frames: Option<FrameSelection>,
    /// Largest nudge δ.
    #[arg(long, value_name = "D", default_value_t = sensitivity::DEFAULT_MAX_DELTA, value_parser = positive_f64)]
    pub max_delta: f64,
    /// Number of δ values from 0 to --max-delta, inclusive (S uses the first non-zero one).
    #[arg(long, value_name = "N", default_value_t = sensitivity::DEFAULT_STEPS, value_parser = clap::value_parser!(u64).range(2..).map(|v| v as usize))]
    pub steps: usize,
    /// Nudge direction: x (+x, the book's) or random (a random unit vector per frame and point).
    #[arg(long, value_enum, value_name = "DIR", default_value = "x")]
    pub direction: Direction,
    /// Seed of the random directions.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Points to nudge: indices (`0:100,120`, `@FILE`) or, with a topology, a selection
    /// (`"name CA"`). Default: the fit set (all points without --fit-points/--select/--ndx) when
    /// it has at most 512 points, else 256 of it spread evenly (with --per residue, an even share
    /// of every residue). Every point's displacement is measured.
    #[arg(long, value_name = "SPEC|EXPR")]
    pub points: Option<PointChoice>,
    /// Keep the full sweep d_j(δ) (every point j, every δ) for these nudged points in the JSON
    /// report (`sweep_full`); indices or a selection. Others keep the mean over j.
    #[arg(long, value_name = "SPEC|EXPR")]
    pub sweep_points: Option<PointChoice>,
    /// Rows and columns of the matrix in --plot and --csv, and an extra `residue_matrix` in the
    /// JSON: point, or residue (the mean of S over atom pairs; needs a topology). Default:
    /// residue when a topology is known.
    #[arg(long, value_enum, value_name = "UNIT")]
    pub per: Option<Per>,
}

fn positive_f64(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!(
            "'{}': expected a positive number",
            aligntraj::text::escape(s)
        )),
    }
}

#[derive(Args, Debug)]
pub(super) struct CheckArgs {
    #[command(flatten)]
    pub common: ReportArgs,
    /// Number of random rigid motions.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..).map(|v| v as usize))]
    pub trials: usize,
    /// Random seed.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Write the verdicts (per pipeline: max deviation, broken frames, trials, seed) as JSON.
    #[arg(long, value_name = "FILE.json", value_parser = json_path)]
    pub report: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub(super) struct PlotArgs {
    #[command(flatten)]
    pub common: ReportArgs,
    /// Output picture: FILE.png or FILE.svg.
    #[arg(short, long, value_name = "FILE.png|svg", value_parser = picture_path)]
    pub output: PathBuf,
    /// The figure: overlay (frames overlaid, coloured by time), rmsd (per frame, fit set),
    /// rmsf (per point or residue), sensitivity (heatmaps of S).
    #[arg(long, value_enum, value_name = "KIND", default_value = "overlay")]
    pub kind: PlotKind,
    /// Points drawn (overlay) or nudged (sensitivity): indices (`0:100`, `@FILE`) or, with a
    /// topology, a selection (`"name CA"`). Overlay default: all up to 200 points, else the CA
    /// atoms with a topology, else 200 spread evenly.
    #[arg(long, value_name = "SPEC|EXPR")]
    pub points: Option<PointChoice>,
    /// Rows of rmsf and sensitivity: point or residue (default: residue with a topology).
    #[arg(long, value_enum, value_name = "UNIT")]
    pub per: Option<Per>,
    /// Overlay: draw every S-th frame (default: frames / 128, at least 1).
    #[arg(long, value_name = "S", value_parser = clap::value_parser!(u64).range(1..).map(|v| v as usize))]
    pub every: Option<usize>,
    /// Picture width in pixels (default: 500 per overlay panel, 1000 for curves, 480 per heatmap).
    #[arg(long, value_parser = clap::value_parser!(u32).range(16..=20000))]
    pub width: Option<u32>,
    /// Picture height in pixels (default: 450; 500 for heatmaps).
    #[arg(long, value_parser = clap::value_parser!(u32).range(16..=20000))]
    pub height: Option<u32>,
}

#[derive(Args, Debug)]
pub(super) struct ConvertArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Keep only the atoms of an MDAnalysis selection, in input order (needs a topology).
    #[arg(long, value_name = "EXPR")]
    pub keep: Option<String>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Args, Debug)]
pub(super) struct ConcatArgs {
    /// The parts, in order (same key, dtype, points and dims; e.g. shards made with --frames).
    #[arg(value_name = "PART", required = true, num_args = 1..)]
    pub parts: Vec<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
    /// The trajectory member of npz parts (default: `arr`, else the only 3-D float array).
    #[arg(long, value_name = "NAME")]
    pub key: Option<String>,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
}
