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

use super::{build, load, parse_pipelines, radius_of_gyration};
use crate::io::{trajectory_member, Dtype, Input, InputLocation};
use crate::spec::{PipelineSpec, RefSpec, RotateSpec, StageContext, StageOptions};
use crate::transform::frame_list;
use anyhow::{anyhow, bail, Result};
use nalgebra::DMatrix;
use ndarray::{Array3, Axis};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use std::fmt::Write as _;
use std::io::Write as _;

/// The pipelines checked when none are given.
pub const DEFAULT_PIPELINES: [&str; 3] = ["com+principal", "com+kabsch", "point0+point-vector"];

/// What to check.
#[derive(Clone, Debug)]
pub struct CheckRequest {
    /// The input.
    pub input: InputLocation,
    /// `--key`.
    pub key: Option<String>,
    /// Stage options.
    pub options: StageOptions,
    /// `--pipeline` values (default [`DEFAULT_PIPELINES`]).
    pub pipelines: Vec<String>,
    /// `--trials`.
    pub trials: usize,
    /// `--seed`.
    pub seed: u64,
}

/// One pipeline's verdict.
#[derive(Clone, Debug)]
pub struct PipelineCheck {
    /// `com+principal`.
    pub name: String,
    /// Largest point deviation over all trials and frames.
    pub max_deviation: f64,
    /// Largest deviation divided by the frame's Rg.
    pub max_relative: f64,
    /// Frames that broke invariance in any trial, ascending.
    pub broken_frames: Vec<usize>,
}

/// The result of a check.
#[derive(Clone, Debug)]
pub struct CheckReport {
    /// The input, as named in messages.
    pub input: String,
    /// Frames in the input.
    pub frames: usize,
    /// Trials run.
    pub trials: usize,
    /// The relative tolerance used.
    pub tolerance: f64,
    /// One verdict per pipeline.
    pub pipelines: Vec<PipelineCheck>,
}

impl CheckReport {
    /// Whether every pipeline passed.
    pub fn passed(&self) -> bool {
        self.pipelines.iter().all(|p| p.broken_frames.is_empty())
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
            let more = if p.broken_frames.len() > 8 {
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
                p.broken_frames.len(),
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
            .filter(|p| !p.broken_frames.is_empty())
            .map(|p| format!("{} ({})", p.name, frame_list(&p.broken_frames)))
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

/// Writes `frames` as a little-endian f64 `.npy` (C order).
fn write_npy(path: &std::path::Path, frames: &Array3<f64>) -> Result<()> {
    let (f, n, d) = frames.dim();
    let dict = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({f}, {n}, {d}), }}");
    let pad = 64 - (10 + dict.len() + 1) % 64;
    let mut header = dict.into_bytes();
    header.extend(std::iter::repeat_n(b' ', pad % 64));
    header.push(b'\n');
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    file.write_all(b"\x93NUMPY\x01\x00")?;
    file.write_all(&(header.len() as u16).to_le_bytes())?;
    file.write_all(&header)?;
    for v in frames.iter() {
        file.write_all(&v.to_le_bytes())?;
    }
    file.flush()?;
    Ok(())
}

/// Runs the check.
pub fn run_check(req: &CheckRequest) -> Result<CheckReport> {
    if req.trials == 0 {
        bail!("--trials 0: need at least one trial");
    }
    let specs = parse_pipelines(&req.pipelines, &DEFAULT_PIPELINES)?;
    let loaded = load(req.input.clone(), req.key.as_deref(), false)?;
    let (frames, _, dims) = loaded.frames.dim();
    let f32_input = loaded.meta.dtype == Dtype::F32;
    let tolerance = if f32_input { 1e-4 } else { 1e-9 };
    let rg: Vec<f64> = loaded
        .frames
        .axis_iter(Axis(0))
        .into_par_iter()
        .map(|x| radius_of_gyration(x).max(f64::MIN_POSITIVE))
        .collect();
    let scale = rg.iter().sum::<f64>() / frames as f64;
    let mut options = req.options.clone();
    options.to_ref_center = false;
    let mut originals = Vec::new();
    for spec in &specs {
        let mut pipeline = build(spec, &loaded, &options)?;
        let mut aligned = loaded.frames.clone();
        pipeline.process(&mut aligned);
        originals.push(aligned);
    }
    let mut results: Vec<PipelineCheck> = specs
        .iter()
        .map(|s| PipelineCheck {
            name: s.to_string(),
            max_deviation: 0.0,
            max_relative: 0.0,
            broken_frames: Vec::new(),
        })
        .collect();
    let mut broken = vec![vec![false; frames]; specs.len()];
    let dir = tempfile::tempdir().map_err(|e| anyhow!("cannot create a temporary folder: {e}"))?;
    let base = StageContext::load(&loaded.input, &loaded.meta, &options)?;
    let mut rng = ChaCha8Rng::seed_from_u64(req.seed);
    for trial in 0..req.trials {
        let q = random_rotation(dims, &mut rng);
        let t: Vec<f64> = (0..dims)
            .map(|_| {
                let z: f64 = StandardNormal.sample(&mut rng);
                scale * z
            })
            .collect();
        let mut moved = loaded.frames.clone();
        for mut frame in moved.axis_iter_mut(Axis(0)) {
            for mut row in frame.rows_mut() {
                let x: Vec<f64> = row.to_vec();
                for a in 0..dims {
                    let v = (0..dims).map(|b| q[(a, b)] * x[b]).sum::<f64>() + t[a];
                    row[a] = if f32_input { v as f32 as f64 } else { v };
                }
            }
        }
        let path = dir.path().join(format!("trial{trial}.npy"));
        write_npy(&path, &moved)?;
        let input = Input::open(InputLocation::Path(path))?;
        let (_, meta) = trajectory_member(&input, None)?;
        let mut trial_options = options.clone();
        trial_options.key = None;
        let ctx = StageContext {
            input: &input,
            meta: &meta,
            fit: base.fit.clone(),
            options: &trial_options,
        };
        for (p, spec) in specs.iter().enumerate() {
            let mut pipeline = spec
                .build(&ctx)
                .map_err(|e| anyhow!("pipeline {spec}: {e:#}"))?;
            let mut out = moved.clone();
            pipeline.process(&mut out);
            let rotate_expected = reference_moves(spec, &options);
            let devs: Vec<f64> = out
                .axis_iter(Axis(0))
                .into_par_iter()
                .zip(originals[p].axis_iter(Axis(0)).into_par_iter())
                .map(|(got, orig)| {
                    let mut worst = 0.0f64;
                    for (g, o) in got.rows().into_iter().zip(orig.rows()) {
                        let mut d2 = 0.0;
                        for a in 0..dims {
                            let want = if rotate_expected {
                                (0..dims).map(|b| q[(a, b)] * o[b]).sum::<f64>()
                            } else {
                                o[a]
                            };
                            d2 += (g[a] - want) * (g[a] - want);
                        }
                        worst = worst.max(d2.sqrt());
                    }
                    worst
                })
                .collect();
            let r = &mut results[p];
            for (f, &d) in devs.iter().enumerate() {
                let rel = d / rg[f];
                if d > r.max_deviation || d.is_nan() {
                    r.max_deviation = d;
                }
                r.max_relative = r.max_relative.max(rel);
                if rel.is_nan() || rel > tolerance {
                    broken[p][f] = true;
                }
            }
        }
    }
    for (r, b) in results.iter_mut().zip(&broken) {
        r.broken_frames = (0..frames).filter(|&f| b[f]).collect();
    }
    Ok(CheckReport {
        input: loaded.meta.source.clone(),
        frames,
        trials: req.trials,
        tolerance,
        pipelines: results,
    })
}

/// Whether the pipeline's output is expressed in the orientation of a reference taken from
/// the input (Kabsch onto a frame of the input or its average), so it turns with the input.
fn reference_moves(spec: &PipelineSpec, options: &StageOptions) -> bool {
    spec.rotate == RotateSpec::Kabsch && !matches!(options.reference, RefSpec::File { .. })
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
