"""Executors run partition tasks: in-process, in a local process pool, or on Ray (embedded or a cluster)."""

from __future__ import annotations

from collections.abc import Callable

from curate.errors import ConfigError
from curate.executors.base import Executor


def _local(workers: int | None, address: str | None, dashboard: bool, log: Callable[[str], None]) -> Executor:
    from curate.executors.local import LocalExecutor

    return LocalExecutor(workers=workers or 1)


def _ray(workers: int | None, address: str | None, dashboard: bool, log: Callable[[str], None]) -> Executor:
    from curate.executors.ray import RayExecutor  # Ray is imported only when it is asked for

    return RayExecutor(workers=workers, address=address, dashboard=dashboard, log=log)


# name -> how to start it (`curate run --executor NAME`; the first is the default)
EXECUTORS: dict[str, Callable[[int | None, str | None, bool, Callable[[str], None]], Executor]] = {
    "ray": _ray, "local": _local}


def make_executor(kind: str, *, workers: int | None = None, address: str | None = None, dashboard: bool = False,
                  log: Callable[[str], None] = print) -> Executor:
    """The executor named `kind` (a key of EXECUTORS)."""
    if kind not in EXECUTORS:
        raise ConfigError(f"unknown executor {kind!r}; use one of {', '.join(map(repr, EXECUTORS))}")
    return EXECUTORS[kind](workers, address, dashboard, log)
