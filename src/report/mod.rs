//! Reports on what an alignment does to the data (SPEC §4), beside the main data line:
//! `pipeline → reports → exporters`.
//!
//! - [`frames`]: the per-frame diagnostics of `align --report` (an observer of the transform).
//! - [`sensitivity`]: the book's perturbation experiment, measured as a Jacobian-norm matrix.
//! - [`check`]: random rigid motions of the whole input must not change the alignment.
//! - [`overlay`]: the book's overlay figure (raw input and each pipeline, frames coloured by time).
//! - [`export`]: JSON and CSV writers; [`plot`]: shared drawing helpers (font, colour map).
//!
//! Every file is written atomically (`crate::io::atomic`).

pub mod check;
pub mod export;
pub mod frames;
pub mod overlay;
pub mod plot;
pub mod sensitivity;

use crate::io::{trajectory_member, FrameSource, Input, InputLocation, TrajectoryMeta};
use crate::pipeline::Pipeline;
use crate::spec::{PipelineSpec, StageContext, StageOptions};
use anyhow::{anyhow, bail, Result};
use ndarray::{Array3, ArrayView2};

/// A whole trajectory in memory (f64), with the input it came from.
pub struct Loaded {
    /// The opened input (for masses and references).
    pub input: Input,
    /// Shape, dtype and names.
    pub meta: TrajectoryMeta,
    /// `(frames, points, dims)`.
    pub frames: Array3<f64>,
}

/// Reads the trajectory `key` of `location` whole.
pub fn load(location: InputLocation, key: Option<&str>, allow_nonfinite: bool) -> Result<Loaded> {
    let input = Input::open(location)?;
    let (member, meta) = trajectory_member(&input, key)?;
    let mut source = FrameSource::open(&input, member, allow_nonfinite)?;
    let frames = source
        .read_chunk(meta.frames)?
        .ok_or_else(|| anyhow!("{}: no frames", meta.source))?;
    if source.read_chunk(1)?.is_some() {
        bail!("{}: more frames than the header says", meta.source);
    }
    Ok(Loaded {
        input,
        meta,
        frames,
    })
}

/// The pipelines to report on: `names` parsed, or `defaults` when empty.
pub fn parse_pipelines(names: &[String], defaults: &[&str]) -> Result<Vec<PipelineSpec>> {
    let list: Vec<String> = if names.is_empty() {
        defaults.iter().map(|s| s.to_string()).collect()
    } else {
        names.to_vec()
    };
    list.iter()
        .map(|n| {
            n.parse::<PipelineSpec>()
                .map_err(|e| anyhow!("--pipeline {e}"))
        })
        .collect()
}

/// Builds `spec` for `loaded` with `options`.
pub fn build(spec: &PipelineSpec, loaded: &Loaded, options: &StageOptions) -> Result<Pipeline> {
    let ctx = StageContext::load(&loaded.input, &loaded.meta, options)?;
    spec.build(&ctx)
        .map_err(|e| anyhow!("pipeline {spec}: {e:#}"))
}

/// Root-mean-square distance between corresponding points of two `N × D` frames.
pub fn rmsd(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>) -> f64 {
    let n = a.nrows().max(1) as f64;
    (a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        / n)
        .sqrt()
}

/// Radius of gyration (unweighted, about the centroid) of an `N × D` frame.
pub fn radius_of_gyration(x: ArrayView2<'_, f64>) -> f64 {
    let n = x.nrows().max(1) as f64;
    let mut total = 0.0;
    for col in x.columns() {
        let mean = col.sum() / n;
        total += col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>();
    }
    (total / n).sqrt()
}

/// Frame indices `0..frames` sampled evenly: all of them when `n` is `None` or ≥ frames,
/// otherwise `n` indices `⌊i · frames / n⌋`.
pub fn sample_frames(frames: usize, n: Option<usize>) -> Vec<usize> {
    match n {
        Some(n) if n < frames => (0..n).map(|i| i * frames / n).collect(),
        _ => (0..frames).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn sampling_is_even_and_bounded() {
        assert_eq!(sample_frames(10, Some(5)), vec![0, 2, 4, 6, 8]);
        assert_eq!(sample_frames(3, Some(5)), vec![0, 1, 2]);
        assert_eq!(sample_frames(4, None), vec![0, 1, 2, 3]);
    }

    #[test]
    fn rg_of_a_unit_square_is_sqrt_half() {
        // Corners (±½, ±½): every point is √(½) from the centroid.
        let sq = array![[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]];
        assert!((radius_of_gyration(sq.view()) - 0.5f64.sqrt()).abs() < 1e-15);
        let shifted = &sq + 1.0;
        // Every point moved by (1, 1): RMSD √2.
        assert!((rmsd(sq.view(), shifted.view()) - 2f64.sqrt()).abs() < 1e-15);
    }
}
