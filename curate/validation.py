"""Checks of user-written config values against typed dataclasses, with messages that say where and what to do.

Every step and input option in a pipeline file is a dataclass field; this module turns a YAML mapping into an
instance, rejecting unknown keys (with a "did you mean" for typos) and values of the wrong type.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, Literal, TypeVar, Union

from curate.errors import ConfigError

T = TypeVar("T")


def suggestion(word: str, choices: Iterable[str]) -> str:
    """Return ' (did you mean X?)' for the closest choice, or '' when nothing is close.

    Example: suggestion("stpes", ["steps", "input"]) -> " (did you mean 'steps'?)"
    """
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_keys(given: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    """Raise ConfigError naming the first key of `given` that is not in `allowed`."""
    allowed = list(allowed)
    for key in given:
        if key not in allowed:
            raise ConfigError(
                f"{where}: unknown field {key!r}{suggestion(str(key), allowed)}; known fields: {', '.join(allowed)}"
            )


def _matches(value: Any, annotation: Any) -> bool:
    """True when `value` fits the type `annotation` (the subset of typing used by curate's configs)."""
    origin = typing.get_origin(annotation)
    if annotation is Any:
        return True
    if origin is Literal:
        return value in typing.get_args(annotation)
    if origin in (Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if origin in (list, tuple):
        args = typing.get_args(annotation)
        item = args[0] if args else Any
        return isinstance(value, (list, tuple)) and all(_matches(v, item) for v in value)
    if origin is dict:
        key_type, value_type = typing.get_args(annotation) or (Any, Any)
        return isinstance(value, dict) and all(
            _matches(k, key_type) and _matches(v, value_type) for k, v in value.items()
        )
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, annotation)


def _describe(annotation: Any) -> str:
    if typing.get_origin(annotation) is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(annotation))
    if typing.get_origin(annotation) is None and hasattr(annotation, "__name__"):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def build_dataclass(cls: type[T], params: Mapping[str, Any] | None, where: str) -> T:
    """Instantiate the dataclass `cls` from a YAML mapping, validating keys and value types.

    Raises ConfigError like: "quickstart.yaml: node 'text', step 'normalize': field 'form' must be one of 'NFC', ...".
    """
    params = {} if params is None else params
    if not isinstance(params, Mapping):
        raise ConfigError(f"{where}: expected a mapping of options, got {type(params).__name__} {params!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    check_keys(params, fields, where)
    hints = typing.get_type_hints(cls)
    for name, value in params.items():
        if not _matches(value, hints[name]):
            raise ConfigError(f"{where}: field {name!r} must be {_describe(hints[name])}, got {value!r}")
    missing = [
        name
        for name, f in fields.items()
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING and name not in params
    ]
    if missing:
        raise ConfigError(f"{where}: missing required field {missing[0]!r}")
    try:
        return cls(**params)
    except ValueError as error:  # __post_init__ range checks
        raise ConfigError(f"{where}: {error}") from None
