"""Model files loaded once per worker process and per version of the file.

A worker scores many batches with the same model, so loading it per batch would dominate; but a long-lived worker
(a Ray worker serves several runs) must not keep scoring with a model that was retrained in place. So the cache key
is the file's path, size and modification time, and the loader gets a local copy (fastText and KenLM read local
files only; storage.cached_local_copy downloads an object once).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from curate import storage
from curate.errors import ModelError


def load_model_file(path: str, loader: Callable[[str], Any], what: str) -> Any:
    """`loader(local path)` for the model at `path`, cached; FileNotFoundError naming `what` when it is missing."""
    found = storage.stat(path)
    if found is None:
        raise FileNotFoundError(f"{what} not found: {path}")
    return _load(path, found.size, found.mtime_ns, loader, what)


@lru_cache(maxsize=8)
def _load(path: str, size: int, mtime_ns: int | None, loader: Callable[[str], Any], what: str) -> Any:
    local = storage.cached_local_copy(path)
    try:
        return loader(local)
    except Exception as error:  # the libraries raise anything from UnicodeDecodeError to RuntimeError on a bad file
        raise ModelError(f"{what} {path} cannot be loaded ({type(error).__name__}: {' '.join(str(error).split())[:200]})"
                         "; retrain it, or point the step at the right file") from None
