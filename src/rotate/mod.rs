//! Rotation stages. Each finds a proper rotation `R` (orthogonal, det = +1) for a frame and
//! applies it about the origin, `X ← X Rᵀ`; input should already be centred.
//!
//! - [`PointVector`]: the vector between two chosen points onto +x, further points fixing the
//!   other axes by Gram–Schmidt.
//! - [`Principal`]: eigenvectors of the gyration tensor onto the axes, signs by the skew rule
//!   (rotation-invariant) or by continuity with the previous frame.
//! - [`Kabsch`]: least-squares superposition onto a reference.
//!
//! Degenerate frames use the identity (or, for `--sign continuous`, the previous rotation).

pub mod kabsch;
pub mod point_vector;
pub mod principal;

pub use kabsch::{Kabsch, Reference};
pub use point_vector::PointVector;
pub use principal::{Principal, SignRule};

use crate::fit::FitSet;
use crate::kernels::weighted_centroid;
use nalgebra::DMatrix;

/// Relative tolerance below which a length, gap or singular value counts as zero.
pub const DEGENERATE_TOL: f64 = 1e-10;

/// Whether the fit-set centroid of `frame` is away from the origin by more than 1e-4 of the
/// frame's RMS radius (loose enough for float32 round-off of a centred frame).
pub fn is_off_center(frame: &[f64], dims: usize, fit: &FitSet) -> bool {
    let mut c = vec![0.0; dims];
    weighted_centroid(frame, dims, fit, &mut c);
    let norm = c.iter().map(|x| x * x).sum::<f64>().sqrt();
    norm > 1e-4 * crate::kernels::linalg::rms_radius(frame, dims).max(f64::MIN_POSITIVE)
}

/// Completes `rows` (k < D orthonormal rows of a D × D matrix) to a right-handed orthonormal
/// basis: further rows by Gram–Schmidt over the standard basis, the last one signed so the
/// determinant is +1.
pub fn complete_basis(mut rows: Vec<Vec<f64>>, dims: usize) -> DMatrix<f64> {
    let mut candidate = 0;
    while rows.len() < dims {
        let mut v = vec![0.0; dims];
        v[candidate % dims] = 1.0;
        candidate += 1;
        for r in &rows {
            let p: f64 = r.iter().zip(&v).map(|(a, b)| a * b).sum();
            v.iter_mut().zip(r).for_each(|(x, a)| *x -= p * a);
        }
        // Second pass for numerical orthogonality.
        for r in &rows {
            let p: f64 = r.iter().zip(&v).map(|(a, b)| a * b).sum();
            v.iter_mut().zip(r).for_each(|(x, a)| *x -= p * a);
        }
        let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if n > 0.5 {
            v.iter_mut().for_each(|x| *x /= n);
            rows.push(v);
        }
    }
    let mut m = DMatrix::from_fn(dims, dims, |a, b| rows[a][b]);
    if m.determinant() < 0.0 {
        m.row_mut(dims - 1).neg_mut();
    }
    m
}
