from os import PathLike
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

_Path = Union[str, PathLike[str]]
_Traj = npt.NDArray[np.floating[Any]]
_Fit = Union[None, str, Sequence[int], npt.NDArray[Any]]
_Ref = Union[int, str, npt.ArrayLike]

def align(
    X: npt.ArrayLike,
    center: str = "com",
    rotate: str = "kabsch",
    ref: _Ref = 0,
    masses: Optional[npt.ArrayLike] = None,
    fit: _Fit = None,
    sign: str = "skew",
    to_ref_center: bool = False,
    out: Optional[_Traj] = None,
    threads: Optional[int] = None,
    top: Optional[_Path] = None,
    allow_nonfinite: bool = False,
) -> _Traj: ...
def center(
    X: npt.ArrayLike,
    kind: str = "com",
    masses: Optional[npt.ArrayLike] = None,
    fit: _Fit = None,
    out: Optional[_Traj] = None,
    threads: Optional[int] = None,
    top: Optional[_Path] = None,
    allow_nonfinite: bool = False,
) -> _Traj: ...
def rotate(
    X: npt.ArrayLike,
    kind: str = "principal",
    ref: _Ref = 0,
    masses: Optional[npt.ArrayLike] = None,
    fit: _Fit = None,
    sign: str = "skew",
    to_ref_center: bool = False,
    out: Optional[_Traj] = None,
    threads: Optional[int] = None,
    top: Optional[_Path] = None,
    allow_nonfinite: bool = False,
) -> _Traj: ...
def read(
    path: _Path,
    top: Optional[_Path] = None,
    frames: Union[None, slice, str] = None,
    key: Optional[str] = None,
) -> Tuple[_Traj, Dict[str, Any]]: ...
def align_file(
    src: _Path,
    dst: _Path,
    center: str = "com",
    rotate: str = "kabsch",
    ref: Union[int, str] = 0,
    masses: Optional[_Path] = None,
    fit: Union[None, str, Sequence[int]] = None,
    sign: str = "skew",
    to_ref_center: bool = False,
    key: Optional[str] = None,
    frames: Union[None, slice, str] = None,
    top: Optional[_Path] = None,
    threads: Optional[int] = None,
    report: Optional[_Path] = None,
    allow_nonfinite: bool = False,
) -> str: ...
def sensitivity(
    X: npt.ArrayLike,
    pipelines: Sequence[str] = ...,
    frames: Optional[int] = 64,
    max_delta: float = 0.2,
    steps: int = 16,
    direction: str = "x",
    seed: int = 0,
    masses: Optional[npt.ArrayLike] = None,
    fit: _Fit = None,
    ref: Union[int, str] = 0,
    threads: Optional[int] = None,
    points: Union[None, str, Sequence[int]] = None,
    sweep_points: Union[None, str, Sequence[int]] = None,
) -> Dict[str, Any]: ...
def check(
    X: npt.ArrayLike,
    pipelines: Sequence[str] = ...,
    trials: int = 8,
    seed: int = 0,
    masses: Optional[npt.ArrayLike] = None,
    fit: _Fit = None,
    ref: Union[int, str] = 0,
    threads: Optional[int] = None,
) -> Dict[str, Any]: ...
