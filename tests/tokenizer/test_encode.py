"""Encoding: the reference encoder, the tiktoken fast path and the Hugging Face export agree; decoding round-trips."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer as HFTokenizer

from tokenizer.bpe import Tokenizer
from tokenizer.export import bytes_to_unicode, to_huggingface, to_tiktoken_ranks
from tokenizer.fast import encode_batch
from tokenizer.pretokenize import GPT2_PATTERN, count_pretokens
from tokenizer.train import train_bpe

EOT = "<|endoftext|>"


@pytest.fixture(scope="module")
def texts(corpus) -> list[str]:
    docs = []
    for name in ("target_text/wikitext2_raw_test.jsonl", "target_text/gutenberg_nltk.jsonl",
                 "web_text/ccnet_en_head_dolma.jsonl"):
        for line in (corpus / name).read_text().splitlines()[:12]:
            docs.append(json.loads(line)["text"][:30_000])
    return docs


@pytest.fixture(scope="module")
def tokenizer(texts) -> Tokenizer:
    return train_bpe(count_pretokens(texts, GPT2_PATTERN, [EOT]), 2048, special_tokens=[EOT])


def test_fast_path_and_huggingface_match_the_reference(tokenizer, texts):
    hf = HFTokenizer.from_str(json.dumps(to_huggingface(tokenizer)))
    samples = texts + ["naïve café 東京 🎉 x" + EOT + " after", "   spaces\n\n\ttabs  ", ""]
    fast = encode_batch(tokenizer, samples, allowed_special="all")
    for text, fast_ids in zip(samples, fast):
        reference = tokenizer.encode(text, allowed_special="all")
        assert fast_ids == reference
        assert hf.encode(text).ids == reference
        assert hf.decode(reference, skip_special_tokens=False) == text


def test_special_tokens_only_when_allowed(tokenizer):
    assert tokenizer.encode(EOT, allowed_special="all") == [tokenizer.specials[EOT]]
    plain = tokenizer.encode(EOT)
    assert tokenizer.specials[EOT] not in plain and tokenizer.decode(plain) == EOT
    assert encode_batch(tokenizer, [EOT])[0] == plain


@settings(max_examples=150, deadline=None)
@given(st.text())
def test_round_trip_any_text(tokenizer, text):
    ids = tokenizer.encode(text, allowed_special="all")
    assert tokenizer.decode(ids) == text
    assert encode_batch(tokenizer, [text], allowed_special="all")[0] == ids


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 2047), max_size=50))
def test_decode_any_ids(tokenizer, ids):
    text = tokenizer.decode(ids)
    assert isinstance(text, str) and tokenizer.decode_bytes(ids) == b"".join(
        EOT.encode() if i == tokenizer.specials[EOT] else tokenizer.vocab[i] for i in ids)


def test_save_load_and_tiktoken_ranks(tokenizer, tmp_path):
    path = tmp_path / "tok.json"
    tokenizer.save(str(path))
    loaded = Tokenizer.load(str(path))
    assert loaded == tokenizer and loaded.hash == tokenizer.hash
    lines = to_tiktoken_ranks(tokenizer).splitlines()
    assert len(lines) == tokenizer.vocab_size - 1 and lines[0] == "AA== 0"


def test_bytes_to_unicode_is_a_bijection_onto_printables():
    table = bytes_to_unicode()
    assert len(set(table.values())) == 256 and table[ord(" ")] == "Ġ" and table[ord("a")] == "a"
