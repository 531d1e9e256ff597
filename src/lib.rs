//! aligntraj: translation- and rotation-alignment of trajectories stored as NumPy arrays
//! `(frames, points, dims)`, streamed in chunks and aligned frame by frame in parallel.
//!
//! The data go in one line: options ([`options`], [`plan`]) → a frame source ([`formats`]) →
//! the [`engine`] running the pipeline's [`stages`] (plain numeric [`kernels`] inside) → a
//! frame sink, with [`report`] observers beside it. The binary (`src/main.rs`, `src/cli/`)
//! only parses arguments into the jobs defined here.
#![warn(missing_docs)]

pub mod engine;
pub mod formats;
pub mod fuzz;
pub mod generate;
pub mod info;
pub mod io;
pub(crate) mod kernels;
pub mod options;
pub mod plan;
pub(crate) mod progress;
pub mod report;
pub mod select;
pub mod stages;
pub mod text;
pub mod topology;
pub mod transform;
pub mod unwrap;

#[cfg(test)]
pub(crate) mod test_support;
