//! `align --report FILE.json|FILE.csv` and `--rmsf FILE.csv`: per-frame diagnostics of an
//! alignment, gathered by observing the aligned frames as the engine produces them.
//!
//! Rows: `frame` (index in the input); `rmsd_ref`, the RMSD of the aligned frame to the Kabsch
//! reference (as fitted: centred, or at the reference's centre with `--to-ref-center`) — else to
//! aligned frame 0 — over the fit set with the fit weights, which is the number MDAnalysis
//! `AlignTraj.results.rmsd` and `gmx rms` report; `rmsd_all`, the same over all points,
//! unweighted; `step_rmsd`, all points to the previous aligned frame (null for the first);
//! `angle_deg`, the rotation applied; `jump`, `step_rmsd > 5 × median step_rmsd`; `degenerate`.
//! The JSON form adds a summary with the jump and degenerate frames and `rmsf`: per point, the
//! root-mean-square fluctuation about the mean aligned structure, `sqrt(mean_f ‖x_fi − x̄_i‖²)`.

use super::export::{csv_bytes, json_bytes, write_bytes, Format};
use crate::engine::{ChunkView, Observer};
use crate::formats::TrajMeta;
use crate::options::PipelineSpec;
use crate::stages::{Fit, Reference};
use crate::topology::Topology;
use anyhow::Result;
use rayon::prelude::*;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A step is a jump when it exceeds this multiple of the median step.
pub const JUMP_FACTOR: f64 = 5.0;

/// One frame's diagnostics.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FrameRow {
    /// Frame index in the input.
    pub frame: usize,
    /// RMSD over the fit set, fit-weighted, to the reference (or aligned frame 0).
    pub rmsd_ref: f64,
    /// RMSD over all points, unweighted, to the same.
    pub rmsd_all: f64,
    /// RMSD over all points to the previous aligned frame (none for the first).
    pub step_rmsd: Option<f64>,
    /// The rotation applied, degrees.
    pub angle_deg: f64,
    /// `step_rmsd > 5 × median step_rmsd`.
    pub jump: bool,
    /// The transform was undefined; a fallback was used.
    pub degenerate: bool,
}

/// Counts and frame lists of the JSON report.
#[derive(Clone, Debug, Serialize)]
pub struct FrameSummary {
    /// Number of jump frames.
    pub jumps: usize,
    /// The jump frames.
    pub jump_frames: Vec<usize>,
    /// Number of degenerate frames.
    pub degenerate: usize,
    /// The degenerate frames.
    pub degenerate_frames: Vec<usize>,
    /// Per point: RMS fluctuation about the mean aligned structure.
    pub rmsf: Vec<f64>,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct FrameReport {
    /// The input, as named in messages.
    pub input: String,
    /// The pipeline (`com+kabsch`).
    pub pipeline: String,
    /// Number of frames.
    pub frames: usize,
    /// What `rmsd_ref` is measured against.
    pub reference: String,
    /// The median step RMSD the jump threshold is relative to.
    pub median_step_rmsd: f64,
    /// Counts, frame lists and RMSF.
    pub summary: FrameSummary,
    /// One row per frame.
    pub rows: Vec<FrameRow>,
}

/// Collects [`FrameRow`]s and the RMSF sums from the aligned frames of a run.
pub struct FrameReporter {
    input: String,
    pipeline: String,
    reference: Option<Vec<f64>>,
    reference_name: String,
    fit: Fit,
    dims: usize,
    prev: Option<Vec<f64>>,
    rows: Vec<FrameRow>,
    /// Welford running mean and sum of squared deviations per coordinate.
    mean: Vec<f64>,
    m2: Vec<f64>,
    counted: usize,
    /// Where the report and the RMSF go (see [`FrameReporter::with_files`]).
    files: (Option<PathBuf>, Option<PathBuf>),
    /// Per point, the atom it is (with a topology): extra columns of the RMSF CSV.
    atoms: Option<Vec<AtomLabel>>,
    /// The report and the bytes of its files, once formatted by [`Observer::last`].
    done: Option<Done>,
}

/// A finished report and the bytes of its files.
struct Done {
    report: FrameReport,
    report_bytes: Option<Vec<u8>>,
    rmsf_bytes: Option<Vec<u8>>,
}

impl FrameReporter {
    /// A reporter for frames of `meta` aligned by `pipeline` onto `reference` (Kabsch) or onto
    /// their first frame.
    pub fn new(
        meta: &TrajMeta,
        pipeline: &PipelineSpec,
        reference: Option<Arc<Reference>>,
        fit: Fit,
        to_ref_center: bool,
    ) -> FrameReporter {
        let (coords, name) = match reference {
            Some(r) => {
                let mut c = r.coords.clone();
                if to_ref_center {
                    for row in c.chunks_exact_mut(meta.dims) {
                        row.iter_mut().zip(&r.center).for_each(|(x, o)| *x += o);
                    }
                }
                (Some(c), format!("kabsch reference ({})", r.description))
            }
            None => (None, "aligned first frame".to_string()),
        };
        FrameReporter {
            input: meta.source.clone(),
            pipeline: pipeline.to_string(),
            reference: coords,
            reference_name: name,
            fit,
            dims: meta.dims,
            prev: None,
            rows: Vec::new(),
            mean: vec![0.0; meta.frame_len()],
            m2: vec![0.0; meta.frame_len()],
            counted: 0,
            files: (None, None),
            atoms: None,
            done: None,
        }
    }

    /// Names each point by its atom (name, residue name and number, segment) in the RMSF CSV.
    pub fn with_topology(mut self, topology: Option<&Topology>) -> Self {
        self.atoms = topology.map(|t| {
            t.atoms
                .iter()
                .map(|a| AtomLabel {
                    name: a.name.clone(),
                    resname: a.resname.clone(),
                    resid: a.resid,
                    segid: a.segid.clone(),
                })
                .collect()
        });
        self
    }

    /// The files [`FrameReporter::write_files`] will write: the report (JSON or CSV by
    /// extension) and the RMSF (CSV). They are formatted once the last frame is seen, while the
    /// aligned output is being finished.
    pub fn with_files(mut self, report: Option<PathBuf>, rmsf: Option<PathBuf>) -> Self {
        self.files = (report, rmsf);
        self
    }

    /// The report, with `jump` filled in and the RMSF.
    pub fn finish(mut self) -> FrameReport {
        match self.done.take() {
            Some(done) => done.report,
            None => self.build(),
        }
    }

    /// Writes the files of [`FrameReporter::with_files`] (the report, then the RMSF), calling
    /// `wrote` after the report; returns the report.
    pub fn write_files(mut self, wrote: impl FnOnce(&Path, &FrameReport)) -> Result<FrameReport> {
        let done = match self.done.take() {
            Some(done) => done,
            None => self.format()?,
        };
        if let (Some(path), Some(bytes)) = (&self.files.0, &done.report_bytes) {
            write_bytes(path, bytes)?;
            wrote(path, &done.report);
        }
        if let (Some(path), Some(bytes)) = (&self.files.1, &done.rmsf_bytes) {
            write_bytes(path, bytes)?;
        }
        Ok(done.report)
    }

    /// The report and the bytes of its files.
    fn format(&mut self) -> Result<Done> {
        let report = self.build();
        let report_bytes = match &self.files.0 {
            Some(path) => Some(frame_report_bytes(path, &report)?),
            None => None,
        };
        let rmsf_bytes = match &self.files.1 {
            Some(path) => Some(rmsf_bytes(path, &report, self.atoms.as_deref())?),
            None => None,
        };
        Ok(Done {
            report,
            report_bytes,
            rmsf_bytes,
        })
    }

    /// The report from the rows and sums so far (the rows move into it).
    fn build(&mut self) -> FrameReport {
        let mut steps: Vec<f64> = self.rows.iter().filter_map(|r| r.step_rmsd).collect();
        steps.sort_by(f64::total_cmp);
        let median = match steps.len() {
            0 => 0.0,
            n if n % 2 == 1 => steps[n / 2],
            n => 0.5 * (steps[n / 2 - 1] + steps[n / 2]),
        };
        for r in &mut self.rows {
            r.jump = r.step_rmsd.is_some_and(|s| s > JUMP_FACTOR * median);
        }
        let pick = |f: fn(&FrameRow) -> bool| -> Vec<usize> {
            self.rows.iter().filter(|r| f(r)).map(|r| r.frame).collect()
        };
        let (jump_frames, degenerate_frames) = (pick(|r| r.jump), pick(|r| r.degenerate));
        let n = self.counted.max(1) as f64;
        let rmsf = self
            .m2
            .chunks_exact(self.dims)
            .map(|m| (m.iter().sum::<f64>() / n).sqrt())
            .collect();
        FrameReport {
            input: self.input.clone(),
            pipeline: self.pipeline.clone(),
            frames: self.rows.len(),
            reference: self.reference_name.clone(),
            median_step_rmsd: median,
            summary: FrameSummary {
                jumps: jump_frames.len(),
                jump_frames,
                degenerate: degenerate_frames.len(),
                degenerate_frames,
                rmsf,
            },
            rows: std::mem::take(&mut self.rows),
        }
    }

    /// Frame by frame, in order: the definition [`Observer::chunk`] computes in parallel, kept
    /// to test that the two agree bit for bit.
    #[cfg(test)]
    fn add(&mut self, index: usize, frame: &[f64], degenerate: bool, angle_deg: f64) {
        let reference = self.reference.get_or_insert_with(|| frame.to_vec());
        let m = measure(frame, reference, self.prev.as_deref(), &self.fit, self.dims);
        self.rows.push(FrameRow {
            frame: index,
            rmsd_ref: m.rmsd_ref,
            rmsd_all: m.rmsd_all,
            step_rmsd: m.step_rmsd,
            angle_deg,
            jump: false,
            degenerate,
        });
        match &mut self.prev {
            Some(p) => p.copy_from_slice(frame),
            None => self.prev = Some(frame.to_vec()),
        }
        if m.finite {
            self.counted += 1;
            welford(&mut self.mean, &mut self.m2, frame, self.counted);
        }
    }
}

/// RMSD over all points, unweighted, of two `N × D` frames.
pub fn rmsd(a: &[f64], b: &[f64], dims: usize) -> f64 {
    let n = (a.len() / dims.max(1)).max(1) as f64;
    (a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>() / n).sqrt()
}

/// Independent partial sums in the kernels below: they break the chain of dependent additions
/// (the compiler may not reorder a float sum) and vectorise.
const LANES: usize = 8;

/// `((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))`.
#[inline(always)]
fn lane_sum(s: [f64; LANES]) -> f64 {
    ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))
}

/// `(Σ (x − a)², Σ (x − b)²)` in one pass, each sum in [`LANES`] lanes.
#[inline(always)]
fn sq_sums(x: &[f64], a: &[f64], b: &[f64]) -> (f64, f64) {
    let (mut sa, mut sb) = ([0.0; LANES], [0.0; LANES]);
    let ((cx, rx), (ca, ra), (cb, rb)) = (
        x.as_chunks::<LANES>(),
        a.as_chunks::<LANES>(),
        b.as_chunks::<LANES>(),
    );
    for ((x, a), b) in cx.iter().zip(ca).zip(cb) {
        for k in 0..LANES {
            let (p, q) = (x[k] - a[k], x[k] - b[k]);
            sa[k] += p * p;
            sb[k] += q * q;
        }
    }
    for (k, ((x, a), b)) in rx.iter().zip(ra).zip(rb).enumerate() {
        let (p, q) = (x - a, x - b);
        sa[k] += p * p;
        sb[k] += q * q;
    }
    (lane_sum(sa), lane_sum(sb))
}

/// `Σ w_i ‖a_i − b_i‖²` over the fit set, in [`LANES`] lanes by fit point.
fn fit_sq_sum(fit: &Fit, a: &[f64], b: &[f64], dims: usize) -> f64 {
    fn row(v: &[f64], i: usize, dims: usize) -> &[f64] {
        v.get(i * dims..(i + 1) * dims).unwrap_or(&[])
    }
    let point = |i: usize| -> f64 {
        let (p, q) = (row(a, i, dims), row(b, i, dims));
        p.iter().zip(q).map(|(p, q)| (p - q) * (p - q)).sum()
    };
    let mut s = [0.0; LANES];
    let ((ci, ri), (cw, rw)) = (
        fit.indices.as_chunks::<LANES>(),
        fit.weights.as_chunks::<LANES>(),
    );
    for (i, w) in ci.iter().zip(cw) {
        for k in 0..LANES {
            s[k] += w[k] * point(i[k]);
        }
    }
    for (k, (&i, &w)) in ri.iter().zip(rw).enumerate() {
        s[k] += w * point(i);
    }
    lane_sum(s)
}

/// Sums of one block of coordinates of a frame: `Σ (x − ref)²`, `Σ (x − prev)²` and whether
/// every `x` is finite.
#[derive(Clone, Copy, Default)]
struct BlockSums {
    to_ref: f64,
    to_prev: f64,
    finite: bool,
}

impl BlockSums {
    #[inline(always)]
    fn of(x: &[f64], reference: &[f64], prev: &[f64]) -> BlockSums {
        let (to_ref, to_prev) = sq_sums(x, reference, prev);
        BlockSums {
            to_ref,
            to_prev,
            // A finite Σ (x − ref)² has every x − ref, so every x, finite (a non-finite ref
            // makes the sum non-finite); only otherwise are the values looked at.
            finite: to_ref.is_finite() || x.iter().all(|v| v.is_finite()),
        }
    }
}

/// One frame's [`Measures`] from its [`BlockSums`] in block order (the all-point sums, which
/// are also the fit-set sum when the fit set is every point with weight 1; another pass over
/// the fit set otherwise).
fn measures_of(
    blocks: impl Iterator<Item = BlockSums>,
    frame: &[f64],
    reference: &[f64],
    has_prev: bool,
    fit: &Fit,
    dims: usize,
) -> Measures {
    let (mut all, mut step, mut finite) = (0.0, 0.0, true);
    for b in blocks {
        all += b.to_ref;
        step += b.to_prev;
        finite &= b.finite;
    }
    let n = (frame.len() / dims.max(1)).max(1) as f64;
    let fitted = if fit.all_unit {
        all
    } else {
        fit_sq_sum(fit, frame, reference, dims)
    };
    Measures {
        rmsd_ref: (fitted / fit.total_weight).sqrt(),
        rmsd_all: (all / n).sqrt(),
        step_rmsd: has_prev.then(|| (step / n).sqrt()),
        finite,
    }
}

/// One frame's RMSDs against `reference` and `prev` (see [`FrameRow`]) and whether it is
/// finite, summed by blocks of [`RMSF_BLOCK`] coordinates as [`Observer::chunk`] sums them.
#[cfg(test)]
fn measure(
    frame: &[f64],
    reference: &[f64],
    prev: Option<&[f64]>,
    fit: &Fit,
    dims: usize,
) -> Measures {
    let before = prev.unwrap_or(reference);
    let blocks = frame
        .chunks(RMSF_BLOCK)
        .zip(reference.chunks(RMSF_BLOCK))
        .zip(before.chunks(RMSF_BLOCK))
        .map(|((x, r), p)| BlockSums::of(x, r, p));
    measures_of(blocks, frame, reference, prev.is_some(), fit, dims)
}

/// Welford's update of running means and sums of squared deviations with the `n`-th value of
/// each coordinate (`n` ≥ 1), `d = x − m; m += d / n; M2 += d (x − m)`, with `d / n` taken as
/// `d × (1 / n)` (one rounding more than a division, ~1e-16 relative, and much cheaper).
#[inline(always)]
fn welford(mean: &mut [f64], m2: &mut [f64], xs: &[f64], n: usize) {
    let inv = 1.0 / n as f64;
    for ((m, s), &x) in mean.iter_mut().zip(m2.iter_mut()).zip(xs) {
        let d = x - *m;
        *m += d * inv;
        *s += d * (x - *m);
    }
}

/// Coordinates per block of the RMSF update (a block's running means and sums stay in L1).
const RMSF_BLOCK: usize = 512;

/// Consecutive blocks of coordinates (`at`, starting on a block boundary) of a chunk's
/// frames, in frame order: each frame's [`BlockSums`] per block and Welford's RMSF update.
struct BlockPass<'v, 'c> {
    view: &'v ChunkView<'c>,
    at: std::ops::Range<usize>,
    reference: &'v [f64],
    prev: Option<&'v [f64]>,
    /// Finite frames before the chunk.
    counted: usize,
}

impl BlockPass<'_, '_> {
    /// Runs the pass, with AVX2 where the CPU has it (the same operations in the same order
    /// on wider registers, so the same bits: Rust never fuses a multiply and an add).
    fn run(&self, mean: &mut [f64], m2: &mut [f64], sums: &mut [BlockSums]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above; nothing else is required.
            unsafe { self.run_avx2(mean, m2, sums) };
            return;
        }
        self.run_any(mean, m2, sums);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn run_avx2(&self, mean: &mut [f64], m2: &mut [f64], sums: &mut [BlockSums]) {
        self.run_any(mean, m2, sums);
    }

    /// Frame by frame, the blocks of `at` in order; `sums` is block-major (`[block][frame]`).
    #[inline(always)]
    fn run_any(&self, mean: &mut [f64], m2: &mut [f64], sums: &mut [BlockSums]) {
        fn part<'a>(v: &'a [f64], at: &std::ops::Range<usize>) -> &'a [f64] {
            v.get(at.clone()).unwrap_or(&[])
        }
        let frames = self.view.frames;
        let r = part(self.reference, &self.at);
        for f in 0..frames {
            let x = part(self.view.frame(f), &self.at);
            let before = match (f, self.prev) {
                (0, None) => r,
                (0, Some(p)) => part(p, &self.at),
                _ => part(self.view.frame(f - 1), &self.at),
            };
            let blocks = x
                .chunks(RMSF_BLOCK)
                .zip(r.chunks(RMSF_BLOCK))
                .zip(before.chunks(RMSF_BLOCK))
                .zip(mean.chunks_mut(RMSF_BLOCK).zip(m2.chunks_mut(RMSF_BLOCK)));
            for (j, (((x, r), p), (mean, m2))) in blocks.enumerate() {
                if let Some(s) = sums.get_mut(j * frames + f) {
                    *s = BlockSums::of(x, r, p);
                }
                welford(mean, m2, x, self.counted + f + 1);
            }
        }
    }
}

/// What one frame contributes to its row, computed in parallel over a chunk.
struct Measures {
    rmsd_ref: f64,
    rmsd_all: f64,
    step_rmsd: Option<f64>,
    finite: bool,
}

impl Observer for FrameReporter {
    /// The rows of the chunk's frames and the RMSF update: the same numbers, bit for bit, as
    /// [`FrameReporter::add`] frame by frame. One pass over the chunk, split among tasks by
    /// blocks of [`RMSF_BLOCK`] coordinates, each task running over all frames in order: per
    /// frame and block the sums to the reference and to the frame before (the last frame of
    /// the chunk before, for the first), added up per frame in block order; per coordinate
    /// Welford's update in frame order. No split changes any sum, so the report does not
    /// depend on the thread count or the chunk size.
    fn chunk(&mut self, view: &ChunkView<'_>) -> Result<()> {
        let frames = view.frames;
        if frames == 0 {
            return Ok(());
        }
        let dims = self.dims;
        let reference: &[f64] = self.reference.get_or_insert_with(|| view.frame(0).to_vec());
        let (fit, prev) = (&self.fit, self.prev.as_deref());
        let counted = self.counted;
        // One pass over the chunk, by blocks of coordinates in parallel: each block's sums for
        // every frame, and Welford's update on the assumption that every frame is finite.
        let saved = (self.mean.clone(), self.m2.clone());
        let blocks = self.mean.len().div_ceil(RMSF_BLOCK);
        let mut sums = vec![BlockSums::default(); blocks * frames];
        // One task per thread, each over consecutive blocks (longer runs of memory per frame);
        // the blocks' sums are the same however they are grouped.
        let per_task = blocks.div_ceil(rayon::current_num_threads().max(1)).max(1);
        self.mean
            .par_chunks_mut(RMSF_BLOCK * per_task)
            .zip(self.m2.par_chunks_mut(RMSF_BLOCK * per_task))
            .zip(sums.par_chunks_mut(frames * per_task))
            .enumerate()
            .for_each(|(t, ((mean, m2), sums))| {
                let start = t * per_task * RMSF_BLOCK;
                let pass = BlockPass {
                    view,
                    at: start..start + mean.len(),
                    reference,
                    prev,
                    counted,
                };
                pass.run(mean, m2, sums);
            });
        let measure = |f: usize| {
            let has_prev = f > 0 || prev.is_some();
            let of_frame = (0..blocks).map(|b| sums[b * frames + f]);
            measures_of(of_frame, view.frame(f), reference, has_prev, fit, dims)
        };
        // A few additions per frame, unless a weighted or partial fit set needs its own pass
        // (each parallel phase started from this thread costs a wake-up of the pool).
        let measures: Vec<Measures> = if fit.all_unit {
            (0..frames).map(measure).collect()
        } else {
            (0..frames).into_par_iter().map(measure).collect()
        };
        let finite: Vec<usize> = (0..frames).filter(|&f| measures[f].finite).collect();
        if finite.len() < frames {
            // Rare (`--allow-nonfinite`): redo the update over the finite frames only.
            (self.mean, self.m2) = saved;
            self.mean
                .par_chunks_mut(RMSF_BLOCK)
                .zip(self.m2.par_chunks_mut(RMSF_BLOCK))
                .enumerate()
                .for_each(|(b, (mean, m2))| {
                    let at = b * RMSF_BLOCK..b * RMSF_BLOCK + mean.len();
                    for (k, &f) in finite.iter().enumerate() {
                        let x = view.frame(f).get(at.clone()).unwrap_or(&[]);
                        welford(mean, m2, x, counted + k + 1);
                    }
                });
        }
        self.counted += finite.len();
        for (i, m) in measures.into_iter().enumerate() {
            let fact = view.facts[i];
            self.rows.push(FrameRow {
                frame: view.source_index(i),
                rmsd_ref: m.rmsd_ref,
                rmsd_all: m.rmsd_all,
                step_rmsd: m.step_rmsd,
                angle_deg: fact.angle_deg,
                jump: false,
                degenerate: fact.degenerate,
            });
        }
        let last = view.frame(frames - 1);
        match &mut self.prev {
            Some(p) => p.copy_from_slice(last),
            None => self.prev = Some(last.to_vec()),
        }
        Ok(())
    }

    /// Formats the files (while the aligned output is being finished). A formatting error is
    /// left for [`FrameReporter::write_files`] to report, after the output.
    fn last(&mut self) -> Result<()> {
        if self.done.is_none() && (self.files.0.is_some() || self.files.1.is_some()) {
            self.done = self.format().ok();
        }
        Ok(())
    }
}

/// Writes `report` to `path`: JSON (with the summary) or CSV (rows only) by extension.
pub fn write_frame_report(path: &Path, report: &FrameReport) -> Result<()> {
    write_bytes(path, &frame_report_bytes(path, report)?)
}

/// The bytes [`write_frame_report`] writes.
fn frame_report_bytes(path: &Path, report: &FrameReport) -> Result<Vec<u8>> {
    match Format::of(path, "report")? {
        Format::Json => json_bytes(path, report),
        Format::Csv => csv_bytes(path, &report.rows),
    }
}

/// One RMSF row.
#[derive(Serialize)]
struct RmsfRow {
    point: usize,
    rmsf: f64,
}

/// The atom a point is, for the RMSF CSV.
#[derive(Clone, Debug, Serialize)]
pub struct AtomLabel {
    /// Atom name (`CA`).
    pub name: String,
    /// Residue name (`ALA`).
    pub resname: String,
    /// Residue number.
    pub resid: i64,
    /// Segment (PSF segid, PDB segment or chain, `SYSTEM`).
    pub segid: String,
}

/// One RMSF row with its atom.
#[derive(Serialize)]
struct AtomRmsfRow<'a> {
    point: usize,
    name: &'a str,
    resname: &'a str,
    resid: i64,
    segid: &'a str,
    rmsf: f64,
}

/// Writes the RMSF per point as CSV: `point,rmsf`, or with `atoms` (a topology)
/// `point,name,resname,resid,segid,rmsf`.
pub fn write_rmsf(path: &Path, report: &FrameReport, atoms: Option<&[AtomLabel]>) -> Result<()> {
    write_bytes(path, &rmsf_bytes(path, report, atoms)?)
}

/// The bytes [`write_rmsf`] writes.
fn rmsf_bytes(path: &Path, report: &FrameReport, atoms: Option<&[AtomLabel]>) -> Result<Vec<u8>> {
    let rmsf = report.summary.rmsf.iter().enumerate();
    match atoms {
        Some(atoms) => {
            let rows: Vec<AtomRmsfRow> = rmsf
                .zip(atoms)
                .map(|((point, &rmsf), a)| AtomRmsfRow {
                    point,
                    name: &a.name,
                    resname: &a.resname,
                    resid: a.resid,
                    segid: &a.segid,
                    rmsf,
                })
                .collect();
            csv_bytes(path, &rows)
        }
        None => {
            let rows: Vec<RmsfRow> = rmsf.map(|(point, &rmsf)| RmsfRow { point, rmsf }).collect();
            csv_bytes(path, &rows)
        }
    }
}

impl Fit {
    /// RMSD over the fit set with the fit weights, `sqrt(Σ w_i ‖a_i − b_i‖² / Σ w_i)`, of two
    /// `N × D` frames (what MDAnalysis `rms.rmsd(weights=…)` computes).
    pub fn rmsd(&self, a: &[f64], b: &[f64], dims: usize) -> f64 {
        let sum: f64 = self
            .indices
            .iter()
            .zip(&self.weights)
            .map(|(&i, &w)| {
                let (x, y) = (&a[i * dims..(i + 1) * dims], &b[i * dims..(i + 1) * dims]);
                w * x.iter().zip(y).map(|(p, q)| (p - q) * (p - q)).sum::<f64>()
            })
            .sum();
        (sum / self.total_weight).sqrt()
    }

    /// Weighted RMS distance of the fit points from the origin (a length scale).
    pub fn rms(&self, a: &[f64], dims: usize) -> f64 {
        self.rmsd(a, &vec![0.0; a.len()], dims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jumps_are_relative_to_the_median_step_and_rmsf_is_about_the_mean() {
        // One point moving along x: 0, 1, 2, 3, 13, 14 (steps 1, 1, 1, 10, 1: median 1, so
        // only the step of 10 exceeds 5 × 1). Mean x = 33/6 = 5.5; RMSF² = mean (x − 5.5)² =
        // (30.25 + 20.25 + 12.25 + 6.25 + 56.25 + 72.25) / 6 = 197.5 / 6, by hand.
        let meta = TrajMeta {
            source: "t".into(),
            key: "arr".into(),
            frames: 6,
            points: 1,
            dims: 2,
            width: crate::formats::Width::F64,
            big_endian: false,
            unit: "",
            dt: None,
        };
        let mut rep = FrameReporter::new(&meta, &"com".parse().unwrap(), None, Fit::all(1), false);
        for (i, x) in [0.0, 1.0, 2.0, 3.0, 13.0, 14.0].into_iter().enumerate() {
            rep.add(i, &[x, 0.0], false, 0.0);
        }
        let report = rep.finish();
        assert_eq!(report.summary.jump_frames, vec![4]);
        assert_eq!(report.rows[0].step_rmsd, None);
        assert_eq!(report.rows[5].rmsd_ref, 14.0);
        assert_eq!(report.median_step_rmsd, 1.0);
        assert!((report.summary.rmsf[0] - (197.5f64 / 6.0).sqrt()).abs() < 1e-12);
    }

    /// Files formatted by `Observer::last` (during the end of the output) are written by
    /// `write_files` with the bytes `write_frame_report` / `write_rmsf` give; a report name
    /// with an unknown extension fails in `write_files`, not in `last`.
    #[test]
    fn files_formatted_at_the_last_chunk_are_the_same_bytes() {
        let (frames, points, dims) = (12, 40, 3);
        let len = points * dims;
        let x = trajectory(frames, len);
        let m = meta(frames, points, dims);
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str| dir.path().join(name);
        let new = || {
            let mut rep =
                FrameReporter::new(&m, &"com".parse().unwrap(), None, Fit::all(points), false);
            observe(&mut rep, &x, len, &[5]);
            rep
        };
        for name in ["r.json", "r.csv"] {
            let mut rep = new().with_files(Some(at(name)), Some(at("f.csv")));
            rep.last().unwrap();
            let mut wrote = None;
            let report = rep
                .write_files(|p, r| wrote = Some((p.to_path_buf(), r.frames)))
                .unwrap();
            assert_eq!(wrote, Some((at(name), frames)));
            let want = at(&format!("want.{name}"));
            write_frame_report(&want, &new().finish()).unwrap();
            write_rmsf(&at("want.csv"), &report, None).unwrap();
            let read = |p: &Path| std::fs::read(p).unwrap();
            assert!(read(&at(name)) == read(&want), "{name}");
            assert!(read(&at("f.csv")) == read(&at("want.csv")));
        }
        let mut rep = new().with_files(Some(at("r.txt")), None);
        rep.last().unwrap();
        assert!(rep.write_files(|_, _| ()).is_err());
        assert!(!at("r.txt").exists());
    }

    /// A deterministic pseudo-random trajectory (an LCG; no test depends on its values).
    fn trajectory(frames: usize, len: usize) -> Vec<f64> {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        (0..frames * len)
            .map(|i| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let u = (state >> 11) as f64 / (1u64 << 53) as f64;
                let f = (i / len) as f64;
                20.0 + 0.01 * f + (u - 0.5) * (1.0 + 0.1 * f)
            })
            .collect()
    }

    fn meta(frames: usize, points: usize, dims: usize) -> TrajMeta {
        TrajMeta {
            source: "t".into(),
            key: "arr".into(),
            frames,
            points,
            dims,
            width: crate::formats::Width::F64,
            big_endian: false,
            unit: "",
            dt: None,
        }
    }

    /// Shows `x` to `rep` in chunks of the given sizes (cycled).
    fn observe(rep: &mut FrameReporter, x: &[f64], len: usize, sizes: &[usize]) {
        let frames = x.len() / len;
        let facts = vec![crate::stages::FrameFacts::default(); frames];
        let info = vec![crate::formats::FrameInfo::default(); frames];
        let (mut first, mut k) = (0, 0);
        while first < frames {
            let n = sizes[k % sizes.len()].min(frames - first);
            let view = ChunkView {
                first,
                frames: n,
                frame_len: len,
                coords: &x[first * len..(first + n) * len],
                facts: &facts[first..first + n],
                info: &info[first..first + n],
                range_start: 0,
                range_step: 1,
            };
            rep.chunk(&view).unwrap();
            first += n;
            k += 1;
        }
    }

    /// The parallel [`Observer::chunk`] gives the serial definition's numbers bit for bit,
    /// whatever the chunks and the thread count: frames of 1,500 coordinates (three blocks,
    /// the last one partial), a frame with a NaN in its last block (skipped by the RMSF, and
    /// the chunk's update redone), a weighted fit subset and the all-points fit, with and
    /// without a reference.
    #[test]
    fn chunks_give_the_serial_numbers_bit_for_bit() {
        let (frames, points, dims) = (41, 500, 3);
        let len = points * dims;
        let mut x = trajectory(frames, len);
        x[17 * len + len - 2] = f64::NAN;
        let masses: Vec<f64> = (0..points).map(|i| 1.0 + (i % 7) as f64).collect();
        let subset: Vec<usize> = (0..points).step_by(3).collect();
        let fits = [
            Fit::all(points),
            Fit::new(points, Some(&masses), Some(&subset)).unwrap(),
        ];
        let reference = Arc::new(Reference {
            coords: trajectory(1, len),
            center: vec![0.0; dims],
            description: "test".into(),
        });
        let m = meta(frames, points, dims);
        let pipeline: PipelineSpec = "com+kabsch".parse().unwrap();
        for fit in &fits {
            for r in [None, Some(reference.clone())] {
                let new = || FrameReporter::new(&m, &pipeline, r.clone(), fit.clone(), false);
                let mut serial = new();
                for (i, f) in x.chunks_exact(len).enumerate() {
                    serial.add(i, f, false, 0.0);
                }
                let want = serial.finish();
                assert_eq!(want.summary.rmsf.len(), points);
                for sizes in [&[frames][..], &[1], &[5, 7, 11], &[16]] {
                    for threads in [1, 2] {
                        let pool = rayon::ThreadPoolBuilder::new()
                            .num_threads(threads)
                            .build()
                            .unwrap();
                        let mut rep = new();
                        pool.install(|| observe(&mut rep, &x, len, sizes));
                        let got = rep.finish();
                        let bits = |r: &FrameReport| -> Vec<u64> {
                            let rows = r.rows.iter().flat_map(|w| {
                                [w.rmsd_ref, w.rmsd_all, w.step_rmsd.unwrap_or(-1.0)]
                            });
                            rows.chain(r.summary.rmsf.iter().copied())
                                .map(f64::to_bits)
                                .collect()
                        };
                        assert_eq!(bits(&got), bits(&want), "chunks {sizes:?}");
                        // (rows hold NaN, so compare the rest field by field)
                        let flags = |r: &FrameReport| -> Vec<(usize, bool, bool)> {
                            r.rows
                                .iter()
                                .map(|w| (w.frame, w.jump, w.degenerate))
                                .collect()
                        };
                        assert_eq!(flags(&got), flags(&want));
                        assert_eq!(got.summary.jump_frames, want.summary.jump_frames);
                    }
                }
            }
        }
    }

    /// The blocked, laned sums against plain two-pass sums written out here: per frame
    /// `Σ (x − ref)²` (all points, and weighted over the fit set), `Σ (x − prev)²`, and RMSF as
    /// `sqrt(Σ_d mean_f (x − mean_f x)²)` over the finite frames; equal to 1e-12 relative.
    #[test]
    fn rmsds_and_rmsf_match_plain_sums() {
        let (frames, points, dims) = (60, 700, 3);
        let len = points * dims;
        let mut x = trajectory(frames, len);
        x[3 * len] = f64::INFINITY;
        let masses: Vec<f64> = (0..points).map(|i| 0.5 + (i % 5) as f64).collect();
        let subset: Vec<usize> = (0..points).filter(|i| i % 4 != 1).collect();
        let fit = Fit::new(points, Some(&masses), Some(&subset)).unwrap();
        let m = meta(frames, points, dims);
        let mut rep = FrameReporter::new(&m, &"com".parse().unwrap(), None, fit.clone(), false);
        observe(&mut rep, &x, len, &[13]);
        let report = rep.finish();
        let frame = |f: usize| &x[f * len..(f + 1) * len];
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1e-300);
        for f in 0..frames {
            let d2 = |a: &[f64], b: &[f64]| -> f64 {
                a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum()
            };
            let all = (d2(frame(f), frame(0)) / points as f64).sqrt();
            let fitted: f64 = subset
                .iter()
                .map(|&i| masses[i] * d2(&frame(f)[i * 3..i * 3 + 3], &frame(0)[i * 3..i * 3 + 3]))
                .sum();
            let wsum: f64 = subset.iter().map(|&i| masses[i]).sum();
            let row = &report.rows[f];
            if f == 3 {
                assert!(row.rmsd_all.is_infinite());
                continue;
            }
            assert!(close(row.rmsd_all, all), "frame {f}");
            assert!(close(row.rmsd_ref, (fitted / wsum).sqrt()), "frame {f}");
            if f > 0 && f != 4 {
                let step = (d2(frame(f), frame(f - 1)) / points as f64).sqrt();
                assert!(close(row.step_rmsd.unwrap(), step), "frame {f}");
            }
        }
        let finite: Vec<usize> = (0..frames).filter(|&f| f != 3).collect();
        let n = finite.len() as f64;
        for i in 0..points {
            let mut msd = 0.0;
            for c in i * dims..(i + 1) * dims {
                let mean = finite.iter().map(|&f| frame(f)[c]).sum::<f64>() / n;
                msd += finite
                    .iter()
                    .map(|&f| (frame(f)[c] - mean).powi(2))
                    .sum::<f64>()
                    / n;
            }
            assert!(close(report.summary.rmsf[i], msd.sqrt()), "point {i}");
        }
    }
}
