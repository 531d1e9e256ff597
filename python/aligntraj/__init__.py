"""aligntraj: align trajectories shaped ``(frames, points, dims)`` — NumPy in, NumPy out.

The same engine as the ``aligntraj`` command line (Rust, PyO3): the results are bit for bit those
of ``aligntraj align`` on the same data, and the GIL is released while frames are aligned in
parallel.

>>> import numpy as np, aligntraj
>>> X = np.random.default_rng(0).normal(size=(100, 20, 3))
>>> Y = aligntraj.align(X, center="com", rotate="kabsch", ref=0)
>>> Y.shape, Y.dtype
((100, 20, 3), dtype('float64'))

Array rules (every function taking ``X``):

* ``X`` must be 3-D ``(frames, points, dims)`` with ``frames >= 1``, ``points >= 1``,
  ``dims >= 2``, else ``ValueError``.
* dtype float32 or float64, else ``TypeError`` naming the dtype (integers are not converted
  silently). The result has the input's dtype; the arithmetic is float64.
* A C-contiguous native-endian array is read in place (no copy); the result is allocated once,
  or written into ``out=`` (an array of the same shape and dtype, C-contiguous). ``out=X`` aligns
  in place (the engine copies one chunk of about 4 MiB at a time, never the whole array).
* Any other layout (a strided view, Fortran order, unaligned data, non-native byte order) is
  first copied to a C-contiguous, aligned, native-endian array (``numpy.require``); ``out=``
  must then be a separate array.
* Errors are ``ValueError`` (bad arguments or data) or ``OSError`` (files) with the command
  line's one-line message; an internal panic is ``RuntimeError``. Frames whose transform is
  undefined (degenerate) are counted and reported in one ``RuntimeWarning``.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np

from . import _aligntraj as _ext

__version__ = _ext.__version__

__all__ = [
    "align",
    "center",
    "rotate",
    "read",
    "align_file",
    "sensitivity",
    "check",
    "__version__",
]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


class _FrameRef:
    """A reference given as the raw values of one of the input's frames (for chunked runs:
    treated exactly as ``ref=K`` on the whole array, not centred like an external array)."""

    def __init__(self, values: np.ndarray):
        self.values = values


def _as_trajectory(X: Any, name: str = "X") -> np.ndarray:
    """The documented conversion rule: 3-D float32/float64, C-contiguous, native byte order."""
    if not isinstance(X, np.ndarray):
        X = np.asarray(X)
    if X.dtype.kind not in "f" or X.dtype.itemsize not in (4, 8):
        raise TypeError(f"{name} has dtype {X.dtype}: expected float32 or float64")
    if X.ndim != 3:
        raise ValueError(
            f"{name} has shape {X.shape}: expected a 3-D array (frames, points, dims)"
        )
    frames, points, dims = X.shape
    if frames < 1 or points < 1 or dims < 2:
        raise ValueError(
            f"{name} has shape {X.shape}: need frames ≥ 1, points ≥ 1 and dims ≥ 2"
        )
    if not X.dtype.isnative:
        X = X.astype(X.dtype.newbyteorder("="))
    if not (X.flags.c_contiguous and X.flags.aligned):
        X = np.require(X, requirements=["C_CONTIGUOUS", "ALIGNED"])
    return X


def _masses(masses: Any, points: int) -> Optional[np.ndarray]:
    if masses is None:
        return None
    m = np.ascontiguousarray(masses, dtype=np.float64)
    if m.ndim != 1 or m.shape[0] != points:
        raise ValueError(
            f"masses have shape {m.shape}: expected ({points},): one weight for each of the "
            f"{points} points"
        )
    if not np.all(np.isfinite(m)) or np.any(m < 0):
        i = int(np.flatnonzero(~(np.isfinite(m) & (m >= 0)))[0])
        raise ValueError(f"mass of point {i} is {m[i]} (masses must be finite and ≥ 0)")
    if not np.any(m > 0):
        raise ValueError("masses: every mass is zero")
    return m


def _fit(fit: Any, points: int, top: Optional[str]) -> Optional[list]:
    """Fit points: None (all), an index array, a selection string with ``top``, or a
    ``--fit-points`` string such as ``"0:100,120"`` without ``top``."""
    if fit is None:
        return None
    if isinstance(fit, str):
        if top is not None:
            return _ext._select(os.fspath(top), fit)
        return _ext._fit_points(fit, points)
    idx = np.asarray(fit)
    if idx.dtype == bool:
        if idx.shape != (points,):
            raise ValueError(f"fit: a boolean mask needs shape ({points},), got {idx.shape}")
        idx = np.flatnonzero(idx)
    if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
        raise ValueError("fit: expected a 1-D array of point indices or a selection string")
    if idx.size and idx.min() < 0:
        raise ValueError(f"fit: point index {int(idx.min())} is negative")
    return [int(i) for i in idx]


def _warn(summary: Dict[str, Any], what: str) -> None:
    if summary["degenerate"]:
        warnings.warn(
            f"{what}: {summary['degenerate_text']} had an undefined rotation "
            "(coincident or collinear points, equal eigenvalues): the identity (or the previous "
            "rotation with sign='continuous') was used",
            RuntimeWarning,
            stacklevel=3,
        )
    if summary["off_center"]:
        warnings.warn(
            f"{what}: {summary['off_center_text']} are not centred on the fit set: rotation "
            "stages rotate about the origin (center them first)",
            RuntimeWarning,
            stacklevel=3,
        )
    if summary["nonfinite"]:
        warnings.warn(
            f"{what}: {summary['nonfinite_text']} hold NaN or Inf and were passed through",
            RuntimeWarning,
            stacklevel=3,
        )


def _run(
    X: Any,
    center: str,
    rotate: str,
    ref: Any = 0,
    masses: Any = None,
    fit: Any = None,
    sign: str = "skew",
    to_ref_center: bool = False,
    out: Optional[np.ndarray] = None,
    threads: Optional[int] = None,
    top: Optional[str] = None,
    allow_nonfinite: bool = False,
    check_centred: bool = False,
    what: str = "align",
) -> np.ndarray:
    if not isinstance(center, str):
        raise TypeError(f"center must be a string, not {type(center).__name__}")
    if not isinstance(rotate, str):
        raise TypeError(f"rotate must be a string, not {type(rotate).__name__}")
    X = _as_trajectory(X)
    points, dims = X.shape[1], X.shape[2]
    ref_frame, ref_array, ref_average, ref_is_frame = 0, None, False, False
    if isinstance(ref, _FrameRef):
        ref_array = np.ascontiguousarray(ref.values, dtype=np.float64)
        ref_is_frame = True
        if ref_array.shape != (points, dims):
            raise ValueError(f"ref has shape {ref_array.shape} but frames are ({points}, {dims})")
    elif isinstance(ref, str):
        if ref != "average":
            raise ValueError(
                f"ref: '{ref}': expected a frame number, an (N, D) array or 'average' "
                "(a file reference works with align_file)"
            )
        ref_average = True
    elif isinstance(ref, (int, np.integer)) and not isinstance(ref, bool):
        if ref < 0:
            raise ValueError(f"ref: frame {int(ref)} is negative")
        ref_frame = int(ref)
    elif ref is None:
        ref_frame = 0
    else:
        ref_array = np.ascontiguousarray(ref, dtype=np.float64)
        if ref_array.shape != (points, dims):
            raise ValueError(
                f"ref has shape {ref_array.shape} but frames are ({points}, {dims})"
            )
    in_place = False
    if out is not None:
        if not isinstance(out, np.ndarray):
            raise TypeError("out must be a numpy.ndarray")
        if out.shape != X.shape or out.dtype != X.dtype:
            raise ValueError(
                f"out has shape {out.shape} and dtype {out.dtype}: expected {X.shape} {X.dtype}"
            )
        flags = out.flags
        if not (flags.c_contiguous and flags.aligned and flags.writeable and out.dtype.isnative):
            raise ValueError("out must be a writeable, aligned, C-contiguous, native-endian array")
        same = (
            out.__array_interface__["data"][0] == X.__array_interface__["data"][0]
            and out.strides == X.strides
        )
        if same:
            in_place = True
        elif np.shares_memory(out, X):
            raise ValueError("out overlaps X without being X: give X itself or a separate array")
    if threads is not None:
        threads = int(threads)
        if threads < 1:
            raise ValueError("threads must be at least 1")
    result, summary = _ext._align(
        out if in_place else X,
        center,
        rotate,
        ref_frame=ref_frame,
        ref_array=ref_array,
        ref_average=ref_average,
        ref_is_frame=ref_is_frame,
        masses=_masses(masses, points),
        fit=_fit(fit, points, top),
        sign=sign,
        to_ref_center=bool(to_ref_center),
        check_centred=check_centred,
        allow_nonfinite=bool(allow_nonfinite),
        out=None if in_place else out,
        in_place=in_place,
        threads=threads,
    )
    _warn(summary, what)
    return result


def align(
    X: Any,
    center: str = "com",
    rotate: str = "kabsch",
    ref: Union[int, np.ndarray, str] = 0,
    masses: Any = None,
    fit: Any = None,
    sign: str = "skew",
    to_ref_center: bool = False,
    out: Optional[np.ndarray] = None,
    threads: Optional[int] = None,
    top: Optional[str] = None,
    allow_nonfinite: bool = False,
) -> np.ndarray:
    """Center and rotate every frame: ``aligntraj align --center C --rotate R``.

    Parameters
    ----------
    X : array (frames, points, dims), float32 or float64
    center : ``"com"``, ``"pointK"`` (``"point0"``, ``"point3"``, …) or ``"none"``
    rotate : ``"principal"``, ``"point-vector"``, ``"point-vector:A,B[,C…]"``, ``"kabsch"``
        or ``"none"``
    ref : Kabsch reference: a frame number of ``X`` (default 0), an ``(points, dims)`` array
        (centred like a ``--ref FILE``), or ``"average"`` (the iterative average structure)
    masses : one weight per point (≥ 0, not all 0), or None (all 1)
    fit : points used to compute the transforms: an index array, a boolean mask, a
        ``--fit-points`` string (``"0:100,120"``) or, with ``top=``, a selection string
        (``"backbone"``); the transform is applied to every point
    sign : ``"skew"`` (default) or ``"continuous"`` (principal axes)
    to_ref_center : move the frames to the reference's centre (Kabsch)
    out : write the result here (same shape and dtype); ``out=X`` aligns in place
    threads : number of threads (default: all cores, or ``RAYON_NUM_THREADS``)
    top : a topology file (PDB, GRO, PSF) for a selection string in ``fit``
    allow_nonfinite : pass frames holding NaN/Inf through unchanged instead of failing

    Returns
    -------
    The aligned array (``out`` when given), with ``X``'s dtype.

    Example
    -------
    >>> X = np.random.default_rng(1).normal(size=(10, 5, 3)).astype(np.float32)
    >>> aligntraj.align(X, center="com", rotate="principal").dtype
    dtype('float32')
    """
    return _run(
        X, center, rotate, ref, masses, fit, sign, to_ref_center, out, threads, top,
        allow_nonfinite, check_centred=center == "none", what="align",
    )


def center(
    X: Any,
    kind: str = "com",
    masses: Any = None,
    fit: Any = None,
    out: Optional[np.ndarray] = None,
    threads: Optional[int] = None,
    top: Optional[str] = None,
    allow_nonfinite: bool = False,
) -> np.ndarray:
    """Translate every frame: ``aligntraj center --com`` (``kind="com"``, the weighted fit-set
    centroid to the origin) or ``--point K`` (``kind="pointK"``, point K to the origin).

    >>> aligntraj.center(np.ones((2, 3, 2)), "point0")[0, 0]
    array([0., 0.])
    """
    if kind == "point":
        kind = "point0"
    return _run(
        X, kind, "none", 0, masses, fit, "skew", False, out, threads, top, allow_nonfinite,
        what="center",
    )


def rotate(
    X: Any,
    kind: str = "principal",
    ref: Union[int, np.ndarray, str] = 0,
    masses: Any = None,
    fit: Any = None,
    sign: str = "skew",
    to_ref_center: bool = False,
    out: Optional[np.ndarray] = None,
    threads: Optional[int] = None,
    top: Optional[str] = None,
    allow_nonfinite: bool = False,
) -> np.ndarray:
    """Rotate every frame about the origin (expects centred frames; warns once otherwise):
    ``aligntraj rotate --principal | --point-vector [A,B,…] | --kabsch``.
    ``kind`` is ``"principal"``, ``"point-vector"``, ``"point-vector:A,B[,C…]"`` or
    ``"kabsch"``; the other arguments as in :func:`align`.

    >>> Y = aligntraj.rotate(aligntraj.center(X), "principal")
    """
    return _run(
        X, "none", kind, ref, masses, fit, sign, to_ref_center, out, threads, top,
        allow_nonfinite, check_centred=True, what="rotate",
    )


def _frames_text(frames: Any) -> Optional[str]:
    if frames is None:
        return None
    if isinstance(frames, slice):
        start = "" if frames.start is None else str(frames.start)
        stop = "" if frames.stop is None else str(frames.stop)
        step = "" if frames.step is None else str(frames.step)
        return f"{start}:{stop}" + (f":{step}" if step else "")
    if isinstance(frames, str):
        return frames
    raise TypeError("frames: expected a slice or a 'START:STOP[:STEP]' string")


def read(
    path: Union[str, os.PathLike],
    top: Optional[str] = None,
    frames: Any = None,
    key: Optional[str] = None,
) -> Tuple[np.ndarray, Dict[str, Any]]:
    """Read a trajectory of any supported format (``.npz``, ``.npy``, ``.xtc``, ``.trr``,
    ``.dcd``, ``.pdb``, ``.gro``, ``.xyz``) as the command line does (MD formats in Å).

    ``frames`` is a slice (``slice(0, 100, 10)``) or a ``"START:STOP[:STEP]"`` string; ``key``
    picks the npz member. Returns ``(X, meta)``: ``X`` float32/float64 ``(frames, points,
    dims)`` in native byte order; ``meta`` a dict with ``source``, ``key``, ``dtype``,
    ``units``, ``dt``, ``time`` (list or None), ``step``, ``box`` (``(frames, 3, 3)`` array or
    None) and ``topology`` (``{"atoms": N, "source": path}`` or None).

    >>> X, meta = aligntraj.read("traj.xtc", frames=slice(0, 10))
    """
    return _ext._read(
        os.fspath(path),
        key=key,
        frames=_frames_text(frames),
        top=None if top is None else os.fspath(top),
    )


def align_file(
    src: Union[str, os.PathLike],
    dst: Union[str, os.PathLike],
    center: str = "com",
    rotate: str = "kabsch",
    ref: Union[int, str] = 0,
    masses: Optional[str] = None,
    fit: Optional[str] = None,
    sign: str = "skew",
    to_ref_center: bool = False,
    key: Optional[str] = None,
    frames: Any = None,
    top: Optional[str] = None,
    threads: Optional[int] = None,
    report: Optional[str] = None,
    allow_nonfinite: bool = False,
) -> str:
    """``aligntraj align --center C --rotate R SRC -o DST``: the command line's streaming path
    (bounded memory, any format, the other npz members copied). ``ref`` is a frame number,
    ``"average"`` or ``"FILE.npz[#KEY][@FRAME]"``; ``masses`` a member name or a ``.npy``
    path; ``fit`` a ``--fit-points`` string, or a selection string when ``top`` is given or the
    input is a PDB/GRO. Returns the output path.

    >>> aligntraj.align_file("traj.npz", "aligned.npz", rotate="principal")
    'aligned.npz'
    """
    fit_points = select = None
    if fit is not None:
        if not isinstance(fit, str):
            fit = ",".join(str(int(i)) for i in np.asarray(fit).ravel())
            fit_points = fit
        elif top is not None or str(src).endswith((".pdb", ".gro")):
            select = fit
        else:
            fit_points = fit
    return _ext._align_file(
        os.fspath(src),
        os.fspath(dst),
        center,
        rotate,
        str(ref),
        key=key,
        frames=_frames_text(frames),
        masses=None if masses is None else os.fspath(masses),
        fit_points=fit_points,
        select=select,
        top=None if top is None else os.fspath(top),
        sign=sign,
        to_ref_center=bool(to_ref_center),
        allow_nonfinite=bool(allow_nonfinite),
        report=None if report is None else os.fspath(report),
        threads=threads,
    )


def _with_npy(X: Any, masses: Any, fit: Any, run):
    """Saves X (and masses) to a temporary folder and runs ``run(path, masses_path,
    fit_points)`` there; the folder's path is replaced by ``input`` in messages."""
    X = _as_trajectory(X)
    points = X.shape[1]
    m = _masses(masses, points)
    idx = _fit(fit, points, None)
    with tempfile.TemporaryDirectory(prefix="aligntraj-") as tmp:
        path = os.path.join(tmp, "input.npy")
        np.save(path, X)
        mpath = None
        if m is not None:
            mpath = os.path.join(tmp, "masses.npy")
            np.save(mpath, m)
        fit_points = None if idx is None else ",".join(map(str, idx))
        try:
            return json.loads(run(path, mpath, fit_points))
        except (ValueError, OSError) as e:
            raise type(e)(str(e).replace(path, "input")) from None


def _point_spec(points: Any) -> Optional[str]:
    """Point indices (a sequence of ints, or a spec string such as ``"0:10,12"``) as a spec."""
    if points is None or isinstance(points, str):
        return points
    return ",".join(str(int(i)) for i in np.asarray(points).ravel())


def sensitivity(
    X: Any,
    pipelines: Sequence[str] = ("com+principal", "point0+point-vector"),
    frames: Optional[int] = 64,
    max_delta: float = 0.2,
    steps: int = 16,
    direction: str = "x",
    seed: int = 0,
    masses: Any = None,
    fit: Any = None,
    ref: Union[int, str] = 0,
    threads: Optional[int] = None,
    points: Any = None,
    sweep_points: Any = None,
) -> Dict[str, Any]:
    """The perturbation experiment of ``aligntraj sensitivity`` (SPEC §4): returns the JSON
    report as a dict; each pipeline's ``matrix`` (S, nudged points × points), ``sweep`` and
    ``sweep_full`` are NumPy arrays. ``frames`` samples that many frames evenly (None: all).
    ``points``: the nudged points, as indices or a spec such as ``"0:100"`` (default: the fit
    set — all points without ``fit`` — when it has at most 512 points, else 256 of it spread
    evenly); ``sweep_points``: points whose full sweep ``d_j(δ)`` is kept (``sweep_full``).

    >>> rep = aligntraj.sensitivity(X, ["com+principal"], frames=8)
    >>> rep["pipelines"][0]["summary"]["self"]
    """
    rep = _with_npy(
        X, masses, fit,
        lambda p, m, f: _ext._sensitivity(
            p, list(pipelines), frames=frames, max_delta=float(max_delta), steps=int(steps),
            direction=direction, seed=int(seed), masses=m, fit_points=f, reference=str(ref),
            threads=threads, points=_point_spec(points), sweep_points=_point_spec(sweep_points),
        ),
    )
    rep["input"] = "input"
    for p in rep.get("pipelines", []):
        for k in ("matrix", "sweep", "sweep_full"):
            if k in p and p[k] is not None:
                p[k] = np.asarray(p[k], dtype=np.float64)
    return rep


def check(
    X: Any,
    pipelines: Sequence[str] = ("com+principal", "com+kabsch", "point0+point-vector"),
    trials: int = 8,
    seed: int = 0,
    masses: Any = None,
    fit: Any = None,
    ref: Union[int, str] = 0,
    threads: Optional[int] = None,
) -> Dict[str, Any]:
    """``aligntraj check``: random rigid motions of the whole input, aligned and compared with
    the alignment of the original. Returns the report as a dict (per pipeline
    ``max_deviation``, ``max_relative``, ``broken``, ``broken_frames``).

    >>> rep = aligntraj.check(X, ["com+kabsch"], trials=4)
    """
    rep = _with_npy(
        X, masses, fit,
        lambda p, m, f: _ext._check(
            p, list(pipelines), trials=int(trials), seed=int(seed), masses=m, fit_points=f,
            reference=str(ref), threads=threads,
        ),
    )
    rep["input"] = "input"
    return rep
