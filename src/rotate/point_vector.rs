//! `--point-vector A,B[,C…]`: the frame's own axes from chosen points.

use super::{complete_basis, is_off_center, DEGENERATE_TOL};
use crate::fit::FitSet;
use crate::kernels::linalg::{rms_radius, rotate_rows, rotation_angle_deg};
use crate::kernels::small;
use crate::stage::{FrameFacts, History, Stage};
use anyhow::{bail, Result};
use nalgebra::DMatrix;
use ndarray::ArrayViewMut2;
use std::sync::Arc;

/// `e1 = (x_B − x_A)/‖·‖` onto +x; each further point P gives the next axis as the part of
/// `x_P − x_A` orthogonal to the previous axes (onto +y, +z, …); the last axis completes a
/// right-handed basis. `R` has rows `e1 … eD`. A zero-length or linearly dependent vector
/// (relative to the frame's size) makes the frame degenerate: identity.
pub struct PointVector {
    points: Vec<usize>,
    centroid_fit: Arc<FitSet>,
}

impl PointVector {
    /// The default anchors for `dims`: `0, 1, …, D−1` (`0,1` in 2-D, `0,1,2` in 3-D).
    pub fn default_points(dims: usize) -> Vec<usize> {
        (0..dims).collect()
    }

    /// Validates `points` (exactly `dims` distinct indices < `n_points`: the anchor A and
    /// one point per axis but the last) and builds the stage. `fit` is used only for the
    /// off-centre check.
    pub fn try_new(
        points: Vec<usize>,
        n_points: usize,
        dims: usize,
        fit: Arc<FitSet>,
    ) -> Result<PointVector> {
        let list = points
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(",");
        if points.len() != dims {
            bail!(
                "--point-vector {list}: {dims}-D frames need {dims} points (the anchor and one per axis but the last), got {}",
                points.len()
            );
        }
        for &p in &points {
            crate::fit::check_point_index("--point-vector", p, n_points)?;
        }
        let mut sorted = points.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != points.len() {
            bail!("--point-vector {list}: points must be distinct");
        }
        Ok(PointVector {
            points,
            centroid_fit: fit,
        })
    }
}

impl PointVector {
    /// The rotation with rows `e1 … eD` for `frame` (`N × dims` row-major), or `None` when a
    /// vector is zero or linearly dependent on the previous ones (relative to the frame's RMS
    /// radius).
    pub fn rotation(&self, flat: &[f64], dims: usize) -> Option<DMatrix<f64>> {
        let anchor = self.points[0];
        let tol = DEGENERATE_TOL * rms_radius(flat, dims).max(f64::MIN_POSITIVE);
        let mut rows: Vec<Vec<f64>> = Vec::with_capacity(dims);
        for &p in &self.points[1..dims] {
            let mut v: Vec<f64> = (0..dims)
                .map(|k| flat[p * dims + k] - flat[anchor * dims + k])
                .collect();
            for _ in 0..2 {
                for r in &rows {
                    let proj: f64 = r.iter().zip(&v).map(|(a, b)| a * b).sum();
                    v.iter_mut().zip(r).for_each(|(x, a)| *x -= proj * a);
                }
            }
            let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            if n.is_nan() || n <= tol {
                return None;
            }
            v.iter_mut().for_each(|x| *x /= n);
            rows.push(v);
        }
        Some(complete_basis(rows, dims))
    }
}

impl PointVector {
    /// The 2-D/3-D path: the same axes as [`rotation`](Self::rotation) (in 2-D `e2` is `e1`
    /// turned by +90°, in 3-D `e3 = e1 × e2`), on the stack.
    fn apply_small<const D: usize>(&self, flat: &mut [f64]) -> FrameFacts {
        let a = self.points[0];
        let anchor: [f64; D] = std::array::from_fn(|k| flat[a * D + k]);
        let off_center = anchor.iter().any(|x| *x != 0.0)
            && small::is_off_center(flat, &small::centroid::<D>(flat, &self.centroid_fit));
        let tol = DEGENERATE_TOL * rms_radius(flat, D).max(f64::MIN_POSITIVE);
        let diff = |p: usize| -> [f64; D] { std::array::from_fn(|k| flat[p * D + k] - anchor[k]) };
        let unit = |v: [f64; D]| -> Option<[f64; D]> {
            let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            (n > tol).then(|| v.map(|x| x / n))
        };
        let Some(e1) = unit(diff(self.points[1])) else {
            return FrameFacts {
                degenerate: true,
                off_center,
                angle_deg: 0.0,
            };
        };
        let mut r = [[0.0; D]; D];
        r[0] = e1;
        if D == 2 {
            r[1][0] = -e1[1];
            r[1][1] = e1[0];
        } else {
            let mut v = diff(self.points[2]);
            for _ in 0..2 {
                let p: f64 = v.iter().zip(&e1).map(|(x, e)| x * e).sum();
                v.iter_mut().zip(&e1).for_each(|(x, e)| *x -= p * e);
            }
            let Some(e2) = unit(v) else {
                return FrameFacts {
                    degenerate: true,
                    off_center,
                    angle_deg: 0.0,
                };
            };
            r[1] = e2;
            r[2][0] = e1[1] * e2[2] - e1[2] * e2[1];
            r[2][1] = e1[2] * e2[0] - e1[0] * e2[2];
            r[2][2] = e1[0] * e2[1] - e1[1] * e2[0];
        }
        small::transform::<D>(flat, &r, &[0.0; D], &[0.0; D]);
        FrameFacts {
            degenerate: false,
            off_center,
            angle_deg: small::rotation_angle_deg(&r),
        }
    }
}

impl Stage for PointVector {
    fn name(&self) -> String {
        let default = PointVector::default_points(self.points.len());
        if self.points == default {
            "point-vector".into()
        } else {
            let list = self
                .points
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(",");
            format!("point-vector:{list}")
        }
    }

    fn apply(&self, mut frame: ArrayViewMut2<'_, f64>, _: &mut History) -> FrameFacts {
        let dims = frame.ncols();
        let flat = frame.as_slice_mut().expect("frames are contiguous");
        match dims {
            2 => return self.apply_small::<2>(flat),
            3 => return self.apply_small::<3>(flat),
            _ => {}
        }
        let anchor = self.points[0];
        let off_center = flat[anchor * dims..(anchor + 1) * dims]
            .iter()
            .any(|x| *x != 0.0)
            && is_off_center(flat, dims, &self.centroid_fit);
        match self.rotation(flat, dims) {
            Some(r) => {
                rotate_rows(flat, &r);
                FrameFacts {
                    degenerate: false,
                    off_center,
                    angle_deg: rotation_angle_deg(&r),
                }
            }
            None => FrameFacts {
                degenerate: true,
                off_center,
                angle_deg: 0.0,
            },
        }
    }
}
