import os
import threading
import time

import numpy as np
import pytest

import aligntraj
from conftest import rigid_trajectory

CENTERS = ["com", "point0", "point2", "none"]
ROTATIONS = ["principal", "point-vector", "point-vector:1,0,3", "kabsch", "none"]


def cli_align(cli, tmp_path, X, args, extra=None):
    src = tmp_path / "in.npz"
    dst = tmp_path / "out.npz"
    np.savez(src, arr=X, **(extra or {}))
    if dst.exists():
        dst.unlink()
    cli(*args, src, "-o", dst, "--quiet")
    with np.load(dst) as z:
        return z["arr"]


def same_bits(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes(), f"max difference {np.max(np.abs(a - b))}"


@pytest.mark.parametrize("center", CENTERS)
@pytest.mark.parametrize("rotate", ROTATIONS)
def test_align_equals_cli_bit_for_bit(cli, tmp_path, center, rotate):
    X = rigid_trajectory()
    if center == "none" and rotate != "none":
        with pytest.warns(RuntimeWarning, match="not centred"):
            Y = aligntraj.align(X, center=center, rotate=rotate)
    else:
        Y = aligntraj.align(X, center=center, rotate=rotate)
    same_bits(Y, cli_align(cli, tmp_path, X, ["align", "--center", center, "--rotate", rotate]))


@pytest.mark.parametrize(
    "kwargs,args",
    [
        (dict(ref=5), ["--ref", "5"]),
        (dict(ref="average"), ["--ref", "average"]),
        (dict(ref=3, to_ref_center=True), ["--ref", "3", "--to-ref-center"]),
        (dict(fit="0:4,6"), ["--fit-points", "0:4,6"]),
        (dict(fit=np.array([6, 0, 1, 2, 3])), ["--fit-points", "0:4,6"]),
        (dict(masses="M"), ["--masses", "m"]),
        (dict(masses="M", fit=[1, 2, 5, 7], ref="average"),
         ["--masses", "m", "--fit-points", "1,2,5,7", "--ref", "average"]),
        (dict(rotate="principal", sign="continuous"), ["--rotate", "principal", "--sign", "continuous"]),
        (dict(rotate="principal", masses="M"), ["--rotate", "principal", "--masses", "m"]),
        (dict(center="point1", rotate="point-vector", fit=[0, 1, 2, 8]),
         ["--center", "point1", "--rotate", "point-vector", "--fit-points", "0:3,8"]),
    ],
)
def test_align_options_equal_cli(cli, tmp_path, kwargs, args):
    X = rigid_trajectory(seed=3)
    m = np.random.default_rng(1).uniform(0.5, 16, size=X.shape[1])
    kwargs = dict(kwargs)
    if kwargs.get("masses") == "M":
        kwargs["masses"] = m
    full = ["align"]
    full += [] if "--center" in args else ["--center", "com"]
    full += [] if "--rotate" in args else ["--rotate", "kabsch"]
    full += args
    Y = aligntraj.align(X, **kwargs)
    same_bits(Y, cli_align(cli, tmp_path, X, full, extra={"m": m}))


def test_align_reference_array_equals_cli_ref_file(cli, tmp_path):
    X = rigid_trajectory(seed=4)
    R = rigid_trajectory(frames=1, seed=9)[0]
    np.save(tmp_path / "ref.npy", R)
    np.savez(tmp_path / "ref.npz", ref=R)
    Y = aligntraj.align(X, ref=R)
    same_bits(Y, cli_align(cli, tmp_path, X, ["align", "--center", "com", "--rotate", "kabsch",
                                              "--ref", tmp_path / "ref.npz"]))


@pytest.mark.parametrize("kind,args", [("com", ["--com"]), ("point0", ["--point", "0"]), ("point3", ["--point", "3"])])
def test_center_equals_cli(cli, tmp_path, kind, args):
    X = rigid_trajectory(seed=5)
    same_bits(aligntraj.center(X, kind), cli_align(cli, tmp_path, X, ["center", *args]))


@pytest.mark.parametrize(
    "kind,args",
    [("principal", ["--principal"]), ("point-vector", ["--point-vector"]),
     ("point-vector:2,0,1", ["--point-vector", "2,0,1"]), ("kabsch", ["--kabsch"])],
)
def test_rotate_equals_cli(cli, tmp_path, kind, args):
    X = aligntraj.center(rigid_trajectory(seed=6), "com")
    same_bits(aligntraj.rotate(X, kind), cli_align(cli, tmp_path, X, ["rotate", *args]))


def test_rotate_uncentred_warns_once():
    X = rigid_trajectory(seed=6)
    with pytest.warns(RuntimeWarning, match="not centred"):
        aligntraj.rotate(X, "principal")


@pytest.mark.parametrize("dims", [2, 4])
def test_other_dims_equal_cli(cli, tmp_path, dims):
    X = rigid_trajectory(dims=dims, seed=7)
    for rotate in ["principal", "kabsch", "point-vector"]:
        same_bits(aligntraj.align(X, rotate=rotate),
                  cli_align(cli, tmp_path, X, ["align", "--center", "com", "--rotate", rotate]))


def test_float32_in_float32_out(cli, tmp_path):
    X = rigid_trajectory(seed=8).astype(np.float32)
    for rotate in ["kabsch", "principal"]:
        Y = aligntraj.align(X, rotate=rotate)
        assert Y.dtype == np.float32
        same_bits(Y, cli_align(cli, tmp_path, X, ["align", "--center", "com", "--rotate", rotate]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_out_in_place(dtype):
    X = rigid_trajectory(frames=12000, points=60, seed=10).astype(dtype)  # several 4 MiB chunks
    expected = aligntraj.align(X, rotate="principal")
    Z = X.copy()
    r = aligntraj.align(Z, rotate="principal", out=Z)
    assert r is Z
    same_bits(Z, expected)
    Z = X.copy()
    aligntraj.align(Z, ref=9000, out=Z)  # the reference frame is overwritten during the run
    same_bits(Z, aligntraj.align(X, ref=9000))
    Z = X.copy()
    aligntraj.align(Z, ref="average", out=Z)
    same_bits(Z, aligntraj.align(X, ref="average"))
    Z = X.copy()
    aligntraj.align(Z, rotate="principal", sign="continuous", out=Z)
    same_bits(Z, aligntraj.align(X, rotate="principal", sign="continuous"))


def test_out_separate_array():
    X = rigid_trajectory(seed=11)
    out = np.empty_like(X)
    assert aligntraj.align(X, out=out) is out
    same_bits(out, aligntraj.align(X))
    with pytest.raises(ValueError, match="out"):
        aligntraj.align(X, out=np.empty((1, 2, 3)))
    with pytest.raises(ValueError, match="overlaps"):
        aligntraj.align(X[:6], out=X[1:7])


def test_input_is_not_modified():
    X = rigid_trajectory(seed=12)
    copy = X.copy()
    aligntraj.align(X)
    same_bits(X, copy)


def test_non_contiguous_input_is_copied():
    X = rigid_trajectory(frames=20, seed=13)
    view = X[::2]
    assert not view.flags.c_contiguous
    same_bits(aligntraj.align(view), aligntraj.align(np.ascontiguousarray(view)))
    fortran = np.asfortranarray(X)
    same_bits(aligntraj.align(fortran), aligntraj.align(X))
    big_endian = X.astype(">f8")
    Y = aligntraj.align(big_endian)
    assert Y.dtype == np.float64 and Y.dtype.isnative
    same_bits(Y, aligntraj.align(X))


def numpy_kabsch(X, ref=0):
    Xc = X - X.mean(axis=1, keepdims=True)
    Y = Xc[ref]
    out = np.empty_like(Xc)
    for f, P in enumerate(Xc):
        H = P.T @ Y
        U, S, Vt = np.linalg.svd(H)
        d = np.sign(np.linalg.det(Vt.T @ U.T))
        D = np.diag([1.0] * (X.shape[2] - 1) + [d])
        R = Vt.T @ D @ U.T
        out[f] = P @ R.T
    return out


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("dims", [2, 3])
def test_kabsch_agrees_with_numpy_svd(seed, dims):
    X = rigid_trajectory(frames=30, points=15, dims=dims, noise=0.3, seed=seed)
    Y = aligntraj.align(X, center="com", rotate="kabsch", ref=4)
    assert np.max(np.abs(Y - numpy_kabsch(X, ref=4))) < 1e-10


def test_kabsch_recovers_exact_rigid_motion():
    X = rigid_trajectory(frames=20, points=10, noise=0.0, seed=21)
    Y = aligntraj.align(X)
    assert np.max(np.abs(Y - Y[0])) < 1e-10


def numpy_principal(X):
    out = np.empty_like(X)
    for f, P in enumerate(X - X.mean(axis=1, keepdims=True)):
        w, V = np.linalg.eigh(P.T @ P)
        E = V[:, ::-1].copy()
        D = E.shape[1]
        for k in range(D - 1):
            if np.sum((P @ E[:, k]) ** 3) < 0:
                E[:, k] = -E[:, k]
        if np.linalg.det(E) < 0:
            E[:, D - 1] = -E[:, D - 1]
        out[f] = P @ E
    return out


@pytest.mark.parametrize("dims", [2, 3])
def test_principal_agrees_with_eigh_and_sign_rule(dims):
    X = rigid_trajectory(frames=25, points=12, dims=dims, noise=0.2, seed=30 + dims)
    Y = aligntraj.align(X, center="com", rotate="principal")
    assert np.max(np.abs(Y - numpy_principal(X))) < 1e-10


def test_gil_is_released_while_aligning():
    X = rigid_trajectory(frames=20000, points=200, noise=0.1, seed=40)
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.perf_counter())

    aligntraj.align(X[:100])  # warm up
    t = threading.Thread(target=ticker)
    t.start()
    time.sleep(0.01)
    start = time.perf_counter()
    aligntraj.align(X, threads=1)
    end = time.perf_counter()
    stop.set()
    t.join()
    inside = [s for s in ticks if start + 0.1 * (end - start) < s < end - 0.1 * (end - start)]
    # With the GIL held the ticker could not run at all during the call.
    assert len(inside) > 100, (len(inside), end - start)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs 2 cores")
def test_two_threads_align_concurrently():
    """Two Python threads aligning at once beat the same two calls in a row (they would take
    as long if the GIL were held). Best of three attempts: the machine may be busy."""
    if os.getloadavg()[0] > (os.cpu_count() or 1) + 1:
        pytest.skip(f"the machine is busy (load {os.getloadavg()[0]:.1f}); see the GIL test above")
    X = rigid_trajectory(frames=20000, points=100, noise=0.1, seed=41)
    outs = [np.ones_like(X), np.ones_like(X)]  # preallocated: no page faults while timing

    def run(i):
        aligntraj.align(X, rotate="principal", out=outs[i], threads=1)

    run(0)
    ratios = []
    for _ in range(5):
        t0 = time.perf_counter()
        run(0)
        run(1)
        serial = time.perf_counter() - t0
        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ratios.append((time.perf_counter() - t0) / serial)
        if ratios[-1] < 0.95:
            break
    assert min(ratios) < 0.95, ratios  # with the GIL held it would be ≥ 1


def one_line_error(exc_info):
    msg = str(exc_info.value)
    assert msg and "\n" not in msg
    return msg


@pytest.mark.parametrize(
    "X,exc,match",
    [
        (np.zeros((4, 3)), ValueError, "3-D"),
        (np.zeros((2, 3, 3, 1)), ValueError, "3-D"),
        (np.zeros((2, 3, 1)), ValueError, "dims ≥ 2"),
        (np.zeros((0, 3, 3)), ValueError, "frames ≥ 1"),
        (np.zeros((2, 3, 3), dtype=np.int64), TypeError, "int64"),
        (np.zeros((2, 3, 3), dtype=np.complex128), TypeError, "complex128"),
        (np.zeros((2, 3, 3), dtype=object), TypeError, "object"),
        (np.zeros((2, 3, 3), dtype=np.float16), TypeError, "float16"),
    ],
)
def test_bad_arrays(X, exc, match):
    with pytest.raises(exc, match=match) as e:
        aligntraj.align(X)
    one_line_error(e)


def test_nan_is_value_error_with_frame_and_point():
    X = rigid_trajectory()
    X[3, 2, 1] = np.nan
    with pytest.raises(ValueError, match="frame 3: point 2 has a NaN") as e:
        aligntraj.align(X)
    one_line_error(e)
    with pytest.warns(RuntimeWarning, match="NaN"):
        Y = aligntraj.align(X, allow_nonfinite=True)
    assert np.isnan(Y[3]).any() and np.isfinite(np.delete(Y, 3, axis=0)).all()


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(center="middle"), "unknown centering 'middle'"),
        (dict(rotate="spin"), "unknown rotation 'spin'"),
        (dict(center="point99"), "centering point 99 is out of range"),
        (dict(rotate="point-vector:0,0,1"), "distinct"),
        (dict(sign="up", rotate="principal"), "unknown sign rule"),
        (dict(ref=50), "reference frame 50 is out of range"),
        (dict(ref="frame.npz"), "expected a frame number"),
        (dict(ref=np.zeros((3, 3))), "ref has shape"),
        (dict(masses=np.ones(4)), r"expected \(9,\)"),
        (dict(masses=-np.ones(9)), "masses must be finite and ≥ 0"),
        (dict(masses=np.zeros(9)), "every mass is zero"),
        (dict(fit=[0, 99]), "point 99 is out of range"),
        (dict(fit="0:x"), "not a point index"),
        (dict(threads=0), "threads"),
    ],
)
def test_bad_arguments_are_value_errors(kwargs, match):
    with pytest.raises(ValueError, match=match) as e:
        aligntraj.align(rigid_trajectory(), **kwargs)
    one_line_error(e)


def test_pipeline_name_errors_match_cli(cli, tmp_path):
    np.savez(tmp_path / "in.npz", arr=rigid_trajectory())
    p = cli("align", "--center", "middle", "--rotate", "kabsch", tmp_path / "in.npz", check=False)
    with pytest.raises(ValueError) as e:
        aligntraj.align(rigid_trajectory(), center="middle")
    assert str(e.value).split(": ", 1)[1] in p.stderr


def test_panic_becomes_runtime_error():
    with pytest.raises(RuntimeError, match="test panic"):
        aligntraj._aligntraj._panic()
    assert aligntraj.align(rigid_trajectory()).shape == (12, 9, 3)


def test_degenerate_frames_warn_once():
    X = rigid_trajectory(frames=5)
    X[2] = 1.0  # all points coincide
    with pytest.warns(RuntimeWarning, match="1 frame"):
        Y = aligntraj.align(X, rotate="principal")
    assert np.isfinite(Y).all()


def test_unaligned_input_is_copied():
    X = rigid_trajectory(seed=14)
    raw = np.zeros(X.nbytes + 1, dtype=np.uint8)
    U = raw[1:].view(np.float64).reshape(X.shape)
    U[...] = X
    assert not U.flags.aligned
    same_bits(aligntraj.align(U), aligntraj.align(X))


def test_threads_do_not_change_bits():
    X = rigid_trajectory(frames=3000, points=40, seed=15)
    same_bits(aligntraj.align(X, threads=1), aligntraj.align(X, threads=2))
    same_bits(aligntraj.align(X, rotate="principal", threads=1), aligntraj.align(X, rotate="principal"))


def test_center_with_masses_equals_cli(cli, tmp_path):
    X = rigid_trajectory(seed=16)
    m = np.arange(1.0, 10.0)
    same_bits(aligntraj.center(X, "com", masses=m),
              cli_align(cli, tmp_path, X, ["center", "--com", "--masses", "m"], extra={"m": m}))


def test_fit_as_boolean_mask():
    X = rigid_trajectory(seed=17)
    mask = np.zeros(9, dtype=bool)
    mask[[0, 2, 3, 7]] = True
    same_bits(aligntraj.align(X, fit=mask), aligntraj.align(X, fit=[0, 2, 3, 7]))
