"""Peer tools timed by bench/run.sh on the same files (never used by the tests).

    python bench/peers.py mdtraj IN.npz OUT.npz          # MDTraj superpose onto frame 0
    python bench/peers.py mdanalysis TOP.gro IN.xtc OUT.xtc   # MDAnalysis AlignTraj, fit on atoms 0..2999
"""
import sys
import time

import numpy as np


def mdtraj_superpose(src, dst):
    import mdtraj as md

    x = np.load(src)["arr"]
    top = md.Topology()
    residue = top.add_residue("X", top.add_chain())
    for _ in range(x.shape[1]):
        top.add_atom("C", md.element.carbon, residue)
    traj = md.Trajectory(x, top)
    t0 = time.perf_counter()
    traj.superpose(traj, 0)
    print(f"superpose {time.perf_counter() - t0:.3f} s", file=sys.stderr)
    np.savez(dst, arr=traj.xyz)


def mdanalysis_aligntraj(top, src, dst):
    import MDAnalysis as mda
    from MDAnalysis.analysis import align

    mobile = mda.Universe(top, src)
    reference = mda.Universe(top, src)
    align.AlignTraj(mobile, reference, select="index 0:2999", filename=dst).run()


if __name__ == "__main__":
    if sys.argv[1] == "mdtraj":
        mdtraj_superpose(sys.argv[2], sys.argv[3])
    else:
        mdanalysis_aligntraj(sys.argv[2], sys.argv[3], sys.argv[4])
