//! `aligntraj plot`: which figure (`--kind`), its options, and the dispatch.
//!
//! - `overlay` (default): the book's overlay figure ([`super::overlay`]);
//! - `rmsd`: RMSD per frame over the fit set, against time when the format gives it, one line
//!   per pipeline ([`super::curves`]);
//! - `rmsf`: RMSF per point, or per residue with a topology ([`super::curves`]);
//! - `sensitivity`: the heatmaps of `sensitivity --plot` — per residue with a topology — with
//!   the sensitivity command's defaults (S needs only the smallest nudge δ₁ = 0.2/15, so only
//!   that one is run: the same S as `aligntraj sensitivity`).

use super::plot::{render, ImageFormat};
use super::sensitivity::{self, Direction, SensitivityRequest};
use super::{open_pipelines, Per};
use crate::options::{PipelineSpec, PointChoice};
use crate::plan::{InputOptions, StageOptions};
use anyhow::Result;
use std::path::PathBuf;

/// The figures `plot` draws.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum PlotKind {
    /// Raw and aligned frames overlaid, coloured by time (the book's figure).
    #[default]
    Overlay,
    /// RMSD per frame (fit set, fit weights), one line per pipeline.
    Rmsd,
    /// RMSF per point (per residue with a topology), one line per pipeline.
    Rmsf,
    /// Sensitivity heatmaps, one per pipeline (per residue with a topology).
    Sensitivity,
}

/// What to draw.
#[derive(Clone, Debug)]
pub struct PlotRequest {
    /// The input and key.
    pub input: InputOptions,
    /// Stage options.
    pub stages: StageOptions,
    /// `--pipeline` values (default: [`default_pipelines`]).
    pub pipelines: Vec<PipelineSpec>,
    /// `--kind`.
    pub kind: PlotKind,
    /// `--points`: the points drawn (overlay) or nudged (sensitivity).
    pub points: Option<PointChoice>,
    /// `--per`: rows of RMSF and sensitivity (default: residue when a topology is known).
    pub per: Option<Per>,
    /// `--every S` (overlay; default: about 128 frames drawn).
    pub every: Option<usize>,
    /// Picture width in pixels (default by kind).
    pub width: Option<u32>,
    /// Picture height in pixels (default by kind).
    pub height: Option<u32>,
    /// `-o FILE.png|svg`.
    pub output: PathBuf,
}

/// The pipelines drawn when none are given: the book's two for the overlay and the
/// sensitivity heatmaps, the MD fit and the principal axes for RMSD and RMSF.
pub fn default_pipelines(kind: PlotKind) -> &'static [&'static str] {
    match kind {
        PlotKind::Overlay | PlotKind::Sensitivity => &["com+principal", "point0+point-vector"],
        PlotKind::Rmsd | PlotKind::Rmsf => &["com+kabsch", "com+principal"],
    }
}

/// Draws the figure and writes it to `req.output`. Returns what was drawn, in a few words
/// (for the command's message).
pub fn run_plot(req: &PlotRequest) -> Result<String> {
    ImageFormat::of(&req.output, "-o")?;
    if req.kind == PlotKind::Sensitivity {
        return sensitivity_heatmaps(req);
    }
    let defaults = default_pipelines(req.kind);
    let mut opened = open_pipelines(&req.input, &req.stages, &req.pipelines, defaults)?;
    let panels = opened.pipelines.len();
    match req.kind {
        PlotKind::Overlay => {
            let fig = super::overlay::overlay(req, &mut opened)?;
            let size = (
                req.width.unwrap_or(500 * (panels as u32 + 1)),
                req.height.unwrap_or(450),
            );
            render(&req.output, size, &fig)?;
            Ok(format!(
                "overlay of {} points per frame",
                fig.points_per_frame()
            ))
        }
        PlotKind::Rmsd | PlotKind::Rmsf => {
            let fig = if req.kind == PlotKind::Rmsd {
                super::curves::rmsd(req, &mut opened)?
            } else {
                super::curves::rmsf(req, &mut opened, req.per)?
            };
            let size = (req.width.unwrap_or(1000), req.height.unwrap_or(450));
            render(&req.output, size, &fig)?;
            Ok(format!("{} curves", fig.series.len()))
        }
        PlotKind::Sensitivity => unreachable!("handled above"),
    }
}

/// `--kind sensitivity`: the heatmaps of S at the sensitivity command's smallest nudge.
fn sensitivity_heatmaps(req: &PlotRequest) -> Result<String> {
    let defaults = default_pipelines(PlotKind::Sensitivity);
    let report = sensitivity::run_sensitivity(&SensitivityRequest {
        input: req.input.clone(),
        stages: req.stages.clone(),
        pipelines: super::pipelines_or(&req.pipelines, defaults),
        frames: None,
        max_delta: sensitivity::DEFAULT_MAX_DELTA / (sensitivity::DEFAULT_STEPS - 1) as f64,
        steps: 2,
        direction: Direction::X,
        seed: 1,
        nudged: req.points.clone(),
        sweep_points: None,
        per: req.per,
    })?;
    sensitivity::plot(&req.output, &report, (req.width, req.height))?;
    Ok(format!(
        "sensitivity heatmaps ({} nudged points)",
        report.nudged.len()
    ))
}
