//! GROMACS index files (`.ndx`): `[ name ]` group headers followed by 1-based atom numbers
//! over any number of lines. Read into 0-based indices, with a group lookup whose error
//! suggests the nearest group name and lists the groups there are.

use super::text::{lines, quote};
use anyhow::{bail, Context};
use std::path::Path;

/// Longest list of group names an error message shows, in characters.
const LIST_MAX: usize = 120;

/// Read an index file: the groups in file order, each with its 0-based atom indices.
pub(crate) fn read_ndx(path: impl AsRef<Path>) -> anyhow::Result<Vec<(String, Vec<usize>)>> {
    let path = path.as_ref();
    let run = || -> anyhow::Result<_> {
        let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read it: {e}"))?;
        parse_ndx(&bytes)
    };
    run().with_context(|| format!("index file {}", path.display()))
}

/// Parse index-file bytes (see [`read_ndx`]). Whitespace inside a group name is
/// collapsed to single spaces; numbers must be ≥ 1; numbers before any header are an error.
pub(crate) fn parse_ndx(bytes: &[u8]) -> anyhow::Result<Vec<(String, Vec<usize>)>> {
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, line) in lines(bytes).iter().enumerate() {
        let lineno = i + 1;
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if let Some(rest) = t.strip_prefix('[') {
            let inner = rest.strip_suffix(']').with_context(|| {
                format!("line {lineno}: group header without ']': {}", quote(t))
            })?;
            let name = inner.split_whitespace().collect::<Vec<_>>().join(" ");
            if name.is_empty() {
                bail!("line {lineno}: group header without a name");
            }
            groups.push((name, Vec::new()));
            continue;
        }
        let Some((_, members)) = groups.last_mut() else {
            bail!(
                "line {lineno}: atom numbers before the first [ group ] header: {}",
                quote(t)
            );
        };
        for field in t.split_whitespace() {
            let n: usize = field.parse().ok().filter(|&n| n >= 1).with_context(|| {
                format!(
                    "line {lineno}: {} is not an atom number (1, 2, …)",
                    quote(field)
                )
            })?;
            members.push(n - 1);
        }
    }
    if groups.is_empty() {
        bail!("no [ group ] in the file");
    }
    Ok(groups)
}

/// The group called `name`: an exact match, else the only match ignoring case and
/// spacing. The error names the nearest group and lists them all (cut short).
pub(crate) fn find_group<'g>(
    groups: &'g [(String, Vec<usize>)],
    name: &str,
) -> anyhow::Result<&'g [usize]> {
    if let Some((_, idx)) = groups.iter().find(|(g, _)| g == name) {
        return Ok(idx);
    }
    let norm = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    let wanted = norm(name);
    let loose: Vec<_> = groups.iter().filter(|(g, _)| norm(g) == wanted).collect();
    if let [(_, idx)] = loose.as_slice() {
        return Ok(idx);
    }
    let names: Vec<&str> = groups.iter().map(|(g, _)| g.as_str()).collect();
    let hint = super::text::did_you_mean(name, &names)
        .map(|s| format!("; did you mean {}?", quote(s)))
        .unwrap_or_default();
    let mut list = String::new();
    for n in &names {
        if list.len() + n.len() > LIST_MAX {
            list.push_str(", …");
            break;
        }
        if !list.is_empty() {
            list.push_str(", ");
        }
        list.push_str(&quote(n));
    }
    bail!(
        "no group {} in the index file{hint} (groups: {list})",
        quote(name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NDX: &str = "[ System ]\n   1    2    3    4\n   5\n[  Protein   H  ]\n1 2\n\n3\n[ Empty ]\n[ SOL ]\r\n4 5\r\n";

    #[test]
    fn reads_groups_zero_based() {
        let g = parse_ndx(NDX.as_bytes()).unwrap();
        let names: Vec<_> = g.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["System", "Protein H", "Empty", "SOL"]);
        assert_eq!(g[0].1, [0, 1, 2, 3, 4]);
        assert_eq!(g[1].1, [0, 1, 2]);
        assert!(g[2].1.is_empty());
        assert_eq!(g[3].1, [3, 4]);
    }

    #[test]
    fn lookup_exact_loose_and_hint() {
        let g = parse_ndx(NDX.as_bytes()).unwrap();
        assert_eq!(find_group(&g, "SOL").unwrap(), &[3, 4]);
        assert_eq!(find_group(&g, "protein  h").unwrap(), &[0, 1, 2]);
        let err = find_group(&g, "Sytem").unwrap_err().to_string();
        assert!(
            err.starts_with("no group \"Sytem\" in the index file; did you mean \"System\"?"),
            "{err}"
        );
        assert!(
            err.contains("(groups: \"System\", \"Protein H\", \"Empty\", \"SOL\")"),
            "{err}"
        );
        let many: Vec<_> = (0..100).map(|i| (format!("group{i}"), vec![0])).collect();
        let err = find_group(&many, "zzz").unwrap_err().to_string();
        assert!(err.len() < 220 && err.ends_with(", …)"), "{err}");
    }

    #[test]
    fn bad_files() {
        let e = |t: &str| parse_ndx(t.as_bytes()).unwrap_err().to_string();
        assert!(e("1 2 3\n").contains("before the first"));
        assert!(e("[ A ]\n1 0\n").contains("\"0\" is not an atom number"));
        assert!(e("[ A ]\n1 x\n").contains("\"x\""));
        assert!(e("[ A \n").contains("without ']'"));
        assert!(e("[  ]\n").contains("without a name"));
        assert!(e("").contains("no [ group ]"));
        assert!(e("[ A ]\n99999999999999999999999\n").contains("not an atom number"));
    }

    #[test]
    fn fuzz_never_panics() {
        super::super::fuzz::fuzz(NDX.as_bytes(), parse_ndx);
    }
}
