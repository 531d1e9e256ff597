//! Test-only fuzzing helpers: a tiny deterministic generator and a driver that feeds a
//! parser truncations, mutations and random bytes of a sample, checking that it never
//! panics and that every error is one short line without control characters.

/// Deterministic pseudo-random generator (xorshift64).
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    /// Next value.
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A value below `n` (n > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Assert that `msg` is one line of at most 200 characters with no control characters.
pub(crate) fn assert_one_line(msg: &str, input: &[u8]) {
    let ok = msg.chars().count() <= 200 && !msg.chars().any(char::is_control);
    assert!(
        ok,
        "bad error for input {:?}: {msg:?}",
        String::from_utf8_lossy(input)
    );
}

/// Bytes that make parsers take odd paths.
const SPICE: [&[u8]; 12] = [
    b"\n",
    b"\r\n",
    b" ",
    b"9999999999",
    b"-1",
    b"\xff",
    b"\x00",
    b"!NATOM",
    b"[",
    b"]",
    b"END",
    b"ATOM  ",
];

/// Feed `parse` every truncation of `sample`, mutated copies and random bytes.
pub(crate) fn fuzz<T, E: std::fmt::Display>(sample: &[u8], parse: impl Fn(&[u8]) -> Result<T, E>) {
    let run = |input: &[u8]| {
        if let Err(e) = parse(input) {
            assert_one_line(&format!("topology x: {e:#}"), input);
        }
    };
    for cut in 0..=sample.len() {
        run(&sample[..cut]);
    }
    let mut rng = Rng(0x2545_f491_4f6c_dd1d ^ sample.len() as u64);
    for _ in 0..3000 {
        let mut bytes = sample.to_vec();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(bytes.len() + 1);
            match rng.below(3) {
                0 if at < bytes.len() => bytes[at] = rng.next() as u8,
                1 => {
                    let spice = SPICE[rng.below(SPICE.len())];
                    bytes.splice(at..at, spice.iter().copied());
                }
                _ if at < bytes.len() => {
                    bytes.remove(at);
                }
                _ => {}
            }
        }
        run(&bytes);
    }
    for _ in 0..500 {
        let bytes: Vec<u8> = (0..rng.below(200)).map(|_| rng.next() as u8).collect();
        run(&bytes);
    }
}
