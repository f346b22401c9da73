"""Gopher's quality and repetition rules (Rae et al. 2021, "Scaling Language Models: Methods, Analysis & Insights
from Training Gopher", arXiv:2112.11446, appendix A.1.1 and table A1), as two filter stages.

Words are whitespace-separated tokens, except that each Han or kana character of Chinese and Japanese text is one
(curate/stages/words.py); lines split on newlines; paragraphs on blank lines. Each rule rejects with its own reason,
so the rejected output shows which rule fired. For Chinese and Japanese, set `min_mean_word_length: 1` and stop words
of the language (FineWeb-2's per-language thresholds: pipelines/multilingual.yaml).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import ClassVar

from curate.stages.base import DocumentStage, Reject
from curate.stages.words import split_words

BULLETS = ("•", "●", "○", "■", "□", "▪", "▫", "–", "-", "*", "·")  # line starts counted as bullet points
ELLIPSES = ("...", "…")
# The stop words Gopher requires at least two of (appendix A.1.1).
GOPHER_STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")


@dataclass
class GopherQuality(DocumentStage):
    name: ClassVar[str] = "gopher_quality"
    reads: ClassVar[tuple[str, ...]] = ("text",)

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

    def apply(self, text: str | None) -> tuple[()] | Reject:
        text = text or ""
        words = split_words(text)
        n = len(words)
        if n < self.min_words:
            return Reject("gopher_short_doc", f"{n} words < {self.min_words}")
        if n > self.max_words:
            return Reject("gopher_long_doc", f"{n} words > {self.max_words}")
        mean_length = sum(map(len, words)) / n
        if not self.min_mean_word_length <= mean_length <= self.max_mean_word_length:
            return Reject("gopher_word_length", f"mean word length {mean_length:.2f}")
        symbols = text.count("#") + sum(text.count(e) for e in ELLIPSES)
        if symbols / n > self.max_symbol_word_ratio:
            return Reject("gopher_symbol_ratio", f"{symbols / n:.3f} symbols per word")
        lines = [line.strip() for line in text.split("\n") if line.strip()]
        if lines and sum(line.startswith(BULLETS) for line in lines) / len(lines) > self.max_bullet_lines_ratio:
            return Reject("gopher_bullet_lines")
        if lines and sum(line.endswith(ELLIPSES) for line in lines) / len(lines) > self.max_ellipsis_lines_ratio:
            return Reject("gopher_ellipsis_lines")
        alpha = sum(any(ch.isalpha() for ch in word) for word in words) / n
        if alpha < self.min_alpha_words_ratio:
            return Reject("gopher_alpha_words", f"{alpha:.2f} of words alphabetic")
        stop_words = set(self.stop_words)
        if sum(word.lower() in stop_words for word in words) < self.min_stop_words:
            return Reject("gopher_stop_words")
        return ()


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
    name: ClassVar[str] = "gopher_repetition"
    reads: ClassVar[tuple[str, ...]] = ("text",)

    # All defaults: Rae et al. 2021, table A1.
    max_dup_line_fraction: float = 0.30
    max_dup_paragraph_fraction: float = 0.30
    max_dup_line_char_fraction: float = 0.20
    max_dup_paragraph_char_fraction: float = 0.20
    max_top_ngram_char_fraction: dict[int, float] = field(default_factory=lambda: {2: 0.20, 3: 0.18, 4: 0.16})
    max_dup_ngram_char_fraction: dict[int, float] = field(
        default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10})

    def apply(self, text: str | None) -> tuple[()] | Reject:
        text = text or ""
        size = max(len(text), 1)
        paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
        lines = [line.strip() for line in text.split("\n") if line.strip()]
        for unit, items, max_fraction, max_chars in (
                ("paragraph", paragraphs, self.max_dup_paragraph_fraction, self.max_dup_paragraph_char_fraction),
                ("line", lines, self.max_dup_line_fraction, self.max_dup_line_char_fraction)):
            count, chars = duplicate_count_and_chars(items)
            if items and count / len(items) > max_fraction:
                return Reject(f"gopher_dup_{unit}s", f"{count} of {len(items)} {unit}s repeat")
            if chars / size > max_chars:
                return Reject(f"gopher_dup_{unit}_chars", f"{chars / size:.2f} of characters")
        words = split_words(text)
        for n, limit in sorted(self.max_top_ngram_char_fraction.items()):
            if top_ngram_chars(words, n) / size > limit:
                return Reject(f"gopher_top_{n}gram")
        for n, limit in sorted(self.max_dup_ngram_char_fraction.items()):
            if duplicate_ngram_chars(words, n) / size > limit:
                return Reject(f"gopher_dup_{n}grams")
        return ()
