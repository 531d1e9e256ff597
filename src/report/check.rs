//! `aligntraj check`: does an alignment really remove rigid motions? Each trial applies one
//! random proper rotation Q (uniform on SO(D): QR of a Gaussian matrix with the sign fix, det
//! +1) and one random translation t to the whole input, `X ← X Qᵀ + t` (rounded back to f32 for
//! f32 input, as a stored file would be), writes it to a temporary file, builds each pipeline
//! from that file exactly as `align` would, aligns it and compares frame by frame with the
//! alignment of the original.
//!
//! A Kabsch reference taken from the input itself (`--ref K`, `--ref average`) moves with the
//! input, and Kabsch output is expressed in the reference's orientation: the expected result is
//! then the original alignment rotated by Q (the one global rotation of the reference). With
//! `--ref FILE` the reference stays put and the output must not change at all.
//!
//! A frame breaks invariance when the largest point deviation exceeds `tol × Rg` (Rg: the
//! original frame's radius of gyration; tol = 1e-9 for f64 input, 1e-4 for f32).

use super::{pipelines_or, radius_of_gyration};
use crate::engine::{self, ChunkView, Observer, RunOptions, Tally};
use crate::formats::{TrajMeta, Width};
use crate::io::InputLocation;
use crate::options::{PipelineSpec, RefSpec, RotateSpec};
use crate::plan::{load_fit, Input, InputOptions, PipelineContext, StageOptions};
use crate::stages::{FrameFacts, Stage, Step};
use anyhow::{anyhow, Result};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use serde::Serialize;
use std::fmt::Write as _;
use std::sync::Arc;

/// The pipelines checked when none are given.
pub const DEFAULT_PIPELINES: [&str; 3] = ["com+principal", "com+kabsch", "point0+point-vector"];

/// What to check.
#[derive(Clone, Debug)]
pub struct CheckRequest {
    /// The input and key.
    pub input: InputOptions,
    /// Stage options.
    pub stages: StageOptions,
    /// `--pipeline` values (default [`DEFAULT_PIPELINES`]).
    pub pipelines: Vec<PipelineSpec>,
    /// `--trials`.
    pub trials: usize,
    /// `--seed`.
    pub seed: u64,
}

/// One pipeline's verdict.
#[derive(Clone, Debug, Serialize)]
pub struct PipelineCheck {
    /// `com+principal`.
    pub name: String,
    /// Largest point deviation over all trials and frames.
    pub max_deviation: f64,
    /// Largest deviation divided by the frame's Rg.
    pub max_relative: f64,
    /// How many frames broke invariance in any trial.
    pub broken: usize,
    /// The first few of them, ascending.
    pub broken_frames: Vec<usize>,
}

/// The result of a check.
#[derive(Clone, Debug, Serialize)]
pub struct CheckReport {
    /// The input, as named in messages.
    pub input: String,
    /// Frames in the input.
    pub frames: usize,
    /// Trials run.
    pub trials: usize,
    /// The random seed.
    pub seed: u64,
    /// The relative tolerance used.
    pub tolerance: f64,
    /// One verdict per pipeline.
    pub pipelines: Vec<PipelineCheck>,
}

impl CheckReport {
    /// Writes the verdicts as JSON.
    pub fn write_json(&self, path: &std::path::Path) -> Result<()> {
        super::export::write_json(path, self)
    }

    /// The printed table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "invariance check of {} ({} frames, {} random rigid motions, tolerance {:e} × Rg)",
            self.input, self.frames, self.trials, self.tolerance
        );
        let _ = writeln!(
            out,
            "{:<24} {:>13} {:>13} {:>8}  first broken frames",
            "pipeline", "max_dev", "max_dev/Rg", "broken"
        );
        for p in &self.pipelines {
            let first: Vec<String> = p
                .broken_frames
                .iter()
                .take(8)
                .map(|f| f.to_string())
                .collect();
            let more = if p.broken > p.broken_frames.len() {
                ", …"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "{:<24} {:>13.3e} {:>13.3e} {:>8}  {}{}",
                p.name,
                p.max_deviation,
                p.max_relative,
                p.broken,
                if first.is_empty() {
                    "-".to_string()
                } else {
                    first.join(", ")
                },
                more
            );
        }
        out
    }

    /// One line naming the pipelines that failed (for the error message), or `None`.
    pub fn failure_line(&self) -> Option<String> {
        let bad: Vec<String> = self
            .pipelines
            .iter()
            .filter(|p| p.broken > 0)
            .map(|p| {
                format!(
                    "{} ({})",
                    p.name,
                    crate::text::frame_list(p.broken, &p.broken_frames)
                )
            })
            .collect();
        (!bad.is_empty()).then(|| {
            format!(
                "{}: not invariant under rigid motions: {}",
                self.input,
                bad.join("; ")
            )
        })
    }
}

/// A uniformly distributed proper rotation (D × D): QR of a Gaussian matrix, columns signed so
/// R's diagonal is positive (Haar measure on O(D)), then one column negated if det = −1.
pub fn random_rotation(dims: usize, rng: &mut ChaCha8Rng) -> DMatrix<f64> {
    let g = DMatrix::from_fn(dims, dims, |_, _| StandardNormal.sample(rng));
    let qr = g.qr();
    let (mut q, r) = (qr.q(), qr.r());
    for c in 0..dims {
        if r[(c, c)] < 0.0 {
            q.column_mut(c).neg_mut();
        }
    }
    if q.determinant() < 0.0 {
        q.column_mut(0).neg_mut();
    }
    q
}

/// A rigid motion `x ← Q x + t` of every point, rounded to float32 for float32 input (as a
/// stored file would be).
struct RigidMotion {
    q: DMatrix<f64>,
    t: Vec<f64>,
    round_f32: bool,
}

impl Stage for RigidMotion {
    fn name(&self) -> String {
        "rigid motion".into()
    }

    fn apply(&self, frame: &mut [f64]) -> FrameFacts {
        let d = self.t.len();
        let mut x = vec![0.0; d];
        for row in frame.chunks_exact_mut(d) {
            x.copy_from_slice(row);
            for (a, out) in row.iter_mut().enumerate() {
                let v = (0..d).map(|b| self.q[(a, b)] * x[b]).sum::<f64>() + self.t[a];
                *out = if self.round_f32 { v as f32 as f64 } else { v };
            }
        }
        FrameFacts::default()
    }
}

/// Applies `steps` to consecutive frames of `coords` (parallel steps over frames in parallel,
/// ordered ones frame by frame).
fn apply_steps(steps: &mut [Step], coords: &mut [f64], frame_len: usize) {
    for step in steps.iter_mut() {
        match step {
            Step::Parallel(s) => {
                let s = &**s;
                coords.par_chunks_exact_mut(frame_len).for_each(|f| {
                    s.apply(f);
                });
            }
            Step::Ordered(s) => coords.chunks_exact_mut(frame_len).for_each(|f| {
                s.apply(f);
            }),
        }
    }
}

/// One pipeline under check: its steps on the original input and on each trial's.
struct Checked {
    name: String,
    original: Vec<Step>,
    trials: Vec<Vec<Step>>,
    rotate_expected: bool,
    max_deviation: f64,
    max_relative: f64,
    broken: Tally,
}

/// The check observer: aligns each chunk's original and moved frames and compares them.
struct Compare {
    pipelines: Vec<Checked>,
    motions: Vec<Arc<RigidMotion>>,
    dims: usize,
    tolerance: f64,
}

impl Observer for Compare {
    fn chunk(&mut self, view: &ChunkView<'_>) -> Result<()> {
        let len = view.frame_len;
        let dims = self.dims;
        let rg: Vec<f64> = (0..view.frames)
            .into_par_iter()
            .map(|i| radius_of_gyration(view.frame(i), dims).max(f64::MIN_POSITIVE))
            .collect();
        for p in &mut self.pipelines {
            let mut original = view.coords.to_vec();
            apply_steps(&mut p.original, &mut original, len);
            let mut broken = vec![false; view.frames];
            for (motion, steps) in self.motions.iter().zip(&mut p.trials) {
                let mut moved = view.coords.to_vec();
                moved.par_chunks_exact_mut(len).for_each(|f| {
                    motion.apply(f);
                });
                apply_steps(steps, &mut moved, len);
                let q = p.rotate_expected.then_some(&motion.q);
                let devs: Vec<f64> = moved
                    .par_chunks_exact(len)
                    .zip(original.par_chunks_exact(len))
                    .map(|(got, orig)| deviation(got, orig, q, dims))
                    .collect();
                for (i, &d) in devs.iter().enumerate() {
                    let rel = d / rg[i];
                    if d > p.max_deviation || d.is_nan() {
                        p.max_deviation = d;
                    }
                    p.max_relative = p.max_relative.max(rel);
                    broken[i] |= rel.is_nan() || rel > self.tolerance;
                }
            }
            for (i, b) in broken.iter().enumerate() {
                if *b {
                    p.broken.add(view.source_index(i));
                }
            }
        }
        Ok(())
    }
}

/// The largest point distance between `got` and `orig` (rotated by `q` when given).
fn deviation(got: &[f64], orig: &[f64], q: Option<&DMatrix<f64>>, dims: usize) -> f64 {
    let mut worst = 0.0f64;
    for (g, o) in got.chunks_exact(dims).zip(orig.chunks_exact(dims)) {
        let mut d2 = 0.0;
        for a in 0..dims {
            let want = match q {
                Some(q) => (0..dims).map(|b| q[(a, b)] * o[b]).sum::<f64>(),
                None => o[a],
            };
            d2 += (g[a] - want) * (g[a] - want);
        }
        worst = worst.max(d2.sqrt());
    }
    worst
}

/// The trials' rigid motions: seeded rotations (uniform on SO(D)) and translations of the
/// size of the first frame's radius of gyration.
fn motions(meta: &TrajMeta, frame0: &[f64], trials: usize, seed: u64) -> Vec<Arc<RigidMotion>> {
    let scale = radius_of_gyration(frame0, meta.dims).max(1.0);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..trials)
        .map(|_| {
            let q = random_rotation(meta.dims, &mut rng);
            let t = (0..meta.dims)
                .map(|_| {
                    let z: f64 = StandardNormal.sample(&mut rng);
                    scale * z
                })
                .collect();
            Arc::new(RigidMotion {
                q,
                t,
                round_f32: meta.width == Width::F32,
            })
        })
        .collect()
}

/// Frame 0 of the input, decoded, and the trajectory's shape.
fn first_frame(input: &mut Input, key: Option<&str>) -> Result<(TrajMeta, Vec<f64>)> {
    let mut source = input.source(key)?;
    let meta = source.meta().clone();
    let first = source
        .read(1, Vec::new())?
        .ok_or_else(|| anyhow!("{}: no frames", meta.what()))?;
    let decoder = source.decoder();
    let mut frame0 = vec![0.0; meta.frame_len()];
    decoder
        .decode(
            first.frame(0, decoder.frame_bytes()),
            &mut frame0,
            &mut Default::default(),
        )
        .map_err(|e| anyhow!("{}: frame 0: {e}", meta.what()))?;
    Ok((meta, frame0))
}

/// Builds each pipeline on the original input and on each moved input (references taken or
/// averaged from the moved input, as `align` would).
fn build_checked(
    req: &CheckRequest,
    input: &mut Input,
    meta: &TrajMeta,
    motions: &[Arc<RigidMotion>],
    stages: &StageOptions,
) -> Result<Vec<Checked>> {
    let warn = stages.masses.as_deref() == Some("topology");
    let topology = crate::plan::load_topology(&req.input, input, meta.points, warn)?;
    let fit = load_fit(stages, input, topology.as_ref(), meta.points)?;
    let mut pipelines = Vec::new();
    for spec in pipelines_or(&req.pipelines, &DEFAULT_PIPELINES) {
        let mut build = |motion: Option<Arc<dyn Stage>>| -> Result<Vec<Step>> {
            let mut ctx = PipelineContext {
                input: &mut *input,
                meta: meta.clone(),
                fit: fit.clone(),
                options: stages.clone(),
                input_options: req.input.clone(),
                check_centred: false,
                pending: None,
                motion,
            };
            Ok(ctx
                .build(&spec)
                .map_err(|e| anyhow!("pipeline {spec}: {e:#}"))?
                .0)
        };
        let original = build(None)?;
        let trials = motions
            .iter()
            .map(|m| build(Some(m.clone() as Arc<dyn Stage>)))
            .collect::<Result<Vec<_>>>()?;
        let rotate_expected =
            spec.rotate == RotateSpec::Kabsch && !matches!(stages.reference, RefSpec::File { .. });
        pipelines.push(Checked {
            name: spec.to_string(),
            original,
            trials,
            rotate_expected,
            max_deviation: 0.0,
            max_relative: 0.0,
            broken: Tally::default(),
        });
    }
    Ok(pipelines)
}

/// Runs the check: one engine pass over the input; the references of the moved inputs are
/// built from the moved input as `align` would build them (`--ref average` included). A
/// Kabsch reference taken from the input moves with it, so that output is compared after the
/// one global rotation; with `--ref FILE` the output must not change at all.
pub fn run_check(req: &CheckRequest) -> Result<CheckReport> {
    let location = req.input.location.clone().unwrap_or(InputLocation::Stdin);
    let mut input = Input::open(
        &location,
        req.input.format,
        true,
        &std::env::temp_dir(),
        false,
    )?;
    let (meta, frame0) = first_frame(&mut input, req.input.key.as_deref())?;
    let tolerance = if meta.width == Width::F32 { 1e-4 } else { 1e-9 };
    let motions = motions(&meta, &frame0, req.trials, req.seed);
    let mut stages = req.stages.clone();
    stages.to_ref_center = false;
    let pipelines = build_checked(req, &mut input, &meta, &motions, &stages)?;
    let mut compare = Compare {
        pipelines,
        motions,
        dims: meta.dims,
        tolerance,
    };
    let run = RunOptions {
        chunk_frames: req.input.chunk_frames,
        allow_nonfinite: false,
        range: req.input.frames,
        progress: Some("check".into()),
        unwrap: None,
    };
    let source = input.source(req.input.key.as_deref())?;
    let summary = engine::run(source, &mut [], None, &mut [&mut compare], &run)?;
    let pipelines = compare
        .pipelines
        .into_iter()
        .map(|p| PipelineCheck {
            name: p.name,
            max_deviation: p.max_deviation,
            max_relative: p.max_relative,
            broken: p.broken.count,
            broken_frames: p.broken.first,
        })
        .collect();
    Ok(CheckReport {
        input: meta.source.clone(),
        frames: summary.frames,
        trials: req.trials,
        seed: req.seed,
        tolerance,
        pipelines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_rotations_are_proper_and_orthogonal() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for dims in 2..6 {
            for _ in 0..20 {
                let q = random_rotation(dims, &mut rng);
                let err = (&q * q.transpose() - DMatrix::identity(dims, dims))
                    .abs()
                    .max();
                assert!(err < 1e-12, "Q Qᵀ ≠ I by {err}");
                assert!((q.determinant() - 1.0).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn rotations_in_2d_cover_all_angles() {
        // Uniform on SO(2): the angles of 400 draws fall in all four quadrants, about 100 each
        // (binomial sd ≈ 8.7, so 60 is more than 4 sd below).
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut counts = [0usize; 4];
        for _ in 0..400 {
            let q = random_rotation(2, &mut rng);
            let a = q[(1, 0)].atan2(q[(0, 0)]);
            let quadrant = ((a + std::f64::consts::PI) / std::f64::consts::FRAC_PI_2) as usize;
            counts[quadrant.min(3)] += 1;
        }
        assert!(counts.iter().all(|&c| c > 60), "{counts:?}");
    }
}
