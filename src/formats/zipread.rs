//! Reading members of a zip archive (an `.npz`) as byte streams whose size and CRC-32 are
//! checked: from a file through its central directory, or from a pipe by walking the local
//! headers in order (data descriptors included), so standard input streams without being
//! held in memory.
//!
//! Every member is read through [`Checked`]: reading past the size the archive declares is an
//! error at once ("larger than its header says": a zip bomb stops after one extra byte), and
//! reaching the end verifies the size and CRC.

use crate::text::quote;
use flate2::bufread::DeflateDecoder;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};

/// Where a member's data sit in a seekable archive, and what the central directory says of it.
#[derive(Clone, Debug)]
pub struct EntryInfo {
    /// The name inside the zip (`arr.npy`).
    pub name: String,
    /// Deflated (else stored).
    pub deflated: bool,
    /// Offset of the first (compressed) data byte.
    pub data_start: u64,
    /// Stored bytes.
    pub compressed_size: u64,
    /// Bytes once inflated.
    pub size: u64,
    /// CRC-32 of the inflated bytes.
    pub crc32: u32,
}

/// Lists the members of a seekable archive (directories left out). Errors name the entry.
pub(crate) fn list_entries<R: Read + Seek>(reader: R) -> Result<Vec<EntryInfo>, String> {
    let mut archive =
        zip::ZipArchive::new(reader).map_err(|e| format!("truncated or corrupt zip: {e}"))?;
    let mut out = Vec::with_capacity(archive.len().min(4096));
    for i in 0..archive.len() {
        let f = archive
            .by_index_raw(i)
            .map_err(|e| format!("truncated or corrupt zip (entry {i}): {e}"))?;
        if f.is_dir() {
            continue;
        }
        let deflated = match f.compression() {
            zip::CompressionMethod::Stored => false,
            zip::CompressionMethod::Deflated => true,
            other => {
                return Err(format!(
                "member {} uses zip compression {other}; only stored and deflated are supported",
                quote(f.name())
            ))
            }
        };
        out.push(EntryInfo {
            name: f.name().to_string(),
            deflated,
            data_start: f.data_start(),
            compressed_size: f.compressed_size(),
            size: f.size(),
            crc32: f.crc32(),
        });
    }
    Ok(out)
}

/// A member's inflated bytes with size and CRC checks (see the module documentation).
pub(crate) struct Checked<R> {
    inner: R,
    hasher: crc32fast::Hasher,
    read: u64,
    expect_size: Option<u64>,
    expect_crc: Option<u32>,
}

impl<R: Read> Checked<R> {
    /// Wraps `inner`, expecting `size` bytes with CRC `crc` (each when known).
    pub fn new(inner: R, size: Option<u64>, crc: Option<u32>) -> Checked<R> {
        Checked {
            inner,
            hasher: crc32fast::Hasher::new(),
            read: 0,
            expect_size: size,
            expect_crc: crc,
        }
    }

    /// Expects `size` bytes in all when the archive gave no size (a data descriptor follows):
    /// reading more is then an error at once.
    pub fn bound(&mut self, size: u64) {
        self.expect_size.get_or_insert(size);
    }

    /// Bytes read so far and their CRC.
    pub fn progress(&self) -> (u64, u32) {
        (self.read, self.hasher.clone().finalize())
    }

    /// Reads whatever is left and checks size and CRC.
    pub fn finish(&mut self) -> io::Result<()> {
        io::copy(self, &mut io::sink()).map(|_| ())
    }

    /// The wrapped reader, to adjust it while reading.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The wrapped reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Ask for one byte more than the member may hold, so an over-long member is seen.
        let limit = match self.expect_size {
            Some(size) => (size - self.read.min(size) + 1).min(buf.len() as u64) as usize,
            None => buf.len(),
        };
        let n = self.inner.read(&mut buf[..limit])?;
        self.hasher.update(&buf[..n]);
        self.read += n as u64;
        if let Some(size) = self.expect_size {
            if self.read > size {
                return Err(invalid(format!(
                    "member is larger than its headers say ({size} bytes)"
                )));
            }
            if n == 0 && !buf.is_empty() && self.read < size {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("member is truncated ({} of {size} bytes)", self.read),
                ));
            }
        }
        if n == 0 && !buf.is_empty() {
            if let Some(crc) = self.expect_crc {
                if self.hasher.clone().finalize() != crc {
                    return Err(invalid("member is corrupt (zip CRC mismatch)".into()));
                }
            }
        }
        Ok(n)
    }
}

/// Opens the inflated bytes of `entry` in a seekable archive.
pub(crate) fn open_entry<R: Read + Seek + Send + 'static>(
    mut reader: R,
    entry: &EntryInfo,
) -> io::Result<Checked<Box<dyn Read + Send>>> {
    reader.seek(SeekFrom::Start(entry.data_start))?;
    let raw = BufReader::with_capacity(1 << 16, reader.take(entry.compressed_size));
    let inner: Box<dyn Read + Send> = if entry.deflated {
        Box::new(DeflateDecoder::new(raw))
    } else {
        Box::new(raw)
    };
    Ok(Checked::new(inner, Some(entry.size), Some(entry.crc32)))
}

/// One local entry of a zip read from a stream: what its local header says.
#[derive(Clone, Debug)]
pub(crate) struct LocalEntry {
    /// The name inside the zip.
    pub name: String,
    /// Deflated (else stored).
    pub deflated: bool,
    /// Sizes and CRC follow the data in a descriptor (bit 3): the header's are 0.
    pub descriptor: bool,
    /// ZIP64 sizes (8-byte descriptor fields).
    pub zip64: bool,
    /// Stored bytes, when the header gives them.
    pub compressed_size: Option<u64>,
    /// Inflated bytes, when the header gives them.
    pub size: Option<u64>,
    /// CRC, when the header gives it.
    pub crc32: Option<u32>,
}

/// Reads the next local file header from `r`, or `None` at the central directory.
pub(crate) fn next_local_header(r: &mut impl BufRead) -> io::Result<Option<LocalEntry>> {
    let mut sig = [0u8; 4];
    match r.read_exact(&mut sig) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            return Err(invalid(
                "zip archive ends without its central directory".into(),
            ))
        }
        Err(e) => return Err(e),
    }
    match u32::from_le_bytes(sig) {
        0x0403_4b50 => {}
        0x0201_4b50 | 0x0605_4b50 | 0x0606_4b50 => return Ok(None),
        _ => return Err(invalid("corrupt zip: bad local header signature".into())),
    }
    let mut h = [0u8; 26];
    r.read_exact(&mut h)?;
    let u16_at = |i: usize| u16::from_le_bytes([h[i], h[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    let (flags, method) = (u16_at(2), u16_at(4));
    let (crc, csize, usize_) = (u32_at(10), u32_at(14), u32_at(18));
    let (name_len, extra_len) = (u16_at(22) as usize, u16_at(24) as usize);
    let mut name = vec![0u8; name_len];
    r.read_exact(&mut name)?;
    let mut extra = vec![0u8; extra_len];
    r.read_exact(&mut extra)?;
    let name = String::from_utf8_lossy(&name).into_owned();
    let deflated = match method {
        0 => false,
        8 => true,
        m => {
            return Err(invalid(format!(
                "member {} uses zip compression method {m}; only stored and deflated are supported",
                quote(&name)
            )))
        }
    };
    let (mut size, mut compressed) = (usize_ as u64, csize as u64);
    let zip64 = zip64_sizes(&extra, &mut size, &mut compressed);
    let descriptor = flags & 8 != 0;
    let known = |v: u64| (!descriptor || v != 0).then_some(v);
    Ok(Some(LocalEntry {
        name,
        deflated,
        descriptor,
        zip64,
        compressed_size: known(compressed),
        size: known(size),
        crc32: (!descriptor || crc != 0).then_some(crc),
    }))
}

/// Reads ZIP64 sizes from an extra field into `size`/`compressed` where those are 0xFFFFFFFF;
/// returns whether a ZIP64 field was present.
fn zip64_sizes(extra: &[u8], size: &mut u64, compressed: &mut u64) -> bool {
    let mut rest = extra;
    while rest.len() >= 4 {
        let id = u16::from_le_bytes([rest[0], rest[1]]);
        let len = (u16::from_le_bytes([rest[2], rest[3]]) as usize).min(rest.len() - 4);
        let body = &rest[4..4 + len];
        if id == 0x0001 {
            let mut fields = body
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
            if *size == 0xFFFF_FFFF {
                *size = fields.next().unwrap_or(*size);
            }
            if *compressed == 0xFFFF_FFFF {
                *compressed = fields.next().unwrap_or(*compressed);
            }
            return true;
        }
        rest = &rest[4 + len..];
    }
    false
}

/// Reads a data descriptor after an entry's data and checks it against what was read.
pub(crate) fn check_descriptor(
    r: &mut impl Read,
    entry: &LocalEntry,
    read: u64,
    crc: u32,
) -> io::Result<()> {
    let field = if entry.zip64 { 8 } else { 4 };
    let mut buf = [0u8; 24];
    r.read_exact(&mut buf[..4])?;
    let mut at = 0;
    let total = 4 + 2 * field;
    if u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) == 0x0807_4b50 {
        r.read_exact(&mut buf[..total])?;
    } else {
        r.read_exact(&mut buf[4..total])?;
    }
    let got_crc = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
    at += 4 + field;
    let size = if entry.zip64 {
        u64::from_le_bytes(buf[at..at + 8].try_into().unwrap_or([0; 8]))
    } else {
        u32::from_le_bytes(buf[at..at + 4].try_into().unwrap_or([0; 4])) as u64
    };
    if got_crc != crc {
        return Err(invalid("member is corrupt (zip CRC mismatch)".into()));
    }
    if size != read {
        return Err(invalid(format!(
            "member is {read} bytes but its zip descriptor says {size}"
        )));
    }
    Ok(())
}
