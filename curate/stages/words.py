"""Words as the heuristic filters count them: whitespace-separated, except in Chinese and Japanese text, which has no
spaces, where each Han or kana character counts as a word.

`"日本語のテキストです。".split()` is one "word", so a 2,000-character Chinese article failed Gopher's 50-word minimum
and every ratio over words was meaningless. A character is a fair unit: a Chinese word averages about 1.5 characters
(so counts run about 1.5x a segmenter's), and no dictionary or model is needed; FineWeb-2 uses per-language word
tokenizers instead (Penedo et al. 2025, arXiv:2506.20920), which pipelines can reach through their own stage
(curate/stages/plugins.py). Korean separates words with spaces and is split as usual. CJK punctuation
(U+3000-U+303F, fullwidth punctuation) separates words and is not one.

Thai, Lao, Khmer and Myanmar are written without spaces between words and with words of several characters, so
neither rule fits: a 541-character Thai page was 24 "words". Runs of those scripts are cut by ICU's word break
iterator, whose dictionaries know their words (the break engine of Unicode's text segmentation, UAX #29, with
dictionaries for these scripts), as browsers and FineWeb-2's Thai tokenizer (PyThaiNLP's) do in their own ways.
ICU comes from the pyicu-wheels package; where it is not installed, such runs count as whitespace words, as before.

Text without a character at or above U+0E00 is split exactly as `str.split()` splits it (and as fast).
"""

from __future__ import annotations

import functools
import re
import threading
from typing import Any

# Han (CJK Unified Ideographs, extension A, compatibility, extensions B-F), Hiragana, Katakana.
CJK_CHARACTER = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef\u3040-\u309f\u30a0-\u30ff"
CJK_PUNCTUATION = "\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"
WORD = re.compile(f"[{CJK_CHARACTER}]|[^\\s{CJK_CHARACTER}{CJK_PUNCTUATION}]+")


# Thai and Lao (U+0E00-U+0EFF), Myanmar (U+1000-U+109F), Khmer (U+1780-U+17FF).
UNSPACED_SCRIPTS = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff"
UNSPACED_RUN = re.compile(f"[{UNSPACED_SCRIPTS}]")
_ICU_WORD_NONE = 0  # a break iterator's rule status for a segment that is no word (spaces, punctuation)
_local = threading.local()


@functools.cache
def _icu() -> Any:
    try:
        import icu  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        return None
    return icu


def segment(run: str) -> list[str] | None:
    """The words of a text in an unspaced script, by ICU's word break iterator; None without ICU.

    Example: segment("ภาษาไทยเป็นภาษา") -> ["ภาษา", "ไทย", "เป็น", "ภาษา"]"""
    icu = _icu()
    if icu is None:
        return None
    iterator = getattr(_local, "iterator", None)
    if iterator is None:  # an iterator holds its text: one per thread
        iterator = _local.iterator = icu.BreakIterator.createWordInstance(icu.Locale("th"))
    iterator.setText(run)
    words, start = [], iterator.first()
    for end in iterator:
        if iterator.getRuleStatus() != _ICU_WORD_NONE:
            words.append(run[start:end])
        start = end
    return words


def split_words(text: str) -> list[str]:
    """Example: split_words("Tokyo 東京タワー is tall。") -> ["Tokyo", "東", "京", "タ", "ワ", "ー", "is", "tall"];
    split_words("ภาษาไทย is Thai") -> ["ภาษา", "ไทย", "is", "Thai"]"""
    if not text or max(text) < "\u0e00":
        return text.split()
    tokens = text.split() if max(text) < "\u3000" else WORD.findall(text)
    if not UNSPACED_RUN.search(text):
        return tokens
    words: list[str] = []
    for token in tokens:
        found = segment(token) if UNSPACED_RUN.search(token) else None
        words.extend(found if found is not None else [token])
    return words
