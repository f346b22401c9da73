"""Steps written by users, loaded by import path: `- {class: "mypkg.filters:MyFilter", threshold: 0.3}`.

The class must be importable where the partition runs (installed, or on PYTHONPATH; on a Ray cluster, on every node
or in the job's `runtime_env`), follow the stage contract (curate/stages/base.py: a dataclass subclass of Stage, or
of DocumentStage, with a `name`), and its options are validated against its fields like a built-in step's. The
fingerprint of a node holds a hash of the class's module source, so editing the filter recomputes what it decided
(issue 12: reruns never serve stale data).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import inspect
import re

from curate.stages.base import Stage

# "package.module:Class", as Python entry points write it.
IMPORT_PATH = re.compile(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*")


def is_import_path(name: str) -> bool:
    """Example: is_import_path("mypkg.filters:MyFilter") -> True; is_import_path("langid") -> False"""
    return IMPORT_PATH.fullmatch(name) is not None


def load_stage_class(path: str) -> type[Stage]:
    """The stage class at `path` ("module:Class"); ValueError saying what is wrong with it otherwise."""
    if not is_import_path(path):
        raise ValueError(f"{path!r} is not an import path like 'mypkg.filters:MyFilter'")
    module_name, class_name = path.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"cannot import {module_name!r} ({error}); is it installed or on PYTHONPATH?") from None
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Stage)):
        raise ValueError(f"{path} is not a subclass of curate.stages.base.Stage")
    if not dataclasses.is_dataclass(cls):
        raise ValueError(f"{path} is not a dataclass (its fields are the step's options; add @dataclass)")
    if inspect.isabstract(cls):
        raise ValueError(f"{path} does not implement {', '.join(sorted(cls.__abstractmethods__))}")
    if not isinstance(getattr(cls, "name", None), str):
        raise ValueError(f"{path} has no `name` (what its rejected rows and stats are labelled with)")
    return cls


def code_digest(cls: type) -> str:
    """A hash of the source of the module defining `cls` (of the class alone when the module has no file)."""
    source_file = inspect.getsourcefile(cls)
    if source_file:
        with open(source_file, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()[:16]
    return hashlib.sha256(inspect.getsource(cls).encode()).hexdigest()[:16]
