//! Property tests through the public stage API: every pipeline's output is invariant under
//! random rigid motions of its input (2-D to 4-D, with and without masses and fit sets), and
//! Kabsch follows a reference that moves alike. Expected values come from the same pipeline
//! applied to the unmoved input, an independent fact about rigid motions (no aligntraj numbers
//! are trusted on either side beyond the stage under test).

use aligntraj::stages::{self, CenterKind, Fit, RotateKind, SignRule, StagePlan, Step};
use nalgebra::DMatrix;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use std::sync::Arc;

fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
    rng.sample(StandardNormal)
}

/// A uniformly random proper rotation: QR of a Gaussian matrix, R's diagonal made positive,
/// then one row flipped if det = −1.
fn random_rotation(rng: &mut ChaCha8Rng, d: usize) -> DMatrix<f64> {
    let a = DMatrix::from_fn(d, d, |_, _| gaussian(rng));
    let qr = a.qr();
    let (mut q, r) = (qr.q(), qr.r());
    for k in 0..d {
        if r[(k, k)] < 0.0 {
            q.column_mut(k).neg_mut();
        }
    }
    if q.determinant() < 0.0 {
        q.row_mut(0).neg_mut();
    }
    q
}

/// Frames of an anisotropic cloud (scales 3, 2, 1, …: well separated principal axes).
fn random_traj(rng: &mut ChaCha8Rng, frames: usize, n: usize, d: usize) -> Vec<Vec<f64>> {
    (0..frames)
        .map(|_| {
            (0..n * d)
                .map(|i| (3.0 / ((i % d) as f64 + 1.0)) * gaussian(rng))
                .collect()
        })
        .collect()
}

/// `x ← Q x + t` for every point.
fn moved(frame: &[f64], q: &DMatrix<f64>, t: &[f64]) -> Vec<f64> {
    let d = t.len();
    frame
        .chunks_exact(d)
        .flat_map(|p| (0..d).map(move |a| (0..d).map(|b| q[(a, b)] * p[b]).sum::<f64>() + t[a]))
        .collect()
}

fn fit_for(rng: &mut ChaCha8Rng, n: usize, masses: bool, subset: bool) -> Fit {
    let m: Vec<f64> = (0..n).map(|_| rng.random_range(0.5..3.0)).collect();
    let sel: Vec<usize> = (0..n).filter(|i| i % 3 != 1).collect();
    Fit::new(n, masses.then_some(&m[..]), subset.then_some(&sel[..])).unwrap()
}

/// Aligns every frame with the pipeline `kind` (0: com+principal, 1: com+kabsch onto the
/// first frame of `reference_source`, 2: point0+point-vector).
fn align(
    kind: usize,
    fit: &Fit,
    traj: &[Vec<f64>],
    reference_source: &[f64],
    d: usize,
) -> Vec<Vec<f64>> {
    let n = traj[0].len() / d;
    let (center, rotate) = match kind {
        0 => (CenterKind::Com, RotateKind::Principal(SignRule::Skew)),
        1 => {
            let r = stages::center_reference(
                reference_source.to_vec(),
                d,
                &CenterKind::Com,
                fit,
                false,
                "frame 0".into(),
            );
            (
                CenterKind::Com,
                RotateKind::Kabsch {
                    reference: Arc::new(r),
                    to_ref_center: false,
                },
            )
        }
        _ => (
            CenterKind::Point(0),
            RotateKind::PointVector((0..d).collect()),
        ),
    };
    let plan = StagePlan {
        center,
        rotate,
        fit: fit.clone(),
        points: n,
        dims: d,
        check_centred: false,
    };
    let mut steps = stages::build_steps(plan).unwrap();
    traj.iter()
        .map(|f| {
            let mut out = f.clone();
            for step in steps.iter_mut() {
                let facts = match step {
                    Step::Parallel(s) => s.apply(&mut out),
                    Step::Ordered(s) => s.apply(&mut out),
                };
                assert!(!facts.degenerate, "random frames should not be degenerate");
            }
            assert!(out.iter().all(|v| v.is_finite()));
            out
        })
        .collect()
}

fn max_rel_dev(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    let scale = a
        .iter()
        .flatten()
        .map(|x| x.abs())
        .fold(0.0, f64::max)
        .max(1e-300);
    a.iter()
        .flatten()
        .zip(b.iter().flatten())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
        / scale
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(96) })]

    /// align(X Qᵀ + t) == align(X) within 1e-9 relative. Kabsch superposes onto a fixed
    /// reference (frame 0 of X translated like the input).
    #[test]
    fn alignment_is_invariant_under_rigid_motion(
        seed in any::<u64>(), d in 2usize..=4, n in 9usize..16, frames in 1usize..4,
        masses in any::<bool>(), subset in any::<bool>(), kind in 0usize..3,
    ) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = random_traj(&mut rng, frames, n, d);
        let q = random_rotation(&mut rng, d);
        let t: Vec<f64> = (0..d).map(|_| 10.0 * gaussian(&mut rng)).collect();
        let fit = fit_for(&mut rng, n, masses, subset);
        let y: Vec<Vec<f64>> = x.iter().map(|f| moved(f, &q, &t)).collect();
        let x0_shifted = moved(&x[0], &DMatrix::identity(d, d), &t);
        let (ax, ay) = (align(kind, &fit, &x, &x[0], d), align(kind, &fit, &y, &x0_shifted, d));
        let dev = max_rel_dev(&ax, &ay);
        prop_assert!(dev < 1e-9, "pipeline {kind} d={d}: deviation {dev:e}");
    }

    /// With the reference moved alike (frame 0 of the moved input), Kabsch output is the
    /// original output rotated by Q.
    #[test]
    fn kabsch_follows_a_reference_that_moves_alike(seed in any::<u64>(), d in 2usize..=4, n in 5usize..12) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = random_traj(&mut rng, 3, n, d);
        let q = random_rotation(&mut rng, d);
        let t: Vec<f64> = (0..d).map(|_| 10.0 * gaussian(&mut rng)).collect();
        let fit = fit_for(&mut rng, n, true, false);
        let y: Vec<Vec<f64>> = x.iter().map(|f| moved(f, &q, &t)).collect();
        let zero = vec![0.0; d];
        let ax: Vec<Vec<f64>> = align(1, &fit, &x, &x[0], d).iter().map(|f| moved(f, &q, &zero)).collect();
        let ay = align(1, &fit, &y, &y[0], d);
        prop_assert!(max_rel_dev(&ax, &ay) < 1e-9);
    }
}
