//! Reports on what an alignment does to the data (SPEC §4), beside the main data line: each is
//! an observer of the engine's aligned frames, then an exporter.
//!
//! - [`frames`]: the per-frame diagnostics and RMSF of `align --report`.
//! - [`sensitivity`]: the book's perturbation experiment, measured as a Jacobian-norm matrix.
//! - [`check`]: random rigid motions of the whole input must not change the alignment.
//! - [`plots`]: `aligntraj plot --kind …`: [`overlay`] (the book's figure: raw input and each
//!   pipeline, frames coloured by time), [`curves`] (RMSD and RMSF), sensitivity heatmaps.
//! - [`export`]: JSON and CSV writers; [`plot`]: shared drawing helpers (font, colour map).
//!
//! Every file is written atomically.

pub mod check;
pub mod curves;
pub mod export;
pub mod frames;
pub mod overlay;
pub mod plot;
pub mod plots;
pub mod sensitivity;

use crate::formats::TrajMeta;
use crate::io::InputLocation;
use crate::options::PipelineSpec;
use crate::plan::{load_fit, Input, InputOptions, PipelineContext, StageOptions};
use crate::stages::{Fit, FrameFacts, Reference, Step};
use crate::topology::residues::Residues;
use crate::topology::Topology;
use anyhow::{anyhow, Result};
use std::sync::Arc;

/// The pipelines to report on: `given`, or `defaults` when none are given.
pub fn pipelines_or(given: &[PipelineSpec], defaults: &[&str]) -> Vec<PipelineSpec> {
    if given.is_empty() {
        defaults.iter().filter_map(|d| d.parse().ok()).collect()
    } else {
        given.to_vec()
    }
}

/// What the rows and columns of a sensitivity matrix (and an RMSF plot's x axis) are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Per {
    /// One per point (atom).
    #[default]
    Point,
    /// One per residue (needs a topology): means over the residue's atoms.
    Residue,
}

impl Per {
    /// The residues to aggregate over: with `Some(Residue)`, or with `None` (the default) when
    /// a topology is known; an error for `Some(Residue)` without a topology.
    pub fn residues(per: Option<Per>, topology: Option<&Topology>) -> Result<Option<Residues>> {
        match (per, topology) {
            (Some(Per::Point), _) | (None, None) => Ok(None),
            (Some(Per::Residue) | None, Some(top)) => Ok(Some(Residues::of(top))),
            (Some(Per::Residue), None) => Err(crate::topology::needs_topology("--per residue")),
        }
    }
}

/// One pipeline of a report command, built for the input.
pub struct BuiltPipeline {
    /// As given (`com+kabsch`).
    pub spec: PipelineSpec,
    /// Its steps.
    pub steps: Vec<Step>,
    /// The Kabsch reference, when it rotates by Kabsch.
    pub reference: Option<Arc<Reference>>,
}

/// An input opened for a report command, with everything the reports need to know about it.
pub struct Opened {
    /// The opened input (a source per pass).
    pub input: Input,
    /// The trajectory's shape.
    pub meta: TrajMeta,
    /// The pipelines compared.
    pub pipelines: Vec<BuiltPipeline>,
    /// The topology (`--top`, or a PDB/GRO input), if any.
    pub topology: Option<Topology>,
    /// The fit set and weights.
    pub fit: Fit,
    /// Whether a fit set was chosen (`--fit-points`, `--select`, `--ndx`): else all points.
    pub fit_chosen: bool,
}

/// Opens the input of a report command and builds each pipeline's steps (references loaded
/// from the input as `align` would). A piped input is copied to a temporary file first (the
/// reports read it more than once).
pub fn open_pipelines(
    input: &InputOptions,
    stages: &StageOptions,
    given: &[PipelineSpec],
    defaults: &[&str],
) -> Result<Opened> {
    let location = input.location.clone().unwrap_or(InputLocation::Stdin);
    let mut opened = Input::open(&location, input.format, true, &std::env::temp_dir(), false)?;
    let meta = opened.source(input.key.as_deref())?.meta().clone();
    let topology = crate::plan::load_topology(
        input,
        &opened,
        meta.points,
        stages.masses.as_deref() == Some("topology"),
    )?;
    let fit = load_fit(stages, &opened, topology.as_ref(), meta.points)?;
    let mut ctx = PipelineContext {
        input: &mut opened,
        meta: meta.clone(),
        fit: fit.clone(),
        options: stages.clone(),
        input_options: input.clone(),
        check_centred: false,
        pending: None,
        motion: None,
    };
    let mut built = Vec::new();
    for spec in pipelines_or(given, defaults) {
        let (steps, reference) = ctx
            .build(&spec)
            .map_err(|e| anyhow!("pipeline {spec}: {e:#}"))?;
        built.push(BuiltPipeline {
            spec,
            steps,
            reference,
        });
    }
    let fit_chosen = stages.fit_points.is_some() || stages.select.is_some() || stages.ndx.is_some();
    Ok(Opened {
        input: opened,
        meta,
        pipelines: built,
        topology,
        fit,
        fit_chosen,
    })
}

/// Aligns one frame on its own, as the first frame of a trajectory (stages that depend on the
/// previous frame start afresh).
pub fn align_one(steps: &[Step], frame: &mut [f64]) -> FrameFacts {
    let mut facts = FrameFacts::default();
    for step in steps {
        facts.merge(match step {
            Step::Parallel(s) => s.apply(frame),
            Step::Ordered(s) => s.fresh().apply(frame),
        });
    }
    facts
}

/// Radius of gyration (unweighted, about the centroid) of an `N × D` frame.
pub fn radius_of_gyration(x: &[f64], dims: usize) -> f64 {
    let n = (x.len() / dims.max(1)).max(1) as f64;
    let mut total = 0.0;
    for d in 0..dims {
        let mean = x.iter().skip(d).step_by(dims).sum::<f64>() / n;
        total += x
            .iter()
            .skip(d)
            .step_by(dims)
            .map(|v| (v - mean) * (v - mean))
            .sum::<f64>();
    }
    (total / n).sqrt()
}

/// Frame indices `0..frames` sampled evenly: all of them when `n` is `None` or ≥ frames,
/// otherwise `n` indices `⌊i · frames / n⌋`.
pub fn sample_frames(frames: usize, n: Option<usize>) -> Vec<usize> {
    match n {
        Some(n) if n < frames => (0..n).map(|i| i * frames / n).collect(),
        _ => (0..frames).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_is_even_and_bounded() {
        assert_eq!(sample_frames(10, Some(5)), vec![0, 2, 4, 6, 8]);
        assert_eq!(sample_frames(3, Some(5)), vec![0, 1, 2]);
        assert_eq!(sample_frames(4, None), vec![0, 1, 2, 3]);
    }

    #[test]
    fn rg_of_a_unit_square_is_sqrt_half() {
        // Corners (±½, ±½) about the centroid: every point is √(½) from it.
        let sq = [0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0];
        assert!((radius_of_gyration(&sq, 2) - 0.5f64.sqrt()).abs() < 1e-15);
    }
}
