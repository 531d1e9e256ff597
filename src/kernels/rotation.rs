//! Rotations from moments: SVD Kabsch, sorted principal axes with the skew and continuity sign
//! rules, point-vector axes by Gram–Schmidt; plus the angle of a rotation and its 3 × 3 padding.
//! `None` means "not unique" (a degenerate frame): the caller uses a fallback rotation.

use super::{zero_vec, Alloc, Dimension, Mat, Vector, DEGENERATE_TOL, SKEW_TOL};
use nalgebra::DefaultAllocator;

/// The proper rotation maximising `tr(R H)` for `H = Σ w x yᵀ` (Kabsch: `R x` best fits `y`), or
/// `None` when it is not unique: `H` zero or non-finite, the second-smallest singular value
/// ≤ 1e-10 × the largest (fit points spanning fewer than D − 1 dimensions), or a needed
/// reflection correction between two equal smallest singular values. From `H = U S Vᵀ`:
/// `R = V diag(1, …, 1, d) Uᵀ`, `d = sign det(V Uᵀ)`.
pub(crate) fn kabsch_rotation<D: Dimension>(h: Mat<D>) -> Option<Mat<D>>
where
    DefaultAllocator: Alloc<D>,
{
    let h = normalised(h)?;
    let d = h.nrows();
    let svd = h.svd(true, true);
    let (u, v_t) = (svd.u?, svd.v_t?);
    let s = svd.singular_values; // descending
    let top = s[0];
    if !(top > 0.0 && top.is_finite()) {
        return None;
    }
    let tol = DEGENERATE_TOL * top;
    if s[d - 2] <= tol {
        return None;
    }
    let mut v = v_t.transpose();
    let ut = u.transpose();
    if (&v * &ut).determinant() < 0.0 {
        if s[d - 2] - s[d - 1] <= tol {
            return None;
        }
        v.column_mut(d - 1).neg_mut();
    }
    Some(v * ut)
}

/// `m` divided by a power of two near its largest entry (exact; keeps the decompositions'
/// internal squares in range), or `None` when `m` is zero or not finite.
fn normalised<D: Dimension>(m: Mat<D>) -> Option<Mat<D>>
where
    DefaultAllocator: Alloc<D>,
{
    let top = super::max_abs(m.as_slice());
    if !(top > 0.0 && top.is_finite()) {
        return None;
    }
    Some(m * (1.0 / super::pow2_scale(top)))
}

/// Eigenvectors of a symmetric matrix as rows, by descending eigenvalue, or `None` when they
/// are not unique up to sign: the largest eigenvalue not positive or not finite, or two
/// consecutive eigenvalues within 1e-10 × the largest.
pub(crate) fn sorted_axes<D: Dimension>(g: Mat<D>) -> Option<Mat<D>>
where
    DefaultAllocator: Alloc<D>,
{
    let g = normalised(g)?;
    let (rows, cols) = g.shape_generic();
    let d = g.nrows();
    let eig = g.symmetric_eigen();
    let mut vals = eig.eigenvalues.clone();
    if !super::all_finite(vals.as_slice()) {
        return None;
    }
    let mut axes = Mat::<D>::zeros_generic(rows, cols);
    let mut prev = f64::INFINITY;
    let mut top = 0.0;
    for r in 0..d {
        // Selection by descending value, lowest index first on ties (taken ones are NaN).
        let mut best = usize::MAX;
        for k in 0..d {
            if !vals[k].is_nan() && (best == usize::MAX || vals[k] > vals[best]) {
                best = k;
            }
        }
        let v = vals[best];
        if r == 0 {
            top = v;
            if top <= 0.0 {
                return None;
            }
        } else if prev - v <= DEGENERATE_TOL * top {
            return None;
        }
        prev = v;
        vals[best] = f64::NAN;
        for c in 0..d {
            axes[(r, c)] = eig.eigenvectors[(c, best)];
        }
    }
    Some(axes)
}

/// The skew sign rule on `axes` (rows): for each axis but the last, flip it unless the third
/// moment `m3[k]` is positive; where `|m3| ≤ 1e-9 s3` (negligible) flip it unless the farthest
/// point's projection `far[k]` is positive. The last axis then makes det = +1.
pub(crate) fn apply_skew_signs<D: Dimension>(
    axes: &mut Mat<D>,
    m3: &Vector<D>,
    s3: &Vector<D>,
    far: &Vector<D>,
) where
    DefaultAllocator: Alloc<D>,
{
    let d = axes.nrows();
    for k in 0..d - 1 {
        let negative = if m3[k].abs() > SKEW_TOL * s3[k] {
            m3[k] < 0.0
        } else {
            far[k] < 0.0
        };
        if negative {
            axes.row_mut(k).neg_mut();
        }
    }
    if axes.determinant() < 0.0 {
        axes.row_mut(d - 1).neg_mut();
    }
}

/// The continuity sign rule: the proper sign combination of `axes` (rows) bringing the frame
/// closest to the previous aligned frame, given `H = Σ w x yᵀ` of the frame `x` with that frame
/// `y`: `s_k = sign(e_k·H_{:,k})` (+ on 0), then if the product of signs and det(axes) is
/// negative, the axis with the smallest `|e_k·H_{:,k}|` (lowest index on ties) is flipped back.
pub(crate) fn apply_continuous_signs<D: Dimension>(axes: &mut Mat<D>, h: &Mat<D>)
where
    DefaultAllocator: Alloc<D>,
{
    let d = axes.nrows();
    let mut a = zero_vec(axes.shape_generic().0);
    for k in 0..d {
        a[k] = (0..d).map(|c| axes[(k, c)] * h[(c, k)]).sum();
    }
    let mut negative_count = 0;
    let mut weakest = 0;
    for k in 0..d {
        if a[k] < 0.0 {
            negative_count += 1;
        }
        if a[k].abs() < a[weakest].abs() {
            weakest = k;
        }
    }
    let mut flip_weakest = axes.determinant() < 0.0;
    if negative_count % 2 == 1 {
        flip_weakest = !flip_weakest;
    }
    for k in 0..d {
        if (a[k] < 0.0) != (flip_weakest && k == weakest) {
            axes.row_mut(k).neg_mut();
        }
    }
}

/// Point-vector axes: with anchor `x_A = frame[points[0]]`, `e_j` (j = 1 … D−1) is the part of
/// `x_{points[j]} − x_A` orthogonal to the earlier axes (Gram–Schmidt, two passes), normalised;
/// the last axis completes a right-handed orthonormal basis. `None` when a vector's length is
/// ≤ `tol` (or not finite).
pub(crate) fn point_vector_axes<D: Dimension>(
    dim: D,
    frame: &[f64],
    points: &[usize],
    tol: f64,
) -> Option<Mat<D>>
where
    DefaultAllocator: Alloc<D>,
{
    let d = dim.value();
    let a = points[0] * d;
    let mut r = super::zeros(dim);
    let mut v = zero_vec(dim);
    for (j, &p) in points[1..d].iter().enumerate() {
        for k in 0..d {
            v[k] = frame[p * d + k] - frame[a + k];
        }
        orthogonalise(&mut v, &r, j);
        let n = v.norm();
        if !(n > tol && n.is_finite()) {
            return None;
        }
        r.row_mut(j).tr_copy_from(&(&v / n));
    }
    complete_last_row(&mut r);
    Some(r)
}

/// Removes from `v` its components along the first `rows` rows of `r` (orthonormal), twice.
fn orthogonalise<D: Dimension>(v: &mut Vector<D>, r: &Mat<D>, rows: usize)
where
    DefaultAllocator: Alloc<D>,
{
    let d = v.len();
    for _ in 0..2 {
        for j in 0..rows {
            let p: f64 = (0..d).map(|k| r[(j, k)] * v[k]).sum();
            for k in 0..d {
                v[k] -= p * r[(j, k)];
            }
        }
    }
}

/// Fills the last row of `r` (rows 0 … D−2 orthonormal) with the unit vector orthogonal to
/// them, signed so that det r = +1 (Gram–Schmidt on the standard basis vector with the largest
/// residual).
fn complete_last_row<D: Dimension>(r: &mut Mat<D>)
where
    DefaultAllocator: Alloc<D>,
{
    let d = r.nrows();
    let mut best = zero_vec(r.shape_generic().0);
    let mut best_norm = -1.0;
    let mut v = best.clone();
    for j in 0..d {
        v.fill(0.0);
        v[j] = 1.0;
        orthogonalise(&mut v, r, d - 1);
        let n = v.norm();
        if n > best_norm {
            best_norm = n;
            best.copy_from(&v);
        }
    }
    r.row_mut(d - 1).tr_copy_from(&(&best / best_norm));
    if r.determinant() < 0.0 {
        r.row_mut(d - 1).neg_mut();
    }
}

/// The angle of a rotation in degrees: `|atan2(r10, r00)|` in 2-D; otherwise
/// `arccos((tr R − (D − 2)) / 2)`, exact for a rotation in one plane.
pub(crate) fn rotation_angle_deg<D: Dimension>(r: &Mat<D>) -> f64
where
    DefaultAllocator: Alloc<D>,
{
    let d = r.nrows();
    if d == 2 {
        return r[(1, 0)].atan2(r[(0, 0)]).to_degrees().abs();
    }
    ((r.trace() - (d as f64 - 2.0)) / 2.0)
        .clamp(-1.0, 1.0)
        .acos()
        .to_degrees()
}

/// `r` as a row-major 3 × 3 matrix, identity-padded for 2-D; `None` for D > 3.
pub(crate) fn pad3<D: Dimension>(r: &Mat<D>) -> Option<[[f64; 3]; 3]>
where
    DefaultAllocator: Alloc<D>,
{
    let d = r.nrows();
    if d > 3 {
        return None;
    }
    let mut m = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    for (a, row) in m.iter_mut().enumerate().take(d) {
        for (b, v) in row.iter_mut().enumerate().take(d) {
            *v = r[(a, b)];
        }
    }
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{Const, DMatrix, Dyn, Matrix3};

    #[test]
    fn sorted_axes_need_distinct_eigenvalues() {
        assert!(sorted_axes(Matrix3::from_diagonal_element(2.0)).is_none());
        assert!(sorted_axes(Matrix3::new(2.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 2.0)).is_none());
        assert!(sorted_axes(Matrix3::zeros()).is_none());
        let a = sorted_axes(Matrix3::new(1.0, 0.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 2.0)).unwrap();
        // Rows by descending eigenvalue: y, z, x (up to sign).
        assert_eq!(
            a.map(f64::abs),
            Matrix3::new(0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0)
        );
        let big = Matrix3::new(1e300, 0.0, 0.0, 0.0, 3e300, 0.0, 0.0, 0.0, 2e300);
        assert_eq!(sorted_axes(big).unwrap().map(f64::abs), a.map(f64::abs));
    }

    #[test]
    fn kabsch_of_a_reflection_is_proper() {
        // H = diag(3, 2, −1): the best rotation flips the weakest axis pair → diag(1, −1, −1)?
        // No: R = V diag(1, 1, d) Uᵀ with d = −1 gives diag(1, 1, 1)·… — check by properties.
        for d in [2, 3, 4, 7] {
            let mut h = DMatrix::<f64>::identity(d, d) * 2.0;
            h[(0, 0)] = 5.0;
            h[(d - 1, d - 1)] = -1.0;
            let r = kabsch_rotation::<Dyn>(h.clone()).unwrap();
            assert!((r.determinant() - 1.0).abs() < 1e-12);
            assert!((&r * r.transpose() - DMatrix::identity(d, d)).amax() < 1e-12);
            // The identity (tr(RH) = 5 + 2(d−2) − 1) is optimal among proper rotations here.
            assert!((&r - DMatrix::identity(d, d)).amax() < 1e-12, "d = {d}");
        }
        let dup = Matrix3::from_diagonal(&nalgebra::Vector3::new(3.0, 1.0, -1.0));
        assert!(kabsch_rotation::<Const<3>>(dup).is_none());
    }

    #[test]
    fn continuous_signs_pick_the_closest_proper_combination() {
        // Axes = identity, H = diag(−1, −2, 3): flipping x and y keeps det +1 and is best.
        let mut axes = Matrix3::identity();
        apply_continuous_signs(
            &mut axes,
            &Matrix3::from_diagonal(&nalgebra::Vector3::new(-1.0, -2.0, 3.0)),
        );
        assert_eq!(
            axes,
            Matrix3::from_diagonal(&nalgebra::Vector3::new(-1.0, -2.0, 1.0).map(f64::signum))
        );
        // H = diag(−1, 2, 3): one flip would be improper; the weakest (x) stays.
        let mut axes = Matrix3::identity();
        apply_continuous_signs(
            &mut axes,
            &Matrix3::from_diagonal(&nalgebra::Vector3::new(-1.0, 2.0, 3.0)),
        );
        assert_eq!(axes, Matrix3::identity());
        // H = diag(−3, 2, 1): x must flip, so the weakest other (z) flips too.
        let mut axes = Matrix3::identity();
        apply_continuous_signs(
            &mut axes,
            &Matrix3::from_diagonal(&nalgebra::Vector3::new(-3.0, 2.0, 1.0)),
        );
        assert_eq!(
            axes,
            Matrix3::from_diagonal(&nalgebra::Vector3::new(-1.0, 1.0, -1.0))
        );
    }
}
