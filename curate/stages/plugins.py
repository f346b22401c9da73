"""Steps written by users, loaded by import path: `- {class: "mypkg.filters:MyFilter", threshold: 0.3}`.

The class must be importable where the partition runs (installed, or on PYTHONPATH; on a Ray cluster, on every node
or in the job's `runtime_env`), follow the stage contract (curate/stages/base.py: a dataclass subclass of Stage, or
of DocumentStage, with a `name`), and its options are validated against its fields like a built-in step's. The
fingerprint of a node holds a hash of the class's code (its module and the helper modules beside it that it imports,
code_digest), so editing the filter or a helper recomputes what it decided (issue 12: reruns never serve stale
data). Built-in stages are hashed the same way.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import importlib
import importlib.util
import inspect
import os
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
    if cls is None:
        raise ValueError(f"module {module_name!r} has no attribute {class_name!r}")
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
    """A hash of the code of a stage or operation class: its module's source and the source of every module it
    imports, directly or not, that lies in its module's folder or below (a built-in stage's helpers in
    curate/stages/, such as words.py; an operation's in curate/ops/, such as ops/dedup/; a user's helper module
    beside the filter). Library code outside that folder (pyarrow, curate's engine)
    is not followed: it changes with a release, which `versions()` records. A class defined where no file is (a
    notebook) hashes its own source."""
    source_file = inspect.getsourcefile(cls)
    if not source_file:
        return hashlib.sha256(inspect.getsource(cls).encode()).hexdigest()[:16]
    folder = os.path.dirname(os.path.abspath(source_file))
    files = _imported_files(os.path.abspath(source_file), folder, {})
    hashed = hashlib.sha256()
    for path in sorted(files):
        hashed.update(os.path.relpath(path, folder).encode() + b"\0" + files[path] + b"\0")
    return hashed.hexdigest()[:16]


# path -> ((mtime_ns, size), source, names it imports): a file is read and parsed again only when it changed
_PARSED: dict[str, tuple[tuple[int, int], bytes, list[str]]] = {}


def _source_and_imports(path: str) -> tuple[bytes, list[str]]:
    """A module file's source and the module names it imports (parsed once a process, until the file changes)."""
    status = os.stat(path)
    key = (status.st_mtime_ns, status.st_size)
    cached = _PARSED.get(path)
    if cached is None or cached[0] != key:
        with open(path, "rb") as handle:
            source = handle.read()
        cached = _PARSED[path] = (key, source, _imported_names(ast.parse(source), _package_of(path)))
    return cached[1], cached[2]


def _imported_files(path: str, folder: str, found: dict[str, bytes]) -> dict[str, bytes]:
    """`found` with `path`'s source and, recursively, that of the modules it imports whose files lie in `folder`."""
    found[path], names = _source_and_imports(path)
    for name in names:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        origin = spec.origin if spec is not None else None
        if (origin and origin.endswith(".py") and os.path.abspath(origin) not in found
                and os.path.abspath(origin).startswith(folder + os.sep)):
            _imported_files(os.path.abspath(origin), folder, found)
    return found


def _imported_names(tree: ast.Module, package: str) -> list[str]:
    """The module names an import statement could load: `import a.b` -> a.b; `from a import b` -> a and a.b (b may
    be a module); relative imports resolved against `package`."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([p for p in parts if p] + ([base] if base else []))
            if base:
                names += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return names


def _package_of(path: str) -> str:
    """The dotted package a module file belongs to, from the __init__.py files above it ("" when none)."""
    parts: list[str] = []
    folder = os.path.dirname(path)
    while os.path.exists(os.path.join(folder, "__init__.py")):
        parts.insert(0, os.path.basename(folder))
        folder = os.path.dirname(folder)
    return ".".join(parts)
