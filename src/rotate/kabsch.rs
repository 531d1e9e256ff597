//! `--kabsch`: least-squares superposition onto a reference structure.

use super::{is_off_center, DEGENERATE_TOL};
use crate::fit::FitSet;
use crate::io::{trajectory_member, FrameSource, Input, InputLocation};
use crate::kernels::linalg::{cross_covariance, rotate_rows, rotation_angle_deg};
use crate::kernels::small::{self, Mat};
use crate::stage::{FrameFacts, History, Stage};
use anyhow::{anyhow, bail, Result};
use nalgebra::{DMatrix, Matrix3};
use ndarray::{Array2, ArrayViewMut2, Axis, ShapeBuilder};
use rayon::prelude::*;
use std::path::PathBuf;
use std::sync::Arc;

/// Which structure `--kabsch` superposes onto (`--ref`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefSpec {
    /// Frame K of the input (`--ref K`, default 0).
    Frame(usize),
    /// A frame of another file: `--ref FILE.npz[#KEY][@FRAME]` (a 2-D `(points, dims)` array
    /// is taken as one frame).
    File {
        /// The file.
        path: PathBuf,
        /// The member (default as for the input).
        key: Option<String>,
        /// The frame (default 0).
        frame: usize,
    },
    /// The iterative average structure (`--ref average`).
    Average,
}

impl Default for RefSpec {
    fn default() -> Self {
        RefSpec::Frame(0)
    }
}

impl std::str::FromStr for RefSpec {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<RefSpec> {
        if s == "average" {
            return Ok(RefSpec::Average);
        }
        if let Ok(k) = s.parse::<usize>() {
            return Ok(RefSpec::Frame(k));
        }
        let (rest, frame) = match s.rsplit_once('@') {
            Some((p, f)) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => (
                p,
                f.parse::<usize>()
                    .map_err(|_| anyhow!("--ref {s}: bad frame number"))?,
            ),
            _ => (s, 0),
        };
        let (path, key) = match rest.rsplit_once('#') {
            Some((p, k)) if !k.is_empty() => (p, Some(k.to_string())),
            _ => (rest, None),
        };
        if path.is_empty() {
            bail!("--ref {s}: expected a frame number, 'average', or FILE.npz[#KEY][@FRAME]");
        }
        Ok(RefSpec::File {
            path: path.into(),
            key,
            frame,
        })
    }
}

/// A reference structure, centred the same way as the frames it is fitted to.
#[derive(Clone, Debug)]
pub struct Reference {
    /// The centred coordinates, `N × D`.
    pub coords: Array2<f64>,
    /// The translation the centering removed (added back by `--to-ref-center`).
    pub center: Vec<f64>,
    /// Where it came from, for messages and reports.
    pub description: String,
    /// For `--ref average`: iterations run and the final change between averages.
    pub average_iterations: Option<(usize, f64)>,
}

impl Reference {
    /// Centres `raw` with `center` (when given) and records the translation removed.
    pub fn from_frame(
        mut raw: Array2<f64>,
        center: Option<&dyn Stage>,
        description: String,
    ) -> Reference {
        let before = raw.row(0).to_vec();
        if let Some(stage) = center {
            stage.apply(raw.view_mut(), &mut History::default());
        }
        let center = before.iter().zip(raw.row(0)).map(|(b, a)| b - a).collect();
        Reference {
            coords: raw,
            center,
            description,
            average_iterations: None,
        }
    }
}

/// The proper rotation minimising `Σ_{i∈fit} w_i ‖R x_i − y_i‖²` for centred `x` (the
/// frame, `N × D` row-major) onto `y`, or `None` when it is not unique (the fit points span
/// fewer than D − 1 dimensions, or the reflection correction hits a repeated singular value).
/// From the SVD `H = Σ w x yᵀ = U S Vᵀ`: `R = V diag(1, …, 1, d) Uᵀ`, `d = sign det(V Uᵀ)`.
/// This is the general-`D` path; 2-D and 3-D frames use [`rotation_from_covariance_small`].
pub fn kabsch_rotation(
    frame: &[f64],
    reference: &[f64],
    dims: usize,
    fit: &FitSet,
) -> Option<DMatrix<f64>> {
    rotation_from_covariance(cross_covariance(frame, reference, dims, fit))
}

/// The Kabsch rotation from a cross-covariance `H = Σ w x yᵀ` (any `D`), as in [`kabsch_rotation`].
pub fn rotation_from_covariance(h: DMatrix<f64>) -> Option<DMatrix<f64>> {
    let dims = h.nrows();
    let svd = h.svd(true, true);
    let (u, v_t) = (svd.u?, svd.v_t?);
    let s = svd.singular_values;
    let mut order: Vec<usize> = (0..dims).collect();
    order.sort_by(|&a, &b| s[b].total_cmp(&s[a]));
    let top = s[order[0]];
    if top.is_nan() || top <= 0.0 || top.is_infinite() {
        return None;
    }
    let tol = DEGENERATE_TOL * top;
    if s[order[dims - 2]] <= tol {
        return None;
    }
    let mut v = v_t.transpose();
    let d = (&v * u.transpose()).determinant();
    if d < 0.0 {
        if s[order[dims - 2]] - s[order[dims - 1]] <= tol {
            return None;
        }
        v.column_mut(order[dims - 1]).neg_mut();
    }
    Some(v * u.transpose())
}

/// The Kabsch rotation from `H` for `D` = 2 (closed form: `θ = atan2(h01 − h10, h00 + h11)`
/// maximises `tr(R H)`) or 3 (nalgebra's fixed-size SVD, no heap); other `D` go through
/// [`rotation_from_covariance`]. Same result and degeneracy rule as the general path.
pub fn rotation_from_covariance_small<const D: usize>(h: &Mat<D>) -> Option<Mat<D>> {
    let mut r = [[0.0; D]; D];
    if D == 2 {
        let (c, s) = (h[0][0] + h[1][1], h[0][1] - h[1][0]);
        let norm = c.hypot(s);
        let scale = h.iter().flatten().map(|v| v * v).sum::<f64>().sqrt();
        if norm.is_nan() || norm <= DEGENERATE_TOL * scale || scale.is_infinite() {
            return None;
        }
        let (c, s) = (c / norm, s / norm);
        r[0][0] = c;
        r[0][1] = -s;
        r[1][0] = s;
        r[1][1] = c;
        return Some(r);
    }
    let m = if D == 3 {
        let svd = Matrix3::from_fn(|a, b| h[a][b]).svd(true, true);
        let (u, v_t) = (svd.u?, svd.v_t?);
        let s = svd.singular_values;
        let mut order = [0usize, 1, 2];
        order.sort_by(|&a, &b| s[b].total_cmp(&s[a]));
        let top = s[order[0]];
        if top.is_nan() || top <= 0.0 || top.is_infinite() {
            return None;
        }
        let tol = DEGENERATE_TOL * top;
        if s[order[1]] <= tol {
            return None;
        }
        let mut v = v_t.transpose();
        if (v * u.transpose()).determinant() < 0.0 {
            if s[order[1]] - s[order[2]] <= tol {
                return None;
            }
            v.column_mut(order[2]).neg_mut();
        }
        let m = v * u.transpose();
        DMatrix::from_fn(3, 3, |a, b| m[(a, b)])
    } else {
        rotation_from_covariance(DMatrix::from_fn(D, D, |a, b| h[a][b]))?
    };
    for (a, row) in r.iter_mut().enumerate() {
        for (b, v) in row.iter_mut().enumerate() {
            *v = m[(a, b)];
        }
    }
    Some(r)
}

/// Kabsch superposition onto a fixed, centred [`Reference`]. Results stay centred at the
/// origin unless `to_ref_center`, which moves them to the reference's original centre.
/// With `center_com` the stage also does the COM centering first (the fused `com+kabsch`
/// of a pipeline): one stage, three passes over the frame (centroid, covariance, transform).
pub struct Kabsch {
    fit: Arc<FitSet>,
    reference: Arc<Reference>,
    to_ref_center: bool,
    center_com: bool,
}

impl Kabsch {
    /// Superposition onto `reference` over `fit`.
    pub fn new(fit: Arc<FitSet>, reference: Arc<Reference>, to_ref_center: bool) -> Kabsch {
        Kabsch {
            fit,
            reference,
            to_ref_center,
            center_com: false,
        }
    }

    /// COM centering over `fit` followed by superposition onto `reference`, which must have
    /// been centred the same way.
    pub fn with_com_centering(
        fit: Arc<FitSet>,
        reference: Arc<Reference>,
        to_ref_center: bool,
    ) -> Kabsch {
        Kabsch {
            fit,
            reference,
            to_ref_center,
            center_com: true,
        }
    }

    fn apply_small<const D: usize>(&self, flat: &mut [f64]) -> FrameFacts {
        let reference = self.reference.coords.as_slice().expect("contiguous");
        let c = small::centroid::<D>(flat, &self.fit);
        let zero = [0.0; D];
        let (before, off_center) = if self.center_com {
            (c, false)
        } else {
            (zero, small::is_off_center(flat, &c))
        };
        let h = small::cross_covariance_about::<D>(flat, reference, &self.fit, &before);
        let mut after = zero;
        if self.to_ref_center {
            after.copy_from_slice(&self.reference.center);
        }
        let (r, degenerate) = match rotation_from_covariance_small::<D>(&h) {
            Some(r) => (r, false),
            None => (
                std::array::from_fn(|a| std::array::from_fn(|b| if a == b { 1.0 } else { 0.0 })),
                true,
            ),
        };
        small::transform::<D>(flat, &r, &before, &after);
        FrameFacts {
            degenerate,
            off_center,
            angle_deg: small::rotation_angle_deg(&r),
        }
    }
}

impl Stage for Kabsch {
    fn name(&self) -> String {
        if self.center_com {
            "com+kabsch".into()
        } else {
            "kabsch".into()
        }
    }

    fn reference(&self) -> Option<&Reference> {
        Some(&self.reference)
    }

    fn apply(&self, mut frame: ArrayViewMut2<'_, f64>, _: &mut History) -> FrameFacts {
        let dims = frame.ncols();
        let flat = frame.as_slice_mut().expect("frames are contiguous");
        match dims {
            2 => return self.apply_small::<2>(flat),
            3 => return self.apply_small::<3>(flat),
            _ => {}
        }
        if self.center_com {
            crate::kernels::subtract_centroid(flat, dims, &self.fit);
        }
        let off_center = !self.center_com && is_off_center(flat, dims, &self.fit);
        let reference = self.reference.coords.as_slice().expect("contiguous");
        let (r, degenerate) = match kabsch_rotation(flat, reference, dims, &self.fit) {
            Some(r) => (r, false),
            None => (DMatrix::identity(dims, dims), true),
        };
        rotate_rows(flat, &r);
        if self.to_ref_center {
            let shift: Vec<f64> = self.reference.center.iter().map(|c| -c).collect();
            crate::kernels::subtract_row(flat, &shift);
        }
        FrameFacts {
            degenerate,
            off_center,
            angle_deg: rotation_angle_deg(&r),
        }
    }
}

/// Reads frame `index` of the trajectory `key` of `input`.
pub fn read_frame(input: &Input, key: Option<&str>, index: usize) -> Result<Array2<f64>> {
    let (member, meta) = trajectory_member(input, key)?;
    if index >= meta.frames {
        bail!(
            "--ref {index}: frame out of range ({} has {} frames)",
            input.location,
            meta.frames
        );
    }
    let mut source = FrameSource::open(input, member, false)?;
    let chunk = meta.chunk_frames(None);
    while let Some(frames) = source.read_chunk(chunk)? {
        let start = source.position() - frames.len_of(Axis(0));
        if index < source.position() {
            return Ok(frames.index_axis(Axis(0), index - start).to_owned());
        }
    }
    unreachable!("index checked against frames")
}

/// Loads the reference of `spec` for a trajectory of `points × dims`, centred with `center`.
/// `average` is handled by [`average_reference`].
pub fn load_reference(
    spec: &RefSpec,
    input: &Input,
    key: Option<&str>,
    points: usize,
    dims: usize,
    center: Option<&dyn Stage>,
) -> Result<Reference> {
    match spec {
        RefSpec::Frame(k) => {
            let raw = read_frame(input, key, *k)?;
            Ok(Reference::from_frame(
                raw,
                center,
                format!("frame {k} of {}", input.location),
            ))
        }
        RefSpec::File {
            path,
            key: ref_key,
            frame,
        } => {
            let other = Input::open(InputLocation::Path(path.clone()))?;
            let member = match ref_key {
                Some(k) => other.member(k).ok_or_else(|| {
                    anyhow!(
                        "--ref: {}: no array '{k}' (members: {})",
                        path.display(),
                        other.member_summary()
                    )
                })?,
                None => other.choose_key(None).or_else(|_| {
                    other
                        .members
                        .iter()
                        .find(|m| m.header.as_ref().is_ok_and(|h| h.shape.len() == 2))
                        .ok_or_else(|| {
                            anyhow!(
                                "--ref: {}: no (points, dims) or trajectory array",
                                path.display()
                            )
                        })
                })?,
            };
            let header = member
                .header
                .as_ref()
                .map_err(|e| anyhow!("--ref: {}: {e}", path.display()))?;
            let raw = if header.shape.len() == 2 {
                if *frame != 0 {
                    bail!(
                        "--ref: {}: array '{}' is a single structure; it has no frame {frame}",
                        path.display(),
                        member.key
                    );
                }
                read_structure(&other, member, &header.descr, &header.shape)?
            } else {
                read_frame(&other, Some(&member.key), *frame)?
            };
            if raw.dim() != (points, dims) {
                bail!(
                    "--ref: {}: array '{}' frames are ({}, {}) but the trajectory's are ({points}, {dims})",
                    path.display(),
                    member.key,
                    raw.nrows(),
                    raw.ncols()
                );
            }
            Ok(Reference::from_frame(
                raw,
                center,
                format!("frame {frame} of {}#{}", path.display(), member.key),
            ))
        }
        RefSpec::Average => bail!("internal: average reference needs average_reference"),
    }
}

/// Reads a whole 2-D `(points, dims)` float array.
fn read_structure(
    input: &Input,
    member: &crate::io::input::Member,
    descr: &str,
    shape: &[usize],
) -> Result<Array2<f64>> {
    use std::io::Read;
    let what = format!("--ref: {}: array '{}'", input.location, member.key);
    let dtype = crate::io::Dtype::from_descr(descr).map_err(|e| anyhow!("{what}: {e}"))?;
    let mut stream = input.open_member(member)?;
    crate::io::npy::NpyHeader::read_from(&mut stream)?;
    let mut bytes = vec![0u8; shape[0] * shape[1] * dtype.size];
    stream
        .read_exact(&mut bytes)
        .map_err(|e| anyhow!("{what}: data truncated: {e}"))?;
    let mut values = Vec::new();
    dtype.decode_into(&bytes, &mut values);
    if values.iter().any(|v| !v.is_finite()) {
        bail!("{what}: the reference has a NaN or Inf coordinate");
    }
    let a = Array2::from_shape_vec((shape[0], shape[1]), values).expect("sized");
    Ok(if member.header.as_ref().is_ok_and(|h| h.fortran_order) {
        let f = Array2::from_shape_vec((shape[0], shape[1]).f(), a.into_raw_vec_and_offset().0)
            .expect("sized");
        f.as_standard_layout().into_owned()
    } else {
        a
    })
}

/// Maximum iterations of `--ref average`.
pub const AVERAGE_MAX_ITER: usize = 50;
/// Convergence of `--ref average`: RMSD between successive averages below this × their Rg.
pub const AVERAGE_TOL: f64 = 1e-6;

/// The iterative average structure: frame 0 (centred) first; then repeatedly align every
/// frame (centred with `center`) onto the current reference and average, until the RMSD
/// between successive averages is below 1e-6 × the average's radius of gyration, or 50
/// passes. Each pass re-reads the input, so memory stays one chunk. Frames are summed in
/// order, so the result does not depend on the number of threads.
pub fn average_reference(
    input: &Input,
    key: Option<&str>,
    center: Option<&dyn Stage>,
    fit: &Arc<FitSet>,
    chunk_frames: Option<usize>,
    allow_nonfinite: bool,
) -> Result<Reference> {
    let (member, meta) = trajectory_member(input, key)?;
    let mut reference = load_reference(
        &RefSpec::Frame(0),
        input,
        key,
        meta.points,
        meta.dims,
        center,
    )?;
    let fit_w: Vec<(usize, f64)> = fit
        .points
        .iter()
        .copied()
        .zip(fit.weights.iter().copied())
        .collect();
    for iteration in 1..=AVERAGE_MAX_ITER {
        let stage = Kabsch::new(fit.clone(), Arc::new(reference.clone()), false);
        let mut sum = Array2::<f64>::zeros((meta.points, meta.dims));
        let mut counted = 0usize;
        let mut source = FrameSource::open(input, member, allow_nonfinite)?;
        while let Some(mut frames) = source.read_chunk(meta.chunk_frames(chunk_frames))? {
            let ok: Vec<bool> = frames
                .axis_iter_mut(Axis(0))
                .into_par_iter()
                .map(|mut f| {
                    if !f.iter().all(|v| v.is_finite()) {
                        return false;
                    }
                    if let Some(c) = center {
                        c.apply(f.view_mut(), &mut History::default());
                    }
                    stage.apply(f, &mut History::default());
                    true
                })
                .collect();
            for (f, ok) in frames.outer_iter().zip(ok) {
                if ok {
                    sum += &f;
                    counted += 1;
                }
            }
        }
        if counted == 0 {
            bail!(
                "{}: array '{}': no finite frame to average",
                input.location,
                meta.key
            );
        }
        let average = sum / counted as f64;
        let (mut msd, mut rg2) = (0.0, 0.0);
        for &(i, w) in &fit_w {
            for k in 0..meta.dims {
                let (a, b) = (average[[i, k]], reference.coords[[i, k]]);
                msd += w * (a - b) * (a - b);
                rg2 += w * a * a;
            }
        }
        let change = (msd / fit.total_weight).sqrt();
        let rg = (rg2 / fit.total_weight).sqrt();
        reference.coords = average;
        reference.average_iterations = Some((iteration, change));
        if change <= AVERAGE_TOL * rg {
            break;
        }
    }
    reference.description = format!("average structure of {}", input.location);
    reference.center = vec![0.0; meta.dims];
    Ok(reference)
}
