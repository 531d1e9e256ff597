//! Small byte-level helpers shared by the binary trajectory formats (XTC, DCD, TRR).

use std::io::Read;

/// Reads until `buf` is full or the reader reports end of file; returns the bytes read.
pub fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// The 4 bytes at `at`, if present.
#[inline]
pub fn take4(b: &[u8], at: usize) -> Option<[u8; 4]> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some([s[0], s[1], s[2], s[3]])
}

/// The 8 bytes at `at`, if present.
#[inline]
pub fn take8(b: &[u8], at: usize) -> Option<[u8; 8]> {
    let s = b.get(at..at.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(a)
}

/// Big-endian i32 at `at`.
#[inline]
pub fn be_i32(b: &[u8], at: usize) -> Option<i32> {
    take4(b, at).map(i32::from_be_bytes)
}

/// Big-endian u32 at `at`.
#[inline]
pub fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    take4(b, at).map(u32::from_be_bytes)
}

/// Big-endian u64 at `at`.
#[inline]
pub fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    take8(b, at).map(u64::from_be_bytes)
}

/// Big-endian f32 at `at`.
#[inline]
pub fn be_f32(b: &[u8], at: usize) -> Option<f32> {
    take4(b, at).map(f32::from_be_bytes)
}

/// Big-endian f64 at `at`.
#[inline]
pub fn be_f64(b: &[u8], at: usize) -> Option<f64> {
    take8(b, at).map(f64::from_be_bytes)
}

/// Cuts a message to one short line: control characters escaped, at most ~200 characters.
pub fn one_line(msg: &str) -> String {
    let mut s = String::new();
    for (n, c) in msg.chars().enumerate() {
        if n >= 200 {
            s.push('…');
            break;
        }
        if c.is_control() {
            s.extend(c.escape_default());
        } else {
            s.push(c);
        }
    }
    s
}

/// Reads `n` consecutive f32 values stored with `conv` from `b` into `out` as f64 (times `scale`).
#[inline]
pub fn f32s_into(b: &[u8], conv: fn([u8; 4]) -> f32, scale: f32, out: &mut [f64]) {
    for (o, c) in out.iter_mut().zip(b.chunks_exact(4)) {
        *o = (conv([c[0], c[1], c[2], c[3]]) * scale) as f64;
    }
}

/// Test helpers: temporary files and a deterministic pseudo-random generator.
#[cfg(test)]
pub mod testing {
    use std::path::PathBuf;

    /// A fresh path in the system temporary folder (unique per call: tests run in parallel).
    pub fn tmp_path(name: &str) -> PathBuf {
        static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("binfmt-tests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir.join(format!("{n}-{name}"))
    }

    /// Writes `bytes` to a fresh temporary file and returns its path.
    pub fn tmp_file(name: &str, bytes: &[u8]) -> PathBuf {
        let p = tmp_path(name);
        std::fs::write(&p, bytes).expect("write temp file");
        p
    }

    /// Small LCG giving uniform f64 in [0, 1).
    pub struct Lcg(pub u64);

    impl Lcg {
        /// Next value in [0, 1).
        pub fn uniform(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// A `Write` whose bytes stay readable after the sink hands the writer back.
    #[derive(Clone, Default)]
    pub struct SharedBuf(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for SharedBuf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Decoded frames: coordinates and frame info.
    pub type Decoded = Vec<(Vec<f64>, crate::formats::FrameInfo)>;

    /// Relative/absolute closeness check.
    pub fn close(a: f64, b: f64, rel: f64, abs: f64) -> bool {
        (a - b).abs() <= abs + rel * b.abs()
    }
}
