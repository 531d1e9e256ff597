//! Sums over the fit set of one frame: centroids, second moments (gyration, cross-covariance),
//! third moments along axes, and the off-centre test. Plain sums: callers detect overflow or
//! underflow in the result ([`super::needs_rescale`]) and recompute on a rescaled frame.

use super::{zero_vec, zeros, Alloc, Dimension, Fit, Mat, Vector, OFF_CENTER_TOL};
use nalgebra::DefaultAllocator;

// Hot loops index plain slices of the nalgebra storage (column-major: entry (a, b) of a D × D
// matrix at a + b·D): nalgebra's `Index` keeps accumulators out of registers (≈ 7× slower).
// Row bodies are `#[inline(always)]` functions called from the two loops of `fit_loop!` (all
// points with unit weight, or indices and weights); closures called twice were not inlined.

/// Runs `$body(w, x, y)` for every fit row `x` of `$frame` (and the matching row `y` of
/// `$other`), in ascending order; all-points/unit-weight fits walk rows directly with w = 1.
macro_rules! fit_loop {
    ($fit:expr, $d:expr, $frame:expr, $other:expr, |$w:ident, $x:ident, $y:ident| $body:expr) => {{
        let (fit, d, frame, other): (&Fit, usize, &[f64], &[f64]) = ($fit, $d, $frame, $other);
        if fit.all_unit {
            for ($x, $y) in frame.chunks_exact(d).zip(other.chunks_exact(d)) {
                let $w = 1.0;
                $body;
            }
        } else {
            for (&i, &$w) in fit.indices.iter().zip(&fit.weights) {
                let ($x, $y) = (&frame[i * d..i * d + d], &other[i * d..i * d + d]);
                $body;
            }
        }
    }};
}

/// `c += w x` (one row of a centroid sum).
#[inline(always)]
fn add_centroid_row(d: usize, c: &mut [f64], w: f64, x: &[f64]) {
    for k in 0..d {
        c[k] += w * x[k];
    }
}

/// `G += w (x − c)(x − c)ᵀ`, upper triangle only; `diff` is scratch space.
#[inline(always)]
fn add_gyration_row(d: usize, g: &mut [f64], diff: &mut [f64], c: &[f64], w: f64, x: &[f64]) {
    for k in 0..d {
        diff[k] = x[k] - c[k];
    }
    for a in 0..d {
        let wa = w * diff[a];
        for b in a..d {
            g[a + b * d] += wa * diff[b];
        }
    }
}

/// `H += w (x − c) yᵀ`, and `sum += w (x − c)` when given.
#[inline(always)]
fn add_cross_row(
    d: usize,
    h: &mut [f64],
    sum: Option<&mut [f64]>,
    c: &[f64],
    w: f64,
    x: &[f64],
    y: &[f64],
) {
    let mut sum = sum;
    for a in 0..d {
        let wx = w * (x[a] - c[a]);
        if let Some(s) = sum.as_deref_mut() {
            s[a] += wx;
        }
        for b in 0..d {
            h[a + b * d] += wx * y[b];
        }
    }
}

/// Weighted fit-set centroid `Σ w_i x_i / Σ w_i`. Never NaN for finite input; ±∞ only if the
/// sum overflows (coordinates near `f64::MAX`): rescale then.
#[inline]
pub(crate) fn centroid<D: Dimension>(dim: D, frame: &[f64], fit: &Fit) -> Vector<D>
where
    DefaultAllocator: Alloc<D>,
{
    let d = dim.value();
    let mut c = zero_vec(dim);
    let cs = c.as_mut_slice();
    fit_loop!(fit, d, frame, frame, |w, x, _y| add_centroid_row(
        d, cs, w, x
    ));
    let inv = 1.0 / fit.total_weight;
    c * inv
}

/// The weighted gyration tensor about `c`: `Σ_{i∈fit} w_i (x_i − c)(x_i − c)ᵀ` (symmetric;
/// `c` = 0 for a frame that is already centred).
#[inline]
pub(crate) fn gyration_about<D: Dimension>(
    dim: D,
    frame: &[f64],
    fit: &Fit,
    c: &Vector<D>,
) -> Mat<D>
where
    DefaultAllocator: Alloc<D>,
{
    let d = dim.value();
    let mut g = zeros(dim);
    let mut diff = zero_vec(dim);
    let (gs, ds, cs) = (g.as_mut_slice(), diff.as_mut_slice(), c.as_slice());
    fit_loop!(fit, d, frame, frame, |w, x, _y| add_gyration_row(
        d, gs, ds, cs, w, x
    ));
    for a in 0..d {
        for b in 0..a {
            g[(a, b)] = g[(b, a)];
        }
    }
    g
}

/// The weighted cross-covariance of the frame centred on `c` with `reference` (same shape):
/// `H = Σ_{i∈fit} w_i (x_i − c) y_iᵀ`.
#[inline]
pub(crate) fn cross_covariance_about<D: Dimension>(
    dim: D,
    frame: &[f64],
    reference: &[f64],
    fit: &Fit,
    c: &Vector<D>,
) -> Mat<D>
where
    DefaultAllocator: Alloc<D>,
{
    let d = dim.value();
    let mut h = zeros(dim);
    let (hs, cs) = (h.as_mut_slice(), c.as_slice());
    fit_loop!(fit, d, frame, reference, |w, x, y| add_cross_row(
        d, hs, None, cs, w, x, y
    ));
    h
}

/// Third moments along each row `e_k` of `axes`: `(Σ w p³, Σ w |p|³, p of the farthest point)`
/// with `p = e_k·(x − c)` over the fit set; the farthest point is the first (lowest index) whose
/// `|p|` exceeds every earlier one by more than a relative 1e-9.
#[inline]
pub(crate) fn axis_moments<D: Dimension>(
    dim: D,
    frame: &[f64],
    fit: &Fit,
    c: &Vector<D>,
    axes: &Mat<D>,
) -> (Vector<D>, Vector<D>, Vector<D>)
where
    DefaultAllocator: Alloc<D>,
{
    let d = dim.value();
    let (mut m3, mut s3, mut far_p) = (zero_vec(dim), zero_vec(dim), zero_vec(dim));
    let mut far = zero_vec(dim);
    {
        let (m3s, s3s, fps, fs) = (
            m3.as_mut_slice(),
            s3.as_mut_slice(),
            far_p.as_mut_slice(),
            far.as_mut_slice(),
        );
        let (es, cs) = (axes.as_slice(), c.as_slice());
        for (&i, &w) in fit.indices.iter().zip(&fit.weights) {
            let x = &frame[i * d..i * d + d];
            for k in 0..d {
                let mut p = 0.0;
                for b in 0..d {
                    p += es[k + b * d] * (x[b] - cs[b]);
                }
                let p3 = p * p * p;
                m3s[k] += w * p3;
                s3s[k] += w * p3.abs();
                if p.abs() > fs[k] * (1.0 + 1e-9) {
                    fs[k] = p.abs();
                    fps[k] = p;
                }
            }
        }
    }
    (m3, s3, far_p)
}

/// Whether the centroid `c` of `frame` is away from the origin by more than 1e-4 of the
/// frame's RMS radius over all points (loose enough for float32 round-off of a centred frame).
/// Exactly-zero `c` is never off centre; overflow/underflow is handled by rescaling.
pub(crate) fn is_off_center(frame: &[f64], c: &[f64]) -> bool {
    let norm2: f64 = c.iter().map(|x| x * x).sum();
    if c.iter().all(|&x| x == 0.0) {
        return false;
    }
    let n = (frame.len() / c.len().max(1)).max(1) as f64;
    let sum2: f64 = frame.iter().map(|x| x * x).sum();
    if norm2.is_finite() && sum2.is_finite() && norm2 > 1e-250 && sum2 > 1e-250 {
        return norm2.sqrt() > OFF_CENTER_TOL * (sum2 / n).sqrt();
    }
    let s = super::pow2_scale(super::max_abs(frame).max(super::max_abs(c)));
    let inv = 1.0 / s;
    let norm2: f64 = c.iter().map(|x| (x * inv) * (x * inv)).sum();
    let sum2: f64 = frame.iter().map(|x| (x * inv) * (x * inv)).sum();
    norm2.sqrt() > OFF_CENTER_TOL * (sum2 / n).sqrt().max(f64::MIN_POSITIVE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support as ts;
    use nalgebra::Const;

    #[test]
    fn weighted_centroid_by_hand() {
        // (0,0), (2,0), (0,4) with masses 1, 1, 2: ((0+2+0)/4, (0+0+8)/4) = (0.5, 2).
        let fit = Fit::new(3, Some(&[1.0, 1.0, 2.0]), None).unwrap();
        let c = centroid(Const::<2>, &[0.0, 0.0, 2.0, 0.0, 0.0, 4.0], &fit);
        assert_eq!(c.as_slice(), &[0.5, 2.0]);
    }

    #[test]
    fn gyration_matches_plain_sum() {
        let mut rng = ts::rng(5);
        let x = ts::random_frame(&mut rng, 30, 3, 2.0);
        let fit = Fit::new(30, Some(&ts::random_weights(&mut rng, 30)), None).unwrap();
        let c = centroid(Const::<3>, &x, &fit);
        let g = gyration_about(Const::<3>, &x, &fit, &c);
        let xc = ts::mat(&ts::shift(&x, 3, c.as_slice()), 3);
        let w = nalgebra::DMatrix::from_diagonal(&nalgebra::DVector::from_vec(fit.weights.clone()));
        let plain = xc.transpose() * w * xc;
        let g: Vec<f64> = g.as_slice().to_vec();
        assert!(ts::max_diff(&g, plain.as_slice()) < 1e-12 * plain.amax());
    }

    #[test]
    fn off_center_test_is_relative_and_overflow_safe() {
        let frame = [1.0, 0.0, -1.0, 0.0];
        assert!(!is_off_center(&frame, &[0.0, 0.0]));
        assert!(!is_off_center(&frame, &[0.9e-4, 0.0]));
        assert!(is_off_center(&frame, &[1.1e-4, 0.0]));
        let big = [1e300, 0.0, -1e300, 0.0];
        assert!(is_off_center(&big, &[1e297, 0.0]));
        assert!(!is_off_center(&big, &[1e295, 0.0]));
        let tiny = [1e-300, 0.0, -1e-300, 0.0];
        assert!(is_off_center(&tiny, &[1e-303, 0.0]));
    }
}
