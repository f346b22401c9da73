"""Words as the heuristic filters count them: whitespace-separated, except in Chinese and Japanese text, which has no
spaces, where each Han or kana character counts as a word.

`"日本語のテキストです。".split()` is one "word", so a 2,000-character Chinese article failed Gopher's 50-word minimum
and every ratio over words was meaningless. A character is a fair unit: a Chinese word averages about 1.5 characters
(so counts run about 1.5x a segmenter's), and no dictionary or model is needed; FineWeb-2 uses per-language word
tokenizers instead (Penedo et al. 2025, arXiv:2506.20920), which pipelines can reach through their own stage
(curate/stages/plugins.py). Korean separates words with spaces and is split as usual; Thai, which does not, is not
handled here. CJK punctuation (U+3000-U+303F, fullwidth punctuation) separates words and is not one.

Text without a character at or above U+3000 is split exactly as `str.split()` splits it (and as fast).
"""

from __future__ import annotations

import re

# Han (CJK Unified Ideographs, extension A, compatibility, extensions B-F), Hiragana, Katakana.
CJK_CHARACTER = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef\u3040-\u309f\u30a0-\u30ff"
CJK_PUNCTUATION = "\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"
WORD = re.compile(f"[{CJK_CHARACTER}]|[^\\s{CJK_CHARACTER}{CJK_PUNCTUATION}]+")


def split_words(text: str) -> list[str]:
    """Example: split_words("Tokyo 東京タワー is tall。") -> ["Tokyo", "東", "京", "タ", "ワ", "ー", "is", "tall"]"""
    if not text or max(text) < "\u3000":
        return text.split()
    return WORD.findall(text)
