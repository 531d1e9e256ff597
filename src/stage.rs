//! The stage contract: one small transformation of one frame.
//!
//! Stages are built once per run by `try_new`-style constructors that validate their options
//! and precompute everything frame-independent (weights, the centred reference); `apply` does
//! only the per-frame arithmetic. Frames are `N × D` `f64` views, points as rows.

use ndarray::{Array2, ArrayViewMut2};

/// What a stage learned about one frame. Facts from several stages are merged with
/// [`FrameFacts::merge`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FrameFacts {
    /// The transform is undefined for this frame (coincident or collinear points, equal
    /// eigenvalues, non-finite input); a defined fallback was used and nothing is NaN.
    pub degenerate: bool,
    /// The frame's fit-set centroid was not at the origin when a rotation stage saw it.
    pub off_center: bool,
    /// The rotation applied, in degrees (0 for centering stages).
    pub angle_deg: f64,
}

impl FrameFacts {
    /// Combines the facts of two stages applied to the same frame.
    pub fn merge(&mut self, other: FrameFacts) {
        self.degenerate |= other.degenerate;
        self.off_center |= other.off_center;
        if other.angle_deg != 0.0 {
            self.angle_deg = other.angle_deg;
        }
    }
}

/// What a stage that depends on earlier frames keeps between frames (for example
/// `--sign continuous`). Stages that are [`parallelizable`](Stage::parallelizable) ignore it.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// The previous frame as this stage output it.
    pub prev_output: Option<Array2<f64>>,
    /// The rotation applied to the previous frame (D × D, acting as `X ← X Rᵀ`).
    pub prev_rotation: Option<Array2<f64>>,
}

/// One transformation of a frame, applied in place.
pub trait Stage: Send + Sync {
    /// The stage's name as written in a pipeline (`com`, `point3`, `principal`, `kabsch`, …).
    fn name(&self) -> String;

    /// Whether frames may be transformed independently and in any order. A stage that
    /// returns false is given each frame in order with its [`History`].
    fn parallelizable(&self) -> bool {
        true
    }

    /// Transforms `frame` (N × D) in place and reports what it found. Must not write NaN
    /// for finite input: degenerate frames get a defined fallback and `degenerate: true`.
    fn apply(&self, frame: ArrayViewMut2<'_, f64>, history: &mut History) -> FrameFacts;

    /// The reference structure this stage superposes onto, if it has one (Kabsch), so that
    /// reports can measure against it without building it again.
    fn reference(&self) -> Option<&crate::rotate::Reference> {
        None
    }
}
