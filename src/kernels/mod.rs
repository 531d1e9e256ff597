//! Numeric kernels: free functions over plain row-major frames (`N × D` slices, points as
//! rows), with no knowledge of files or options. Everything accumulates in `f64`.
//! Rotation convention: a rotation `R` (D × D, row-major) acts on row vectors as `x ← R x`,
//! i.e. `X ← X Rᵀ`.

pub mod center;
pub mod linalg;
pub mod small;

pub use center::{subtract_centroid, subtract_row, weighted_centroid};
