//! Sums over the fit set of one frame: centroids, second moments (gyration, cross-covariance),
//! third moments along axes, and the off-centre test. Plain sums: callers detect overflow or
//! underflow in the result ([`super::needs_rescale`]) and recompute on a rescaled frame.

use super::{zero_vec, zeros, Alloc, Dimension, Fit, Mat, Vector, OFF_CENTER_TOL};
use nalgebra::DefaultAllocator;

// Hot loops index plain slices of the nalgebra storage (column-major: entry (a, b) of a D × D
// matrix at a + b·D): nalgebra's `Index` keeps accumulators out of registers (≈ 7× slower).

/// Calls `f(point, weight, row)` for every fit point of `frame` (`N × d` row-major), in
/// ascending order; the all-points/unit-weight case walks rows directly with weight 1.
#[inline(always)]
pub(crate) fn for_fit_rows(
    frame: &[f64],
    d: usize,
    fit: &Fit,
    mut f: impl FnMut(usize, f64, &[f64]),
) {
    if fit.all_unit {
        for (i, x) in frame.chunks_exact(d).enumerate() {
            f(i, 1.0, x);
        }
    } else {
        for (&i, &w) in fit.indices.iter().zip(&fit.weights) {
            f(i, w, &frame[i * d..i * d + d]);
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
    for_fit_rows(frame, d, fit, |_, w, x| {
        for k in 0..d {
            cs[k] += w * x[k];
        }
    });
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
    for_fit_rows(frame, d, fit, |_, w, x| {
        for k in 0..d {
            ds[k] = x[k] - cs[k];
        }
        for a in 0..d {
            let wa = w * ds[a];
            for b in a..d {
                gs[a + b * d] += wa * ds[b];
            }
        }
    });
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
    let mut add = |w: f64, x: &[f64], y: &[f64]| {
        for a in 0..d {
            let wx = w * (x[a] - cs[a]);
            for b in 0..d {
                hs[a + b * d] += wx * y[b];
            }
        }
    };
    if fit.all_unit {
        for (x, y) in frame.chunks_exact(d).zip(reference.chunks_exact(d)) {
            add(1.0, x, y);
        }
    } else {
        for (&i, &w) in fit.indices.iter().zip(&fit.weights) {
            add(w, &frame[i * d..i * d + d], &reference[i * d..i * d + d]);
        }
    }
    h
}

/// Centroid `c` and `H = Σ w (x − c) yᵀ` in ONE pass, for a reference whose weighted sum
/// `ref_sum` = `Σ_{i∈fit} w_i y_i` is known (≈ 0 for a reference centred on the same fit).
/// Sums are taken about the first fit point `x₀` (so frames far from the origin lose no
/// precision): `c = x₀ + Σ w (x − x₀) / W`, `H = Σ w (x − x₀) yᵀ − (c − x₀) ref_sumᵀ`.
#[inline]
pub(crate) fn centroid_and_cross<D: Dimension>(
    dim: D,
    frame: &[f64],
    reference: &[f64],
    fit: &Fit,
    ref_sum: &Vector<D>,
) -> (Vector<D>, Mat<D>)
where
    DefaultAllocator: Alloc<D>,
{
    let d = dim.value();
    let first = fit.indices[0] * d;
    let x0 =
        Vector::<D>::from_row_slice_generic(dim, nalgebra::Const::<1>, &frame[first..first + d]);
    let mut sum = zero_vec(dim);
    let mut h = zeros(dim);
    let (ss, hs, x0s) = (sum.as_mut_slice(), h.as_mut_slice(), x0.as_slice());
    let mut add = |w: f64, x: &[f64], y: &[f64]| {
        for a in 0..d {
            let wx = w * (x[a] - x0s[a]);
            ss[a] += wx;
            for b in 0..d {
                hs[a + b * d] += wx * y[b];
            }
        }
    };
    if fit.all_unit {
        for (x, y) in frame.chunks_exact(d).zip(reference.chunks_exact(d)) {
            add(1.0, x, y);
        }
    } else {
        for (&i, &w) in fit.indices.iter().zip(&fit.weights) {
            add(w, &frame[i * d..i * d + d], &reference[i * d..i * d + d]);
        }
    }
    let shift = sum * (1.0 / fit.total_weight);
    for a in 0..d {
        for b in 0..d {
            h[(a, b)] -= shift[a] * ref_sum[b];
        }
    }
    (x0 + shift, h)
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
    use nalgebra::{Const, Dyn};

    #[test]
    fn weighted_centroid_by_hand() {
        // (0,0), (2,0), (0,4) with masses 1, 1, 2: ((0+2+0)/4, (0+0+8)/4) = (0.5, 2).
        let fit = Fit::new(3, Some(&[1.0, 1.0, 2.0]), None).unwrap();
        let c = centroid(Const::<2>, &[0.0, 0.0, 2.0, 0.0, 0.0, 4.0], &fit);
        assert_eq!(c.as_slice(), &[0.5, 2.0]);
    }

    /// One-pass centroid + covariance against the two-pass version and the plain sums, far
    /// from the origin, weighted subset and all points.
    fn one_pass_case<D: Dimension>(dim: D, seed: u64)
    where
        DefaultAllocator: Alloc<D>,
    {
        let d = dim.value();
        let n = 40;
        let mut rng = ts::rng(seed);
        let masses = ts::random_weights(&mut rng, n);
        let idx: Vec<usize> = (0..n).filter(|i| i % 3 != 1).collect();
        for fit in [Fit::all(n), Fit::new(n, Some(&masses), Some(&idx)).unwrap()] {
            let x = ts::random_frame(&mut rng, n, d, 1e4);
            let yraw = ts::random_frame(&mut rng, n, d, 0.0);
            let y = ts::shift(
                &yraw,
                d,
                &ts::centroid(&yraw, d, &fit.indices, &fit.weights),
            );
            let mut ref_sum = zero_vec(dim);
            for (&i, &w) in fit.indices.iter().zip(&fit.weights) {
                (0..d).for_each(|k| ref_sum[k] += w * y[i * d + k]);
            }
            let (c1, h1) = centroid_and_cross(dim, &x, &y, &fit, &ref_sum);
            let c2 = centroid(dim, &x, &fit);
            let h2 = cross_covariance_about(dim, &x, &y, &fit, &c2);
            let plain_c = ts::centroid(&x, d, &fit.indices, &fit.weights);
            let xc = ts::shift(&x, d, &plain_c);
            let plain_h = ts::mat(&xc, d).transpose() * {
                let mut wy = ts::mat(&y, d) * 0.0;
                for (&i, &w) in fit.indices.iter().zip(&fit.weights) {
                    (0..d).for_each(|k| wy[(i, k)] = w * y[i * d + k]);
                }
                wy
            };
            let hs = h2.amax();
            assert!(ts::max_diff(c1.as_slice(), c2.as_slice()) < 1e-12 * 1e4 * d as f64);
            assert!(ts::max_diff(c2.as_slice(), &plain_c) < 1e-12 * 1e4 * d as f64);
            assert!((&h1 - &h2).amax() < 1e-12 * hs, "d = {d}");
            let ph: Vec<f64> = (0..d * d).map(|j| plain_h[(j % d, j / d)]).collect();
            assert!(ts::max_diff(h2.as_slice(), &ph) < 1e-12 * hs);
        }
    }

    #[test]
    fn one_pass_centroid_and_covariance_match_two_passes() {
        one_pass_case(Const::<2>, 1);
        one_pass_case(Const::<3>, 2);
        one_pass_case(Dyn(4), 3);
        one_pass_case(Dyn(7), 4);
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
