"""MinHash signatures of word n-gram shingles, computed for a whole batch of documents at once with NumPy, and
bit-identical to `datasketch.MinHash(num_perm, seed, scheme)` fed the same shingles.

datasketch hashes each shingle with the first 4 (or 8) bytes of its SHA-1 and applies one affine permutation per
signature slot. Its schemes (datasketch 2.0, `datasketch/minhash.py`):

- "affine32" (the default since 2.0): h = fmix32(sha1_32(s)); slot_i = a_i * h + b_i mod 2^32, `a_i` odd.
- "affine64": the same in 64 bits with sha1_64 and fmix64.
- "legacy" (every release before 2.0, as used by FineWeb-era pipelines): slot_i = ((a_i * h + b_i) mod 2^64
  mod (2^61 - 1)) & (2^32 - 1), with the product wrapping at 64 bits as NumPy's uint64 does.

The permutation parameters come from `np.random.RandomState(seed)` drawn in datasketch's order, so the same seed
gives the same signatures. Where datasketch applies the permutations shingle by shingle in Python, here a chunk of
documents' shingles is permuted in one (num_perm x shingles) array operation and reduced per document with
`np.minimum.reduceat` along the contiguous axis; the SHA-1 digests are joined and read back with one
`np.frombuffer`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

try:  # built from curate/ops/dedup/_minhash.c by setup.py; optional, the NumPy path gives the same values
    from curate.ops.dedup._minhash import signatures as c_signatures
except ImportError:  # pragma: no cover - depends on the build
    c_signatures = None

Scheme = Literal["affine32", "affine64", "legacy"]
SCHEMES: tuple[str, ...] = ("affine32", "affine64", "legacy")
MERSENNE_PRIME = np.uint64((1 << 61) - 1)
MAX_HASH_32 = np.uint64((1 << 32) - 1)
# MurmurHash3's finalizer constants (shift, multiplier, shift, multiplier, shift), as datasketch's _FMIX_CONSTANTS.
FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))
FMIX64 = (np.uint64(33), np.uint64(0xFF51AFD7ED558CCD), np.uint64(33), np.uint64(0xC4CEB9FE1A85EC53), np.uint64(33))
# Shingles permuted per array operation. 4k x 112 slots x 4 bytes = 1.8 MiB stays in cache between the multiply,
# the add and the reduction: 20x faster than 64k-shingle chunks here (measured, 379k shingles).
SHINGLES_PER_CHUNK = 1 << 12
WORD = re.compile(r"\w+")


def shingles(text: str, ngram: int) -> list[bytes]:
    """The distinct word n-grams of `text`, lower-cased, punctuation dropped, words joined by one space, as UTF-8.

    A text of fewer than `ngram` words is one shingle of all its words; a text with no word has none.
    Example: shingles("The cat sat. The cat sat!", 2) -> [b"the cat", b"cat sat", b"sat the"]
    """
    words = WORD.findall(text.lower())
    if len(words) <= ngram:
        return [" ".join(words).encode()] if words else []
    grams = dict.fromkeys(" ".join(words[i : i + ngram]) for i in range(len(words) - ngram + 1))
    return [g.encode() for g in grams]


def sha1_hashes(items: Sequence[bytes], width: int) -> np.ndarray:
    """datasketch's sha1_hash32 / sha1_hash64 of every item: the first 4 or 8 bytes of SHA-1, little-endian.

    Example: sha1_hashes([b"a"], 32)[0] == datasketch.hashfunc.sha1_hash32(b"a")
    """
    sha1 = hashlib.sha1
    digests = np.frombuffer(b"".join([sha1(item).digest() for item in items]), dtype="<u4").reshape(-1, 5)
    if width == 32:
        return digests[:, 0].astype(np.uint32)
    return digests[:, 0].astype(np.uint64) | (digests[:, 1].astype(np.uint64) << np.uint64(32))


def fmix(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's finalizer on uint32 or uint64 values (a bijection; multiplication wraps, as intended)."""
    s1, m1, s2, m2, s3 = FMIX32 if values.dtype == np.uint32 else FMIX64
    values = values ^ (values >> s1)
    values = values * m1
    values = values ^ (values >> s2)
    values = values * m2
    return values ^ (values >> s3)


def mod_mersenne(values: np.ndarray) -> np.ndarray:
    """values % (2^61 - 1) for uint64 without a division: x = hi * 2^61 + lo == hi + lo (mod 2^61 - 1).

    Example: mod_mersenne(np.array([2**61 + 5], np.uint64)) -> [6]
    """
    folded = (values & MERSENNE_PRIME) + (values >> np.uint64(61))
    return np.where(folded >= MERSENNE_PRIME, folded - MERSENNE_PRIME, folded)


@dataclass(frozen=True)
class MinHasher:
    """Signatures of `num_perm` slots; `MinHasher(128, seed=1)` equals `datasketch.MinHash(128, seed=1)`."""

    num_perm: int = 112
    seed: int = 1
    scheme: Scheme = "affine32"

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}, got {self.scheme!r}")
        if self.num_perm < 1:
            raise ValueError(f"num_perm must be positive, got {self.num_perm}")
        generator = np.random.RandomState(self.seed)
        if self.scheme == "legacy":  # one (a, b) pair per slot, in that order
            pairs = [(generator.randint(1, MERSENNE_PRIME, dtype=np.uint64),
                      generator.randint(0, MERSENNE_PRIME, dtype=np.uint64)) for _ in range(self.num_perm)]
            a, b = np.ascontiguousarray(np.array(pairs, dtype=np.uint64).T)
        else:  # all a (odd, so the map is a bijection), then all b
            width = 32 if self.scheme == "affine32" else 64
            dtype = np.uint32 if width == 32 else np.uint64
            a = generator.randint(0, 1 << (width - 1), self.num_perm, dtype=dtype) * dtype(2) + dtype(1)
            b = generator.randint(0, 1 << width, self.num_perm, dtype=dtype)
        object.__setattr__(self, "_a", a)
        object.__setattr__(self, "_b", b)

    @property
    def dtype(self) -> type[np.unsignedinteger]:
        """uint64 for "affine64"; uint32 otherwise (legacy values are masked to 32 bits)."""
        return np.uint64 if self.scheme == "affine64" else np.uint32

    @property
    def empty_value(self) -> int:
        """The value of every slot of a document with no shingle (datasketch's initial hash values)."""
        return int(np.iinfo(self.dtype).max)

    def permuted(self, hashes: np.ndarray) -> np.ndarray:
        """(num_perm, len(hashes)) permuted values of raw SHA-1 hashes: one row per signature slot."""
        a, b = self._a[:, None], self._b[:, None]  # type: ignore[attr-defined]
        if self.scheme == "legacy":
            return (mod_mersenne(a * hashes.astype(np.uint64)[None, :] + b) & MAX_HASH_32).astype(np.uint32)
        values = a * fmix(hashes)[None, :]
        values += b
        return values

    def text_signatures(self, texts: Sequence[str], ngram: int, *, use_c: bool = True) -> np.ndarray:
        """A (texts, num_perm) array of the signatures of each text's word `ngram` shingles (see `shingles`).

        The C kernel (when built) finds the words and hashes the n-grams itself, without a Python object per word
        or shingle: the same values as the NumPy path, several times faster.
        """
        if c_signatures is None or not use_c:
            return self.signatures([shingles(text, ngram) for text in texts])
        out = np.full((len(texts), self.num_perm), self.empty_value, dtype=self.dtype)
        code = SCHEMES.index(self.scheme)
        c_signatures([text.lower() for text in texts], ngram, self._a, self._b, code, out)  # type: ignore
        return out

    def signatures(self, documents: Sequence[Sequence[bytes]]) -> np.ndarray:
        """A (documents, num_perm) array: each row the MinHash of one document's shingles.

        Example: MinHasher(4).signatures([[b"a b"], []])[1] -> [4294967295] * 4 (no shingles: the empty signature)
        """
        out = np.full((len(documents), self.num_perm), self.empty_value, dtype=self.dtype)
        width = 64 if self.scheme == "affine64" else 32
        start = 0
        while start < len(documents):
            end, size = start, 0  # a chunk of whole documents with about SHINGLES_PER_CHUNK shingles
            while end < len(documents) and (size == 0 or size + len(documents[end]) <= SHINGLES_PER_CHUNK):
                size += len(documents[end])
                end += 1
            chunk = documents[start:end]
            counts = np.fromiter(map(len, chunk), dtype=np.int64, count=len(chunk))
            if size:
                values = self.permuted(sha1_hashes([s for doc in chunk for s in doc], width))
                rows = np.flatnonzero(counts)  # reduceat needs non-empty segments
                offsets = np.concatenate(([0], np.cumsum(counts)[:-1]))[rows]
                out[start + rows] = np.minimum.reduceat(values, offsets, axis=1).T
            start = end
        return out
