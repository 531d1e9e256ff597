//! `aligntraj info`: what an input holds, and how much its centroid drifts (a quick way to see
//! whether a trajectory still needs centering), measured in one engine pass.

use crate::engine::{self, ChunkView, Observer, RunOptions};
use crate::io::InputLocation;
use crate::plan::Input;
use crate::text::escape;
use anyhow::Result;
use std::fmt::Write as _;

/// Summary of a trajectory's centroid motion (plain mean over points).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Drift {
    /// Centroid of the first frame.
    pub first: Vec<f64>,
    /// Centroid of the last frame.
    pub last: Vec<f64>,
    /// Largest distance of any frame's centroid from the first's, and the frame where it occurs.
    pub max_from_first: (f64, usize),
    /// Sum of centroid displacements between consecutive frames.
    pub path_length: f64,
    /// Mean radius of gyration over frames (plain mean over points).
    pub mean_rg: f64,
    frames: usize,
    dims: usize,
}

impl Observer for Drift {
    fn chunk(&mut self, view: &ChunkView<'_>) -> Result<()> {
        let d = self.dims;
        for i in 0..view.frames {
            let frame = view.frame(i);
            let n = (frame.len() / d) as f64;
            let c: Vec<f64> = (0..d)
                .map(|k| frame.iter().skip(k).step_by(d).sum::<f64>() / n)
                .collect();
            self.mean_rg += crate::report::radius_of_gyration(frame, d);
            if self.frames == 0 {
                self.first = c.clone();
            } else {
                self.path_length += dist(&c, &self.last);
            }
            let from_first = dist(&c, &self.first);
            if from_first > self.max_from_first.0 {
                self.max_from_first = (from_first, view.source_index(i));
            }
            self.last = c;
            self.frames += 1;
        }
        Ok(())
    }
}

fn dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

fn vec_str(v: &[f64]) -> String {
    let parts: Vec<String> = v.iter().map(|x| format!("{x:.4}")).collect();
    format!("({})", parts.join(", "))
}

/// The text `aligntraj info` prints.
pub fn info_text(location: &InputLocation, key: Option<&str>) -> Result<String> {
    let mut input = Input::open(location, true, &std::env::temp_dir(), true)?;
    let mut out = String::new();
    if let Some(file) = input.file() {
        let kind = if file.is_zip { "npz" } else { "npy" };
        writeln!(
            out,
            "input    {} ({kind}, {} member(s))",
            input.name,
            file.members.len()
        )?;
        for m in &file.members {
            match &m.header {
                Ok(h) => writeln!(
                    out,
                    "member   {:<12} {:<18} {:<5} {}{}",
                    escape(&m.key),
                    h.shape_str(),
                    escape(&h.descr),
                    if m.entry.as_ref().is_some_and(|e| e.deflated) {
                        "deflated"
                    } else {
                        "stored"
                    },
                    if h.fortran_order {
                        ", Fortran order"
                    } else {
                        ""
                    }
                )?,
                Err(e) => writeln!(
                    out,
                    "member   {:<12} (not an .npy array: {})",
                    escape(&m.key),
                    escape(e)
                )?,
            }
        }
    }
    let source = input.source(key)?;
    let meta = source.meta().clone();
    writeln!(out, "key      {}", escape(&meta.key))?;
    writeln!(out, "frames   {}", meta.frames)?;
    writeln!(out, "points   {}", meta.points)?;
    writeln!(out, "dims     {}", meta.dims)?;
    let dtype = crate::formats::npy::Dtype {
        width: meta.width,
        big_endian: meta.big_endian,
    };
    writeln!(out, "dtype    {} ({})", dtype.name(), dtype.descr())?;
    let mut drift = Drift {
        dims: meta.dims,
        ..Default::default()
    };
    let run = RunOptions {
        allow_nonfinite: true,
        ..Default::default()
    };
    engine::run(source, &mut [], None, &mut [&mut drift], &run)?;
    writeln!(
        out,
        "centroid frame 0 {} -> last {}; farthest {:.4} from frame 0 (frame {}); path length {:.4}",
        vec_str(&drift.first),
        vec_str(&drift.last),
        drift.max_from_first.0,
        drift.max_from_first.1,
        drift.path_length
    )?;
    writeln!(
        out,
        "mean Rg  {:.4}",
        drift.mean_rg / drift.frames.max(1) as f64
    )?;
    Ok(out)
}
