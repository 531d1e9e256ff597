//! Inputs and outputs at the byte level: where a trajectory comes from (a regular file that
//! can be re-read and sought, or a stream: standard input, a FIFO, `/dev/stdin`), where the
//! result goes, and the temporary files that must not outlive a run.

pub(crate) mod cleanup;
pub mod output;

use anyhow::{anyhow, bail, Result};
use output::io_reason;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Where an input comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputLocation {
    /// A path (a regular file, or a FIFO / device read as a stream).
    Path(PathBuf),
    /// Standard input (`-`, or no argument when it is not a terminal).
    Stdin,
}

impl fmt::Display for InputLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputLocation::Path(p) => write!(f, "{}", crate::text::escape(&p.to_string_lossy())),
            InputLocation::Stdin => write!(f, "<stdin>"),
        }
    }
}

/// An opened input: a regular file (seekable, re-readable) or a one-pass stream.
pub(crate) enum RawInput {
    /// A regular file (opened, so that it is known to be readable).
    File,
    /// Standard input or a FIFO/device path.
    Stream(Box<dyn Read + Send>),
}

impl InputLocation {
    /// Opens the input. Missing files, folders and unreadable files are one-line errors.
    pub(crate) fn open(&self) -> Result<RawInput> {
        match self {
            InputLocation::Stdin => Ok(RawInput::Stream(Box::new(io::stdin()))),
            InputLocation::Path(p) => {
                let meta = std::fs::metadata(p)
                    .map_err(|e| anyhow!("{self}: cannot open input: {}", io_reason(&e)))?;
                if meta.is_dir() {
                    bail!("{self}: is a directory, not a trajectory file");
                }
                let file = File::open(p)
                    .map_err(|e| anyhow!("{self}: cannot open input: {}", io_reason(&e)))?;
                Ok(if meta.is_file() {
                    RawInput::File
                } else {
                    RawInput::Stream(Box::new(file))
                })
            }
        }
    }

    /// The path, for a file input.
    pub(crate) fn path(&self) -> Option<&Path> {
        match self {
            InputLocation::Path(p) => Some(p),
            InputLocation::Stdin => None,
        }
    }
}

/// A stream copied to a temporary file so that it can be read more than once (`--ref average`,
/// members needed before the trajectory). The file lives in `dir` (the output's folder) and is
/// removed when this is dropped or the run fails.
pub(crate) struct Spool {
    path: PathBuf,
}

impl Spool {
    /// Copies all of `stream` into a new temporary file in `dir`.
    pub(crate) fn new(stream: &mut dyn Read, dir: &Path, what: &str) -> Result<Spool> {
        let named = tempfile::Builder::new()
            .prefix(".aligntraj-input-")
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(|e| {
                anyhow!(
                    "{what}: cannot buffer the input in folder {}: {}",
                    crate::text::escape(&dir.to_string_lossy()),
                    io_reason(&e)
                )
            })?;
        let (mut file, temp) = named.into_parts();
        let path = temp
            .keep()
            .map_err(|e| anyhow!("{what}: cannot keep temporary file: {e}"))?;
        cleanup::register(&path);
        let spool = Spool { path };
        io::copy(stream, &mut file)
            .map_err(|e| anyhow!("{what}: cannot buffer the input: {}", io_reason(&e)))?;
        Ok(spool)
    }

    /// The temporary file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        cleanup::unregister(&self.path);
    }
}

/// Removes every temporary file a failed run left registered (called before exiting).
pub fn remove_temporary_files() {
    cleanup::remove_all();
}
