//! `aligntraj sensitivity`: the book's perturbation experiment ("perturbing one point alters
//! all others after alignment"), measured.
//!
//! For each pipeline, each sampled frame f and each point k, point k is moved by `δ·u` (u = +x,
//! or with `--direction random` a random unit vector drawn per frame and point from `--seed`),
//! the perturbed and the original frame are aligned on their own, and each point's displacement
//! `d_j(δ) = ‖aligned′_j − aligned_j‖` is measured, for δ = `linspace(0, max_delta, steps)`.
//!
//! - `S[k][j]` = mean over frames of `d_j(δ₁)/δ₁`, δ₁ the smallest non-zero δ (a Jacobian norm);
//! - `self` = mean_k S[k][k]; `cross_mean` = mean over k ≠ j of S[k][j]; `cross_max` its maximum;
//!   `leak_k` = Σ_{j≠k} S[k][j]; `leak_mean` = mean_k leak_k;
//!   `unevenness` = std_k(leak_k) / leak_mean (population std; 0 when leak_mean is 0).
//!
//! A nudge whose alignment jumps (aligned frame moved by RMSD > max(0.25 Rg, 10 δ₁) at δ₁: an
//! axis sign flip or swap, e.g. where the skew rule's third moment crosses zero) is not a
//! derivative: it is counted under `discontinuities` and left out of S (the mean for row k is
//! over the remaining frames); the sweep keeps every nudge.
//!
//! Each frame is aligned independently, so `--sign continuous` (which depends on the previous
//! frame) has no meaning here: the skew sign rule is used instead. A Kabsch reference is built
//! once from the input (`--ref`); perturbing a frame does not perturb the reference.
//!
//! JSON schema (`--report FILE.json`; these names are stable, more may be added):
//! ```text
//! { "input": str, "points": N, "dims": D, "direction": "x"|"random", "seed": u64,
//!   "frames": [frame indices used], "nudged": [the points nudged: the rows of S],
//!   "deltas": [δ₀ = 0, δ₁, …],
//!   "sweep_points": [--sweep-points, if any],
//!   "residues": [{resname, resid, segid, chain, first, atoms}, …] and
//!   "residue_rows": [residue of each residue_matrix row] (per residue only),
//!   "pipelines": [ { "name": "com+principal",
//!                    "matrix": S (nudged × N, row r = point nudged[r], column j = point
//!                              measured),
//!                    "sweep": [r][step] = d_j(δ_step) averaged over frames and over j ≠ k,
//!                    "sweep_full": [i][step][j] = d_j(δ_step) for sweep_points[i],
//!                    "residue_matrix": per residue only, residue_rows × residues: the mean of
//!                                      S over the atom pairs of the two residues,
//!                    "leak": [leak_k],
//!                    "discontinuities": { "count", "rate", "first": [[frame, point], …] },
//!                    "degenerate_alignments": count of perturbed or original alignments
//!                                             that fell back to a default rotation,
//!                    "summary": { "self", "cross_mean", "cross_max", "leak_mean",
//!                                 "unevenness" } }, … ] }
//! ```

use super::export::{write_csv_matrix, write_json};
use super::plot::Heatmaps;
use super::{align_one, open_pipelines, radius_of_gyration, sample_frames, Per};
use crate::engine::{self, ChunkView, Observer, RunOptions};
use crate::options::PointChoice;
use crate::options::SignRule;
use crate::plan::{InputOptions, StageOptions};
use crate::stages::Step;
use crate::topology::residues::{Residue, Residues};
use anyhow::Result;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::PathBuf;

/// `--max-delta` by default.
pub const DEFAULT_MAX_DELTA: f64 = 0.2;
/// `--steps` by default.
pub const DEFAULT_STEPS: usize = 16;

/// The pipelines compared when none are given.
pub const DEFAULT_PIPELINES: [&str; 2] = ["com+principal", "point0+point-vector"];

/// Which way a point is nudged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Direction {
    /// Along +x (the book's experiment).
    X,
    /// A random unit vector per frame and point.
    Random,
}

/// What to measure.
#[derive(Clone, Debug)]
pub struct SensitivityRequest {
    /// The input, key and frame range.
    pub input: InputOptions,
    /// Stage options (`--masses`, `--fit-points`, `--ref`, …).
    pub stages: StageOptions,
    /// `--pipeline` values (default [`DEFAULT_PIPELINES`]).
    pub pipelines: Vec<crate::options::PipelineSpec>,
    /// `--frames N`: sample N frames evenly (default all).
    pub frames: Option<usize>,
    /// `--max-delta`.
    pub max_delta: f64,
    /// `--steps` (number of δ values including 0).
    pub steps: usize,
    /// `--direction`.
    pub direction: Direction,
    /// `--seed`.
    pub seed: u64,
    /// `--points`: the points nudged, indices or a selection (default: the fit set — all
    /// points when none was chosen — if it has at most 512 points, else 256 of it spread
    /// evenly, or with `--per residue` an even share of every residue).
    pub nudged: Option<PointChoice>,
    /// `--sweep-points`: points whose full sweep `d_j(δ)` (every j, every δ) is kept.
    pub sweep_points: Option<PointChoice>,
    /// `--per residue`: also aggregate S into a residue × residue matrix (needs a topology);
    /// `None`: per residue when a topology is known, else per point.
    pub per: Option<Per>,
}

/// Points nudged by default: all of them up to this many…
pub const ALL_POINTS_UP_TO: usize = 512;
/// …else this many, spread evenly.
pub const SAMPLED_POINTS: usize = 256;

/// The five numbers of SPEC §4.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Summary {
    /// mean_k S[k][k].
    #[serde(rename = "self")]
    pub self_: f64,
    /// mean over k ≠ j of S[k][j].
    pub cross_mean: f64,
    /// max over k ≠ j of S[k][j].
    pub cross_max: f64,
    /// mean_k Σ_{j≠k} S[k][j].
    pub leak_mean: f64,
    /// std_k(leak_k) / leak_mean.
    pub unevenness: f64,
}

/// Nudges whose alignment responded discontinuously: at δ₁ the aligned frame moved (RMSD)
/// by more than `max(0.25 × Rg, 10 × δ₁)`: a sign flip or swap of axes, not a derivative.
/// They are left out of S (which would otherwise hold `jump/δ₁` terms that grow without
/// bound as δ₁ shrinks) and counted here; the sweep keeps them.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Discontinuities {
    /// Number of (frame, point) nudges that jumped.
    pub count: usize,
    /// `count / (frames × points)`.
    pub rate: f64,
    /// The first few as `[frame, point]`.
    pub first: Vec<[usize; 2]>,
}

/// Per-thread sums of one pipeline's measurements: for each nudged point (row r), the
/// displacement of every point at δ₁ (`s`, rows × N) and the mean displacement of the other
/// points at every δ (`sweep`, rows × steps) — memory O(rows × N), never O(N² × steps).
struct Acc {
    sweep: Vec<f64>,
    /// Per row: `steps × N` sums of `d_j(δ)` for a `--sweep-points` row, else empty.
    full: Vec<Vec<f64>>,
    s: Vec<f64>,
    kept: Vec<usize>,
    degenerate: usize,
    jumps: Vec<(usize, usize)>,
}

/// A nudge is a discontinuity when the aligned frame moves (RMSD) by more than this fraction
/// of the frame's radius of gyration…
pub const JUMP_RG: f64 = 0.25;
/// …and by more than this multiple of δ₁.
pub const JUMP_DELTA: f64 = 10.0;

/// One pipeline's results.
#[derive(Clone, Debug, Serialize)]
pub struct PipelineSensitivity {
    /// `com+principal`.
    pub name: String,
    /// `S[r][j]`: row r for the nudged point `points[r]` of the report, column j for every point.
    pub matrix: Vec<Vec<f64>>,
    /// `[r][step]`: `d_j(δ_step)` averaged over the other points j and over frames, for the
    /// nudged point `points[r]`.
    pub sweep: Vec<Vec<f64>>,
    /// `leak_k`.
    pub leak: Vec<f64>,
    /// With `--per residue`: row r for residue `residue_rows[r]` of the report, a column per
    /// residue: the mean of `S[k][j]` over the nudged atoms k of the row's residue and all
    /// atoms j of the column's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub residue_matrix: Option<Vec<Vec<f64>>>,
    /// With `--sweep-points`: per sweep point (in the report's `sweep_points` order),
    /// `[step][j]` = `d_j(δ_step)` averaged over frames, every point j.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sweep_full: Vec<Vec<Vec<f64>>>,
    /// Alignments (original or perturbed) that were degenerate.
    pub degenerate_alignments: usize,
    /// Nudges at δ₁ whose aligned result jumped (see [`Discontinuities`]); left out of S.
    pub discontinuities: Discontinuities,
    /// The summary numbers.
    pub summary: Summary,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct SensitivityReport {
    /// The input, as named in messages.
    pub input: String,
    /// Points per frame.
    pub points: usize,
    /// Dimensions.
    pub dims: usize,
    /// `x` or `random`.
    pub direction: String,
    /// The seed of random directions.
    pub seed: u64,
    /// The frames used.
    pub frames: Vec<usize>,
    /// The points nudged (the rows of each matrix), ascending.
    pub nudged: Vec<usize>,
    /// The δ values, starting at 0.
    pub deltas: Vec<f64>,
    /// The points whose full sweep is kept (`--sweep-points`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sweep_points: Vec<usize>,
    /// With `--per residue`: every residue of the topology (the columns of `residue_matrix`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub residues: Option<Vec<Residue>>,
    /// With `--per residue`: the residue (index into `residues`) of each row of
    /// `residue_matrix`: the residues holding a nudged point.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub residue_rows: Vec<usize>,
    /// One entry per pipeline.
    pub pipelines: Vec<PipelineSensitivity>,
}

/// Runs the experiment: one engine pass over the input, the sampled frames measured by an
/// observer as they stream by (frames of a chunk in parallel).
pub fn run_sensitivity(req: &SensitivityRequest) -> Result<SensitivityReport> {
    let mut stages = req.stages.clone();
    // Frames are aligned one at a time: continuous signs have no previous frame.
    stages.sign = SignRule::Skew;
    let mut opened = open_pipelines(&req.input, &stages, &req.pipelines, &DEFAULT_PIPELINES)?;
    let meta = opened.meta.clone();
    let source = opened.input.source(req.input.key.as_deref())?;
    let (start, count) = req.input.frames.resolve(meta.frames);
    let frames: Vec<usize> = sample_frames(count, req.frames)
        .into_iter()
        .map(|i| start + i * req.input.frames.step)
        .collect();
    let deltas: Vec<f64> = (0..req.steps)
        .map(|s| req.max_delta * s as f64 / (req.steps - 1) as f64)
        .collect();
    let n = meta.points;
    let residues = Per::residues(req.per, opened.topology.as_ref())?;
    let chosen = NudgeChoice {
        points: n,
        topology: opened.topology.as_ref(),
        fit: opened.fit_chosen.then_some(opened.fit.indices.as_slice()),
        residues: residues.as_ref(),
    };
    let sweep_points = match &req.sweep_points {
        Some(c) => c
            .resolve(n, opened.topology.as_ref())
            .map_err(|e| anyhow::anyhow!("--sweep-points {e:#}"))?,
        None => Vec::new(),
    };
    let mut nudged = chosen.nudged(req.nudged.as_ref())?;
    nudged.extend(&sweep_points);
    nudged.sort_unstable();
    nudged.dedup();
    let rows = nudged.len();
    let full_rows: Vec<bool> = nudged
        .iter()
        .map(|k| sweep_points.binary_search(k).is_ok())
        .collect();
    let mut observer = Measure {
        pipelines: std::mem::take(&mut opened.pipelines)
            .into_iter()
            .map(|p| {
                let acc = Acc::zero(rows, n, deltas.len(), &full_rows);
                (p.spec.to_string(), p.steps, acc)
            })
            .collect(),
        nudged: &nudged,
        wanted: frames.clone(),
        next: 0,
        deltas: &deltas,
        dims: meta.dims,
        direction: req.direction,
        seed: req.seed,
    };
    let run = RunOptions {
        chunk_frames: req.input.chunk_frames,
        allow_nonfinite: false,
        range: req.input.frames,
        progress: Some("sensitivity".into()),
        unwrap: None,
    };
    engine::run(source, &mut [], None, &mut [&mut observer], &run)?;
    let residue_rows: Vec<usize> = match &residues {
        Some(r) => {
            let mut rows: Vec<usize> = nudged.iter().map(|&k| r.of_atom[k]).collect();
            rows.dedup();
            rows
        }
        None => Vec::new(),
    };
    let results = observer
        .pipelines
        .into_iter()
        .map(|(name, _, acc)| {
            let mut p = acc.finish(name, frames.len(), &nudged, n, deltas.len());
            p.residue_matrix = residues
                .as_ref()
                .map(|r| residue_matrix(&p.matrix, &nudged, r, &residue_rows));
            p
        })
        .collect();
    Ok(SensitivityReport {
        input: meta.source.clone(),
        points: meta.points,
        dims: meta.dims,
        direction: match req.direction {
            Direction::X => "x".into(),
            Direction::Random => "random".into(),
        },
        seed: req.seed,
        frames,
        nudged,
        deltas,
        sweep_points,
        residues: residues.map(|r| r.list),
        residue_rows,
        pipelines: results,
    })
}

/// What the default choice of nudged points depends on.
struct NudgeChoice<'a> {
    points: usize,
    topology: Option<&'a crate::topology::Topology>,
    /// The chosen fit set, if one was chosen.
    fit: Option<&'a [usize]>,
    /// With `--per residue`.
    residues: Option<&'a Residues>,
}

impl NudgeChoice<'_> {
    /// The points to nudge: `--points`; else the fit set (all points when none was chosen)
    /// when it has at most [`ALL_POINTS_UP_TO`] points; else [`SAMPLED_POINTS`] of it spread
    /// evenly — with `--per residue`, an even share of each residue's (at least one) — with a
    /// note. Nudging a point outside the fit set moves no other point, so those rows say
    /// nothing about the alignment.
    fn nudged(&self, given: Option<&PointChoice>) -> Result<Vec<usize>> {
        if let Some(choice) = given {
            return choice
                .resolve(self.points, self.topology)
                .map_err(|e| anyhow::anyhow!("--points {e:#}"));
        }
        let base: Vec<usize> = match self.fit {
            Some(fit) => fit.to_vec(),
            None => (0..self.points).collect(),
        };
        let of = if self.fit.is_some() {
            "fit points"
        } else {
            "points"
        };
        if base.len() <= ALL_POINTS_UP_TO {
            return Ok(base);
        }
        let picked = match self.residues {
            Some(r) => spread_per_residue(&base, r),
            None => spread(&base, SAMPLED_POINTS),
        };
        let how = if self.residues.is_some() {
            "an even share of every residue"
        } else {
            "spread evenly"
        };
        crate::text::warn(&format!(
            "{} {of}: nudging {} of them, {how} (choose with --points)",
            base.len(),
            picked.len()
        ));
        Ok(picked)
    }
}

/// `count` entries of `from` spread evenly (`from[⌊i·len/count⌋]`).
fn spread(from: &[usize], count: usize) -> Vec<usize> {
    if from.len() <= count {
        return from.to_vec();
    }
    (0..count).map(|i| from[i * from.len() / count]).collect()
}

/// About [`SAMPLED_POINTS`] of `from` in all, the same number from every residue holding
/// any (at least one each), spread evenly within the residue; with more residues than that,
/// the first atom of [`SAMPLED_POINTS`] residues spread evenly.
fn spread_per_residue(from: &[usize], residues: &Residues) -> Vec<usize> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut last = usize::MAX;
    for &k in from {
        let r = residues.of_atom[k];
        if r != last || groups.is_empty() {
            groups.push(Vec::new());
            last = r;
        }
        if let Some(g) = groups.last_mut() {
            g.push(k);
        }
    }
    if groups.len() > SAMPLED_POINTS {
        // More residues than nudges (a solvated system): one atom from each of SAMPLED_POINTS
        // residues spread evenly.
        return (0..SAMPLED_POINTS)
            .map(|i| groups[i * groups.len() / SAMPLED_POINTS][0])
            .collect();
    }
    let each = (SAMPLED_POINTS / groups.len().max(1)).max(1);
    groups.iter().flat_map(|g| spread(g, each)).collect()
}

/// S aggregated per residue: row r for residue `rows[r]`, column c for residue c, the mean of
/// `S[k][j]` over the nudged atoms k in the row's residue and every atom j of the column's.
pub fn residue_matrix(
    s: &[Vec<f64>],
    nudged: &[usize],
    residues: &Residues,
    rows: &[usize],
) -> Vec<Vec<f64>> {
    let ncol = residues.list.len();
    let mut out = vec![vec![0.0; ncol]; rows.len()];
    let mut count = vec![0usize; rows.len()];
    for (row, &k) in s.iter().zip(nudged) {
        let Ok(r) = rows.binary_search(&residues.of_atom[k]) else {
            continue;
        };
        count[r] += 1;
        for (c, res) in residues.list.iter().enumerate() {
            let cells = &row[res.first..res.first + res.atoms];
            out[r][c] += cells.iter().sum::<f64>() / res.atoms as f64;
        }
    }
    for (row, &c) in out.iter_mut().zip(&count) {
        row.iter_mut().for_each(|v| *v /= c.max(1) as f64);
    }
    out
}

/// The sensitivity observer: measures the sampled frames of each chunk.
struct Measure<'d> {
    pipelines: Vec<(String, Vec<Step>, Acc)>,
    nudged: &'d [usize],
    wanted: Vec<usize>,
    next: usize,
    deltas: &'d [f64],
    dims: usize,
    direction: Direction,
    seed: u64,
}

impl Observer for Measure<'_> {
    fn chunk(&mut self, view: &ChunkView<'_>) -> Result<()> {
        let mut picked = Vec::new();
        for i in 0..view.frames {
            let index = view.source_index(i);
            while self.next < self.wanted.len() && self.wanted[self.next] < index {
                self.next += 1;
            }
            if self.next < self.wanted.len() && self.wanted[self.next] == index {
                picked.push((index, view.frame(i)));
            }
        }
        let (deltas, dims, dir, seed) = (self.deltas, self.dims, self.direction, self.seed);
        let nudged = self.nudged;
        for (_, steps, acc) in &mut self.pipelines {
            for &(f, frame) in &picked {
                acc.measure_frame(steps, f, frame, nudged, deltas, dims, dir, seed);
            }
        }
        Ok(())
    }
}

impl Acc {
    fn zero(rows: usize, n: usize, steps: usize, full: &[bool]) -> Acc {
        Acc {
            sweep: vec![0.0; rows * steps],
            full: full
                .iter()
                .map(|&f| if f { vec![0.0; steps * n] } else { Vec::new() })
                .collect(),
            s: vec![0.0; rows * n],
            kept: vec![0; rows],
            degenerate: 0,
            jumps: Vec::new(),
        }
    }

    /// Nudges each point of `nudged` in one frame at every δ (the nudged points in parallel)
    /// and accumulates the displacements.
    #[allow(clippy::too_many_arguments)]
    fn measure_frame(
        &mut self,
        steps: &[Step],
        f: usize,
        frame: &[f64],
        nudged: &[usize],
        deltas: &[f64],
        dims: usize,
        dir: Direction,
        seed: u64,
    ) {
        let n = frame.len() / dims;
        let nsteps = deltas.len();
        let mut aligned = frame.to_vec();
        self.degenerate += align_one(steps, &mut aligned).degenerate as usize;
        let jump_at = (JUMP_RG * radius_of_gyration(frame, dims)).max(JUMP_DELTA * deltas[1]);
        let aligned = &aligned;
        let rows = self
            .s
            .par_chunks_mut(n)
            .zip(self.sweep.par_chunks_mut(nsteps))
            .zip(self.kept.par_iter_mut())
            .zip(self.full.par_iter_mut())
            .zip(nudged.par_iter());
        let (degenerate, jumps) = rows
            .map_init(
                || (frame.to_vec(), vec![0.0; n]),
                |(work, d), ((((s_row, sweep_row), kept), full), &k)| {
                    let mut degenerate = 0;
                    let mut jumped = false;
                    let u = direction_vector(dir, dims, seed, f, k);
                    for (st, &delta) in deltas.iter().enumerate().skip(1) {
                        work.copy_from_slice(frame);
                        work[k * dims..(k + 1) * dims]
                            .iter_mut()
                            .zip(&u)
                            .for_each(|(x, u)| *x += delta * u);
                        degenerate += align_one(steps, work).degenerate as usize;
                        for (j, dj) in d.iter_mut().enumerate() {
                            let (a, b) = (
                                &work[j * dims..(j + 1) * dims],
                                &aligned[j * dims..(j + 1) * dims],
                            );
                            *dj = a
                                .iter()
                                .zip(b)
                                .map(|(x, y)| (x - y) * (x - y))
                                .sum::<f64>()
                                .sqrt();
                        }
                        if !full.is_empty() {
                            full[st * n..(st + 1) * n]
                                .iter_mut()
                                .zip(d.iter())
                                .for_each(|(a, x)| *a += x);
                        }
                        let others: f64 = d.iter().sum::<f64>() - d[k];
                        sweep_row[st] += others / (n.max(2) - 1) as f64;
                        if st == 1 {
                            if super::frames::rmsd(work, aligned, dims) > jump_at {
                                jumped = true;
                            } else {
                                s_row
                                    .iter_mut()
                                    .zip(d.iter())
                                    .for_each(|(a, x)| *a += x / delta);
                                *kept += 1;
                            }
                        }
                    }
                    (degenerate, jumped.then_some((f, k)))
                },
            )
            .fold(
                || (0usize, Vec::new()),
                |(dg, mut js), (d, j)| {
                    js.extend(j);
                    (dg + d, js)
                },
            )
            .reduce(
                || (0, Vec::new()),
                |(a, mut x), (b, y)| {
                    x.extend(y);
                    (a + b, x)
                },
            );
        self.degenerate += degenerate;
        self.jumps.extend(jumps);
    }

    /// The pipeline's results from the sums over `count` frames.
    fn finish(
        self,
        name: String,
        count: usize,
        nudged: &[usize],
        n: usize,
        steps: usize,
    ) -> PipelineSensitivity {
        let frames = count.max(1) as f64;
        let sweep = self
            .sweep
            .chunks_exact(steps.max(1))
            .map(|r| r.iter().map(|v| v / frames).collect())
            .collect();
        let matrix: Vec<Vec<f64>> = self
            .s
            .chunks_exact(n.max(1))
            .zip(&self.kept)
            .map(|(row, &kept)| row.iter().map(|v| v / kept.max(1) as f64).collect())
            .collect();
        let mut jumps = self.jumps;
        jumps.sort_unstable();
        let discontinuities = Discontinuities {
            count: jumps.len(),
            rate: jumps.len() as f64 / (frames * nudged.len().max(1) as f64),
            first: jumps.iter().take(10).map(|&(f, k)| [f, k]).collect(),
        };
        let (summary, leak) = summarize(&matrix, nudged);
        let sweep_full = self
            .full
            .iter()
            .filter(|f| !f.is_empty())
            .map(|f| {
                f.chunks_exact(n.max(1))
                    .map(|d| d.iter().map(|v| v / frames).collect())
                    .collect()
            })
            .collect();
        PipelineSensitivity {
            name,
            matrix,
            sweep,
            leak,
            residue_matrix: None,
            sweep_full,
            degenerate_alignments: self.degenerate,
            discontinuities,
            summary,
        }
    }
}

/// The unit vector point `k` of frame `f` is nudged along.
pub fn direction_vector(dir: Direction, dims: usize, seed: u64, f: usize, k: usize) -> Vec<f64> {
    match dir {
        Direction::X => {
            let mut u = vec![0.0; dims];
            u[0] = 1.0;
            u
        }
        Direction::Random => {
            let stream = (f as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (k as u64);
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ stream);
            loop {
                let u: Vec<f64> = (0..dims).map(|_| StandardNormal.sample(&mut rng)).collect();
                let n = u.iter().map(|x| x * x).sum::<f64>().sqrt();
                if n > 1e-6 {
                    return u.into_iter().map(|x| x / n).collect();
                }
            }
        }
    }
}

/// The summary numbers and `leak_k` of a matrix S (SPEC §4) whose row r is the nudged point
/// `nudged[r]` (all points: the square matrix).
pub fn summarize(s: &[Vec<f64>], nudged: &[usize]) -> (Summary, Vec<f64>) {
    let rows = s.len().max(1) as f64;
    let self_ = s.iter().zip(nudged).map(|(row, &k)| row[k]).sum::<f64>() / rows;
    let leak: Vec<f64> = s
        .iter()
        .zip(nudged)
        .map(|(row, &k)| {
            row.iter()
                .enumerate()
                .filter(|&(j, _)| j != k)
                .map(|(_, v)| v)
                .sum()
        })
        .collect();
    let n = s.first().map_or(0, |r| r.len());
    let pairs = s.len() * n.saturating_sub(1);
    let cross_mean = if pairs > 0 {
        leak.iter().sum::<f64>() / pairs as f64
    } else {
        0.0
    };
    let cross_max = s
        .iter()
        .zip(nudged)
        .flat_map(|(row, &k)| {
            row.iter()
                .enumerate()
                .filter(move |&(j, _)| j != k)
                .map(|(_, v)| *v)
        })
        .fold(0.0, f64::max);
    let leak_mean = leak.iter().sum::<f64>() / rows;
    let var = leak.iter().map(|l| (l - leak_mean).powi(2)).sum::<f64>() / rows;
    let unevenness = if leak_mean > 0.0 {
        var.sqrt() / leak_mean
    } else {
        0.0
    };
    (
        Summary {
            self_,
            cross_mean,
            cross_max,
            leak_mean,
            unevenness,
        },
        leak,
    )
}

/// The table printed on standard output.
pub fn format_table(report: &SensitivityReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "sensitivity of {} ({} frames, {} points, {}-D; nudge along {}, δ₁ = {:.4})",
        report.input,
        report.frames.len(),
        report.points,
        report.dims,
        report.direction,
        report.deltas.get(1).copied().unwrap_or(0.0)
    );
    let _ = writeln!(
        out,
        "{:<24} {:>8} {:>10} {:>10} {:>10} {:>11}",
        "pipeline", "self", "cross_mean", "cross_max", "leak_mean", "unevenness"
    );
    for p in &report.pipelines {
        let s = &p.summary;
        let _ = writeln!(
            out,
            "{:<24} {:>8.4} {:>10.4} {:>10.4} {:>10.4} {:>11.4}",
            p.name, s.self_, s.cross_mean, s.cross_max, s.leak_mean, s.unevenness
        );
    }
    if report.points <= 24 {
        let _ = writeln!(out, "leak_k by perturbed point k:");
        for p in &report.pipelines {
            let leaks: Vec<String> = p.leak.iter().map(|l| format!("{l:.2}")).collect();
            let _ = writeln!(out, "  {:<22} {}", p.name, leaks.join(" "));
        }
    }
    for p in &report.pipelines {
        if p.discontinuities.count > 0 {
            let _ = writeln!(
                out,
                "note: {}: {} of {} nudges ({:.2}%) flipped the alignment (left out of S; first [frame, point]: {:?})",
                p.name,
                p.discontinuities.count,
                report.frames.len() * report.nudged.len(),
                100.0 * p.discontinuities.rate,
                &p.discontinuities.first[..p.discontinuities.first.len().min(3)]
            );
        }
        if p.degenerate_alignments > 0 {
            let _ = writeln!(
                out,
                "note: {}: {} alignments were degenerate (default rotation used)",
                p.name, p.degenerate_alignments
            );
        }
    }
    out
}

/// Writes `--report FILE.json`.
pub fn write_report(path: &std::path::Path, report: &SensitivityReport) -> Result<()> {
    write_json(path, report)
}

/// The matrices to show: per residue when the report has them, else per point; with the
/// labels of their rows and columns (residues: `ALA12`, or with `short` only the number, for
/// axis ticks) and what they are (`point` or `residue`).
fn shown(report: &SensitivityReport, short: bool) -> Heatmaps<'_> {
    let label = |r: &Residue| if short { r.short_label() } else { r.label() };
    let (panels, row_labels, col_labels, unit) = match &report.residues {
        Some(residues) => (
            report
                .pipelines
                .iter()
                .map(|p| {
                    let m = p.residue_matrix.as_deref().unwrap_or(&[]);
                    (p.name.as_str(), m)
                })
                .collect(),
            report
                .residue_rows
                .iter()
                .map(|&r| label(&residues[r]))
                .collect(),
            residues.iter().map(label).collect(),
            "residue",
        ),
        None => (
            report
                .pipelines
                .iter()
                .map(|p| (p.name.as_str(), p.matrix.as_slice()))
                .collect(),
            report.nudged.iter().map(|k| k.to_string()).collect(),
            (0..report.points).map(|j| j.to_string()).collect(),
            "point",
        ),
    };
    Heatmaps {
        panels,
        row_labels,
        col_labels,
        unit,
    }
}

/// Draws `--plot FILE.png|svg`: one heatmap of S per pipeline (per residue with `--per
/// residue`), side by side, on a shared scale.
/// `size`: width and height in pixels (default: 480 per panel + the colour bar, × 500).
pub fn plot(
    path: &std::path::Path,
    report: &SensitivityReport,
    size: (Option<u32>, Option<u32>),
) -> Result<()> {
    let n = report.pipelines.len() as u32;
    super::plot::render(
        path,
        (size.0.unwrap_or(480 * n + 110), size.1.unwrap_or(500)),
        &shown(report, true),
    )
}

/// Writes `--csv DIR`: `DIR/<pipeline>.csv` holding S (per residue with `--per residue`), one
/// per pipeline (the folder is created if needed).
pub fn write_csv_dir(dir: &std::path::Path, report: &SensitivityReport) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("--csv {}: cannot create folder: {e}", dir.display()))?;
    let maps = shown(report, false);
    let mut written = Vec::new();
    for &(name, matrix) in &maps.panels {
        let name: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '+' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join(format!("{name}.csv"));
        write_csv_matrix(&path, matrix, &maps.row_labels, &maps.col_labels)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_a_known_matrix() {
        // S = [[1, 2], [0, 3]]: self = 2; off-diagonal 2 and 0: cross_mean 1, cross_max 2;
        // leak = [2, 0], leak_mean 1, std 1 → unevenness 1.
        let (s, leak) = summarize(&[vec![1.0, 2.0], vec![0.0, 3.0]], &[0, 1]);
        assert_eq!(leak, vec![2.0, 0.0]);
        assert_eq!(
            s,
            Summary {
                self_: 2.0,
                cross_mean: 1.0,
                cross_max: 2.0,
                leak_mean: 1.0,
                unevenness: 1.0
            }
        );
    }

    /// Residues of `sizes` atoms each, in order.
    fn residues_of(sizes: &[usize]) -> Residues {
        let mut of_atom = Vec::new();
        for (r, &n) in sizes.iter().enumerate() {
            of_atom.extend(std::iter::repeat_n(r, n));
        }
        Residues {
            list: Vec::new(),
            of_atom,
        }
    }

    #[test]
    fn per_residue_spread_covers_every_residue_or_samples_residues() {
        // 100 residues of 10 atoms: 256 / 100 = 2 atoms each, at offsets 0 and 5 (⌊i·10/2⌋).
        let r = residues_of(&[10; 100]);
        let all: Vec<usize> = (0..1000).collect();
        let picked = spread_per_residue(&all, &r);
        assert_eq!(picked.len(), 200);
        assert_eq!(&picked[..4], &[0, 5, 10, 15]);
        // 1,000 residues of 3 atoms (water): 256 residues, ⌊i·1000/256⌋, their first atom.
        let r = residues_of(&[3; 1000]);
        let all: Vec<usize> = (0..3000).collect();
        let picked = spread_per_residue(&all, &r);
        assert_eq!(picked.len(), SAMPLED_POINTS);
        assert_eq!(&picked[..3], &[0, 3 * 3, 3 * 7]); // residues 0, 3, 7
    }

    #[test]
    fn residue_matrix_means_over_atom_pairs() {
        // Residues {0, 1} and {2}; nudged atoms 0 and 2. S rows by hand:
        // row(0) = [1, 3, 5], row(2) = [2, 4, 6].
        // M[res0][res0] = mean(1, 3) = 2; M[res0][res1] = 5; M[res1][res0] = mean(2, 4) = 3; M[res1][res1] = 6.
        let r = Residues {
            list: ["A", "B"]
                .iter()
                .enumerate()
                .map(|(i, n)| Residue {
                    resname: n.to_string(),
                    resid: i as i64,
                    segid: String::new(),
                    chain: String::new(),
                    first: [0, 2][i],
                    atoms: [2, 1][i],
                    polymer: true,
                })
                .collect(),
            of_atom: vec![0, 0, 1],
        };
        let m = residue_matrix(
            &[vec![1.0, 3.0, 5.0], vec![2.0, 4.0, 6.0]],
            &[0, 2],
            &r,
            &[0, 1],
        );
        assert_eq!(m, vec![vec![2.0, 5.0], vec![3.0, 6.0]]);
    }

    #[test]
    fn random_directions_are_unit_and_seeded() {
        let a = direction_vector(Direction::Random, 3, 7, 4, 2);
        let b = direction_vector(Direction::Random, 3, 7, 4, 2);
        let c = direction_vector(Direction::Random, 3, 7, 4, 3);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!((a.iter().map(|x| x * x).sum::<f64>() - 1.0).abs() < 1e-12);
    }
}
