//! Stages: one transformation of one frame each, built once for a frame shape by
//! [`build_steps`] (which picks the dimension type: 2 → `Const<2>`, 3 → `Const<3>`, else
//! `Dyn`) and applied in place to `N × D` row-major `f64` frames. The arithmetic is in
//! [`crate::kernels`]; a stage holds what does not depend on the frame.

mod center;
mod kabsch;
mod point_vector;
mod principal;

pub use crate::kernels::Fit;
use crate::kernels::{Alloc, Dimension};
use nalgebra::{Const, DefaultAllocator, Dyn};
use std::sync::Arc;

pub(crate) use center::{CenterCom, CenterPoint};
pub(crate) use kabsch::Kabsch;
pub(crate) use point_vector::PointVector;
pub(crate) use principal::{Principal, PrincipalContinuous};

/// What a stage learned about one frame (merged over the stages of a pipeline).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FrameFacts {
    /// The transform was undefined (coincident/collinear points, equal eigenvalues, zero fit
    /// weight, …): a defined fallback was used (identity, or the previous rotation with the
    /// continuous sign rule) and nothing is NaN.
    pub degenerate: bool,
    /// A rotation stage saw a frame whose fit-set centroid is not at the origin (only computed
    /// when the step was built with `check_centred`).
    pub off_center: bool,
    /// The rotation applied, degrees (0 for centering stages).
    pub angle_deg: f64,
    /// The rotation applied as a 3×3 row-major matrix (identity-padded for 2-D; None for
    /// D > 3 or centering-only pipelines).
    pub rotation: Option<[[f64; 3]; 3]>,
    /// Some output coordinate is ±∞ because the true result exceeds `f64::MAX` (finite input
    /// within a factor 2 of `f64::MAX`); never NaN. The caller should report the frame and
    /// apply no further step to it (stages expect finite input).
    pub nonfinite_output: bool,
}

impl FrameFacts {
    /// Combines the facts of two stages applied to the same frame, in order: flags are OR-ed,
    /// the later stage's rotation and non-zero angle win.
    pub fn merge(&mut self, later: FrameFacts) {
        self.degenerate |= later.degenerate;
        self.off_center |= later.off_center;
        self.nonfinite_output |= later.nonfinite_output;
        if later.angle_deg != 0.0 {
            self.angle_deg = later.angle_deg;
        }
        if later.rotation.is_some() {
            self.rotation = later.rotation;
        }
    }
}

/// A stage that may see frames in any order, on any thread.
pub trait Stage: Send + Sync {
    /// The stage's name as written in a pipeline (`com`, `point3`, `com+kabsch` when fused, …).
    fn name(&self) -> String;
    /// Transforms one frame (`N × D` row-major, finite) in place.
    fn apply(&self, frame: &mut [f64]) -> FrameFacts;
}

/// A stage that depends on the frames before it (principal axes with the continuous sign
/// rule): the engine gives it every frame once, in order.
pub trait OrderedStage: Send + Sync {
    /// The stage's name as written in a pipeline.
    fn name(&self) -> String;
    /// Transforms the next frame (`N × D` row-major, finite) in place.
    fn apply(&mut self, frame: &mut [f64]) -> FrameFacts;
    /// A fresh copy with no history (a new pass over a trajectory, or an independent frame).
    fn fresh(&self) -> Box<dyn OrderedStage>;
}

/// One step of a pipeline.
pub enum Step {
    /// Frames in any order, on any thread.
    Parallel(Box<dyn Stage>),
    /// Every frame once, in order.
    Ordered(Box<dyn OrderedStage>),
}

/// A reference structure for Kabsch, centred the same way as the frames fitted to it.
#[derive(Clone, Debug)]
pub struct Reference {
    /// Centred coordinates, N × D row-major.
    pub coords: Vec<f64>,
    /// The translation the centering removed (added back with `to_ref_center`), D long.
    pub center: Vec<f64>,
    /// Where it came from, for messages and reports.
    pub description: String,
}

/// The centering of a pipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CenterKind {
    /// Weighted fit-set centroid to the origin.
    Com,
    /// Point K to the origin.
    Point(usize),
    /// No centering.
    None,
}

pub use crate::options::SignRule;

/// The rotation of a pipeline.
#[derive(Clone, Debug)]
pub enum RotateKind {
    /// Principal axes of the gyration tensor about the origin.
    Principal(SignRule),
    /// Anchor A then one point per axis but the last (resolved by the plan).
    PointVector(Vec<usize>),
    /// Least-squares superposition onto a centred reference.
    Kabsch {
        /// The reference, centred like the frames.
        reference: Arc<Reference>,
        /// Add the reference's original centre after rotating.
        to_ref_center: bool,
    },
    /// No rotation.
    None,
}

/// Everything needed to build a pipeline for frames of `points × dims`.
pub struct StagePlan {
    /// The centering.
    pub center: CenterKind,
    /// The rotation.
    pub rotate: RotateKind,
    /// The fit set (centroid, moments, covariance).
    pub fit: Fit,
    /// Points per frame (≥ 1).
    pub points: usize,
    /// Coordinates per point (≥ 2).
    pub dims: usize,
    /// Compute `off_center` in rotation stages (fused `com+…` stages are centred by
    /// construction and never report it).
    pub check_centred: bool,
}

/// Builds the steps: kernels chosen once for D (2, 3: fixed size, no heap per frame; other D:
/// nalgebra `Dyn`), COM centering fused into principal (skew) and Kabsch. Errors are one line
/// and name no CLI flag: point index out of range, point-vector count/distinctness, reference
/// shape mismatch, a fit set that does not match the frames.
pub fn build_steps(plan: StagePlan) -> Result<Vec<Step>, String> {
    validate(&plan)?;
    Ok(match plan.dims {
        2 => build_for(Const::<2>, plan),
        3 => build_for(Const::<3>, plan),
        d => build_for(Dyn(d), plan),
    })
}

/// The checks of [`build_steps`].
fn validate(plan: &StagePlan) -> Result<(), String> {
    let (points, dims) = (plan.points, plan.dims);
    if dims < 2 || points == 0 {
        return Err(format!(
            "frames must have at least 1 point and 2 dims, got {points} × {dims}"
        ));
    }
    let in_range = |p: usize| {
        if p < points {
            Ok(())
        } else {
            Err(format!(
                "point {p} is out of range (frames have {points} points)"
            ))
        }
    };
    let fit = &plan.fit;
    for &i in &fit.indices {
        in_range(i)?;
    }
    if fit.all_unit && fit.indices.len() != points {
        return Err(format!(
            "the fit set covers {} points but the frames have {points}",
            fit.indices.len()
        ));
    }
    if let CenterKind::Point(k) = plan.center {
        in_range(k)?;
    }
    match &plan.rotate {
        RotateKind::PointVector(p) => {
            if p.len() != dims {
                return Err(format!(
                    "point-vector needs {dims} points for {dims}-D frames (the anchor and one per axis but the last), got {}",
                    p.len()
                ));
            }
            p.iter().try_for_each(|&i| in_range(i))?;
            let mut sorted = p.clone();
            sorted.sort_unstable();
            sorted.dedup();
            if sorted.len() != p.len() {
                return Err(format!(
                    "point-vector points must be distinct, got {}",
                    join(p)
                ));
            }
        }
        RotateKind::Kabsch { reference, .. } => {
            let n = reference.coords.len();
            if n % dims != 0 || reference.center.len() != dims {
                return Err(format!(
                    "the reference does not have {dims} dims like the frames"
                ));
            }
            if n / dims != points {
                return Err(format!(
                    "the reference has {} points but the frames have {points}",
                    n / dims
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

/// `0,1,2`.
fn join(points: &[usize]) -> String {
    points
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// The steps for one dimension type (the plan is valid).
fn build_for<D: Dimension>(dim: D, plan: StagePlan) -> Vec<Step>
where
    DefaultAllocator: Alloc<D>,
{
    let fit = Arc::new(plan.fit);
    let check = plan.check_centred;
    let par = |s: Box<dyn Stage>| Step::Parallel(s);
    match (plan.center, plan.rotate) {
        (CenterKind::Com, RotateKind::Principal(SignRule::Skew)) => {
            vec![par(Box::new(Principal::<D, true>::new(dim, fit, false)))]
        }
        (
            CenterKind::Com,
            RotateKind::Kabsch {
                reference,
                to_ref_center,
            },
        ) => vec![par(Box::new(Kabsch::<D, true>::new(
            dim,
            fit,
            reference,
            to_ref_center,
            false,
        )))],
        (center, rotate) => {
            let mut steps = Vec::new();
            match center {
                CenterKind::Com => steps.push(par(Box::new(CenterCom::new(dim, fit.clone())))),
                CenterKind::Point(k) => steps.push(par(Box::new(CenterPoint::new(dim, k)))),
                CenterKind::None => {}
            }
            match rotate {
                RotateKind::Principal(SignRule::Skew) => {
                    steps.push(par(Box::new(Principal::<D, false>::new(dim, fit, check))))
                }
                RotateKind::Principal(SignRule::Continuous) => steps.push(Step::Ordered(Box::new(
                    PrincipalContinuous::new(dim, fit, check),
                ))),
                RotateKind::PointVector(p) => {
                    steps.push(par(Box::new(PointVector::new(dim, p, fit, check))))
                }
                RotateKind::Kabsch {
                    reference,
                    to_ref_center,
                } => steps.push(par(Box::new(Kabsch::<D, false>::new(
                    dim,
                    fit,
                    reference,
                    to_ref_center,
                    check,
                )))),
                RotateKind::None => {}
            }
            steps
        }
    }
}

/// Centres a raw reference frame (N × D row-major) with the pipeline's centering: COM over
/// `fit`, point K, or for [`CenterKind::None`] COM over `fit` when `centre_when_none` (a
/// reference file for the `rotate` command) and nothing otherwise. Records the translation
/// removed. The caller has checked the shape and indices.
pub fn center_reference(
    raw: Vec<f64>,
    dims: usize,
    center: &CenterKind,
    fit: &Fit,
    centre_when_none: bool,
    description: String,
) -> Reference {
    let dim = Dyn(dims);
    let c: Vec<f64> = match center {
        CenterKind::Point(k) => raw[k * dims..(k + 1) * dims].to_vec(),
        CenterKind::None if !centre_when_none => vec![0.0; dims],
        _ => center::robust_centroid(dim, &raw, fit).as_slice().to_vec(),
    };
    let coords = raw
        .chunks_exact(dims)
        .flat_map(|x| x.iter().zip(&c).map(|(a, b)| a - b))
        .collect();
    Reference {
        coords,
        center: c,
        description,
    }
}

#[cfg(test)]
mod tests;
