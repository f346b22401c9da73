"""Gopher's quality and repetition rules (Rae et al. 2021, "Scaling Language Models: Methods, Analysis & Insights
from Training Gopher", arXiv:2112.11446, appendix A.1.1 and table A1), as two filter stages.

Every measured value is a column of the stage's output, on kept and rejected rows alike, and every rejection names
its value and the threshold it crossed, so that a threshold can be tuned from the output and `_rejected/` alone (as
NeMo Curator's ScoreFilter keeps its scores).

Words are whitespace-separated tokens, except that each Han or kana character of Chinese and Japanese text is one
(curate/stages/words.py); with `words_language:` (a language code) they are the tokens of that language's word
tokenizer, punctuation marks apart, as datatrove's Gopher filters count them for FineWeb and FineWeb-2: the document's
words and their mean length are then the tokens holding a letter or digit, and the per-word ratios (symbols,
alphabetic words) and stop words are over all tokens. Lines split on newlines; paragraphs on blank lines. Each rule rejects with its own reason,
so the rejected output shows which rule fired. For Chinese and Japanese, set `min_mean_word_length: 1` and stop words
of the language (FineWeb-2's per-language thresholds: pipelines/multilingual.yaml).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import ClassVar

import pyarrow as pa

from curate.stages.base import DocumentStage, Reject
from curate.stages.words import check_words_language, is_word, tokens_of

BULLETS = ("•", "●", "○", "■", "□", "▪", "▫", "–", "-", "*", "·")  # line starts counted as bullet points
ELLIPSES = ("...", "…")
# The stop words Gopher requires at least two of (appendix A.1.1).
GOPHER_STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")


@dataclass
class GopherQuality(DocumentStage):
    name: ClassVar[str] = "gopher_quality"
    reads: ClassVar[tuple[str, ...]] = ("text",)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        pa.field("gopher_words", pa.int64()), pa.field("gopher_mean_word_length", pa.float32()),
        pa.field("gopher_symbol_word_ratio", pa.float32()), pa.field("gopher_bullet_lines_ratio", pa.float32()),
        pa.field("gopher_ellipsis_lines_ratio", pa.float32()), pa.field("gopher_alpha_words_ratio", pa.float32()),
        pa.field("gopher_stop_words", pa.int64()))

    # All defaults: Rae et al. 2021, appendix A.1.1.
    min_words: int = 50
    max_words: int = 100_000
    min_mean_word_length: float = 3.0
    max_mean_word_length: float = 10.0
    max_symbol_word_ratio: float = 0.1  # "#" and ellipses per word
    max_bullet_lines_ratio: float = 0.9
    max_ellipsis_lines_ratio: float = 0.3
    min_alpha_words_ratio: float = 0.8  # words with at least one alphabetic character
    min_stop_words: int = 2
    stop_words: list[str] = field(default_factory=lambda: list(GOPHER_STOP_WORDS))
    words_language: str | None = None  # None: whitespace words; a language code: its tokens (module docstring)

    def __post_init__(self) -> None:
        check_words_language(self.words_language)

    def apply(self, text: str | None) -> tuple[int, float, float, float, float, float, int] | Reject:
        text = text or ""
        tokens = tokens_of(text, self.words_language)
        words = tokens if self.words_language is None else [token for token in tokens if is_word(token)]
        n = len(words)
        per_token = max(len(tokens), 1)
        mean_length = sum(map(len, words)) / max(n, 1)
        symbols = (text.count("#") + sum(text.count(e) for e in ELLIPSES)) / per_token
        lines = [line.strip() for line in text.split("\n") if line.strip()]
        per_line = max(len(lines), 1)
        bullets = sum(line.startswith(BULLETS) for line in lines) / per_line
        ellipses = sum(line.endswith(ELLIPSES) for line in lines) / per_line
        alpha = sum(any(ch.isalpha() for ch in token) for token in tokens) / per_token
        stop_words = set(self.stop_words)
        stops = sum(token.lower() in stop_words for token in tokens)
        values = (n, mean_length, symbols, bullets, ellipses, alpha, stops)
        if n < self.min_words:
            return Reject("gopher_short_doc", f"{n} words < {self.min_words}", values)
        if n > self.max_words:
            return Reject("gopher_long_doc", f"{n} words > {self.max_words}", values)
        if not self.min_mean_word_length <= mean_length <= self.max_mean_word_length:
            return Reject("gopher_word_length", f"mean word length {mean_length:.2f} outside "
                          f"[{self.min_mean_word_length}, {self.max_mean_word_length}]", values)
        if symbols > self.max_symbol_word_ratio:
            return Reject("gopher_symbol_ratio", f"{symbols:.3f} symbols per word > {self.max_symbol_word_ratio}",
                          values)
        if bullets > self.max_bullet_lines_ratio:
            return Reject("gopher_bullet_lines", f"{bullets:.2f} of lines start with a bullet > "
                          f"{self.max_bullet_lines_ratio}", values)
        if ellipses > self.max_ellipsis_lines_ratio:
            return Reject("gopher_ellipsis_lines", f"{ellipses:.2f} of lines end in an ellipsis > "
                          f"{self.max_ellipsis_lines_ratio}", values)
        if alpha < self.min_alpha_words_ratio:
            return Reject("gopher_alpha_words", f"{alpha:.2f} of words alphabetic < {self.min_alpha_words_ratio}",
                          values)
        if stops < self.min_stop_words:
            return Reject("gopher_stop_words", f"{stops} stop words < {self.min_stop_words}", values)
        return values


def duplicate_count_and_chars(items: list[str]) -> tuple[int, int]:
    """How many items repeat an earlier one, and their characters. Example: ["a", "bb", "a"] -> (1, 1)."""
    seen: set[str] = set()
    count = chars = 0
    for item in items:
        if item in seen:
            count += 1
            chars += len(item)
        else:
            seen.add(item)
    return count, chars


def top_ngram_chars(words: list[str], n: int) -> int:
    """Characters of the most frequent word n-gram times its count. Example: ["a", "b", "a", "b"], 2 -> 6 (3 x 2)."""
    grams = Counter(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
    if not grams:
        return 0
    gram, count = grams.most_common(1)[0]
    return len(gram) * count if count > 1 else 0


def duplicate_ngram_chars(words: list[str], n: int) -> int:
    """Characters of the words covered by an n-gram that already occurred earlier in the document.

    Example: "a b c a b c".split(), 3 -> 3 (the second "a b c")
    """
    seen: set[tuple[str, ...]] = set()
    covered = [False] * len(words)
    for i in range(len(words) - n + 1):
        gram = tuple(words[i : i + n])
        if gram in seen:
            covered[i : i + n] = [True] * n
        else:
            seen.add(gram)
    return sum(len(word) for word, dup in zip(words, covered) if dup)


@dataclass
class GopherRepetition(DocumentStage):
    """Columns: the duplicate paragraph and line shares (by count and by characters), and per n the character share
    of the most frequent n-gram (`gopher_top_ngram_char_ratio`) and of duplicated n-grams
    (`gopher_dup_ngram_char_ratio`), as maps from n."""

    name: ClassVar[str] = "gopher_repetition"
    reads: ClassVar[tuple[str, ...]] = ("text",)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        pa.field("gopher_dup_paragraph_ratio", pa.float32()), pa.field("gopher_dup_paragraph_char_ratio", pa.float32()),
        pa.field("gopher_dup_line_ratio", pa.float32()), pa.field("gopher_dup_line_char_ratio", pa.float32()),
        pa.field("gopher_top_ngram_char_ratio", pa.map_(pa.int8(), pa.float32())),
        pa.field("gopher_dup_ngram_char_ratio", pa.map_(pa.int8(), pa.float32())))

    # All defaults: Rae et al. 2021, table A1.
    max_dup_line_fraction: float = 0.30
    max_dup_paragraph_fraction: float = 0.30
    max_dup_line_char_fraction: float = 0.20
    max_dup_paragraph_char_fraction: float = 0.20
    max_top_ngram_char_fraction: dict[int, float] = field(default_factory=lambda: {2: 0.20, 3: 0.18, 4: 0.16})
    max_dup_ngram_char_fraction: dict[int, float] = field(
        default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10})
    words_language: str | None = None  # None: whitespace words; a language code: its tokens (module docstring)

    def __post_init__(self) -> None:
        check_words_language(self.words_language)

    def apply(self, text: str | None) -> tuple[float, float, float, float, dict[int, float], dict[int, float]] | Reject:
        text = text or ""
        size = max(len(text), 1)
        paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
        lines = [line.strip() for line in text.split("\n") if line.strip()]
        shares: dict[str, tuple[float, float]] = {}
        for unit, items in (("paragraph", paragraphs), ("line", lines)):
            count, repeated_chars = duplicate_count_and_chars(items)
            shares[unit] = (count / max(len(items), 1), repeated_chars / size)
        words = tokens_of(text, self.words_language)
        top = {n: top_ngram_chars(words, n) / size for n in sorted(self.max_top_ngram_char_fraction)}
        duplicated = {n: duplicate_ngram_chars(words, n) / size for n in sorted(self.max_dup_ngram_char_fraction)}
        values = (*shares["paragraph"], *shares["line"], top, duplicated)
        for unit, max_fraction, max_chars in (
                ("paragraph", self.max_dup_paragraph_fraction, self.max_dup_paragraph_char_fraction),
                ("line", self.max_dup_line_fraction, self.max_dup_line_char_fraction)):
            fraction, char_share = shares[unit]
            if fraction > max_fraction:
                return Reject(f"gopher_dup_{unit}s", f"{fraction:.2f} of {unit}s repeat > {max_fraction}", values)
            if char_share > max_chars:
                return Reject(f"gopher_dup_{unit}_chars", f"{char_share:.2f} of characters in repeated {unit}s > "
                              f"{max_chars}", values)
        for n, limit in sorted(self.max_top_ngram_char_fraction.items()):
            if top[n] > limit:
                return Reject(f"gopher_top_{n}gram", f"{top[n]:.3f} of characters in the top {n}-gram > {limit}",
                              values)
        for n, limit in sorted(self.max_dup_ngram_char_fraction.items()):
            if duplicated[n] > limit:
                return Reject(f"gopher_dup_{n}grams", f"{duplicated[n]:.3f} of characters in repeated {n}-grams > "
                              f"{limit}", values)
        return values
