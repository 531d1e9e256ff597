//! Exporters: reports to JSON (serde) and tables to CSV, each written atomically, so a failed
//! run leaves no partial file. The format follows the extension where a command accepts both.

use crate::io::output::write_atomically;
use anyhow::{anyhow, bail, Result};
use serde::Serialize;
use std::path::Path;

/// The report formats, chosen by a file's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `.json`
    Json,
    /// `.csv`
    Csv,
}

impl Format {
    /// The format of `path` by its extension (`.json` or `.csv`, any case).
    pub fn of(path: &Path, flag: &str) -> Result<Format> {
        match path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .as_deref()
        {
            Some("json") => Ok(Format::Json),
            Some("csv") => Ok(Format::Csv),
            _ => bail!(
                "{flag} {}: unknown report format (use a .json or .csv file name)",
                path.display()
            ),
        }
    }
}

/// Writes `value` as pretty JSON to `path`, atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    // Formatted in memory first: serde_json writes many small pieces, and each would otherwise
    // be a call through `dyn Write`.
    let text = serde_json::to_vec_pretty(value)
        .map_err(|e| anyhow!("{}: cannot write JSON: {e}", path.display()))?;
    write_json_text(path, text)
}

/// Writes JSON text (and a final newline) to `path`, atomically.
pub fn write_json_text(path: &Path, mut text: Vec<u8>) -> Result<()> {
    text.push(b'\n');
    write_atomically(path, |w| Ok(w.write_all(&text)?))
}

/// The bytes `serde_json::to_vec_pretty` gives for an object whose last field is the array
/// `rows`, formatted with the rows in parallel: `head` is that object with `rows` empty
/// (ending `"rows": []` and `}`); each row is formatted on its own and indented two levels.
pub fn pretty_with_rows<H: Serialize, R: Serialize + Sync>(
    head: &H,
    rows: &[R],
) -> Result<Vec<u8>> {
    use rayon::prelude::*;
    let mut text = serde_json::to_vec_pretty(head)?;
    if rows.is_empty() {
        return Ok(text);
    }
    let tail = b"[]\n}";
    if !text.ends_with(tail) {
        bail!("internal: the report does not end with its rows");
    }
    text.truncate(text.len() - tail.len());
    text.extend_from_slice(b"[\n");
    let parts: Vec<Vec<u8>> = rows
        .par_chunks(512)
        .map(|rows| -> Result<Vec<u8>> {
            let mut part = Vec::new();
            for row in rows {
                part.extend_from_slice(b"    ");
                for &b in &serde_json::to_vec_pretty(row)? {
                    part.push(b);
                    if b == b'\n' {
                        part.extend_from_slice(b"    ");
                    }
                }
                part.extend_from_slice(b",\n");
            }
            Ok(part)
        })
        .collect::<Result<_>>()?;
    for part in &parts {
        text.extend_from_slice(part);
    }
    text.truncate(text.len() - 2); // the last ",\n"
    text.extend_from_slice(b"\n  ]\n}");
    Ok(text)
}

/// Writes serialisable rows (one struct per row, its field names as the header) as CSV.
/// Blocks of rows are formatted in parallel (a row's bytes do not depend on the others; the
/// first block carries the header), then written in order.
pub fn write_csv_rows<T: Serialize + Sync>(path: &Path, rows: &[T]) -> Result<()> {
    use rayon::prelude::*;
    let parts: Vec<Vec<u8>> = rows
        .par_chunks(1024)
        .enumerate()
        .map(|(i, rows)| -> Result<Vec<u8>> {
            let mut csv = csv::WriterBuilder::new()
                .has_headers(i == 0)
                .from_writer(Vec::new());
            for row in rows {
                csv.serialize(row)
                    .map_err(|e| anyhow!("{}: cannot write CSV: {e}", path.display()))?;
            }
            csv.into_inner()
                .map_err(|e| anyhow!("{}: cannot write CSV: {e}", path.display()))
        })
        .collect::<Result<_>>()?;
    write_atomically(path, |w| {
        for part in &parts {
            w.write_all(part)?;
        }
        Ok(())
    })
}

/// Writes a matrix as CSV with a header `row,0,1,…` and one line per row `k,S[k][0],…`, `k`
/// being `rows[r]` (the nudged point of row r).
pub fn write_csv_matrix(path: &Path, matrix: &[Vec<f64>], rows: &[usize]) -> Result<()> {
    write_atomically(path, |w| {
        let mut csv = csv::Writer::from_writer(w);
        let cols = matrix.first().map_or(0, |r| r.len());
        let mut header = vec!["row".to_string()];
        header.extend((0..cols).map(|j| j.to_string()));
        csv.write_record(&header)?;
        for (row, k) in matrix.iter().zip(rows) {
            let mut rec = vec![k.to_string()];
            rec.extend(row.iter().map(|v| v.to_string()));
            csv.write_record(&rec)?;
        }
        csv.flush()?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_by_extension() {
        assert_eq!(
            Format::of(Path::new("a.JSON"), "--report").unwrap(),
            Format::Json
        );
        assert_eq!(
            Format::of(Path::new("a.csv"), "--report").unwrap(),
            Format::Csv
        );
        assert!(Format::of(Path::new("a.txt"), "--report").is_err());
    }

    /// The parallel splice gives serde_json's own bytes: rows with nested values, a null and
    /// a NaN (written `null`), a string needing escapes (which serde_json writes escaped, so no
    /// newline inside a row is indented), 0, 1 and 1,100 rows (several parts).
    #[test]
    fn rows_formatted_in_parallel_are_serde_jsons_bytes() {
        #[derive(Serialize, Clone)]
        struct Row {
            n: usize,
            x: f64,
            s: Option<f64>,
            t: String,
            v: Vec<f64>,
        }
        #[derive(Serialize)]
        struct Doc<'r> {
            name: &'static str,
            list: Vec<f64>,
            rows: &'r [Row],
        }
        let all: Vec<Row> = (0..1100)
            .map(|i| Row {
                n: i,
                x: if i == 7 { f64::NAN } else { i as f64 / 3.0 },
                s: (i % 2 == 0).then_some(1e-300 * i as f64),
                t: "a\nb\"c".into(),
                v: vec![0.5; i % 3],
            })
            .collect();
        for n in [0, 1, 1100] {
            let doc = |rows| Doc {
                name: "x",
                list: vec![1.0, 2.5],
                rows,
            };
            let want = serde_json::to_vec_pretty(&doc(&all[..n])).unwrap();
            let got = pretty_with_rows(&doc(&[]), &all[..n]).unwrap();
            assert!(got == want, "{n} rows");
        }
    }

    /// Rows formatted in blocks give the bytes of one `csv::Writer` over all of them (header
    /// once; 0, 1 and 2,500 rows, so three blocks; a field that needs quoting).
    #[test]
    fn csv_rows_in_blocks_are_one_writers_bytes() {
        #[derive(Serialize)]
        struct Row {
            i: usize,
            x: Option<f64>,
            s: &'static str,
        }
        let all: Vec<Row> = (0..2500)
            .map(|i| Row {
                i,
                x: (i % 3 != 0).then_some(i as f64 / 7.0),
                s: if i % 5 == 0 { "a,\"b" } else { "c" },
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        for n in [0, 1, 2500] {
            let p = dir.path().join(format!("r{n}.csv"));
            write_csv_rows(&p, &all[..n]).unwrap();
            let mut one = csv::Writer::from_writer(Vec::new());
            for row in &all[..n] {
                one.serialize(row).unwrap();
            }
            assert!(
                std::fs::read(&p).unwrap() == one.into_inner().unwrap(),
                "{n} rows"
            );
        }
    }

    #[test]
    fn matrix_csv_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.csv");
        write_csv_matrix(&p, &[vec![1.0, 0.5], vec![0.25, 2.0]], &[0, 1]).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text, "row,0,1\n0,1,0.5\n1,0.25,2\n");
    }
}
