//! Opening an input: a path or standard input, holding a `.npz` or a bare `.npy`.
//!
//! An [`Input`] knows its container, its members and their headers, and can open any member's
//! data as an owned byte stream as often as needed (`--ref average` reads the trajectory more
//! than once). Files are re-opened for each stream, so memory stays bounded; standard input,
//! which cannot be re-read, is buffered once.

use super::npy::NpyHeader;
use anyhow::{anyhow, bail, Context, Result};
use flate2::read::DeflateDecoder;
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zip::{CompressionMethod, ZipArchive};

/// Where an input comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputLocation {
    /// A file on disk.
    Path(PathBuf),
    /// Standard input (`-` or no argument).
    Stdin,
}

impl fmt::Display for InputLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputLocation::Path(p) => write!(f, "{}", p.display()),
            InputLocation::Stdin => write!(f, "<stdin>"),
        }
    }
}

/// The kind of container an input is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Container {
    /// A zip archive of `.npy` members (numpy's `savez` / `savez_compressed`).
    Npz,
    /// A single bare `.npy` array.
    Npy,
}

/// One array member of an input: for a bare `.npy`, the single member is named `arr`.
#[derive(Clone, Debug)]
pub struct Member {
    /// The key numpy shows (`arr` for `arr.npy`).
    pub key: String,
    /// The name inside the zip (`arr.npy`); empty for a bare `.npy`.
    pub zip_name: String,
    /// The member's header, or why it could not be read.
    pub header: Result<NpyHeader, String>,
    /// How the member is stored.
    pub compression: CompressionMethod,
    data_start: u64,
    compressed_size: u64,
    size: u64,
    crc32: u32,
}

#[derive(Clone)]
struct SharedBytes(Arc<Vec<u8>>);

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        self.0.as_slice()
    }
}

/// A readable, seekable handle on the whole input.
pub trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

/// An opened input: container, members and the means to stream any of them.
pub struct Input {
    /// Where the data come from.
    pub location: InputLocation,
    /// `.npz` or `.npy`.
    pub container: Container,
    /// Array members in archive order.
    pub members: Vec<Member>,
    bytes: Option<SharedBytes>,
}

impl Input {
    /// Opens `location`: checks that it exists and is a zip or an `.npy`, and reads every
    /// member's header. Standard input is read to its end here.
    pub fn open(location: InputLocation) -> Result<Input> {
        let bytes = match &location {
            InputLocation::Stdin => {
                let mut buf = Vec::new();
                io::stdin()
                    .lock()
                    .read_to_end(&mut buf)
                    .context("<stdin>: cannot read standard input")?;
                if buf.is_empty() {
                    bail!("<stdin>: standard input is empty (expected an .npz or .npy)");
                }
                Some(SharedBytes(Arc::new(buf)))
            }
            InputLocation::Path(p) => {
                let meta = std::fs::metadata(p).map_err(|e| {
                    anyhow!("{}: cannot open input: {}", p.display(), io_reason(&e))
                })?;
                if meta.is_dir() {
                    bail!("{}: is a directory, not an .npz or .npy file", p.display());
                }
                None
            }
        };
        let mut input = Input {
            location,
            container: Container::Npy,
            members: Vec::new(),
            bytes,
        };
        let mut handle = input.handle()?;
        let mut magic = [0u8; 6];
        let n = read_up_to(&mut handle, &mut magic)
            .with_context(|| format!("{}: cannot read", input.location))?;
        if n >= 4 && (&magic[..4] == b"PK\x03\x04" || &magic[..4] == b"PK\x05\x06") {
            input.container = Container::Npz;
            handle.seek(SeekFrom::Start(0))?;
            input.members = read_zip_members(&input.location, handle)?;
            for i in 0..input.members.len() {
                let header = input
                    .open_member(&input.members[i])
                    .and_then(|mut s| NpyHeader::read_from(&mut s))
                    .map_err(|e| format!("{e:#}"));
                input.members[i].header = header;
            }
        } else if n == 6 && &magic == b"\x93NUMPY" {
            handle.seek(SeekFrom::Start(0))?;
            let len = handle.seek(SeekFrom::End(0))?;
            handle.seek(SeekFrom::Start(0))?;
            let header = NpyHeader::read_from(&mut BufReader::new(&mut handle))
                .map_err(|e| format!("{e:#}"));
            input.members.push(Member {
                key: "arr".into(),
                zip_name: String::new(),
                header,
                compression: CompressionMethod::Stored,
                data_start: 0,
                compressed_size: len,
                size: len,
                crc32: 0,
            });
        } else {
            bail!("{}: not an .npz (zip) or .npy file", input.location);
        }
        Ok(input)
    }

    /// A fresh handle on the whole input, positioned at its start.
    pub fn handle(&self) -> Result<Box<dyn ReadSeek>> {
        Ok(match (&self.bytes, &self.location) {
            (Some(bytes), _) => Box::new(Cursor::new(bytes.clone())),
            (None, InputLocation::Path(p)) => Box::new(BufReader::with_capacity(
                1 << 16,
                File::open(p).map_err(|e| {
                    anyhow!("{}: cannot open input: {}", p.display(), io_reason(&e))
                })?,
            )),
            (None, InputLocation::Stdin) => unreachable!("stdin is always buffered"),
        })
    }

    /// Whether the input can be read again without holding it in memory.
    pub fn is_rereadable_from_disk(&self) -> bool {
        self.bytes.is_none()
    }

    /// The member named `key`, if any.
    pub fn member(&self, key: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.key == key)
    }

    /// One line per member: key, shape and dtype, for error messages and `info`.
    pub fn member_summary(&self) -> String {
        self.members
            .iter()
            .map(|m| match &m.header {
                Ok(h) => format!("{} {} {}", m.key, h.shape_str(), h.descr),
                Err(_) => format!("{} (not an array)", m.key),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Chooses the trajectory member: `key` if given; else `arr` if present; else the only
    /// 3-D float member; else an error listing the members.
    pub fn choose_key(&self, key: Option<&str>) -> Result<&Member> {
        let loc = &self.location;
        if let Some(k) = key {
            return self.member(k).ok_or_else(|| {
                anyhow!("{loc}: no array '{k}' (members: {})", self.member_summary())
            });
        }
        if let Some(m) = self.member("arr") {
            return Ok(m);
        }
        let candidates: Vec<&Member> = self
            .members
            .iter()
            .filter(|m| {
                m.header.as_ref().is_ok_and(|h| {
                    h.shape.len() == 3 && super::npy::Dtype::from_descr(&h.descr).is_ok()
                })
            })
            .collect();
        match candidates.as_slice() {
            [one] => Ok(one),
            [] if self.members.is_empty() => bail!("{loc}: the archive holds no arrays"),
            [] => bail!(
                "{loc}: no 3-D float array to align (members: {}); choose one with --key",
                self.member_summary()
            ),
            _ => bail!(
                "{loc}: several 3-D float arrays (members: {}); choose one with --key",
                self.member_summary()
            ),
        }
    }

    /// Opens `member`'s bytes (header included) as an owned stream that inflates deflated
    /// members and checks the zip CRC and size when read to its end.
    pub fn open_member(&self, member: &Member) -> Result<MemberStream> {
        let mut handle = self.handle()?;
        handle.seek(SeekFrom::Start(member.data_start))?;
        let raw = handle.take(member.compressed_size);
        let inner: Box<dyn Read + Send> = match member.compression {
            CompressionMethod::Stored => Box::new(raw),
            CompressionMethod::Deflated => Box::new(DeflateDecoder::new(raw)),
            other => bail!(
                "{}: array '{}' uses zip compression {other:?}; only stored and deflated are supported",
                self.location,
                member.key
            ),
        };
        Ok(MemberStream {
            inner,
            hasher: crc32fast::Hasher::new(),
            read: 0,
            expect_size: member.size,
            expect_crc: (self.container == Container::Npz).then_some(member.crc32),
        })
    }

    /// Opens the archive itself (npz only), to copy members raw.
    pub fn archive(&self) -> Result<ZipArchive<Box<dyn ReadSeek>>> {
        ZipArchive::new(self.handle()?)
            .map_err(|e| anyhow!("{}: corrupt zip archive: {e}", self.location))
    }
}

/// A member's bytes as a stream; reading it to the end verifies the zip checksum and size.
pub struct MemberStream {
    inner: Box<dyn Read + Send>,
    hasher: crc32fast::Hasher,
    read: u64,
    expect_size: u64,
    expect_crc: Option<u32>,
}

impl Read for MemberStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            if self.read != self.expect_size {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "member is truncated ({} of {} bytes)",
                        self.read, self.expect_size
                    ),
                ));
            }
            if let Some(crc) = self.expect_crc {
                if self.hasher.clone().finalize() != crc {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "member is corrupt (zip CRC mismatch)",
                    ));
                }
            }
        }
        if self.expect_crc.is_some() {
            self.hasher.update(&buf[..n]);
        }
        self.read += n as u64;
        Ok(n)
    }
}

impl MemberStream {
    /// Reads whatever is left and checks size and CRC.
    pub fn finish(&mut self) -> io::Result<()> {
        io::copy(self, &mut io::sink()).map(|_| ())
    }
}

fn read_zip_members(loc: &InputLocation, handle: Box<dyn ReadSeek>) -> Result<Vec<Member>> {
    let mut archive =
        ZipArchive::new(handle).map_err(|e| anyhow!("{loc}: truncated or corrupt zip: {e}"))?;
    let mut members = Vec::new();
    for i in 0..archive.len() {
        let (name, compression, data_start, compressed_size, size, crc32) = {
            let f = archive
                .by_index(i)
                .map_err(|e| anyhow!("{loc}: truncated or corrupt zip (entry {i}): {e}"))?;
            if f.is_dir() {
                continue;
            }
            (
                f.name().to_string(),
                f.compression(),
                f.data_start(),
                f.compressed_size(),
                f.size(),
                f.crc32(),
            )
        };
        let key = name.strip_suffix(".npy").unwrap_or(&name).to_string();
        let member = Member {
            key,
            zip_name: name,
            header: Err("not read yet".into()),
            compression,
            data_start,
            compressed_size,
            size,
            crc32,
        };
        members.push(member);
    }
    Ok(members)
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// The part of an I/O error a user needs ("No such file or directory").
pub fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Checks that `path` is not the same file as the input.
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}
