import os
import pathlib
import shutil
import subprocess

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _binary():
    env = os.environ.get("ALIGNTRAJ_BIN")
    if env:
        return env
    built = ROOT / "target" / "release" / "aligntraj"
    if built.exists():
        return str(built)
    return shutil.which("aligntraj")


@pytest.fixture(scope="session")
def cli():
    """Runs the aligntraj binary; returns a function (args) -> CompletedProcess."""
    exe = _binary()
    if exe is None:
        pytest.skip("the aligntraj binary is not built (cargo build --release)")

    def run(*args, check=True):
        p = subprocess.run([exe, *map(str, args)], capture_output=True, text=True)
        if check and p.returncode != 0:
            raise AssertionError(f"aligntraj {' '.join(map(str, args))}: {p.stderr}")
        return p

    return run


def rigid_trajectory(frames=12, points=9, dims=3, noise=0.05, seed=0):
    """A random body moved by random proper rotations and translations, plus noise."""
    rng = np.random.default_rng(seed)
    body = rng.normal(size=(points, dims)) * np.linspace(3.0, 1.0, dims)
    out = np.empty((frames, points, dims))
    for f in range(frames):
        q, r = np.linalg.qr(rng.normal(size=(dims, dims)))
        q = q * np.sign(np.diag(r))
        if np.linalg.det(q) < 0:
            q[:, 0] = -q[:, 0]
        out[f] = (body + noise * rng.normal(size=body.shape)) @ q.T + rng.normal(size=dims) * 5
    return out
