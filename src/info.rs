//! `aligntraj info`: what an input holds, and how much its centroid drifts (a quick way to see
//! whether a trajectory still needs centering), measured in one engine pass.

use crate::engine::{self, ChunkView, Observer, RunOptions};
use crate::formats::npy::Dtype;
use crate::formats::FrameInfo;
use crate::io::InputLocation;
use crate::plan::{load_topology, Input, InputOptions};
use crate::text::escape;
use crate::topology::Topology;
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

/// Box, time and time step of the first frame, and the last frame's time, as MD formats say.
#[derive(Default)]
struct Times {
    first: Option<FrameInfo>,
    last_time: Option<f64>,
}

impl Observer for Times {
    fn chunk(&mut self, view: &ChunkView<'_>) -> Result<()> {
        if self.first.is_none() {
            self.first = view.info.first().cloned();
        }
        if let Some(t) = view.info.last().and_then(|i| i.time) {
            self.last_time = Some(t);
        }
        Ok(())
    }
}

/// The members of an npz/npy input, or the format of an MD one.
fn describe_container(input: &Input, out: &mut String) -> Result<()> {
    let Some(file) = input.file() else {
        writeln!(
            out,
            "input    {} ({})",
            input.name,
            input.format().extension()
        )?;
        return Ok(());
    };
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
    Ok(())
}

/// The topology summary and, with `select`, how many atoms the selection picks.
fn describe_topology(
    topology: Option<&Topology>,
    select: Option<&str>,
    out: &mut String,
) -> Result<()> {
    if let Some(t) = topology {
        let residues = t
            .atoms
            .windows(2)
            .filter(|w| (w[0].resid, &w[0].segid) != (w[1].resid, &w[1].segid))
            .count()
            + 1;
        let mass: f64 = t.atoms.iter().map(|a| a.mass).sum();
        writeln!(
            out,
            "topology {} atoms, {residues} residues, {} bonds, total mass {mass:.3} u ({} guessed)",
            t.atoms.len(),
            t.bonds.len(),
            t.masses_guessed
        )?;
    }
    if let Some(expr) = select {
        let t = topology.ok_or_else(|| crate::topology::needs_topology("--select"))?;
        let picked = crate::select::select(t, expr)
            .map_err(|e| crate::plan::selection_error(expr, &e.to_string()))?;
        let (first, last) = (
            picked.first().copied().unwrap_or(0),
            picked.last().copied().unwrap_or(0),
        );
        writeln!(out, "select   {} atoms ({first} … {last})", picked.len())?;
    }
    Ok(())
}

/// The first frame's box and the time span, where the format carries them.
fn describe_times(times: &Times, unit: &str, out: &mut String) -> Result<()> {
    let Some(first) = &times.first else {
        return Ok(());
    };
    if let Some(cell) = first.cell {
        let len = |v: [f64; 3]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
        writeln!(
            out,
            "box      {:.3} {:.3} {:.3} {unit} (first frame)",
            len(cell[0]),
            len(cell[1]),
            len(cell[2])
        )?;
    }
    if let (Some(t0), Some(t1)) = (first.time, times.last_time) {
        writeln!(out, "time     {t0} … {t1} ps")?;
    }
    Ok(())
}

/// The text `aligntraj info` prints: members (npz), shape, dtype or format, units, box and
/// time (MD formats), topology summary and selection count, and the centroid drift.
pub fn info_text(opts: &InputOptions, select: Option<&str>) -> Result<String> {
    let location = opts.location.clone().unwrap_or(InputLocation::Stdin);
    let mut input = Input::open(&location, opts.format, true, &std::env::temp_dir(), true)?;
    let mut out = String::new();
    describe_container(&input, &mut out)?;
    let source = input.source(opts.key.as_deref())?;
    let meta = source.meta().clone();
    if !input.format().is_md() {
        writeln!(out, "key      {}", escape(&meta.key))?;
    }
    writeln!(
        out,
        "frames   {}\npoints   {}\ndims     {}",
        meta.frames, meta.points, meta.dims
    )?;
    let dtype = Dtype {
        width: meta.width,
        big_endian: meta.big_endian,
    };
    writeln!(out, "dtype    {} ({})", dtype.name(), dtype.descr())?;
    if !meta.unit.is_empty() {
        writeln!(out, "units    {} (length), ps (time)", meta.unit)?;
    }
    if let Some(dt) = meta.dt {
        writeln!(out, "dt       {dt} ps")?;
    }
    let topology = load_topology(opts, &input, meta.points, true)?;
    describe_topology(topology.as_ref(), select, &mut out)?;
    let mut drift = Drift {
        dims: meta.dims,
        ..Default::default()
    };
    let mut times = Times::default();
    let run = RunOptions {
        allow_nonfinite: true,
        range: opts.frames,
        ..Default::default()
    };
    engine::run(source, &mut [], None, &mut [&mut drift, &mut times], &run)?;
    describe_times(&times, meta.unit, &mut out)?;
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
