//! `aligntraj plot`: the book's overlay figure. One panel for the raw input and one per
//! pipeline; every S-th frame is drawn as a polyline through its points in index order,
//! coloured by time (viridis, frame 0 dark purple → last frame yellow), with a colour bar.
//! Data with more than two dimensions are drawn in their first two coordinates (the panel
//! titles say so).

use super::plot::{colour_bar, draw_err, render, viridis, Figure, FAMILY};
use super::{open_pipelines, pipelines_or};
use crate::engine::{self, ChunkView, Observer, RunOptions};
use crate::plan::{InputOptions, StageOptions};
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::PathBuf;

/// The pipelines drawn when none are given.
pub const DEFAULT_PIPELINES: [&str; 2] = ["com+principal", "point0+point-vector"];

/// What to draw.
#[derive(Clone, Debug)]
pub struct PlotRequest {
    /// The input and key.
    pub input: InputOptions,
    /// Stage options.
    pub stages: StageOptions,
    /// `--pipeline` values (default [`DEFAULT_PIPELINES`]).
    pub pipelines: Vec<crate::options::PipelineSpec>,
    /// `--every S` (default: about 128 frames drawn).
    pub every: Option<usize>,
    /// Picture width in pixels.
    pub width: u32,
    /// Picture height in pixels.
    pub height: u32,
    /// `-o FILE.png|svg`.
    pub output: PathBuf,
}

/// One panel: its title and the drawn frames' (x, y) points, frame by frame.
struct Panel {
    title: String,
    frames: Vec<Vec<(f64, f64)>>,
}

struct Overlay {
    panels: Vec<Panel>,
    frames: Vec<usize>,
    total: usize,
}

/// Keeps the (x, y) coordinates of every `every`-th frame.
struct Keep {
    every: usize,
    dims: usize,
    frames: Vec<Vec<(f64, f64)>>,
}

impl Observer for Keep {
    fn chunk(&mut self, view: &ChunkView<'_>) -> Result<()> {
        for i in 0..view.frames {
            if (view.first + i).is_multiple_of(self.every) {
                let f = view.frame(i);
                self.frames
                    .push(f.chunks_exact(self.dims).map(|p| (p[0], p[1])).collect());
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
                let colour = viridis(index as f64 / last).mix(0.55);
                chart
                    .draw_series(LineSeries::new(
                        frame.iter().copied(),
                        colour.stroke_width(1),
                    ))
                    .map_err(draw_err)?;
            }
        }
        colour_bar(&bar, 0.0, last, "frame")
    }
}

/// Draws the figure and writes it to `req.output`: one engine pass for the raw input and one
/// per pipeline, each keeping only the drawn frames.
pub fn run_plot(req: &PlotRequest) -> Result<()> {
    super::plot::ImageFormat::of(&req.output, "-o")?;
    let (mut input, meta, pipelines) =
        open_pipelines(&req.input, &req.stages, &req.pipelines, &DEFAULT_PIPELINES)?;
    let (_, total) = req.input.frames.resolve(meta.frames);
    let every = req.every.unwrap_or((total / 128).max(1)).max(1);
    let frames: Vec<usize> = (0..total).step_by(every).collect();
    let suffix = match meta.dims {
        2 => String::new(),
        3 => " (x, y of 3-D)".to_string(),
        d => format!(" (first two of {d} coordinates)"),
    };
    let run = RunOptions {
        chunk_frames: req.input.chunk_frames,
        allow_nonfinite: false,
        range: req.input.frames,
        progress: None,
        unwrap: None,
    };
    let mut panels = Vec::new();
    let names = std::iter::once(None).chain(
        pipelines_or(&req.pipelines, &DEFAULT_PIPELINES)
            .into_iter()
            .map(Some),
    );
    let mut steps_of = std::iter::once(Vec::new()).chain(pipelines.into_iter().map(|(_, s)| s));
    for name in names {
        let mut steps = steps_of.next().unwrap_or_default();
        let source = input.source(req.input.key.as_deref())?;
        let mut keep = Keep {
            every,
            dims: meta.dims,
            frames: Vec::new(),
        };
        engine::run(source, &mut steps, None, &mut [&mut keep], &run)?;
        let title = match name {
            None => format!("raw input{suffix}"),
            Some(spec) => format!("{spec}{suffix}"),
        };
        panels.push(Panel {
            title,
            frames: keep.frames,
        });
    }
    render(
        &req.output,
        (req.width, req.height),
        &Overlay {
            panels,
            frames,
            total,
        },
    )
}
