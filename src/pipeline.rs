//! A fixed chain of stages applied to every frame, frames of a chunk in parallel.
//!
//! Stages run in the order given. When every stage is parallelizable, each frame goes
//! through the whole chain on one rayon task; otherwise stages run one at a time over the
//! chunk, the sequential ones frame by frame in order with their [`History`] carried across
//! chunks. Either way the result does not depend on the number of threads or the chunk size.

use crate::io::Dtype;
use crate::stage::{FrameFacts, History, Stage};
use ndarray::{Array3, ArrayViewMut2, Axis};
use rayon::prelude::*;

/// An ordered list of stages and the per-stage history of sequential stages.
pub struct Pipeline {
    stages: Vec<Box<dyn Stage>>,
    histories: Vec<History>,
}

impl Pipeline {
    /// A pipeline applying `stages` in order.
    pub fn new(stages: Vec<Box<dyn Stage>>) -> Pipeline {
        let histories = stages.iter().map(|_| History::default()).collect();
        Pipeline { stages, histories }
    }

    /// The pipeline's name: stage names joined by `+` (`com+principal`), `none` when empty.
    pub fn name(&self) -> String {
        if self.stages.is_empty() {
            return "none".into();
        }
        self.stages
            .iter()
            .map(|s| s.name())
            .collect::<Vec<_>>()
            .join("+")
    }

    /// The stages, in order.
    pub fn stages(&self) -> &[Box<dyn Stage>] {
        &self.stages
    }

    /// The reference of the pipeline's superposition stage, if any.
    pub fn reference(&self) -> Option<&crate::rotate::Reference> {
        self.stages.iter().find_map(|s| s.reference())
    }

    /// Forgets the history of sequential stages (start of a new pass over a trajectory).
    pub fn reset(&mut self) {
        self.histories
            .iter_mut()
            .for_each(|h| *h = History::default());
    }

    /// Aligns a chunk of consecutive frames `(n, N, D)` in place, returning one
    /// [`FrameFacts`] per frame. A frame with a NaN or Inf coordinate (allowed only with
    /// `--allow-nonfinite`) is left unchanged and marked degenerate.
    pub fn process(&mut self, chunk: &mut Array3<f64>) -> Vec<FrameFacts> {
        let finite: Vec<bool> = chunk
            .axis_iter(Axis(0))
            .into_par_iter()
            .map(|f| f.iter().all(|v| v.is_finite()))
            .collect();
        let mut facts: Vec<FrameFacts> = finite
            .iter()
            .map(|&ok| FrameFacts {
                degenerate: !ok,
                ..Default::default()
            })
            .collect();
        if self.stages.iter().all(|s| s.parallelizable()) {
            let stages = &self.stages;
            chunk
                .axis_iter_mut(Axis(0))
                .into_par_iter()
                .zip(facts.par_iter_mut())
                .zip(finite.par_iter())
                .filter(|(_, &ok)| ok)
                .for_each(|((mut frame, fact), _)| {
                    let mut scratch = History::default();
                    for s in stages {
                        fact.merge(s.apply(frame.view_mut(), &mut scratch));
                    }
                });
            return facts;
        }
        for (stage, history) in self.stages.iter().zip(self.histories.iter_mut()) {
            if stage.parallelizable() {
                chunk
                    .axis_iter_mut(Axis(0))
                    .into_par_iter()
                    .zip(facts.par_iter_mut())
                    .zip(finite.par_iter())
                    .filter(|(_, &ok)| ok)
                    .for_each(|((frame, fact), _)| {
                        fact.merge(stage.apply(frame, &mut History::default()))
                    });
            } else {
                for ((frame, fact), _) in chunk
                    .axis_iter_mut(Axis(0))
                    .zip(facts.iter_mut())
                    .zip(finite.iter())
                    .filter(|(_, &ok)| ok)
                {
                    fact.merge(stage.apply(frame, history));
                }
            }
        }
        facts
    }

    /// Whether every stage may see frames in any order (so [`process_raw`](Self::process_raw) applies).
    pub fn is_parallelizable(&self) -> bool {
        self.stages.iter().all(|s| s.parallelizable())
    }

    /// Aligns a chunk of stored frames: `input` holds whole frames of `points × dims`
    /// numbers in `dtype`; `output` receives the aligned frames in the same dtype. Each
    /// frame is decoded, aligned and encoded on one rayon task (no f64 copy of the chunk).
    /// Returns one [`FrameFacts`] per frame, or `Err((frame, point))` for the first frame of
    /// the chunk holding a NaN/Inf (and its first such point) when `reject_nonfinite`;
    /// otherwise such frames are copied unchanged and marked degenerate. Only for
    /// parallelizable pipelines.
    pub fn process_raw(
        &self,
        input: &[u8],
        output: &mut Vec<u8>,
        dtype: Dtype,
        points: usize,
        dims: usize,
        reject_nonfinite: bool,
    ) -> Result<Vec<FrameFacts>, (usize, usize)> {
        assert!(
            self.is_parallelizable(),
            "process_raw needs a parallelizable pipeline"
        );
        let frame_bytes = points * dims * dtype.size;
        output.resize(input.len(), 0);
        let stages = &self.stages;
        let facts: Vec<Result<FrameFacts, usize>> = input
            .par_chunks_exact(frame_bytes)
            .zip(output.par_chunks_exact_mut(frame_bytes))
            .with_min_len(4)
            .map_init(
                || Vec::with_capacity(points * dims),
                |values: &mut Vec<f64>, (src, dst)| {
                    values.clear();
                    dtype.decode_into(src, values);
                    if let Some(bad) = values.iter().position(|v| !v.is_finite()) {
                        if reject_nonfinite {
                            return Err(bad / dims);
                        }
                        dst.copy_from_slice(src);
                        return Ok(FrameFacts {
                            degenerate: true,
                            ..Default::default()
                        });
                    }
                    let mut frame = ArrayViewMut2::from_shape((points, dims), &mut values[..])
                        .expect("frame-sized buffer");
                    let mut fact = FrameFacts::default();
                    for s in stages {
                        fact.merge(s.apply(frame.view_mut(), &mut History::default()));
                    }
                    dtype.encode_to_slice(values, dst);
                    Ok(fact)
                },
            )
            .collect();
        facts
            .into_iter()
            .enumerate()
            .map(|(i, f)| f.map_err(|point| (i, point)))
            .collect()
    }

    /// Aligns a single frame on its own, as if it were the first of a trajectory (sequential
    /// stages see no history). Used by the reports to align perturbed copies of a frame.
    pub fn align_one(&self, mut frame: ArrayViewMut2<'_, f64>) -> FrameFacts {
        let mut facts = FrameFacts::default();
        for s in &self.stages {
            facts.merge(s.apply(frame.view_mut(), &mut History::default()));
        }
        facts
    }
}
