//! Point-vector: the frame's own axes from chosen points (`e1 = (x_B − x_A)/‖·‖` onto +x, each
//! further point fixing the next axis by Gram–Schmidt, the last axis by right-handedness).

use super::center::robust_centroid;
use super::{FrameFacts, Stage};
use crate::kernels::moments::is_off_center;
use crate::kernels::rotation::{pad3, point_vector_axes, rotation_angle_deg};
use crate::kernels::transform::transform;
use crate::kernels::{
    identity, scaled_copy, zero_vec, Alloc, Dimension, Fit, Mat, DEGENERATE_TOL, TINY_MOMENT,
};
use nalgebra::DefaultAllocator;
use std::sync::Arc;

/// Rotation about the origin with rows `e1 … eD` from the points `A, B, C, …` (D of them,
/// distinct). A vector of length ≤ 1e-10 × the frame's RMS radius (coincident or linearly
/// dependent points) makes the frame degenerate: identity.
pub(crate) struct PointVector<D: Dimension> {
    dim: D,
    points: Vec<usize>,
    fit: Arc<Fit>,
    check_centred: bool,
}

impl<D: Dimension> PointVector<D> {
    /// The stage for `points` (validated: D distinct indices < points); `fit` serves only the
    /// off-centre check.
    pub fn new(dim: D, points: Vec<usize>, fit: Arc<Fit>, check_centred: bool) -> Self {
        PointVector {
            dim,
            points,
            fit,
            check_centred,
        }
    }
}

/// The point-vector axes of `frame`, the tolerance relative to its RMS radius; a frame whose
/// squares overflow or underflow is analysed divided by a power of two.
fn axes<D: Dimension>(dim: D, frame: &[f64], points: &[usize]) -> Option<Mat<D>>
where
    DefaultAllocator: Alloc<D>,
{
    let n = (frame.len() / dim.value()).max(1) as f64;
    let sum2: f64 = frame.iter().map(|x| x * x).sum();
    if sum2.is_finite() && sum2 >= TINY_MOMENT {
        let tol = DEGENERATE_TOL * (sum2 / n).sqrt().max(f64::MIN_POSITIVE);
        return point_vector_axes(dim, frame, points, tol);
    }
    let (copy, _) = scaled_copy(frame)?;
    let sum2: f64 = copy.iter().map(|x| x * x).sum();
    let tol = DEGENERATE_TOL * (sum2 / n).sqrt().max(f64::MIN_POSITIVE);
    point_vector_axes(dim, &copy, points, tol)
}

impl<D: Dimension> Stage for PointVector<D>
where
    DefaultAllocator: Alloc<D>,
{
    fn name(&self) -> String {
        if self.points.iter().copied().eq(0..self.points.len()) {
            "point-vector".into()
        } else {
            format!("point-vector:{}", super::join(&self.points))
        }
    }

    fn apply(&self, frame: &mut [f64]) -> FrameFacts {
        let dim = self.dim;
        let d = dim.value();
        let a = self.points[0] * d;
        let off_center = self.check_centred
            && frame[a..a + d].iter().any(|x| *x != 0.0)
            && is_off_center(frame, robust_centroid(dim, frame, &self.fit).as_slice());
        let found = axes(dim, frame, &self.points);
        let degenerate = found.is_none();
        let r = found.unwrap_or_else(|| identity(dim));
        let zero = zero_vec(dim);
        let finite = degenerate || transform(dim, frame, &r, &zero, &zero);
        FrameFacts {
            degenerate,
            off_center,
            angle_deg: rotation_angle_deg(&r),
            rotation: pad3(&r),
            nonfinite_output: !finite,
        }
    }
}
