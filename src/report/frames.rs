//! `align --report FILE.json|FILE.csv`: per-frame diagnostics of an alignment, gathered by
//! observing the aligned chunks as the transform writes them (no second pass).
//!
//! Rows: `frame`; `rmsd_ref`, the RMSD over all points (unweighted) of the aligned frame to
//! the Kabsch reference (centred as the stage fits to it; at the reference's centre with
//! `--to-ref-center`) when the rotation is `kabsch`, else to aligned frame 0; `step_rmsd`, to
//! the previous aligned frame (empty/`null` for frame 0); `angle_deg`, the rotation applied;
//! `jump`, `step_rmsd > 5 × median step_rmsd` (median over frames 1…); `degenerate`.
//!
//! The JSON form is `{"input", "pipeline", "frames": F, "reference", "median_step_rmsd",
//! "summary": {"jumps", "jump_frames", "degenerate", "degenerate_frames"}, "rows": [...]}`.
//! The Kabsch reference is the one the pipeline built (not computed again).

use super::export::{write_csv_rows, write_json, Format};
use super::rmsd;
use crate::pipeline::Pipeline;
use crate::spec::{PipelineSpec, StageContext};
use crate::stage::FrameFacts;
use crate::transform::ChunkObserver;
use anyhow::{bail, Result};
use ndarray::{Array2, Array3, Axis};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// A step is a jump when it exceeds this multiple of the median step.
pub const JUMP_FACTOR: f64 = 5.0;

/// One frame's diagnostics.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FrameRow {
    /// Frame index.
    pub frame: usize,
    /// RMSD to the reference (Kabsch) or to aligned frame 0.
    pub rmsd_ref: f64,
    /// RMSD to the previous aligned frame (none for frame 0).
    pub step_rmsd: Option<f64>,
    /// The rotation applied, degrees.
    pub angle_deg: f64,
    /// `step_rmsd > 5 × median step_rmsd`.
    pub jump: bool,
    /// The transform was undefined; a fallback was used.
    pub degenerate: bool,
}

/// Counts and frame lists of the JSON report.
#[derive(Clone, Debug, Serialize)]
pub struct FrameSummary {
    /// Number of jump frames.
    pub jumps: usize,
    /// The jump frames.
    pub jump_frames: Vec<usize>,
    /// Number of degenerate frames.
    pub degenerate: usize,
    /// The degenerate frames.
    pub degenerate_frames: Vec<usize>,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct FrameReport {
    /// The input, as named in messages.
    pub input: String,
    /// The pipeline (`com+kabsch`).
    pub pipeline: String,
    /// Number of frames.
    pub frames: usize,
    /// What `rmsd_ref` is measured against.
    pub reference: String,
    /// The median step RMSD the jump threshold is relative to.
    pub median_step_rmsd: f64,
    /// Counts and frame lists.
    pub summary: FrameSummary,
    /// One row per frame.
    pub rows: Vec<FrameRow>,
}

/// Collects [`FrameRow`]s from the aligned chunks of a transform.
#[derive(Default)]
pub struct FrameReporter {
    reference: Option<Array2<f64>>,
    reference_name: String,
    use_frame0: bool,
    prev: Option<Array2<f64>>,
    rows: Vec<FrameRow>,
    input: String,
    spec: Option<PipelineSpec>,
}

impl FrameReporter {
    /// A reporter for the pipeline `spec`.
    pub fn new(spec: &PipelineSpec) -> FrameReporter {
        FrameReporter {
            spec: Some(spec.clone()),
            ..Default::default()
        }
    }

    /// The rows collected so far, with `jump` filled in, and the summary.
    pub fn finish(mut self) -> FrameReport {
        let mut steps: Vec<f64> = self.rows.iter().filter_map(|r| r.step_rmsd).collect();
        steps.sort_by(f64::total_cmp);
        let median = match steps.len() {
            0 => 0.0,
            n if n % 2 == 1 => steps[n / 2],
            n => 0.5 * (steps[n / 2 - 1] + steps[n / 2]),
        };
        for r in &mut self.rows {
            r.jump = r.step_rmsd.is_some_and(|s| s > JUMP_FACTOR * median);
        }
        let jump_frames: Vec<usize> = self
            .rows
            .iter()
            .filter(|r| r.jump)
            .map(|r| r.frame)
            .collect();
        let degenerate_frames: Vec<usize> = self
            .rows
            .iter()
            .filter(|r| r.degenerate)
            .map(|r| r.frame)
            .collect();
        FrameReport {
            input: self.input,
            pipeline: self.spec.map(|s| s.to_string()).unwrap_or_default(),
            frames: self.rows.len(),
            reference: self.reference_name,
            median_step_rmsd: median,
            summary: FrameSummary {
                jumps: jump_frames.len(),
                jump_frames,
                degenerate: degenerate_frames.len(),
                degenerate_frames,
            },
            rows: self.rows,
        }
    }
}

impl ChunkObserver for FrameReporter {
    fn start(&mut self, ctx: &StageContext<'_>, pipeline: &Pipeline) -> Result<()> {
        self.input = ctx.meta.source.clone();
        if self.spec.is_none() {
            bail!("frame report: no pipeline given");
        }
        if let Some(r) = pipeline.reference() {
            let mut coords = r.coords.clone();
            if ctx.options.to_ref_center {
                for mut row in coords.rows_mut() {
                    row.iter_mut().zip(&r.center).for_each(|(x, c)| *x += c);
                }
            }
            self.reference_name = format!("kabsch reference ({})", r.description);
            self.reference = Some(coords);
        } else {
            self.reference_name = "aligned frame 0".into();
            self.use_frame0 = true;
        }
        Ok(())
    }

    fn chunk(&mut self, first: usize, aligned: &Array3<f64>, facts: &[FrameFacts]) -> Result<()> {
        for (i, (frame, fact)) in aligned.axis_iter(Axis(0)).zip(facts).enumerate() {
            if self.use_frame0 && self.reference.is_none() {
                self.reference = Some(frame.to_owned());
            }
            let reference = self.reference.as_ref().expect("set in start or at frame 0");
            let step_rmsd = self.prev.as_ref().map(|p| rmsd(frame, p.view()));
            self.rows.push(FrameRow {
                frame: first + i,
                rmsd_ref: rmsd(frame, reference.view()),
                step_rmsd,
                angle_deg: fact.angle_deg,
                jump: false,
                degenerate: fact.degenerate,
            });
            match &mut self.prev {
                Some(p) => p.assign(&frame),
                None => self.prev = Some(frame.to_owned()),
            }
        }
        Ok(())
    }
}

/// Writes `report` to `path`: JSON (with the summary) or CSV (rows only) by extension.
pub fn write_frame_report(path: &Path, report: &FrameReport) -> Result<()> {
    match Format::of(path, "--report")? {
        Format::Json => write_json(path, report),
        Format::Csv => write_csv_rows(path, &report.rows),
    }
}

/// Checks a `--report` path before the run (so a bad name fails before any work).
pub fn check_report_path(path: &Path) -> Result<PathBuf> {
    Format::of(path, "--report")?;
    Ok(path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    #[test]
    fn jumps_are_relative_to_the_median_step() {
        // Frames: a point at x = 0, 1, 2, 3, 13, 14 (steps 1, 1, 1, 10, 1: median 1, so only
        // the step of 10 exceeds 5 × 1).
        let xs = [0.0, 1.0, 2.0, 3.0, 13.0, 14.0];
        let chunk = Array3::from_shape_fn(
            (xs.len(), 1, 2),
            |(f, _, d)| if d == 0 { xs[f] } else { 0.0 },
        );
        let mut rep = FrameReporter::new(&"com".parse().unwrap());
        rep.use_frame0 = true;
        rep.chunk(0, &chunk, &vec![FrameFacts::default(); xs.len()])
            .unwrap();
        let report = rep.finish();
        assert_eq!(report.summary.jump_frames, vec![4]);
        assert_eq!(report.rows[0].step_rmsd, None);
        assert_eq!(report.rows[5].rmsd_ref, 14.0);
        assert_eq!(report.median_step_rmsd, 1.0);
    }
}
