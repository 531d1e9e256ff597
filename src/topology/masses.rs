//! Elements and masses: the masses table and the atom-name → element guess of MDAnalysis
//! (`MDAnalysis.guesser.tables` and `DefaultGuesser.guess_atom_element`), so masses we
//! derive agree with the ones MDAnalysis derives for the same file.

/// Atomic masses in u by element or type key, as in MDAnalysis's `tables.masses`
/// (some keys are upper case, some capitalised; lookups try both).
pub(crate) const MASSES: [(&str, f64); 111] = [
    ("Ac", 227.028),
    ("Al", 26.981539),
    ("Am", 243.0),
    ("Sb", 121.757),
    ("Ar", 39.948),
    ("As", 74.92159),
    ("At", 210.0),
    ("Ba", 137.327),
    ("Bk", 247.0),
    ("Be", 9.012182),
    ("Bi", 208.98037),
    ("Bh", 264.0),
    ("B", 10.811),
    ("BR", 79.90400),
    ("Cd", 112.411),
    ("CA", 40.08000),
    ("Cf", 251.0),
    ("C", 12.01100),
    ("Ce", 140.11600),
    ("CS", 132.90000),
    ("CL", 35.45000),
    ("Cr", 51.9961),
    ("Co", 58.9332),
    ("CU", 63.54600),
    ("Cm", 247.0),
    ("Db", 262.0),
    ("Dy", 162.5),
    ("Es", 252.0),
    ("Er", 167.26),
    ("Eu", 151.965),
    ("Fm", 257.0),
    ("F", 18.99800),
    ("Fr", 223.0),
    ("Gd", 157.25),
    ("Ga", 69.723),
    ("Ge", 72.61),
    ("Au", 196.96654),
    ("Hf", 178.49),
    ("Hs", 265.0),
    ("HE", 4.00260),
    ("Ho", 164.93032),
    ("H", 1.00800),
    ("In", 114.82),
    ("I", 126.90450),
    ("Ir", 192.22),
    ("FE", 55.84700),
    ("Kr", 83.8),
    ("La", 138.9055),
    ("Lr", 262.0),
    ("Pb", 207.2),
    ("Li", 6.941),
    ("Lu", 174.967),
    ("MG", 24.30500),
    ("Mn", 54.93805),
    ("Mt", 266.0),
    ("Md", 258.0),
    ("Hg", 200.59),
    ("Mo", 95.94),
    ("N", 14.00700),
    ("NA", 22.98977),
    ("Nd", 144.24),
    ("NE", 20.17970),
    ("Np", 237.048),
    ("Ni", 58.6934),
    ("Nb", 92.90638),
    ("No", 259.0),
    ("Os", 190.2),
    ("O", 15.99900),
    ("Pd", 106.42),
    ("P", 30.97400),
    ("Pt", 195.08),
    ("Pu", 244.0),
    ("Po", 209.0),
    ("K", 39.10200),
    ("Pr", 140.90765),
    ("Pm", 145.0),
    ("Pa", 231.0359),
    ("Ra", 226.025),
    ("Rn", 222.0),
    ("Re", 186.207),
    ("Rh", 102.9055),
    ("RB", 85.46780),
    ("Ru", 101.07),
    ("Rf", 261.0),
    ("Sm", 150.36),
    ("Sc", 44.95591),
    ("Sg", 263.0),
    ("Se", 78.96),
    ("Si", 28.0855),
    ("Ag", 107.8682),
    ("Na", 22.989768),
    ("Sr", 87.62),
    ("S", 32.06000),
    ("Ta", 180.9479),
    ("Tc", 98.0),
    ("Te", 127.6),
    ("Tb", 158.92534),
    ("Tl", 204.3833),
    ("Th", 232.0381),
    ("Tm", 168.93421),
    ("Sn", 118.71),
    ("Ti", 47.88),
    ("W", 183.85),
    ("U", 238.0289),
    ("V", 50.9415),
    ("Xe", 131.29),
    ("Yb", 173.04),
    ("Y", 88.90585),
    ("ZN", 65.37000),
    ("Zr", 91.224),
    ("DUMMY", 0.0),
];

/// Special atom names (upper case) and the element type they stand for (MDAnalysis
/// `tables.atomelements`: CHARMM/AMBER ion names and a few others).
pub(crate) const ATOM_ELEMENTS: [(&str, &str); 36] = [
    ("BR", "BR"),
    ("CAL", "CA"),
    ("C0", "CA"),
    ("CA2+", "CA"),
    ("CES", "CS"),
    ("CLA", "CL"),
    ("CLAL", "CL"),
    ("CL", "CL"),
    ("CL-", "CL"),
    ("IOD", "I"),
    ("FE", "FE"),
    ("FE2", "FE"),
    ("LIT", "LI"),
    ("LI", "LI"),
    ("LI+", "LI"),
    ("QL", "LI"),
    ("MG", "MG"),
    ("MG2+", "MG"),
    ("K", "K"),
    ("POT", "K"),
    ("K+", "K"),
    ("QK", "K"),
    ("SOD", "NA"),
    ("NA", "NA"),
    ("NA+", "NA"),
    ("QN", "NA"),
    ("ZN", "ZN"),
    ("CU", "CU"),
    ("CS", "CS"),
    ("CS+", "CS"),
    ("QC", "CE"),
    ("RB", "RB"),
    ("QR", "RB"),
    ("BC", "C"),
    ("AC", "C"),
    ("MW", "DUMMY"),
];

/// Element types the name guess may strip down to (MDAnalysis `tables.elements`).
const GUESS_ELEMENTS: [&str; 16] = [
    "H", "LI", "BE", "B", "C", "N", "O", "F", "NA", "MG", "AL", "P", "SI", "S", "CL", "K",
];

/// The 118 element symbols, capitalised (MDAnalysis `SYMB2Z` keys).
const SYMBOLS: [&str; 118] = [
    "H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al", "Si", "P", "S", "Cl",
    "Ar", "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As",
    "Se", "Br", "Kr", "Rb", "Sr", "Y", "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In",
    "Sn", "Sb", "Te", "I", "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb",
    "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W", "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl",
    "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th", "Pa", "U", "Np", "Pu", "Am", "Cm", "Bk",
    "Cf", "Es", "Fm", "Md", "No", "Lr", "Rf", "Db", "Sg", "Bh", "Hs", "Mt", "Ds", "Rg", "Cn", "Nh",
    "Fl", "Mc", "Lv", "Ts", "Og",
];

/// Python's `str.capitalize()`: first character upper case, the rest lower case.
pub(crate) fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}

/// The element symbol `s` names, capitalised (`CL` → `Cl`), if it is one of the 118.
pub(crate) fn element_symbol(s: &str) -> Option<&'static str> {
    let cap = capitalize(s);
    SYMBOLS.iter().copied().find(|&sym| sym == cap)
}

/// Mass of an element or type key: exact key, then upper case (as MDAnalysis), then
/// capitalised (our addition: MDAnalysis gives 0 for `LI`, `AL`, `SI`, `BE`). `None` if unknown.
pub(crate) fn mass_of(key: &str) -> Option<f64> {
    let find = |k: &str| MASSES.iter().find(|(name, _)| *name == k).map(|&(_, m)| m);
    find(key)
        .or_else(|| find(&key.to_uppercase()))
        .or_else(|| find(&capitalize(key)))
}

/// Guess the element type of an atom from its name exactly as MDAnalysis's
/// `guess_atom_element` does: special names first, then digits and `*+-` stripped and
/// letters dropped from the right (or the left) until an element is left; the result is
/// upper case (`CL`, `C`) or, failing all that, the first letter or the stripped name.
pub(crate) fn guess_atom_element(name: &str) -> String {
    if name.is_empty() {
        return String::new();
    }
    let special = |k: &str| ATOM_ELEMENTS.iter().find(|(n, _)| *n == k).map(|&(_, e)| e);
    if let Some(e) = special(&name.to_uppercase()) {
        return e.to_string();
    }
    let no_symbols: String = name
        .chars()
        .filter(|c| !matches!(c, '*' | '+' | '-'))
        .collect();
    let stripped: String = no_symbols.chars().filter(|c| !c.is_ascii_digit()).collect();
    let mut letters: Vec<char> = stripped.to_uppercase().chars().collect();
    if let Some(e) = special(&letters.iter().collect::<String>()) {
        return e.to_string();
    }
    let is_element = |cs: &[char]| {
        let s: String = cs.iter().collect();
        GUESS_ELEMENTS.contains(&s.as_str())
    };
    while !letters.is_empty() {
        let n = letters.len();
        if is_element(&letters) {
            return letters.iter().collect();
        }
        if is_element(&letters[..n - 1]) {
            return letters[..n - 1].iter().collect();
        }
        if is_element(&letters[1..]) {
            return letters[1..].iter().collect();
        }
        if n <= 2 {
            return letters[0].to_string();
        }
        letters.pop();
    }
    no_symbols
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_like_mdanalysis() {
        for (name, want) in [
            ("CA", "C"),
            ("CAL", "CA"),
            ("OW", "O"),
            ("HW1", "H"),
            ("H12", "H"),
            ("CLA", "CL"),
            ("NA+", "NA"),
            ("SOD", "NA"),
            ("MW", "DUMMY"),
            ("OT1", "O"),
            ("1HB", "H"),
            ("CG2", "C"),
            ("SG", "S"),
            ("ZN", "ZN"),
            ("XYZ", "X"),
            ("123", "123"),
            ("+-", ""),
            ("", ""),
            ("QQQQ", "Q"),
        ] {
            assert_eq!(guess_atom_element(name), want, "name {name}");
        }
    }

    #[test]
    fn masses_from_keys() {
        assert_eq!(mass_of("C"), Some(12.011));
        assert_eq!(mass_of("Ca"), Some(40.08));
        assert_eq!(mass_of("CL"), Some(35.45));
        assert_eq!(mass_of("Na"), Some(22.989768));
        assert_eq!(mass_of("NA"), Some(22.98977));
        assert_eq!(mass_of("LI"), Some(6.941));
        assert_eq!(mass_of("DUMMY"), Some(0.0));
        assert_eq!(mass_of("Q"), None);
        assert_eq!(mass_of(""), None);
    }

    #[test]
    fn symbols_are_capitalised() {
        assert_eq!(element_symbol("CL"), Some("Cl"));
        assert_eq!(element_symbol("c"), Some("C"));
        assert_eq!(element_symbol("Xx"), None);
        assert_eq!(element_symbol(""), None);
        assert_eq!(capitalize("nA"), "Na");
    }
}
