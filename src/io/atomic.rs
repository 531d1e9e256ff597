//! Atomic outputs: everything is written to a temporary file in the target folder and renamed
//! into place only when complete, so a failed run leaves no partial file and an existing file
//! intact.

use super::input::io_reason;
use anyhow::{anyhow, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use tempfile::TempPath;

/// A file being written; it appears at its target path only on [`commit`](Self::commit).
/// Dropping it without committing deletes the temporary file.
pub struct AtomicFile {
    writer: BufWriter<File>,
    temp: TempPath,
    target: PathBuf,
}

impl AtomicFile {
    /// Creates a temporary file beside `target`. Fails (naming the folder) when the folder
    /// does not exist or is not writable.
    pub fn create(target: &Path) -> Result<AtomicFile> {
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let named = tempfile::Builder::new()
            .prefix(".aligntraj-")
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(|e| {
                anyhow!(
                    "{}: cannot write output in folder {}: {}",
                    target.display(),
                    dir.display(),
                    io_reason(&e)
                )
            })?;
        // Keep an existing target's permissions; a new file gets rw-r--r-- (the temporary
        // file starts private).
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(target)
                .map(|m| m.permissions().mode())
                .unwrap_or(0o644);
            let _ = named
                .as_file()
                .set_permissions(std::fs::Permissions::from_mode(mode));
        }
        let (file, temp) = named.into_parts();
        Ok(AtomicFile {
            writer: BufWriter::with_capacity(1 << 20, file),
            temp,
            target: target.to_path_buf(),
        })
    }

    /// The final path.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Flushes and renames the temporary file onto the target.
    pub fn commit(self) -> Result<()> {
        let AtomicFile {
            writer,
            temp,
            target,
        } = self;
        let file = writer
            .into_inner()
            .map_err(|e| anyhow!("{}: cannot write: {}", target.display(), e.error()))?;
        drop(file);
        temp.persist(&target).map_err(|e| {
            anyhow!(
                "{}: cannot move output into place: {}",
                target.display(),
                e.error
            )
        })?;
        Ok(())
    }

    /// Access to the underlying buffered file (seekable once flushed).
    pub fn writer(&mut self) -> &mut BufWriter<File> {
        &mut self.writer
    }

    /// Splits into the writer and a guard whose `persist` puts the file in place.
    pub fn into_parts(self) -> (BufWriter<File>, TempPath, PathBuf) {
        (self.writer, self.temp, self.target)
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }
}

/// Writes `target` atomically with the bytes `produce` writes.
pub fn write_atomically(
    target: &Path,
    produce: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    let mut file = AtomicFile::create(target)?;
    produce(&mut file)?;
    file.commit()
}
