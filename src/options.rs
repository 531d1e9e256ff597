//! Typed option values: what the user asked for, parsed once at the boundary (the command line
//! or the Python module) so that a malformed value is a usage error before any file is opened.
//! Nothing here reads a file; values that need the data (a point index against the number of
//! points) are checked when the plan is built.

use crate::engine::FrameRange;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

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
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "com" => CenterSpec::Com,
            "none" => CenterSpec::None,
            "point" => CenterSpec::Point(0),
            _ => match s.strip_prefix("point").map(str::parse::<usize>) {
                Some(Ok(k)) => CenterSpec::Point(k),
                _ => {
                    return Err(format!(
                        "unknown centering '{}' (expected com, pointK such as point0, or none)",
                        crate::text::escape(s)
                    ))
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
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "principal" => RotateSpec::Principal,
            "kabsch" => RotateSpec::Kabsch,
            "none" => RotateSpec::None,
            "point-vector" => RotateSpec::PointVector(None),
            _ => match s.strip_prefix("point-vector:") {
                Some(list) => RotateSpec::PointVector(Some(parse_index_list(list)?)),
                None => {
                    return Err(format!(
                        "unknown rotation '{}' (expected principal, point-vector, point-vector:A,B[,C…], kabsch or none)",
                        crate::text::escape(s)
                    ))
                }
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
            RotateSpec::PointVector(Some(p)) => write!(f, "point-vector:{}", join(p)),
        }
    }
}

fn join(list: &[usize]) -> String {
    list.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses `A,B[,C…]` point indices.
pub fn parse_index_list(list: &str) -> Result<Vec<usize>, String> {
    list.split(',')
        .map(|p| {
            p.trim().parse::<usize>().map_err(|_| {
                format!(
                    "'{}': '{}' is not a point index",
                    crate::text::escape(list),
                    crate::text::escape(p)
                )
            })
        })
        .collect()
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
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (c, r) = s.split_once('+').unwrap_or((s, "none"));
        let ctx = |e: String| format!("pipeline '{}': {e}", crate::text::escape(s));
        Ok(PipelineSpec {
            center: c.parse().map_err(ctx)?,
            rotate: r.parse().map_err(ctx)?,
        })
    }
}

impl fmt::Display for PipelineSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+{}", self.center, self.rotate)
    }
}

/// How the sign of each principal axis is chosen (SPEC §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SignRule {
    /// Positive third moment along each axis (a function of the frame's shape alone).
    #[default]
    Skew,
    /// The proper sign combination closest to the previous aligned frame (no flips in time).
    Continuous,
}

/// Which structure Kabsch superposes onto (`--ref`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefSpec {
    /// Frame K of the input (counted in the whole input, whatever `--frames`).
    Frame(usize),
    /// A frame of another file: `FILE[#KEY][@FRAME]` (a 2-D `(points, dims)` array is one frame).
    File {
        /// The file.
        path: PathBuf,
        /// The member (default as for the input).
        key: Option<String>,
        /// The frame (default 0).
        frame: usize,
    },
    /// The iterative average structure.
    Average,
}

impl Default for RefSpec {
    fn default() -> Self {
        RefSpec::Frame(0)
    }
}

impl FromStr for RefSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<RefSpec, String> {
        if s == "average" {
            return Ok(RefSpec::Average);
        }
        if let Ok(k) = s.parse::<usize>() {
            return Ok(RefSpec::Frame(k));
        }
        if s.is_empty() || s.starts_with('-') && s[1..].parse::<i64>().is_ok() {
            return Err(format!(
                "'{}': expected a frame number, 'average', or FILE.npz[#KEY][@FRAME]",
                crate::text::escape(s)
            ));
        }
        let (rest, frame) = match s.rsplit_once('@') {
            Some((p, f)) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => (
                p,
                f.parse::<usize>()
                    .map_err(|_| format!("'{}': bad frame number", crate::text::escape(s)))?,
            ),
            _ => (s, 0),
        };
        let (path, key) = match rest.rsplit_once('#') {
            Some((p, k)) if !k.is_empty() => (p, Some(k.to_string())),
            _ => (rest, None),
        };
        if path.is_empty() {
            return Err(format!(
                "'{}': expected a frame number, 'average', or FILE.npz[#KEY][@FRAME]",
                crate::text::escape(s)
            ));
        }
        Ok(RefSpec::File {
            path: path.into(),
            key,
            frame,
        })
    }
}

/// One item of a point selection: an index or a half-open range with optional ends.
#[derive(Clone, Debug, PartialEq, Eq)]
enum PointItem {
    Index(usize),
    Range(Option<usize>, Option<usize>),
}

/// A point selection such as `0:100,120,200:300` (Python-style half-open ranges, from 0),
/// checked for syntax here and against the number of points by [`PointSet::resolve`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PointSet {
    text: String,
    items: Vec<PointItem>,
    /// `@FILE`: 0-based indices read from a text file when resolved.
    file: Option<PathBuf>,
}

impl FromStr for PointSet {
    type Err = String;
    fn from_str(spec: &str) -> Result<PointSet, String> {
        let quoted = crate::text::escape(spec);
        if let Some(path) = spec.strip_prefix('@') {
            if path.is_empty() {
                return Err(format!("'{quoted}': expected @FILE"));
            }
            return Ok(PointSet {
                text: spec.to_string(),
                items: Vec::new(),
                file: Some(path.into()),
            });
        }
        let mut items = Vec::new();
        for part in spec.split(',').map(str::trim) {
            if part.is_empty() {
                return Err(format!("'{quoted}': empty item"));
            }
            let num = |s: &str| -> Result<Option<usize>, String> {
                if s.is_empty() {
                    return Ok(None);
                }
                s.parse::<usize>().map(Some).map_err(|_| {
                    format!(
                        "'{quoted}': '{}' is not a point index",
                        crate::text::escape(s)
                    )
                })
            };
            items.push(match part.split_once(':') {
                Some((a, b)) => {
                    let (a, b) = (num(a)?, num(b)?);
                    if let (Some(a), Some(b)) = (a, b) {
                        if a >= b {
                            return Err(format!("'{quoted}': range {a}:{b} is empty"));
                        }
                    }
                    PointItem::Range(a, b)
                }
                None => PointItem::Index(num(part)?.unwrap_or(0)),
            });
        }
        Ok(PointSet {
            text: spec.to_string(),
            items,
            file: None,
        })
    }
}

impl PointSet {
    /// The sorted, de-duplicated indices for frames of `points` points; an index or range
    /// beyond the last point is an error.
    pub fn resolve(&self, points: usize) -> Result<Vec<usize>, String> {
        let quoted = crate::text::escape(&self.text);
        if let Some(path) = &self.file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                format!(
                    "'{quoted}': cannot read: {}",
                    crate::io::output::io_reason(&e)
                )
            })?;
            let mut picked = crate::select::parse_index_file_list(&text)
                .map_err(|e| format!("'{quoted}': {e:#}"))?;
            if let Some(&bad) = picked.iter().find(|&&i| i >= points) {
                return Err(format!(
                    "'{quoted}': point {bad} is out of range (frames have {points} points)"
                ));
            }
            picked.sort_unstable();
            picked.dedup();
            return Ok(picked);
        }
        let mut out = Vec::new();
        for item in &self.items {
            match *item {
                PointItem::Index(i) if i >= points => {
                    return Err(format!(
                        "'{quoted}': point {i} is out of range (frames have {points} points)"
                    ))
                }
                PointItem::Index(i) => out.push(i),
                PointItem::Range(a, b) => {
                    let (a, b) = (a.unwrap_or(0), b.unwrap_or(points));
                    if b > points {
                        return Err(format!(
                            "'{quoted}': range {a}:{b} goes past the last point ({})",
                            points.saturating_sub(1)
                        ));
                    }
                    if a >= b {
                        return Err(format!("'{quoted}': range {a}:{b} is empty"));
                    }
                    out.extend(a..b);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }
}

/// Points chosen for a report (`--points` of `sensitivity` and `plot`): an index set such as
/// `0:100,120` or `@FILE`, or — starting with a letter or `(` — a selection expression such as
/// `name CA` (needs a topology).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PointChoice {
    /// Indices (`0:100,120`, `@FILE`).
    Indices(PointSet),
    /// A selection expression (MDAnalysis syntax).
    Select(String),
}

impl FromStr for PointChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<PointChoice, String> {
        let t = s.trim_start();
        if t.starts_with(|c: char| c.is_ascii_alphabetic() || c == '(') {
            Ok(PointChoice::Select(s.to_string()))
        } else {
            s.parse().map(PointChoice::Indices)
        }
    }
}

impl PointChoice {
    /// The sorted indices for frames of `points` points; a selection needs `topology`.
    pub fn resolve(
        &self,
        points: usize,
        topology: Option<&crate::topology::Topology>,
    ) -> anyhow::Result<Vec<usize>> {
        match self {
            PointChoice::Indices(set) => set.resolve(points).map_err(|e| anyhow::anyhow!("{e}")),
            PointChoice::Select(expr) => {
                let quoted = crate::text::quote(expr);
                let top = topology.ok_or_else(|| {
                    crate::topology::needs_topology(&format!("selection {quoted}"))
                })?;
                crate::select::select(top, expr)
                    .map_err(|e| crate::plan::selection_error(expr, &e.to_string()))
            }
        }
    }
}

impl fmt::Display for PointChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PointChoice::Indices(set) => write!(f, "{set}"),
            PointChoice::Select(expr) => write!(f, "{expr}"),
        }
    }
}

impl fmt::Display for PointSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.text)
    }
}

impl FromStr for FrameRange {
    type Err = String;
    /// `START:STOP[:STEP]` with optional parts (`10:`, `:100`, `::5`); a bare `K` is frame K.
    fn from_str(s: &str) -> Result<FrameRange, String> {
        let quoted = crate::text::escape(s);
        let num = |t: &str| -> Result<Option<usize>, String> {
            let t = t.trim();
            if t.is_empty() {
                return Ok(None);
            }
            t.parse::<usize>().map(Some).map_err(|_| {
                format!(
                    "'{quoted}': '{}' is not a frame number (START:STOP[:STEP], from 0)",
                    crate::text::escape(t)
                )
            })
        };
        let parts: Vec<&str> = s.split(':').collect();
        let range = match parts.as_slice() {
            [k] => {
                let k = num(k)?.ok_or_else(|| format!("'{quoted}': empty frame range"))?;
                FrameRange {
                    start: k,
                    stop: Some(k + 1),
                    step: 1,
                }
            }
            [a, b] => FrameRange {
                start: num(a)?.unwrap_or(0),
                stop: num(b)?,
                step: 1,
            },
            [a, b, c] => FrameRange {
                start: num(a)?.unwrap_or(0),
                stop: num(b)?,
                step: num(c)?.unwrap_or(1),
            },
            _ => return Err(format!("'{quoted}': expected START:STOP[:STEP]")),
        };
        if range.step == 0 {
            return Err(format!("'{quoted}': the step must be at least 1"));
        }
        if range.stop.is_some_and(|stop| stop <= range.start) {
            return Err(format!("'{quoted}': the range selects no frame"));
        }
        Ok(range)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!("pointx".parse::<CenterSpec>().is_err());
    }

    #[test]
    fn point_sets_parse_like_python_slices() {
        let s: PointSet = "0:3,5,7:".parse().unwrap();
        assert_eq!(s.resolve(9).unwrap(), vec![0, 1, 2, 5, 7, 8]);
        assert_eq!(
            ":2,1".parse::<PointSet>().unwrap().resolve(4).unwrap(),
            vec![0, 1]
        );
        assert!("3:3".parse::<PointSet>().is_err());
        assert!("a".parse::<PointSet>().is_err());
        assert!("9"
            .parse::<PointSet>()
            .unwrap()
            .resolve(5)
            .unwrap_err()
            .contains("out of range"));
        assert!("0:6".parse::<PointSet>().unwrap().resolve(5).is_err());
    }

    #[test]
    fn refs_and_frame_ranges_parse() {
        assert_eq!("3".parse::<RefSpec>().unwrap(), RefSpec::Frame(3));
        assert_eq!("average".parse::<RefSpec>().unwrap(), RefSpec::Average);
        assert_eq!(
            "r.npz#pos@4".parse::<RefSpec>().unwrap(),
            RefSpec::File {
                path: "r.npz".into(),
                key: Some("pos".into()),
                frame: 4
            }
        );
        assert!("-1".parse::<RefSpec>().is_err());
        assert_eq!(
            "10:20:2".parse::<FrameRange>().unwrap(),
            FrameRange {
                start: 10,
                stop: Some(20),
                step: 2
            }
        );
        assert_eq!("5".parse::<FrameRange>().unwrap().resolve(100), (5, 1));
        assert_eq!("::3".parse::<FrameRange>().unwrap().resolve(10), (0, 4));
        assert!("1:2:0".parse::<FrameRange>().is_err());
        assert!("5:5".parse::<FrameRange>().is_err());
    }
}
