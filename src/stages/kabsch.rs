//! Kabsch: least-squares superposition onto a fixed, centred reference, optionally fused with
//! COM centering (`com+kabsch`).

use super::center::robust_centroid;
use super::{FrameFacts, Reference, Stage};
use crate::kernels::moments::{cross_covariance_about, is_off_center};
use crate::kernels::rotation::{kabsch_rotation, pad3, rotation_angle_deg};
use crate::kernels::transform::transform;
use crate::kernels::{
    all_finite, identity, max_abs, needs_rescale, pow2_scale, scaled_copy, zero_vec, Alloc,
    Dimension, Fit, Mat, Vector,
};
use nalgebra::{Const, DefaultAllocator};
use std::sync::Arc;

/// The proper rotation minimising `Σ_{i∈fit} w_i ‖R x_i − y_i‖²` onto the reference `y`,
/// applied about the origin (`COM = false`: the frame should already be centred) or about the
/// frame's fit-set centroid (`COM = true`, the fused `com+kabsch`: `x ← R (x − c)`: centroid,
/// covariance about it, transform). With `to_ref_center` the reference's
/// original centre is added after rotating. Degenerate frames (H of rank < D − 1, …) use the
/// identity.
pub(crate) struct Kabsch<D: Dimension, const COM: bool> {
    dim: D,
    fit: Arc<Fit>,
    reference: Arc<Reference>,
    /// The reference divided by a power of two near its largest magnitude (overflow path).
    ref_scaled: Vec<f64>,
    /// Added after rotating: the reference centre or 0.
    after: Vec<f64>,
    check_centred: bool,
}

impl<D: Dimension, const COM: bool> Kabsch<D, COM>
where
    DefaultAllocator: Alloc<D>,
{
    /// Superposition onto `reference` (N × D, centred like the frames) over `fit`.
    pub fn new(
        dim: D,
        fit: Arc<Fit>,
        reference: Arc<Reference>,
        to_ref_center: bool,
        check_centred: bool,
    ) -> Self {
        let d = dim.value();
        let m = max_abs(&reference.coords);
        let inv = if m > 0.0 { 1.0 / pow2_scale(m) } else { 1.0 };
        let ref_scaled = reference.coords.iter().map(|y| y * inv).collect();
        let after = if to_ref_center {
            reference.center.clone()
        } else {
            vec![0.0; d]
        };
        Kabsch {
            dim,
            fit,
            reference,
            ref_scaled,
            after,
            check_centred,
        }
    }

    /// The centroid to remove (0 unless `COM`) and `H = Σ w (x − c) yᵀ`.
    #[inline]
    fn moments(&self, frame: &[f64]) -> (Vector<D>, Mat<D>) {
        let dim = self.dim;
        if COM {
            // The same centroid and the same `x − c` as `com` followed by `kabsch`, so the
            // fused stage gives the same bytes as the two stages in a row (SPEC §2: a pipe of
            // `center --com` into `rotate --kabsch` equals `align`).
            let c = robust_centroid(dim, frame, &self.fit);
            let h = cross_covariance_about(dim, frame, &self.reference.coords, &self.fit, &c);
            (c, h)
        } else {
            let zero = zero_vec(dim);
            let h = cross_covariance_about(dim, frame, &self.reference.coords, &self.fit, &zero);
            (zero, h)
        }
    }

    /// [`moments`](Self::moments) for a frame whose sums overflow or underflow: `H` from the
    /// frame and reference divided by powers of two (the rotation is scale-invariant), `c` exact.
    #[cold]
    fn moments_rescaled(&self, frame: &[f64]) -> (Vector<D>, Mat<D>) {
        let dim = self.dim;
        let c = if COM {
            robust_centroid(dim, frame, &self.fit)
        } else {
            zero_vec(dim)
        };
        let Some((copy, _)) = scaled_copy(frame) else {
            return (c, crate::kernels::zeros(dim));
        };
        let fit = self.fit.normalized();
        let cs = if COM {
            crate::kernels::moments::centroid(dim, &copy, &fit)
        } else {
            zero_vec(dim)
        };
        (
            c,
            cross_covariance_about(dim, &copy, &self.ref_scaled, &fit, &cs),
        )
    }
}

impl<D: Dimension, const COM: bool> Stage for Kabsch<D, COM>
where
    DefaultAllocator: Alloc<D>,
{
    fn name(&self) -> String {
        if COM { "com+kabsch" } else { "kabsch" }.into()
    }

    fn apply(&self, frame: &mut [f64]) -> FrameFacts {
        let dim = self.dim;
        let (mut c, mut h) = self.moments(frame);
        if needs_rescale(h.as_slice()) || !all_finite(c.as_slice()) {
            (c, h) = self.moments_rescaled(frame);
        }
        let off_center = !COM
            && self.check_centred
            && is_off_center(frame, robust_centroid(dim, frame, &self.fit).as_slice());
        let (r, degenerate) = match kabsch_rotation(h) {
            Some(r) => (r, false),
            None => (identity(dim), true),
        };
        let after = Vector::<D>::from_row_slice_generic(dim, Const::<1>, &self.after);
        let finite = transform(dim, frame, &r, &c, &after);
        FrameFacts {
            degenerate,
            off_center,
            angle_deg: rotation_angle_deg(&r),
            rotation: pad3(&r),
            nonfinite_output: !finite,
        }
    }
}
