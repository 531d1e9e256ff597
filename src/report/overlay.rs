//! `aligntraj plot --kind overlay` (the default): the book's overlay figure. One panel for the
//! raw input and one per pipeline; every S-th frame is drawn, coloured by time (viridis, frame
//! 0 dark purple → last frame yellow), with a colour bar.
//!
//! Which points: `--points` (indices or a selection), else all of them when there are at most
//! [`MAX_DRAWN`], else the CA atoms when a topology is known, else [`MAX_DRAWN`] spread evenly.
//! Points are drawn as dots; a line joins two consecutive drawn points only where they are
//! neighbours: in one chain and the same or adjacent residues with a topology, consecutive
//! indices without one (so the book's 12-point chain is still a polyline, and a protein's CA
//! atoms are its trace, broken between chains). Data with more than two dimensions are drawn
//! in their first two coordinates (the panel titles say so).

use super::plot::{colour_bar, draw_err, viridis, Figure, FAMILY};
use super::plots::PlotRequest;
use super::Opened;
use crate::engine::{self, ChunkView, Observer, RunOptions};
use crate::topology::residues::Residues;
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Points drawn by default at most (without `--points`, without CA atoms).
pub const MAX_DRAWN: usize = 200;

/// One panel: its title and the drawn frames' (x, y) points, frame by frame.
struct Panel {
    title: String,
    frames: Vec<Vec<(f64, f64)>>,
}

/// The figure: panels, the drawn frame indices, and which consecutive drawn points are joined.
pub(crate) struct Overlay {
    panels: Vec<Panel>,
    frames: Vec<usize>,
    total: usize,
    joined: Vec<bool>,
}

impl Overlay {
    /// The points drawn per frame.
    pub(crate) fn points_per_frame(&self) -> usize {
        self.panels
            .first()
            .and_then(|p| p.frames.first())
            .map_or(0, Vec::len)
    }
}

/// Keeps the (x, y) coordinates of the drawn points of every `every`-th frame.
struct Keep<'a> {
    every: usize,
    dims: usize,
    points: &'a [usize],
    frames: Vec<Vec<(f64, f64)>>,
}

impl Observer for Keep<'_> {
    fn chunk(&mut self, view: &ChunkView<'_>) -> Result<()> {
        for i in 0..view.frames {
            if (view.first + i).is_multiple_of(self.every) {
                let f = view.frame(i);
                let d = self.dims;
                self.frames.push(
                    self.points
                        .iter()
                        .map(|&k| (f[k * d], f[k * d + 1]))
                        .collect(),
                );
            }
        }
        Ok(())
    }
}

impl Figure for Overlay {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let (w, _) = root.dim_in_pixel();
        let (left, bar) = root.split_horizontally(w.saturating_sub(100));
        let areas = left.split_evenly((1, self.panels.len()));
        let last = self.total.saturating_sub(1).max(1) as f64;
        for (panel, area) in self.panels.iter().zip(&areas) {
            let (title, data) = (&panel.title, &panel.frames);
            let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
            for &(x, y) in data.iter().flatten() {
                x0 = x0.min(x);
                x1 = x1.max(x);
                y0 = y0.min(y);
                y1 = y1.max(y);
            }
            if x0 > x1 {
                (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
            }
            let pad = 0.05 * (x1 - x0).max(y1 - y0).max(1e-9);
            let mut chart = ChartBuilder::on(area)
                .margin(10)
                .caption(title, (FAMILY, 16))
                .x_label_area_size(30)
                .y_label_area_size(45)
                .build_cartesian_2d((x0 - pad)..(x1 + pad), (y0 - pad)..(y1 + pad))
                .map_err(draw_err)?;
            chart
                .configure_mesh()
                .light_line_style(WHITE.mix(0.0))
                .label_style((FAMILY, 11))
                .x_labels(5)
                .y_labels(5)
                .draw()
                .map_err(draw_err)?;
            for (frame, &index) in data.iter().zip(&self.frames) {
                let colour = viridis(index as f64 / last);
                // Runs of joined points become one polyline each.
                let mut start = 0;
                for end in 1..=frame.len() {
                    if end == frame.len() || !self.joined[end - 1] {
                        if end - start > 1 {
                            chart
                                .draw_series(LineSeries::new(
                                    frame[start..end].iter().copied(),
                                    colour.mix(0.55).stroke_width(1),
                                ))
                                .map_err(draw_err)?;
                        }
                        start = end;
                    }
                }
                chart
                    .draw_series(
                        frame
                            .iter()
                            .map(|&p| Circle::new(p, 2, colour.mix(0.7).filled())),
                    )
                    .map_err(draw_err)?;
            }
        }
        colour_bar(&bar, 0.0, last, "frame")
    }
}

/// The points drawn and a few words saying which (for the titles).
fn drawn_points(req: &PlotRequest, opened: &Opened) -> Result<(Vec<usize>, String)> {
    let n = opened.meta.points;
    if let Some(choice) = &req.points {
        let picked = choice
            .resolve(n, opened.topology.as_ref())
            .map_err(|e| anyhow::anyhow!("--points {e:#}"))?;
        let what = format!("{} of {n} points", picked.len());
        return Ok((picked, what));
    }
    if n <= MAX_DRAWN {
        return Ok(((0..n).collect(), String::new()));
    }
    if let Some(top) = &opened.topology {
        let ca = crate::select::select_allow_empty(top, "name CA").unwrap_or_default();
        if !ca.is_empty() {
            let what = format!("{} CA atoms", ca.len());
            return Ok((ca, what));
        }
    }
    let picked: Vec<usize> = (0..MAX_DRAWN).map(|i| i * n / MAX_DRAWN).collect();
    Ok((picked, format!("{MAX_DRAWN} of {n} points, evenly spaced")))
}

/// Builds the overlay figure: one engine pass for the raw input and one per pipeline, each
/// keeping only the drawn points of the drawn frames.
pub(crate) fn overlay(req: &PlotRequest, opened: &mut Opened) -> Result<Overlay> {
    let meta = opened.meta.clone();
    let (_, total) = req.input.frames.resolve(meta.frames);
    let every = req.every.unwrap_or((total / 128).max(1)).max(1);
    let frames: Vec<usize> = (0..total).step_by(every).collect();
    let (points, which) = drawn_points(req, opened)?;
    let joined: Vec<bool> = match &opened.topology {
        Some(top) => {
            let residues = Residues::of(top);
            points
                .windows(2)
                .map(|w| residues.bonded_in_chain(w[0], w[1]))
                .collect()
        }
        None => points.windows(2).map(|w| w[1] == w[0] + 1).collect(),
    };
    let coords = match meta.dims {
        2 => None,
        3 => Some("x, y of 3-D".to_string()),
        d => Some(format!("first two of {d} coordinates")),
    };
    let notes: Vec<String> = coords
        .into_iter()
        .chain((!which.is_empty()).then_some(which))
        .collect();
    let suffix = if notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", notes.join("; "))
    };
    let run = RunOptions {
        chunk_frames: req.input.chunk_frames,
        allow_nonfinite: false,
        range: req.input.frames,
        progress: None,
        unwrap: None,
    };
    let mut panels = Vec::new();
    let mut passes: Vec<(String, Vec<crate::stages::Step>)> = vec![("raw input".into(), vec![])];
    passes.extend(
        std::mem::take(&mut opened.pipelines)
            .into_iter()
            .map(|p| (p.spec.to_string(), p.steps)),
    );
    for (name, mut steps) in passes {
        let source = opened.input.source(req.input.key.as_deref())?;
        let mut keep = Keep {
            every,
            dims: meta.dims,
            points: &points,
            frames: Vec::new(),
        };
        engine::run(source, &mut steps, None, &mut [&mut keep], &run)?;
        panels.push(Panel {
            title: format!("{name}{suffix}"),
            frames: keep.frames,
        });
    }
    Ok(Overlay {
        panels,
        frames,
        total,
        joined,
    })
}
