#!/usr/bin/env python3
"""Check aligntraj's MD writers by reading their output back with MDAnalysis.

Usage (from the repository root, after ``cargo build --release``):

    python3 tests/data/check_writers.py [--bin target/release/aligntraj]

The Rust tests check every writer by a round trip through aligntraj's own
readers; this script is the independent half: ``aligntraj convert`` turns each
fixture trajectory (written by MDAnalysis, see make_fixtures.py) into every
output format, and MDAnalysis 2.11 reads the result back. Positions must equal
MDAnalysis's reading of the source within the coarser format's precision
(XTC stores 0.001 nm, PDB 0.001 Å, GRO 0.001 nm), boxes within 1e-3, frame
counts exactly (MDTraj counts GRO frames: MDAnalysis reads a GRO file's first
frame only). It runs in the virtualenv ``target/fixtures-venv`` that
make_fixtures.py creates (it re-executes itself there) and writes only into a
temporary folder it removes. Exit status 0 when every check holds.

It also runs the two one-command alignments a new user would (GROMACS: traj.xtc, conf.gro,
index.ndx group Backbone; CHARMM: traj.dcd, top.psf, --select backbone; mass-weighted, moved
to the reference's centre) and compares the files, opened in MDAnalysis, with
MDAnalysis's AlignTraj on the same atoms: within XTC precision (XTC) and 1e-4 Å (DCD).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
VENV_PY = ROOT / "target" / "fixtures-venv" / "bin" / "python"

try:
    import MDAnalysis as mda
    import mdtraj
    import numpy as np
except ImportError:
    if VENV_PY.exists() and Path(sys.prefix).resolve() != VENV_PY.parents[1].resolve():
        os.execv(str(VENV_PY), [str(VENV_PY), __file__, *sys.argv[1:]])
    sys.exit("MDAnalysis is missing: run python3 tests/data/make_fixtures.py once to create "
             "target/fixtures-venv")

# Output format -> (largest allowed position difference in Å, needs a topology to write).
OUTPUTS = {"xtc": (0.0051, False), "trr": (1e-4, False), "dcd": (1e-4, False),
           "gro": (0.0051, True), "pdb": (0.00051, True), "xyz": (1e-4, True)}
SOURCES = ["traj.xtc", "traj.trr", "traj.dcd"]


def read(top, traj):
    u = mda.Universe(str(top), str(traj))
    pos = np.array([ts.positions.copy() for ts in u.trajectory], dtype=np.float64)
    boxes = np.array([ts.dimensions.copy() if ts.dimensions is not None else np.zeros(6)
                      for ts in u.trajectory])
    return pos, boxes


def ndx_group(path, name):
    """0-based atom indices of group `name` in a GROMACS index file."""
    groups, cur = {}, None
    for line in open(path):
        line = line.strip()
        if line.startswith("["):
            cur = line.strip("[] ")
            groups[cur] = []
        elif line:
            groups[cur] += [int(x) - 1 for x in line.split()]
    return groups[name]


def check_align_traj(binary, tmp):
    """The two one-command runs (GROMACS: xtc+gro+ndx; CHARMM: dcd+psf), opened in MDAnalysis,
    against MDAnalysis AlignTraj with the same fit atoms and mass weights. Returns failures."""
    from MDAnalysis.analysis import align
    group = " ".join(map(str, ndx_group(DATA / "index.ndx", "Backbone")))
    runs = [("traj.xtc", "conf.gro", ["--ndx", str(DATA / "index.ndx"), "--group", "Backbone"],
             "index " + group, 0.0051),
            ("traj.dcd", "top.psf", ["--select", "backbone"], "backbone", 1e-4)]
    failures = []
    for traj, top, fit, sel, tol in runs:
        out = Path(tmp) / ("fitted" + Path(traj).suffix)
        cmd = [binary, "align", str(DATA / traj), "--top", str(DATA / top), *fit,
               "--masses", "topology", "--to-ref-center", "-o", str(out), "-q"]
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0:
            failures.append(f"align {traj}: exit {run.returncode}: {run.stderr.strip()}")
            continue
        mobile = mda.Universe(str(DATA / top), str(DATA / traj))
        ref = mda.Universe(str(DATA / top), str(DATA / traj))
        align.AlignTraj(mobile, ref, select=sel, weights="mass", in_memory=True).run()
        want = np.array([ts.positions.copy() for ts in mobile.trajectory], dtype=np.float64)
        got, _ = read(DATA / top, out)
        err = float(np.abs(got - want).max()) if got.shape == want.shape else float("inf")
        status = "ok" if err <= tol else "FAIL"
        print(f"align {traj} + {top} ({len(mobile.select_atoms(sel))} fit atoms) vs AlignTraj: "
              f"max |Δx| {err:.2e} Å (limit {tol:.1e})  {status}")
        if status != "ok":
            failures.append(f"align {traj}: |Δx| {err:.3e} Å vs AlignTraj")
    return failures


def main():
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=str(ROOT / "target" / "release" / "aligntraj"))
    args = ap.parse_args()
    top = DATA / "conf.gro"
    failures, checks = [], 0
    with tempfile.TemporaryDirectory(prefix="aligntraj-writers-") as tmp:
        for source in SOURCES:
            want, want_box = read(top, DATA / source)
            for ext, (tol, needs_top) in OUTPUTS.items():
                out = Path(tmp) / f"{Path(source).stem}_{Path(source).suffix[1:]}.{ext}"
                cmd = [args.bin, "convert", str(DATA / source), "-o", str(out), "-q"]
                if needs_top:
                    cmd += ["--top", str(top)]
                run = subprocess.run(cmd, capture_output=True, text=True)
                checks += 1
                if run.returncode != 0:
                    failures.append(f"{source} -> {ext}: exit {run.returncode}: {run.stderr.strip()}")
                    continue
                got, got_box = read(top, out)
                name = f"{source} -> {ext}"
                if ext == "gro":
                    # MDAnalysis's GROReader reads the first frame only; MDTraj counts them all.
                    n = mdtraj.load(str(out)).n_frames
                    if n != len(want):
                        failures.append(f"{name}: MDTraj reads {n} frames, not {len(want)}")
                        continue
                    want_cmp, want_box_cmp = want[:1], want_box[:1]
                else:
                    want_cmp, want_box_cmp = want, want_box
                if got.shape != want_cmp.shape:
                    failures.append(f"{name}: shape {got.shape} != {want_cmp.shape}")
                    continue
                err = float(np.abs(got - want_cmp).max())
                # Source precision adds to the output's: XTC input already sits on a 0.01 Å grid.
                limit = tol + (0.0051 if source.endswith(".xtc") and ext == "xtc" else 0.0)
                # MDAnalysis's XYZReader ignores the extended-XYZ Lattice= we write: no box to compare.
                box_err = 0.0 if ext == "xyz" else float(
                    np.abs(got_box[:, :3] - want_box_cmp[:, :3]).max())
                status = "ok" if err <= limit and box_err <= 1e-2 else "FAIL"
                print(f"{name:22} max |Δx| {err:.2e} Å (limit {limit:.1e}), max |Δbox| {box_err:.1e} Å  {status}")
                if status != "ok":
                    failures.append(f"{name}: |Δx| {err:.3e} Å, |Δbox| {box_err:.3e} Å")
        failures += check_align_traj(args.bin, tmp)
        checks += 2
    for f in failures:
        print("FAIL", f, file=sys.stderr)
    print(f"{checks - len(failures)}/{checks} outputs read back by MDAnalysis "
          f"{mda.__version__} agree")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
