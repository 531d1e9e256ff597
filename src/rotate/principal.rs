//! `--principal`: principal axes of the gyration tensor onto +x, +y, ….

use super::{is_off_center, DEGENERATE_TOL};
use crate::fit::FitSet;
use crate::kernels::linalg::{gyration_tensor, rotate_rows, rotation_angle_deg};
use crate::kernels::small::{self, Mat};
use crate::stage::{FrameFacts, History, Stage};
use nalgebra::{DMatrix, Matrix2, Matrix3};
use ndarray::{Array2, ArrayViewMut2};
use std::str::FromStr;
use std::sync::Arc;

/// How the sign of each principal axis is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SignRule {
    /// Positive third moment along each axis but the last (fallback: the farthest point
    /// positive); the last axis by det = +1. A function of the frame's shape alone.
    #[default]
    Skew,
    /// The proper sign combination closest (least RMSD) to the previous aligned frame;
    /// frame 0 by the skew rule. No flips in time, but depends on history.
    Continuous,
}

impl FromStr for SignRule {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<SignRule> {
        match s {
            "skew" => Ok(SignRule::Skew),
            "continuous" => Ok(SignRule::Continuous),
            _ => anyhow::bail!("--sign {s}: expected skew or continuous"),
        }
    }
}

/// Relative size below which a third moment counts as zero (SPEC §3).
const SKEW_TOL: f64 = 1e-9;

/// Principal-axes alignment: `G = Σ_{i∈fit} w_i x_i x_iᵀ` about the origin, eigenvectors by
/// descending eigenvalue become the rows of `R`. A frame whose eigenvalues are not all
/// distinct (relative gap ≤ 1e-10), or whose points all sit at the origin, is degenerate.
/// With `center_com` (skew rule only) the stage also does the COM centering first: the
/// fused `com+principal` of a pipeline.
pub struct Principal {
    fit: Arc<FitSet>,
    sign: SignRule,
    center_com: bool,
}

/// Eigenvectors of a symmetric `D × D` matrix as rows, by descending eigenvalue, or `None`
/// when two eigenvalues are within 1e-10 of the largest (or it is not positive). Fixed-size
/// nalgebra solvers for 2 and 3, the dynamic one otherwise.
#[allow(clippy::needless_range_loop)]
pub fn eigen_axes_small<const D: usize>(g: &Mat<D>) -> Option<Mat<D>> {
    let mut vals = [0.0; D];
    let mut vecs = [[0.0; D]; D]; // vecs[k] = eigenvector k
    if D == 2 {
        let e = Matrix2::from_fn(|a, b| g[a][b]).symmetric_eigen();
        for k in 0..2 {
            vals[k] = e.eigenvalues[k];
            for c in 0..2 {
                vecs[k][c] = e.eigenvectors[(c, k)];
            }
        }
    } else if D == 3 {
        let e = Matrix3::from_fn(|a, b| g[a][b]).symmetric_eigen();
        for k in 0..3 {
            vals[k] = e.eigenvalues[k];
            for c in 0..3 {
                vecs[k][c] = e.eigenvectors[(c, k)];
            }
        }
    } else {
        let e = DMatrix::from_fn(D, D, |a, b| g[a][b]).symmetric_eigen();
        for k in 0..D {
            vals[k] = e.eigenvalues[k];
            for c in 0..D {
                vecs[k][c] = e.eigenvectors[(c, k)];
            }
        }
    }
    let mut order: [usize; D] = std::array::from_fn(|k| k);
    order.sort_by(|&a, &b| vals[b].total_cmp(&vals[a]).then(a.cmp(&b)));
    let top = vals[order[0]];
    if top.is_nan() || top <= 0.0 || top.is_infinite() {
        return None;
    }
    for w in order.windows(2) {
        if vals[w[0]] - vals[w[1]] <= DEGENERATE_TOL * top {
            return None;
        }
    }
    Some(std::array::from_fn(|r| vecs[order[r]]))
}

impl Principal {
    /// Principal axes over `fit` with the given sign rule.
    pub fn new(fit: Arc<FitSet>, sign: SignRule) -> Principal {
        Principal {
            fit,
            sign,
            center_com: false,
        }
    }

    /// COM centering over `fit` followed by principal axes with the skew rule.
    pub fn with_com_centering(fit: Arc<FitSet>) -> Principal {
        Principal {
            fit,
            sign: SignRule::Skew,
            center_com: true,
        }
    }

    /// The skew-rule path for `D` known at compile time: passes for the centroid, the
    /// gyration tensor, the axis moments and the transform; no heap allocation.
    fn apply_small<const D: usize>(&self, flat: &mut [f64]) -> FrameFacts {
        let c = small::centroid::<D>(flat, &self.fit);
        let zero = [0.0; D];
        let (before, off_center) = if self.center_com {
            (c, false)
        } else {
            (zero, small::is_off_center(flat, &c))
        };
        let g = small::gyration_about::<D>(flat, &self.fit, &before);
        let Some(mut r) = eigen_axes_small::<D>(&g) else {
            small::transform::<D>(flat, &small::identity::<D>(), &before, &zero);
            return FrameFacts {
                degenerate: true,
                off_center,
                angle_deg: 0.0,
            };
        };
        let moments = small::axis_moments::<D>(flat, &self.fit, &before, &r);
        for (k, &(m3, s3, far)) in moments.iter().enumerate().take(D - 1) {
            let negative = if m3.abs() > SKEW_TOL * s3 {
                m3 < 0.0
            } else {
                far < 0.0
            };
            if negative {
                r[k].iter_mut().for_each(|v| *v = -*v);
            }
        }
        if small::det::<D>(&r) < 0.0 {
            r[D - 1].iter_mut().for_each(|v| *v = -*v);
        }
        small::transform::<D>(flat, &r, &before, &zero);
        FrameFacts {
            degenerate: false,
            off_center,
            angle_deg: small::rotation_angle_deg(&r),
        }
    }

    /// The eigenvectors of the frame's gyration tensor as rows, sorted by descending
    /// eigenvalue, or `None` when they are not unique up to sign.
    pub fn axes(&self, flat: &[f64], dims: usize) -> Option<DMatrix<f64>> {
        let g = gyration_tensor(flat, dims, &self.fit);
        let eig = g.symmetric_eigen();
        let mut order: Vec<usize> = (0..dims).collect();
        order.sort_by(|&a, &b| {
            eig.eigenvalues[b]
                .total_cmp(&eig.eigenvalues[a])
                .then(a.cmp(&b))
        });
        let top = eig.eigenvalues[order[0]];
        if top.is_nan() || top <= 0.0 || top.is_infinite() {
            return None;
        }
        for w in order.windows(2) {
            if eig.eigenvalues[w[0]] - eig.eigenvalues[w[1]] <= DEGENERATE_TOL * top {
                return None;
            }
        }
        Some(DMatrix::from_fn(dims, dims, |r, c| {
            eig.eigenvectors[(c, order[r])]
        }))
    }

    /// Flips rows of `axes` by the skew rule and makes det = +1 with the last row.
    fn skew_signs(&self, flat: &[f64], dims: usize, axes: &mut DMatrix<f64>) {
        for k in 0..dims - 1 {
            let (mut m3, mut s3) = (0.0, 0.0);
            let mut far = (0.0f64, usize::MAX, 0.0f64);
            for (&i, &w) in self.fit.points.iter().zip(&self.fit.weights) {
                let p: f64 = (0..dims).map(|c| axes[(k, c)] * flat[i * dims + c]).sum();
                m3 += w * p * p * p;
                s3 += w * (p * p * p).abs();
                if p.abs() > far.0 * (1.0 + 1e-9) {
                    far = (p.abs(), i, p);
                }
            }
            let negative = if m3.abs() > SKEW_TOL * s3 {
                m3 < 0.0
            } else {
                far.2 < 0.0
            };
            if negative {
                axes.row_mut(k).neg_mut();
            }
        }
        if axes.determinant() < 0.0 {
            axes.row_mut(dims - 1).neg_mut();
        }
    }

    /// Chooses the proper sign combination of `axes` that brings the frame closest to
    /// `prev` (the previous aligned frame): maximises `Σ_k s_k e_k·H_k` with
    /// `H = Σ w x yᵀ`, flipping the weakest axis if the product of signs must change.
    fn continuous_signs(
        &self,
        flat: &[f64],
        prev: &Array2<f64>,
        dims: usize,
        axes: &mut DMatrix<f64>,
    ) {
        let prev = prev.as_slice().expect("contiguous");
        let h = crate::kernels::linalg::cross_covariance(flat, prev, dims, &self.fit);
        let a: Vec<f64> = (0..dims)
            .map(|k| (0..dims).map(|c| axes[(k, c)] * h[(c, k)]).sum())
            .collect();
        let mut s: Vec<f64> = a
            .iter()
            .map(|&x| if x < 0.0 { -1.0 } else { 1.0 })
            .collect();
        let det_sign = axes.determinant().signum() * s.iter().product::<f64>();
        if det_sign < 0.0 {
            let weakest = (0..dims)
                .min_by(|&i, &j| a[i].abs().total_cmp(&a[j].abs()))
                .expect("dims ≥ 2");
            s[weakest] = -s[weakest];
        }
        for (k, sk) in s.iter().enumerate() {
            if *sk < 0.0 {
                axes.row_mut(k).neg_mut();
            }
        }
    }
}

impl Principal {
    /// The proper rotation (rows: signed principal axes) for `flat` (`N × dims` row-major),
    /// or `None` for a degenerate frame. With [`SignRule::Continuous`] and a previous aligned
    /// frame `prev`, signs follow `prev`; otherwise the skew rule.
    pub fn rotation(
        &self,
        flat: &[f64],
        dims: usize,
        prev: Option<&Array2<f64>>,
    ) -> Option<DMatrix<f64>> {
        let mut axes = self.axes(flat, dims)?;
        match (&self.sign, prev) {
            (SignRule::Continuous, Some(prev)) => {
                self.continuous_signs(flat, prev, dims, &mut axes)
            }
            _ => self.skew_signs(flat, dims, &mut axes),
        }
        Some(axes)
    }
}

impl Stage for Principal {
    fn name(&self) -> String {
        if self.center_com {
            "com+principal".into()
        } else {
            "principal".into()
        }
    }

    fn parallelizable(&self) -> bool {
        self.sign == SignRule::Skew
    }

    fn apply(&self, mut frame: ArrayViewMut2<'_, f64>, history: &mut History) -> FrameFacts {
        let dims = frame.ncols();
        let flat = frame.as_slice_mut().expect("frames are contiguous");
        if self.sign == SignRule::Skew {
            match dims {
                2 => return self.apply_small::<2>(flat),
                3 => return self.apply_small::<3>(flat),
                _ => {}
            }
        }
        if self.center_com {
            crate::kernels::subtract_centroid(flat, dims, &self.fit);
        }
        let off_center = !self.center_com && is_off_center(flat, dims, &self.fit);
        let (r, degenerate) = match self.rotation(flat, dims, history.prev_output.as_ref()) {
            Some(r) => (r, false),
            None => {
                let fallback = match (&self.sign, &history.prev_rotation) {
                    (SignRule::Continuous, Some(prev)) => {
                        DMatrix::from_fn(dims, dims, |r, c| prev[[r, c]])
                    }
                    _ => DMatrix::identity(dims, dims),
                };
                (fallback, true)
            }
        };
        rotate_rows(flat, &r);
        if self.sign == SignRule::Continuous {
            history.prev_output = Some(frame.to_owned());
            history.prev_rotation = Some(Array2::from_shape_fn((dims, dims), |(a, b)| r[(a, b)]));
        }
        FrameFacts {
            degenerate,
            off_center,
            angle_deg: rotation_angle_deg(&r),
        }
    }
}
