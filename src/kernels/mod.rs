//! Numeric kernels: free functions over plain row-major frames (`N × D` slices, points as rows)
//! and a [`Fit`] (indices and weights), with no knowledge of files or options. Everything
//! accumulates in `f64`. One generic implementation per kernel: the dimension is a nalgebra
//! dimension type (`Const<2>`, `Const<3>`: fixed size, no heap; `Dyn`: heap allowed).
//! Rotation convention: a rotation `R` (D × D) acts on row vectors as `x ← R x` (`X ← X Rᵀ`).

pub(crate) mod moments;
pub(crate) mod rotation;
pub(crate) mod transform;

use nalgebra::allocator::Allocator;
use nalgebra::{Const, DefaultAllocator, Dim, DimDiff, DimMin, DimSub, Dyn, OMatrix, OVector, U1};

/// Relative tolerance below which a length, gap or singular value counts as zero.
pub(crate) const DEGENERATE_TOL: f64 = 1e-10;
/// Relative size below which a third moment counts as zero (skew sign rule).
pub(crate) const SKEW_TOL: f64 = 1e-9;
/// A centroid farther from the origin than this fraction of the RMS radius is "off centre".
pub(crate) const OFF_CENTER_TOL: f64 = 1e-4;
/// Second moments whose largest entry is below this are recomputed on a rescaled frame
/// (products of tiny coordinates underflow and lose precision).
pub(crate) const TINY_MOMENT: f64 = 1e-200;

/// A frame dimension: `Const<2>`, `Const<3>` or `Dyn`. Bundles the nalgebra bounds that SVD,
/// symmetric eigen-decomposition and determinants need (with [`Alloc`]).
pub(crate) trait Dimension:
    Dim + DimMin<Self, Output = Self> + DimSub<U1> + Copy + Send + Sync + 'static
{
}
impl Dimension for Const<2> {}
impl Dimension for Const<3> {}
impl Dimension for Dyn {}

/// The allocator bounds for a [`Dimension`]; write `DefaultAllocator: Alloc<D>`.
pub(crate) trait Alloc<D: Dimension>:
    Allocator<D, D> + Allocator<D> + Allocator<DimDiff<D, U1>> + Allocator<D, DimDiff<D, U1>>
{
}
impl<D: Dimension> Alloc<D> for DefaultAllocator where
    DefaultAllocator:
        Allocator<D, D> + Allocator<D> + Allocator<DimDiff<D, U1>> + Allocator<D, DimDiff<D, U1>>
{
}

/// A `D × D` matrix of `f64`.
pub(crate) type Mat<D> = OMatrix<f64, D, D>;
/// A `D`-vector of `f64`.
pub(crate) type Vector<D> = OVector<f64, D>;

/// The zero `D × D` matrix.
#[inline]
pub(crate) fn zeros<D: Dimension>(dim: D) -> Mat<D>
where
    DefaultAllocator: Alloc<D>,
{
    Mat::<D>::zeros_generic(dim, dim)
}

/// The zero `D`-vector.
#[inline]
pub(crate) fn zero_vec<D: Dimension>(dim: D) -> Vector<D>
where
    DefaultAllocator: Alloc<D>,
{
    Vector::<D>::zeros_generic(dim, Const::<1>)
}

/// The `D × D` identity.
#[inline]
pub(crate) fn identity<D: Dimension>(dim: D) -> Mat<D>
where
    DefaultAllocator: Alloc<D>,
{
    Mat::<D>::identity_generic(dim, dim)
}

/// The points and weights that define a transform: `indices` ascending, distinct and below the
/// number of points; one weight ≥ 0 per index; `total_weight` = Σ weights > 0.
#[derive(Clone, Debug, PartialEq)]
pub struct Fit {
    /// Point indices, ascending.
    pub indices: Vec<usize>,
    /// One weight per entry of `indices`.
    pub weights: Vec<f64>,
    /// Σ weights (> 0).
    pub total_weight: f64,
    /// Every point of the frame, weight 1 (kernels then walk rows directly, no multiplications).
    pub all_unit: bool,
}

impl Fit {
    /// All `points` points with weight 1.
    pub fn all(points: usize) -> Fit {
        Fit {
            indices: (0..points).collect(),
            weights: vec![1.0; points],
            total_weight: points as f64,
            all_unit: true,
        }
    }

    /// The fit set of frames with `points` points: optional per-point `masses` (length
    /// `points`, finite, ≥ 0; default 1) and an optional selection (any order, duplicates
    /// ignored; default all). Fails on a bad length, index or mass, or a zero total weight.
    pub fn new(
        points: usize,
        masses: Option<&[f64]>,
        indices: Option<&[usize]>,
    ) -> Result<Fit, String> {
        if let Some(m) = masses {
            if m.len() != points {
                return Err(format!("{} masses for frames of {points} points", m.len()));
            }
            if let Some(i) = m.iter().position(|v| !v.is_finite() || *v < 0.0) {
                return Err(format!(
                    "mass of point {i} is {} (masses must be finite and ≥ 0)",
                    m[i]
                ));
            }
        }
        let mut idx: Vec<usize> = indices.map_or_else(|| (0..points).collect(), <[usize]>::to_vec);
        idx.sort_unstable();
        idx.dedup();
        if let Some(&bad) = idx.iter().find(|&&i| i >= points) {
            return Err(format!(
                "point {bad} is out of range (frames have {points} points)"
            ));
        }
        if idx.is_empty() {
            return Err("the fit set is empty".into());
        }
        let weights: Vec<f64> = idx.iter().map(|&i| masses.map_or(1.0, |m| m[i])).collect();
        let total_weight: f64 = weights.iter().sum();
        if !(total_weight > 0.0 && total_weight.is_finite()) {
            return Err(format!(
                "the weights of the fit points sum to {total_weight}: no centre or fit is defined"
            ));
        }
        let all_unit = idx.len() == points && weights.iter().all(|&w| w == 1.0);
        Ok(Fit {
            indices: idx,
            weights,
            total_weight,
            all_unit,
        })
    }

    /// The same points with weights divided by their total (sum ≈ 1): used on rescaled frames
    /// so that huge masses cannot overflow either.
    pub fn normalized(&self) -> Fit {
        let inv = 1.0 / self.total_weight;
        let weights: Vec<f64> = self.weights.iter().map(|w| w * inv).collect();
        Fit {
            indices: self.indices.clone(),
            total_weight: weights.iter().sum::<f64>().max(f64::MIN_POSITIVE),
            weights,
            all_unit: false,
        }
    }
}

/// The largest `|x|` of a slice (0 for an empty or all-zero slice).
pub(crate) fn max_abs(values: &[f64]) -> f64 {
    values.iter().fold(0.0f64, |m, v| m.max(v.abs()))
}

/// A power of two close to `max_abs` (> 0, finite): dividing by it is exact (but for
/// underflow of values far below `max_abs`) and brings the largest magnitude into [0.5, 2].
pub(crate) fn pow2_scale(max_abs: f64) -> f64 {
    let e = max_abs.log2().round().clamp(-1022.0, 1023.0);
    2f64.powi(e as i32)
}

/// `frame / s` with `s` = [`pow2_scale`] of its largest magnitude, and `s`; `None` when every
/// value is 0 (no scale exists).
pub(crate) fn scaled_copy(frame: &[f64]) -> Option<(Vec<f64>, f64)> {
    let m = max_abs(frame);
    if !(m > 0.0 && m.is_finite()) {
        return None;
    }
    let s = pow2_scale(m);
    let inv = 1.0 / s;
    Some((frame.iter().map(|v| v * inv).collect(), s))
}

/// Whether every entry of a matrix or vector is finite.
#[inline]
pub(crate) fn all_finite(values: &[f64]) -> bool {
    values.iter().all(|v| v.is_finite())
}

/// Whether second moments must be recomputed on a rescaled frame: an entry overflowed, or all
/// are below [`TINY_MOMENT`] (possibly underflowed products; also true for exact zeros, which
/// the rescaled computation then confirms).
#[inline]
pub(crate) fn needs_rescale(moment: &[f64]) -> bool {
    let m = max_abs(moment);
    !(m.is_finite() && m >= TINY_MOMENT) || moment.iter().any(|v| v.is_nan())
}
