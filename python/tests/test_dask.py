import numpy as np
import pytest

import aligntraj
from conftest import rigid_trajectory

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
import aligntraj.dask as atd  # noqa: E402


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    )
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.mark.filterwarnings("ignore:.*not centred:RuntimeWarning")
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(center="com", rotate="kabsch", ref=37),
        dict(center="none", rotate="kabsch", ref=5),
        dict(center="point0", rotate="principal"),
        dict(center="com", rotate="point-vector", fit=[0, 1, 2, 4]),
    ],
)
def test_dask_on_two_worker_processes_equals_align(client, kwargs):
    X = rigid_trajectory(frames=203, points=11, seed=50)
    D = da.from_array(X, chunks=(40, -1, -1))
    expected = aligntraj.align(X, **kwargs)
    got = client.compute(atd.align(D, **kwargs)).result()
    assert got.dtype == expected.dtype
    assert got.tobytes() == expected.tobytes()


def test_dask_reference_array_and_float32(client):
    X = rigid_trajectory(frames=64, points=7, seed=51).astype(np.float32)
    R = rigid_trajectory(frames=1, points=7, seed=52)[0]
    D = da.from_array(X, chunks=(10, 3, -1))  # rechunked along points
    got = client.compute(atd.align(D, ref=R)).result()
    assert got.dtype == np.float32
    assert got.tobytes() == aligntraj.align(X, ref=R).tobytes()


def test_dask_rejects_history_dependent_options():
    D = da.zeros((4, 3, 3), chunks=(2, -1, -1))
    with pytest.raises(ValueError, match="average"):
        atd.align(D, ref="average")
    with pytest.raises(ValueError, match="continuous"):
        atd.align(D, rotate="principal", sign="continuous")


def test_align_files(client, tmp_path):
    paths = []
    for i in range(3):
        p = tmp_path / f"traj{i}.npz"
        np.savez(p, arr=rigid_trajectory(seed=60 + i))
        paths.append(p)
    outs = atd.align_files(paths, tmp_path / "out", client=client, rotate="principal")
    for p, o in zip(paths, outs):
        with np.load(p) as a, np.load(o) as b:
            assert b["arr"].tobytes() == aligntraj.align(a["arr"], rotate="principal").tobytes()
