//! The points and weights that define a transform: `--fit-points` and `--masses`.
//!
//! A [`FitSet`] is built once per run and shared by every stage, so the per-frame code only
//! walks a list of `(point, weight)` pairs.

use crate::io::npy::{Dtype, NpyHeader};
use crate::io::Input;
use anyhow::{anyhow, bail, Context, Result};
use std::io::Read;
use std::path::Path;

/// Parses a point selection such as `0:100,120,200:300`: Python-style half-open ranges
/// (`a:b`, `a:`, `:b`) and single indices, counted from 0, against `points` points.
/// Returns the sorted, de-duplicated indices; an index out of range or an empty range is an error.
pub fn parse_point_selection(spec: &str, points: usize) -> Result<Vec<usize>> {
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim) {
        if part.is_empty() {
            bail!("--fit-points '{spec}': empty item");
        }
        let parse = |s: &str, default: usize| -> Result<usize> {
            if s.is_empty() {
                return Ok(default);
            }
            s.parse::<usize>()
                .map_err(|_| anyhow!("--fit-points '{spec}': '{s}' is not a point index"))
        };
        if let Some((a, b)) = part.split_once(':') {
            let (a, b) = (parse(a, 0)?, parse(b, points)?);
            if a >= b {
                bail!("--fit-points '{spec}': range {part} is empty");
            }
            if b > points {
                bail!(
                    "--fit-points '{spec}': range {part} goes past the last point ({})",
                    points - 1
                );
            }
            out.extend(a..b);
        } else {
            let i = parse(part, 0)?;
            if i >= points {
                bail!("--fit-points '{spec}': point {i} is out of range (frames have {points} points)");
            }
            out.push(i);
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Checks a point index given on the command line against the number of points.
pub fn check_point_index(flag: &str, index: usize, points: usize) -> Result<()> {
    if index >= points {
        bail!(
            "{flag}: point {index} is out of range (frames have {points} points, 0..{})",
            points - 1
        );
    }
    Ok(())
}

/// The points that define a transform and their weights (masses, or 1).
#[derive(Clone, Debug, PartialEq)]
pub struct FitSet {
    /// Point indices, ascending.
    pub points: Vec<usize>,
    /// One weight per entry of `points`, ≥ 0.
    pub weights: Vec<f64>,
    /// Σ weights, > 0.
    pub total_weight: f64,
    /// Whether every weight is 1 (plain means; lets kernels skip the multiplications).
    pub unit_weights: bool,
}

impl FitSet {
    /// All `points` points with weight 1.
    pub fn all(points: usize) -> FitSet {
        FitSet {
            points: (0..points).collect(),
            weights: vec![1.0; points],
            total_weight: points as f64,
            unit_weights: true,
        }
    }

    /// Builds the fit set from optional per-point `masses` (length = points) and an optional
    /// selection. Fails when every selected weight is 0.
    pub fn new(
        points: usize,
        masses: Option<&[f64]>,
        selection: Option<&[usize]>,
    ) -> Result<FitSet> {
        let idx: Vec<usize> = selection
            .map(<[usize]>::to_vec)
            .unwrap_or_else(|| (0..points).collect());
        let weights: Vec<f64> = idx.iter().map(|&i| masses.map_or(1.0, |m| m[i])).collect();
        let total_weight: f64 = weights.iter().sum();
        if total_weight <= 0.0 {
            bail!("the masses of the fit points are all zero: no centre or fit is defined");
        }
        let unit_weights = weights.iter().all(|&w| w == 1.0);
        Ok(FitSet {
            points: idx,
            weights,
            total_weight,
            unit_weights,
        })
    }

    /// Whether the set is every point of an `n`-point frame with weight 1.
    pub fn is_all_unit(&self, n: usize) -> bool {
        self.unit_weights && self.points.len() == n
    }
}

/// Loads `--masses SRC`: a member key of the input npz, or a path to a `.npy`, holding one
/// float per point. Errors on the wrong length, negatives or non-finite values.
pub fn load_masses(src: &str, input: &Input, points: usize) -> Result<Vec<f64>> {
    let (what, header, values) = if let Some(member) = input.member(src) {
        let what = format!("{}: masses '{src}'", input.location);
        let mut stream = input.open_member(member)?;
        let (h, v) = read_vector(&mut stream).with_context(|| what.clone())?;
        // Read to the end so the zip CRC is checked: corrupt masses must not pass silently.
        stream.finish().with_context(|| what.clone())?;
        (what, h, v)
    } else if Path::new(src).is_file() {
        let what = format!("{src}: masses");
        let mut f =
            std::io::BufReader::new(std::fs::File::open(src).with_context(|| what.clone())?);
        let (h, v) = read_vector(&mut f).with_context(|| what.clone())?;
        (what, h, v)
    } else {
        bail!(
            "--masses {src}: neither a member of {} (members: {}) nor a .npy file",
            input.location,
            input.member_summary()
        );
    };
    if values.len() != points || header.shape.len() != 1 {
        bail!(
            "{what}: shape {} does not match the {points} points of the trajectory",
            header.shape_str()
        );
    }
    if let Some(i) = values.iter().position(|m| !m.is_finite() || *m < 0.0) {
        bail!(
            "{what}: mass of point {i} is {} (masses must be finite and ≥ 0)",
            values[i]
        );
    }
    if values.iter().all(|&m| m == 0.0) {
        bail!("{what}: every mass is zero");
    }
    Ok(values)
}

fn read_vector(r: &mut impl Read) -> Result<(NpyHeader, Vec<f64>)> {
    let header = NpyHeader::read_from(r)?;
    let dtype = Dtype::from_descr(&header.descr)?;
    if header.fortran_order && header.shape.len() > 1 {
        bail!("Fortran-order masses are not supported");
    }
    let n: usize = header.shape.iter().product();
    let mut bytes = vec![0u8; n * dtype.size];
    r.read_exact(&mut bytes).context("data truncated")?;
    let mut values = Vec::with_capacity(n);
    dtype.decode_into(&bytes, &mut values);
    Ok((header, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections_parse_like_python_slices() {
        assert_eq!(
            parse_point_selection("0:3,5,7:", 9).unwrap(),
            vec![0, 1, 2, 5, 7, 8]
        );
        assert_eq!(parse_point_selection(":2,1", 4).unwrap(), vec![0, 1]);
        assert!(parse_point_selection("3:3", 5).is_err());
        assert!(parse_point_selection("9", 5)
            .unwrap_err()
            .to_string()
            .contains("out of range"));
        assert!(parse_point_selection("0:6", 5).is_err());
        assert!(parse_point_selection("a", 5).is_err());
    }

    #[test]
    fn fit_set_rejects_zero_weight() {
        let m = [0.0, 0.0, 2.0];
        assert!(FitSet::new(3, Some(&m), Some(&[0, 1])).is_err());
        let f = FitSet::new(3, Some(&m), None).unwrap();
        assert_eq!(f.total_weight, 2.0);
        assert!(!f.unit_weights);
        assert!(FitSet::new(3, None, None).unwrap().is_all_unit(3));
    }
}
