//! Centering stages: `--com` (weighted fit-set centroid to the origin) and `--point K`
//! (point K to the origin).

use crate::fit::FitSet;
use crate::kernels::{subtract_centroid, subtract_row};
use crate::stage::{FrameFacts, History, Stage};
use ndarray::ArrayViewMut2;
use std::sync::Arc;

/// `X ← X − c` with `c = Σ_{i∈fit} w_i x_i / Σ_{i∈fit} w_i`. Always defined (the fit set's
/// weights sum to more than 0).
pub struct CenterCom {
    fit: Arc<FitSet>,
}

impl CenterCom {
    /// A COM centering over `fit` (its weights are the masses, or 1).
    pub fn new(fit: Arc<FitSet>) -> CenterCom {
        CenterCom { fit }
    }
}

impl Stage for CenterCom {
    fn name(&self) -> String {
        "com".into()
    }

    fn apply(&self, mut frame: ArrayViewMut2<'_, f64>, _: &mut History) -> FrameFacts {
        let dims = frame.ncols();
        let flat = frame.as_slice_mut().expect("frames are contiguous");
        subtract_centroid(flat, dims, &self.fit);
        FrameFacts::default()
    }
}

/// `X ← X − x_K`: point K moves to the origin.
pub struct CenterPoint {
    k: usize,
}

impl CenterPoint {
    /// Centering on point `k` (the caller has checked `k` < points).
    pub fn new(k: usize) -> CenterPoint {
        CenterPoint { k }
    }
}

impl Stage for CenterPoint {
    fn name(&self) -> String {
        format!("point{}", self.k)
    }

    fn apply(&self, mut frame: ArrayViewMut2<'_, f64>, _: &mut History) -> FrameFacts {
        let dims = frame.ncols();
        let flat = frame.as_slice_mut().expect("frames are contiguous");
        let mut buf = [0.0; 8];
        let heap;
        let c: &[f64] = if dims <= buf.len() {
            buf[..dims].copy_from_slice(&flat[self.k * dims..(self.k + 1) * dims]);
            &buf[..dims]
        } else {
            heap = flat[self.k * dims..(self.k + 1) * dims].to_vec();
            &heap
        };
        subtract_row(flat, c);
        FrameFacts::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn com_and_point_centering() {
        let mut f = array![[1.0, 1.0], [3.0, 1.0], [2.0, 4.0]];
        CenterCom::new(Arc::new(FitSet::all(3))).apply(f.view_mut(), &mut History::default());
        // mean of the original rows is (2, 2), so the rows become (-1,-1), (1,-1), (0,2).
        assert_eq!(f, array![[-1.0, -1.0], [1.0, -1.0], [0.0, 2.0]]);
        CenterPoint::new(2).apply(f.view_mut(), &mut History::default());
        assert_eq!(f, array![[-1.0, -3.0], [1.0, -3.0], [0.0, 0.0]]);
    }
}
