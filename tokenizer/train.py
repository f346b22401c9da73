"""Byte-level BPE training from pre-token counts, with incremental pair counts (no full recount per merge).

Each distinct pre-token is a "word": a list of token ids and how often it occurs. The trainer keeps

- `pair_counts`: how often each adjacent pair occurs, over all words, weighted by word count;
- `pair_words`: for each pair, the words it occurs in (or once did);
- a max-heap of (count, pair) entries; an entry whose count is out of date is re-pushed when popped.

A merge rewrites only the words that contain the pair and adjusts the counts of the pairs those words gain and lose,
so a merge costs time in proportion to where the pair occurs, not to the corpus.

Tie-break (deterministic and independent of id numbering): among pairs of equal count, the one whose (left bytes,
right bytes) is smallest, compared as byte strings. A pair whose concatenation is already a token (reachable by
another split) is never merged, so every token has distinct bytes and the ranks can serve tiktoken directly.

Example, on the words "hug" x10, "pug" x5, "pun" x12, "bun" x4, "hugs" x5 (the HF course's corpus):
the first merge is "u"+"g" (20 occurrences), then "u"+"n" (16), then "h"+"ug" (15).
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence

from typing import Literal

from tokenizer.bpe import Tokenizer
from tokenizer.pretokenize import GPT2_PATTERN

try:  # built from tokenizer/_merge.c by setup.py; optional, so a machine without a C compiler still installs
    from tokenizer._merge import merge_loop as c_merge_loop
except ImportError:
    c_merge_loop = None


def _pairs(word: Sequence[int]) -> Counter[tuple[int, int]]:
    """Adjacent pairs of a word, counted. Example: [1, 2, 3, 1, 2] -> {(1, 2): 2, (2, 3): 1, (3, 1): 1}"""
    return Counter(zip(word, word[1:]))


def _merge(word: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace each non-overlapping occurrence of `pair`, left to right. Example: [1, 1, 1], (1, 1), 9 -> [9, 1]"""
    merged, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and word[i] == pair[0] and word[i + 1] == pair[1]:
            merged.append(new_id)
            i += 2
        else:
            merged.append(word[i])
            i += 1
    return merged


def learn_merges(words: list[list[int]], counts: list[int], num_merges: int, min_pair_count: int
                 ) -> list[tuple[int, int]]:
    """The merge loop in Python (the readable reference of tokenizer/_merge.c). `words` are rewritten in place."""
    vocab = [bytes([i]) for i in range(256)]
    known = set(vocab)

    pair_counts: dict[tuple[int, int], int] = Counter()
    pair_words: defaultdict[tuple[int, int], set[int]] = defaultdict(set)
    for index, word in enumerate(words):
        for pair, n in _pairs(word).items():
            pair_counts[pair] += n * counts[index]
            pair_words[pair].add(index)
    heap = [(-n, vocab[a], vocab[b], a, b) for (a, b), n in pair_counts.items()]
    heapq.heapify(heap)

    merges: list[tuple[int, int]] = []
    while len(merges) < num_merges and heap:
        negative, _, _, a, b = heapq.heappop(heap)
        current = pair_counts.get((a, b), 0)
        if current != -negative:  # stale entry: the pair's count changed after it was pushed
            if current > 0:
                heapq.heappush(heap, (-current, vocab[a], vocab[b], a, b))
            continue
        if current < min_pair_count:
            break
        joined = vocab[a] + vocab[b]
        if joined in known:
            continue
        new_id = len(vocab)
        vocab.append(joined)
        known.add(joined)
        merges.append((a, b))
        # A merge only lowers the counts of the pairs it breaks up and creates pairs that contain the new token.
        # Lowered counts need no heap push (their stale entries are re-pushed when popped); new pairs do.
        # pair_words only grows: a word listed for a pair it no longer holds is skipped here, cheaper than keeping
        # the index exact.
        created: set[tuple[int, int]] = set()
        for index in pair_words.pop((a, b)):
            word, n = words[index], counts[index]
            merged = _merge(word, (a, b), new_id)
            if len(merged) == len(word):
                continue
            words[index] = merged
            for pair in zip(word, word[1:]):
                pair_counts[pair] -= n
            for pair in zip(merged, merged[1:]):
                if new_id in pair:
                    created.add(pair)
                    pair_words[pair].add(index)
                pair_counts[pair] = pair_counts.get(pair, 0) + n
        del pair_counts[(a, b)]
        for pair in created:
            heapq.heappush(heap, (-pair_counts[pair], vocab[pair[0]], vocab[pair[1]], *pair))
    return merges


def train_bpe(
    pretoken_counts: Mapping[bytes, int],
    vocab_size: int,
    *,
    special_tokens: Sequence[str] = (),
    pattern: str = GPT2_PATTERN,
    min_pair_count: int = 2,
    implementation: Literal["auto", "c", "python"] = "auto",
) -> Tokenizer:
    """Learn merges until the vocabulary (256 bytes + merges + specials) reaches `vocab_size`.

    Stops early when no pair occurs at least `min_pair_count` times. `implementation`: the C merge loop (about 7x
    faster; "auto" uses it when it was built) or the Python one; both give the same merges. Raises ValueError when
    `vocab_size` cannot even hold the bytes and the special tokens.
    """
    num_merges = vocab_size - 256 - len(special_tokens)
    if num_merges < 0:
        raise ValueError(f"vocab_size {vocab_size} is below 256 bytes + {len(special_tokens)} special tokens")
    words = [list(piece) for piece in pretoken_counts]
    counts = list(pretoken_counts.values())
    if implementation == "c" or (implementation == "auto" and c_merge_loop is not None):
        if c_merge_loop is None:
            raise RuntimeError("the C merge loop (tokenizer._merge) was not built; use implementation='python'")
        merges = [tuple(pair) for pair in c_merge_loop(words, counts, num_merges, min_pair_count)]
    else:
        merges = learn_merges(words, counts, num_merges, min_pair_count)
    first_special = 256 + len(merges)
    specials = {token: first_special + i for i, token in enumerate(special_tokens)}
    return Tokenizer(merges=merges, specials=specials, pattern=pattern)
