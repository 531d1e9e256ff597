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
    let (u, s, mut v) = jacobi_svd(h); // s descending
    let top = s[0];
    if !(top > 0.0 && top.is_finite()) {
        return None;
    }
    let tol = DEGENERATE_TOL * top;
    if s[d - 2] <= tol {
        return None;
    }
    let ut = u.transpose();
    if (&v * &ut).determinant() < 0.0 {
        if s[d - 2] - s[d - 1] <= tol {
            return None;
        }
        v.column_mut(d - 1).neg_mut();
    }
    Some(v * ut)
}

/// The SVD `H = U diag(s) Vᵀ` of a finite `H`, singular values descending, by one-sided Jacobi
/// rotations (accurate singular vectors, ≈ ε‖H‖/gap; nalgebra's 3 × 3 SVD squares the
/// condition number and its general SVD sometimes stops early, dimforge/nalgebra#1172). The
/// last column of `U` is the unit vector orthogonal to the others (exact also when the last
/// singular value is 0), signed like `H v_D`.
pub(crate) fn jacobi_svd<D: Dimension>(h: Mat<D>) -> (Mat<D>, Vector<D>, Mat<D>)
where
    DefaultAllocator: Alloc<D>,
{
    let d = h.nrows();
    let (rows, cols) = h.shape_generic();
    let mut a = h; // A V = U S: the columns of A become orthogonal
    let mut v = Mat::<D>::identity_generic(rows, cols);
    for _sweep in 0..64 {
        let mut rotated = false;
        for p in 0..d - 1 {
            for q in p + 1..d {
                rotated |= jacobi_rotate(&mut a, &mut v, p, q);
            }
        }
        if !rotated {
            break;
        }
    }
    // Column norms, then the order by descending norm (lowest index first on ties).
    let mut norms = zero_vec(rows);
    for j in 0..d {
        norms[j] = a.column(j).norm();
    }
    let mut u = Mat::<D>::zeros_generic(rows, cols);
    let mut vs = Mat::<D>::zeros_generic(rows, cols);
    let mut s = zero_vec(rows);
    for r in 0..d {
        let mut best = usize::MAX;
        for j in 0..d {
            if !norms[j].is_nan() && (best == usize::MAX || norms[j] > norms[best]) {
                best = j;
            }
        }
        s[r] = norms[best];
        norms[best] = f64::NAN;
        vs.set_column(r, &v.column(best));
        if s[r] > 0.0 {
            u.set_column(r, &(a.column(best) / s[r]));
        }
    }
    // Last left vector: orthogonal complement of the others, signed like A v_D.
    let mut ut = u.transpose();
    complete_last_row(&mut ut);
    let last = ut.row(d - 1).transpose();
    let sign = if last.dot(&u.column(d - 1)) < 0.0 {
        -1.0
    } else {
        1.0
    };
    u.set_column(d - 1, &(last * sign));
    (u, s, vs)
}

/// One Jacobi rotation of columns `p`, `q` of `a` (and `v`) making them orthogonal; false when
/// they already are (to working precision).
#[inline]
fn jacobi_rotate<D: Dimension>(a: &mut Mat<D>, v: &mut Mat<D>, p: usize, q: usize) -> bool
where
    DefaultAllocator: Alloc<D>,
{
    let d = a.nrows();
    let (mut alpha, mut beta, mut gamma) = (0.0, 0.0, 0.0);
    for k in 0..d {
        alpha += a[(k, p)] * a[(k, p)];
        beta += a[(k, q)] * a[(k, q)];
        gamma += a[(k, p)] * a[(k, q)];
    }
    if gamma == 0.0 || gamma.abs() <= f64::EPSILON * (alpha * beta).sqrt() {
        return false;
    }
    let zeta = (beta - alpha) / (2.0 * gamma);
    let t = zeta.signum() / (zeta.abs() + 1f64.hypot(zeta));
    let c = 1.0 / 1f64.hypot(t);
    let s = c * t;
    for m in [&mut *a, &mut *v] {
        for k in 0..d {
            let (x, y) = (m[(k, p)], m[(k, q)]);
            m[(k, p)] = c * x - s * y;
            m[(k, q)] = s * x + c * y;
        }
    }
    true
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
        // H = diag(5, 2, …, 2, −1): the best rotation would be the reflection diag(1, …, 1, −1);
        // the best PROPER one is the identity (tr = 5 + 2(D − 2) − 1).
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

    /// A 4-D covariance on which nalgebra's SVD reconstructs H only to ~1e-6 relative
    /// (dimforge/nalgebra#1172); found by the fused/unfused property test. The optimal proper
    /// rotation makes `R H` symmetric positive semi-definite (polar decomposition).
    #[test]
    fn kabsch_survives_an_inaccurate_nalgebra_svd() {
        let h = DMatrix::from_row_slice(
            4,
            4,
            &[
                -957.0042067678964,
                661.7104091459908,
                2121.5951791522325,
                2932.02663737332,
                76.06279603891008,
                -450.81350762206534,
                1123.3901756009443,
                1501.4641451847388,
                -7430.709809776008,
                -8086.820615488048,
                57880.30468203714,
                78981.2405798302,
                1718.0568384866983,
                -12615.496294806066,
                31656.842081334886,
                42838.690232534056,
            ],
        );
        let r = kabsch_rotation::<Dyn>(h.clone()).unwrap();
        let rh = &r * &h;
        assert!(
            (&rh - rh.transpose()).amax() < 1e-10 * h.amax(),
            "{}",
            (&rh - rh.transpose()).amax()
        );
        let eig = ((&rh + rh.transpose()) * 0.5).symmetric_eigen();
        assert!(eig.eigenvalues.min() > -1e-10 * h.amax());
        assert!((r.determinant() - 1.0).abs() < 1e-12);
    }

    proptest::proptest! {
        /// Sorted axes are accurate eigenvectors (residual ≤ 1e-12 ‖G‖) of gyration-like
        /// matrices with eigenvalues spread over many orders of magnitude.
        #[test]
        fn sorted_axes_are_accurate_eigenvectors(
            d in 2usize..7,
            entries in proptest::collection::vec((-1.0f64..1.0, -8i32..1), 49),
        ) {
            let x = DMatrix::from_fn(d + 1, d, |i, j| {
                let (m, e) = entries[i * d + j];
                m * 10f64.powi(e)
            });
            let g = x.transpose() * &x;
            if let Some(a) = sorted_axes::<Dyn>(g.clone()) {
                for k in 0..d {
                    let e = a.row(k).transpose();
                    let ge = &g * &e;
                    let lambda = e.dot(&ge);
                    proptest::prop_assert!((ge - e * lambda).amax() <= 1e-12 * g.amax());
                }
                proptest::prop_assert!((a.determinant().abs() - 1.0).abs() < 1e-12);
            }
        }
    }

    proptest::proptest! {
        /// The Jacobi SVD reconstructs H with orthogonal U, V and descending s, also for rank-
        /// deficient H (last column zeroed).
        #[test]
        fn jacobi_svd_reconstructs(
            d in 2usize..8,
            rank_deficient: bool,
            entries in proptest::collection::vec((-1.0f64..1.0, -6i32..1), 49),
        ) {
            let mut h = DMatrix::from_fn(d, d, |i, j| {
                let (m, e) = entries[i * d + j];
                m * 10f64.powi(e)
            });
            if rank_deficient {
                h.column_mut(d - 1).fill(0.0);
            }
            let (u, s, v) = jacobi_svd::<Dyn>(h.clone());
            let us = &u * DMatrix::from_diagonal(&s);
            proptest::prop_assert!((us * v.transpose() - &h).amax() <= 1e-14 * d as f64);
            let id = DMatrix::identity(d, d);
            proptest::prop_assert!((u.transpose() * &u - &id).amax() < 1e-13);
            proptest::prop_assert!((v.transpose() * &v - &id).amax() < 1e-13);
            proptest::prop_assert!(s.as_slice().windows(2).all(|w| w[0] >= w[1]));
        }

        /// Kabsch rotations are proper and make `R H` symmetric (the optimality condition) for
        /// covariances of mixed magnitudes, in 2 … 7 dimensions.
        #[test]
        fn kabsch_is_optimal(
            d in 2usize..8,
            entries in proptest::collection::vec((-1.0f64..1.0, -6i32..1), 49),
        ) {
            let h = DMatrix::from_fn(d, d, |i, j| {
                let (m, e) = entries[i * d + j];
                m * 10f64.powi(e)
            });
            if let Some(r) = kabsch_rotation::<Dyn>(h.clone()) {
                // Tolerance scaled by the conditioning of the rotation, s₁ / s_{D−1}.
                let s = h.clone().svd(false, false).singular_values;
                let tol = 1e-12 * h.amax() * (s[0] / s[d - 2]).max(1.0);
                let rh = &r * &h;
                proptest::prop_assert!((&rh - rh.transpose()).amax() <= tol, "{:e} {:e} {}", (&rh - rh.transpose()).amax(), tol, s);
                proptest::prop_assert!((r.determinant() - 1.0).abs() < 1e-10);
            }
        }
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
