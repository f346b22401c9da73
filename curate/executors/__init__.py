"""Executors run partition tasks: in-process, in a local process pool, or on Ray (embedded or a cluster)."""

from __future__ import annotations

from collections.abc import Callable

from curate.errors import ConfigError
from curate.executors.base import Executor


def make_executor(kind: str, *, workers: int | None = None, address: str | None = None, dashboard: bool = False,
                  log: Callable[[str], None] = print) -> Executor:
    """The executor named `kind` ('local' or 'ray'); imports Ray only when it is asked for."""
    if kind == "local":
        from curate.executors.local import LocalExecutor

        return LocalExecutor(workers=workers or 1)
    if kind == "ray":
        from curate.executors.ray import RayExecutor

        return RayExecutor(workers=workers, address=address, dashboard=dashboard, log=log)
    raise ConfigError(f"unknown executor {kind!r}; use 'local' or 'ray'")
