"""C4's cleaning rules (Raffel et al. 2020, "Exploring the Limits of Transfer Learning", section 2.2).

Line-level: keep only lines that end in terminal punctuation and have at least 3 words, and drop lines mentioning
javascript or a cookie/privacy/terms notice. Page-level: reject pages with "lorem ipsum", a curly bracket (code), or
fewer than 5 sentences once the lines are filtered. The text column is rewritten with the kept lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

import pyarrow as pa

from curate.stages.base import DocumentStage, Reject
from curate.stages.words import split_words

TERMINAL_PUNCTUATION = (".", "!", "?", '"', "”", "'", "’")
# Notices C4's released code drops as lines (tensorflow/datasets c4_utils.py, POLICY_SUBSTRINGS).
POLICY_SUBSTRINGS = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies",
                     "use cookies")
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)")


@dataclass
class C4Filter(DocumentStage):
    name: ClassVar[str] = "c4"
    reads: ClassVar[tuple[str, ...]] = ("text",)
    writes: ClassVar[tuple[pa.Field, ...]] = (pa.field("text", pa.string()),)

    min_words_per_line: int = 3  # C4: "only retained lines that contained at least 3 words"
    min_sentences: int = 5  # C4: "discarded any page with fewer than 5 sentences"
    drop_javascript_lines: bool = True
    drop_policy_lines: bool = True

    def keeps_line(self, line: str) -> bool:
        lower = line.lower()
        return (line.endswith(TERMINAL_PUNCTUATION) and len(split_words(line)) >= self.min_words_per_line
                and not (self.drop_javascript_lines and "javascript" in lower)
                and not (self.drop_policy_lines and any(p in lower for p in POLICY_SUBSTRINGS)))

    def apply(self, text: str | None) -> tuple[str] | Reject:
        text = text or ""
        if "lorem ipsum" in text.lower():
            return Reject("c4_lorem_ipsum")
        if "{" in text:
            return Reject("c4_curly_bracket")
        kept = [line.strip() for line in text.split("\n") if self.keeps_line(line.strip())]
        if not kept:
            return Reject("c4_no_lines_left")
        cleaned = "\n".join(kept)
        sentences = len(_SENTENCE_END.findall(cleaned))
        if sentences < self.min_sentences:
            return Reject("c4_too_few_sentences", f"{sentences} < {self.min_sentences}")
        return (cleaned,)
