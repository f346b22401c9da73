"""Typed option checking used by every step and reader."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from curate.errors import ConfigError
from curate.validation import build_dataclass, suggestion


@dataclass
class Options:
    name: str
    ratio: float = 0.5
    langs: list[str] = field(default_factory=list)
    mode: Literal["a", "b"] = "a"
    limit: int | None = None


def test_valid_options_build_the_dataclass():
    built = build_dataclass(Options, {"name": "x", "ratio": 1, "langs": ["en"], "limit": None}, "here")
    assert built == Options(name="x", ratio=1, langs=["en"])


@pytest.mark.parametrize(("params", "message"), [
    ({}, "missing required field 'name'"),
    ({"name": "x", "ratio": True}, "field 'ratio' must be float"),
    ({"name": "x", "langs": "en"}, "field 'langs' must be list[str]"),
    ({"name": "x", "mode": "c"}, "must be one of 'a', 'b'"),
    ({"name": "x", "limt": 3}, "unknown field 'limt' (did you mean 'limit'?)"),
])
def test_bad_options(params, message):
    with pytest.raises(ConfigError) as caught:
        build_dataclass(Options, params, "here")
    assert message in str(caught.value)


def test_suggestion_only_for_close_words():
    assert suggestion("extrct", ["extract", "normalize"]) == " (did you mean 'extract'?)"
    assert suggestion("zzz", ["extract"]) == ""
