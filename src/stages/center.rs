//! Centering stages: COM (weighted fit-set centroid to the origin) and point K to the origin.

use super::{FrameFacts, Stage};
use crate::kernels::moments::centroid;
use crate::kernels::transform::translate;
use crate::kernels::{all_finite, scaled_copy, zero_vec, Alloc, Dimension, Fit, Vector};
use nalgebra::{Const, DefaultAllocator};
use std::sync::Arc;

/// The weighted fit-set centroid, finite for any finite frame: when the plain sum overflows
/// it is recomputed on the frame divided by a power of two (with normalised weights).
pub(crate) fn robust_centroid<D: Dimension>(dim: D, frame: &[f64], fit: &Fit) -> Vector<D>
where
    DefaultAllocator: Alloc<D>,
{
    let c = centroid(dim, frame, fit);
    if all_finite(c.as_slice()) {
        return c;
    }
    match scaled_copy(frame) {
        Some((copy, s)) => {
            centroid(dim, &copy, &fit.normalized()).map(|v| (v * s).clamp(-f64::MAX, f64::MAX))
        }
        None => zero_vec(dim),
    }
}

/// `X ← X − c`, `c = Σ_{i∈fit} w_i x_i / Σ w_i` (always defined: the weights sum to > 0).
pub(crate) struct CenterCom<D: Dimension> {
    dim: D,
    fit: Arc<Fit>,
}

impl<D: Dimension> CenterCom<D> {
    /// COM centering over `fit` for frames of dimension `dim`.
    pub fn new(dim: D, fit: Arc<Fit>) -> Self {
        CenterCom { dim, fit }
    }
}

impl<D: Dimension> Stage for CenterCom<D>
where
    DefaultAllocator: Alloc<D>,
{
    fn name(&self) -> String {
        "com".into()
    }

    fn apply(&self, frame: &mut [f64]) -> FrameFacts {
        let c = robust_centroid(self.dim, frame, &self.fit);
        FrameFacts {
            nonfinite_output: !translate(self.dim, frame, &c),
            ..FrameFacts::default()
        }
    }
}

/// `X ← X − x_K`: point K moves to the origin.
pub(crate) struct CenterPoint<D: Dimension> {
    dim: D,
    k: usize,
}

impl<D: Dimension> CenterPoint<D> {
    /// Centering on point `k` (checked < points by the caller).
    pub fn new(dim: D, k: usize) -> Self {
        CenterPoint { dim, k }
    }
}

impl<D: Dimension> Stage for CenterPoint<D>
where
    DefaultAllocator: Alloc<D>,
{
    fn name(&self) -> String {
        format!("point{}", self.k)
    }

    fn apply(&self, frame: &mut [f64]) -> FrameFacts {
        let d = self.dim.value();
        let row = &frame[self.k * d..(self.k + 1) * d];
        let shift = Vector::<D>::from_row_slice_generic(self.dim, Const::<1>, row);
        FrameFacts {
            nonfinite_output: !translate(self.dim, frame, &shift),
            ..FrameFacts::default()
        }
    }
}
