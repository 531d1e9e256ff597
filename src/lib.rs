//! aligntraj: translation- and rotation-alignment of trajectories stored as NumPy arrays
//! `(frames, points, dims)`, streamed in chunks and aligned frame by frame in parallel.
//!
//! The data go in one line: [`io::Input`] → [`io::FrameSource`] (chunks of `f64` frames) →
//! [`pipeline::Pipeline`] of [`stage::Stage`]s → [`io::FrameSink`]. The binary (`src/main.rs`)
//! only parses arguments into the requests defined here.
#![warn(missing_docs)]

pub mod center;
pub mod fit;
pub mod generate;
pub mod info;
pub mod io;
pub mod kernels;
pub mod pipeline;
pub mod progress;
pub mod report;
pub mod rotate;
pub mod spec;
pub mod stage;
pub mod transform;
