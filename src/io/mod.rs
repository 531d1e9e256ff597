//! Everything that touches bytes: `.npy`/`.npz` inputs and outputs, streamed a chunk of frames
//! at a time, and atomic file writes.

pub mod atomic;
pub mod input;
pub mod npy;
pub mod sink;
pub mod source;

pub use input::{Container, Input, InputLocation};
pub use npy::Dtype;
pub use sink::{FrameSink, OutputTarget};
pub use source::{trajectory_member, FrameSource, TrajectoryMeta};
