"""FineWeb's own quality rules (Penedo et al. 2024, "The FineWeb Datasets", section 3.5), as one filter stage.

Thresholds are the paper's; datatrove's FineWebQualityFilter defaults the duplicate-line character ratio to 0.01
where the paper states 0.1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pyarrow as pa

from curate.stages.base import DocumentStage, Reject
from curate.stages.gopher import duplicate_count_and_chars
from curate.stages.words import check_words_language, tokens_of

# With the full stops, exclamation and question marks and closing quotes of Chinese and Japanese text.
LINE_END_PUNCTUATION = (".", "!", "?", '"', "'", "”", "’", "…", ":", ";", "。", "！", "？", "」", "』")


@dataclass
class FineWebQuality(DocumentStage):
    """Columns: each rule's measured value, on kept and rejected rows alike; a rejection names value and threshold."""

    name: ClassVar[str] = "fineweb_quality"
    reads: ClassVar[tuple[str, ...]] = ("text",)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        pa.field("fineweb_line_punct_ratio", pa.float32()), pa.field("fineweb_short_line_ratio", pa.float32()),
        pa.field("fineweb_dup_line_char_ratio", pa.float32()), pa.field("fineweb_newline_word_ratio", pa.float32()))

    min_line_punct_ratio: float = 0.12  # reject when at most 12% of lines end in punctuation
    short_line_length: int = 30
    max_short_line_ratio: float = 0.67  # reject when at least 67% of lines are shorter than 30 characters
    max_dup_line_char_ratio: float = 0.1  # reject when at least 10% of characters sit in repeated lines
    max_newline_word_ratio: float = 0.3  # "list ratio": more than 0.3 newlines per word reads as a list
    # None: whitespace words; a language code: its word tokenizer's tokens, as datatrove counts the list ratio's words
    # for FineWeb-2 (curate/stages/words.py)
    words_language: str | None = None

    def __post_init__(self) -> None:
        check_words_language(self.words_language)

    def apply(self, text: str | None) -> tuple[float, float, float, float] | Reject:
        text = text or ""
        lines = [line.strip() for line in text.split("\n") if line.strip()]
        if not lines:
            return Reject("fineweb_empty", "0 lines with text", (0.0, 0.0, 0.0, 0.0))
        punctuated = sum(line.endswith(LINE_END_PUNCTUATION) for line in lines) / len(lines)
        short = sum(len(line) < self.short_line_length for line in lines) / len(lines)
        _, dup_chars = duplicate_count_and_chars(lines)
        duplicated = dup_chars / max(1, sum(map(len, lines)))
        words = len(tokens_of(text, self.words_language))
        newlines = text.count("\n") / words if words else 0.0
        values = (punctuated, short, duplicated, newlines)
        if punctuated <= self.min_line_punct_ratio:
            return Reject("fineweb_line_punct_ratio", f"{punctuated:.2f} of lines end in punctuation <= "
                          f"{self.min_line_punct_ratio}", values)
        if short >= self.max_short_line_ratio:
            return Reject("fineweb_short_line_ratio", f"{short:.2f} of lines under {self.short_line_length} "
                          f"characters >= {self.max_short_line_ratio}", values)
        if duplicated >= self.max_dup_line_char_ratio:
            return Reject("fineweb_char_dup_ratio", f"{duplicated:.3f} of characters in repeated lines >= "
                          f"{self.max_dup_line_char_ratio}", values)
        if newlines > self.max_newline_word_ratio:
            return Reject("fineweb_list_ratio", f"{newlines:.2f} newlines per word > {self.max_newline_word_ratio}",
                          values)
        return values
