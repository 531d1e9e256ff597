//! What the user asked for, resolved: stage and pipeline names (`com+principal`), the options
//! shared by stages, and the construction of a [`Pipeline`] for a given trajectory.

use crate::center::{CenterCom, CenterPoint};
use crate::fit::{check_point_index, load_masses, parse_point_selection, FitSet};
use crate::io::{Input, TrajectoryMeta};
use crate::pipeline::Pipeline;
pub use crate::rotate::kabsch::RefSpec;
use crate::rotate::kabsch::{average_reference, load_reference};
pub use crate::rotate::SignRule;
use crate::rotate::{Kabsch, PointVector, Principal};
use crate::stage::Stage;
use anyhow::{bail, Result};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// A centering stage by name: `com`, `pointK`, `none`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CenterSpec {
    /// Weighted fit-set centroid to the origin.
    Com,
    /// Point K to the origin.
    Point(usize),
    /// No centering.
    None,
}

impl FromStr for CenterSpec {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "com" => CenterSpec::Com,
            "none" => CenterSpec::None,
            "point" => CenterSpec::Point(0),
            _ => match s.strip_prefix("point").map(str::parse::<usize>) {
                Some(Ok(k)) => CenterSpec::Point(k),
                _ => {
                    bail!("unknown centering '{s}' (expected com, pointK such as point0, or none)")
                }
            },
        })
    }
}

impl fmt::Display for CenterSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CenterSpec::Com => write!(f, "com"),
            CenterSpec::Point(k) => write!(f, "point{k}"),
            CenterSpec::None => write!(f, "none"),
        }
    }
}

/// A rotation stage by name: `principal`, `point-vector[:A,B,…]`, `kabsch`, `none`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RotateSpec {
    /// Principal axes of the gyration tensor.
    Principal,
    /// Axes from chosen points (default `0,1,…,D−1`).
    PointVector(Option<Vec<usize>>),
    /// Least-squares superposition onto `--ref`.
    Kabsch,
    /// No rotation.
    None,
}

impl FromStr for RotateSpec {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "principal" => RotateSpec::Principal,
            "kabsch" => RotateSpec::Kabsch,
            "none" => RotateSpec::None,
            "point-vector" => RotateSpec::PointVector(None),
            _ => match s.strip_prefix("point-vector:") {
                Some(list) => RotateSpec::PointVector(Some(parse_index_list(list)?)),
                None => bail!(
                    "unknown rotation '{s}' (expected principal, point-vector, point-vector:A,B[,C…], kabsch or none)"
                ),
            },
        })
    }
}

impl fmt::Display for RotateSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RotateSpec::Principal => write!(f, "principal"),
            RotateSpec::Kabsch => write!(f, "kabsch"),
            RotateSpec::None => write!(f, "none"),
            RotateSpec::PointVector(None) => write!(f, "point-vector"),
            RotateSpec::PointVector(Some(p)) => write!(
                f,
                "point-vector:{}",
                p.iter()
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        }
    }
}

/// Parses `A,B[,C…]` point indices.
pub fn parse_index_list(list: &str) -> Result<Vec<usize>> {
    list.split(',')
        .map(|p| {
            p.trim()
                .parse::<usize>()
                .map_err(|_| anyhow::anyhow!("'{list}': '{p}' is not a point index"))
        })
        .collect()
}

/// Options shared by the stages of a run (SPEC §2 "common options").
#[derive(Clone, Debug, Default)]
pub struct StageOptions {
    /// `--masses SRC`: a member key of the input or a `.npy` path.
    pub masses: Option<String>,
    /// `--fit-points SPEC`.
    pub fit_points: Option<String>,
    /// `--ref`: the Kabsch reference.
    pub reference: RefSpec,
    /// `--sign`: the principal-axes sign rule.
    pub sign: SignRule,
    /// `--to-ref-center`: move Kabsch results to the reference's centre.
    pub to_ref_center: bool,
    /// `--key` of the trajectory (the reference frame is read from the same member).
    pub key: Option<String>,
    /// `--chunk-frames` (for the passes of `--ref average`).
    pub chunk_frames: Option<usize>,
    /// `--allow-nonfinite` (for the passes of `--ref average`).
    pub allow_nonfinite: bool,
}

/// Everything frame-independent a stage may need, loaded once.
pub struct StageContext<'a> {
    /// The opened input (for masses members and references).
    pub input: &'a Input,
    /// The trajectory's shape and dtype.
    pub meta: &'a TrajectoryMeta,
    /// The fit set with its weights.
    pub fit: Arc<FitSet>,
    /// The options as given.
    pub options: &'a StageOptions,
}

impl<'a> StageContext<'a> {
    /// Loads masses and the fit selection for `meta`.
    pub fn load(
        input: &'a Input,
        meta: &'a TrajectoryMeta,
        options: &'a StageOptions,
    ) -> Result<Self> {
        let masses = match &options.masses {
            Some(src) => Some(load_masses(src, input, meta.points)?),
            None => None,
        };
        let selection = match &options.fit_points {
            Some(spec) => Some(parse_point_selection(spec, meta.points)?),
            None => None,
        };
        let fit = Arc::new(FitSet::new(
            meta.points,
            masses.as_deref(),
            selection.as_deref(),
        )?);
        Ok(StageContext {
            input,
            meta,
            fit,
            options,
        })
    }
}

/// Builds the centering stage `spec` (none for [`CenterSpec::None`]).
pub fn center_stage(
    spec: &CenterSpec,
    ctx: &StageContext<'_>,
    flag: &str,
) -> Result<Option<Box<dyn Stage>>> {
    Ok(match spec {
        CenterSpec::Com => Some(Box::new(CenterCom::new(ctx.fit.clone()))),
        CenterSpec::Point(k) => {
            check_point_index(flag, *k, ctx.meta.points)?;
            Some(Box::new(CenterPoint::new(*k)))
        }
        CenterSpec::None => None,
    })
}

/// Builds the rotation stage `spec` (none for [`RotateSpec::None`]); `center` is the
/// pipeline's centering stage, applied to a Kabsch reference read from a file or to the
/// frames of `--ref average` (for the `rotate` command, which has none, a reference file is
/// centred on its fit-set centroid).
pub fn rotate_stage(
    spec: &RotateSpec,
    ctx: &StageContext<'_>,
    center: Option<&dyn Stage>,
) -> Result<Option<Box<dyn Stage>>> {
    let (meta, fit) = (ctx.meta, ctx.fit.clone());
    Ok(match spec {
        RotateSpec::None => None,
        RotateSpec::Principal => Some(Box::new(Principal::new(fit, ctx.options.sign))),
        RotateSpec::PointVector(points) => {
            let points = points
                .clone()
                .unwrap_or_else(|| PointVector::default_points(meta.dims));
            Some(Box::new(PointVector::try_new(
                points,
                meta.points,
                meta.dims,
                fit,
            )?))
        }
        RotateSpec::Kabsch => {
            let reference = kabsch_reference(ctx, center)?;
            Some(Box::new(Kabsch::new(
                fit,
                Arc::new(reference),
                ctx.options.to_ref_center,
            )))
        }
    })
}

/// Loads the Kabsch reference of `--ref`, centred with `center` (a reference file given to
/// the `rotate` command, which has no centering stage, is centred on its fit-set centroid).
pub fn kabsch_reference(
    ctx: &StageContext<'_>,
    center: Option<&dyn Stage>,
) -> Result<crate::rotate::Reference> {
    let (o, meta, fit) = (ctx.options, ctx.meta, &ctx.fit);
    let key = o.key.as_deref();
    match &o.reference {
        RefSpec::Average => average_reference(
            ctx.input,
            key,
            center,
            fit,
            o.chunk_frames,
            o.allow_nonfinite,
        ),
        RefSpec::Frame(_) => {
            load_reference(&o.reference, ctx.input, key, meta.points, meta.dims, center)
        }
        RefSpec::File { .. } => {
            let com = CenterCom::new(fit.clone());
            let c: &dyn Stage = center.unwrap_or(&com);
            load_reference(
                &o.reference,
                ctx.input,
                key,
                meta.points,
                meta.dims,
                Some(c),
            )
        }
    }
}

/// A pipeline written `CENTER[+ROTATE]`, e.g. `com+principal`, `point0+point-vector`, `com`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipelineSpec {
    /// The centering stage.
    pub center: CenterSpec,
    /// The rotation stage.
    pub rotate: RotateSpec,
}

impl FromStr for PipelineSpec {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        let (c, r) = s.split_once('+').unwrap_or((s, "none"));
        Ok(PipelineSpec {
            center: c
                .parse()
                .map_err(|e| anyhow::anyhow!("pipeline '{s}': {e}"))?,
            rotate: r
                .parse()
                .map_err(|e| anyhow::anyhow!("pipeline '{s}': {e}"))?,
        })
    }
}

impl fmt::Display for PipelineSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+{}", self.center, self.rotate)
    }
}

impl PipelineSpec {
    /// Builds the stages for this trajectory (loading a Kabsch reference if needed).
    pub fn build(&self, ctx: &StageContext<'_>) -> Result<Pipeline> {
        let center = center_stage(&self.center, ctx, "--center")?;
        // COM centering fused into the rotation: one stage, one visit of each frame, the same
        // arithmetic as the two stages in a row (see `Kabsch::with_com_centering`).
        if self.center == CenterSpec::Com {
            let fit = ctx.fit.clone();
            match &self.rotate {
                RotateSpec::Kabsch => {
                    let reference = Arc::new(kabsch_reference(ctx, center.as_deref())?);
                    let fused =
                        Kabsch::with_com_centering(fit, reference, ctx.options.to_ref_center);
                    return Ok(Pipeline::new(vec![Box::new(fused)]));
                }
                RotateSpec::Principal if ctx.options.sign == SignRule::Skew => {
                    return Ok(Pipeline::new(vec![Box::new(
                        Principal::with_com_centering(fit),
                    )]));
                }
                _ => {}
            }
        }
        let rotate = rotate_stage(&self.rotate, ctx, center.as_deref())?;
        Ok(Pipeline::new(center.into_iter().chain(rotate).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn center_names_parse() {
        assert_eq!("com".parse::<CenterSpec>().unwrap(), CenterSpec::Com);
        assert_eq!(
            "point3".parse::<CenterSpec>().unwrap(),
            CenterSpec::Point(3)
        );
        assert_eq!("none".parse::<CenterSpec>().unwrap(), CenterSpec::None);
        assert!("pointx".parse::<CenterSpec>().is_err());
        assert_eq!(CenterSpec::Point(7).to_string(), "point7");
    }

    #[test]
    fn pipeline_names_round_trip() {
        for name in [
            "com+principal",
            "point0+point-vector",
            "com+kabsch",
            "none+none",
            "point3+point-vector:3,1,2",
        ] {
            assert_eq!(name.parse::<PipelineSpec>().unwrap().to_string(), name);
        }
        assert_eq!(
            "com".parse::<PipelineSpec>().unwrap().rotate,
            RotateSpec::None
        );
        assert!("com+spin".parse::<PipelineSpec>().is_err());
        assert!("point-vector:0,x".parse::<RotateSpec>().is_err());
    }
}
