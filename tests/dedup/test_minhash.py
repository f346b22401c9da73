"""MinHash signatures equal datasketch's, bit for bit, for every scheme, on real text and on arbitrary shingles."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.ops.dedup.minhash import SCHEMES, MinHasher, mod_mersenne, sha1_hashes, shingles



def datasketch_signature(items: list[bytes], num_perm: int, seed: int, scheme: str) -> np.ndarray:
    datasketch = pytest.importorskip("datasketch")  # only the reference comparisons need it
    reference = datasketch.MinHash(num_perm=num_perm, seed=seed, scheme=scheme)
    for item in items:
        reference.update(item)
    return reference.hashvalues


@pytest.fixture(scope="module")
def real_documents(corpus) -> list[list[bytes]]:
    lines = (corpus / "target_text" / "wikitext2_raw_test.jsonl").read_text().splitlines()
    texts = [json.loads(line)["text"] for line in lines[:12]]
    return [shingles(text, 5) for text in texts] + [[], shingles("two words", 5)]


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("num_perm, seed", [(112, 1), (128, 1), (128, 42)])
def test_signatures_equal_datasketch_on_real_text(real_documents, scheme, num_perm, seed):
    signatures = MinHasher(num_perm, seed, scheme).signatures(real_documents)
    for row, items in zip(signatures, real_documents):
        assert np.array_equal(row.astype(np.uint64), datasketch_signature(items, num_perm, seed, scheme))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.binary(max_size=40), max_size=30), min_size=1, max_size=8),
       st.sampled_from(SCHEMES), st.integers(1, 40), st.integers(0, 2**31))
def test_signatures_equal_datasketch_on_any_shingles(documents, scheme, num_perm, seed):
    signatures = MinHasher(num_perm, seed, scheme).signatures(documents)
    for row, items in zip(signatures, documents):
        assert np.array_equal(row.astype(np.uint64), datasketch_signature(items, num_perm, seed, scheme))


def test_documents_larger_than_a_chunk_are_whole(monkeypatch):
    import curate.ops.dedup.minhash as minhash

    documents = [[str(i).encode() for i in range(50)], [b"x"], [str(i).encode() for i in range(7)]]
    expected = MinHasher(16).signatures(documents)
    monkeypatch.setattr(minhash, "SHINGLES_PER_CHUNK", 8)
    assert np.array_equal(MinHasher(16).signatures(documents), expected)


@given(st.integers(0, 2**64 - 1))
def test_mod_mersenne_is_the_remainder(value):
    assert int(mod_mersenne(np.array([value], np.uint64))[0]) == value % (2**61 - 1)


def test_sha1_hashes_match_datasketch_hash_functions():
    hashfunc = pytest.importorskip("datasketch.hashfunc")
    sha1_hash32, sha1_hash64 = hashfunc.sha1_hash32, hashfunc.sha1_hash64

    items = [b"", b"a", "ünïcode".encode()]
    assert sha1_hashes(items, 32).tolist() == [sha1_hash32(i) for i in items]
    assert sha1_hashes(items, 64).tolist() == [sha1_hash64(i) for i in items]


def test_shingles():
    assert shingles("The cat sat. The cat sat!", 2) == [b"the cat", b"cat sat", b"sat the"]
    assert shingles("Only three words", 5) == [b"only three words"]
    assert shingles(" ... ", 5) == []


def test_bad_scheme_is_an_error():
    with pytest.raises(ValueError, match="scheme must be one of"):
        MinHasher(8, scheme="affine16")  # type: ignore[arg-type]


@pytest.mark.parametrize("sha_extensions", [True, False])
@pytest.mark.parametrize("scheme", SCHEMES)
def test_c_kernel_equals_the_numpy_path(corpus, scheme, sha_extensions):
    kernel = pytest.importorskip("curate.ops.dedup._minhash", reason="the C kernel is not built")
    if kernel.use_sha_extensions(sha_extensions) != sha_extensions:
        pytest.skip("this processor has no SHA extensions")
    lines = (corpus / "target_text" / "us_presidential_speeches.jsonl").read_text().splitlines()[:5]
    texts = [json.loads(line)["text"][:20_000] for line in lines]
    texts += ["", "  ... ", "one", "Ünïcödé wörds, ärë hére! " * 40, "a " * 70, "snake_case x² ½ ٣ 漢字かな 𝔘𝔫𝔦",
              "lone \ud800 surrogate between words", "ΣΊΣΥΦΟΣ İstanbul straße"]
    texts += ["y" * length for length in range(1, 140)]  # every SHA-1 padding case: one and two final blocks
    for ngram in (1, 3, 5):
        hasher = MinHasher(64, 7, scheme)
        assert np.array_equal(hasher.text_signatures(texts, ngram), hasher.text_signatures(texts, ngram, use_c=False))
    kernel.use_sha_extensions(True)
