"""C4's cleaning rules (Raffel et al. 2020, "Exploring the Limits of Transfer Learning", section 2.2), with the
defaults FineWeb ran (Penedo et al. 2024; datatrove's examples/fineweb.py: `C4QualityFilter(filter_no_terminal_punct=
False)`, the other options at their defaults).

Line-level, in datatrove's order: drop lines with a word longer than 1,000 characters; remove Wikipedia-style
citation marks ("[1]", "[edit]", "[citation needed]"); if `terminal_punctuation` (C4's own rule, which FineWeb turned
off) drop lines that do not end in terminal punctuation or that end in an ellipsis; drop lines of fewer than 3
words, lines mentioning javascript and cookie/privacy/terms notices. Page-level, judged on the lines that remain:
reject pages with "lorem ipsum" or (if `curly_bracket`) a curly bracket, and pages with fewer than 5 sentences. The
text column is rewritten with the kept lines, one line break apart; with `rewrite: false` the page is judged the same
way and its text left as it came (the line rules then only decide, and count, what the page-level rules read).

The line rules remove every heading, list item, byline and comment line of fewer than 3 words. The training ablation
(docs/quality.md) measured what that rewrite costs a model on held-out web text, against the rejections alone.

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
    # the rewritten text; how many lines the line rules dropped, by rule ("short" 12, "javascript" 1; kept and
    # rejected rows alike, a rejected row keeping its text); the sentences of the kept lines
    writes: ClassVar[tuple[pa.Field, ...]] = (pa.field("text", pa.string()),
                                              pa.field("c4_dropped_lines", pa.map_(pa.string(), pa.int32())),
                                              pa.field("c4_sentences", pa.int32()))

    min_words_per_line: int = 3  # C4: "only retained lines that contained at least 3 words"
    min_sentences: int = 5  # C4: "discarded any page with fewer than 5 sentences"
    max_word_length: int = 1000  # datatrove's default: a longer "word" is a URL, a hash or a payload
    terminal_punctuation: bool = False  # C4 True; FineWeb False
    curly_bracket: bool = True  # C4 and FineWeb True
    remove_citations: bool = True
    drop_javascript_lines: bool = True
    drop_policy_lines: bool = True
    rewrite: bool = True  # C4 and FineWeb: the text becomes the kept lines; False keeps it as it came

    def apply(self, text: str | None) -> tuple[str, dict[str, int], int] | Reject:
        kept: list[str] = []
        dropped: dict[str, int] = {}
        page_rule: Reject | None = None
        for raw in (text or "").split("\n"):
            line = raw.strip()
            if not line:
                continue
            rule = self._line_rule(line)
            if rule is None:
                line = CITATION.sub("", line) if self.remove_citations else line
                lower = line.lower()
                # datatrove's order: lorem ipsum, then javascript lines, then curly brackets, then notices
                if page_rule is None and "lorem ipsum" in lower:
                    page_rule = Reject("c4_lorem_ipsum", f"'lorem ipsum' in a line: {line[:80]}")
                if self.drop_javascript_lines and "javascript" in lower:
                    rule = "javascript"
                else:
                    if page_rule is None and self.curly_bracket and "{" in line:
                        page_rule = Reject("c4_curly_bracket", f"'{{' in a line: {line[:80]}")
                    if self.drop_policy_lines and any(p in lower for p in POLICY_SUBSTRINGS):
                        rule = "policy"
            if rule is None:
                kept.append(line)
            else:
                dropped[rule] = dropped.get(rule, 0) + 1
        cleaned = "\n".join(kept)
        sentences = len(_SENTENCE_END.findall(cleaned))
        values = (text or "", dropped, sentences)
        if page_rule is not None:
            return Reject(page_rule.reason, page_rule.detail, values)
        if not kept:
            return Reject("c4_no_lines_left", ("every line dropped: " + ", ".join(
                f"{count} {rule}" for rule, count in sorted(dropped.items()))) if dropped else "0 lines with text",
                values)
        if sentences < self.min_sentences:
            return Reject("c4_too_few_sentences", f"{sentences} sentences < {self.min_sentences}", values)
        return (cleaned if self.rewrite else text or ""), dropped, sentences

    def _line_rule(self, line: str) -> str | None:
        """The line rule that drops a line before its page-level checks, or None: a word over `max_word_length`
        ("long_word"), no terminal punctuation ("unpunctuated"), fewer than `min_words_per_line` words ("short")."""
        words = split_words(line)
        if any(len(word) > self.max_word_length for word in words):
            return "long_word"
        cited = CITATION.sub("", line) if self.remove_citations else line
        if self.terminal_punctuation and (not cited.endswith(TERMINAL_PUNCTUATION) or cited.endswith(ELLIPSIS)):
            return "unpunctuated"
        if len(words) < self.min_words_per_line:
            return "short"
        return None
