//! Drawing shared by the report pictures: the embedded font, the viridis colour map, a colour
//! bar, PNG/SVG output by extension (rendered in memory, written atomically), and the
//! sensitivity heatmaps of `sensitivity --plot`.
//!
//! Text uses DejaVu Sans (assets/, Bitstream Vera licence) registered with plotters'
//! `ab_glyph` backend, so pictures need no system font libraries.

use crate::io::output::write_atomically;
use anyhow::{anyhow, bail, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

/// The font family used for all text.
pub const FAMILY: &str = "sans-serif";

/// Registers the embedded font (once per process).
pub fn ensure_font() {
    REGISTER.call_once(|| {
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
    });
}

/// Turns a plotters error into an `anyhow` one.
pub fn draw_err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("drawing failed: {e}")
}

/// Viridis (matplotlib's sequential, perceptually uniform map), sampled at 9 stops and
/// interpolated linearly; `t` is clamped to [0, 1].
pub fn viridis(t: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 9] = [
        (68, 1, 84),
        (71, 45, 123),
        (59, 82, 139),
        (44, 114, 142),
        (33, 145, 140),
        (40, 174, 128),
        (94, 201, 98),
        (173, 220, 48),
        (253, 231, 37),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (STOPS.len() - 1) as f64;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f64;
    let lerp = |a: u8, b: u8| (a as f64 + f * (b as f64 - a as f64)).round() as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    RGBColor(lerp(a.0, b.0), lerp(a.1, b.1), lerp(a.2, b.2))
}

/// A picture that can be drawn on any plotters backend.
pub trait Figure {
    /// Draws onto `root` (already filled white).
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>;
}

/// The picture formats, by extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageFormat {
    /// `.png`
    Png,
    /// `.svg`
    Svg,
}

impl ImageFormat {
    /// The format of `path` by its extension.
    pub fn of(path: &Path, flag: &str) -> Result<ImageFormat> {
        match path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .as_deref()
        {
            Some("png") => Ok(ImageFormat::Png),
            Some("svg") => Ok(ImageFormat::Svg),
            _ => bail!(
                "{flag} {}: unknown picture format (use a .png or .svg file name)",
                path.display()
            ),
        }
    }
}

/// Renders `figure` at `size` (pixels) and writes it atomically to `path` (PNG or SVG by
/// extension).
pub fn render(path: &Path, size: (u32, u32), figure: &impl Figure) -> Result<()> {
    ensure_font();
    let (w, h) = size;
    if !(16..=20_000).contains(&w) || !(16..=20_000).contains(&h) {
        bail!("picture size {w}×{h}: width and height must be between 16 and 20000 pixels");
    }
    match ImageFormat::of(path, "-o")? {
        ImageFormat::Png => {
            let mut buf = vec![255u8; (w * h * 3) as usize];
            {
                let root = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
                root.fill(&WHITE).map_err(draw_err)?;
                figure.draw(&root)?;
                root.present().map_err(draw_err)?;
            }
            write_atomically(path, |out| {
                let mut enc = png::Encoder::new(out, w, h);
                enc.set_color(png::ColorType::Rgb);
                enc.set_depth(png::BitDepth::Eight);
                // Charts are flat colour: the best deflate level with adaptive filters makes
                // them several times smaller for a few milliseconds more.
                enc.set_compression(png::Compression::Best);
                enc.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
                let mut writer = enc
                    .write_header()
                    .map_err(|e| anyhow!("{}: {e}", path.display()))?;
                writer
                    .write_image_data(&buf)
                    .map_err(|e| anyhow!("{}: {e}", path.display()))?;
                writer
                    .finish()
                    .map_err(|e| anyhow!("{}: {e}", path.display()))?;
                Ok(())
            })
        }
        ImageFormat::Svg => {
            let mut text = String::new();
            {
                let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
                root.fill(&WHITE).map_err(draw_err)?;
                figure.draw(&root)?;
                root.present().map_err(draw_err)?;
            }
            write_atomically(path, |out| Ok(out.write_all(text.as_bytes())?))
        }
    }
}

/// Draws a vertical viridis colour bar for values `lo..hi` in `area`, titled `label`.
pub fn colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    lo: f64,
    hi: f64,
    label: &str,
) -> Result<()> {
    colour_bar_with(area, lo, hi, label, false)
}

/// [`colour_bar`] whose axis is `log10` of the values when `log` (ticks labelled `1e-3`, …).
pub fn colour_bar_with<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    lo: f64,
    hi: f64,
    label: &str,
    log: bool,
) -> Result<()> {
    let hi = if hi > lo { hi } else { lo + 1.0 };
    let mut chart = ChartBuilder::on(area)
        .margin_top(40)
        .margin_bottom(50)
        .margin_right(4)
        .right_y_label_area_size(52)
        .caption(label, (FAMILY, 14))
        .margin_left(8)
        .build_cartesian_2d(0.0..1.0, lo..hi)
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .disable_y_mesh()
        .disable_x_axis()
        .y_labels(if log {
            (hi - lo).round() as usize + 1
        } else {
            6
        })
        .y_label_formatter(&|v| {
            if log {
                format!("1e{}", v.round() as i64)
            } else if hi - lo >= 20.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.2}")
            }
        })
        .label_style((FAMILY, 12))
        .draw()
        .map_err(draw_err)?;
    let slices = 100;
    chart
        .draw_series((0..slices).map(|i| {
            let a = lo + (hi - lo) * i as f64 / slices as f64;
            let b = lo + (hi - lo) * (i + 1) as f64 / slices as f64;
            Rectangle::new(
                [(0.0, a), (1.0, b)],
                viridis(i as f64 / (slices - 1) as f64).filled(),
            )
        }))
        .map_err(draw_err)?;
    Ok(())
}

/// One heatmap of `S` per pipeline, side by side, on a shared colour scale (0 … max S). Axes
/// carry about a dozen ticks whatever the size (every k-th row or column, labelled by point
/// or residue), never a label per cell.
pub struct Heatmaps<'a> {
    /// `(pipeline name, S)`: a row per nudged point (or residue), a column per point (or
    /// residue).
    pub panels: Vec<(&'a str, &'a [Vec<f64>])>,
    /// The label of each row.
    pub row_labels: Vec<String>,
    /// The label of each column.
    pub col_labels: Vec<String>,
    /// What rows and columns are: `point` or `residue`.
    pub unit: &'a str,
}

/// How values map to colours: linear from 0, or — when the positive values span more than
/// [`LOG_DECADES`] decades (a protein's per-residue map: anchors near 10, couplings near 1e-4)
/// — `log10`, over at most [`LOG_RANGE`] decades below the maximum (smaller values get the
/// lowest colour).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ColourScale {
    /// `v / max`.
    Linear {
        /// The value drawn in the top colour.
        max: f64,
    },
    /// `(log10 v − lo) / (hi − lo)`.
    Log {
        /// `log10` of the value drawn in the lowest colour.
        lo: f64,
        /// `log10` of the maximum.
        hi: f64,
    },
}

/// Positive values spanning more decades than this are drawn on a log scale.
pub const LOG_DECADES: f64 = 3.0;
/// A log scale covers at most this many decades.
pub const LOG_RANGE: f64 = 5.0;

impl ColourScale {
    /// The scale for `values` whose maximum is `max` (> 0).
    pub fn for_values(values: impl Iterator<Item = f64>, max: f64) -> ColourScale {
        let min = values
            .filter(|v| *v > 0.0 && v.is_finite())
            .fold(f64::INFINITY, f64::min);
        let hi = max.log10();
        if min.is_finite() && hi - min.log10() > LOG_DECADES {
            let lo = min.log10().max(hi - LOG_RANGE).floor();
            ColourScale::Log { lo, hi }
        } else {
            ColourScale::Linear { max }
        }
    }

    /// Where `v` falls on the colour map, 0 … 1.
    pub fn position(&self, v: f64) -> f64 {
        match *self {
            ColourScale::Linear { max } => v / max,
            ColourScale::Log { lo, hi } if v > 0.0 => (v.log10() - lo) / (hi - lo),
            ColourScale::Log { .. } => 0.0,
        }
    }
}

/// Columns drawn at most; wider matrices are shown as means over runs of adjacent columns.
const MAX_COLUMNS: usize = 400;

/// `row` averaged over `bins` runs of adjacent entries (itself when it is narrow enough).
fn binned(row: &[f64], bins: usize) -> Vec<f64> {
    if row.len() <= bins {
        return row.to_vec();
    }
    (0..bins)
        .map(|b| {
            let (lo, hi) = (
                b * row.len() / bins,
                ((b + 1) * row.len() / bins).max(b * row.len() / bins + 1),
            );
            row[lo..hi].iter().sum::<f64>() / (hi - lo) as f64
        })
        .collect()
}

impl Figure for Heatmaps<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let vmax = self
            .panels
            .iter()
            .flat_map(|(_, m)| m.iter().flatten())
            .cloned()
            .fold(0.0f64, f64::max);
        let vmax = if vmax > 0.0 { vmax } else { 1.0 };
        let scale = ColourScale::for_values(
            self.panels
                .iter()
                .flat_map(|(_, m)| m.iter().flatten())
                .copied(),
            vmax,
        );
        let (w, _) = root.dim_in_pixel();
        let (maps, bar) = root.split_horizontally(w.saturating_sub(110));
        let panels = maps.split_evenly((1, self.panels.len().max(1)));
        for ((name, m), area) in self.panels.iter().zip(&panels) {
            let rows = m.len();
            let cols = m.first().map_or(0, |r| r.len());
            let shown: Vec<Vec<f64>> = m.iter().map(|r| binned(r, MAX_COLUMNS)).collect();
            let bins = shown.first().map_or(0, |r| r.len()).max(1);
            let width = cols as f64 / bins as f64;
            let (row_labels, col_labels) = (&self.row_labels, &self.col_labels);
            let label = |labels: &[String], v: f64| -> String {
                let i = v.floor();
                if i < 0.0 {
                    return String::new();
                }
                labels.get(i as usize).cloned().unwrap_or_default()
            };
            let mut chart = ChartBuilder::on(area)
                .margin(12)
                .caption(format!("{name}: S[k][j]"), (FAMILY, 18))
                .x_label_area_size(40)
                .y_label_area_size(50)
                .build_cartesian_2d(0.0..cols as f64, rows as f64..0.0)
                .map_err(draw_err)?;
            chart
                .configure_mesh()
                .disable_mesh()
                .x_desc(format!("{} j (moves)", self.unit))
                .y_desc(format!("{} k (nudged)", self.unit))
                .label_style((FAMILY, 12))
                .axis_desc_style((FAMILY, 13))
                .x_labels(cols.min(12))
                .y_labels(rows.min(12))
                .x_label_formatter(&|v| label(col_labels, *v))
                .y_label_formatter(&|v| label(row_labels, *v))
                .draw()
                .map_err(draw_err)?;
            chart
                .draw_series(shown.iter().enumerate().flat_map(|(r, row)| {
                    row.iter().enumerate().map(move |(b, &v)| {
                        let x = b as f64 * width;
                        Rectangle::new(
                            [(x, r as f64), (x + width, r as f64 + 1.0)],
                            viridis(scale.position(v)).filled(),
                        )
                    })
                }))
                .map_err(draw_err)?;
        }
        match scale {
            ColourScale::Linear { max } => colour_bar(&bar, 0.0, max, "|Δx_j|/δ"),
            ColourScale::Log { lo, hi } => colour_bar_with(&bar, lo, hi, "|Δx_j|/δ", true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_scale_goes_log_past_three_decades() {
        // 0.5 … 2: under a decade apart → linear; 1e-4 … 10: five decades → log from 1e-4.
        let lin = ColourScale::for_values([0.5, 2.0, 0.0].into_iter(), 2.0);
        assert_eq!(lin, ColourScale::Linear { max: 2.0 });
        assert_eq!(lin.position(1.0), 0.5);
        let log = ColourScale::for_values([1e-4, 10.0, 0.0].into_iter(), 10.0);
        assert_eq!(log, ColourScale::Log { lo: -4.0, hi: 1.0 });
        assert!((log.position(0.1) - 0.6).abs() < 1e-12); // (−1 + 4) / 5
        assert_eq!(log.position(0.0), 0.0);
        // 1e-9 … 1: capped at five decades below the maximum.
        let capped = ColourScale::for_values([1e-9, 1.0].into_iter(), 1.0);
        assert_eq!(capped, ColourScale::Log { lo: -5.0, hi: 0.0 });
    }

    #[test]
    fn viridis_ends_and_middle() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(0.5), RGBColor(33, 145, 140));
        assert_eq!(viridis(-3.0), viridis(0.0));
    }
}
