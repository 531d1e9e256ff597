//! Principal axes: eigenvectors of the gyration tensor (descending eigenvalue) onto +x, +y, …,
//! signs by the skew rule ([`Principal`], optionally fused with COM centering) or by continuity
//! with the previous aligned frame ([`PrincipalContinuous`], an ordered stage).

use super::center::robust_centroid;
use super::{FrameFacts, OrderedStage, Stage};
use crate::kernels::moments::is_off_center;
use crate::kernels::moments::{axis_moments, centroid, cross_covariance_about, gyration_about};
use crate::kernels::rotation::{
    apply_continuous_signs, apply_skew_signs, pad3, rotation_angle_deg, sorted_axes,
};
use crate::kernels::transform::transform;
use crate::kernels::{
    all_finite, identity, needs_rescale, scaled_copy, zero_vec, Alloc, Dimension, Fit, Mat, Vector,
    TINY_MOMENT,
};
use nalgebra::DefaultAllocator;
use std::sync::Arc;

/// Marks sums that overflowed or underflowed: recompute on a rescaled frame.
struct Rescale;

/// The unsigned principal axes (rows) of `frame` about `c` = its centroid (`com`) or 0, and
/// that `c`; `Ok((None, c))` for a degenerate frame.
fn try_axes<D: Dimension>(
    dim: D,
    frame: &[f64],
    fit: &Fit,
    com: bool,
) -> Result<(Option<Mat<D>>, Vector<D>), Rescale>
where
    DefaultAllocator: Alloc<D>,
{
    let c = if com {
        centroid(dim, frame, fit)
    } else {
        zero_vec(dim)
    };
    if !all_finite(c.as_slice()) {
        return Err(Rescale);
    }
    let g = gyration_about(dim, frame, fit, &c);
    if needs_rescale(g.as_slice()) {
        return Err(Rescale);
    }
    Ok((sorted_axes(g), c))
}

/// Signs `axes` by the skew rule from the third moments of `frame` about `c`.
fn try_skew<D: Dimension>(
    dim: D,
    frame: &[f64],
    fit: &Fit,
    c: &Vector<D>,
    mut axes: Mat<D>,
) -> Result<Mat<D>, Rescale>
where
    DefaultAllocator: Alloc<D>,
{
    let (m3, s3, far) = axis_moments(dim, frame, fit, c, &axes);
    let d = dim.value();
    let tiny = (0..d - 1).any(|k| s3[k] < TINY_MOMENT);
    if tiny || !all_finite(m3.as_slice()) || !all_finite(s3.as_slice()) {
        return Err(Rescale);
    }
    apply_skew_signs(&mut axes, &m3, &s3, &far);
    Ok(axes)
}

/// The skew-rule rotation of `frame` (None when degenerate) and the centroid to remove (its
/// fit-set centroid when `com`, else 0). Frames whose moments overflow or underflow are
/// analysed divided by a power of two (rotations are scale-invariant).
pub(crate) fn skew_rotation<D: Dimension>(
    dim: D,
    frame: &[f64],
    fit: &Fit,
    com: bool,
) -> (Option<Mat<D>>, Vector<D>)
where
    DefaultAllocator: Alloc<D>,
{
    if let Ok((axes, c)) = try_axes(dim, frame, fit, com) {
        match axes {
            None => return (None, c),
            Some(a) => {
                if let Ok(r) = try_skew(dim, frame, fit, &c, a) {
                    return (Some(r), c);
                }
            }
        }
    }
    let c = if com {
        robust_centroid(dim, frame, fit)
    } else {
        zero_vec(dim)
    };
    let Some((copy, _)) = scaled_copy(frame) else {
        return (None, c);
    };
    let fit = fit.normalized();
    let r = match try_axes(dim, &copy, &fit, com) {
        Ok((Some(a), cs)) => try_skew(dim, &copy, &fit, &cs, a).ok(),
        _ => None,
    };
    (r, c)
}

/// The unsigned principal axes about the origin (rescaling as in [`skew_rotation`]).
fn unsigned_axes<D: Dimension>(dim: D, frame: &[f64], fit: &Fit) -> Option<Mat<D>>
where
    DefaultAllocator: Alloc<D>,
{
    match try_axes(dim, frame, fit, false) {
        Ok((axes, _)) => axes,
        Err(Rescale) => {
            let (copy, _) = scaled_copy(frame)?;
            try_axes(dim, &copy, &fit.normalized(), false).ok()?.0
        }
    }
}

/// Whether the step reports `off_center` for this frame.
fn off_center<D: Dimension>(dim: D, frame: &[f64], fit: &Fit, check: bool) -> bool
where
    DefaultAllocator: Alloc<D>,
{
    check && is_off_center(frame, robust_centroid(dim, frame, fit).as_slice())
}

/// The facts of a rotation stage that applied `r`.
fn facts<D: Dimension>(r: &Mat<D>, degenerate: bool, off_center: bool, finite: bool) -> FrameFacts
where
    DefaultAllocator: Alloc<D>,
{
    FrameFacts {
        degenerate,
        off_center,
        angle_deg: rotation_angle_deg(r),
        rotation: pad3(r),
        nonfinite_output: !finite,
    }
}

/// Principal axes with the skew sign rule: `G = Σ_{i∈fit} w_i x_i x_iᵀ` about the origin
/// (`COM = false`) or about the fit-set centroid (`COM = true`, the fused `com+principal`:
/// `x ← R (x − c)`). Frames whose eigenvalues are not all distinct (relative gap ≤ 1e-10) or
/// whose fit points all sit at the centre are degenerate: identity.
pub(crate) struct Principal<D: Dimension, const COM: bool> {
    dim: D,
    fit: Arc<Fit>,
    check_centred: bool,
}

impl<D: Dimension, const COM: bool> Principal<D, COM> {
    /// Principal axes over `fit`; `check_centred` computes `off_center` (ignored when `COM`).
    pub fn new(dim: D, fit: Arc<Fit>, check_centred: bool) -> Self {
        Principal {
            dim,
            fit,
            check_centred,
        }
    }
}

impl<D: Dimension, const COM: bool> Stage for Principal<D, COM>
where
    DefaultAllocator: Alloc<D>,
{
    fn name(&self) -> String {
        if COM { "com+principal" } else { "principal" }.into()
    }

    fn apply(&self, frame: &mut [f64]) -> FrameFacts {
        let dim = self.dim;
        let off = !COM && off_center(dim, frame, &self.fit, self.check_centred);
        let (r, c) = skew_rotation(dim, frame, &self.fit, COM);
        let degenerate = r.is_none();
        let r = r.unwrap_or_else(|| identity(dim));
        let finite = if degenerate && !COM {
            true
        } else {
            transform(dim, frame, &r, &c, &zero_vec(dim))
        };
        facts(&r, degenerate, off, finite)
    }
}

/// Principal axes about the origin with the continuity sign rule: the proper sign combination
/// closest (least weighted RMSD) to the previous aligned frame; the first frame by the skew
/// rule. A degenerate frame reuses the previous rotation (identity for the first).
pub(crate) struct PrincipalContinuous<D: Dimension> {
    dim: D,
    fit: Arc<Fit>,
    check_centred: bool,
    /// The previous aligned frame.
    prev_output: Option<Vec<f64>>,
    /// The previous rotation, D × D row-major.
    prev_rotation: Option<Vec<f64>>,
}

impl<D: Dimension> PrincipalContinuous<D> {
    /// A stage with no history.
    pub fn new(dim: D, fit: Arc<Fit>, check_centred: bool) -> Self {
        PrincipalContinuous {
            dim,
            fit,
            check_centred,
            prev_output: None,
            prev_rotation: None,
        }
    }
}

impl<D: Dimension> PrincipalContinuous<D>
where
    DefaultAllocator: Alloc<D>,
{
    /// `axes` signed to follow the previous aligned frame `prev`.
    fn follow(&self, frame: &[f64], prev: &[f64], mut axes: Mat<D>) -> Mat<D> {
        let dim = self.dim;
        let zero = zero_vec(dim);
        let mut h = cross_covariance_about(dim, frame, prev, &self.fit, &zero);
        if needs_rescale(h.as_slice()) {
            if let (Some((x, _)), Some((y, _))) = (scaled_copy(frame), scaled_copy(prev)) {
                h = cross_covariance_about(dim, &x, &y, &self.fit.normalized(), &zero);
            }
        }
        apply_continuous_signs(&mut axes, &h);
        axes
    }

    /// The rotation for `frame` given the history, or None (degenerate).
    fn rotation(&self, frame: &[f64]) -> Option<Mat<D>> {
        match &self.prev_output {
            None => skew_rotation(self.dim, frame, &self.fit, false).0,
            Some(prev) => {
                let axes = unsigned_axes(self.dim, frame, &self.fit)?;
                Some(self.follow(frame, prev, axes))
            }
        }
    }
}

impl<D: Dimension> OrderedStage for PrincipalContinuous<D>
where
    DefaultAllocator: Alloc<D>,
{
    fn name(&self) -> String {
        "principal".into()
    }

    fn apply(&mut self, frame: &mut [f64]) -> FrameFacts {
        let dim = self.dim;
        let off = off_center(dim, frame, &self.fit, self.check_centred);
        let found = self.rotation(frame);
        let degenerate = found.is_none();
        let r = found.unwrap_or_else(|| match &self.prev_rotation {
            Some(p) => Mat::<D>::from_row_slice_generic(dim, dim, p),
            None => identity(dim),
        });
        let zero = zero_vec(dim);
        let finite = transform(dim, frame, &r, &zero, &zero);
        match &mut self.prev_output {
            Some(p) => p.copy_from_slice(frame),
            None => self.prev_output = Some(frame.to_vec()),
        }
        let rows = r.transpose();
        match &mut self.prev_rotation {
            Some(p) => p.copy_from_slice(rows.as_slice()),
            None => self.prev_rotation = Some(rows.as_slice().to_vec()),
        }
        facts(&r, degenerate, off, finite)
    }

    fn fresh(&self) -> Box<dyn OrderedStage> {
        Box::new(PrincipalContinuous::new(
            self.dim,
            self.fit.clone(),
            self.check_centred,
        ))
    }
}
