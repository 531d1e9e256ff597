#!/usr/bin/env python3
"""Generate the MD-format test fixtures of aligntraj with independent libraries.

Usage (from the repository root):

    python3 tests/data/make_fixtures.py [--venv DIR] [--out tests/data]

* ``--venv DIR``  virtualenv to create/reuse (default: ``target/fixtures-venv``
  relative to the repository root; ``target/`` is git-ignored).  The script
  pip-installs the pinned versions below into it and re-executes itself there.
* ``--out DIR``   output folder (default: the folder of this script).

Nothing is written outside the output folder and the virtualenv.  The run is
deterministic (fixed seed) and idempotent: running it twice gives byte-identical
files.  All MD files are written by MDAnalysis (and cross-read by MDTraj),
never by aligntraj.  The only files whose text is produced by this script
itself are those MDAnalysis cannot write: the PSF topologies (``top.psf``,
``top_classic.psf``) and the extended-XYZ file (``ext.xyz``); both are read back
with MDAnalysis (and MDTraj for the PSF) and compared.

Outputs: conf.gro traj.xtc traj.trr traj.dcd top.psf top_classic.psf multi.pdb
multi.gro traj.xyz ext.xyz index.ndx expected.json selections.json
aligned_expected.json.  See README.md in the same folder.
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

PINS = {"MDAnalysis": "2.11.0", "mdtraj": "1.11.1.post2", "numpy": "2.4.6"}
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
ENV_FLAG = "ALIGNTRAJ_FIXTURES_IN_VENV"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--venv", default=str(REPO / "target" / "fixtures-venv"))
    p.add_argument("--out", default=str(HERE))
    return p.parse_args()


def ensure_venv(args):
    """Create/reuse the venv, install the pins, re-exec inside it."""
    if os.environ.get(ENV_FLAG) == "1":
        return
    venv = Path(args.venv).resolve()
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.check_call([sys.executable, "-m", "venv", str(venv)])
    probe = ("import MDAnalysis, mdtraj, numpy;"
             "print(MDAnalysis.__version__, mdtraj.__version__, numpy.__version__)")
    r = subprocess.run([str(py), "-c", probe], capture_output=True, text=True)
    want = [PINS["MDAnalysis"], PINS["mdtraj"], PINS["numpy"]]
    if r.returncode != 0 or r.stdout.split() != want:
        cmd = ["nice", "-n", "10", str(py), "-m", "pip", "install", "-q",
               "--only-binary=:all:"] + [f"{k}=={v}" for k, v in PINS.items()]
        print("+", " ".join(cmd), flush=True)
        subprocess.check_call(cmd)
    env = dict(os.environ, **{ENV_FLAG: "1"})
    os.execve(str(py), [str(py), str(Path(__file__).resolve())] + sys.argv[1:], env)


# ---------------------------------------------------------------------------
# everything below runs inside the venv
# ---------------------------------------------------------------------------

SEED = 20240611
N_FRAMES = 10
DT_PS = 10.0            # time between saved frames (ps)
T0_PS = 100.0           # time of the first frame (ps)
MD_DT_PS = 0.002        # integration step (ps): 5000 steps between frames
NSTEP_PER_FRAME = int(round(DT_PS / MD_DT_PS))
STEP0 = int(round(T0_PS / MD_DT_PS))
BOX0 = (31.0, 32.0, 33.0)   # orthorhombic box (Angstrom), fluctuates a little
N_WATER = 24

SEQUENCE = ["MET", "ALA", "SER", "TRP", "LYS", "GLY", "ASP", "VAL", "PHE", "LEU"]

# side chains: (name, a, b, c, bond, angle, torsion) -> atom bonded to c
SIDECHAINS = {
    "ALA": [],
    "GLY": [],
    "SER": [("OG", "N", "CA", "CB", 1.417, 110.8, -60.0)],
    "VAL": [("CG1", "N", "CA", "CB", 1.53, 110.5, 180.0),
            ("CG2", "N", "CA", "CB", 1.53, 110.5, -60.0)],
    "LEU": [("CG", "N", "CA", "CB", 1.53, 116.0, -60.0),
            ("CD1", "CA", "CB", "CG", 1.53, 110.5, 180.0),
            ("CD2", "CA", "CB", "CG", 1.53, 110.5, 60.0)],
    "LYS": [("CG", "N", "CA", "CB", 1.53, 114.0, -60.0),
            ("CD", "CA", "CB", "CG", 1.53, 111.0, 180.0),
            ("CE", "CB", "CG", "CD", 1.53, 111.0, 180.0),
            ("NZ", "CG", "CD", "CE", 1.49, 111.0, 180.0)],
    "ASP": [("CG", "N", "CA", "CB", 1.52, 113.0, -60.0),
            ("OD1", "CA", "CB", "CG", 1.25, 119.0, -30.0),
            ("OD2", "CA", "CB", "CG", 1.25, 119.0, 150.0)],
    "MET": [("CG", "N", "CA", "CB", 1.52, 114.0, -60.0),
            ("SD", "CA", "CB", "CG", 1.81, 112.7, 180.0),
            ("CE", "CB", "CG", "SD", 1.79, 100.9, 180.0)],
    "PHE": [("CG", "N", "CA", "CB", 1.50, 114.0, -60.0),
            ("CD1", "CA", "CB", "CG", 1.39, 120.7, 90.0),
            ("CD2", "CA", "CB", "CG", 1.39, 120.7, -90.0),
            ("CE1", "CB", "CG", "CD1", 1.39, 120.0, 180.0),
            ("CE2", "CB", "CG", "CD2", 1.39, 120.0, 180.0),
            ("CZ", "CG", "CD1", "CE1", 1.39, 120.0, 0.0)],
    "TRP": [("CG", "N", "CA", "CB", 1.50, 114.0, -60.0),
            ("CD1", "CA", "CB", "CG", 1.37, 127.0, 90.0),
            ("CD2", "CA", "CB", "CG", 1.43, 126.6, -90.0),
            ("NE1", "CB", "CG", "CD1", 1.38, 110.0, 180.0),
            ("CE2", "CB", "CG", "CD2", 1.41, 107.3, 180.0),
            ("CE3", "CB", "CG", "CD2", 1.40, 133.9, 0.0),
            ("CZ2", "CG", "CD2", "CE2", 1.40, 122.3, 180.0),
            ("CZ3", "CG", "CD2", "CE3", 1.39, 118.8, 180.0),
            ("CH2", "CD2", "CE2", "CZ2", 1.37, 117.5, 0.0)],
}
# extra ring bonds not implied by the construction tree
RING_BONDS = {"PHE": [("CE2", "CZ")], "TRP": [("NE1", "CE2"), ("CZ3", "CH2")]}

MASS = {"H": 1.008, "C": 12.011, "N": 14.007, "O": 15.9994, "S": 32.06,
        "NA": 22.98977, "CL": 35.45}
# CHARMM-like atom types and charges (plausible, not a force field)
BB_TYPE = {"N": "NH1", "HN": "H", "CA": "CT1", "HA": "HB1", "HA1": "HB2",
           "HA2": "HB2", "C": "C", "O": "O", "OT1": "OC", "OT2": "OC"}
BB_CHARGE = {"N": -0.47, "HN": 0.31, "CA": 0.07, "HA": 0.09, "HA1": 0.09,
             "HA2": 0.09, "C": 0.51, "O": -0.51, "OT1": -0.67, "OT2": -0.67}
SC_TYPE = {("MET", "SD"): "S", ("MET", "CE"): "CT3", ("ALA", "CB"): "CT3",
           ("SER", "OG"): "OH1", ("LYS", "NZ"): "NH3", ("ASP", "CG"): "CC",
           ("ASP", "OD1"): "OC", ("ASP", "OD2"): "OC", ("VAL", "CB"): "CT1",
           ("VAL", "CG1"): "CT3", ("VAL", "CG2"): "CT3", ("LEU", "CG"): "CT1",
           ("LEU", "CD1"): "CT3", ("LEU", "CD2"): "CT3", ("TRP", "NE1"): "NY",
           ("TRP", "CD1"): "CA", ("TRP", "CG"): "CY", ("TRP", "CD2"): "CPT",
           ("TRP", "CE2"): "CPT"}
SC_CHARGE = {("LYS", "NZ"): 1.0, ("ASP", "OD1"): -0.76, ("ASP", "OD2"): -0.76,
             ("ASP", "CG"): 0.62, ("SER", "OG"): -0.66, ("SER", "CB"): 0.66,
             ("TRP", "NE1"): -0.51, ("TRP", "CD1"): 0.51, ("MET", "SD"): -0.09,
             ("MET", "CG"): 0.09}


def main():
    args = parse_args()
    ensure_venv(args)

    import warnings
    warnings.filterwarnings("ignore")
    import json
    import logging
    import numpy as np
    import MDAnalysis as mda
    import mdtraj as md
    from MDAnalysis.analysis import align
    from MDAnalysis.coordinates.memory import MemoryReader
    from MDAnalysis.selections.gromacs import SelectionWriter
    logging.getLogger("MDAnalysis").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")   # MDAnalysis re-enables some on import

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    versions = {"MDAnalysis": mda.__version__, "mdtraj": md.__version__,
                "numpy": np.__version__, "python": sys.version.split()[0]}
    print("library versions:", json.dumps(versions), flush=True)
    rng = np.random.default_rng(SEED)

    def P(name):
        return str(out / name)

    # ------------------------------------------------------------------
    # 1. build the system: a 10-residue helical peptide + waters + 2 ions
    # ------------------------------------------------------------------
    def place(a, b, c, bond, angle, torsion):
        """NeRF: atom d bonded to c, angle b-c-d, dihedral a-b-c-d (degrees)."""
        angle, torsion = np.radians(angle), np.radians(torsion)
        bc = c - b
        bc /= np.linalg.norm(bc)
        n = np.cross(b - a, bc)
        n /= np.linalg.norm(n)
        m = np.cross(n, bc)
        d2 = np.array([-bond * np.cos(angle),
                       bond * np.sin(angle) * np.cos(torsion),
                       bond * np.sin(angle) * np.sin(torsion)])
        return c + d2[0] * bc + d2[1] * m + d2[2] * n

    atoms = []   # dicts: name, resname(charmm), resname(gmx), resid, element, ...
    bonds = []
    phi, psi, omega = -57.0, -47.0, 180.0
    prev = None
    for ri, resn in enumerate(SEQUENCE):
        resid = ri + 1
        last = ri == len(SEQUENCE) - 1
        if prev is None:
            N = np.array([0.0, 0.0, 0.0])
            CA = np.array([1.458, 0.0, 0.0])
            C = place(np.array([0.0, 1.0, 0.0]), N, CA, 1.525, 111.2, -60.0)
        else:
            N = place(prev["N"], prev["CA"], prev["C"], 1.329, 116.2, psi)
            CA = place(prev["CA"], prev["C"], N, 1.458, 121.7, omega)
            C = place(prev["C"], N, CA, 1.525, 111.2, phi)
        xyz = {"N": N, "CA": CA, "C": C}
        if prev is None:
            xyz["HN"] = place(C, CA, N, 1.01, 109.5, 180.0)
        else:
            xyz["HN"] = place(prev["O"], prev["C"], N, 1.01, 119.5, 180.0)
        if resn == "GLY":
            xyz["HA1"] = place(N, C, CA, 1.09, 109.5, 120.0)
            xyz["HA2"] = place(N, C, CA, 1.09, 109.5, -120.0)
        else:
            xyz["HA"] = place(N, C, CA, 1.09, 109.5, -120.0)
            xyz["CB"] = place(N, C, CA, 1.53, 110.5, 122.5)
        # carbonyl O: in the peptide plane, trans to the next N
        Nnext = place(N, CA, C, 1.329, 116.2, psi)
        if last:
            xyz["OT1"] = place(Nnext, CA, C, 1.25, 118.0, 180.0)
            xyz["OT2"] = place(N, CA, C, 1.25, 118.0, psi)
        else:
            xyz["O"] = place(Nnext, CA, C, 1.231, 120.5, 180.0)
        for (nm, a, b, c, bl, an, to) in SIDECHAINS[resn]:
            xyz[nm] = place(xyz[a], xyz[b], xyz[c], bl, an, to)
        # atom order inside a residue (CHARMM-like)
        order = ["N", "HN", "CA"]
        order += ["HA1", "HA2"] if resn == "GLY" else ["HA", "CB"]
        order += [s[0] for s in SIDECHAINS[resn]]
        order += ["C", "OT1", "OT2"] if last else ["C", "O"]
        base = len(atoms)
        idx = {}
        for nm in order:
            el = "S" if nm == "SD" else nm[0]
            typ = BB_TYPE.get(nm) or SC_TYPE.get((resn, nm))
            if typ is None:
                typ = {"C": "CT2", "N": "NH1", "O": "OH1", "H": "HA"}[el]
                if resn in ("PHE",) and nm not in ("CB",):
                    typ = "CA"
                if resn == "TRP" and nm in ("CE3", "CZ2", "CZ3", "CH2"):
                    typ = "CA"
            if resn == "GLY" and nm == "CA":
                typ = "CT2"
            if last and nm == "C":
                typ = "CC"
            q = BB_CHARGE.get(nm, SC_CHARGE.get((resn, nm), 0.0))
            if resn == "GLY" and nm == "CA":
                q = -0.02
            if last and nm == "C":
                q = 0.34
            idx[nm] = len(atoms)
            atoms.append(dict(name=nm, resn_c=resn, resn_g=resn, resid_c=resid,
                              resid_g=resid, seg="PROA", chain="A", el=el,
                              type=typ, q=q, m=MASS[el], rec="ATOM",
                              xyz=xyz[nm]))
        for a, b in [("N", "HN"), ("N", "CA"), ("CA", "C")]:
            bonds.append((idx[a], idx[b]))
        for h in (["HA1", "HA2"] if resn == "GLY" else ["HA", "CB"]):
            bonds.append((idx["CA"], idx[h]))
        for o in (["OT1", "OT2"] if last else ["O"]):
            bonds.append((idx["C"], idx[o]))
        for (nm, a, b, c, *_r) in SIDECHAINS[resn]:
            bonds.append((idx[c], idx[nm]))
        for a, b in RING_BONDS.get(resn, []):
            bonds.append((idx[a], idx[b]))
        if prev is not None:
            bonds.append((prev["Cidx"], idx["N"]))
        prev = dict(N=N, CA=CA, C=C, O=xyz.get("O"), Cidx=idx["C"])
    n_protein = len(atoms)
    prot_xyz = np.array([a["xyz"] for a in atoms])
    box0 = np.array(BOX0)
    # centre the peptide in the box
    pm = np.array([a["m"] for a in atoms])
    prot_xyz += box0 / 2 - (pm[:, None] * prot_xyz).sum(0) / pm.sum()
    for a, x in zip(atoms, prot_xyz):
        a["xyz"] = x

    # waters: rigid TIP3P-like geometry, random positions away from protein
    w_local = np.array([[0.0, 0.0, 0.0], [0.9572, 0.0, 0.0],
                        [0.9572 * np.cos(np.radians(104.52)),
                         0.9572 * np.sin(np.radians(104.52)), 0.0]])
    w_local -= w_local[0]

    def random_rotation():
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        w, x, y, z = q
        return np.array([
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])

    centers = []
    while len(centers) < N_WATER:
        c = rng.uniform(1.5, box0 - 1.5)
        if len(centers) == 0:           # the box-crossing water: near the +x face
            c = np.array([box0[0] - 1.2, 6.0, 7.0])
        if np.min(np.linalg.norm(prot_xyz - c, axis=1)) < 3.2:
            continue
        if centers and np.min(np.linalg.norm(np.array(centers) - c, axis=1)) < 3.0:
            continue
        centers.append(c)
    water_rot = [random_rotation() for _ in range(N_WATER)]
    for wi in range(N_WATER):
        o = len(atoms)
        for k, (nc, ng) in enumerate([("OH2", "OW"), ("H1", "HW1"), ("H2", "HW2")]):
            el = "O" if k == 0 else "H"
            atoms.append(dict(name=nc, name_g=ng, resn_c="TIP3", resn_g="SOL",
                              resid_c=wi + 1, resid_g=len(SEQUENCE) + wi + 1,
                              seg="SOLV", chain="W", el=el,
                              type="OT" if k == 0 else "HT",
                              q=-0.834 if k == 0 else 0.417, m=MASS[el],
                              rec="HETATM",
                              xyz=centers[wi] + water_rot[wi] @ w_local[k]))
        bonds += [(o, o + 1), (o, o + 2)]
    ion_xyz = [np.array([24.0, box0[1] - 1.0, 25.0]), np.array([6.0, 26.0, 9.0])]
    for k, (nc, ng, el, q) in enumerate([("SOD", "NA", "NA", 1.0),
                                         ("CLA", "CL", "CL", -1.0)]):
        atoms.append(dict(name=nc, name_g=ng, resn_c=nc, resn_g=ng, resid_c=k + 1,
                          resid_g=len(SEQUENCE) + N_WATER + k + 1, seg="IONS",
                          chain="I", el=el.capitalize(), type=nc, q=q,
                          m=MASS[el], rec="HETATM", xyz=ion_xyz[k]))
    n_atoms = len(atoms)
    for a in atoms:
        a.setdefault("name_g", a["name"])
    x0 = np.array([a["xyz"] for a in atoms])
    masses = np.array([a["m"] for a in atoms])

    # ------------------------------------------------------------------
    # 2. motion: 10 frames. Peptide: rigid rotation about its COM + drift +
    #    thermal noise (kept whole, inside the box).  Waters/ions: drift and
    #    spin; coordinates wrapped atom-by-atom into the box, water 1
    #    crosses the +x face, the SOD ion crosses the +y face.
    # ------------------------------------------------------------------
    def rot(axis, deg):
        axis = axis / np.linalg.norm(axis)
        t = np.radians(deg)
        K = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]],
                      [-axis[1], axis[0], 0]])
        return np.eye(3) + np.sin(t) * K + (1 - np.cos(t)) * K @ K

    boxes = np.array([[BOX0[0] + 0.05 * np.sin(f), BOX0[1] + 0.04 * np.cos(f),
                       BOX0[2] - 0.03 * np.sin(0.7 * f), 90.0, 90.0, 90.0]
                      for f in range(N_FRAMES)])
    prot_axis = np.array([0.3, 0.8, 0.5])
    prot_drift = np.array([0.35, -0.25, 0.2])
    com0 = (masses[:n_protein, None] * x0[:n_protein]).sum(0) / masses[:n_protein].sum()
    w_vel = rng.normal(scale=0.4, size=(N_WATER, 3))
    w_vel[0] = [1.1, 0.05, -0.05]
    w_axis = rng.normal(size=(N_WATER, 3))
    w_spin = rng.uniform(5, 25, size=N_WATER)
    ion_vel = np.array([[0.1, 0.9, -0.1], [-0.3, 0.2, 0.25]])
    unwrapped = np.zeros((N_FRAMES, n_atoms, 3))
    for f in range(N_FRAMES):
        R = rot(prot_axis, 6.0 * f)
        xp = (x0[:n_protein] - com0) @ R.T + com0 + prot_drift * f
        xp += rng.normal(scale=0.12, size=xp.shape) * (f > 0)
        unwrapped[f, :n_protein] = xp
        for wi in range(N_WATER):
            o = n_protein + 3 * wi
            cen = x0[o]
            Rw = rot(w_axis[wi], w_spin[wi] * f)
            unwrapped[f, o:o + 3] = (x0[o:o + 3] - cen) @ Rw.T + cen + w_vel[wi] * f
        unwrapped[f, -2:] = x0[-2:] + ion_vel * f
    coords = unwrapped.copy()
    L = boxes[:, None, :3]
    coords[:, n_protein:] -= np.floor(coords[:, n_protein:] / L) * L
    assert np.all(coords[:, :n_protein] > 0.5) and np.all(coords[:, :n_protein] < L - 0.5)
    crossed = np.any(np.abs(np.diff(coords[:, n_protein:], axis=0)) > 10, axis=(0, 2))
    assert crossed[0] and crossed[1] and crossed[2], "water 1 must cross the box"
    assert crossed[-2], "SOD must cross the box"
    # velocities (Angstrom/ps) by central differences of the unwrapped path
    vel = np.gradient(unwrapped, DT_PS, axis=0)
    coords = coords.astype(np.float32)
    vel = vel.astype(np.float32)
    times = [T0_PS + DT_PS * f for f in range(N_FRAMES)]
    steps = [STEP0 + NSTEP_PER_FRAME * f for f in range(N_FRAMES)]

    # ------------------------------------------------------------------
    # 3. MDAnalysis universes with CHARMM (PSF/DCD) and GROMACS naming
    # ------------------------------------------------------------------
    def build_universe(flavour):
        g = flavour == "gmx"
        res_keys, seg_keys = [], []
        atom_res = []
        for a in atoms:
            key = (a["seg"], a["resid_g" if g else "resid_c"],
                   a["resn_g" if g else "resn_c"])
            if not res_keys or res_keys[-1] != key:
                res_keys.append(key)
            atom_res.append(len(res_keys) - 1)
        segs = []
        res_seg = []
        for k in res_keys:
            if not segs or segs[-1] != k[0]:
                segs.append(k[0])
            res_seg.append(len(segs) - 1)
        u = mda.Universe.empty(n_atoms, n_residues=len(res_keys),
                               n_segments=len(segs), atom_resindex=atom_res,
                               residue_segindex=res_seg, trajectory=True)
        u.add_TopologyAttr("names", [a["name_g" if g else "name"] for a in atoms])
        u.add_TopologyAttr("types", [a["el"] if g else a["type"] for a in atoms])
        u.add_TopologyAttr("elements", [a["el"] for a in atoms])
        u.add_TopologyAttr("masses", masses)
        u.add_TopologyAttr("charges", [a["q"] for a in atoms])
        u.add_TopologyAttr("resnames", [k[2] for k in res_keys])
        u.add_TopologyAttr("resids", [k[1] for k in res_keys])
        u.add_TopologyAttr("resnums", [k[1] for k in res_keys])
        u.add_TopologyAttr("segids", segs)
        u.add_TopologyAttr("chainIDs", [a["chain"] for a in atoms])
        u.add_TopologyAttr("record_types", [a["rec"] for a in atoms])
        u.add_TopologyAttr("altLocs", [""] * n_atoms)
        u.add_TopologyAttr("icodes", [""] * len(res_keys))
        u.add_TopologyAttr("occupancies", [1.0] * n_atoms)
        u.add_TopologyAttr("tempfactors", [0.0] * n_atoms)
        u.add_TopologyAttr("ids", list(range(1, n_atoms + 1)))
        u.add_TopologyAttr("bonds", bonds)
        u.load_new(coords.copy(), format=MemoryReader, dimensions=boxes.copy(),
                   velocities=vel.copy(), dt=DT_PS)
        return u

    u_c = build_universe("charmm")
    u_g = build_universe("gmx")

    def frames(u, which=None):
        for ts in u.trajectory[which if which is not None else slice(None)]:
            ts.time = times[ts.frame]
            ts.data["step"] = steps[ts.frame]
            yield ts

    # GRO writer title carries GROMACS-style t= / step= (as trjconv writes)
    def gro_text(u, frame, dims=None):
        tmp = out / "_tmp_frame.gro"
        u.trajectory[frame]
        if dims is not None:
            u.trajectory.ts.dimensions = dims
        u.atoms.write(str(tmp))
        lines = tmp.read_text().splitlines(keepends=True)
        tmp.unlink()
        lines[0] = ("Peptide in water (aligntraj fixture) t= %10.5f step= %d\n"
                    % (times[frame], steps[frame]))
        u.trajectory[frame]   # restore the original box
        u.trajectory.ts.dimensions = boxes[frame]
        return "".join(lines)

    (out / "conf.gro").write_text(gro_text(u_g, 0))
    MULTI_GRO_FRAMES = [0, 3, 6, 9]
    TRICLINIC = np.array([31.0, 31.0, 31.0, 60.0, 60.0, 90.0])   # rhombic dodecahedron
    (out / "multi.gro").write_text("".join(
        gro_text(u_g, f, TRICLINIC if f == 9 else None) for f in MULTI_GRO_FRAMES))

    with mda.Writer(P("traj.xtc"), n_atoms, precision=3) as w:  # 10**3 = 1000
        for ts in frames(u_g):
            w.write(u_g.atoms)
    with mda.Writer(P("traj.trr"), n_atoms) as w:
        for ts in frames(u_g):
            w.write(u_g.atoms)
    NSAVC = NSTEP_PER_FRAME
    with mda.Writer(P("traj.dcd"), n_atoms, dt=DT_PS, nsavc=NSAVC, istart=STEP0,
                    remarks="aligntraj test fixture: peptide in water") as w:
        for ts in frames(u_c):
            w.write(u_c.atoms)
    MULTI_PDB_FRAMES = [0, 2, 4, 6, 8]
    with mda.Writer(P("multi.pdb"), n_atoms, multiframe=True, bonds=None) as w:
        for ts in frames(u_g, MULTI_PDB_FRAMES):
            w.write(u_g.atoms)
    # MDAnalysis writes one CRYST1 in the header, which its own reader then
    # ignores for multi-MODEL files.  Like GROMACS trjconv, put a CRYST1
    # (same MDAnalysis format string) before every MODEL, for a per-frame box.
    cryst = mda.coordinates.PDB.PDBWriter.fmt["CRYST1"]
    pdb_lines = []
    k = 0
    for line in (out / "multi.pdb").read_text().splitlines(keepends=True):
        if line.startswith("CRYST1"):
            continue
        if line.startswith("MODEL"):
            b = boxes[MULTI_PDB_FRAMES[k]]
            pdb_lines.append(cryst.format(box=b[:3], ang=b[3:], spacegroup="P 1",
                                          zvalue=1))
            k += 1
        pdb_lines.append(line)
    assert k == len(MULTI_PDB_FRAMES)
    (out / "multi.pdb").write_text("".join(pdb_lines))
    XYZ_FRAMES = [0, 3, 6, 9]
    with mda.Writer(P("traj.xyz"), n_atoms,
                    remark="aligntraj fixture: peptide in water (Angstrom)") as w:
        for ts in frames(u_g, XYZ_FRAMES):
            w.write(u_g.atoms)

    # extended XYZ (written here: MDAnalysis has no extXYZ writer)
    EXT_FRAMES = [0, 5, 9]
    ext = []
    for f in EXT_FRAMES:
        u_g.trajectory[f]
        tri = u_g.trajectory.ts.triclinic_dimensions
        lat = " ".join(repr(float(v)) for v in tri.reshape(-1))
        ext.append("%d\n" % n_atoms)
        ext.append('Lattice="%s" Properties=species:S:1:pos:R:3:vel:R:3 '
                   'Time=%r step=%d pbc="T T T"\n' % (lat, times[f], steps[f]))
        for a, x, v in zip(atoms, u_g.atoms.positions, u_g.atoms.velocities):
            ext.append("%-2s %15.8f %15.8f %15.8f %12.6f %12.6f %12.6f\n"
                       % (a["el"], x[0], x[1], x[2], v[0], v[1], v[2]))
    (out / "ext.xyz").write_text("".join(ext))

    # PSF (written here from the topology attributes: MDAnalysis has no PSF writer)
    def psf_text(u, ext_fmt):
        W = 10 if ext_fmt else 8
        out_l = ["PSF EXT\n" if ext_fmt else "PSF\n", "\n",
                 "%*d !NTITLE\n" % (W, 2),
                 "* aligntraj test fixture: 10-residue peptide, TIP3 water, ions\n",
                 "* written by tests/data/make_fixtures.py\n", "\n",
                 "%*d !NATOM\n" % (W, n_atoms)]
        for a in u.atoms:
            if ext_fmt:
                out_l.append("%10d %-8s %-8d %-8s %-8s %-6s %10.6f    %9.4f  %10d\n"
                             % (a.index + 1, a.segid, a.resid, a.resname, a.name,
                                a.type, a.charge, a.mass, 0))
            else:
                out_l.append("%8d %-4s %-4d %-4s %-4s %-4s %10.6f    %9.4f  %10d\n"
                             % (a.index + 1, a.segid, a.resid, a.resname, a.name,
                                a.type, a.charge, a.mass, 0))
        out_l.append("\n")
        bl = sorted(tuple(sorted(b)) for b in u.bonds.to_indices().tolist())
        out_l.append("%*d !NBOND: bonds\n" % (W, len(bl)))
        for i in range(0, len(bl), 4):
            out_l.append("".join("%*d%*d" % (W, p + 1, W, q + 1) for p, q in bl[i:i + 4]) + "\n")
        out_l.append("\n")
        for tag in ("NTHETA: angles", "NPHI: dihedrals", "NIMPHI: impropers",
                    "NDON: donors", "NACC: acceptors"):
            out_l.append("%*d !%s\n\n\n" % (W, 0, tag))
        out_l.append("%*d !NNB\n\n" % (W, 0))
        for i in range(0, n_atoms, 8):
            out_l.append("".join("%*d" % (W, 0) for _ in range(min(8, n_atoms - i))) + "\n")
        out_l.append("\n%*d%*d !NGRP\n%*d%*d%*d\n\n" % (W, 1, W, 0, W, 0, W, 0, W, 0))
        return "".join(out_l)

    (out / "top.psf").write_text(psf_text(u_c, True))
    (out / "top_classic.psf").write_text(psf_text(u_c, False))

    # GROMACS index file, written by MDAnalysis' SelectionWriter
    NDX_GROUPS = [
        ("System", "all"),
        ("Protein", "protein"),
        ("Protein-H", "protein and not name H*"),
        ("C-alpha", "protein and name CA"),
        ("Backbone", "protein and name N CA C"),   # GROMACS meaning: N CA C
        ("MainChain", "protein and name N CA C O OT1 OT2"),
        ("Side Chain", "protein and not name N HN CA HA HA1 HA2 C O OT1 OT2"),
        ("SOL", "resname SOL"),
        ("Ion", "resname NA CL"),
        ("Water_and_ions", "resname SOL NA CL"),
    ]
    ndx_path = out / "index.ndx"
    with SelectionWriter(str(ndx_path), mode="w", numterms=15) as w:
        for name, sel in NDX_GROUPS:
            w.write(u_g.select_atoms(sel), name=name)

    # ------------------------------------------------------------------
    # 4. read everything back and build expected.json
    # ------------------------------------------------------------------
    def fl(x):
        return [float(v) for v in np.asarray(x).reshape(-1)]

    def fl2(x):
        return [[float(v) for v in row] for row in np.asarray(x)]

    def describe(u, has_time=True, has_step=True):
        traj = u.trajectory
        n = traj.n_frames
        fr = sorted(set(i for i in (0, n // 2, n - 1) if i < n))
        at = sorted(set([0, 1, n_protein // 2, n_protein - 1, n_protein,
                         n_protein + 3 * N_WATER, u.atoms.n_atoms - 1]))
        res = {"n_atoms": int(u.atoms.n_atoms), "n_frames": int(n),
               "chosen_atoms": at, "frames": []}
        for f in fr:
            ts = traj[f]
            d = {"frame": int(ts.frame),
                 "time": float(ts.time) if has_time else None,
                 "step": (int(ts.data["step"]) if has_step and "step" in ts.data
                          else None),
                 "dimensions": (fl(ts.dimensions) if ts.dimensions is not None else None),
                 "triclinic_dimensions": (fl2(ts.triclinic_dimensions)
                                          if ts.dimensions is not None else None),
                 "positions": {str(i): fl(ts.positions[i]) for i in at}}
            if ts.has_velocities:
                d["velocities"] = {str(i): fl(ts.velocities[i]) for i in at}
            res["frames"].append(d)
        return res

    expected = {"generator": "tests/data/make_fixtures.py", "versions": versions,
                "units": {"length": "Angstrom (MDAnalysis converts nm -> A)",
                          "time": "ps", "velocity": "Angstrom/ps"},
                "notes": {
                    "indices": "0-based atom indices",
                    "dcd_time": "MDAnalysis DCD time = (frame + istart/nsavc) * nsavc*delta "
                                "(delta stored in AKMA units as float32, hence ~1e-7 ps "
                                "deviations); DCD has no per-frame step: 'step' is null, "
                                "'md_step' = istart + frame*nsavc",
                    "time_null": "time is null where the file has none that MDAnalysis "
                                 "reads (PDB, XYZ, GRO: MDAnalysis ignores the GRO title "
                                 "'t=' and would report frame*1 ps)",
                    "conf.gro_title": "t= 100.0 ps step= 50000 in the title line",
                    "wrapping": "waters and ions are wrapped atom by atom into the box: "
                                "water 1 (atoms 102-104) is split across the +x face in "
                                "frame 1 and fully crossed by frame 2; the SOD/NA ion "
                                "(atom 174) crosses +y between frames 1 and 2; the "
                                "peptide (atoms 0-101) stays whole",
                    "boxes": "orthorhombic, fluctuating per frame (NPT-like) in "
                             "xtc/trr/dcd/pdb/gro; multi.gro frame 3 is triclinic "
                             "(rhombic dodecahedron 31 A, angles 60 60 90)",
                    "source_frames": {"multi.pdb": MULTI_PDB_FRAMES,
                                      "multi.gro": MULTI_GRO_FRAMES,
                                      "traj.xyz": XYZ_FRAMES, "ext.xyz": EXT_FRAMES},
                },
                "files": {}}
    E = expected["files"]

    def pos_close(a, b, tol):
        assert np.allclose(a, b, atol=tol), np.abs(np.asarray(a) - b).max()

    # conf.gro
    ug = mda.Universe(P("conf.gro"))
    E["conf.gro"] = describe(ug, has_time=False)
    pos_close(ug.atoms.positions, coords[0], 0.0051)
    # XTC / TRR with conf.gro
    ux = mda.Universe(P("conf.gro"), P("traj.xtc"))
    E["traj.xtc"] = describe(ux)
    E["traj.xtc"]["topology"] = "conf.gro"
    E["traj.xtc"]["precision"] = float(1000)
    ut = mda.Universe(P("conf.gro"), P("traj.trr"))
    E["traj.trr"] = describe(ut)
    E["traj.trr"]["topology"] = "conf.gro"
    for f in range(N_FRAMES):
        ux.trajectory[f]
        ut.trajectory[f]
        pos_close(ux.atoms.positions, coords[f], 0.0051)
        pos_close(ut.atoms.positions, coords[f], 1e-4)
        pos_close(ut.atoms.velocities, vel[f], 1e-4)
        assert ux.trajectory.ts.data["step"] == steps[f] == ut.trajectory.ts.data["step"]
        assert abs(ux.trajectory.ts.time - times[f]) < 1e-4
        assert np.allclose(ux.dimensions, boxes[f], atol=1e-3)
    # DCD with PSF
    ud = mda.Universe(P("top.psf"), P("traj.dcd"))
    E["traj.dcd"] = describe(ud, has_step=False)
    E["traj.dcd"]["topology"] = "top.psf"
    E["traj.dcd"]["header"] = {"istart": STEP0, "nsavc": NSAVC,
                               "dt_ps": float(ud.trajectory.dt),
                               "remarks": "aligntraj test fixture: peptide in water"}
    for d in E["traj.dcd"]["frames"]:
        d["md_step"] = STEP0 + NSAVC * d["frame"]   # istart + frame * nsavc
    for f in range(N_FRAMES):
        ud.trajectory[f]
        pos_close(ud.atoms.positions, coords[f], 1e-4)
        assert np.allclose(ud.dimensions, boxes[f], atol=1e-4)
        assert abs(ud.trajectory.ts.time - times[f]) < 1e-3
    # PDB
    up = mda.Universe(P("multi.pdb"))
    E["multi.pdb"] = describe(up, has_time=False)
    for k, f in enumerate(MULTI_PDB_FRAMES):
        up.trajectory[k]
        pos_close(up.atoms.positions, coords[f], 0.00051)
    assert list(up.atoms.names) == list(u_g.atoms.names)
    assert list(up.atoms.chainIDs) == list(u_g.atoms.chainIDs)
    assert list(up.atoms.record_types) == list(u_g.atoms.record_types)
    assert list(up.atoms.elements) == list(u_g.atoms.elements)
    E["multi.pdb"]["record_types"] = {t: int((up.atoms.record_types == t).sum())
                                      for t in ("ATOM", "HETATM")}
    E["multi.pdb"]["chainIDs"] = sorted(set(up.atoms.chainIDs))
    # multi.gro: MDAnalysis' GRO reader reads only the first frame, so every
    # frame block is also read through MDAnalysis on its own.
    blocks = []
    lines = (out / "multi.gro").read_text().splitlines(keepends=True)
    i = 0
    while i < len(lines):
        n = int(lines[i + 1])
        blocks.append("".join(lines[i:i + n + 3]))
        i += n + 3
    assert len(blocks) == len(MULTI_GRO_FRAMES)
    mg = {"n_atoms": n_atoms, "n_frames": len(blocks),
          "note": "MDAnalysis GROReader reads only the first frame; each frame "
                  "block was read by MDAnalysis separately; time/step come "
                  "from the title line. Frame 3 has a "
                  "9-number triclinic box line.", "frames": []}
    at = sorted(set([0, 1, n_protein // 2, n_protein - 1, n_protein,
                     n_protein + 3 * N_WATER, n_atoms - 1]))
    mg["chosen_atoms"] = at
    for k, text in enumerate(blocks):
        tmp = out / "_tmp_block.gro"
        tmp.write_text(text)
        ub = mda.Universe(str(tmp))
        tmp.unlink()
        ts = ub.trajectory.ts
        mg["frames"].append({
            "frame": k, "title": text.splitlines()[0],
            "time": times[MULTI_GRO_FRAMES[k]], "step": steps[MULTI_GRO_FRAMES[k]],
            "box_line": text.splitlines()[-1],
            "dimensions": fl(ts.dimensions),
            "triclinic_dimensions": fl2(ts.triclinic_dimensions),
            "positions": {str(i): fl(ts.positions[i]) for i in at}})
        pos_close(ub.atoms.positions, coords[MULTI_GRO_FRAMES[k]], 0.0051)
    assert len(mg["frames"][-1]["box_line"].split()) == 9
    assert np.allclose(mg["frames"][-1]["dimensions"], TRICLINIC, atol=0.01)
    E["multi.gro"] = mg
    # XYZ
    uy = mda.Universe(P("traj.xyz"))
    E["traj.xyz"] = describe(uy, has_time=False)
    for k, f in enumerate(XYZ_FRAMES):
        uy.trajectory[k]
        pos_close(uy.atoms.positions, coords[f], 1e-4)
    assert list(uy.atoms.names) == [a["el"] for a in atoms]
    ue = mda.Universe(P("ext.xyz"), format="XYZ", topology_format="XYZ")
    E["ext.xyz"] = describe(ue, has_time=False)
    E["ext.xyz"]["note"] = ("MDAnalysis' XYZ reader ignores the comment line: "
                            "no box/time. 'lattice' below is the Lattice= value "
                            "(row vectors a, b, c in Angstrom) per frame.")
    E["ext.xyz"]["lattice"] = []
    E["ext.xyz"]["comment_time"] = [times[f] for f in EXT_FRAMES]
    E["ext.xyz"]["comment_step"] = [steps[f] for f in EXT_FRAMES]
    for k, f in enumerate(EXT_FRAMES):
        ue.trajectory[k]
        pos_close(ue.atoms.positions, coords[f], 1e-4)
        u_g.trajectory[f]
        E["ext.xyz"]["lattice"].append(fl2(u_g.trajectory.ts.triclinic_dimensions))
        # velocities from the comment's Properties=... columns
    # PSF topologies
    for fn in ("top.psf", "top_classic.psf"):
        us = mda.Universe(P(fn))
        assert us.atoms.n_atoms == n_atoms
        for attr in ("names", "resnames", "resids", "segids", "types"):
            assert list(getattr(us.atoms, attr)) == list(getattr(u_c.atoms, attr)), (fn, attr)
        assert np.allclose(us.atoms.masses, masses, atol=1e-4)
        assert np.allclose(us.atoms.charges, u_c.atoms.charges, atol=1e-6)
        assert len(us.bonds) == len(bonds)
        chosen = sorted(set([0, 1, 2, 5, n_protein // 2, n_protein - 1, n_protein,
                             n_protein + 1, n_atoms - 2, n_atoms - 1]))
        E[fn] = {"n_atoms": n_atoms, "n_residues": int(us.residues.n_residues),
                 "n_segments": int(us.segments.n_segments),
                 "segids": list(us.segments.segids), "n_bonds": len(us.bonds),
                 "format": "PSF EXT" if fn == "top.psf" else "PSF (classic columns)",
                 "total_mass": float(us.atoms.masses.sum()),
                 "total_charge": float(us.atoms.charges.astype(np.float64).sum()),
                 "atoms": {str(i): {"name": us.atoms[i].name,
                                    "resname": us.atoms[i].resname,
                                    "resid": int(us.atoms[i].resid),
                                    "segid": us.atoms[i].segid,
                                    "type": us.atoms[i].type,
                                    "mass": float(us.atoms[i].mass),
                                    "charge": float(us.atoms[i].charge)}
                           for i in chosen}}
        E[fn]["first_bonds_1based"] = [[int(a) + 1, int(b) + 1] for a, b in
                                       sorted(tuple(sorted(b)) for b in
                                              us.bonds.to_indices().tolist())[:4]]
    # NDX: parse the file text (MDAnalysis writes but does not read ndx)
    groups = []
    for line in ndx_path.read_text().splitlines():
        s = line.strip()
        if s.startswith("["):
            groups.append([s[1:-1].strip(), []])
        elif s:
            groups[-1][1] += [int(t) for t in s.split()]
    E["index.ndx"] = {"groups": [
        {"name": g, "size": len(ix), "first": ix[0], "last": ix[-1]}
        for g, ix in groups]}
    for (g, ix), (name, sel) in zip(groups, NDX_GROUPS):
        assert g == name
        assert ix == list(u_g.select_atoms(sel).indices + 1)

    # MDTraj cross-check of the binary/text trajectories (nm -> A)
    mt = {}
    for fn, top in (("traj.xtc", "conf.gro"), ("traj.trr", "conf.gro"),
                    ("traj.dcd", "top.psf"), ("multi.pdb", None)):
        t = md.load(P(fn), top=P(top)) if top else md.load(P(fn))
        uu = {"traj.xtc": ux, "traj.trr": ut, "traj.dcd": ud, "multi.pdb": up}[fn]
        assert t.n_frames == uu.trajectory.n_frames and t.n_atoms == n_atoms
        for f in range(t.n_frames):
            uu.trajectory[f]
            pos_close(t.xyz[f] * 10, uu.atoms.positions, 2e-3)
            assert np.allclose(uu.dimensions, (boxes[f] if fn != "multi.pdb"
                                               else boxes[MULTI_PDB_FRAMES[f]]), atol=2e-3)
            if fn != "multi.pdb":   # MDTraj keeps only the first CRYST1 of a PDB
                pos_close(t.unitcell_lengths[f] * 10, uu.dimensions[:3], 2e-3)
                pos_close(t.unitcell_angles[f], uu.dimensions[3:], 2e-3)
        mt[fn] = {"n_frames": int(t.n_frames), "time_ps": fl(t.time)}
    tg = md.load(P("multi.gro"))
    assert tg.n_frames == len(MULTI_GRO_FRAMES)
    for k, f in enumerate(MULTI_GRO_FRAMES):
        pos_close(tg.xyz[k] * 10, coords[f], 0.0051)
    mt["multi.gro"] = {"n_frames": int(tg.n_frames)}
    psf_md = md.load_psf(P("top.psf"))
    assert psf_md.n_atoms == n_atoms
    # (MDTraj renames atoms to PDB conventions, e.g. HN -> H: compare the rest)
    assert [a.residue.resSeq for a in psf_md.atoms] == list(u_c.atoms.resids)
    assert psf_md.n_bonds == len(bonds)
    mt["top.psf"] = {"n_atoms": int(psf_md.n_atoms), "n_bonds": int(psf_md.n_bonds)}
    expected["mdtraj_crosscheck"] = mt

    # ------------------------------------------------------------------
    # 5. selections.json
    # ------------------------------------------------------------------
    EXPRS = [
        "all", "name CA", "name CA CB", "name C*", "name *A", "name H?", "name C?",
        "name OT?", "name ?D?", "resname TRP", "resname T?P", "resname L*",
        "resname TIP3", "resname SOL", "resname SOL TIP3", "resname NA SOD CL CLA",
        "resid 5", "resid 1 3 5", "resid 10:20", "resid 10-20", "resid 3:5 8",
        "resnum 2", "resnum 4-6", "resnum 9:12", "index 0", "index 0:9",
        "index 0-9", "index 5 10 15", "index 170:200", "type CT1", "type CT*",
        "type HT", "type H", "type C", "backbone", "protein", "not protein",
        "protein and name CA", "backbone or name CB", "not backbone and protein",
        "protein and not (name CA or name C)", "name CA and resid 3:7",
        "resname TRP or resname PHE and name CG",
        "(resname TRP or resname PHE) and name CG",
        "not name H* and protein", "not protein and not resname SOL TIP3",
        "name CA or name N and resid 2", "not name CA and not name N or resid 1",
        "name CB or name CA and resid 3", "resid 2 and name CA or resid 3 and name N",
        "protein and name CA or resname SOL TIP3",
        "not not name CA", "not (protein or resname SOL TIP3)",
        "protein and (resid 1-3 or resid 8:10) and not name H*",
        "backbone and resid 4", "name N CA C O and protein",
        "resname MET and name S*",
        # selecting nothing
        "name XYZ", "resid 999", "resname ZZZ and name CA", "protein and not protein",
        "index 10000", "name CA and name CB", "backbone and resname SOL TIP3",
        "resid 20:10",
    ]
    PDB_EXPRS = ["all", "protein", "backbone", "name CA", "element S", "element H",
                 "element N O", "resname SOL", "not protein and not resname SOL",
                 "resid 10:20", "name *A", "resname T?P", "index 0-9"]
    ELEMENT_EXPRS = ["element C", "element S", "element H"]
    # SPEC §6 says not > and > or; MDAnalysis gives 'and'/'or' equal precedence
    # (left to right).  For expressions where that matters, the SPEC reading is
    # evaluated too, through explicit parentheses.
    SPEC_READING = {
        "resname TRP or resname PHE and name CG": "resname TRP or (resname PHE and name CG)",
        "name CA or name N and resid 2": "name CA or (name N and resid 2)",
        "name CB or name CA and resid 3": "name CB or (name CA and resid 3)",
        "resid 2 and name CA or resid 3 and name N":
            "(resid 2 and name CA) or (resid 3 and name N)",
        "not name CA and not name N or resid 1":
            "((not name CA) and (not name N)) or resid 1",
        "protein and name CA or resname SOL TIP3":
            "(protein and name CA) or resname SOL TIP3",
    }

    def summary(ix):
        ix = [int(i) for i in ix]
        return {"count": len(ix), "first": ix[0] if ix else None,
                "last": ix[-1] if ix else None, "sum": sum(ix),
                "sumsq": sum(i * i for i in ix)}

    cases, errors = [], []
    topo = {"top.psf": mda.Universe(P("top.psf")),
            "conf.gro": mda.Universe(P("conf.gro")),
            "multi.pdb": up}
    for tname, exprs in (("top.psf", EXPRS + ELEMENT_EXPRS),
                         ("conf.gro", EXPRS + ELEMENT_EXPRS),
                         ("multi.pdb", PDB_EXPRS)):
        for e in exprs:
            try:
                ix = topo[tname].select_atoms(e).indices
            except Exception as exc:  # e.g. no 'elements' in PSF/GRO
                errors.append({"topology": tname, "expr": e,
                               "error": type(exc).__name__ + ": " + str(exc).split("\n")[0]})
                continue
            case = {"topology": tname, "expr": e}
            case.update(summary(ix))
            if e in SPEC_READING:
                alt = summary(topo[tname].select_atoms(SPEC_READING[e]).indices)
                case["mdanalysis_reading"] = "'and'/'or' equal precedence, left to right"
                case["spec_expr"] = SPEC_READING[e]
                case["spec_result"] = alt
                case["spec_differs"] = alt != summary(ix)
            cases.append(case)
    # sanity: precedence
    s = topo["top.psf"]
    # MDAnalysis 2.11: 'and' and 'or' have the SAME precedence, left-associative
    assert (s.select_atoms("resname TRP or resname PHE and name CG").indices.tolist()
            == s.select_atoms("(resname TRP or resname PHE) and name CG").indices.tolist())
    assert s.select_atoms("resid 10:20").indices.tolist() == \
        s.select_atoms("resid 10-20").indices.tolist()
    selections = {"generator": "tests/data/make_fixtures.py", "versions": versions,
                  "notes": ["0-based atom indices; first/last null when empty",
                            "MDAnalysis 2.11 gives 'and' and 'or' the SAME precedence "
                            "(evaluated left to right; 'not' binds tighter): "
                            "'A or B and C' == '(A or B) and C'. Where this differs "
                            "from SPEC's not > and > or, spec_expr/spec_result give "
                            "the SPEC reading evaluated with explicit parentheses "
                            "(spec_differs says whether the results differ)",
                            "conf.gro has no types/elements: MDAnalysis guesses "
                            "'types' from atom names (e.g. 'C', 'H', 'NA'); "
                            "'element' is unavailable there and in the PSF (see errors)",
                            "top.psf: resids restart per segment (PROA 1-10, "
                            "SOLV 1-24, IONS 1-2); conf.gro: resids 1-36 continuous"],
                  "cases": cases, "errors": errors}
    (out / "selections.json").write_text(json.dumps(selections, indent=1) + "\n")
    print("selection cases:", len(cases), "errors recorded:", len(errors))

    # ------------------------------------------------------------------
    # 6. aligned_expected.json (MDAnalysis AlignTraj, in memory)
    # ------------------------------------------------------------------
    aligned = {"generator": "tests/data/make_fixtures.py", "versions": versions,
               "call": "align.AlignTraj(mobile, reference, select='backbone', "
                       "weights='mass', in_memory=True).run()",
               "notes": ["reference = frame 0 of a second Universe on the same files",
                         "AlignTraj translates every frame so that the mass-weighted "
                         "centre of the selection sits at the reference's centre "
                         "(reference_center below), then rotates it onto the "
                         "reference; results.rmsd is the mass-weighted RMSD (A) of "
                         "the selection after fitting"],
               "cases": []}
    for top, trj in (("top.psf", "traj.dcd"), ("conf.gro", "traj.xtc")):
        mob = mda.Universe(P(top), P(trj))
        ref = mda.Universe(P(top), P(trj))
        ref.trajectory[0]
        rsel = ref.select_atoms("backbone")
        ref_center = rsel.center(rsel.masses)
        al = align.AlignTraj(mob, ref, select="backbone", weights="mass",
                             in_memory=True).run()
        chosen = [0, 2, n_protein // 2, n_protein - 1, n_protein, n_atoms - 1]
        fr = {}
        for f in (N_FRAMES // 2, N_FRAMES - 1):
            mob.trajectory[f]
            sel = mob.select_atoms("backbone")
            fr[str(f)] = {"positions": {str(i): fl(mob.atoms.positions[i]) for i in chosen},
                          "selection_center": fl(sel.center(sel.masses))}
            assert np.allclose(sel.center(sel.masses), ref_center, atol=1e-3)
        aligned["cases"].append({
            "topology": top, "trajectory": trj, "select": "backbone",
            "weights": "mass", "n_selected": int(rsel.n_atoms),
            "reference_frame": 0, "reference_center": fl(ref_center),
            "rmsd": fl(al.results.rmsd), "frames": fr})
        assert al.results.rmsd[0] < 1e-3
    (out / "aligned_expected.json").write_text(json.dumps(aligned, indent=1) + "\n")

    (out / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")

    # MDAnalysis leaves offset caches next to XTC/TRR files: remove them
    for p in list(out.glob(".*_offsets.*")) + list(out.glob("_tmp_*")):
        p.unlink()
    total = 0
    for p in sorted(out.iterdir()):
        if p.is_file():
            total += p.stat().st_size
            print("%-24s %8d" % (p.name, p.stat().st_size))
    print("total bytes: %d" % total)
    assert total <= 1_000_000, "fixtures exceed 1 MB"


if __name__ == "__main__":
    main()
