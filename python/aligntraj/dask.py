"""Dask front end: align a dask array chunked along frames, or many files, on any dask
scheduler (threads, processes, a ``dask.distributed`` cluster across machines).

``pip install ./python[dask]`` installs the optional dependencies.

>>> import dask.array as da, aligntraj.dask
>>> D = da.from_array(X, chunks=(1000, -1, -1))
>>> Y = aligntraj.dask.align(D, center="com", rotate="kabsch", ref=0).compute()

The result equals ``aligntraj.align(X, …)`` on the whole array byte for byte: every frame is
aligned on its own against a fixed reference, so how the frames are split does not matter.
"""

from __future__ import annotations

import os
from typing import Any, Iterable, List, Optional, Union

import numpy as np

import aligntraj

_FIXED = ("sign",)


def _align_block(block: np.ndarray, ref_values: Optional[np.ndarray], ref_is_frame: bool,
                 options: dict) -> np.ndarray:
    ref = aligntraj._FrameRef(ref_values) if ref_is_frame else ref_values
    if ref is None:
        return aligntraj.align(block, **options)
    return aligntraj.align(block, ref=ref, **options)


def align(darr: Any, ref: Union[int, np.ndarray] = 0, **options: Any) -> Any:
    """Aligns a dask array ``(frames, points, dims)`` lazily, one task per chunk of frames.

    ``ref`` is a frame number K of the whole array (frame K is computed once, before the graph
    is built, and sent to every task) or a ``(points, dims)`` array. Chunks must span all
    points and dims; other chunkings are rechunked to ``(…, -1, -1)`` first. Other keyword
    arguments are those of :func:`aligntraj.align` (``center``, ``rotate``, ``masses``,
    ``fit``, ``to_ref_center``, ``threads``, …) except ``out``; ``ref="average"`` and
    ``sign="continuous"`` depend on all frames and raise ``ValueError`` (compute the average
    once with :func:`aligntraj.align` or the CLI and pass it as ``ref``).

    Returns a dask array of the input's dtype and chunks along frames.
    """
    import dask.array as da

    if "out" in options:
        raise ValueError("aligntraj.dask.align: out= is not supported (dask arrays are immutable)")
    if options.get("sign", "skew") == "continuous":
        raise ValueError("aligntraj.dask.align: sign='continuous' depends on the previous "
                         "frames; it cannot run chunk by chunk")
    if isinstance(ref, str):
        raise ValueError(f"aligntraj.dask.align: ref '{ref}': give a frame number or an "
                         "(points, dims) array (compute an average reference first)")
    if not isinstance(darr, da.Array):
        darr = da.asarray(darr)
    if darr.ndim != 3:
        raise ValueError(f"X has shape {darr.shape}: expected a 3-D array (frames, points, dims)")
    if np.dtype(darr.dtype) not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"X has dtype {darr.dtype}: expected float32 or float64")
    if len(darr.chunks[1]) != 1 or len(darr.chunks[2]) != 1:
        darr = darr.rechunk({1: -1, 2: -1})
    rotate = options.get("rotate", "kabsch")
    ref_values, ref_is_frame = None, False
    if rotate == "kabsch":
        if isinstance(ref, (int, np.integer)) and not isinstance(ref, bool):
            k = int(ref)
            if not 0 <= k < darr.shape[0]:
                raise ValueError(f"input: reference frame {k} is out of range "
                                 f"({darr.shape[0]} frames)")
            ref_values = np.asarray(darr[k].compute(), dtype=np.float64)
            ref_is_frame = True
        else:
            ref_values = np.ascontiguousarray(ref, dtype=np.float64)
    return darr.map_blocks(
        _align_block,
        ref_values,
        ref_is_frame,
        dict(options),
        dtype=darr.dtype,
        meta=np.empty((0, 0, 0), dtype=darr.dtype),
    )


def _align_file_task(src: str, dst: str, options: dict) -> str:
    return aligntraj.align_file(src, dst, **options)


def align_files(paths: Iterable[Union[str, os.PathLike]], out_dir: Union[str, os.PathLike],
                suffix: str = ".aligned", client: Any = None, **options: Any) -> List[str]:
    """Aligns many trajectory files, one dask task per file, each on the command line's
    streaming path (:func:`aligntraj.align_file`: bounded memory, any format). Outputs go to
    ``out_dir/<stem><suffix><ext>``; returns their paths in input order.

    With ``client`` (a ``dask.distributed.Client``) the tasks run on its cluster (the paths
    must be visible to the workers, e.g. a shared file system); otherwise on dask's default
    scheduler.
    """
    import dask

    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    tasks, outputs = [], []
    for p in paths:
        p = os.fspath(p)
        stem, ext = os.path.splitext(os.path.basename(p))
        dst = os.path.join(out_dir, f"{stem}{suffix}{ext}")
        outputs.append(dst)
        tasks.append(dask.delayed(_align_file_task, pure=False)(p, dst, dict(options)))
    if client is not None:
        return list(client.gather(client.compute(tasks)))
    return list(dask.compute(*tasks))
