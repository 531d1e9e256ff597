//! Small dense linear algebra on frames: second moments, cross-covariances, applying a
//! rotation, and measuring one. General `D`; `D × D` results as nalgebra `DMatrix`.

use crate::fit::FitSet;
use nalgebra::DMatrix;

/// The weighted second-moment (gyration) tensor about the origin,
/// `G = Σ_{i∈fit} w_i x_i x_iᵀ` (`D × D`, symmetric).
pub fn gyration_tensor(frame: &[f64], dims: usize, fit: &FitSet) -> DMatrix<f64> {
    let mut g = DMatrix::<f64>::zeros(dims, dims);
    for (&i, &w) in fit.points.iter().zip(&fit.weights) {
        let x = &frame[i * dims..(i + 1) * dims];
        for a in 0..dims {
            let wa = w * x[a];
            for b in a..dims {
                g[(a, b)] += wa * x[b];
            }
        }
    }
    for a in 0..dims {
        for b in 0..a {
            g[(a, b)] = g[(b, a)];
        }
    }
    g
}

/// The weighted cross-covariance `H = Σ_{i∈fit} w_i x_i y_iᵀ` of a frame `x` and a
/// reference `y` (both `N × D` row-major).
pub fn cross_covariance(
    frame: &[f64],
    reference: &[f64],
    dims: usize,
    fit: &FitSet,
) -> DMatrix<f64> {
    let mut h = DMatrix::<f64>::zeros(dims, dims);
    for (&i, &w) in fit.points.iter().zip(&fit.weights) {
        let x = &frame[i * dims..(i + 1) * dims];
        let y = &reference[i * dims..(i + 1) * dims];
        for a in 0..dims {
            let wa = w * x[a];
            for b in 0..dims {
                h[(a, b)] += wa * y[b];
            }
        }
    }
    h
}

/// Rotates every row in place: `x ← R x` (i.e. `X ← X Rᵀ`), `R` being `D × D`.
pub fn rotate_rows(frame: &mut [f64], r: &DMatrix<f64>) {
    let dims = r.nrows();
    let mut tmp = vec![0.0; dims];
    for row in frame.chunks_exact_mut(dims) {
        for (a, t) in tmp.iter_mut().enumerate() {
            *t = (0..dims).map(|b| r[(a, b)] * row[b]).sum();
        }
        row.copy_from_slice(&tmp);
    }
}

/// The angle of a rotation in degrees: `atan2` in 2-D; in general
/// `arccos((tr R − (D − 2)) / 2)`, exact for a rotation in one plane.
pub fn rotation_angle_deg(r: &DMatrix<f64>) -> f64 {
    let d = r.nrows();
    if d == 2 {
        return r[(1, 0)].atan2(r[(0, 0)]).to_degrees().abs();
    }
    let c = ((r.trace() - (d as f64 - 2.0)) / 2.0).clamp(-1.0, 1.0);
    c.acos().to_degrees()
}

/// Root-mean-square distance of the points from the origin, over all points (a length scale
/// for tolerances; 0 for a frame of coincident points at the origin).
pub fn rms_radius(frame: &[f64], dims: usize) -> f64 {
    let n = frame.len() / dims;
    (frame.iter().map(|x| x * x).sum::<f64>() / n.max(1) as f64).sqrt()
}
