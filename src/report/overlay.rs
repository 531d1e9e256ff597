//! `aligntraj plot`: the book's overlay figure. One panel for the raw input and one per
//! pipeline; every S-th frame is drawn as a polyline through its points in index order,
//! coloured by time (viridis, frame 0 dark purple → last frame yellow), with a colour bar.
//! Data with more than two dimensions are drawn in their first two coordinates (the panel
//! titles say so).

use super::plot::{colour_bar, draw_err, render, viridis, Figure, FAMILY};
use super::{build, load, parse_pipelines};
use crate::io::InputLocation;
use crate::spec::StageOptions;
use anyhow::{bail, Result};
use ndarray::{Array3, Axis};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::PathBuf;

/// The pipelines drawn when none are given.
pub const DEFAULT_PIPELINES: [&str; 2] = ["com+principal", "point0+point-vector"];

/// What to draw.
#[derive(Clone, Debug)]
pub struct PlotRequest {
    /// The input.
    pub input: InputLocation,
    /// `--key`.
    pub key: Option<String>,
    /// Stage options.
    pub options: StageOptions,
    /// `--pipeline` values (default [`DEFAULT_PIPELINES`]).
    pub pipelines: Vec<String>,
    /// `--every S` (default: about 128 frames drawn).
    pub every: Option<usize>,
    /// Picture width in pixels.
    pub width: u32,
    /// Picture height in pixels.
    pub height: u32,
    /// `-o FILE.png|svg`.
    pub output: PathBuf,
}

struct Overlay {
    panels: Vec<(String, Array3<f64>)>,
    frames: Vec<usize>,
    total: usize,
}

impl Figure for Overlay {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let (w, _) = root.dim_in_pixel();
        let (left, bar) = root.split_horizontally(w.saturating_sub(100));
        let areas = left.split_evenly((1, self.panels.len()));
        let last = self.total.saturating_sub(1).max(1) as f64;
        for ((title, data), area) in self.panels.iter().zip(&areas) {
            let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
            for p in data.lanes(Axis(2)) {
                x0 = x0.min(p[0]);
                x1 = x1.max(p[0]);
                y0 = y0.min(p[1]);
                y1 = y1.max(p[1]);
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
            for (frame, &index) in data.outer_iter().zip(&self.frames) {
                let colour = viridis(index as f64 / last).mix(0.55);
                chart
                    .draw_series(LineSeries::new(
                        frame.outer_iter().map(|p| (p[0], p[1])),
                        colour.stroke_width(1),
                    ))
                    .map_err(draw_err)?;
            }
        }
        colour_bar(&bar, 0.0, last, "frame")
    }
}

/// Draws the figure and writes it to `req.output`.
pub fn run_plot(req: &PlotRequest) -> Result<()> {
    super::plot::ImageFormat::of(&req.output, "-o")?;
    if req.every == Some(0) {
        bail!("--every 0: must be at least 1");
    }
    let specs = parse_pipelines(&req.pipelines, &DEFAULT_PIPELINES)?;
    let loaded = load(req.input.clone(), req.key.as_deref(), false)?;
    let total = loaded.meta.frames;
    let every = req.every.unwrap_or((total / 128).max(1));
    let frames: Vec<usize> = (0..total).step_by(every).collect();
    let dims = loaded.meta.dims;
    let suffix = match dims {
        2 => String::new(),
        3 => " (x, y of 3-D)".to_string(),
        d => format!(" (first two of {d} coordinates)"),
    };
    let pick = |a: &Array3<f64>| a.select(Axis(0), &frames);
    let mut panels = vec![(format!("raw input{suffix}"), pick(&loaded.frames))];
    for spec in &specs {
        let mut pipeline = build(spec, &loaded, &req.options)?;
        let mut aligned = loaded.frames.clone();
        pipeline.process(&mut aligned);
        panels.push((format!("{spec}{suffix}"), pick(&aligned)));
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
