//! Where output goes (SPEC §2) and how it is written.
//!
//! - Standard output is used only when it is a pipe, or an empty regular file opened without
//!   append (`> out.npz`); otherwise (a terminal, a log being appended to) the output goes
//!   beside the input as `<stem>.aligned.<ext>`. Never the input, never binary to a terminal.
//! - A regular file is written to a temporary file in the target's folder and renamed into
//!   place on success; a symbolic link is followed (the rename happens beside its target); a
//!   FIFO or a device is written directly (no rename: `-o /dev/null` must stay a device).

use super::cleanup;
use super::InputLocation;
use crate::formats::Format;
use anyhow::{anyhow, bail, Result};
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Where the aligned trajectory goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputTarget {
    /// A file.
    Path(PathBuf),
    /// Standard output, streamed.
    Stdout,
}

impl std::fmt::Display for OutputTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutputTarget::Path(p) => write!(f, "{}", crate::text::escape(&p.to_string_lossy())),
            OutputTarget::Stdout => write!(f, "<stdout>"),
        }
    }
}

impl OutputTarget {
    /// The format written: by the path's extension, else `default` (the input's format); to
    /// standard output the input's format, npz for npz and npy input (SPEC §2).
    pub fn format(&self, default: Format) -> Format {
        match self {
            OutputTarget::Path(p) => Format::of_path(p).unwrap_or(default),
            OutputTarget::Stdout if default == Format::Npy => Format::Npz,
            OutputTarget::Stdout => default,
        }
    }
}

/// Whether standard output may receive binary output without `-o -`: a pipe or socket, or an
/// empty regular file opened without `O_APPEND`.
fn stdout_takes_binary() -> bool {
    // SAFETY: fstat and fcntl only read the descriptor's state into a local struct.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(1, &mut st) != 0 {
            return false;
        }
        match st.st_mode & libc::S_IFMT {
            libc::S_IFIFO | libc::S_IFSOCK => true,
            libc::S_IFREG => {
                let flags = libc::fcntl(1, libc::F_GETFL);
                st.st_size == 0 && flags >= 0 && flags & libc::O_APPEND == 0
            }
            _ => false,
        }
    }
}

/// Resolves `-o` (SPEC §2): `-` is standard output (refused on a terminal); a path must not be
/// the input; without `-o`, standard output when [`stdout_takes_binary`], otherwise
/// `<stem>.aligned.<ext>` beside the input (`announce` is then true: say where it went).
pub fn resolve_output(
    requested: Option<&str>,
    input: &InputLocation,
    default_format: Format,
) -> Result<(OutputTarget, bool)> {
    let refuse =
        "refusing to write binary output to the terminal: redirect standard output or give -o FILE";
    let (target, announce) = match requested {
        Some("-") if io::stdout().is_terminal() => bail!("{refuse}"),
        Some("-") => (OutputTarget::Stdout, false),
        Some(path) => (OutputTarget::Path(PathBuf::from(path)), false),
        None if stdout_takes_binary() => (OutputTarget::Stdout, false),
        None => match input {
            InputLocation::Path(p) => {
                let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned());
                let name = format!(
                    "{}.aligned.{}",
                    stem.unwrap_or_default(),
                    default_format.extension()
                );
                (OutputTarget::Path(p.with_file_name(name)), true)
            }
            InputLocation::Stdin => bail!("{refuse}"),
        },
    };
    if let (OutputTarget::Path(out), InputLocation::Path(inp)) = (&target, input) {
        if out == inp || same_file(out, inp) {
            bail!("{target}: output would overwrite the input; choose another -o");
        }
    }
    Ok((target, announce))
}

/// Whether `a` and `b` name the same existing file.
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

enum Inner {
    /// A temporary file renamed onto `dest` by [`Output::commit`].
    Temp {
        file: BufWriter<File>,
        temp: PathBuf,
        dest: PathBuf,
    },
    /// A FIFO or device, written in place.
    Direct(BufWriter<File>),
    /// Standard output.
    Stdout(BufWriter<io::Stdout>),
}

/// An output being written. Nothing appears at a file target until [`commit`](Self::commit);
/// dropped uncommitted, the temporary file is removed.
pub struct Output {
    inner: Option<Inner>,
    name: String,
}

/// Follows symbolic links from `path` to the file they finally name (which need not exist).
fn resolve_links(path: &Path) -> PathBuf {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::read_link(&p) {
            Ok(next) => {
                p = match p.parent() {
                    Some(dir) if next.is_relative() => dir.join(next),
                    _ => next,
                }
            }
            Err(_) => break,
        }
    }
    p
}

impl Output {
    /// Opens `target` for writing (see the module documentation).
    pub fn create(target: &OutputTarget) -> Result<Output> {
        let name = target.to_string();
        let inner = match target {
            OutputTarget::Stdout => Inner::Stdout(BufWriter::with_capacity(1 << 20, io::stdout())),
            OutputTarget::Path(p) => {
                let dest = resolve_links(p);
                let special = std::fs::metadata(&dest).is_ok_and(|m| {
                    use std::os::unix::fs::FileTypeExt;
                    let t = m.file_type();
                    t.is_fifo() || t.is_char_device() || t.is_block_device() || t.is_socket()
                });
                if special {
                    let f = std::fs::OpenOptions::new()
                        .write(true)
                        .open(&dest)
                        .map_err(|e| anyhow!("{name}: cannot write: {}", io_reason(&e)))?;
                    Inner::Direct(BufWriter::with_capacity(1 << 20, f))
                } else {
                    temp_beside(&dest, &name)?
                }
            }
        };
        Ok(Output {
            inner: Some(inner),
            name,
        })
    }

    /// Whether the output can seek (a regular file): a zip is then written with sizes in its
    /// local headers, otherwise streamed with data descriptors.
    pub fn is_seekable(&self) -> bool {
        matches!(self.inner, Some(Inner::Temp { .. }))
    }

    /// The output as named in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Flushes and, for a file, renames the temporary file into place.
    pub fn commit(mut self) -> Result<()> {
        let name = self.name.clone();
        let write_err = |e: io::Error| {
            if e.kind() == io::ErrorKind::BrokenPipe {
                anyhow::Error::new(e)
            } else {
                anyhow!("{name}: cannot write: {}", io_reason(&e))
            }
        };
        match self.inner.take() {
            Some(Inner::Temp { file, temp, dest }) => {
                let file = file.into_inner().map_err(|e| write_err(e.into_error()))?;
                drop(file);
                let renamed = std::fs::rename(&temp, &dest);
                if renamed.is_err() {
                    let _ = std::fs::remove_file(&temp);
                }
                cleanup::unregister(&temp);
                renamed.map_err(|e| {
                    anyhow!("{name}: cannot move output into place: {}", io_reason(&e))
                })
            }
            Some(Inner::Direct(mut w)) => w.flush().map_err(write_err),
            Some(Inner::Stdout(mut w)) => w.flush().map_err(write_err),
            None => Ok(()),
        }
    }
}

/// Creates a temporary file beside `dest`, keeping an existing file's permissions (a new file
/// gets rw-r--r--), registered for removal on failure.
fn temp_beside(dest: &Path, name: &str) -> Result<Inner> {
    let dir = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let named = tempfile::Builder::new()
        .prefix(".aligntraj-")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(|e| {
            anyhow!(
                "{name}: cannot write output in folder {}: {}",
                crate::text::escape(&dir.to_string_lossy()),
                io_reason(&e)
            )
        })?;
    let (file, temp) = named.into_parts();
    let temp = temp
        .keep()
        .map_err(|e| anyhow!("{name}: cannot keep temporary file: {e}"))?;
    cleanup::register(&temp);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dest)
        .map(|m| m.permissions().mode())
        .unwrap_or(0o644);
    let _ = file.set_permissions(std::fs::Permissions::from_mode(mode));
    Ok(Inner::Temp {
        file: BufWriter::with_capacity(1 << 20, file),
        temp,
        dest: dest.to_path_buf(),
    })
}

impl Drop for Output {
    fn drop(&mut self) {
        if let Some(Inner::Temp { temp, .. }) = self.inner.take() {
            let _ = std::fs::remove_file(&temp);
            cleanup::unregister(&temp);
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.inner.as_mut() {
            Some(Inner::Temp { file, .. }) | Some(Inner::Direct(file)) => file.write(buf),
            Some(Inner::Stdout(w)) => w.write(buf),
            None => Err(io::Error::other("output already committed")),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self.inner.as_mut() {
            Some(Inner::Temp { file, .. }) | Some(Inner::Direct(file)) => file.write_all(buf),
            Some(Inner::Stdout(w)) => w.write_all(buf),
            None => Err(io::Error::other("output already committed")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.inner.as_mut() {
            Some(Inner::Temp { file, .. }) | Some(Inner::Direct(file)) => file.flush(),
            Some(Inner::Stdout(w)) => w.flush(),
            None => Ok(()),
        }
    }
}

impl Seek for Output {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        match self.inner.as_mut() {
            Some(Inner::Temp { file, .. }) => file.seek(pos),
            _ => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "output is not seekable",
            )),
        }
    }
}

/// The part of an I/O error a user needs ("no such file or directory").
pub fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        io::ErrorKind::StorageFull => "no space left on device".into(),
        _ => crate::text::one_line(&e.to_string()),
    }
}

/// Writes `target` atomically (temporary file, then rename) with the bytes `produce` writes.
pub fn write_atomically(
    target: &Path,
    produce: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    let mut out = Output::create(&OutputTarget::Path(target.to_path_buf()))?;
    produce(&mut out)?;
    out.commit()
}

/// An [`Output`] shared between a format's sink, which writes into it as a plain
/// `Write`, and the adapter that commits it when the sink is done.
#[derive(Clone)]
pub struct SharedOutput(std::sync::Arc<std::sync::Mutex<Option<Output>>>);

impl SharedOutput {
    /// Shares `output`.
    pub fn new(output: Output) -> SharedOutput {
        SharedOutput(std::sync::Arc::new(std::sync::Mutex::new(Some(output))))
    }

    fn with<T>(&self, f: impl FnOnce(&mut Output) -> io::Result<T>) -> io::Result<T> {
        let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_mut() {
            Some(out) => f(out),
            None => Err(io::Error::other("output already committed")),
        }
    }

    /// Commits the output (see [`Output::commit`]).
    pub fn commit(&self) -> Result<()> {
        let taken = self.0.lock().unwrap_or_else(|p| p.into_inner()).take();
        match taken {
            Some(out) => out.commit(),
            None => bail!("internal: output already committed"),
        }
    }
}

impl Write for SharedOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.with(|o| o.write(buf))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.with(|o| o.write_all(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.with(|o| o.flush())
    }
}
