//! Exporters: reports to JSON (serde) and tables to CSV, each written atomically, so a failed
//! run leaves no partial file. The format follows the extension where a command accepts both.

use crate::io::output::write_atomically;
use anyhow::{anyhow, bail, Result};
use serde::Serialize;
use std::io::Write;
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

/// Writes `value` as pretty JSON to `path`, atomically, streamed through a buffer (a
/// sensitivity report of all 3,500 points is half a gigabyte of text: never held in memory).
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    write_atomically(path, |w| {
        let mut buf = std::io::BufWriter::with_capacity(1 << 16, w);
        serde_json::to_writer_pretty(&mut buf, value)
            .map_err(|e| anyhow!("{}: cannot write JSON: {e}", path.display()))?;
        buf.write_all(b"\n")?;
        buf.flush()?;
        Ok(())
    })
}

/// `value` as pretty JSON with a final newline, the bytes [`write_json`] writes (formatted in
/// memory: serde_json writes many small pieces, each a call through `dyn Write` otherwise).
/// `path` is for messages.
pub fn json_bytes<T: Serialize>(path: &Path, value: &T) -> Result<Vec<u8>> {
    let mut text = serde_json::to_vec_pretty(value)
        .map_err(|e| anyhow!("{}: cannot write JSON: {e}", path.display()))?;
    text.push(b'\n');
    Ok(text)
}

/// Writes serialisable rows (one struct per row, its field names as the header) as CSV.
pub fn write_csv_rows<T: Serialize>(path: &Path, rows: &[T]) -> Result<()> {
    write_bytes(path, &csv_bytes(path, rows)?)
}

/// The bytes [`write_csv_rows`] writes. `path` is for messages.
pub fn csv_bytes<T: Serialize>(path: &Path, rows: &[T]) -> Result<Vec<u8>> {
    let mut csv = csv::Writer::from_writer(Vec::new());
    for row in rows {
        csv.serialize(row)
            .map_err(|e| anyhow!("{}: cannot write CSV: {e}", path.display()))?;
    }
    csv.into_inner()
        .map_err(|e| anyhow!("{}: cannot write CSV: {e}", path.display()))
}

/// Writes `bytes` to `path`, atomically.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomically(path, |w| Ok(w.write_all(bytes)?))
}

/// Writes a matrix as CSV with a header `row,<column labels…>` and one line per row
/// `<row label>,M[r][0],…` (labels: point indices, or residues such as `ALA12`).
pub fn write_csv_matrix(
    path: &Path,
    matrix: &[Vec<f64>],
    rows: &[String],
    columns: &[String],
) -> Result<()> {
    write_atomically(path, |w| {
        let mut csv = csv::Writer::from_writer(w);
        let mut header = vec!["row".to_string()];
        header.extend(columns.iter().cloned());
        csv.write_record(&header)?;
        for (row, k) in matrix.iter().zip(rows) {
            let mut rec = vec![k.clone()];
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

    #[test]
    fn matrix_csv_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.csv");
        let labels = ["0".to_string(), "1".to_string()];
        write_csv_matrix(&p, &[vec![1.0, 0.5], vec![0.25, 2.0]], &labels, &labels).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text, "row,0,1\n0,1,0.5\n1,0.25,2\n");
    }
}
