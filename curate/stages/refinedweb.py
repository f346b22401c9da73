"""RefinedWeb's line-wise corrections (Penedo et al. 2023, "The RefinedWeb Dataset for Falcon LLM", arXiv:2306.01116,
section 3.2), as DCLM-Baseline runs them (Li et al. 2024; its baselines_configs/dclm_baseline_refinedweb.yaml), as
one stage: `refinedweb_lines`.

Extraction leaves a page's navigation and counters in its text: "HOME | NEWS | CONTACT", "1,024 views", "Share",
"Sign-in to comment", a line of digits. RefinedWeb removes such lines instead of dropping the page, then drops the
page when the corrections removed more than 5% of its words (there the page is mostly boilerplate). In DCLM's
order, each step over the lines the one before left:
1. lines over half upper-case characters (`uppercase_ratio_line_modifier`, 0.5; the ratio over all characters);
2. lines of digits alone (`numeric_ratio_line_modifier`, 0.999999);
3. counter lines: a number, then "likes", "shares", "comments", "views", "followers" and the like;
4. lines of one word (`line_length_modifier`, at least 2 words);
5. in lines of at most 10 words, the fragments "items in cart" (anywhere), "Read more..." (at the end) and
   "Sign-in" (at the start) are cut, and a line left with nothing but whitespace goes.
Words are DCLM's: whitespace-separated tokens that begin with a letter or a digit.

Where it sits against curate's other line rules: C4's (curate/stages/c4.py) drop every line of fewer than 3 words,
headings and list items included, and keep a page however much they remove; RefinedWeb's drop one-word lines only,
and drop a page they had to cut deeply. The training ablation (docs/quality.md, issue 29) measures it in curate's
recipe against DCLM's, where it is one of the stages the two recipes do not share.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import pyarrow as pa

from curate.stages.base import DocumentStage, Reject

# dclm_baseline_refinedweb.yaml's parameters
MAX_UPPERCASE_RATIO = 0.5  # uppercase_ratio_line_modifier
MAX_NUMERIC_RATIO = 0.999999  # numeric_ratio_line_modifier: "all digits"
MIN_LINE_WORDS = 2  # line_length_modifier
FRAGMENT_LINE_WORDS = 10  # substring_line_modifier's max_length
MAX_REMOVED_WORDS = 0.05  # word_removal_ratio_filter
COUNTER_LINE = re.compile(r"^\W*\d(?:,|\.|\d)*(?:K|k|M|m|B|b)?\s+(?:likes|shares|comments|retweets|reposts|quotes|"
                          r"bookmarks|upvotes|downvotes|downloads|views|followers)\W*$")
# RefinedWeb's three fragments: anywhere, at the end, at the start of a short line
FRAGMENTS = (re.compile(r"\s?(?:items in cart)", re.I), re.compile(r"\s?(?:read more\.\.\.)$", re.I),
             re.compile(r"^(?:sign-in)\s?", re.I))


def words(text: str) -> list[str]:
    """DCLM's word count: whitespace-separated tokens that begin with a letter or digit (split_words with
    ignore_punctuation). Example: words("a - b, c") -> ["a", "b,", "c"]."""
    return [word for word in text.split() if word[0].isalnum()]


def _removing(lines: list[str], keep: Callable[[str], bool], rule: str, dropped: dict[str, int]) -> list[str]:
    """`lines` that `keep` accepts; the lines it refuses (never an empty one) counted under `rule` in `dropped`."""
    kept = [line for line in lines if keep(line)]
    removed = len(lines) - len(kept)
    if removed:
        dropped[rule] = dropped.get(rule, 0) + removed
    return kept


def _relined(lines: list[str]) -> list[str]:
    """DCLM's step between two line modifiers: the lines joined, stripped at both ends, and split again."""
    return "\n".join(lines).strip().split("\n")


def correct_lines(text: str, max_uppercase_ratio: float = MAX_UPPERCASE_RATIO,
                  max_numeric_ratio: float = MAX_NUMERIC_RATIO, min_line_words: int = MIN_LINE_WORDS,
                  fragment_line_words: int = FRAGMENT_LINE_WORDS) -> tuple[str, dict[str, int], float]:
    """RefinedWeb's line corrections: (the corrected text, the lines each rule removed, the share of words removed).

    Example: correct_lines("A real line of text\\nHOME ABOUT\\n12 likes")
    -> ("A real line of text", {"uppercase": 1, "counter": 1}, 4 / 9)
    """
    before = len(words(text))
    dropped: dict[str, int] = {}
    lines = _removing(text.split("\n"), lambda line: not line or sum(map(str.isupper, line)) / len(line)
                      <= max_uppercase_ratio, "uppercase", dropped)
    lines = _removing(lines, lambda line: not line or sum(map(str.isdigit, line)) / len(line) <= max_numeric_ratio,
                      "numeric", dropped)
    lines = _removing(_relined(lines), lambda line: not COUNTER_LINE.search(line.lower()), "counter", dropped)
    lines = _removing(_relined(lines), lambda line: not line or len(line.split()) >= min_line_words, "one_word",
                      dropped)
    for fragment in FRAGMENTS:
        kept = []
        for line in lines:
            if len(line.split()) <= fragment_line_words:
                cut = fragment.sub("", line)
                if line and not cut.strip():
                    dropped["fragment"] = dropped.get("fragment", 0) + 1
                    continue
                line = cut
            kept.append(line)
        lines = _relined(kept)
    corrected = "\n".join(lines).strip()
    removed = (before - len(words(corrected))) / before if before else 1.0
    return corrected, dropped, removed


@dataclass
class RefinedWebLines(DocumentStage):
    """Columns: the corrected text, the lines each rule removed (kept and rejected rows alike, a rejected row keeping
    its text as it came), the share of the page's words they removed."""

    name: ClassVar[str] = "refinedweb_lines"
    reads: ClassVar[tuple[str, ...]] = ("text",)
    writes: ClassVar[tuple[pa.Field, ...]] = (pa.field("text", pa.string()),
                                              pa.field("refinedweb_dropped_lines", pa.map_(pa.string(), pa.int32())),
                                              pa.field("refinedweb_removed_word_ratio", pa.float32()))

    max_uppercase_ratio: float = MAX_UPPERCASE_RATIO
    max_numeric_ratio: float = MAX_NUMERIC_RATIO
    min_line_words: int = MIN_LINE_WORDS
    fragment_line_words: int = FRAGMENT_LINE_WORDS
    max_removed_word_ratio: float = MAX_REMOVED_WORDS  # RefinedWeb: "more than 5% of the document's words"

    def apply(self, text: str | None) -> tuple[str, dict[str, int], float] | Reject:
        text = text or ""
        corrected, dropped, removed = correct_lines(text, self.max_uppercase_ratio, self.max_numeric_ratio,
                                                    self.min_line_words, self.fragment_line_words)
        values = (text, dropped, removed)
        if not corrected:
            return Reject("refinedweb_no_lines_left", ("every line removed: " + ", ".join(
                f"{count} {rule}" for rule, count in sorted(dropped.items()))) if dropped else "0 lines with text",
                values)
        if removed > self.max_removed_word_ratio:
            return Reject("refinedweb_words_removed", f"{removed:.3f} of words removed > {self.max_removed_word_ratio}"
                          f" ({', '.join(f'{count} {rule}' for rule, count in sorted(dropped.items()))} lines)",
                          values)
        return corrected, dropped, removed
