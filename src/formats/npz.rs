//! NumPy inputs and outputs: `.npz` archives (stored or deflated members, either byte order,
//! C or Fortran order) and bare `.npy` arrays, read from files or streamed from a pipe, and
//! written to files, FIFOs or standard output.
//!
//! The trajectory member streams a chunk of frames at a time; the other members of an input
//! archive ride along to the output unchanged (their data are verified against their CRC as
//! they are copied). Every size an `.npy` header claims is checked against the bytes the member
//! really holds before anything is allocated.

use super::npy::{Dtype, NpyCodec, NpyHeader};
use super::zipread::{self, Checked, EntryInfo, LocalEntry};
use super::{ChunkBytes, FrameDecoder, FrameSource, RawChunk, TrajMeta};
use crate::io::output::io_reason;
use crate::text::quote;
use anyhow::{anyhow, bail, Result};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tempfile::SpooledTempFile;

/// Extra members held in memory up to this size each, then in a temporary file.
const SPOOL_IN_MEMORY: usize = 16 << 20;

/// A member of an input archive that is not the trajectory, read (and CRC-checked) for
/// copying into the output.
pub struct ExtraMember {
    /// The name inside the zip, as stored (`masses.npy`).
    pub name: String,
    /// Deflated in the input (the output deflates it too).
    pub deflated: bool,
    /// Its inflated bytes.
    pub data: SpooledTempFile,
}

/// A member of an input: its key (the name without `.npy`), where it is, and its header.
#[derive(Clone, Debug)]
pub struct Member {
    /// The key numpy shows (`arr` for `arr.npy`).
    pub key: String,
    /// Where it is in the archive (None for a bare `.npy`).
    pub entry: Option<EntryInfo>,
    /// Its `.npy` header, or why it could not be read.
    pub header: Result<NpyHeader, String>,
}

impl Member {
    /// `key (frames, points, dims) <f4`, for lists of members in messages.
    fn summary(&self) -> String {
        let key = crate::text::escape(&self.key);
        match &self.header {
            Ok(h) => format!("{key} {} {}", h.shape_str(), crate::text::escape(&h.descr)),
            Err(_) => format!("{key} (not an array)"),
        }
    }

    /// Bytes the member holds (inflated).
    fn size(&self, file_len: u64) -> u64 {
        self.entry.as_ref().map_or(file_len, |e| e.size)
    }
}

/// An `.npz` or `.npy` file on disk: its members and headers, read once at open.
pub struct NpzFile {
    /// The input as named in messages.
    pub name: String,
    path: PathBuf,
    /// A zip archive (else a bare `.npy`).
    pub is_zip: bool,
    /// Array members in archive order.
    pub members: Vec<Member>,
    file_len: u64,
}

impl NpzFile {
    /// Opens `path` (`name` for messages): checks that it is a zip or an `.npy` and reads every
    /// member's header.
    pub fn open(path: &Path, name: &str) -> Result<NpzFile> {
        let open = || {
            File::open(path).map_err(|e| anyhow!("{name}: cannot open input: {}", io_reason(&e)))
        };
        let mut file = open()?;
        let file_len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut magic = [0u8; 6];
        let n = read_up_to(&mut file, &mut magic)
            .map_err(|e| anyhow!("{name}: cannot read: {}", io_reason(&e)))?;
        let is_zip = n >= 4 && (&magic[..4] == b"PK\x03\x04" || &magic[..4] == b"PK\x05\x06");
        let members = if is_zip {
            let entries = zipread::list_entries(BufReader::new(open()?))
                .map_err(|e| anyhow!("{name}: {e}"))?;
            let names: Vec<String> = entries.iter().map(|e| e.name.clone()).collect();
            key_clash(&names).map_err(|e| anyhow!("{name}: {e}"))?;
            let mut members = Vec::with_capacity(entries.len());
            for entry in entries {
                let header = zipread::open_entry(open()?, &entry)
                    .map_err(|e| e.to_string())
                    .and_then(|mut s| NpyHeader::read_from(&mut s));
                let key = entry
                    .name
                    .strip_suffix(".npy")
                    .unwrap_or(&entry.name)
                    .to_string();
                members.push(Member {
                    key,
                    entry: Some(entry),
                    header,
                });
            }
            members
        } else if n == 6 && &magic == b"\x93NUMPY" {
            let header = NpyHeader::read_from(&mut BufReader::new(open()?));
            vec![Member {
                key: "arr".into(),
                entry: None,
                header,
            }]
        } else {
            bail!("{name}: not an .npz (zip) or .npy file");
        };
        Ok(NpzFile {
            name: name.to_string(),
            path: path.to_path_buf(),
            is_zip,
            members,
            file_len,
        })
    }

    /// One entry per member: key, shape and dtype, for messages.
    pub fn summary(&self) -> String {
        let all: Vec<String> = self.members.iter().take(12).map(Member::summary).collect();
        let more = if self.members.len() > 12 { ", …" } else { "" };
        format!("{}{more}", all.join(", "))
    }

    /// The member named `key` as numpy resolves it: a member stored under exactly that name
    /// first, else `key.npy`.
    pub fn member(&self, key: &str) -> Option<&Member> {
        self.members
            .iter()
            .find(|m| m.entry.as_ref().is_some_and(|e| e.name == key))
            .or_else(|| self.members.iter().find(|m| m.key == key))
    }

    /// The trajectory member: `key` if given; else `arr`; else the only 3-D float member.
    pub fn choose(&self, key: Option<&str>) -> Result<&Member> {
        let name = &self.name;
        if let Some(k) = key {
            return self.member(k).ok_or_else(|| {
                anyhow!(
                    "{name}: no array {} (members: {})",
                    quote(k),
                    self.summary()
                )
            });
        }
        if let Some(m) = self.member("arr") {
            return Ok(m);
        }
        let candidates: Vec<&Member> = self
            .members
            .iter()
            .filter(|m| {
                m.header
                    .as_ref()
                    .is_ok_and(|h| h.shape.len() == 3 && Dtype::from_descr(&h.descr).is_ok())
            })
            .collect();
        match candidates.as_slice() {
            [one] => Ok(one),
            [] if self.members.is_empty() => bail!("{name}: the archive holds no arrays"),
            [] => bail!(
                "{name}: no 3-D float array to align (members: {}); choose one with --key",
                self.summary()
            ),
            _ => bail!(
                "{name}: several 3-D float arrays (members: {}); choose one with --key",
                self.summary()
            ),
        }
    }

    /// The member's inflated bytes (header included) as a checked stream.
    fn open_member(&self, member: &Member) -> Result<Checked<Box<dyn Read + Send>>> {
        let file = File::open(&self.path)
            .map_err(|e| anyhow!("{}: cannot open input: {}", self.name, io_reason(&e)))?;
        match &member.entry {
            Some(entry) => zipread::open_entry(file, entry)
                .map_err(|e| anyhow!("{}: array {}: {e}", self.name, quote(&member.key))),
            None => Ok(Checked::new(
                Box::new(BufReader::with_capacity(1 << 16, file)) as Box<dyn Read + Send>,
                Some(self.file_len),
                None,
            )),
        }
    }

    /// The header of `member` and its data length, checked against the bytes the member holds.
    fn checked_header(&self, member: &Member) -> Result<(NpyHeader, Dtype, u64)> {
        let what = format!("{}: array {}", self.name, quote(&member.key));
        let header = member
            .header
            .clone()
            .map_err(|e| anyhow!("{what} is not a readable .npy: {e}"))?;
        let dtype = Dtype::from_descr(&header.descr).map_err(|e| anyhow!("{what}: {e}"))?;
        let data = header
            .data_len(dtype.size())
            .map_err(|e| anyhow!("{what}: {e}"))?;
        let have = member
            .size(self.file_len)
            .saturating_sub(header.header_len as u64);
        if data > have {
            bail!(
                "{what} is truncated: shape {} needs {data} bytes of data but the member holds {have}",
                header.shape_str()
            );
        }
        Ok((header, dtype, data))
    }

    /// Reads a small whole array (masses, a reference structure, a box) as f64, after checking
    /// that its shape is one of `allowed` (so nothing larger than expected is ever allocated).
    /// `label` names the array's role in messages (`masses`, `reference`).
    pub fn read_array(
        &self,
        member: &Member,
        allowed: &dyn Fn(&[usize]) -> bool,
        expected: &str,
        label: &str,
    ) -> Result<(Vec<usize>, Vec<f64>)> {
        let what = format!("{}: {label} {}", self.name, quote(&member.key));
        let (header, dtype, data) = self.checked_header(member).map_err(|e| {
            anyhow!(
                "{}",
                e.to_string().replacen(
                    &format!("array {}", quote(&member.key)),
                    &format!("{label} {}", quote(&member.key)),
                    1
                )
            )
        })?;
        if !allowed(&header.shape) {
            bail!("{what}: shape {} is not {expected}", header.shape_str());
        }
        let mut stream = self.open_member(member)?;
        io::copy(
            &mut (&mut stream).take(header.header_len as u64),
            &mut io::sink(),
        )?;
        let mut bytes = vec![0u8; data as usize];
        stream
            .read_exact(&mut bytes)
            .map_err(|e| anyhow!("{what}: data truncated or corrupt: {e}"))?;
        stream.finish().map_err(|e| anyhow!("{what}: {e}"))?;
        let mut values = vec![0.0; bytes.len() / dtype.size()];
        dtype.decode(&bytes, &mut values);
        if header.fortran_order && header.shape.len() == 2 {
            values = transpose(&values, header.shape[1], header.shape[0]);
        } else if header.fortran_order && header.shape.len() > 2 {
            bail!(
                "{what}: Fortran-order arrays of more than two dimensions are not supported here"
            );
        }
        Ok((header.shape, values))
    }

    /// Opens the trajectory `member` as a frame source. `source_name` names it in messages.
    pub fn source(&self, member: &Member) -> Result<Box<dyn FrameSource<'static>>> {
        let (header, dtype, _) = self.checked_header(member)?;
        let meta = trajectory_meta(&self.name, &member.key, &header, dtype)?;
        let codec = Arc::new(NpyCodec {
            dtype,
            frame_len: meta.frame_len(),
            dims: meta.dims,
        });
        let mut stream = self.open_member(member)?;
        if header.fortran_order {
            return Ok(Box::new(FortranSource::new(
                self,
                member,
                meta,
                codec,
                header.header_len,
            )?));
        }
        io::copy(
            &mut (&mut stream).take(header.header_len as u64),
            &mut io::sink(),
        )?;
        let extras = if self.is_zip {
            let skip = member.entry.as_ref().map(|e| e.name.clone());
            Extras::File {
                file: self.clone_handle(),
                skip,
            }
        } else {
            Extras::None
        };
        Ok(Box::new(StreamSource {
            meta,
            codec,
            data: Box::new(stream),
            next: 0,
            extras,
        }))
    }

    fn clone_handle(&self) -> NpzFile {
        NpzFile {
            name: self.name.clone(),
            path: self.path.clone(),
            is_zip: self.is_zip,
            members: self.members.clone(),
            file_len: self.file_len,
        }
    }

    /// Reads every member but `skip` for copying into the output.
    fn extras(&self, skip: Option<&str>) -> Result<Vec<ExtraMember>> {
        let mut out = Vec::new();
        for m in &self.members {
            let Some(entry) = &m.entry else { continue };
            if Some(entry.name.as_str()) == skip {
                continue;
            }
            let mut stream = self.open_member(m)?;
            let mut data = SpooledTempFile::new(SPOOL_IN_MEMORY);
            io::copy(&mut stream, &mut data)
                .map_err(|e| anyhow!("{}: member {}: {e}", self.name, quote(&entry.name)))?;
            out.push(ExtraMember {
                name: entry.name.clone(),
                deflated: entry.deflated,
                data,
            });
        }
        Ok(out)
    }
}

/// Refuses two members that numpy would show under one key (`arr` beside `arr.npy`, or a name
/// stored twice): numpy reads one and hides the other, so which one is meant is unknowable.
fn key_clash(names: &[String]) -> Result<(), String> {
    let key = |n: &str| n.strip_suffix(".npy").unwrap_or(n).to_string();
    for (i, a) in names.iter().enumerate() {
        if let Some(b) = names[..i].iter().find(|b| key(b) == key(a)) {
            return Err(format!(
                "members {} and {} both hold array {} (numpy would read only one); rename one",
                quote(b),
                quote(a),
                quote(&key(a))
            ));
        }
    }
    Ok(())
}

/// The trajectory's meta from its header: float32/float64, 3-D, frames ≥ 1, points ≥ 1, dims ≥ 2.
pub(crate) fn trajectory_meta(
    source: &str,
    key: &str,
    header: &NpyHeader,
    dtype: Dtype,
) -> Result<TrajMeta> {
    let what = format!("{source}: array {}", quote(key));
    // Sizes that overflow are refused here, so that `frames × points × dims` products are
    // safe everywhere after.
    header
        .data_len(dtype.size())
        .map_err(|e| anyhow!("{what}: {e}"))?;
    let [frames, points, dims] = header.shape[..] else {
        bail!(
            "{what}: shape {} is {}-D; a trajectory is 3-D (frames, points, dims)",
            header.shape_str(),
            header.shape.len()
        );
    };
    let shape = header.shape_str();
    if frames == 0 {
        bail!("{what}: shape {shape} has zero frames");
    }
    if points == 0 {
        bail!("{what}: shape {shape} has zero points");
    }
    if dims < 2 {
        bail!("{what}: shape {shape} has dims {dims}; at least 2 are needed");
    }
    Ok(TrajMeta {
        source: source.to_string(),
        key: key.to_string(),
        frames,
        points,
        dims,
        width: dtype.width,
        big_endian: dtype.big_endian,
        unit: "",
        dt: None,
    })
}

fn transpose(values: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    // `values` is column-major (rows × cols as stored by Fortran order of a (cols, rows) view).
    let mut out = vec![0.0; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = values[r * cols + c];
        }
    }
    out
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

/// Reads exactly `n` bytes into `buf`, growing it as data arrive (so a size lie costs no more
/// memory than the bytes really there); a recycled buffer of the right size is not cleared.
fn read_exact_growing(r: &mut dyn Read, buf: &mut Vec<u8>, n: usize) -> io::Result<()> {
    const STEP: usize = 64 << 20;
    let mut filled = 0;
    while filled < n {
        let want = (n - filled).min(STEP);
        if buf.len() < filled + want {
            buf.resize(filled + want, 0);
        }
        r.read_exact(&mut buf[filled..filled + want])?;
        filled += want;
    }
    buf.truncate(n);
    Ok(())
}

/// The data of an `.npy` member as a stream that can verify itself once read to the end.
trait MemberData: Read + Send {
    /// Reads what is left and verifies size and CRC.
    fn verify(&mut self) -> io::Result<()>;
    /// The archive's other members, once the data are read (piped archives).
    fn rest(&mut self) -> Result<Vec<ExtraMember>, String> {
        Ok(Vec::new())
    }
}

impl<R: Read + Send> MemberData for Checked<R> {
    fn verify(&mut self) -> io::Result<()> {
        self.finish()
    }
}

/// A member's data whose first bytes were read ahead (see `stream_source`).
struct Prefetched {
    head: io::Cursor<Vec<u8>>,
    rest: Box<dyn MemberData>,
}

impl Read for Prefetched {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.head.read(buf)? {
            0 => self.rest.read(buf),
            n => Ok(n),
        }
    }
}

impl MemberData for Prefetched {
    fn verify(&mut self) -> io::Result<()> {
        io::copy(&mut self.head, &mut io::sink())?;
        self.rest.verify()
    }

    fn rest(&mut self) -> Result<Vec<ExtraMember>, String> {
        self.rest.rest()
    }
}

/// Where the other members come from, once the frames are read.
enum Extras {
    None,
    File { file: NpzFile, skip: Option<String> },
}

/// C-order frames streamed from a member (file or pipe).
struct StreamSource {
    meta: TrajMeta,
    codec: Arc<NpyCodec>,
    data: Box<dyn MemberData>,
    next: usize,
    extras: Extras,
}

impl FrameSource<'static> for StreamSource {
    fn meta(&self) -> &TrajMeta {
        &self.meta
    }

    fn decoder(&self) -> Arc<dyn FrameDecoder> {
        self.codec.clone()
    }

    fn read(&mut self, max: usize, mut buf: Vec<u8>) -> Result<Option<RawChunk<'static>>> {
        let m = &self.meta;
        let n = max.max(1).min(m.frames - self.next);
        if n == 0 {
            self.data
                .verify()
                .map_err(|e| anyhow!("{}: {e}", m.what()))?;
            return Ok(None);
        }
        let frame_bytes = FrameDecoder::frame_bytes(&*self.codec).unwrap_or(0);
        if let Err(e) = read_exact_growing(&mut self.data, &mut buf, n * frame_bytes) {
            bail!(
                "{}: data truncated or corrupt in frames {}..{}: {e}",
                m.what(),
                self.next,
                self.next + n
            );
        }
        self.next += n;
        Ok(Some(RawChunk {
            first: 0,
            frames: n,
            bytes: ChunkBytes::Owned(buf),
            offsets: Vec::new(),
        }))
    }

    fn skip(&mut self, n: usize) -> Result<()> {
        let n = n.min(self.meta.frames - self.next);
        let bytes = (n as u64) * FrameDecoder::frame_bytes(&*self.codec).unwrap_or(0) as u64;
        let copied = io::copy(&mut (&mut self.data).take(bytes), &mut io::sink())
            .map_err(|e| anyhow!("{}: {e}", self.meta.what()))?;
        if copied < bytes {
            bail!("{}: data truncated", self.meta.what());
        }
        self.next += n;
        Ok(())
    }

    fn extras(&mut self) -> Result<Vec<ExtraMember>> {
        match std::mem::replace(&mut self.extras, Extras::None) {
            Extras::None => Ok(Vec::new()),
            Extras::File { file, skip } => file.extras(skip.as_deref()),
        }
        .and_then(|mut v| {
            let more = self
                .data
                .rest()
                .map_err(|e| anyhow!("{}: {e}", self.meta.source))?;
            v.extend(more);
            Ok(v)
        })
    }
}

/// A temporary file of inflated data, registered for removal on a signal or a panic (removed
/// when dropped).
struct Inflated(tempfile::NamedTempFile);

impl Inflated {
    fn new(file: tempfile::NamedTempFile) -> Inflated {
        crate::io::cleanup::register(file.path());
        Inflated(file)
    }
}

impl Drop for Inflated {
    fn drop(&mut self) {
        crate::io::cleanup::unregister(self.0.path());
    }
}

/// Fortran-order frames: each chunk gathered from the `points × dims` columns of the member by
/// positional reads (a deflated member is first inflated into a temporary file), so a chunk
/// costs one chunk of memory whatever the array size.
struct FortranSource {
    meta: TrajMeta,
    codec: Arc<NpyCodec>,
    file: File,
    base: u64,
    next: usize,
    verify: Option<Checked<Box<dyn Read + Send>>>,
    extras: Extras,
    _inflated: Option<Inflated>,
}

impl FortranSource {
    fn new(
        npz: &NpzFile,
        member: &Member,
        meta: TrajMeta,
        codec: Arc<NpyCodec>,
        header_len: usize,
    ) -> Result<FortranSource> {
        let stored_in_file = member.entry.as_ref().is_none_or(|e| !e.deflated);
        let (file, base, inflated) = if stored_in_file {
            let file = File::open(&npz.path)?;
            let start = member.entry.as_ref().map_or(0, |e| e.data_start);
            (file, start + header_len as u64, None)
        } else {
            let dir = npz
                .path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let mut builder = tempfile::Builder::new();
            builder.prefix(".aligntraj-inflated-").suffix(".tmp");
            let mut tmp = Inflated::new(
                builder
                    .tempfile_in(dir)
                    .or_else(|_| builder.tempfile())
                    .map_err(|e| {
                        anyhow!("{}: cannot inflate Fortran-order data: {e}", meta.what())
                    })?,
            );
            let mut stream = npz.open_member(member)?;
            io::copy(&mut stream, tmp.0.as_file_mut())
                .map_err(|e| anyhow!("{}: {e}", meta.what()))?;
            (tmp.0.reopen()?, header_len as u64, Some(tmp))
        };
        let verify = if stored_in_file {
            Some(npz.open_member(member)?)
        } else {
            None
        };
        let skip = member.entry.as_ref().map(|e| e.name.clone());
        Ok(FortranSource {
            meta,
            codec,
            file,
            base,
            next: 0,
            verify,
            extras: if npz.is_zip {
                Extras::File {
                    file: npz.clone_handle(),
                    skip,
                }
            } else {
                Extras::None
            },
            _inflated: inflated,
        })
    }
}

impl FrameSource<'static> for FortranSource {
    fn meta(&self) -> &TrajMeta {
        &self.meta
    }

    fn decoder(&self) -> Arc<dyn FrameDecoder> {
        self.codec.clone()
    }

    fn read(&mut self, max: usize, mut buf: Vec<u8>) -> Result<Option<RawChunk<'static>>> {
        use std::os::unix::fs::FileExt;
        let m = &self.meta;
        let n = max.max(1).min(m.frames - self.next);
        if n == 0 {
            if let Some(v) = self.verify.as_mut() {
                v.finish().map_err(|e| anyhow!("{}: {e}", m.what()))?;
            }
            return Ok(None);
        }
        let size = self.codec.dtype.size();
        let columns = m.frame_len();
        buf.resize(n * columns * size, 0);
        let mut run = vec![0u8; n * size];
        for c in 0..columns {
            // Element [f, p, d] of a Fortran-order array is at f + F·(p + P·d).
            let (p, d) = (c / m.dims, c % m.dims);
            let column = p + m.points * d;
            let at = self.base + ((column * m.frames + self.next) * size) as u64;
            self.file.read_exact_at(&mut run, at).map_err(|e| {
                anyhow!("{}: data truncated or corrupt: {}", m.what(), io_reason(&e))
            })?;
            for (i, v) in run.chunks_exact(size).enumerate() {
                let o = (i * columns + c) * size;
                buf[o..o + size].copy_from_slice(v);
            }
        }
        self.next += n;
        Ok(Some(RawChunk {
            first: 0,
            frames: n,
            bytes: ChunkBytes::Owned(buf),
            offsets: Vec::new(),
        }))
    }

    fn skip(&mut self, n: usize) -> Result<()> {
        self.next += n.min(self.meta.frames - self.next);
        Ok(())
    }

    fn extras(&mut self) -> Result<Vec<ExtraMember>> {
        match std::mem::replace(&mut self.extras, Extras::None) {
            Extras::File { file, skip } => file.extras(skip.as_deref()),
            _ => Ok(Vec::new()),
        }
    }
}

/// Reading an archive from a pipe: local headers in order.
struct StreamZip {
    r: Option<BufReader<Box<dyn Read + Send>>>,
    before: Vec<ExtraMember>,
    /// Names of the entries seen so far (to refuse a key clash).
    names: Vec<String>,
}

/// An entry's data read from a pipe: stored or deflated.
enum EntryData {
    Stored(io::Take<BufReader<Box<dyn Read + Send>>>),
    Deflated(flate2::bufread::DeflateDecoder<BufReader<Box<dyn Read + Send>>>),
}

impl Read for EntryData {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            EntryData::Stored(r) => r.read(buf),
            EntryData::Deflated(r) => r.read(buf),
        }
    }
}

impl EntryData {
    fn open(r: BufReader<Box<dyn Read + Send>>, entry: &LocalEntry) -> EntryData {
        if entry.deflated {
            EntryData::Deflated(flate2::bufread::DeflateDecoder::new(r))
        } else {
            EntryData::Stored(r.take(entry.compressed_size.unwrap_or(u64::MAX)))
        }
    }

    fn into_reader(self) -> BufReader<Box<dyn Read + Send>> {
        match self {
            EntryData::Stored(t) => t.into_inner(),
            EntryData::Deflated(d) => d.into_inner(),
        }
    }
}

/// Copies what a reader hands out, so the raw bytes of a header can be kept.
struct Recorder<'r, R> {
    inner: &'r mut R,
    seen: Vec<u8>,
}

impl<R: Read> Read for Recorder<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.seen.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

/// An open entry of a piped archive: its local header, its data (positioned after the `.npy`
/// header) and that header, parsed and raw.
struct OpenEntry {
    entry: LocalEntry,
    data: Checked<EntryData>,
    header: NpyHeader,
    raw_header: Vec<u8>,
}

impl StreamZip {
    /// Opens the next entry and reads its `.npy` header; a stored entry of unknown length (a
    /// streamed zip) gets its length from that header.
    fn open_entry(&mut self) -> Result<Option<OpenEntry>, String> {
        let mut r = self.r.take().ok_or("internal: stream already consumed")?;
        let Some(entry) = zipread::next_local_header(&mut r).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        self.names.push(entry.name.clone());
        key_clash(&self.names)?;
        let mut data = Checked::new(EntryData::open(r, &entry), entry.size, entry.crc32);
        let mut rec = Recorder {
            inner: &mut data,
            seen: Vec::new(),
        };
        let header = NpyHeader::read_from(&mut rec)
            .map_err(|e| format!("member {}: {e}", quote(&entry.name)))?;
        let raw_header = rec.seen;
        // Sizes given only in a data descriptor: the `.npy` header tells how long the member
        // is, so a stored member ends there and a deflated one stops one byte past it.
        let what = |e: String| format!("member {}: {e}", quote(&entry.name));
        let len = match super::npy::item_size(&header.descr) {
            Some(item) => Some(header.data_len(item as usize).map_err(what)?),
            None => None,
        };
        if entry.size.is_none() {
            if let Some(len) = len {
                data.bound(raw_header.len() as u64 + len);
            }
        }
        if !entry.deflated && entry.compressed_size.is_none() {
            let len = len.ok_or_else(|| {
                what("a stored member of unknown length (an object or structured array) cannot be streamed; give the file instead".into())
            })?;
            if let EntryData::Stored(t) = data.get_mut() {
                t.set_limit(len);
            }
        }
        Ok(Some(OpenEntry {
            entry,
            data,
            header,
            raw_header,
        }))
    }

    /// Ends an entry: reads it to its end, verifies size and CRC (from the local header or
    /// the data descriptor) and takes the reader back.
    fn close_entry(
        &mut self,
        entry: &LocalEntry,
        mut data: Checked<EntryData>,
    ) -> Result<(), String> {
        let what = |e: io::Error| format!("member {}: {e}", quote(&entry.name));
        data.finish().map_err(what)?;
        let (read, crc) = data.progress();
        let mut r = data.into_inner().into_reader();
        if entry.descriptor {
            zipread::check_descriptor(&mut r, entry, read, crc).map_err(what)?;
        }
        self.r = Some(r);
        Ok(())
    }

    /// Reads a whole entry (after its header) into a spool, header included.
    fn spool_entry(&mut self, open: OpenEntry) -> Result<ExtraMember, String> {
        let OpenEntry {
            entry,
            mut data,
            raw_header,
            ..
        } = open;
        let mut spool = SpooledTempFile::new(SPOOL_IN_MEMORY);
        let copied = spool
            .write_all(&raw_header)
            .and_then(|()| io::copy(&mut data, &mut spool));
        copied.map_err(|e| format!("member {}: {e}", quote(&entry.name)))?;
        self.close_entry(&entry, data)?;
        Ok(ExtraMember {
            name: entry.name,
            deflated: entry.deflated,
            data: spool,
        })
    }

    /// Reads every remaining member (after the trajectory) for copying into the output.
    fn rest(&mut self) -> Result<Vec<ExtraMember>, String> {
        let mut out = std::mem::take(&mut self.before);
        while let Some(open) = self.open_entry()? {
            out.push(self.spool_entry(open)?);
        }
        Ok(out)
    }
}

/// The trajectory member of a piped archive together with the archive, so that the members
/// after it can be read once the frames are done.
struct StreamMember {
    zip: Box<StreamZip>,
    entry: LocalEntry,
    data: Option<Checked<EntryData>>,
}

impl Read for StreamMember {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.data.as_mut() {
            Some(d) => d.read(buf),
            None => Ok(0),
        }
    }
}

impl MemberData for StreamMember {
    fn verify(&mut self) -> io::Result<()> {
        match self.data.take() {
            Some(data) => self
                .zip
                .close_entry(&self.entry, data)
                .map_err(io::Error::other),
            None => Ok(()),
        }
    }

    fn rest(&mut self) -> Result<Vec<ExtraMember>, String> {
        self.zip.rest()
    }
}

/// Opens a trajectory streamed from a pipe: a bare `.npy`, or an `.npz` whose members are read
/// in order (members before the trajectory are kept for the output; the trajectory is the
/// member `key`, else the first member holding a 3-D float array).
pub(crate) fn open_stream(
    stream: Box<dyn Read + Send>,
    name: &str,
    key: Option<&str>,
) -> Result<Box<dyn FrameSource<'static>>> {
    let mut r = BufReader::with_capacity(1 << 20, stream);
    let head = r
        .fill_buf()
        .map_err(|e| anyhow!("{name}: cannot read: {}", io_reason(&e)))?;
    if head.is_empty() {
        bail!("{name}: the input is empty (expected an .npz or .npy)");
    }
    if head.starts_with(b"\x93NUMPY") {
        let mut data = Checked::new(Box::new(r) as Box<dyn Read + Send>, None, None);
        let header = NpyHeader::read_from(&mut data).map_err(|e| anyhow!("{name}: {e}"))?;
        return stream_source(name, "arr", &header, Box::new(data));
    }
    if !head.starts_with(b"PK\x03\x04") {
        bail!("{name}: not an .npz (zip) or .npy stream");
    }
    let mut zip = Box::new(StreamZip {
        r: Some(r),
        before: Vec::new(),
        names: Vec::new(),
    });
    while let Some(open) = zip.open_entry().map_err(|e| anyhow!("{name}: {e}"))? {
        let name_in_zip = &open.entry.name;
        let member_key = name_in_zip
            .strip_suffix(".npy")
            .unwrap_or(name_in_zip)
            .to_string();
        let is_traj = match key {
            Some(k) => name_in_zip == k || member_key == k,
            None => open.header.shape.len() == 3 && Dtype::from_descr(&open.header.descr).is_ok(),
        };
        if !is_traj {
            let extra = zip.spool_entry(open).map_err(|e| anyhow!("{name}: {e}"))?;
            zip.before.push(extra);
            continue;
        }
        let OpenEntry {
            entry,
            data,
            header,
            ..
        } = open;
        let member = StreamMember {
            zip,
            entry,
            data: Some(data),
        };
        return stream_source(name, &member_key, &header, Box::new(member));
    }
    match key {
        Some(k) => bail!("{name}: no array {} in the stream", quote(k)),
        None => bail!("{name}: no 3-D float array in the stream; choose one with --key"),
    }
}

fn stream_source(
    name: &str,
    key: &str,
    header: &NpyHeader,
    data: Box<dyn MemberData>,
) -> Result<Box<dyn FrameSource<'static>>> {
    let dtype = Dtype::from_descr(&header.descr)
        .map_err(|e| anyhow!("{name}: array {}: {e}", quote(key)))?;
    if header.fortran_order {
        bail!("{name}: array {}: Fortran-order data cannot be streamed from a pipe; give the file instead", quote(key));
    }
    let meta = trajectory_meta(name, key, header, dtype)?;
    // A pipe's length is unknown: the first frame is read before the source is handed out,
    // so that nothing sized by the header (points, weights) is allocated before the bytes
    // that justify it have arrived.
    let mut data = data;
    let mut head = Vec::new();
    read_exact_growing(&mut data, &mut head, meta.frame_len() * dtype.size())
        .map_err(|e| anyhow!("{}: data truncated or corrupt in frame 0: {e}", meta.what()))?;
    let data = Box::new(Prefetched {
        head: io::Cursor::new(head),
        rest: data,
    });
    Ok(Box::new(StreamSource {
        codec: Arc::new(NpyCodec {
            dtype,
            frame_len: meta.frame_len(),
            dims: meta.dims,
        }),
        meta,
        data,
        next: 0,
        extras: Extras::None,
    }))
}
