//! What the user asked for, resolved: stage and pipeline names (`com+principal`), the options
//! shared by stages, and the construction of a [`Pipeline`] for a given trajectory.

use crate::center::{CenterCom, CenterPoint};
use crate::fit::{check_point_index, load_masses, parse_point_selection, FitSet};
use crate::io::{Input, TrajectoryMeta};
use crate::pipeline::Pipeline;
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

/// Options shared by the stages of a run (SPEC §2 "common options").
#[derive(Clone, Debug, Default)]
pub struct StageOptions {
    /// `--masses SRC`: a member key of the input or a `.npy` path.
    pub masses: Option<String>,
    /// `--fit-points SPEC`.
    pub fit_points: Option<String>,
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

/// A pipeline written `CENTER[+ROTATE]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipelineSpec {
    /// The centering stage.
    pub center: CenterSpec,
}

impl PipelineSpec {
    /// Builds the stages for this trajectory.
    pub fn build(&self, ctx: &StageContext<'_>) -> Result<Pipeline> {
        let mut stages = Vec::new();
        stages.extend(center_stage(&self.center, ctx, "--center")?);
        Ok(Pipeline::new(stages))
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
}
