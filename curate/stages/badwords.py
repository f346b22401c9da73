"""C4's bad-words filter (Raffel et al. 2020, section 2.2: pages holding any word of the "List of Dirty, Naughty,
Obscene or Otherwise Bad Words" are removed), as datatrove's C4BadWordsFilter runs it: the text lower-cased, a
listed word or phrase matched between non-word characters, or anywhere for the scripts written without spaces
(Japanese, Thai, Chinese), where a word boundary says nothing.

The lists ship in models/badwords/ (CC-BY-4.0, NOTICE.md there: the English list at the commit C4 used). The rule
is blunt: "sex" in a health page removes it, which is why datatrove offers `keep_fraction` (FineWeb-2 keeps some
of those pages); here the pages kept are chosen by a hash of their text, so a rerun keeps the same ones. The word
found is written as `badword` on kept and rejected rows alike, so the list can be audited from the output.

Example: c4_badwords (English) rejects "This is bullshit." and keeps "An assassin passed the class." ("ass" is
listed, but not inside a longer word).
"""

from __future__ import annotations

import os
import re
import zlib
from dataclasses import dataclass
from typing import ClassVar

import pyarrow as pa

from curate.stages.base import DocumentStage, Reject

LISTS_DIR = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "models", "badwords"))
UNSPACED = ("ja", "th", "zh")  # a listed word counts anywhere in the text (datatrove, as C4's code for these)
# Entries that are ordinary words in these languages' text (datatrove's _BADWORDS_ALLOWLIST): never matched.
ALLOWED = {"ja": {"sm", "グロ", "女の子"}, "zh": {"性"}}


def list_path(language: str) -> str:
    """The shipped list of `language`; ValueError naming the languages there are lists for."""
    path = os.path.join(LISTS_DIR, f"{language}.txt")
    if not os.path.exists(path):
        shipped = sorted(name.removesuffix(".txt") for name in os.listdir(LISTS_DIR) if name.endswith(".txt"))
        raise ValueError(f"no bad-words list for language {language!r}; lists ship for {', '.join(shipped)} "
                         "(or give one: words: FILE)")
    return path


def badwords_pattern(words: set[str], unspaced: bool) -> re.Pattern[str]:
    """One regex of every word, longest first (a phrase wins over the word it starts with); group 1 is the word."""
    alternation = "|".join(re.escape(word) for word in sorted(words, key=lambda w: (-len(w), w)))
    return re.compile(f"({alternation})" if unspaced else rf"(?:\W|^)({alternation})(?:\W|$)")


@dataclass
class C4BadWords(DocumentStage):
    name: ClassVar[str] = "c4_badwords"
    reads: ClassVar[tuple[str, ...]] = ("text",)
    writes: ClassVar[tuple[pa.Field, ...]] = (pa.field("badword", pa.string()),)  # the first listed word found
    file_options: ClassVar[tuple[str, ...]] = ("words",)

    language: str = "en"  # which shipped list (models/badwords/<language>.txt), and whether words need boundaries
    words: str | None = None  # a list file of your own instead, one word or phrase a line
    keep_fraction: float = 0.0  # C4: 0. The share of pages with a bad word kept anyway, chosen by a hash of the text
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.keep_fraction <= 1.0:
            raise ValueError(f"keep_fraction must be between 0 and 1, got {self.keep_fraction}")
        self.words = self.words or list_path(self.language)  # the list enters the fingerprint by content
        self._pattern: re.Pattern[str] | None = None

    def pattern(self) -> re.Pattern[str]:
        if self._pattern is None:
            with open(str(self.words), encoding="utf-8") as lines:
                listed = {line.strip().lower() for line in lines if line.strip()} - ALLOWED.get(self.language, set())
            self._pattern = badwords_pattern(listed, self.language in UNSPACED)
        return self._pattern

    def apply(self, text: str | None) -> tuple[str | None] | Reject:
        found = self.pattern().search((text or "").lower())
        if found is None:
            return (None,)
        word = found.group(1)
        if self.keep_fraction and zlib.crc32(f"{self.seed}:{text}".encode()) / 2**32 < self.keep_fraction:
            return (word,)
        return Reject("c4_badwords", f"{word!r} is on the {self.language} list", (word,))
