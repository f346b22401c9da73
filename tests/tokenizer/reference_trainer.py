"""The brute-force BPE trainer the incremental one is checked against: recount every pair after every merge."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping


def train_bruteforce(pretoken_counts: Mapping[bytes, int], num_merges: int, min_pair_count: int = 2
                     ) -> list[tuple[int, int]]:
    """Merges by the same rule as tokenizer.train: most frequent pair, ties to the smallest (left, right) bytes,
    never a pair whose concatenation is already a token."""
    words = {tuple(piece): n for piece, n in pretoken_counts.items()}
    vocab = [bytes([i]) for i in range(256)]
    merges: list[tuple[int, int]] = []
    while len(merges) < num_merges:
        counts: Counter[tuple[int, int]] = Counter()
        for word, n in words.items():
            for pair in zip(word, word[1:]):
                counts[pair] += n
        candidates = [(-n, vocab[a], vocab[b], (a, b)) for (a, b), n in counts.items()
                      if n >= min_pair_count and vocab[a] + vocab[b] not in vocab]
        if not candidates:
            break
        *_, pair = min(candidates)
        new_id = len(vocab)
        vocab.append(vocab[pair[0]] + vocab[pair[1]])
        merges.append(pair)
        merged_words: Counter[tuple[int, ...]] = Counter()
        for word, n in words.items():
            out, i = [], 0
            while i < len(word):
                if word[i : i + 2] == pair:
                    out.append(new_id)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged_words[tuple(out)] += n
        words = merged_words
    return merges
