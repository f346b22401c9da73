"""The minimum-length filter at both sides of each threshold."""

from __future__ import annotations

import pytest

from curate.stages.base import Reject
from curate.stages.length import MinLength


@pytest.mark.parametrize(("text", "kept"), [("x" * 199, False), ("x" * 200, True)])
def test_min_chars(text, kept):
    assert (MinLength(min_chars=200).apply(text) == ()) is kept


def test_min_words():
    stage = MinLength(min_chars=0, min_words=3)
    assert stage.apply("one two") == Reject("too_few_words", "2 < 3")
    assert stage.apply("one two three") == ()


def test_negative_thresholds_are_refused():
    with pytest.raises(ValueError):
        MinLength(min_chars=-1)
