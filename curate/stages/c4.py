"""C4's cleaning rules (Raffel et al. 2020, "Exploring the Limits of Transfer Learning", section 2.2), with the
defaults FineWeb ran (Penedo et al. 2024; datatrove's examples/fineweb.py: `C4QualityFilter(filter_no_terminal_punct=
False)`, the other options at their defaults).

Line-level, in datatrove's order: drop lines with a word longer than 1,000 characters; remove Wikipedia-style
citation marks ("[1]", "[edit]", "[citation needed]"); if `terminal_punctuation` (C4's own rule, which FineWeb turned
off) drop lines that do not end in terminal punctuation or that end in an ellipsis; drop lines of fewer than 3
words, lines mentioning javascript and cookie/privacy/terms notices. Page-level, judged on the lines that remain:
reject pages with "lorem ipsum" or (if `curly_bracket`) a curly bracket, and pages with fewer than 5 sentences. The
text column is rewritten with the kept lines.

The terminal-punctuation rule drops every line of a table, a list or an article extracted as one unpunctuated line,
which is why FineWeb ran without it. The curly-bracket rule is C4's guard against code; on prose that quotes a
snippet it rejects the whole page (docs/quality.md measures both on the labelled set).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

import pyarrow as pa

from curate.stages.base import DocumentStage, Reject
from curate.stages.words import split_words

TERMINAL_PUNCTUATION = (".", "!", "?", '"', "”", "'", "’")
ELLIPSIS = ("...", "…")  # datatrove: a line ending in an ellipsis is cut off, not finished
# Notices C4's released code drops as lines (tensorflow/datasets c4_utils.py, POLICY_SUBSTRINGS).
POLICY_SUBSTRINGS = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies",
                     "use cookies")
CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")  # datatrove's CITATION_REGEX
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)")


@dataclass
class C4Filter(DocumentStage):
    name: ClassVar[str] = "c4"
    reads: ClassVar[tuple[str, ...]] = ("text",)
    writes: ClassVar[tuple[pa.Field, ...]] = (pa.field("text", pa.string()),)

    min_words_per_line: int = 3  # C4: "only retained lines that contained at least 3 words"
    min_sentences: int = 5  # C4: "discarded any page with fewer than 5 sentences"
    max_word_length: int = 1000  # datatrove's default: a longer "word" is a URL, a hash or a payload
    terminal_punctuation: bool = False  # C4 True; FineWeb False
    curly_bracket: bool = True  # C4 and FineWeb True
    remove_citations: bool = True
    drop_javascript_lines: bool = True
    drop_policy_lines: bool = True

    def apply(self, text: str | None) -> tuple[str] | Reject:
        kept: list[str] = []
        for raw in (text or "").split("\n"):
            line = raw.strip()
            words = split_words(line)
            if any(len(word) > self.max_word_length for word in words):
                continue
            if self.remove_citations:
                line = CITATION.sub("", line)
            if self.terminal_punctuation and (not line.endswith(TERMINAL_PUNCTUATION) or line.endswith(ELLIPSIS)):
                continue
            if len(words) < self.min_words_per_line:
                continue
            lower = line.lower()
            if "lorem ipsum" in lower:
                return Reject("c4_lorem_ipsum")
            if self.drop_javascript_lines and "javascript" in lower:
                continue
            if self.curly_bracket and "{" in line:
                return Reject("c4_curly_bracket", line[:80])
            if self.drop_policy_lines and any(p in lower for p in POLICY_SUBSTRINGS):
                continue
            kept.append(line)
        if not kept:
            return Reject("c4_no_lines_left")
        cleaned = "\n".join(kept)
        sentences = len(_SENTENCE_END.findall(cleaned))
        if sentences < self.min_sentences:
            return Reject("c4_too_few_sentences", f"{sentences} < {self.min_sentences}")
        return (cleaned,)
