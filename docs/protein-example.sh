#!/usr/bin/env bash
# The README's protein example, end to end: adenylate kinase (AdK, 214 residues, 3,341 atoms,
# 98 frames; the CHARMM PSF + DCD that MDAnalysis ships in MDAnalysisTests) aligned and reported
# on by aligntraj, the pictures written to docs/adk-*.png, and aligntraj's per-frame RMSD
# compared with MDAnalysis AlignTraj on the same fit (backbone, mass-weighted).
#
#   bash docs/protein-example.sh            # creates target/adk-venv on first use (~2 min)
#
# Needs python3 with venv and network access to PyPI once.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/adk-venv
if ! "$venv/bin/python" -c "import MDAnalysisTests" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "MDAnalysis==2.11.0" "MDAnalysisTests==2.11.0"
fi
read -r psf dcd < <("$venv/bin/python" -c \
    "import MDAnalysisTests.datafiles as d; print(d.PSF, d.DCD)" 2>/dev/null)
cargo build --release --locked -q
at=target/release/aligntraj
out=out/adk
mkdir -p "$out"
fit=(--top "$psf" --select backbone --masses topology)

# timed LABEL COMMAND…: runs the command and prints its wall time and peak memory.
timed() { local label=$1; shift; /usr/bin/time -f "  $label: %e s, %M KB peak" "$@"; }

echo "aligning and reporting"
timed "align --report --rmsf" "$at" align "$dcd" "${fit[@]}" -o "$out/fitted.dcd" --report "$out/frames.json" \
    --rmsf "$out/rmsf.csv" -q
echo "pictures"
timed "plot --kind rmsd" "$at" plot "$dcd" "${fit[@]}" --kind rmsd -o docs/adk-rmsd.png -q
timed "plot --kind rmsf" "$at" plot "$dcd" "${fit[@]}" --kind rmsf -o docs/adk-rmsf.png -q
timed "plot (overlay)" "$at" plot "$dcd" "${fit[@]}" --pipeline com+kabsch --every 4 -o docs/adk-overlay.png -q
echo "sensitivity per residue (all frames, 214 nudged atoms: one per residue)"
timed "sensitivity --per residue" "$at" sensitivity "$dcd" --top "$psf" --per residue --pipeline com+kabsch \
    --pipeline com+principal --pipeline point0+point-vector \
    --report "$out/sensitivity.json" --plot docs/adk-sensitivity.png

echo "RMSD and RMSF against MDAnalysis AlignTraj(select='backbone', weights='mass') and RMSF"
"$venv/bin/python" - "$psf" "$dcd" "$out/frames.json" "$out/rmsf.csv" <<'PY' 2>/dev/null
import json, sys
import numpy as np
import MDAnalysis as mda
from MDAnalysis.analysis import align, rms
psf, dcd, report, rmsf_csv = sys.argv[1:]
mobile, ref = mda.Universe(psf, dcd), mda.Universe(psf, dcd)
run = align.AlignTraj(mobile, ref, select="backbone", weights="mass", in_memory=True).run()
theirs = run.results.rmsd
ours = np.array([r["rmsd_ref"] for r in json.load(open(report))["rows"]])
print(f"  RMSD: {len(ours)} frames, max |aligntraj - AlignTraj| = {np.abs(ours - theirs).max():.2e} Å"
      f" (RMSD up to {theirs.max():.2f} Å)")
# RMSF of every atom of the fitted trajectory (AlignTraj kept it in memory).
theirs = rms.RMSF(mobile.atoms).run().results.rmsf
ours = np.loadtxt(rmsf_csv, delimiter=",", skiprows=1, usecols=5)
print(f"  RMSF: {len(ours)} atoms, max |aligntraj - MDAnalysis RMSF| = {np.abs(ours - theirs).max():.2e} Å"
      f" (RMSF up to {theirs.max():.2f} Å)")
PY
