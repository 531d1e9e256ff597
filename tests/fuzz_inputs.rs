//! A seeded mutation fuzzer on the stable toolchain (issue 9): valid inputs (stored and deflated
//! npz, float32/float64, big-endian, Fortran order, a bare `.npy`, a `masses` member, a streamed
//! npz as written to standard output) are mutated (byte flips, truncations, insertions, `.npy`
//! header edits, size lies in zip headers and descriptors, member renames, zip bombs) and each
//! mutant is run through the binary under an address-space limit and a timeout.
//!
//! Every run must end with exit 0 and an output an independent reader accepts (finite values),
//! or exit 1 with one short `error:` line free of control characters; never a panic or a signal,
//! never a temporary file left behind, never a changed output after a failure.
//!
//! `FUZZ_ITERS=N` sets the number of mutants (default 3,000), `FUZZ_SEED=S` the seed,
//! `FUZZ_JOBS=J` the parallel runs, `FUZZ_BIN=PATH` a copy of the binary to run; failing
//! mutants are saved under `target/fuzz-failures/` with the command that failed.

mod common;

use common::{deflated, npy, npy_fortran3, npz_bytes, parse_npy, stored, zip_members, Enc};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Address-space limit of each run.
const MEMORY_LIMIT: u64 = 1 << 30;
/// Longest a run may take.
const TIMEOUT: Duration = Duration::from_secs(20);
/// Longest acceptable message line (300 characters plus `error: ` and the cut mark).
const LINE_MAX: usize = 320;
/// The bytes an output path holds before each run.
const SENTINEL: &[u8] = b"sentinel: an existing output that a failed run must not touch\n";

/// SplitMix64: a small seeded generator, so that mutant `i` is the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// One member of a model archive.
#[derive(Clone, Debug)]
struct ModelMember {
    name: String,
    npy: Vec<u8>,
    deflate: bool,
}

/// A valid input as a structure (so that mutations can edit fields and rebuild it).
#[derive(Clone, Debug)]
struct Model {
    /// A bare `.npy` (the first member alone) rather than a zip.
    bare: bool,
    /// Zip written with data descriptors (as streamed to a pipe).
    descriptors: bool,
    members: Vec<ModelMember>,
}

/// A seed: its model, its bytes as given (for byte-level mutations) and how it may be run.
struct Seed {
    label: &'static str,
    model: Model,
    bytes: Vec<u8>,
    has_masses: bool,
}

fn member(name: &str, npy: Vec<u8>, deflate: bool) -> ModelMember {
    ModelMember {
        name: name.into(),
        npy,
        deflate,
    }
}

/// The valid inputs mutants start from.
fn seeds() -> Vec<Seed> {
    let shape = [4, 5, 3];
    let values = common::drifting(4, 5, 3, 7);
    let masses = npy(Enc::F64Le, &[5], &[1.0, 2.0, 12.0, 1.0, 16.0]);
    let model = |bare, descriptors, members| Model {
        bare,
        descriptors,
        members,
    };
    let one = |npy: Vec<u8>, deflate| model(false, false, vec![member("arr.npy", npy, deflate)]);
    let mut out: Vec<Seed> = [
        ("stored-f64", one(npy(Enc::F64Le, &shape, &values), false)),
        ("deflated-f32", one(npy(Enc::F32Le, &shape, &values), true)),
        ("big-endian", one(npy(Enc::F64Be, &shape, &values), false)),
        (
            "fortran",
            one(npy_fortran3(Enc::F32Le, shape, &values), false),
        ),
        (
            "fortran-deflated",
            one(npy_fortran3(Enc::F64Le, shape, &values), true),
        ),
        (
            "masses",
            model(
                false,
                false,
                vec![
                    member("masses.npy", masses.clone(), true),
                    member("arr.npy", npy(Enc::F32Be, &shape, &values), false),
                ],
            ),
        ),
        (
            "descriptors",
            model(
                false,
                true,
                vec![
                    member("arr.npy", npy(Enc::F32Le, &shape, &values), true),
                    member("masses.npy", masses.clone(), false),
                ],
            ),
        ),
        (
            "bare-npy",
            model(
                true,
                false,
                vec![member("arr.npy", npy(Enc::F32Le, &shape, &values), false)],
            ),
        ),
    ]
    .into_iter()
    .map(|(label, model)| Seed {
        label,
        bytes: build(&model),
        has_masses: model.members.iter().any(|m| m.name.starts_with("masses")),
        model,
    })
    .collect();
    out.push(streamed_seed(npz_bytes(&[
        stored("arr.npy", npy(Enc::F64Le, &shape, &values)),
        deflated("masses.npy", masses),
    ])));
    out
}

/// The archive the binary streams to standard output for `input` (data descriptors, the zip
/// crate's layout) as a seed.
fn streamed_seed(input: Vec<u8>) -> Seed {
    let streamed = streamed_output(&input);
    let members = zip_members(&streamed)
        .into_iter()
        .map(|(name, npy)| member(&name, npy, false))
        .collect();
    Seed {
        label: "streamed",
        model: Model {
            bare: false,
            descriptors: true,
            members,
        },
        bytes: streamed,
        has_masses: true,
    }
}

/// What `aligntraj center --com - -o -` writes for `input`.
fn streamed_output(input: &[u8]) -> Vec<u8> {
    let mut child = Command::new(binary())
        .args(["center", "--com", "-", "-o", "-", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run aligntraj");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "streaming a seed failed");
    out.stdout
}

/// Serialises a model: a bare `.npy`, or a zip written by hand (so that names may repeat and
/// hold anything) with or without data descriptors.
fn build(model: &Model) -> Vec<u8> {
    if model.bare {
        return model
            .members
            .first()
            .map(|m| m.npy.clone())
            .unwrap_or_default();
    }
    let entries: Vec<(String, Vec<u8>, u32, u64, bool)> = model
        .members
        .iter()
        .map(|m| {
            let data = if m.deflate {
                deflate(&m.npy)
            } else {
                m.npy.clone()
            };
            (
                m.name.clone(),
                data,
                crc(&m.npy),
                m.npy.len() as u64,
                m.deflate,
            )
        })
        .collect();
    write_zip(&entries, model.descriptors)
}

fn crc(bytes: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(bytes);
    h.finalize()
}

fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A zip of `(name, stored data, crc, inflated size, deflated)` entries.
fn write_zip(entries: &[(String, Vec<u8>, u32, u64, bool)], descriptors: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data, crc, size, deflated) in entries {
        let offset = out.len() as u32;
        let method: u16 = if *deflated { 8 } else { 0 };
        let flags: u16 = if descriptors { 8 } else { 0 };
        let (hcrc, hc, hu) = if descriptors {
            (0, 0, 0)
        } else {
            (*crc, data.len() as u32, *size as u32)
        };
        let mut local = Vec::new();
        local.extend_from_slice(b"PK\x03\x04");
        for v in [20u16, flags, method, 0, 0x21] {
            local.extend_from_slice(&v.to_le_bytes());
        }
        for v in [hcrc, hc, hu] {
            local.extend_from_slice(&v.to_le_bytes());
        }
        local.extend_from_slice(&(name.len() as u16).to_le_bytes());
        local.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&local);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        if descriptors {
            out.extend_from_slice(b"PK\x07\x08");
            for v in [*crc, data.len() as u32, *size as u32] {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        central.extend_from_slice(b"PK\x01\x02");
        for v in [20u16, 20, flags, method, 0, 0x21] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        for v in [*crc, data.len() as u32, *size as u32] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        for v in [name.len() as u16, 0, 0, 0, 0] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        central.extend_from_slice(&0o100644u32.wrapping_shl(16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
    let n = entries.len() as u16;
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// The mutation classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    Flip,
    Truncate,
    Insert,
    NpyHeader,
    SizeLie,
    Rename,
    Bomb,
}

const CLASSES: [Class; 7] = [
    Class::Flip,
    Class::Truncate,
    Class::Insert,
    Class::NpyHeader,
    Class::SizeLie,
    Class::Rename,
    Class::Bomb,
];

/// One mutant: its bytes and what it was made by.
struct Mutant {
    class: Class,
    bytes: Vec<u8>,
    note: String,
}

fn mutate(seed: &Seed, rng: &mut Rng) -> Mutant {
    let class = *rng.pick(&CLASSES);
    let mut bytes = seed.bytes.clone();
    let note = match class {
        Class::Flip => flip(&mut bytes, rng),
        Class::Truncate => {
            let at = rng.below(bytes.len());
            bytes.truncate(at);
            format!("truncated at {at}")
        }
        Class::Insert => insert(&mut bytes, rng),
        Class::NpyHeader => {
            let mut model = seed.model.clone();
            let note = edit_npy_header(&mut model, rng);
            bytes = build(&model);
            note
        }
        Class::SizeLie => size_lie(&mut bytes, rng),
        Class::Rename => {
            let mut model = seed.model.clone();
            let note = rename(&mut model, rng);
            bytes = build(&model);
            note
        }
        Class::Bomb => {
            let (b, note) = bomb(&seed.model, rng);
            bytes = b;
            note
        }
    };
    // Now and then a second, byte-level mutation on top (a structural edit plus a flip).
    let note = if rng.chance(15) && !bytes.is_empty() {
        format!("{note}; then {}", flip(&mut bytes, rng))
    } else {
        note
    };
    Mutant { class, bytes, note }
}

fn flip(bytes: &mut [u8], rng: &mut Rng) -> String {
    let n = 1 + rng.below(4);
    let mut at = Vec::new();
    for _ in 0..n {
        let i = rng.below(bytes.len());
        match rng.below(3) {
            0 => bytes[i] ^= 1 << rng.below(8),
            1 => bytes[i] = *rng.pick(&[0, 0xFF, 0x7F, 0x80, b'9', b'(', b',', b'\'']),
            _ => bytes[i] = rng.next() as u8,
        }
        at.push(i);
    }
    format!("flipped bytes at {at:?}")
}

fn insert(bytes: &mut Vec<u8>, rng: &mut Rng) -> String {
    let at = rng.below(bytes.len() + 1);
    let len = *rng.pick(&[1, 2, 4, 17, 64, 1000]);
    let fill: Vec<u8> = match rng.below(3) {
        0 => vec![0; len],
        1 => (0..len).map(|_| rng.next() as u8).collect(),
        _ => bytes[at.saturating_sub(len)..at].to_vec(),
    };
    bytes.splice(at..at, fill);
    format!("inserted {len} bytes at {at}")
}

/// Offsets of every occurrence of `sig`.
fn find_all(bytes: &[u8], sig: &[u8]) -> Vec<usize> {
    bytes
        .windows(sig.len())
        .enumerate()
        .filter(|(_, w)| *w == sig)
        .map(|(i, _)| i)
        .collect()
}

/// Overwrites a size, CRC or count field of a local header, central entry, data descriptor or
/// end record with a lie.
fn size_lie(bytes: &mut [u8], rng: &mut Rng) -> String {
    // (signature, offsets of 4-byte fields that hold sizes, CRCs, offsets)
    let kinds: [(&[u8], &[usize]); 4] = [
        (b"PK\x03\x04", &[14, 18, 22]),
        (b"PK\x01\x02", &[16, 20, 24, 42]),
        (b"PK\x07\x08", &[4, 8, 12]),
        (b"PK\x05\x06", &[12, 16]),
    ];
    let (sig, fields) = *rng.pick(&kinds);
    let hits = find_all(bytes, sig);
    if hits.is_empty() {
        return flip(bytes, rng);
    }
    let field = *rng.pick(&hits) + *rng.pick(fields);
    if field + 4 > bytes.len() {
        return flip(bytes, rng);
    }
    let old = u32::from_le_bytes(bytes[field..field + 4].try_into().unwrap());
    let new = match rng.below(8) {
        0 => 0,
        1 => old.wrapping_add(1),
        2 => old.wrapping_sub(1),
        3 => old / 2,
        4 => old.wrapping_mul(2),
        5 => u32::MAX,
        6 => u32::MAX - 1,
        _ => rng.next() as u32,
    };
    bytes[field..field + 4].copy_from_slice(&new.to_le_bytes());
    let sig = String::from_utf8_lossy(&sig[2..]).into_owned();
    format!("PK{sig:?} field at {field}: {old} -> {new}")
}

/// Shapes a hostile header may claim (issue 9 item 1 among them).
const SHAPES: &[&str] = &[
    "()",
    "(0, 5, 3)",
    "(4, 0, 3)",
    "(4, 5, 1)",
    "(4, 5)",
    "(5,)",
    "(1000000000000,)",
    "(4, 5, 3, 1)",
    "(5, 4, 3)",
    "(2, 5, 3)",
    "(8, 5, 3)",
    "(1, 1000000000000, 3)",
    "(4, 4611686018427387904, 4)",
    "(4, 5, 2305843009213693952)",
    "(1000000000000, 5, 3)",
    "(1000000, 1000, 3)",
    "(18446744073709551615, 1, 1)",
    "(18446744073709551616, 5, 3)",
    "(-1, 5, 3)",
    "(4L, 5L, 3L)",
    "('a', 5, 3)",
    "(4, 5, 3",
    "[4, 5, 3]",
];

const DESCRS: &[&str] = &[
    "'<f4'",
    "'>f8'",
    "'<f8'",
    "'|f8'",
    "'=f4'",
    "'<i8'",
    "'|O'",
    "'<c16'",
    "'<f2'",
    "'<f16'",
    "''",
    "'\x1b]0;PWNED\x07\x1b[2J'",
    "[('x', '<f4'), ('y', '<f4')]",
    "'<f4",
    "None",
];

/// A header text for `descr`, `fortran` and `shape`, sometimes with junk or padding.
fn header_text(rng: &mut Rng) -> String {
    let descr = if rng.chance(5) {
        format!("'{}'", ">f4".repeat(1000))
    } else {
        rng.pick(DESCRS).to_string()
    };
    let fortran = *rng.pick(&["False", "False", "True", "Maybe\x1b[2J", "0"]);
    let shape = if rng.chance(15) {
        format!(
            "({}, {}, {})",
            rng.next() % 100_000,
            rng.next() % 50,
            rng.next() % 6
        )
    } else {
        rng.pick(SHAPES).to_string()
    };
    let mut fields = vec![
        format!("'descr': {descr}"),
        format!("'fortran_order': {fortran}"),
        format!("'shape': {shape}"),
    ];
    if rng.chance(10) {
        fields.remove(rng.below(3));
    }
    if rng.chance(10) {
        let last = fields.len() - 1;
        fields.swap(0, last);
    }
    let mut text = format!("{{{}, }}", fields.join(", "));
    match rng.below(12) {
        0 => text.insert_str(rng.below(text.len()), "\n\x1b[31mred\r\x07"),
        1 => text.push_str(&" ".repeat(9_000)),
        2 => text.push_str(&" ".repeat(20_000)),
        3 => text = text.replace('{', ""),
        _ => {}
    }
    text.push('\n');
    text
}

/// Replaces the `.npy` header of one member: new fields, or a lying length / version.
fn edit_npy_header(model: &mut Model, rng: &mut Rng) -> String {
    let i = rng.below(model.members.len());
    let npy = &mut model.members[i].npy;
    let old_len = u16::from_le_bytes([npy[8], npy[9]]) as usize;
    let data = npy.split_off((10 + old_len).min(npy.len()));
    let text = header_text(rng);
    let mut head = b"\x93NUMPY".to_vec();
    let note = match rng.below(10) {
        0 => {
            // A length field that lies.
            let lie = *rng.pick(&[
                0u16,
                1,
                10,
                (text.len() - 1) as u16,
                text.len() as u16 + 7,
                u16::MAX,
            ]);
            head.extend_from_slice(&[1, 0]);
            head.extend_from_slice(&lie.to_le_bytes());
            format!("header length {lie} for {} bytes", text.len())
        }
        1 => {
            let lie = *rng.pick(&[u32::MAX, 10_001, 1 << 31]);
            head.extend_from_slice(&[2, 0]);
            head.extend_from_slice(&lie.to_le_bytes());
            format!("version 2 header length {lie}")
        }
        2 => {
            let v = *rng.pick(&[0u8, 3, 4, 255]);
            head.extend_from_slice(&[v, 0]);
            head.extend_from_slice(&(text.len() as u32).to_le_bytes());
            format!("version {v}")
        }
        _ if text.len() > u16::MAX as usize => {
            head.extend_from_slice(&[2, 0]);
            head.extend_from_slice(&(text.len() as u32).to_le_bytes());
            "long version 2 header".into()
        }
        _ => {
            head.extend_from_slice(&[1, 0]);
            head.extend_from_slice(&(text.len() as u16).to_le_bytes());
            "header fields".into()
        }
    };
    head.extend_from_slice(text.as_bytes());
    head.extend_from_slice(&data);
    *npy = head;
    format!(
        "member {i}: {note}: {:?}",
        text.chars().take(120).collect::<String>()
    )
}

const NAMES: &[&str] = &[
    "arr",
    "arr.npy",
    "../x.npy",
    "../arr.npy",
    "/tmp/arr.npy",
    "masses",
    "masses.npy",
    "a\x1b]0;PWNED\x07\x1b[2J.npy",
    "\u{202e}ypn.arr",
    "dir/",
    "arr.npy\0evil",
    "x.npy",
    "",
];

/// Renames members: to `arr` / `arr.npy`, traversal paths, control characters, duplicates.
fn rename(model: &mut Model, rng: &mut Rng) -> String {
    if model.bare {
        model.bare = false;
    }
    match rng.below(4) {
        0 => {
            // A duplicate of a member under the same or the other spelling of its name.
            let m = model.members[rng.below(model.members.len())].clone();
            let mut copy = m.clone();
            if rng.chance(50) {
                copy.name = match m.name.strip_suffix(".npy") {
                    Some(k) => k.to_string(),
                    None => format!("{}.npy", m.name),
                };
            }
            let at = rng.below(model.members.len() + 1);
            model.members.insert(at, copy);
            format!("duplicated {:?}", m.name)
        }
        1 => {
            let i = rng.below(model.members.len());
            let long = "n".repeat(300 + rng.below(5000));
            model.members[i].name = long;
            format!("member {i}: long name")
        }
        _ => {
            let i = rng.below(model.members.len());
            let name = rng.pick(NAMES).to_string();
            model.members[i].name = name.clone();
            format!("member {i} renamed {name:?}")
        }
    }
}

/// 64 MiB of zeros deflated, appended after a valid `.npy` (computed once).
fn bomb_tail() -> &'static [u8] {
    static TAIL: OnceLock<Vec<u8>> = OnceLock::new();
    TAIL.get_or_init(|| vec![0u8; 64 << 20])
}

/// A member whose headers declare its honest size while its deflated data inflate to 64 MiB
/// more (with or without data descriptors; the trajectory or an extra member).
fn bomb(model: &Model, rng: &mut Rng) -> (Vec<u8>, String) {
    static DEFLATED: OnceLock<Mutex<BTreeMap<Vec<u8>, Vec<u8>>>> = OnceLock::new();
    let cache = DEFLATED.get_or_init(|| Mutex::new(BTreeMap::new()));
    let descriptors = rng.chance(40);
    let i = rng.below(model.members.len());
    let entries: Vec<(String, Vec<u8>, u32, u64, bool)> = model
        .members
        .iter()
        .enumerate()
        .map(|(j, m)| {
            let data = if j == i {
                let mut guard = cache.lock().unwrap();
                guard
                    .entry(m.npy.clone())
                    .or_insert_with(|| {
                        let mut all = m.npy.clone();
                        all.extend_from_slice(bomb_tail());
                        deflate(&all)
                    })
                    .clone()
            } else if m.deflate {
                deflate(&m.npy)
            } else {
                m.npy.clone()
            };
            (
                m.name.clone(),
                data,
                crc(&m.npy),
                m.npy.len() as u64,
                j == i || m.deflate,
            )
        })
        .collect();
    let note = format!("member {i} inflates 64 MiB past its size; descriptors {descriptors}");
    (write_zip(&entries, descriptors), note)
}

/// How a mutant is run.
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// `align --center com --rotate kabsch IN -o out.npz`
    Align,
    /// `align --center com --rotate principal --masses masses IN -o out.npz`
    AlignMasses,
    /// `center --com IN -o out.npy`
    CenterNpy,
    /// `align --center com --rotate principal - -o out.npz`, the input on standard input
    Stdin,
    /// `center --com IN -o -`, the output on standard output
    Stdout,
    /// `info IN`
    Info,
}

impl Mode {
    fn choose(seed: &Seed, rng: &mut Rng) -> Mode {
        match rng.below(10) {
            0..=3 => Mode::Align,
            4 if seed.has_masses => Mode::AlignMasses,
            4 | 5 => Mode::CenterNpy,
            6 | 7 => Mode::Stdin,
            8 => Mode::Stdout,
            _ => Mode::Info,
        }
    }

    /// Arguments, and the output file (if the run writes one).
    fn args(self, input: &str) -> (Vec<String>, Option<&'static str>) {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        match self {
            Mode::Align => (
                v(&[
                    "align", "--center", "com", "--rotate", "kabsch", input, "-o", "out.npz",
                ]),
                Some("out.npz"),
            ),
            Mode::AlignMasses => (
                v(&[
                    "align",
                    "--center",
                    "com",
                    "--rotate",
                    "principal",
                    "--masses",
                    "masses",
                    input,
                    "-o",
                    "out.npz",
                ]),
                Some("out.npz"),
            ),
            Mode::CenterNpy => (
                v(&["center", "--com", input, "-o", "out.npy"]),
                Some("out.npy"),
            ),
            Mode::Stdin => (
                v(&[
                    "align",
                    "--center",
                    "com",
                    "--rotate",
                    "principal",
                    "-",
                    "-o",
                    "out.npz",
                ]),
                Some("out.npz"),
            ),
            Mode::Stdout => (v(&["center", "--com", input, "-o", "-"]), None),
            Mode::Info => (v(&["info", input]), None),
        }
    }
}

/// Outcomes counted per mutant (the first two are good; any other count fails the test).
const OUTCOMES: [&str; 12] = [
    "clean exit 0",
    "one-line error",
    "panic",
    "abort/signal",
    "multi-line",
    "over-long",
    "control chars",
    "temp left",
    "output changed",
    "bad output",
    "timeout",
    "other exit",
];

/// What one run did, as indices into [`OUTCOMES`], with a reason for the bad ones.
fn judge(run: &Run, mode: Mode, out_name: Option<&str>, dir: &Path) -> Vec<(usize, String)> {
    let mut bad = Vec::new();
    let err = String::from_utf8_lossy(&run.stderr);
    if run.timed_out {
        bad.push((10, "timed out".into()));
    }
    match run.code {
        None if !run.timed_out => bad.push((3, "killed by a signal".into())),
        Some(101) => bad.push((2, "exit 101".into())),
        Some(c) if c != 0 && c != 1 => bad.push((11, format!("exit {c}"))),
        _ => {}
    }
    if err.contains("panicked") {
        bad.push((2, "panic message".into()));
    }
    if err.contains("memory allocation of") {
        bad.push((3, "allocation failure".into()));
    }
    let lines: Vec<&str> = err.lines().collect();
    if lines.iter().any(|l| l.chars().count() > LINE_MAX) {
        bad.push((5, "line over 320 characters".into()));
    }
    let stdout_text = matches!(mode, Mode::Info).then(|| String::from_utf8_lossy(&run.stdout));
    let controls = |s: &str| s.chars().any(|c| c.is_control() && c != '\n');
    if controls(&err) || stdout_text.as_deref().is_some_and(controls) {
        bad.push((6, "control characters in messages".into()));
    }
    let leftovers: Vec<String> = common::dir_listing(dir)
        .into_iter()
        .filter(|n| !["in.npz", "in.npy", "out.npz", "out.npy"].contains(&n.as_str()))
        .collect();
    if !leftovers.is_empty() {
        bad.push((7, format!("left {leftovers:?}")));
    }
    if run.code == Some(1) {
        let errors = lines.iter().filter(|l| l.starts_with("error: ")).count();
        let others = lines
            .iter()
            .filter(|l| {
                !l.starts_with("error: ") && !l.starts_with("warning: ") && !l.starts_with("note: ")
            })
            .count();
        if errors != 1 || others != 0 || !lines.last().is_some_and(|l| l.starts_with("error: ")) {
            bad.push((4, format!("{} stderr lines", lines.len())));
        }
        for name in ["out.npz", "out.npy"] {
            if std::fs::read(dir.join(name)).ok().as_deref() != Some(SENTINEL) {
                bad.push((8, format!("{name} changed by a failed run")));
            }
        }
    }
    if run.code == Some(0) {
        if let Err(why) = check_output(run, mode, out_name, dir) {
            bad.push((9, why));
        }
    }
    if bad.is_empty() {
        vec![(if run.code == Some(0) { 0 } else { 1 }, String::new())]
    } else {
        bad
    }
}

/// Reads a successful run's output independently: a 3-D float array with finite values (and,
/// in an archive, no two members numpy would confuse).
fn check_output(run: &Run, mode: Mode, out_name: Option<&str>, dir: &Path) -> Result<(), String> {
    let bytes = match (mode, out_name) {
        (Mode::Info, _) => {
            return if run.stdout.is_empty() {
                Err("info printed nothing".into())
            } else {
                Ok(())
            };
        }
        (_, Some(name)) => std::fs::read(dir.join(name)).map_err(|e| e.to_string())?,
        (_, None) => run.stdout.clone(),
    };
    let trajectory_ok = |npy: &[u8]| {
        std::panic::catch_unwind(|| parse_npy(npy))
            .ok()
            .is_some_and(|a| a.shape.len() == 3 && a.values.iter().all(|v| v.is_finite()))
    };
    if out_name == Some("out.npy") || bytes.starts_with(b"\x93NUMPY") {
        return if trajectory_ok(&bytes) {
            Ok(())
        } else {
            Err("out.npy unreadable or not finite".into())
        };
    }
    let members = std::panic::catch_unwind(|| zip_members(&bytes))
        .map_err(|_| "output is not a readable zip".to_string())?;
    let names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
    for (i, n) in names.iter().enumerate() {
        let key = n.strip_suffix(".npy").unwrap_or(n);
        if names[..i]
            .iter()
            .any(|m| m.strip_suffix(".npy").unwrap_or(m) == key)
        {
            return Err(format!("output members {names:?} repeat a key"));
        }
    }
    if !members.iter().any(|(_, npy)| trajectory_ok(npy)) {
        return Err(format!("no readable finite 3-D member in {names:?}"));
    }
    Ok(())
}

/// A finished (or killed) run.
struct Run {
    code: Option<i32>,
    timed_out: bool,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// The binary under test: `FUZZ_BIN` (a copy, so that a long run is not disturbed by a
/// rebuild), else the one cargo built for this test.
fn binary() -> String {
    std::env::var("FUZZ_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_aligntraj").to_string())
}

/// Runs the binary in `dir` under the address-space limit and the timeout; standard streams go
/// through files in `io` (no pipe can fill up).
fn run_binary(args: &[String], dir: &Path, io: &Path, stdin: Option<&Path>) -> Run {
    let (out_path, err_path) = (io.join("stdout"), io.join("stderr"));
    let mut cmd = Command::new(binary());
    cmd.args(args)
        .current_dir(dir)
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .stdin(match stdin {
            Some(p) => Stdio::from(std::fs::File::open(p).unwrap()),
            None => Stdio::null(),
        });
    // SAFETY: setrlimit is async-signal-safe and touches only this (forked) process.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: MEMORY_LIMIT,
                rlim_max: MEMORY_LIMIT,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn aligntraj");
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            timed_out = true;
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_micros(300));
    };
    let read = |p: &Path| {
        let mut v = Vec::new();
        std::fs::File::open(p).unwrap().read_to_end(&mut v).unwrap();
        v
    };
    Run {
        code: status.code(),
        timed_out,
        stdout: read(&out_path),
        stderr: read(&err_path),
    }
}

/// Counts per mutation class and outcome, and the first few bad mutants.
#[derive(Default)]
struct Tally {
    counts: BTreeMap<Class, [usize; OUTCOMES.len()]>,
    mutants: usize,
    failures: Vec<String>,
}

/// Makes, runs and judges mutant `index` in the worker folder `work`.
fn one_mutant(seeds: &[Seed], seed: u64, index: u64, work: &Path, tally: &Mutex<Tally>) {
    let mut rng = Rng(seed ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03));
    rng.next();
    let s = rng.pick(seeds);
    let mutant = mutate(s, &mut rng);
    let mode = Mode::choose(s, &mut rng);
    let (dir, io) = (work.join("run"), work.join("io"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&io).unwrap();
    let input = if s.model.bare { "in.npy" } else { "in.npz" };
    std::fs::write(dir.join(input), &mutant.bytes).unwrap();
    for name in ["out.npz", "out.npy"] {
        std::fs::write(dir.join(name), SENTINEL).unwrap();
    }
    let (args, out_name) = mode.args(input);
    let stdin = matches!(mode, Mode::Stdin).then(|| dir.join(input));
    let run = run_binary(&args, &dir, &io, stdin.as_deref());
    let verdict = judge(&run, mode, out_name, &dir);
    let mut t = tally.lock().unwrap();
    t.mutants += 1;
    let row = t.counts.entry(mutant.class).or_default();
    for (k, _) in &verdict {
        row[*k] += 1;
    }
    let bad: Vec<&String> = verdict
        .iter()
        .filter(|(k, _)| *k > 1)
        .map(|(_, w)| w)
        .collect();
    if !bad.is_empty() && t.failures.len() < 20 {
        let saved = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("fuzz-failures/{seed}-{index}-{input}"));
        std::fs::create_dir_all(saved.parent().unwrap()).unwrap();
        std::fs::write(&saved, &mutant.bytes).unwrap();
        let err = String::from_utf8_lossy(&run.stderr);
        let err: String = err.chars().take(400).collect();
        t.failures.push(format!(
            "mutant {index} ({:?} from {}: {}) `aligntraj {}`: {bad:?}; stderr {err:?}; saved as {}",
            mutant.class,
            s.label,
            mutant.note,
            args.join(" "),
            saved.display()
        ));
    }
}

/// The table the closing note quotes: mutants per class and outcome.
fn print_table(t: &Tally, elapsed: Duration) {
    println!(
        "{:<12}{}",
        "class",
        OUTCOMES
            .iter()
            .map(|o| format!("{o:>16}"))
            .collect::<String>()
    );
    let mut total = [0usize; OUTCOMES.len()];
    for (class, row) in &t.counts {
        println!(
            "{:<12}{}",
            format!("{class:?}"),
            row.iter().map(|n| format!("{n:>16}")).collect::<String>()
        );
        for (a, b) in total.iter_mut().zip(row) {
            *a += b;
        }
    }
    println!(
        "{:<12}{}",
        "total",
        total.iter().map(|n| format!("{n:>16}")).collect::<String>()
    );
    println!("{} mutants in {:.1} s", t.mutants, elapsed.as_secs_f64());
}

#[test]
fn mutants_never_crash_leak_or_damage() {
    let iters: u64 = std::env::var("FUZZ_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let seed: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(9);
    let jobs: u64 = std::env::var("FUZZ_JOBS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let seeds = seeds();
    let _ = bomb_tail();
    let root = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let tally = Mutex::new(Tally::default());
    let next = std::sync::atomic::AtomicU64::new(0);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for w in 0..jobs {
            let (seeds, tally, next, root) = (&seeds, &tally, &next, root.path());
            scope.spawn(move || {
                let work = root.join(format!("w{w}"));
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= iters {
                        break;
                    }
                    one_mutant(seeds, seed, i, &work, tally);
                }
            });
        }
    });
    let t = tally.into_inner().unwrap();
    print_table(&t, start.elapsed());
    for f in &t.failures {
        println!("{f}");
    }
    let bad: usize = t
        .counts
        .values()
        .map(|row| row[2..].iter().sum::<usize>())
        .sum();
    assert_eq!(
        bad, 0,
        "{bad} bad outcomes (see the table and the mutants above)"
    );
    let good: usize = t.counts.values().map(|row| row[0]).sum();
    assert!(
        good > 0 || iters < 100,
        "no mutant ran cleanly: the seeds or the modes are broken"
    );
}
