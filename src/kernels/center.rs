//! Centroids and translations of one frame.

use crate::fit::FitSet;

/// Writes the weighted centroid `Σ w_i x_i / Σ w_i` over the fit set of `frame`
/// (`N × dims`, row-major) into `out` (`dims` long).
pub fn weighted_centroid(frame: &[f64], dims: usize, fit: &FitSet, out: &mut [f64]) {
    out.iter_mut().for_each(|c| *c = 0.0);
    if fit.unit_weights {
        for &i in &fit.points {
            let row = &frame[i * dims..(i + 1) * dims];
            out.iter_mut().zip(row).for_each(|(c, x)| *c += x);
        }
    } else {
        for (&i, &w) in fit.points.iter().zip(&fit.weights) {
            let row = &frame[i * dims..(i + 1) * dims];
            out.iter_mut().zip(row).for_each(|(c, x)| *c += w * x);
        }
    }
    let inv = 1.0 / fit.total_weight;
    out.iter_mut().for_each(|c| *c *= inv);
}

/// Subtracts `shift` (`dims` long) from every row of `frame`.
pub fn subtract_row(frame: &mut [f64], shift: &[f64]) {
    let dims = shift.len();
    for row in frame.chunks_exact_mut(dims) {
        row.iter_mut().zip(shift).for_each(|(x, c)| *x -= c);
    }
}

/// Moves the weighted fit-set centroid of `frame` (`N × dims`, row-major) to the origin.
pub fn subtract_centroid(frame: &mut [f64], dims: usize, fit: &FitSet) {
    let mut buf = [0.0; 8];
    let mut heap;
    let c: &mut [f64] = if dims <= buf.len() {
        &mut buf[..dims]
    } else {
        heap = vec![0.0; dims];
        &mut heap
    };
    weighted_centroid(frame, dims, fit, c);
    subtract_row(frame, c);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_centroid_matches_hand_computation() {
        // points (0,0), (2,0), (0,4) with masses 1, 1, 2:
        // centre = ((0+2+0)/4, (0+0+8)/4) = (0.5, 2.0), computed by hand.
        let frame = [0.0, 0.0, 2.0, 0.0, 0.0, 4.0];
        let fit = FitSet::new(3, Some(&[1.0, 1.0, 2.0]), None).unwrap();
        let mut c = [0.0; 2];
        weighted_centroid(&frame, 2, &fit, &mut c);
        assert_eq!(c, [0.5, 2.0]);
    }
}
