//! `align --report FILE.json|FILE.csv` and `--rmsf FILE.csv`: per-frame diagnostics of an
//! alignment, gathered by observing the aligned frames as the engine produces them.
//!
//! Rows: `frame` (index in the input); `rmsd_ref`, the RMSD of the aligned frame to the Kabsch
//! reference (as fitted: centred, or at the reference's centre with `--to-ref-center`) — else to
//! aligned frame 0 — over the fit set with the fit weights, which is the number MDAnalysis
//! `AlignTraj.results.rmsd` and `gmx rms` report; `rmsd_all`, the same over all points,
//! unweighted; `step_rmsd`, all points to the previous aligned frame (null for the first);
//! `angle_deg`, the rotation applied; `jump`, `step_rmsd > 5 × median step_rmsd`; `degenerate`.
//! The JSON form adds a summary with the jump and degenerate frames and `rmsf`: per point, the
//! root-mean-square fluctuation about the mean aligned structure, `sqrt(mean_f ‖x_fi − x̄_i‖²)`.

use super::export::{write_csv_rows, write_json, Format};
use crate::engine::{ChunkView, Observer};
use crate::formats::TrajMeta;
use crate::options::PipelineSpec;
use crate::stages::{Fit, Reference};
use anyhow::Result;
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;

/// A step is a jump when it exceeds this multiple of the median step.
pub const JUMP_FACTOR: f64 = 5.0;

/// One frame's diagnostics.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FrameRow {
    /// Frame index in the input.
    pub frame: usize,
    /// RMSD over the fit set, fit-weighted, to the reference (or aligned frame 0).
    pub rmsd_ref: f64,
    /// RMSD over all points, unweighted, to the same.
    pub rmsd_all: f64,
    /// RMSD over all points to the previous aligned frame (none for the first).
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
    /// Per point: RMS fluctuation about the mean aligned structure.
    pub rmsf: Vec<f64>,
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
    /// Counts, frame lists and RMSF.
    pub summary: FrameSummary,
    /// One row per frame.
    pub rows: Vec<FrameRow>,
}

/// Collects [`FrameRow`]s and the RMSF sums from the aligned frames of a run.
pub struct FrameReporter {
    input: String,
    pipeline: String,
    reference: Option<Vec<f64>>,
    reference_name: String,
    fit: Fit,
    dims: usize,
    prev: Option<Vec<f64>>,
    rows: Vec<FrameRow>,
    /// Welford running mean and sum of squared deviations per coordinate.
    mean: Vec<f64>,
    m2: Vec<f64>,
    counted: usize,
}

impl FrameReporter {
    /// A reporter for frames of `meta` aligned by `pipeline` onto `reference` (Kabsch) or onto
    /// their first frame.
    pub fn new(
        meta: &TrajMeta,
        pipeline: &PipelineSpec,
        reference: Option<Arc<Reference>>,
        fit: Fit,
        to_ref_center: bool,
    ) -> FrameReporter {
        let (coords, name) = match reference {
            Some(r) => {
                let mut c = r.coords.clone();
                if to_ref_center {
                    for row in c.chunks_exact_mut(meta.dims) {
                        row.iter_mut().zip(&r.center).for_each(|(x, o)| *x += o);
                    }
                }
                (Some(c), format!("kabsch reference ({})", r.description))
            }
            None => (None, "aligned first frame".to_string()),
        };
        FrameReporter {
            input: meta.source.clone(),
            pipeline: pipeline.to_string(),
            reference: coords,
            reference_name: name,
            fit,
            dims: meta.dims,
            prev: None,
            rows: Vec::new(),
            mean: vec![0.0; meta.frame_len()],
            m2: vec![0.0; meta.frame_len()],
            counted: 0,
        }
    }

    /// The report, with `jump` filled in and the RMSF.
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
        let pick = |f: fn(&FrameRow) -> bool| -> Vec<usize> {
            self.rows.iter().filter(|r| f(r)).map(|r| r.frame).collect()
        };
        let (jump_frames, degenerate_frames) = (pick(|r| r.jump), pick(|r| r.degenerate));
        let n = self.counted.max(1) as f64;
        let rmsf = self
            .m2
            .chunks_exact(self.dims)
            .map(|m| (m.iter().sum::<f64>() / n).sqrt())
            .collect();
        FrameReport {
            input: self.input,
            pipeline: self.pipeline,
            frames: self.rows.len(),
            reference: self.reference_name,
            median_step_rmsd: median,
            summary: FrameSummary {
                jumps: jump_frames.len(),
                jump_frames,
                degenerate: degenerate_frames.len(),
                degenerate_frames,
                rmsf,
            },
            rows: self.rows,
        }
    }

    fn add(&mut self, index: usize, frame: &[f64], degenerate: bool, angle_deg: f64) {
        let reference = self.reference.get_or_insert_with(|| frame.to_vec());
        let rmsd_ref = self.fit.rmsd(frame, reference, self.dims);
        let rmsd_all = rmsd(frame, reference, self.dims);
        let step_rmsd = self.prev.as_deref().map(|p| rmsd(frame, p, self.dims));
        self.rows.push(FrameRow {
            frame: index,
            rmsd_ref,
            rmsd_all,
            step_rmsd,
            angle_deg,
            jump: false,
            degenerate,
        });
        match &mut self.prev {
            Some(p) => p.copy_from_slice(frame),
            None => self.prev = Some(frame.to_vec()),
        }
        if frame.iter().all(|v| v.is_finite()) {
            self.counted += 1;
            let n = self.counted as f64;
            for ((m, s), &x) in self.mean.iter_mut().zip(self.m2.iter_mut()).zip(frame) {
                let d = x - *m;
                *m += d / n;
                *s += d * (x - *m);
            }
        }
    }
}

/// RMSD over all points, unweighted, of two `N × D` frames.
pub fn rmsd(a: &[f64], b: &[f64], dims: usize) -> f64 {
    let n = (a.len() / dims.max(1)).max(1) as f64;
    (a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>() / n).sqrt()
}

impl Observer for FrameReporter {
    fn chunk(&mut self, view: &ChunkView<'_>) -> Result<()> {
        for i in 0..view.frames {
            let fact = view.facts[i];
            self.add(
                view.source_index(i),
                view.frame(i),
                fact.degenerate,
                fact.angle_deg,
            );
        }
        Ok(())
    }
}

/// Writes `report` to `path`: JSON (with the summary) or CSV (rows only) by extension.
pub fn write_frame_report(path: &Path, report: &FrameReport) -> Result<()> {
    match Format::of(path, "report")? {
        Format::Json => write_json(path, report),
        Format::Csv => write_csv_rows(path, &report.rows),
    }
}

/// One RMSF row.
#[derive(Serialize)]
struct RmsfRow {
    point: usize,
    rmsf: f64,
}

/// Writes the RMSF per point as CSV (`point,rmsf`).
pub fn write_rmsf(path: &Path, report: &FrameReport) -> Result<()> {
    let rows: Vec<RmsfRow> = report
        .summary
        .rmsf
        .iter()
        .enumerate()
        .map(|(point, &rmsf)| RmsfRow { point, rmsf })
        .collect();
    write_csv_rows(path, &rows)
}

impl Fit {
    /// RMSD over the fit set with the fit weights, `sqrt(Σ w_i ‖a_i − b_i‖² / Σ w_i)`, of two
    /// `N × D` frames (what MDAnalysis `rms.rmsd(weights=…)` computes).
    pub fn rmsd(&self, a: &[f64], b: &[f64], dims: usize) -> f64 {
        let sum: f64 = self
            .indices
            .iter()
            .zip(&self.weights)
            .map(|(&i, &w)| {
                let (x, y) = (&a[i * dims..(i + 1) * dims], &b[i * dims..(i + 1) * dims]);
                w * x.iter().zip(y).map(|(p, q)| (p - q) * (p - q)).sum::<f64>()
            })
            .sum();
        (sum / self.total_weight).sqrt()
    }

    /// Weighted RMS distance of the fit points from the origin (a length scale).
    pub fn rms(&self, a: &[f64], dims: usize) -> f64 {
        self.rmsd(a, &vec![0.0; a.len()], dims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jumps_are_relative_to_the_median_step_and_rmsf_is_about_the_mean() {
        // One point moving along x: 0, 1, 2, 3, 13, 14 (steps 1, 1, 1, 10, 1: median 1, so
        // only the step of 10 exceeds 5 × 1). Mean x = 33/6 = 5.5; RMSF² = mean (x − 5.5)² =
        // (30.25 + 20.25 + 12.25 + 6.25 + 56.25 + 72.25) / 6 = 197.5 / 6, by hand.
        let meta = TrajMeta {
            source: "t".into(),
            key: "arr".into(),
            frames: 6,
            points: 1,
            dims: 2,
            width: crate::formats::Width::F64,
            big_endian: false,
            unit: "",
            dt: None,
        };
        let mut rep = FrameReporter::new(&meta, &"com".parse().unwrap(), None, Fit::all(1), false);
        for (i, x) in [0.0, 1.0, 2.0, 3.0, 13.0, 14.0].into_iter().enumerate() {
            rep.add(i, &[x, 0.0], false, 0.0);
        }
        let report = rep.finish();
        assert_eq!(report.summary.jump_frames, vec![4]);
        assert_eq!(report.rows[0].step_rmsd, None);
        assert_eq!(report.rows[5].rmsd_ref, 14.0);
        assert_eq!(report.median_step_rmsd, 1.0);
        assert!((report.summary.rmsf[0] - (197.5f64 / 6.0).sqrt()).abs() < 1e-12);
    }
}
