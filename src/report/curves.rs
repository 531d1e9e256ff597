//! `aligntraj plot --kind rmsd|rmsf`: the curves MD users read. RMSD per frame (over the fit
//! set with the fit weights, to the Kabsch reference or else to aligned frame 0: the `rmsd_ref`
//! of `align --report`) against time when the format gives every frame's (ps, or ns past
//! 10 ns), else against frame index; and RMSF per point or per residue (mean over the residue's
//! atoms); one line per pipeline.

use super::frames::{FrameReport, FrameReporter};
use super::plot::{draw_err, Figure, FAMILY};
use super::plots::PlotRequest;
use super::{Opened, Per};
use crate::engine::{self, ChunkView, Observer, RunOptions};
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Line charts sharing axes: one series per pipeline.
pub(crate) struct Curves {
    title: String,
    x_desc: String,
    y_desc: String,
    /// `(pipeline, points)`.
    pub(crate) series: Vec<(String, Vec<(f64, f64)>)>,
    /// Tick labels by x position (residues), else the numbers themselves.
    x_labels: Option<Vec<String>>,
    /// Where the legend goes: where the curves usually leave room (RMSD rises from 0 at the
    /// start: upper left).
    legend: SeriesLabelPosition,
}

/// Categorical colours (matplotlib's tab10).
const TAB10: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

impl Figure for Curves {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let pts = || self.series.iter().flat_map(|(_, p)| p.iter());
        let x1 = pts().map(|p| p.0).fold(0.0f64, f64::max).max(1.0);
        let x0 = pts().map(|p| p.0).fold(f64::MAX, f64::min).min(x1 - 1.0);
        let y1 = pts().map(|p| p.1).fold(0.0f64, f64::max);
        let y1 = if y1 > 0.0 { y1 * 1.08 } else { 1.0 };
        let labels = &self.x_labels;
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .caption(&self.title, (FAMILY, 18))
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, 0.0..y1)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .light_line_style(RGBColor(235, 235, 235))
            .x_desc(self.x_desc.as_str())
            .y_desc(self.y_desc.as_str())
            .label_style((FAMILY, 12))
            .axis_desc_style((FAMILY, 14))
            .x_labels(12)
            .x_label_formatter(&|v| match labels {
                Some(l) if *v >= 0.0 => l.get(v.round() as usize).cloned().unwrap_or_default(),
                Some(_) => String::new(),
                None => tick(*v),
            })
            .y_label_formatter(&|v| format!("{v:.2}"))
            .draw()
            .map_err(draw_err)?;
        for (i, (name, points)) in self.series.iter().enumerate() {
            let colour = TAB10[i % TAB10.len()];
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    colour.stroke_width(2),
                ))
                .map_err(draw_err)?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(self.legend.clone())
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font((FAMILY, 13))
            .draw()
            .map_err(draw_err)?;
        Ok(())
    }
}

/// The time of every frame, as the format gives it (ps).
#[derive(Default)]
struct FrameTimes(Vec<Option<f64>>);

impl Observer for FrameTimes {
    fn chunk(&mut self, view: &ChunkView<'_>) -> Result<()> {
        self.0.extend(view.info.iter().map(|i| i.time));
        Ok(())
    }
}

/// A tick label: whole numbers without decimals, others with at most three.
fn tick(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').to_string()
    }
}

/// Runs every pipeline over the input with a per-frame reporter (as `align --report` does);
/// also returns each frame's time (ps) when the format gives one for every frame.
fn frame_reports(
    req: &PlotRequest,
    opened: &mut Opened,
) -> Result<(Vec<FrameReport>, Option<Vec<f64>>)> {
    let run = RunOptions {
        chunk_frames: req.input.chunk_frames,
        allow_nonfinite: false,
        range: req.input.frames,
        progress: None,
        unwrap: None,
    };
    let mut out = Vec::new();
    let mut times = FrameTimes::default();
    for p in std::mem::take(&mut opened.pipelines) {
        let mut steps = p.steps;
        let mut reporter = FrameReporter::new(
            &opened.meta,
            &p.spec,
            p.reference,
            opened.fit.clone(),
            req.stages.to_ref_center,
        );
        let source = opened.input.source(req.input.key.as_deref())?;
        if out.is_empty() {
            engine::run(
                source,
                &mut steps,
                None,
                &mut [&mut reporter, &mut times],
                &run,
            )?;
        } else {
            engine::run(source, &mut steps, None, &mut [&mut reporter], &run)?;
        }
        out.push(reporter.finish());
    }
    let times = times.0.into_iter().collect::<Option<Vec<f64>>>();
    Ok((out, times.filter(|t| !t.is_empty())))
}

/// The last part of a path, for titles.
fn file_name(source: &str) -> String {
    source.rsplit('/').next().unwrap_or(source).to_string()
}

/// The unit in axis titles: ` (Å)`, or nothing for unit-less npz data.
fn unit(opened: &Opened) -> String {
    if opened.meta.unit.is_empty() {
        String::new()
    } else {
        format!(" ({})", opened.meta.unit)
    }
}

/// RMSD (fit set, fit weights) against frame, one line per pipeline.
pub(crate) fn rmsd(req: &PlotRequest, opened: &mut Opened) -> Result<Curves> {
    let fit = if opened.fit_chosen {
        format!("{} fit points", opened.fit.indices.len())
    } else {
        "all points".to_string()
    };
    let weights = if opened.fit.all_unit || opened.fit.weights.iter().all(|&w| w == 1.0) {
        ""
    } else {
        ", weighted"
    };
    let y_desc = format!("RMSD{}", unit(opened));
    let title = format!(
        "{}: RMSD over {fit}{weights}",
        file_name(&opened.meta.source)
    );
    let (reports, times) = frame_reports(req, opened)?;
    // Against time when the format gives every frame's (in ns past 10 ns), else frame index.
    let span = times.as_ref().map_or(0.0, |t| {
        t.last().copied().unwrap_or(0.0) - t.first().copied().unwrap_or(0.0)
    });
    let (x_desc, scale) = match &times {
        Some(_) if span.abs() > 10_000.0 => ("time (ns)".to_string(), 1e-3),
        Some(_) => ("time (ps)".to_string(), 1.0),
        None => ("frame".to_string(), 1.0),
    };
    let x_of = |row: &super::frames::FrameRow, i: usize| -> f64 {
        match &times {
            Some(t) => t.get(i).copied().unwrap_or(f64::NAN) * scale,
            None => row.frame as f64,
        }
    };
    Ok(Curves {
        title,
        x_desc,
        y_desc,
        series: reports
            .into_iter()
            .map(|r| {
                let pts = r
                    .rows
                    .iter()
                    .enumerate()
                    .map(|(i, row)| (x_of(row, i), row.rmsd_ref));
                let to = if r.reference.starts_with("kabsch") {
                    "to the reference"
                } else {
                    "to aligned frame 0"
                };
                (format!("{} ({to})", r.pipeline), pts.collect())
            })
            .collect(),
        x_labels: None,
        legend: SeriesLabelPosition::UpperLeft,
    })
}

/// RMSF per point, or per residue (the mean over its atoms), one line per pipeline.
pub(crate) fn rmsf(req: &PlotRequest, opened: &mut Opened, per: Option<Per>) -> Result<Curves> {
    let residues = Per::residues(per, opened.topology.as_ref())?;
    let y_desc = format!("RMSF{}", unit(opened));
    let source = file_name(&opened.meta.source);
    let (reports, _) = frame_reports(req, opened)?;
    let series = reports
        .into_iter()
        .map(|r| {
            let rmsf = r.summary.rmsf;
            let pts: Vec<(f64, f64)> = match &residues {
                None => rmsf
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| (i as f64, v))
                    .collect(),
                Some(res) => res
                    .list
                    .iter()
                    .enumerate()
                    .map(|(i, re)| {
                        let atoms = &rmsf[re.first..re.first + re.atoms];
                        (i as f64, atoms.iter().sum::<f64>() / re.atoms as f64)
                    })
                    .collect(),
            };
            (r.pipeline, pts)
        })
        .collect();
    let (title, x_desc, x_labels) = match &residues {
        None => (
            format!("{source}: RMSF per point about the mean aligned structure"),
            "point".to_string(),
            None,
        ),
        Some(res) => (
            format!(
                "{source}: RMSF per residue (mean over its atoms) about the mean aligned structure"
            ),
            "residue".to_string(),
            Some(res.list.iter().map(|r| r.label()).collect()),
        ),
    };
    Ok(Curves {
        title,
        x_desc,
        y_desc,
        series,
        x_labels,
        legend: SeriesLabelPosition::UpperRight,
    })
}
