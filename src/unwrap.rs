//! `--unwrap` (GROMACS `trjconv -pbc nojump`): before any stage, each point is moved by whole
//! box vectors so that it never jumps by more than half a box between consecutive frames, so a
//! molecule that crosses the periodic boundary stays whole and its centre moves continuously.
//! Triclinic boxes included: the displacement since the previous (unwrapped) frame is expressed
//! in box-vector coordinates, rounded, and the whole vectors are removed.

/// A unit cell, Å, rows = box vectors a, b, c.
pub type Cell = [[f64; 3]; 3];

/// The state carried from frame to frame: the previous unwrapped frame.
#[derive(Debug, Default)]
pub struct Unwrapper {
    prev: Option<Vec<f64>>,
}

/// `m⁻¹` of a 3 × 3 matrix, or `None` when it is singular (a degenerate box).
fn inverse(m: &Cell) -> Option<Cell> {
    let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    if !det.is_finite() || det.abs() < 1e-12 {
        return None;
    }
    let c = |r: usize, s: usize| {
        let (r1, r2, s1, s2) = ((r + 1) % 3, (r + 2) % 3, (s + 1) % 3, (s + 2) % 3);
        m[r1][s1] * m[r2][s2] - m[r1][s2] * m[r2][s1]
    };
    // inverse[i][j] = cofactor(j, i) / det
    Some(std::array::from_fn(|i| {
        std::array::from_fn(|j| c(j, i) / det)
    }))
}

impl Unwrapper {
    /// Unwraps `frame` (N × 3, Å) against the previous frame, in the frame's `cell`. The first
    /// frame is kept as it is. Errors name the problem (the caller adds the frame).
    pub fn apply(&mut self, frame: &mut [f64], cell: &Cell) -> Result<(), String> {
        let inv = inverse(cell).ok_or("the box is degenerate (its vectors are not independent)")?;
        if let Some(prev) = &self.prev {
            for (x, p) in frame.chunks_exact_mut(3).zip(prev.chunks_exact(3)) {
                let d = [x[0] - p[0], x[1] - p[1], x[2] - p[2]];
                // Fractional displacement s = d · B⁻¹ (row vector), rounded to whole boxes.
                let s: [f64; 3] = std::array::from_fn(|j| {
                    (d[0] * inv[0][j] + d[1] * inv[1][j] + d[2] * inv[2][j]).round()
                });
                for (k, v) in x.iter_mut().enumerate() {
                    *v -= s[0] * cell[0][k] + s[1] * cell[1][k] + s[2] * cell[2][k];
                }
            }
        }
        match &mut self.prev {
            Some(p) => p.copy_from_slice(frame),
            None => self.prev = Some(frame.to_vec()),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_crossing_a_triclinic_box_stays_continuous() {
        // Box vectors a = (10, 0, 0), b = (3, 10, 0), c = (1, 2, 10). A point wrapped back by
        // b + a between frames (a jump of (13, 10, 0)) is moved back by exactly that.
        let cell = [[10.0, 0.0, 0.0], [3.0, 10.0, 0.0], [1.0, 2.0, 10.0]];
        let mut u = Unwrapper::default();
        let mut f0 = vec![9.5, 9.5, 5.0];
        u.apply(&mut f0, &cell).unwrap();
        let mut f1 = vec![9.8 - 13.0, 9.9 - 10.0, 5.1];
        u.apply(&mut f1, &cell).unwrap();
        for (a, b) in f1.iter().zip([9.8, 9.9, 5.1]) {
            assert!((a - b).abs() < 1e-12, "{f1:?}");
        }
        // A real move of less than half a box is left alone.
        let mut f2 = vec![12.0, 11.0, 5.0];
        u.apply(&mut f2, &cell).unwrap();
        assert_eq!(f2, vec![12.0, 11.0, 5.0]);
    }

    #[test]
    fn a_flat_box_is_an_error() {
        let mut u = Unwrapper::default();
        let cell = [[1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 1.0]];
        assert!(u.apply(&mut [0.0; 3], &cell).is_err());
    }
}
