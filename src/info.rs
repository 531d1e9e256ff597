//! `aligntraj info`: what an input holds, and how much its centroid drifts (a quick way to
//! see whether a trajectory still needs centering).

use crate::io::{trajectory_member, FrameSource, Input, InputLocation};
use anyhow::Result;
use std::fmt::Write as _;

/// Summary of a trajectory's centroid motion (plain mean over points).
#[derive(Clone, Debug, PartialEq)]
pub struct Drift {
    /// Centroid of frame 0.
    pub first: Vec<f64>,
    /// Centroid of the last frame.
    pub last: Vec<f64>,
    /// Largest distance of any frame's centroid from frame 0's, and the frame where it occurs.
    pub max_from_first: (f64, usize),
    /// Sum of centroid displacements between consecutive frames.
    pub path_length: f64,
    /// Mean radius of gyration over frames (plain mean over points).
    pub mean_rg: f64,
}

/// Streams the trajectory once and measures its centroid drift.
pub fn measure_drift(input: &Input, key: Option<&str>) -> Result<Drift> {
    let (member, meta) = trajectory_member(input, key)?;
    let mut source = FrameSource::open(input, member, true)?;
    let d = meta.dims;
    let (mut first, mut prev): (Option<Vec<f64>>, Option<Vec<f64>>) = (None, None);
    let (mut max_from_first, mut path_length, mut rg_sum) = ((0.0, 0), 0.0, 0.0);
    let mut index = 0;
    while let Some(chunk) = source.read_chunk(meta.chunk_frames(None))? {
        for frame in chunk.outer_iter() {
            let c: Vec<f64> = (0..d)
                .map(|k| frame.column(k).mean().unwrap_or(0.0))
                .collect();
            let rg2 = frame
                .outer_iter()
                .map(|p| {
                    p.iter()
                        .zip(&c)
                        .map(|(x, m)| (x - m) * (x - m))
                        .sum::<f64>()
                })
                .sum::<f64>()
                / meta.points as f64;
            rg_sum += rg2.sqrt();
            let f0 = first.get_or_insert_with(|| c.clone());
            let from_first = dist(&c, f0);
            if from_first > max_from_first.0 {
                max_from_first = (from_first, index);
            }
            if let Some(p) = &prev {
                path_length += dist(&c, p);
            }
            prev = Some(c);
            index += 1;
        }
    }
    Ok(Drift {
        first: first.unwrap_or_default(),
        last: prev.unwrap_or_default(),
        max_from_first,
        path_length,
        mean_rg: rg_sum / meta.frames as f64,
    })
}

fn dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

fn vec_str(v: &[f64]) -> String {
    format!(
        "({})",
        v.iter()
            .map(|x| format!("{x:.4}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The text `aligntraj info` prints.
pub fn info_text(location: InputLocation, key: Option<&str>) -> Result<String> {
    let input = Input::open(location)?;
    let mut out = String::new();
    let kind = match input.container {
        crate::io::Container::Npz => "npz",
        crate::io::Container::Npy => "npy",
    };
    writeln!(
        out,
        "input    {} ({kind}, {} member(s))",
        input.location,
        input.members.len()
    )?;
    for m in &input.members {
        match &m.header {
            Ok(h) => writeln!(
                out,
                "member   {:<12} {:<18} {:<5} {}{}",
                m.key,
                h.shape_str(),
                h.descr,
                if m.compression == zip::CompressionMethod::Stored {
                    "stored"
                } else {
                    "deflated"
                },
                if h.fortran_order {
                    ", Fortran order"
                } else {
                    ""
                }
            )?,
            Err(e) => writeln!(out, "member   {:<12} (not an .npy array: {e})", m.key)?,
        }
    }
    let (_, meta) = trajectory_member(&input, key)?;
    writeln!(out, "key      {}", meta.key)?;
    writeln!(out, "frames   {}", meta.frames)?;
    writeln!(out, "points   {}", meta.points)?;
    writeln!(out, "dims     {}", meta.dims)?;
    writeln!(
        out,
        "dtype    {} ({})",
        meta.dtype.name(),
        meta.dtype.descr()
    )?;
    let drift = measure_drift(&input, key)?;
    writeln!(
        out,
        "centroid frame 0 {} -> last {}; farthest {:.4} from frame 0 (frame {}); path length {:.4}",
        vec_str(&drift.first),
        vec_str(&drift.last),
        drift.max_from_first.0,
        drift.max_from_first.1,
        drift.path_length
    )?;
    writeln!(out, "mean Rg  {:.4}", drift.mean_rg)?;
    Ok(out)
}
