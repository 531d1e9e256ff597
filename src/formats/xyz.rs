//! XYZ trajectories: concatenated frames of an atom count line, a comment line and one line
//! per atom (`name x y z [more columns]`, Å), as MDAnalysis' XYZReader reads them (float32).
//!
//! Extended-XYZ comment lines are understood: `Lattice="ax ay az bx by bz cx cy cz"` is the
//! cell (rows = box vectors), `Time=`/`time=` the time in ps, `step=` the step, and
//! `Properties=species:S:1:pos:R:3:…` locates the position columns (default: columns 2-4).
//! Writing: the element (else the name, else `X`) and `%10.5f` coordinates as MDAnalysis'
//! XYZWriter does, with an extended-XYZ comment carrying `Lattice=`, `Time=` and `step=`
//! when known.

use super::textio::{
    clean_name, is_blank, line_err, lines, open_scanner, parse_count, parse_f32, parse_f64, quote,
    FrameTable, LineScanner, TextReader,
};
use super::{
    FrameDecoder, FrameEncoder, FrameInfo, FrameSource, RawChunk, SinkSpec, TrajMeta, Width,
};
use crate::formats::StreamSink;
use crate::topology::Topology;
use anyhow::{anyhow, bail};
use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::Arc;

/// Reads a `.xyz` file frame by frame.
pub struct XyzSource {
    /// Shape and names.
    meta: TrajMeta,
    /// Frame table and file.
    reader: TextReader,
    /// Shared decoder.
    decoder: Arc<XyzDecoder>,
}

impl XyzSource {
    /// Opens `path` and frames it (one pass reading count lines and skipping atom lines).
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let mut scanner = open_scanner(path)?;
        let (table, points, dt) = scan_xyz(&mut scanner)?;
        let meta = TrajMeta {
            source: path.display().to_string(),
            key: "xyz".to_string(),
            frames: table.frames(),
            points,
            dims: 3,
            width: Width::F32,
            big_endian: false,
            unit: "Å",
            dt,
        };
        let reader = TextReader::new(path, table)?;
        Ok(XyzSource {
            meta,
            reader,
            decoder: Arc::new(XyzDecoder { points }),
        })
    }

    /// 1-based file line where frame `frame` starts (to place decoder errors in the file).
    #[cfg(test)]
    pub fn first_line(&self, frame: usize) -> Option<u64> {
        self.reader.first_line(frame)
    }
}

impl<'a> FrameSource<'a> for XyzSource {
    fn meta(&self) -> &TrajMeta {
        &self.meta
    }
    fn decoder(&self) -> Arc<dyn FrameDecoder + 'a> {
        self.decoder.clone()
    }
    fn read(&mut self, max: usize, buf: Vec<u8>) -> anyhow::Result<Option<RawChunk<'a>>> {
        self.reader.read(max, buf)
    }
    fn skip(&mut self, n: usize) -> anyhow::Result<()> {
        self.reader.skip(n)
    }
}

/// Frames an XYZ file: count line, comment line, that many atom lines; trailing blank lines
/// allowed; every frame must have the first frame's atom count. Returns the table, atoms per
/// frame and the time step from the first two comments.
fn scan_xyz<R: BufRead>(
    s: &mut LineScanner<R>,
) -> anyhow::Result<(FrameTable, usize, Option<f64>)> {
    let mut table = FrameTable::default();
    let mut points: Option<u64> = None;
    let mut times = Vec::new();
    loop {
        let k = table.frames();
        let (start, line0) = (s.pos(), s.next_line_no());
        if !s.next_line()? {
            break;
        }
        if is_blank(s.head()) {
            if s.rest_is_blank()? {
                break;
            }
            bail!("line {line0}: blank line where frame {k} should start");
        }
        let n = parse_count(s.head()).ok_or_else(|| {
            anyhow!(
                "frame {k}, line {line0}: expected the atom count, found {}",
                quote(s.head())
            )
        })?;
        match points {
            None if n == 0 => bail!("frame 0, line {line0}: atom count is 0"),
            None => points = Some(n),
            Some(p) if p != n => bail!("frame {k}, line {line0}: {n} atoms, frame 0 has {p}"),
            Some(_) => {}
        }
        if !s.next_line()? {
            bail!("frame {k}: file ends after the atom count line (line {line0})");
        }
        if k < 2 {
            times.push(Comment::parse(s.head()).ok().and_then(|c| c.time));
        }
        let got = s.skip_lines(n)?;
        if got < n {
            bail!(
                "frame {k}, line {line0}: atom count {n} but the file ends after {got} atom lines"
            );
        }
        table.push(start, s.pos(), line0);
    }
    let points = points.ok_or_else(|| anyhow!("no frames (empty file)"))?;
    let points = usize::try_from(points).map_err(|_| anyhow!("atom count {points} too large"))?;
    let dt = match times.as_slice() {
        [Some(a), Some(b)] => Some(b - a),
        _ => None,
    };
    Ok((table, points, dt))
}

/// What an (extended-XYZ) comment line says.
#[derive(Debug, Default, PartialEq)]
struct Comment {
    /// `Lattice=` rows, Å.
    cell: Option<[[f64; 3]; 3]>,
    /// `Time=` (ps).
    time: Option<f64>,
    /// `step=`.
    step: Option<i64>,
    /// 0-based column of x (from `Properties=`; 1 without it).
    pos_col: usize,
}

/// Splits an extended-XYZ comment into `key=value` pairs (values may be double-quoted);
/// words without `=` are skipped.
fn key_values(text: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let word_end = rest
            .find(|c: char| c.is_whitespace() || c == '=')
            .unwrap_or(rest.len());
        let (key, after) = rest.split_at(word_end);
        let after = after.trim_start();
        if let Some(v) = after.strip_prefix('=') {
            let v = v.trim_start();
            let (value, tail) = match v.strip_prefix('"') {
                Some(q) => q.split_once('"').unwrap_or((q, "")),
                None => v.split_at(v.find(char::is_whitespace).unwrap_or(v.len())),
            };
            out.push((key, value));
            rest = tail.trim_start();
        } else {
            rest = after;
        }
    }
    out
}

impl Comment {
    /// Parses the keys aligntraj uses; a malformed value of a known key is an error.
    fn parse(line: &[u8]) -> Result<Comment, String> {
        let text = String::from_utf8_lossy(line);
        let mut c = Comment {
            pos_col: 1,
            ..Comment::default()
        };
        for (key, value) in key_values(&text) {
            match key.to_ascii_lowercase().as_str() {
                "lattice" => {
                    let v: Vec<f64> = value
                        .split_whitespace()
                        .filter_map(|t| parse_f64(t.as_bytes()))
                        .collect();
                    if v.len() != 9 || value.split_whitespace().count() != 9 {
                        return Err(format!(
                            "Lattice needs 9 numbers, found {}",
                            quote(value.as_bytes())
                        ));
                    }
                    c.cell = Some([[v[0], v[1], v[2]], [v[3], v[4], v[5]], [v[6], v[7], v[8]]]);
                }
                "time" => {
                    c.time = Some(
                        parse_f64(value.as_bytes())
                            .ok_or_else(|| format!("bad Time {}", quote(value.as_bytes())))?,
                    )
                }
                "step" => c.step = value.parse::<i64>().ok(),
                "properties" => {
                    c.pos_col = pos_column(value)
                        .ok_or_else(|| format!("bad Properties {}", quote(value.as_bytes())))?
                }
                _ => {}
            }
        }
        Ok(c)
    }
}

/// The 0-based column of `pos` in a `Properties=name:type:count:…` value.
fn pos_column(value: &str) -> Option<usize> {
    let parts: Vec<&str> = value.split(':').collect();
    if !parts.len().is_multiple_of(3) {
        return None;
    }
    let mut col = 0usize;
    for p in parts.chunks_exact(3) {
        let count: usize = p[2].parse().ok().filter(|&n| n <= 1000)?;
        if p[0].eq_ignore_ascii_case("pos") {
            return (count == 3).then_some(col);
        }
        col += count;
    }
    None
}

/// Decodes one XYZ frame (float32 like MDAnalysis).
pub struct XyzDecoder {
    /// Atoms per frame.
    points: usize,
}

impl FrameDecoder for XyzDecoder {
    fn frame_bytes(&self) -> Option<usize> {
        None
    }

    fn decode(
        &self,
        stored: &[u8],
        coords: &mut [f64],
        info: &mut FrameInfo,
    ) -> Result<(), String> {
        if coords.len() != self.points * 3 {
            return Err(format!(
                "coordinate buffer holds {} values, expected {}",
                coords.len(),
                self.points * 3
            ));
        }
        let mut it = lines(stored).enumerate().map(|(i, l)| (i + 1, l));
        let (k, count) = it.next().ok_or("empty frame")?;
        if parse_count(count) != Some(self.points as u64) {
            return Err(line_err(
                k,
                &format!("expected atom count {}", self.points),
                count,
            ));
        }
        let (k, comment) = it.next().ok_or("frame ends after the atom count line")?;
        let c = Comment::parse(comment).map_err(|e| line_err(k, &e, comment))?;
        (info.cell, info.time, info.step) = (c.cell, c.time, c.step);
        for (a, xyz) in coords.chunks_exact_mut(3).enumerate() {
            let (k, line) = it
                .next()
                .ok_or_else(|| format!("frame ends after {a} atom lines"))?;
            let mut toks = line
                .split(|b| b.is_ascii_whitespace())
                .filter(|t| !t.is_empty())
                .skip(c.pos_col);
            for v in xyz.iter_mut() {
                let t = toks
                    .next()
                    .ok_or_else(|| line_err(k, "atom line too short", line))?;
                *v = f64::from(parse_f32(t).ok_or_else(|| line_err(k, "bad coordinate", line))?);
            }
        }
        if let Some((k, extra)) = it.find(|(_, l)| !is_blank(l)) {
            return Err(line_err(k, "more atom lines than the atom count", extra));
        }
        Ok(())
    }
}

/// Encodes frames as (extended) XYZ text.
pub struct XyzEncoder {
    /// Per atom, the first column (element, else name, else `X`), right-aligned in 8.
    names: Vec<String>,
}

impl XyzEncoder {
    /// Precomputes the first column from the topology.
    fn new(points: usize, top: Option<&Topology>) -> Self {
        let names = (0..points)
            .map(|i| {
                let name = match top.and_then(|t| t.atoms.get(i)) {
                    Some(a) if !a.element.trim().is_empty() => {
                        clean_name(&a.element, 16, true, "X")
                    }
                    Some(a) => clean_name(&a.name, 16, true, "X"),
                    None => "X".to_string(),
                };
                format!("{name:>8}")
            })
            .collect();
        XyzEncoder { names }
    }
}

impl FrameEncoder for XyzEncoder {
    fn frame_bytes(&self) -> Option<usize> {
        None
    }

    /// Appends one frame.
    fn encode_append(
        &self,
        frame: usize,
        coords: &[f64],
        info: &FrameInfo,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        let n = self.names.len();
        if coords.len() != n * 3 {
            return Err(format!(
                "frame {frame}: {} coordinates, expected {}",
                coords.len(),
                n * 3
            ));
        }
        let mut comment = String::new();
        if let Some(c) = &info.cell {
            let v: Vec<String> = c.as_flattened().iter().map(|x| format!("{x:?}")).collect();
            comment.push_str(&format!("Lattice=\"{}\" ", v.join(" ")));
        }
        comment.push_str("Properties=species:S:1:pos:R:3");
        if let Some(t) = info.time {
            comment.push_str(&format!(" Time={t:?}"));
        }
        if let Some(s) = info.step {
            comment.push_str(&format!(" step={s}"));
        }
        if comment.contains("inf") || comment.contains("NaN") {
            return Err(format!("frame {frame}: cell or time is not finite"));
        }
        out.extend_from_slice(format!("{n}\n{comment}\n").as_bytes());
        for (a, (name, xyz)) in self.names.iter().zip(coords.chunks_exact(3)).enumerate() {
            if xyz.iter().any(|v| !v.is_finite()) {
                return Err(format!("frame {frame}, atom {a}: coordinate is not finite"));
            }
            out.extend_from_slice(
                format!("{name}  {:10.5} {:10.5} {:10.5}\n", xyz[0], xyz[1], xyz[2]).as_bytes(),
            );
        }
        Ok(())
    }
}

/// Writes a `.xyz` trajectory.
pub type XyzSink<'a> = StreamSink<'a, XyzEncoder>;

impl<'a> XyzSink<'a> {
    /// A sink writing `spec.meta.points` atoms per frame; the topology (if any) must match.
    pub fn create(writer: Box<dyn Write + Send + 'a>, spec: &SinkSpec<'_>) -> anyhow::Result<Self> {
        StreamSink::for_spec(writer, spec, "XYZ", XyzEncoder::new, b"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testkit::*;
    use crate::formats::WriterSink;
    use crate::topology::Atom;

    /// Two frames: a plain one, then an extended-XYZ one with velocity columns.
    const TWO: &str = "\
3
plain comment
       N    11.00823   10.31403   18.56469
C 1.5 -2.5 3.25
  O  1e1 0 -0.0
3
Lattice=\"31.0 0.0 0.0 0.5 32.04 0.0 0.0 0.0 33.0\" Properties=species:S:1:pos:R:3:vel:R:3 Time=110.0 step=55000 pbc=\"T T T\"
N      11.10823402     10.31402683     18.56468773     0.103729    -0.053419     0.039875
C 1.6 -2.4 3.35 9 9 9
O 10.5 0.5 -0.5 x y z

";

    /// Opens an XYZ file as a boxed source.
    fn open_box(p: &Path) -> anyhow::Result<Box<dyn FrameSource<'static>>> {
        Ok(Box::new(XyzSource::open(p)?))
    }

    /// Test: reads plain and extended frames.
    #[test]
    fn reads_plain_and_extended_frames() {
        let p = write_tmp("two.xyz", TWO.as_bytes());
        let mut s = XyzSource::open(&p).unwrap();
        assert_eq!(
            (s.meta().frames, s.meta().points, s.meta().dt),
            (2, 3, None)
        );
        assert_eq!(s.first_line(1), Some(6));
        let f = read_all(&mut s, 1).unwrap();
        // Expected: the file's numbers typed by hand.
        assert_close(
            &f[0].0,
            &[
                11.00823, 10.31403, 18.56469, 1.5, -2.5, 3.25, 10.0, 0.0, 0.0,
            ],
            1e-5,
        );
        assert_close(
            &f[1].0,
            &[
                11.10823402,
                10.31402683,
                18.56468773,
                1.6,
                -2.4,
                3.35,
                10.5,
                0.5,
                -0.5,
            ],
            1e-5,
        );
        assert_eq!((f[0].1.cell, f[0].1.time), (None, None));
        assert_eq!(
            f[1].1.cell,
            Some([[31.0, 0.0, 0.0], [0.5, 32.04, 0.0], [0.0, 0.0, 33.0]])
        );
        assert_eq!((f[1].1.time, f[1].1.step), (Some(110.0), Some(55000)));
    }

    /// Test: comment parsing.
    #[test]
    fn comment_parsing() {
        let c = Comment::parse(b"Properties=pos:R:3:species:S:1 time=2.5 a b=\"x y\"").unwrap();
        assert_eq!((c.pos_col, c.time), (0, Some(2.5)));
        assert!(Comment::parse(b"Lattice=\"1 2 3\"").is_err());
        assert!(Comment::parse(b"Lattice=\"1 2 3 4 5 6 7 8 nan\"").is_err());
        assert!(Comment::parse(b"Properties=species:S:1:pos:R:99999999999").is_err());
    }

    /// Test: round trip with topology.
    #[test]
    fn round_trip_with_topology() {
        let p = write_tmp("rt.xyz", &crlf(TWO.as_bytes()));
        let mut s = XyzSource::open(&p).unwrap();
        let frames = read_all(&mut s, 2).unwrap();
        let atoms = [("N", "N"), ("CA", ""), ("O", "O")]
            .iter()
            .map(|(n, e)| Atom {
                name: n.to_string(),
                element: e.to_string(),
                ..Atom::default()
            })
            .collect();
        let top = Topology {
            source: "t".into(),
            atoms,
            ..Topology::default()
        };
        let spec = SinkSpec {
            meta: s.meta().clone(),
            topology: Some(&top),
            dt: None,
        };
        let mut sink = Box::new(XyzSink::create(Box::new(Vec::new()), &spec).unwrap());
        let bytes = encode_all(sink.encoder().as_ref(), &frames).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("3\nProperties=species:S:1:pos:R:3\n       N    11.00823   10.31403   18.56469\n      CA"), "{text}");
        sink.write(&bytes, 2).unwrap();
        sink.finish().unwrap();
        let q = write_tmp("rt2.xyz", &bytes);
        let back = read_all(&mut XyzSource::open(&q).unwrap(), 3).unwrap();
        for (a, b) in frames.iter().zip(&back) {
            assert_close(&a.0, &b.0, 6e-6);
            assert_eq!(a.1, b.1);
        }
    }

    /// Test: hostile inputs never panic.
    #[test]
    fn hostile_inputs_never_panic() {
        let (ok, err) = hostile_loop("hostile.xyz", TWO.as_bytes(), open_box);
        crlf_same_and_long_line("crlf.xyz", TWO.as_bytes(), open_box);
        assert!(ok > 0 && err > 0, "{ok} {err}");
        for text in [
            "",
            "1000000000000000\nc\nX 1 2 3\n",
            "2\nc\nX 1 2 3\n",
            "1\nc\nX 1 2\n",
            "1\nc\nX 1 2 inf\n",
            "1\nc\nX 1 2 3\nY 1 2 3\n",
        ] {
            let p = write_tmp("h2.xyz", text.as_bytes());
            let r = XyzSource::open(&p)
                .map_err(|e| e.to_string())
                .and_then(|mut s| read_all(&mut s, 1).map(|_| ()));
            assert!(r.is_err(), "{text:?}");
        }
    }

    /// Test: agrees with mdanalysis fixtures.
    #[test]
    fn agrees_with_mdanalysis_fixtures() {
        use crate::formats::text_fixtures::{check, Checks};
        // MDAnalysis ignores XYZ comments (time = frame index, no box): positions only; the
        // Lattice/Time of ext.xyz are compared with the generator's values below.
        if let Some((path, exp)) = expected("traj.xyz") {
            assert_eq!(
                check(
                    &mut XyzSource::open(&path).unwrap(),
                    &exp,
                    "traj.xyz",
                    Checks::default()
                ),
                3
            );
        }
        if let Some((path, exp)) = expected("ext.xyz") {
            let mut s = XyzSource::open(&path).unwrap();
            assert_eq!(check(&mut s, &exp, "ext.xyz", Checks::default()), 3);
            let f = read_all(&mut XyzSource::open(&path).unwrap(), 2).unwrap();
            let lattice = exp["lattice"].as_array().unwrap();
            for (k, (_, info)) in f.iter().enumerate() {
                let want: Vec<f64> = lattice[k]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()))
                    .collect();
                assert_close(info.cell.unwrap().as_flattened(), &want, 1e-5);
                assert_eq!(info.time, exp["comment_time"][k].as_f64());
                assert_eq!(info.step, exp["comment_step"][k].as_i64());
            }
        }
    }

    /// Test: the writer reproduces MDAnalysis' XYZ atom lines byte for byte.
    #[test]
    fn writes_like_mdanalysis() {
        let Some((path, _)) = expected("traj.xyz") else {
            return;
        };
        let text = std::fs::read_to_string(&path).unwrap();
        let mut s = XyzSource::open(&path).unwrap();
        let frames = read_all(&mut s, 2).unwrap();
        let atoms = text
            .lines()
            .skip(2)
            .take(s.meta().points)
            .map(|l| Atom {
                element: l.split_whitespace().next().unwrap().into(),
                ..Atom::default()
            })
            .collect();
        let top = Topology {
            source: "cols".into(),
            atoms,
            ..Topology::default()
        };
        let spec = SinkSpec {
            meta: s.meta().clone(),
            topology: Some(&top),
            dt: None,
        };
        let sink = XyzSink::create(Box::new(Vec::new()), &spec).unwrap();
        let ours =
            String::from_utf8(encode_all(sink.encoder().as_ref(), &frames).unwrap()).unwrap();
        let (theirs, ours): (Vec<&str>, Vec<&str>) =
            (text.lines().collect(), ours.lines().collect());
        // MDAnalysis ends the file with one empty line.
        assert_eq!(theirs[ours.len()..], [""]);
        for (i, (t, o)) in theirs.iter().zip(&ours).enumerate() {
            if i % (s.meta().points + 2) != 1 {
                assert_eq!(t, o, "line {}", i + 1);
            }
        }
    }
}
