//! Per-frame kernels for a dimension `D` known at compile time (2 and 3 are instantiated):
//! fixed-size arrays on the stack, loops the compiler unrolls, no heap allocation. The
//! general-`D` versions live in [`super::linalg`]; both accumulate in `f64` and agree to
//! round-off (tested).

// Matrix code indexes rows and columns by number; iterator rewrites would hide the algebra.
#![allow(clippy::needless_range_loop)]

use crate::fit::FitSet;

/// A `D × D` matrix, row-major.
pub type Mat<const D: usize> = [[f64; D]; D];

/// Weighted fit-set centroid `Σ w_i x_i / Σ w_i` of `frame` (`N × D` row-major).
#[inline]
pub fn centroid<const D: usize>(frame: &[f64], fit: &FitSet) -> [f64; D] {
    let mut c = [0.0; D];
    if fit.unit_weights && fit.points.len() * D == frame.len() {
        for x in frame.chunks_exact(D) {
            for k in 0..D {
                c[k] += x[k];
            }
        }
    } else {
        for (&i, &w) in fit.points.iter().zip(&fit.weights) {
            let x = &frame[i * D..i * D + D];
            for k in 0..D {
                c[k] += w * x[k];
            }
        }
    }
    let inv = 1.0 / fit.total_weight;
    c.map(|v| v * inv)
}

/// The weighted cross-covariance of the frame centred on `c` with a reference:
/// `Σ_{i∈fit} w_i (x_i − c) y_iᵀ` (`c` = 0 for a frame that is already centred).
#[inline]
pub fn cross_covariance_about<const D: usize>(
    frame: &[f64],
    reference: &[f64],
    fit: &FitSet,
    c: &[f64; D],
) -> Mat<D> {
    let mut h = [[0.0; D]; D];
    let mut add = |w: f64, x: &[f64], y: &[f64]| {
        for a in 0..D {
            let wx = w * (x[a] - c[a]);
            for b in 0..D {
                h[a][b] += wx * y[b];
            }
        }
    };
    if fit.unit_weights && fit.points.len() * D == frame.len() {
        for (x, y) in frame.chunks_exact(D).zip(reference.chunks_exact(D)) {
            add(1.0, x, y);
        }
    } else {
        for (&i, &w) in fit.points.iter().zip(&fit.weights) {
            add(w, &frame[i * D..i * D + D], &reference[i * D..i * D + D]);
        }
    }
    h
}

/// Whether a centroid `c` is away from the origin by more than 1e-4 of the frame's RMS
/// radius (loose enough for float32 round-off of a centred frame). The radius is only
/// computed when `c` is not exactly zero.
pub fn is_off_center<const D: usize>(frame: &[f64], c: &[f64; D]) -> bool {
    let norm = c.iter().map(|x| x * x).sum::<f64>().sqrt();
    norm > 0.0 && norm > 1e-4 * super::linalg::rms_radius(frame, D)
}

/// The weighted gyration tensor about `c`: `Σ_{i∈fit} w_i (x_i − c)(x_i − c)ᵀ`.
#[inline]
pub fn gyration_about<const D: usize>(frame: &[f64], fit: &FitSet, c: &[f64; D]) -> Mat<D> {
    let mut g = [[0.0; D]; D];
    let mut add = |w: f64, x: &[f64]| {
        let mut d = [0.0; D];
        for k in 0..D {
            d[k] = x[k] - c[k];
        }
        for a in 0..D {
            let wa = w * d[a];
            for b in a..D {
                g[a][b] += wa * d[b];
            }
        }
    };
    if fit.unit_weights && fit.points.len() * D == frame.len() {
        frame.chunks_exact(D).for_each(|x| add(1.0, x));
    } else {
        for (&i, &w) in fit.points.iter().zip(&fit.weights) {
            add(w, &frame[i * D..i * D + D]);
        }
    }
    for a in 0..D {
        for b in 0..a {
            g[a][b] = g[b][a];
        }
    }
    g
}

/// `x ← R (x − before) + after` for every row: one pass, in place.
#[inline]
pub fn transform<const D: usize>(
    frame: &mut [f64],
    r: &Mat<D>,
    before: &[f64; D],
    after: &[f64; D],
) {
    for x in frame.chunks_exact_mut(D) {
        let mut d = [0.0; D];
        for k in 0..D {
            d[k] = x[k] - before[k];
        }
        for a in 0..D {
            let mut v = after[a];
            for b in 0..D {
                v += r[a][b] * d[b];
            }
            x[a] = v;
        }
    }
}

/// For each axis (row of `axes`): `(Σ w p³, Σ w |p|³, p of the farthest point)` with
/// `p = e·(x − c)` over the fit set; the farthest point is the first (lowest index) whose
/// `|p|` exceeds every earlier one by more than a relative 1e-9.
#[inline]
pub fn axis_moments<const D: usize>(
    frame: &[f64],
    fit: &FitSet,
    c: &[f64; D],
    axes: &Mat<D>,
) -> [(f64, f64, f64); D] {
    let mut m = [(0.0, 0.0, 0.0); D];
    let mut far = [0.0f64; D];
    for (&i, &w) in fit.points.iter().zip(&fit.weights) {
        let x = &frame[i * D..i * D + D];
        for k in 0..D {
            let mut p = 0.0;
            for b in 0..D {
                p += axes[k][b] * (x[b] - c[b]);
            }
            let p3 = p * p * p;
            m[k].0 += w * p3;
            m[k].1 += w * p3.abs();
            if p.abs() > far[k] * (1.0 + 1e-9) {
                far[k] = p.abs();
                m[k].2 = p;
            }
        }
    }
    m
}

/// Determinant of a 2 × 2 or 3 × 3 matrix (and by cofactor expansion for larger `D`).
pub fn det<const D: usize>(m: &Mat<D>) -> f64 {
    match D {
        2 => m[0][0] * m[1][1] - m[0][1] * m[1][0],
        3 => {
            m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
                - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
                + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
        }
        _ => nalgebra::DMatrix::from_fn(D, D, |a, b| m[a][b]).determinant(),
    }
}

/// The angle of a rotation in degrees (as [`super::linalg::rotation_angle_deg`]).
pub fn rotation_angle_deg<const D: usize>(r: &Mat<D>) -> f64 {
    if D == 2 {
        return r[1][0].atan2(r[0][0]).to_degrees().abs();
    }
    let trace: f64 = (0..D).map(|k| r[k][k]).sum();
    ((trace - (D as f64 - 2.0)) / 2.0)
        .clamp(-1.0, 1.0)
        .acos()
        .to_degrees()
}

/// The identity matrix.
pub fn identity<const D: usize>() -> Mat<D> {
    std::array::from_fn(|a| std::array::from_fn(|b| if a == b { 1.0 } else { 0.0 }))
}
