//! The per-frame write passes: `x ← x − shift` and `x ← R (x − before) + after`, in place.
//! Both return whether every value written is finite. They never write NaN for finite input:
//! a row whose result overflows is recomputed on rescaled values and gets ±∞ only where the
//! true result is beyond `f64::MAX`. Loops index plain slices of the nalgebra storage
//! (column-major) so that fixed-size accumulators stay in registers.

use super::{zero_vec, Alloc, Dimension, Mat, Vector};
use nalgebra::DefaultAllocator;

/// `x ← x − shift` for every row of `frame` (`N × D` row-major). Returns false when some
/// result overflowed to ±∞ (`|x − shift|` > `f64::MAX`; never NaN for finite input).
#[inline]
pub(crate) fn translate<D: Dimension>(dim: D, frame: &mut [f64], shift: &Vector<D>) -> bool
where
    DefaultAllocator: Alloc<D>,
{
    let d = dim.value();
    let shift = shift.as_slice();
    // One pass with a branch-free finiteness flag (x − shift overflows only near f64::MAX).
    let mut finite = true;
    for x in frame.chunks_exact_mut(d) {
        for k in 0..d {
            x[k] -= shift[k];
            finite &= x[k].is_finite();
        }
    }
    finite
}

/// `x ← R (x − before) + after` for every row: one pass, in place (`R` orthogonal). Returns
/// false when some result is not representable (set to ±∞, never NaN for finite input).
#[inline]
pub(crate) fn transform<D: Dimension>(
    dim: D,
    frame: &mut [f64],
    r: &Mat<D>,
    before: &Vector<D>,
    after: &Vector<D>,
) -> bool
where
    DefaultAllocator: Alloc<D>,
{
    let d = dim.value();
    let mut diff = zero_vec(dim);
    let mut out = zero_vec(dim);
    let mut all_finite = true;
    let (ds, os) = (diff.as_mut_slice(), out.as_mut_slice());
    let (rs, bs, as_) = (r.as_slice(), before.as_slice(), after.as_slice());
    // One pass: each row is computed into registers and written back when finite; a row whose
    // result overflows (only for coordinates near f64::MAX) takes the rescaled path from its
    // untouched input.
    for x in frame.chunks_exact_mut(d) {
        for k in 0..d {
            ds[k] = x[k] - bs[k];
        }
        let mut finite = true;
        for a in 0..d {
            let mut v = as_[a];
            for b in 0..d {
                v += rs[a + b * d] * ds[b];
            }
            os[a] = v;
            finite &= v.is_finite();
        }
        if finite {
            x.copy_from_slice(os);
        } else {
            all_finite &= transform_row_rescaled(x, r, before, after);
        }
    }
    all_finite
}

/// The slow path of [`transform`] for one row whose result overflowed (or went NaN through an
/// intermediate ∞): works on `(x − before) / s` with `s` a power of two, then scales back.
#[cold]
fn transform_row_rescaled<D: Dimension>(
    x: &mut [f64],
    r: &Mat<D>,
    before: &Vector<D>,
    after: &Vector<D>,
) -> bool
where
    DefaultAllocator: Alloc<D>,
{
    let d = x.len();
    let m = super::max_abs(x).max(super::max_abs(before.as_slice()));
    let s = super::pow2_scale(m);
    let inv = 1.0 / s;
    let diff: Vec<f64> = (0..d).map(|k| x[k] * inv - before[k] * inv).collect();
    let mut finite = true;
    for a in 0..d {
        let v: f64 = (0..d).map(|b| r[(a, b)] * diff[b]).sum();
        x[a] = v * s + after[a];
        finite &= x[a].is_finite();
    }
    finite
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{Const, Matrix3, Vector3};

    #[test]
    fn transform_by_hand() {
        // A quarter turn about z: (1, 2, 3) − (1, 0, 0) = (0, 2, 3) → (−2, 0, 3), + (0, 0, 1).
        let r = Matrix3::new(0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0);
        let mut f = [1.0, 2.0, 3.0];
        let ok = transform(
            Const::<3>,
            &mut f,
            &r,
            &Vector3::new(1.0, 0.0, 0.0),
            &Vector3::new(0.0, 0.0, 1.0),
        );
        assert!(ok);
        assert_eq!(f, [-2.0, 0.0, 4.0]);
    }

    #[test]
    fn overflowing_rows_become_infinite_never_nan() {
        let h = std::f64::consts::FRAC_1_SQRT_2;
        let r = Matrix3::new(h, -h, 0.0, h, h, 0.0, 0.0, 0.0, 1.0);
        let big = 1.5e308;
        let mut f = [big, big, 1.0, 1.0, 0.0, 0.0, big, -big, 2.0];
        let zero = Vector3::zeros();
        assert!(!transform(Const::<3>, &mut f, &r, &zero, &zero));
        assert!(f.iter().all(|v| !v.is_nan()));
        assert_eq!(f[1], f64::INFINITY);
        assert!((f[0]).abs() < 1e300 && f[2] == 1.0);
        assert_eq!(&f[3..6], &[h, h, 0.0]);
        assert!(f[6] == f64::INFINITY && f[7].abs() < 1e300 && f[8] == 2.0);
        let mut g = [big, -big];
        assert!(!translate(
            Const::<2>,
            &mut g,
            &nalgebra::Vector2::new(-big, big)
        ));
        assert_eq!(g, [f64::INFINITY, f64::NEG_INFINITY]);
    }
}
