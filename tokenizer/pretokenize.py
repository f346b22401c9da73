"""Pre-tokenisation: split text into the chunks BPE merges never cross, and count them for training.

Special tokens are cut out first, so that no merge ever spans or builds them; the rest is split with a regex.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

import regex

# GPT-2's pre-tokenisation pattern (Radford et al. 2019; openai/gpt-2 encoder.py): contractions, letter runs, digit
# runs, punctuation runs, each with an optional leading space, and whitespace.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
# GPT-4's cl100k_base pattern (tiktoken): case-insensitive contractions, digits in groups of at most three.
GPT4_PATTERN = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]"""
                r"""|\s+(?!\S)|\s+""")
PATTERNS = {"gpt2": GPT2_PATTERN, "gpt4": GPT4_PATTERN}


def split_specials(text: str, specials: Iterable[str]) -> list[str]:
    """Split `text` around special tokens, keeping them as their own items.

    Example: split_specials("a<|endoftext|>b", ["<|endoftext|>"]) -> ["a", "<|endoftext|>", "b"]
    """
    specials = sorted(specials, key=len, reverse=True)  # the longest special wins where two overlap
    if not specials:
        return [text]
    parts = re.split("(" + "|".join(re.escape(s) for s in specials) + ")", text)
    return [part for part in parts if part]


def count_pretokens(texts: Iterable[str], pattern: str, specials: Iterable[str] = ()) -> Counter[bytes]:
    """How often each pre-token (as UTF-8 bytes) occurs in `texts`; special tokens are left out.

    Example: count_pretokens(["hi hi"], GPT2_PATTERN) -> Counter({b"hi": 1, b" hi": 1})
    """
    compiled = regex.compile(pattern)
    special_set = set(specials)
    counts: Counter[str] = Counter()
    for text in texts:
        for part in split_specials(text, special_set):
            if part not in special_set:
                counts.update(compiled.findall(part))  # most of the time goes here, in the regex engine
    return Counter({piece.encode("utf-8"): n for piece, n in counts.items()})
