from os import PathLike
from typing import Any, Iterable, List, Union

import numpy.typing as npt

def align(darr: Any, ref: Union[int, npt.ArrayLike] = 0, **options: Any) -> Any: ...
def align_files(
    paths: Iterable[Union[str, PathLike[str]]],
    out_dir: Union[str, PathLike[str]],
    suffix: str = ".aligned",
    client: Any = None,
    **options: Any,
) -> List[str]: ...
