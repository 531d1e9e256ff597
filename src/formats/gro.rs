//! GROMACS `.gro` trajectories: concatenated frames (title, atom count, fixed-column atom
//! lines, box line), coordinates in nm in the file and Å inside, as MDAnalysis reads them.
//!
//! Reading: the coordinate field width is derived from the decimal points of each frame's
//! first atom line (MDAnalysis' rule: `cs = line[25:].find('.') + 1`); velocities columns, if
//! present, are ignored. The box line holds 3 numbers (rectangular; `0 0 0` means no box) or 9
//! in the order v1x v2y v3z v1y v1z v2x v2z v3x v3y. `t= …` and `step= …` in the title line are
//! read as the frame's time and step. Writing: `%8.3f` nm columns, GROMACS-style title with
//! `t= %10.5f step= N`, atom and residue numbers wrapped at 100000, box line with 3 or 9 numbers.

use super::textio::{
    clean_name, is_blank, is_rectangular, line_err, lines, open_scanner, parse_count, parse_f32,
    push_fixed, quote, LineScanner, TextReader,
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

/// Reads a `.gro` file frame by frame.
pub struct GroSource {
    /// Shape and names.
    meta: TrajMeta,
    /// Frame table and file.
    reader: TextReader,
    /// Shared decoder.
    decoder: Arc<GroDecoder>,
}

impl GroSource {
    /// Opens `path` and frames it (one pass over the file counting frames; bounded memory).
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let mut scanner = open_scanner(path)?;
        let scan = scan_gro(&mut scanner)?;
        let meta = TrajMeta {
            source: path.display().to_string(),
            key: "gro".to_string(),
            frames: scan.table.frames(),
            points: scan.points,
            dims: 3,
            width: Width::F32,
            big_endian: false,
            unit: "Å",
            dt: scan.dt,
        };
        let reader = TextReader::new(path, scan.table)?;
        Ok(GroSource {
            meta,
            reader,
            decoder: Arc::new(GroDecoder {
                points: scan.points,
            }),
        })
    }

    /// 1-based file line where frame `frame` starts (to place decoder errors in the file).
    #[cfg(test)]
    pub fn first_line(&self, frame: usize) -> Option<u64> {
        self.reader.first_line(frame)
    }
}

impl<'a> FrameSource<'a> for GroSource {
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

/// Fewest bytes an atom line can take (20 columns of names and numbers, 3 coordinates, `\n`).
const MIN_ATOM_LINE: u64 = 24;

/// What the framing pass found.
struct GroScan {
    /// Frame positions.
    table: super::textio::FrameTable,
    /// Atoms per frame.
    points: usize,
    /// Time between the first two frames, from their titles.
    dt: Option<f64>,
}

/// Frames a GRO file: title, count line, that many atom lines, box line; trailing blank lines
/// are allowed. Every frame must have the first frame's atom count.
fn scan_gro<R: BufRead>(s: &mut LineScanner<R>) -> anyhow::Result<GroScan> {
    let mut table = super::textio::FrameTable::default();
    let mut points: Option<u64> = None;
    let mut times = Vec::new();
    loop {
        let k = table.frames();
        let (start, title_line) = (s.pos(), s.next_line_no());
        if !s.next_line()? {
            break;
        }
        let title_blank = is_blank(s.head());
        if k < 2 {
            times.push(title_time_step(s.head()).0);
        }
        let count_line = s.next_line_no();
        if !s.next_line()? {
            if title_blank {
                break;
            }
            bail!("frame {k}, line {title_line}: file ends after the title line");
        }
        if title_blank && is_blank(s.head()) {
            if s.rest_is_blank()? {
                break;
            }
            bail!("line {title_line}: blank lines where frame {k} should start");
        }
        let n = parse_count(s.head()).ok_or_else(|| {
            anyhow!(
                "frame {k}, line {count_line}: expected the atom count, found {}",
                quote(s.head())
            )
        })?;
        match points {
            None if n == 0 => bail!("frame 0, line {count_line}: atom count is 0"),
            None => points = Some(n),
            Some(p) if p != n => bail!("frame {k}, line {count_line}: {n} atoms, frame 0 has {p}"),
            Some(_) => {}
        }
        let before = s.pos();
        let got = s.skip_lines(n)?;
        if got < n {
            bail!("frame {k}, line {count_line}: atom count {n} but the file ends after {got} atom lines");
        }
        if s.pos() - before < n.saturating_mul(MIN_ATOM_LINE) {
            bail!("frame {k}, line {count_line}: atom count {n} but the atom lines are too short to hold it");
        }
        let box_line = s.next_line_no();
        if !s.next_line()? {
            bail!("frame {k}: file ends before the box line (line {box_line})");
        }
        table.push(start, s.pos(), title_line);
    }
    let points = points.ok_or_else(|| anyhow!("no frames (empty file)"))?;
    let points = usize::try_from(points).map_err(|_| anyhow!("atom count {points} too large"))?;
    let dt = match times.as_slice() {
        [Some(a), Some(b)] => Some(b - a),
        _ => None,
    };
    Ok(GroScan { table, points, dt })
}

/// Time (`t= 10.0` or `t=10.0`) and step (`step= 5000`) from a GRO title line.
pub fn title_time_step(title: &[u8]) -> (Option<f64>, Option<i64>) {
    let text = String::from_utf8_lossy(title);
    let toks: Vec<&str> = text.split_ascii_whitespace().collect();
    let value = |key: &str| -> Option<&str> {
        toks.iter()
            .enumerate()
            .find_map(|(i, t)| match t.strip_prefix(key) {
                Some("") => toks.get(i + 1).copied(),
                Some(rest) => Some(rest),
                _ => None,
            })
    };
    let time = value("t=")
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite());
    let step = value("step=").and_then(|v| v.parse::<i64>().ok());
    (time, step)
}

/// Decodes one GRO frame (nm → Å, as float32 like MDAnalysis).
pub struct GroDecoder {
    /// Atoms per frame.
    points: usize,
}

impl FrameDecoder for GroDecoder {
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
        let (_, title) = it.next().ok_or("empty frame")?;
        (info.time, info.step) = title_time_step(title);
        let (k, count) = it.next().ok_or("frame ends after the title line")?;
        if parse_count(count) != Some(self.points as u64) {
            return Err(line_err(
                k,
                &format!("expected atom count {}", self.points),
                count,
            ));
        }
        let mut width = 0;
        for (a, xyz) in coords.chunks_exact_mut(3).enumerate() {
            let (k, line) = it
                .next()
                .ok_or_else(|| format!("frame ends after {a} atom lines"))?;
            if a == 0 {
                width = field_width(line)
                    .ok_or_else(|| line_err(k, "no decimal point in the y column", line))?;
            }
            for (d, c) in xyz.iter_mut().enumerate() {
                let lo = 20 + width * d;
                let field = line
                    .get(lo..lo + width)
                    .ok_or_else(|| line_err(k, "atom line too short", line))?;
                let v = parse_f32(field).ok_or_else(|| line_err(k, "bad coordinate", line))?;
                *c = f64::from(v * 10.0f32);
            }
        }
        let (k, boxl) = it.next().ok_or("frame ends before the box line")?;
        info.cell = parse_box(boxl).map_err(|p| line_err(k, p, boxl))?;
        if let Some((k, extra)) = it.find(|(_, l)| !is_blank(l)) {
            return Err(line_err(k, "unexpected line after the box line", extra));
        }
        Ok(())
    }
}

/// Coordinate field width from an atom line (MDAnalysis: `line[25:].find('.') + 1`).
fn field_width(line: &[u8]) -> Option<usize> {
    let dot = line.get(25..)?.iter().position(|&b| b == b'.')?;
    Some(dot + 1)
}

/// Parses a box line (nm) into a cell in Å; `0 0 0` is no box.
fn parse_box(line: &[u8]) -> Result<Option<[[f64; 3]; 3]>, &'static str> {
    let mut v = [0.0f64; 9];
    let mut n = 0;
    for tok in line
        .split(|b| b.is_ascii_whitespace())
        .filter(|t| !t.is_empty())
    {
        if n == 9 {
            return Err("box line has more than 9 numbers");
        }
        v[n] = f64::from(parse_f32(tok).ok_or("bad box number")? * 10.0f32);
        n += 1;
    }
    let cell = match n {
        3 => [[v[0], 0.0, 0.0], [0.0, v[1], 0.0], [0.0, 0.0, v[2]]],
        9 => [[v[0], v[3], v[4]], [v[5], v[1], v[6]], [v[7], v[8], v[2]]],
        _ => return Err("box line needs 3 or 9 numbers"),
    };
    Ok(if v.iter().all(|&x| x == 0.0) {
        None
    } else {
        Some(cell)
    })
}

/// Encodes frames as GRO text.
pub struct GroEncoder {
    /// Per atom, the 20 columns before the coordinates (resid, resname, name, index).
    prefixes: Vec<[u8; 20]>,
}

/// A number in a 5-column GRO field, wrapped as GROMACS does (`% 100000`).
fn wrap5(v: i64) -> i64 {
    if (-9999..=99999).contains(&v) {
        v
    } else {
        v.rem_euclid(100_000)
    }
}

impl GroEncoder {
    /// Precomputes the atom columns from the topology (or placeholders `UNK`/`X`, resid 1).
    fn new(points: usize, top: Option<&Topology>) -> Self {
        let prefixes = (0..points)
            .map(|i| {
                let (resid, resname, name) = match top.and_then(|t| t.atoms.get(i)) {
                    Some(a) => (
                        a.resid,
                        clean_name(&a.resname, 5, true, "UNK"),
                        clean_name(&a.name, 5, true, "X"),
                    ),
                    None => (1, "UNK".to_string(), "X".to_string()),
                };
                let s = format!(
                    "{:>5}{:<5}{:>5}{:>5}",
                    wrap5(resid),
                    resname,
                    name,
                    wrap5(i as i64 + 1)
                );
                let mut p = [b' '; 20];
                p.copy_from_slice(&s.as_bytes()[..20]);
                p
            })
            .collect();
        GroEncoder { prefixes }
    }
}

impl FrameEncoder for GroEncoder {
    fn frame_bytes(&self) -> Option<usize> {
        None
    }

    /// Appends the frame's text; on error `out` may hold a partial frame (the caller truncates).
    fn encode_append(
        &self,
        frame: usize,
        coords: &[f64],
        info: &FrameInfo,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        let n = self.prefixes.len();
        if coords.len() != n * 3 {
            return Err(format!(
                "frame {frame}: {} coordinates, expected {}",
                coords.len(),
                n * 3
            ));
        }
        out.extend_from_slice(b"Written by aligntraj");
        if let Some(t) = info.time {
            out.extend_from_slice(format!(" t= {t:10.5}").as_bytes());
        }
        if let Some(s) = info.step {
            out.extend_from_slice(format!(" step= {s}").as_bytes());
        }
        out.extend_from_slice(format!("\n{n:5}\n").as_bytes());
        for (a, (p, xyz)) in self.prefixes.iter().zip(coords.chunks_exact(3)).enumerate() {
            out.extend_from_slice(p);
            for &c in xyz {
                if !push_fixed(out, c / 10.0, 8, 3) {
                    return Err(format!("frame {frame}, atom {a}: coordinate {c} Å does not fit the GRO %8.3f nm column"));
                }
            }
            out.push(b'\n');
        }
        push_box(out, info.cell.as_ref())
    }
}

/// Appends the box line (nm): 3 numbers for rectangular cells (zeros when none), else 9.
fn push_box(out: &mut Vec<u8>, cell: Option<&[[f64; 3]; 3]>) -> Result<(), String> {
    let v: Vec<f64> = match cell {
        None => vec![0.0; 3],
        Some(c) if is_rectangular(c) => vec![c[0][0], c[1][1], c[2][2]],
        Some(c) => vec![
            c[0][0], c[1][1], c[2][2], c[0][1], c[0][2], c[1][0], c[1][2], c[2][0], c[2][1],
        ],
    };
    if v.iter().any(|x| !x.is_finite()) {
        return Err("box is not finite".to_string());
    }
    let mut line = format!("{:10.5}", v[0] / 10.0);
    for x in &v[1..] {
        line.push_str(&format!(" {:9.5}", x / 10.0));
    }
    line.push('\n');
    out.extend_from_slice(line.as_bytes());
    Ok(())
}

/// Writes a `.gro` trajectory.
pub type GroSink<'a> = StreamSink<'a, GroEncoder>;

impl<'a> GroSink<'a> {
    /// A sink writing `spec.meta.points` atoms per frame; the topology (if any) must match.
    pub fn create(writer: Box<dyn Write + Send + 'a>, spec: &SinkSpec<'_>) -> anyhow::Result<Self> {
        StreamSink::for_spec(writer, spec, "GRO", GroEncoder::new, b"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testkit::*;
    use crate::formats::WriterSink;
    use crate::topology::Atom;

    /// Two frames, 3 atoms; the second has velocity columns and a triclinic box.
    const TWO: &str = "\
Water t=   2.50000 step= 100
    3
    1SOL     OW    1   0.126   1.624   1.679
    1SOL    HW1    2   0.190   1.661   1.747
    1SOL    HW2    3   0.177   1.568   1.613
   1.86206   1.86206   1.86206
frame two t= 5.0
    3
    1SOL     OW    1   0.127   1.625   1.680  0.1234 -0.5000  0.0001
    1SOL    HW1    2   0.191   1.662  -1.748  0.1000  0.2000  0.3000
    1SOL    HW2    3   0.178   1.569   1.614
   2.00000   2.10000   2.20000   0.00000   0.00000   0.50000   0.00000   0.60000   0.70000
";

    /// Opens a GRO file as a boxed source.
    fn open_box(p: &Path) -> anyhow::Result<Box<dyn FrameSource<'static>>> {
        Ok(Box::new(GroSource::open(p)?))
    }

    /// Test: reads two frames.
    #[test]
    fn reads_two_frames() {
        let p = write_tmp("two.gro", TWO.as_bytes());
        let mut s = GroSource::open(&p).unwrap();
        assert_eq!((s.meta().frames, s.meta().points, s.meta().dims), (2, 3, 3));
        assert_eq!(s.meta().dt, Some(2.5));
        assert_eq!((s.first_line(0), s.first_line(1)), (Some(1), Some(7)));
        let f = read_all(&mut s, 1).unwrap();
        // Expected: the file's nm values times 10, typed by hand.
        assert_close(
            &f[0].0,
            &[1.26, 16.24, 16.79, 1.90, 16.61, 17.47, 1.77, 15.68, 16.13],
            1e-5,
        );
        assert_close(&f[1].0[3..6], &[1.91, 16.62, -17.48], 1e-5);
        assert_eq!(
            (f[0].1.time, f[0].1.step, f[1].1.time, f[1].1.step),
            (Some(2.5), Some(100), Some(5.0), None)
        );
        let a = 18.6206;
        assert_cell(
            f[0].1.cell,
            Some([[a, 0.0, 0.0], [0.0, a, 0.0], [0.0, 0.0, a]]),
            1e-5,
        );
        assert_cell(
            f[1].1.cell,
            Some([[20.0, 0.0, 0.0], [5.0, 21.0, 0.0], [6.0, 7.0, 22.0]]),
            1e-5,
        );
        // skip then read
        let mut s = GroSource::open(&p).unwrap();
        s.skip(1).unwrap();
        assert_eq!(read_all(&mut s, 5).unwrap().len(), 1);
    }

    /// Test: wide columns and crlf.
    #[test]
    fn wide_columns_and_crlf() {
        // %10.5f columns (as written by `gmx trjconv -ndec 5`); expected = nm × 10 by hand.
        let text = "wide\n 2\n    1ALA     CA    1   1.12345  -2.00001  10.50000\n    1ALA      C    2   0.00001   0.10000   0.20000\n 0 0 0\n";
        let p = write_tmp("wide.gro", &crlf(text.as_bytes()));
        let f = read_all(&mut GroSource::open(&p).unwrap(), 4).unwrap();
        assert_close(&f[0].0, &[11.2345, -20.0001, 105.0, 0.0001, 1.0, 2.0], 1e-5);
        assert_eq!(f[0].1.cell, None);
        assert_eq!(f[0].1.time, None);
    }

    /// Test: round trip with topology.
    #[test]
    fn round_trip_with_topology() {
        let p = write_tmp("rt.gro", TWO.as_bytes());
        let mut s = GroSource::open(&p).unwrap();
        let frames = read_all(&mut s, 2).unwrap();
        let atoms = ["OW", "HW1", "HW2"]
            .iter()
            .map(|n| Atom {
                name: n.to_string(),
                resname: "SOL".into(),
                resid: 100_001,
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
        let mut sink = Box::new(GroSink::create(Box::new(Vec::new()), &spec).unwrap());
        let bytes = encode_all(sink.encoder().as_ref(), &frames).unwrap();
        assert!(bytes.starts_with(
            b"Written by aligntraj t=    2.50000 step= 100\n    3\n    1SOL     OW    1   0.126"
        ));
        sink.write(&bytes, 2).unwrap();
        sink.finish().unwrap();
        let q = write_tmp("rt2.gro", &bytes);
        let back = read_all(&mut GroSource::open(&q).unwrap(), 3).unwrap();
        for (a, b) in frames.iter().zip(&back) {
            assert_close(&a.0, &b.0, 1e-5);
            assert_cell(a.1.cell, b.1.cell, 1e-4);
            assert_eq!((a.1.time, a.1.step), (b.1.time, b.1.step));
        }
    }

    /// Test: encoder rejects what does not fit.
    #[test]
    fn encoder_rejects_what_does_not_fit() {
        let meta = TrajMeta {
            source: "m".into(),
            key: "k".into(),
            frames: 1,
            points: 1,
            dims: 3,
            width: Width::F64,
            big_endian: false,
            unit: "Å",
            dt: None,
        };
        let sink = GroSink::create(
            Box::new(Vec::new()),
            &SinkSpec {
                meta,
                topology: None,
                dt: None,
            },
        )
        .unwrap();
        let enc = sink.encoder();
        let mut out = b"keep".to_vec();
        let err = enc
            .encode_append(0, &[1.0, 2.0, 1.0e6], &FrameInfo::default(), &mut out)
            .unwrap_err();
        assert!(err.contains("does not fit"), "{err}");
        // A failed frame's bytes are dropped by the caller (the engine stops the run).
        out.truncate(4);
        enc.encode_append(0, &[1.0, 2.0, -3.0], &FrameInfo::default(), &mut out)
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "keepWritten by aligntraj\n    1\n    1UNK      X    1   0.100   0.200  -0.300\n   0.00000   0.00000   0.00000\n"
        );
    }

    /// Test: hostile inputs never panic.
    #[test]
    fn hostile_inputs_never_panic() {
        let (ok, err) = hostile_loop("hostile.gro", TWO.as_bytes(), open_box);
        crlf_same_and_long_line("crlf.gro", TWO.as_bytes(), open_box);
        assert!(ok > 0 && err > 0, "{ok} {err}");
        for text in [
            "t\n1000000000000000\n    1SOL     OW    1   0.126   1.624   1.679\n",
            "",
            "\n\n",
            "t\n-3\n",
            "t\n 1\n    1SOL     OW    1   0.126   1.624   nan\n 1 1 1\n",
        ] {
            let p = write_tmp("h2.gro", text.as_bytes());
            let r = GroSource::open(&p)
                .map_err(|e| e.to_string())
                .and_then(|mut s| read_all(&mut s, 1).map(|_| ()));
            assert!(r.is_err(), "{text:?}");
        }
    }

    /// Test: agrees with mdanalysis fixtures.
    #[test]
    fn agrees_with_mdanalysis_fixtures() {
        // conf.gro: MDAnalysis reports time 0 (it ignores the title); multi.gro: the times
        // are the generator's, written into the titles.
        use crate::formats::text_fixtures::{check, Checks};
        if let Some((path, exp)) = expected("conf.gro") {
            let mut s = GroSource::open(&path).unwrap();
            assert_eq!(
                check(
                    &mut s,
                    &exp,
                    "conf.gro",
                    Checks {
                        time: false,
                        cell: true
                    }
                ),
                1
            );
        }
        if let Some((path, exp)) = expected("multi.gro") {
            let mut s = GroSource::open(&path).unwrap();
            assert_eq!(
                check(
                    &mut s,
                    &exp,
                    "multi.gro",
                    Checks {
                        time: true,
                        cell: true
                    }
                ),
                4
            );
        }
    }

    /// A topology from a GRO file's own name columns (stand-in for the topology reader).
    fn columns_topology(text: &str, n: usize) -> Topology {
        let atoms = text
            .lines()
            .skip(2)
            .take(n)
            .map(|l| Atom {
                resid: l[..5].trim().parse().unwrap(),
                resname: l[5..10].trim().into(),
                name: l[10..15].trim().into(),
                ..Atom::default()
            })
            .collect();
        Topology {
            source: "cols".into(),
            atoms,
            ..Topology::default()
        }
    }

    /// Test: the writer reproduces MDAnalysis' atom columns and box lines byte for byte.
    #[test]
    fn writes_like_mdanalysis() {
        for file in ["conf.gro", "multi.gro"] {
            let Some((path, _)) = expected(file) else {
                continue;
            };
            let text = std::fs::read_to_string(&path).unwrap();
            let mut s = GroSource::open(&path).unwrap();
            let frames = read_all(&mut s, 2).unwrap();
            let top = columns_topology(&text, s.meta().points);
            let spec = SinkSpec {
                meta: s.meta().clone(),
                topology: Some(&top),
                dt: None,
            };
            let sink = GroSink::create(Box::new(Vec::new()), &spec).unwrap();
            let ours =
                String::from_utf8(encode_all(sink.encoder().as_ref(), &frames).unwrap()).unwrap();
            let (theirs, ours): (Vec<&str>, Vec<&str>) =
                (text.lines().collect(), ours.lines().collect());
            assert_eq!(theirs.len(), ours.len());
            for (i, (t, o)) in theirs.iter().zip(&ours).enumerate() {
                if i % (s.meta().points + 3) == 0 {
                    assert!(t.contains(&o["Written by aligntraj".len()..]), "{t} / {o}");
                } else {
                    assert_eq!(&t[..o.len().min(t.len())], *o, "{file} line {}", i + 1);
                }
            }
        }
    }

    /// Test: decoder errors name the line in the frame, which maps to the file line.
    #[test]
    fn decoder_error_names_the_line() {
        let text = TWO.replace("   0.191   1.662  -1.748", "   0.191   1.6x2  -1.748");
        let p = write_tmp("badnum.gro", text.as_bytes());
        let mut s = GroSource::open(&p).unwrap();
        let e = read_all(&mut s, 2).unwrap_err();
        assert!(
            e.starts_with("frame 1: line 4 of the frame: bad coordinate in \"    1SOL"),
            "{e}"
        );
        let msg = e.strip_prefix("frame 1: ").unwrap();
        let located = crate::formats::textio::file_line_message(msg, s.first_line(1).unwrap());
        assert!(located.starts_with("line 10: bad coordinate"), "{located}");
    }
}
