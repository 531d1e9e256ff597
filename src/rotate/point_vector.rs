//! `--point-vector A,B[,C…]`: the frame's own axes from chosen points.

use super::{complete_basis, is_off_center, DEGENERATE_TOL};
use crate::fit::FitSet;
use crate::kernels::linalg::{rms_radius, rotate_rows, rotation_angle_deg};
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
