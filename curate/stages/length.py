"""A minimum-length filter: documents with too few characters or words carry too little text to train on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from curate.stages.base import DocumentStage, Reject
from curate.stages.words import split_words


@dataclass
class MinLength(DocumentStage):
    """Reject documents shorter than `min_chars` characters or `min_words` words (curate/stages/words.py)."""

    name: ClassVar[str] = "min_length"
    reads: ClassVar[tuple[str, ...]] = ("text",)

    min_chars: int = 200
    # 0 (off) by default: words undercount Thai text (stages/words.py counts a Han or kana character as a word). For
    # English, Gopher's quality filter keeps documents of 50 to 100,000 words (Rae et al. 2021, arXiv:2112.11446,
    # appendix A.1.1).
    min_words: int = 0

    def __post_init__(self) -> None:
        if self.min_chars < 0 or self.min_words < 0:
            raise ValueError("min_chars and min_words must be >= 0")

    def apply(self, text: str | None) -> tuple[()] | Reject:
        text = text or ""
        if len(text) < self.min_chars:
            return Reject("too_few_chars", f"{len(text)} < {self.min_chars}")
        words = len(split_words(text))
        if words < self.min_words:
            return Reject("too_few_words", f"{words} < {self.min_words}")
        return ()
