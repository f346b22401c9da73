"""Unicode normalisation and whitespace/control-character cleanup of the `text` column.

NFD by default (DESIGN.md): decomposed forms make accent stripping a matter of dropping combining marks, and keep
one spelling per character for hashing (dedup) and n-gram statistics. Accent stripping is off by default because it
changes the meaning of text in many languages.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import ClassVar, Literal

import pyarrow as pa

from curate.stages.base import DocumentStage, Reject

# C0/C1 control characters except tab and newline, plus zero-width and BOM characters that are invisible in text.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff]")
_HORIZONTAL_SPACE = re.compile(r"[^\S\n]+")  # any whitespace but newline, e.g. NBSP, tabs, ideographic space
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_whitespace(text: str) -> str:
    """Collapse runs of spaces, strip each line, keep at most one blank line between paragraphs.

    Example: clean_whitespace(" a \\t b \\r\\n\\n\\n\\nc ") -> "a b\\n\\nc"
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = (_HORIZONTAL_SPACE.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def strip_accents(text: str) -> str:
    """Drop combining marks after canonical decomposition. Example: strip_accents("café") -> "cafe"."""
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))


@dataclass
class Normalize(DocumentStage):
    """Normalise `text` to a Unicode form, optionally strip accents, then clean control characters and whitespace."""

    name: ClassVar[str] = "normalize"
    reads: ClassVar[tuple[str, ...]] = ("text",)
    writes: ClassVar[tuple[pa.Field, ...]] = (pa.field("text", pa.string()),)

    form: Literal["NFC", "NFD", "NFKC", "NFKD"] = "NFD"
    accents: Literal["keep", "strip"] = "keep"

    def apply(self, text: str | None) -> tuple[str] | Reject:
        text = _CONTROL.sub("", text or "")
        if self.accents == "strip":
            text = strip_accents(text)
        text = clean_whitespace(unicodedata.normalize(self.form, text))
        return (text,) if text else Reject("empty_after_normalize")
