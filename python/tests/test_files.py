import numpy as np
import pytest

import aligntraj
from conftest import rigid_trajectory


def test_align_file_equals_cli(cli, tmp_path):
    X = rigid_trajectory(seed=70)
    m = np.linspace(1, 3, X.shape[1])
    np.savez(tmp_path / "in.npz", arr=X, masses=m, time=np.arange(12.0))
    out = aligntraj.align_file(tmp_path / "in.npz", tmp_path / "py.npz", ref="average",
                               masses="masses", fit="0:6")
    assert out.endswith("py.npz")
    cli("align", "--center", "com", "--rotate", "kabsch", "--ref", "average", "--masses",
        "masses", "--fit-points", "0:6", tmp_path / "in.npz", "-o", tmp_path / "cli.npz")
    assert (tmp_path / "py.npz").read_bytes() == (tmp_path / "cli.npz").read_bytes()
    with np.load(tmp_path / "py.npz") as z:
        assert z["arr"].tobytes() == aligntraj.align(X, ref="average", masses=m, fit=range(6)).tobytes()
        assert np.array_equal(z["time"], np.arange(12.0))


def test_align_file_errors(tmp_path):
    with pytest.raises(OSError) as e:
        aligntraj.align_file(tmp_path / "missing.npz", tmp_path / "o.npz")
    assert "missing.npz" in str(e.value) and "\n" not in str(e.value)
    (tmp_path / "bad.npz").write_bytes(b"not a zip at all")
    with pytest.raises((ValueError, OSError)) as e:
        aligntraj.align_file(tmp_path / "bad.npz", tmp_path / "o.npz")
    assert "bad.npz" in str(e.value)
    assert not (tmp_path / "o.npz").exists()


def test_read_npz_and_frames(tmp_path):
    X = rigid_trajectory(seed=71).astype(np.float32)
    np.savez(tmp_path / "t.npz", arr=X, other=np.zeros(3))
    Y, meta = aligntraj.read(tmp_path / "t.npz")
    assert Y.dtype == np.float32 and Y.tobytes() == X.tobytes()
    assert meta["key"] == "arr" and meta["dtype"] == "float32"
    Y, _ = aligntraj.read(tmp_path / "t.npz", frames=slice(2, 10, 3))
    assert Y.tobytes() == X[2:10:3].tobytes()
    np.save(tmp_path / "t.npy", X.astype(">f8"))
    Y, meta = aligntraj.read(tmp_path / "t.npy")
    assert Y.dtype == np.float64 and np.array_equal(Y, X.astype(np.float64))


def test_read_md_format_roundtrip(cli, tmp_path):
    X = np.round(rigid_trajectory(frames=3, points=4, seed=72), 3)
    np.savez(tmp_path / "t.npz", arr=X)
    cli("convert", tmp_path / "t.npz", "-o", tmp_path / "t.xyz")
    Y, meta = aligntraj.read(tmp_path / "t.xyz")
    assert Y.shape == (3, 4, 3)
    assert np.allclose(Y, X, atol=1e-3)


def test_read_missing_file_is_oserror(tmp_path):
    with pytest.raises(OSError):
        aligntraj.read(tmp_path / "nope.npz")


def test_sensitivity_report():
    X = rigid_trajectory(frames=10, points=6, seed=73)
    rep = aligntraj.sensitivity(X, ["com+principal", "point0+point-vector"], frames=4)
    assert [p["name"] for p in rep["pipelines"]] == ["com+principal", "point0+point-vector"]
    S = rep["pipelines"][0]["matrix"]
    assert isinstance(S, np.ndarray) and S.shape == (6, 6)
    assert set(rep["pipelines"][0]["summary"]) >= {"self", "cross_mean", "cross_max", "leak_mean", "unevenness"}
    assert rep["pipelines"][1]["matrix"][0, 0] == 0.0
    assert len(rep["deltas"]) == 16


def test_sensitivity_equals_cli_json(cli, tmp_path):
    import json
    X = rigid_trajectory(frames=8, points=5, seed=74)
    np.save(tmp_path / "x.npy", X)
    cli("sensitivity", tmp_path / "x.npy", "--pipeline", "com+kabsch", "--frames", "4",
        "--report", tmp_path / "r.json")
    want = json.loads((tmp_path / "r.json").read_text())
    got = aligntraj.sensitivity(X, ["com+kabsch"], frames=4)
    assert np.array_equal(got["pipelines"][0]["matrix"], np.array(want["pipelines"][0]["matrix"]))


def test_sensitivity_points_and_sweep_points_equal_the_cli(cli, tmp_path):
    import json
    X = rigid_trajectory(frames=6, points=9, seed=76)
    np.save(tmp_path / "x.npy", X)
    cli("sensitivity", tmp_path / "x.npy", "--pipeline", "com+kabsch", "--points", "1,4:6",
        "--sweep-points", "4", "--steps", "4", "--report", tmp_path / "r.json")
    want = json.loads((tmp_path / "r.json").read_text())
    got = aligntraj.sensitivity(X, ["com+kabsch"], frames=None, steps=4, points=[1, 4, 5],
                                sweep_points="4")
    assert got["nudged"] == [1, 4, 5] == want["nudged"]
    p = got["pipelines"][0]
    assert p["matrix"].shape == (3, 9)
    assert np.array_equal(p["matrix"], np.array(want["pipelines"][0]["matrix"]))
    # One sweep point: [step][j] for 4 δ values and 9 points.
    assert p["sweep_full"].shape == (1, 4, 9)
    assert np.array_equal(p["sweep_full"], np.array(want["pipelines"][0]["sweep_full"]))
    with pytest.raises(ValueError, match="out of range"):
        aligntraj.sensitivity(X, ["com+kabsch"], points=[99])


def test_check_report():
    X = rigid_trajectory(frames=10, points=6, seed=75)
    rep = aligntraj.check(X, ["com+kabsch", "com+principal"], trials=3, seed=1)
    assert [p["name"] for p in rep["pipelines"]] == ["com+kabsch", "com+principal"]
    assert all(p["broken"] == 0 for p in rep["pipelines"])
    with pytest.raises(ValueError, match="unknown"):
        aligntraj.check(X, ["com+spin"])


def test_fit_selection_with_topology(tmp_path):
    lines = []
    names = ["N", "CA", "C", "O", "CB"] * 2
    for i, name in enumerate(names):
        res = 1 + i // 5
        lines.append(
            f"ATOM  {i + 1:5d} {name:<4s} ALA A{res:4d}    {0.0:8.3f}{0.0:8.3f}{0.0:8.3f}  1.00  0.00           {name[0]:>2s}"
        )
    (tmp_path / "top.pdb").write_text("\n".join(lines) + "\nEND\n")
    X = rigid_trajectory(points=10, seed=76)
    Y = aligntraj.align(X, fit="name CA CB", top=tmp_path / "top.pdb")
    assert Y.tobytes() == aligntraj.align(X, fit=[1, 4, 6, 9]).tobytes()
    with pytest.raises(ValueError, match="selection"):
        aligntraj.align(X, fit="name XX", top=tmp_path / "top.pdb")
