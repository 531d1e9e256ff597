"""Speed of aligntraj.align on a (frames, points, 3) float32 array in memory, against a NumPy
SVD Kabsch and (when installed) mdtraj.Trajectory.superpose, on the same array.

    python python/benchmarks/speed.py [--frames 10000] [--points 1000] [--threads 2]

GB/s counts the input array's bytes once. "overhead" compares aligntraj.align with the same
engine run on the same bytes without Python in between (aligntraj.align with out= given, which
skips the allocation) — a rough upper bound of the wrapper's cost.
"""

import argparse
import time

import numpy as np

import aligntraj


def numpy_kabsch(X):
    Xc = X - X.mean(axis=1, keepdims=True)
    Y = Xc[0]
    H = np.einsum("fni,nj->fij", Xc, Y)
    U, S, Vt = np.linalg.svd(H)
    d = np.sign(np.linalg.det(np.einsum("fji,fkj->fik", Vt, U)))
    D = np.zeros_like(H)
    D[:, 0, 0] = D[:, 1, 1] = 1
    D[:, 2, 2] = d
    R = np.einsum("fji,fjk,flk->fil", Vt, D, U)
    return np.einsum("fnj,fij->fni", Xc, R)


def best(f, repeat=3):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=10000)
    ap.add_argument("--points", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(a.frames, a.points, 3)) * 10).astype(np.float32)
    gb = X.nbytes / 1e9
    out = np.empty_like(X)
    rows = []
    t = best(lambda: aligntraj.align(X, threads=a.threads))
    rows.append(("aligntraj.align", t))
    t_out = best(lambda: aligntraj.align(X, out=out, threads=a.threads))
    rows.append(("aligntraj.align(out=)", t_out))
    n = min(a.frames, 2000)
    t_np = best(lambda: numpy_kabsch(X[:n]), repeat=1) * a.frames / n
    rows.append((f"numpy SVD Kabsch (extrapolated from {n} frames)", t_np))
    try:
        import mdtraj

        m = min(a.frames, 2000)
        traj = mdtraj.Trajectory(X[:m].copy(), topology=None)
        t_md = best(lambda: traj.superpose(traj, 0), repeat=1) * a.frames / m
        rows.append((f"mdtraj superpose (extrapolated from {m} frames)", t_md))
    except Exception as e:  # not installed, or no topology support
        rows.append((f"mdtraj: {type(e).__name__}", float("nan")))
    print(f"array {X.shape} float32, {gb:.3f} GB, {a.threads} threads")
    print(f"{'method':52s} {'seconds':>9s} {'GB/s':>7s} {'× aligntraj':>11s}")
    for name, t in rows:
        print(f"{name:52s} {t:9.3f} {gb / t:7.2f} {t / rows[0][1]:11.1f}")


if __name__ == "__main__":
    main()
