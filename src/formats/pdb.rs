//! PDB trajectories: each `MODEL` is a frame (a file without `MODEL` is one frame); its
//! `ATOM`/`HETATM` records (columns 31-54, `%8.3f` Å) are the frame's atoms and `CRYST1`
//! (a b c α β γ) its cell, as MDAnalysis' PDBReader reads them.
//!
//! Framing follows MDAnalysis: frames start at the `MODEL` records, or, when there are as many
//! `CRYST1` records as `MODEL` records, at whichever of the pair comes first (so a `CRYST1`
//! written before its `MODEL` belongs to that frame). Otherwise a `CRYST1` before the first
//! `MODEL` is the cell of every frame that has none of its own. The placeholder cell
//! `1 1 1 90 90 90` means no cell. `ENDMDL` is optional. Writing: `CRYST1` (when the cell is
//! known), `MODEL n`, `ATOM` lines in MDAnalysis' columns, `ENDMDL`; `END` at finish.
//! Time is not carried (MDAnalysis neither reads nor writes it in PDB).

use super::textio::{
    cell_to_dims, clean_name, dims_to_cell, line_err, lines, open_scanner, parse_f32, push_fixed,
    LineScanner, TextReader,
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

/// Reads a `.pdb` file model by model.
pub struct PdbSource {
    /// Shape and names.
    meta: TrajMeta,
    /// Frame table and file.
    reader: TextReader,
    /// Shared decoder.
    decoder: Arc<PdbDecoder>,
}

impl PdbSource {
    /// Opens `path` and frames it (one pass counting `MODEL`, `CRYST1` and atom records).
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let mut scanner = open_scanner(path)?;
        let (table, points, default_cell) = scan_pdb(&mut scanner)?;
        let meta = TrajMeta {
            source: path.display().to_string(),
            key: "pdb".to_string(),
            frames: table.frames(),
            points,
            dims: 3,
            width: Width::F32,
            big_endian: false,
            unit: "Å",
            dt: None,
        };
        let reader = TextReader::new(path, table)?;
        Ok(PdbSource {
            meta,
            reader,
            decoder: Arc::new(PdbDecoder {
                points,
                default_cell,
            }),
        })
    }

    /// 1-based file line where frame `frame` starts (to place decoder errors in the file).
    #[cfg(test)]
    pub fn first_line(&self, frame: usize) -> Option<u64> {
        self.reader.first_line(frame)
    }
}

impl<'a> FrameSource<'a> for PdbSource {
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

/// A `MODEL` or `CRYST1` record seen by the framing pass.
#[derive(Clone, Copy)]
struct Mark {
    /// Byte offset of the record's line.
    off: u64,
    /// 1-based line number.
    line: u64,
    /// Atom records before it in the file.
    atoms_before: u64,
}

/// True for an `ATOM`/`HETATM` record.
fn is_atom(line: &[u8]) -> bool {
    line.starts_with(b"ATOM  ") || line.starts_with(b"HETATM")
}

/// Frames a PDB file; returns the frame table, atoms per frame and the header cell.
fn scan_pdb<R: BufRead>(
    s: &mut LineScanner<R>,
) -> anyhow::Result<(super::textio::FrameTable, usize, CellRecord)> {
    let (mut models, mut crysts) = (Vec::new(), Vec::new());
    let mut atoms = 0u64;
    let mut header_cell: CellRecord = None;
    loop {
        let (off, line) = (s.pos(), s.next_line_no());
        if !s.next_line()? {
            break;
        }
        let head = s.head();
        let mark = Mark {
            off,
            line,
            atoms_before: atoms,
        };
        if is_atom(head) {
            atoms += 1;
        } else if head.starts_with(b"MODEL") {
            models.push(mark);
        } else if head.starts_with(b"CRYST1") {
            if models.is_empty() && crysts.is_empty() {
                header_cell = parse_cryst1(head).map_err(|e| anyhow!("line {line}: {e}"))?;
            }
            crysts.push(mark);
        }
    }
    let end = Mark {
        off: s.pos(),
        line: s.next_line_no(),
        atoms_before: atoms,
    };
    let starts: Vec<Mark> = if models.is_empty() {
        vec![Mark {
            off: 0,
            line: 1,
            atoms_before: 0,
        }]
    } else if crysts.len() == models.len() {
        models
            .iter()
            .zip(&crysts)
            .map(|(m, c)| if c.off < m.off { *c } else { *m })
            .collect()
    } else {
        models.clone()
    };
    let (table, points) = frame_table(&starts, end)?;
    let default = if crysts.len() == models.len() {
        None
    } else {
        header_cell
    };
    Ok((table, points, default))
}

/// The frame table from the frames' first records and the end of the file; every frame must
/// hold as many atom records as the first. Returns the table and atoms per frame.
fn frame_table(starts: &[Mark], end: Mark) -> anyhow::Result<(super::textio::FrameTable, usize)> {
    let mut table = super::textio::FrameTable::default();
    let mut points = None;
    for (i, (a, b)) in starts
        .iter()
        .zip(starts.iter().skip(1).chain([&end]))
        .enumerate()
    {
        let n = b.atoms_before - a.atoms_before;
        match points {
            None if n == 0 => bail!("frame 0 (line {}): no ATOM/HETATM records", a.line),
            None => points = Some(n),
            Some(p) if p != n => bail!(
                "model {} (frame {i}, line {}): {n} atoms, the first model has {p}",
                i + 1,
                a.line
            ),
            Some(_) => {}
        }
        table.push(a.off, b.off, a.line);
    }
    let points = points.ok_or_else(|| anyhow!("no frames"))?;
    let points = usize::try_from(points).map_err(|_| anyhow!("atom count {points} too large"))?;
    Ok((table, points))
}

/// A cell as read from a `CRYST1` record (None: placeholder or degenerate).
type CellRecord = Option<[[f64; 3]; 3]>;

/// Parses a `CRYST1` record (columns 7-54, float32 like MDAnalysis) into a cell.
fn parse_cryst1(line: &[u8]) -> Result<CellRecord, String> {
    /// Column ranges of a, b, c, α, β, γ.
    const COLS: [(usize, usize); 6] = [(6, 15), (15, 24), (24, 33), (33, 40), (40, 47), (47, 54)];
    let mut d = [0.0f64; 6];
    for (v, (lo, hi)) in d.iter_mut().zip(COLS) {
        let field = line.get(lo..hi.min(line.len())).unwrap_or_default();
        *v = f64::from(
            parse_f32(field)
                .ok_or_else(|| format!("bad CRYST1 number {}", super::textio::quote(field)))?,
        );
    }
    let placeholder = [1.0, 1.0, 1.0, 90.0, 90.0, 90.0];
    if d.iter()
        .zip(placeholder)
        .all(|(a, b)| (a - b).abs() <= 1e-8 + 1e-5 * b)
    {
        return Ok(None);
    }
    Ok(dims_to_cell(d))
}

/// Decodes one PDB model.
pub struct PdbDecoder {
    /// Atoms per model.
    points: usize,
    /// Cell of models without their own `CRYST1` (from the header).
    default_cell: CellRecord,
}

impl FrameDecoder for PdbDecoder {
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
        let mut a = 0;
        let mut model = String::new();
        info.cell = self.default_cell;
        for (i, line) in lines(stored).enumerate() {
            let k = i + 1;
            if is_atom(line) {
                if a == self.points {
                    return Err(line_err(
                        k,
                        &format!("{}more than {} atoms", model, self.points),
                        line,
                    ));
                }
                let cols = line
                    .get(30..54)
                    .ok_or_else(|| line_err(k, "atom record too short", line))?;
                for (d, c) in coords[a * 3..a * 3 + 3].iter_mut().enumerate() {
                    let v = parse_f32(&cols[d * 8..d * 8 + 8])
                        .ok_or_else(|| line_err(k, "bad coordinate", line))?;
                    *c = f64::from(v);
                }
                a += 1;
            } else if line.starts_with(b"CRYST1") {
                info.cell = parse_cryst1(line).map_err(|e| line_err(k, &e, line))?;
            } else if line.starts_with(b"MODEL") {
                let serial = String::from_utf8_lossy(line.get(5..).unwrap_or_default()).to_string();
                model = format!("model {}: ", clean_name(&serial, 12, true, "?"));
            }
        }
        if a != self.points {
            return Err(format!("{model}{a} atoms, expected {}", self.points));
        }
        Ok(())
    }
}

/// Encodes frames as PDB models.
pub struct PdbEncoder {
    /// Per atom, columns 1-30 (`ATOM  `, serial, name, residue, chain, resSeq).
    prefixes: Vec<[u8; 30]>,
    /// Per atom, columns 55 to the end of the line (occupancy … element) and `\n`.
    suffixes: Vec<String>,
}

/// A number in a fixed field of `digits` columns, wrapped (`% 10^digits`) when too large.
fn wrap(v: i64, digits: u32) -> i64 {
    let m = 10i64.pow(digits);
    if v > -(m / 10) && v < m {
        v
    } else {
        v.rem_euclid(m)
    }
}

/// The 4-column atom name as MDAnalysis' PDBWriter places it (`_deduce_PDB_atom_name`).
fn pdb_atom_name(name: &str, resname: &str) -> String {
    match name.len() {
        4.. => name[..4].to_string(),
        1 => format!(" {name}  "),
        _ if name == resname || name == "CL" => format!("{name:<4}"),
        _ => format!(" {name:<3}"),
    }
}

impl PdbEncoder {
    /// Precomputes the atom columns from the topology (or placeholders `X`/`UNK`, resid 1).
    fn new(points: usize, top: Option<&Topology>) -> Self {
        let mut prefixes = Vec::with_capacity(points);
        let mut suffixes = Vec::with_capacity(points);
        for i in 0..points {
            let atom = top.and_then(|t| t.atoms.get(i));
            let name = atom.map_or("X".into(), |a| clean_name(&a.name, 4, true, "X"));
            let resname = atom.map_or("UNK".into(), |a| clean_name(&a.resname, 4, true, "UNK"));
            let chain = atom.map_or(" ".into(), |a| clean_name(&a.chain, 1, true, " "));
            let resid = atom.map_or(1, |a| a.resid);
            let s = format!(
                "ATOM  {:5} {}{:<1}{:<4}{:1}{:4}{:1}   ",
                wrap(i as i64 + 1, 5),
                pdb_atom_name(&name, &resname),
                "",
                resname,
                chain,
                wrap(resid, 4),
                ""
            );
            let mut p = [b' '; 30];
            p.copy_from_slice(&s.as_bytes()[..30]);
            prefixes.push(p);
            let segid = atom.map_or(String::new(), |a| clean_name(&a.segid, 4, true, ""));
            let element = atom.map_or(String::new(), |a| {
                clean_name(&a.element, 2, true, "").to_uppercase()
            });
            suffixes.push(format!(
                "{:6.2}{:6.2}      {:<4}{:>2}  \n",
                1.0, 0.0, segid, element
            ));
        }
        PdbEncoder { prefixes, suffixes }
    }
}

impl FrameEncoder for PdbEncoder {
    fn frame_bytes(&self) -> Option<usize> {
        None
    }

    /// Appends one model; on error `out` may hold a partial model (the caller truncates).
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
        if let Some(d) = info.cell.as_ref().and_then(cell_to_dims) {
            out.extend_from_slice(b"CRYST1");
            let fits = d[..3].iter().all(|&v| push_fixed(out, v, 9, 3))
                && d[3..].iter().all(|&v| push_fixed(out, v, 7, 2));
            if !fits {
                return Err(format!(
                    "frame {frame}: cell {d:?} does not fit the CRYST1 columns"
                ));
            }
            out.extend_from_slice(b" P 1           1\n");
        }
        out.extend_from_slice(format!("MODEL     {:>4}\n", (frame + 1) % 10_000).as_bytes());
        for (a, xyz) in coords.chunks_exact(3).enumerate() {
            out.extend_from_slice(&self.prefixes[a]);
            for &c in xyz {
                if !push_fixed(out, c, 8, 3) {
                    return Err(format!("frame {frame}, atom {a}: coordinate {c} Å does not fit the PDB %8.3f column"));
                }
            }
            out.extend_from_slice(self.suffixes[a].as_bytes());
        }
        out.extend_from_slice(b"ENDMDL\n");
        Ok(())
    }
}

/// Writes a multi-model `.pdb`.
pub type PdbSink<'a> = StreamSink<'a, PdbEncoder>;

impl<'a> PdbSink<'a> {
    /// A sink writing `spec.meta.points` atoms per model; the topology (if any) must match.
    pub fn create(writer: Box<dyn Write + Send + 'a>, spec: &SinkSpec<'_>) -> anyhow::Result<Self> {
        StreamSink::for_spec(writer, spec, "PDB", PdbEncoder::new, b"END\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testkit::*;
    use crate::formats::WriterSink;
    use crate::topology::Atom;

    /// Two models, a CRYST1 before each (MDAnalysis' multiframe layout), HETATM included.
    const NPT: &str = "\
TITLE     test
CRYST1   31.000   32.040   33.000  90.00  90.00  90.00 P 1           1
MODEL        1
ATOM      1  N   MET A   1      11.008  10.314  18.565  1.00  0.00      PROA N
ATOM      2  CA  MET A   1      12.466 -10.314  18.565  1.00  0.00      PROA C
HETATM    3 NA   NA  I  36      24.000  31.040-999.500  1.00  0.00      IONSNA
ENDMDL
CRYST1   30.000   30.000   30.000  60.00  60.00  90.00 P 1           1
MODEL        2
ATOM      1  N   MET A   1      11.108  10.414  18.665  1.00  0.00      PROA N
ATOM      2  CA  MET A   1      12.566 -10.214  18.665  1.00  0.00      PROA C
HETATM    3 NA   NA  I  36      24.100  31.1409999.000  1.00  0.00      IONSNA
ENDMDL
END
";

    /// Opens a PDB file as a boxed source.
    fn open_box(p: &Path) -> anyhow::Result<Box<dyn FrameSource<'static>>> {
        Ok(Box::new(PdbSource::open(p)?))
    }

    /// The NPT text's second cell: a=b=c=30, α=β=60, γ=90, by MDAnalysis' triclinic_vectors
    /// formulas worked by hand: b=(0,30,0), c=(15, 15, 30·√(1/2)).
    fn second_cell() -> [[f64; 3]; 3] {
        [
            [30.0, 0.0, 0.0],
            [0.0, 30.0, 0.0],
            [15.0, 15.0, 21.213203435596427],
        ]
    }

    /// Test: reads models and cells.
    #[test]
    fn reads_models_and_cells() {
        let p = write_tmp("npt.pdb", NPT.as_bytes());
        let mut s = PdbSource::open(&p).unwrap();
        assert_eq!((s.meta().frames, s.meta().points), (2, 3));
        assert_eq!((s.first_line(0), s.first_line(1)), (Some(2), Some(8)));
        let f = read_all(&mut s, 1).unwrap();
        // Expected: the file's columns, typed by hand.
        assert_close(
            &f[0].0,
            &[
                11.008, 10.314, 18.565, 12.466, -10.314, 18.565, 24.0, 31.04, -999.5,
            ],
            1e-4,
        );
        assert_close(&f[1].0[6..], &[24.1, 31.14, 9999.0], 1e-4);
        assert_cell(
            f[0].1.cell,
            Some([[31.0, 0.0, 0.0], [0.0, 32.04, 0.0], [0.0, 0.0, 33.0]]),
            1e-5,
        );
        assert_cell(f[1].1.cell, Some(second_cell()), 1e-5);
        assert_eq!(f[0].1.time, None);
    }

    /// Test: header cell no endmdl and single frame.
    #[test]
    fn header_cell_no_endmdl_and_single_frame() {
        let body: Vec<&str> = NPT
            .lines()
            .filter(|l| l.starts_with("ATOM") || l.starts_with("HETATM"))
            .collect();
        let text = format!(
            "CRYST1    1.000    1.000    1.000  90.00  90.00  90.00 P 1           1\nMODEL 1\n{}\n{}\n{}\nMODEL 2\n{}\n{}\n{}\n",
            body[0], body[1], body[2], body[3], body[4], body[5]
        );
        let p = write_tmp("hdr.pdb", text.as_bytes());
        let f = read_all(&mut PdbSource::open(&p).unwrap(), 5).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].1.cell, f[1].1.cell), (None, None)); // 1 Å placeholder cell
        let text = text.replace("    1.000    1.000    1.000", "   10.000   10.000   10.000");
        let p = write_tmp(
            "hdr2.pdb",
            text.replace("MODEL 1\n", "")
                .replace("MODEL 2\n", "")
                .as_bytes(),
        );
        assert!(PdbSource::open(&p).is_ok_and(|s| s.meta().frames == 1 && s.meta().points == 6));
        let p = write_tmp("hdr3.pdb", text.as_bytes());
        let f = read_all(&mut PdbSource::open(&p).unwrap(), 5).unwrap();
        assert_cell(
            f[1].1.cell,
            Some([[10.0, 0.0, 0.0], [0.0, 10.0, 0.0], [0.0, 0.0, 10.0]]),
            1e-6,
        );
    }

    /// Test: unequal models name the model.
    #[test]
    fn unequal_models_name_the_model() {
        let text = NPT.replacen("HETATM    3 NA   NA  I  36      24.100", "REMARK", 1);
        let p = write_tmp("uneq.pdb", text.as_bytes());
        let e = PdbSource::open(&p).err().unwrap().to_string();
        assert!(e.contains("model 2") && e.contains("line 8"), "{e}");
    }

    /// Test: round trip and overflow.
    #[test]
    fn round_trip_and_overflow() {
        let p = write_tmp("rt.pdb", NPT.as_bytes());
        let mut s = PdbSource::open(&p).unwrap();
        let mut frames = read_all(&mut s, 2).unwrap();
        let atoms = [("N", "N"), ("CA", "C"), ("NA", "Na")]
            .iter()
            .map(|(n, e)| Atom {
                name: n.to_string(),
                element: e.to_string(),
                resname: "MET".into(),
                resid: 1,
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
        let mut sink = Box::new(PdbSink::create(Box::new(Vec::new()), &spec).unwrap());
        let enc = sink.encoder();
        let bytes = encode_all(enc.as_ref(), &frames).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("CRYST1   31.000   32.040   33.000  90.00  90.00  90.00 P 1           1\nMODEL        1\nATOM      1  N   MET     1      11.008  10.314  18.565  1.00  0.00           N  \n"), "{text}");
        sink.write(&bytes, 2).unwrap();
        sink.finish().unwrap();
        let q = write_tmp("rt2.pdb", &[bytes.as_slice(), b"END\n"].concat());
        let back = read_all(&mut PdbSource::open(&q).unwrap(), 3).unwrap();
        for (a, b) in frames.iter().zip(&back) {
            assert_close(&a.0, &b.0, 1e-9);
            assert_cell(a.1.cell, b.1.cell, 5e-3); // angles written to 0.01°
        }
        frames[1].0[8] = 10000.0;
        let e = encode_all(enc.as_ref(), &frames).unwrap_err();
        assert!(
            e.contains("frame 1, atom 2") && e.contains("does not fit"),
            "{e}"
        );
    }

    /// Test: hostile inputs never panic.
    #[test]
    fn hostile_inputs_never_panic() {
        let (ok, err) = hostile_loop("hostile.pdb", NPT.as_bytes(), open_box);
        crlf_same_and_long_line("crlf.pdb", NPT.as_bytes(), open_box);
        assert!(ok > 0 && err > 0, "{ok} {err}");
        for text in ["", "END\n", "MODEL 1\nENDMDL\n", "CRYST1 abc\nATOM\n"] {
            let p = write_tmp("h2.pdb", text.as_bytes());
            let r = PdbSource::open(&p)
                .map_err(|e| e.to_string())
                .and_then(|mut s| read_all(&mut s, 1).map(|_| ()));
            assert!(r.is_err(), "{text:?}");
        }
    }

    /// Test: agrees with mdanalysis fixtures.
    #[test]
    fn agrees_with_mdanalysis_fixtures() {
        use crate::formats::text_fixtures::{check, Checks};
        if let Some((path, exp)) = expected("multi.pdb") {
            let mut s = PdbSource::open(&path).unwrap();
            assert_eq!(
                check(
                    &mut s,
                    &exp,
                    "multi.pdb",
                    Checks {
                        time: false,
                        cell: true
                    }
                ),
                3
            );
        }
    }

    /// A topology from a PDB file's own columns (stand-in for the topology reader).
    fn columns_topology(text: &str, n: usize) -> Topology {
        let atoms = text
            .lines()
            .filter(|l| is_atom(l.as_bytes()))
            .take(n)
            .map(|l| Atom {
                name: l[12..16].trim().into(),
                resname: l[17..21].trim().into(),
                chain: l[21..22].trim().into(),
                resid: l[22..26].trim().parse().unwrap(),
                segid: l[72..76].trim().into(),
                element: l[76..78].trim().into(),
                ..Atom::default()
            })
            .collect();
        Topology {
            source: "cols".into(),
            atoms,
            ..Topology::default()
        }
    }

    /// Test: the writer reproduces MDAnalysis' multi-model file byte for byte, apart from the
    /// TITLE line and the record name (MDAnalysis writes HETATM where the topology says so).
    #[test]
    fn writes_like_mdanalysis() {
        let Some((path, _)) = expected("multi.pdb") else {
            return;
        };
        let text = std::fs::read_to_string(&path).unwrap();
        let mut s = PdbSource::open(&path).unwrap();
        let frames = read_all(&mut s, 2).unwrap();
        let top = columns_topology(&text, s.meta().points);
        let spec = SinkSpec {
            meta: s.meta().clone(),
            topology: Some(&top),
            dt: None,
        };
        let mut sink = Box::new(PdbSink::create(Box::new(Vec::new()), &spec).unwrap());
        let bytes = encode_all(sink.encoder().as_ref(), &frames).unwrap();
        sink.write(&bytes, frames.len()).unwrap();
        let mut ours = String::from_utf8(bytes).unwrap();
        ours.push_str("END\n");
        let theirs: Vec<&str> = text.lines().filter(|l| !l.starts_with("TITLE")).collect();
        let ours: Vec<&str> = ours.lines().collect();
        assert_eq!(theirs.len(), ours.len());
        for (t, o) in theirs.iter().zip(&ours) {
            let cut = if is_atom(t.as_bytes()) { 6 } else { 0 };
            assert_eq!(&t[cut..], &o[cut..]);
        }
    }
}
