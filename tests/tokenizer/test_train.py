"""The incremental trainer learns exactly the brute-force trainer's merges, on real and on generated corpora."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.tokenizer.reference_trainer import train_bruteforce
from tokenizer.pretokenize import GPT2_PATTERN, GPT4_PATTERN, count_pretokens, split_specials
from tokenizer.train import c_merge_loop, train_bpe


def test_worked_example_from_the_docstring():
    tokenizer = train_bpe({b"hug": 10, b"pug": 5, b"pun": 12, b"bun": 4, b"hugs": 5}, 259)
    assert [(tokenizer.vocab[a], tokenizer.vocab[b]) for a, b in tokenizer.merges] == [
        (b"u", b"g"), (b"u", b"n"), (b"h", b"ug")]


IMPLEMENTATIONS = ["python", pytest.param("c", marks=pytest.mark.skipif(
    c_merge_loop is None, reason="the C merge loop was not built (no C compiler at install)"))]


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("pattern", [GPT2_PATTERN, GPT4_PATTERN], ids=["gpt2", "gpt4"])
def test_matches_bruteforce_on_real_text(corpus, pattern, implementation):
    lines = (corpus / "target_text" / "us_presidential_speeches.jsonl").read_text().splitlines()[:3]
    counts = count_pretokens([json.loads(line)["text"][:20_000] for line in lines], pattern)
    tokenizer = train_bpe(counts, 256 + 150, implementation=implementation)
    assert tokenizer.merges == train_bruteforce(counts, 150)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.binary(min_size=1, max_size=8), st.integers(1, 20), min_size=1, max_size=30),
       st.integers(0, 40))
def test_matches_bruteforce_on_generated_counts(implementation, counts, num_merges):
    merges = train_bpe(counts, 256 + num_merges, implementation=implementation).merges
    assert merges == train_bruteforce(counts, num_merges)


@pytest.mark.skipif(c_merge_loop is None, reason="the C merge loop was not built")
def test_c_and_python_agree_on_a_larger_vocabulary(corpus):
    lines = (corpus / "target_text" / "gutenberg_nltk.jsonl").read_text().splitlines()[:2]
    counts = count_pretokens([json.loads(line)["text"] for line in lines], GPT2_PATTERN)
    assert (train_bpe(counts, 3000, implementation="c").merges
            == train_bpe(counts, 3000, implementation="python").merges)


def test_special_tokens_are_never_learned_and_come_last():
    text = "<|endoftext|>" * 50 + " end of text " * 20
    counts = count_pretokens([text], GPT2_PATTERN, ["<|endoftext|>"])
    tokenizer = train_bpe(counts, 300, special_tokens=["<|endoftext|>"])
    assert tokenizer.specials == {"<|endoftext|>": tokenizer.vocab_size - 1}
    assert not any(b"<|" in token for token in tokenizer.vocab)


def test_vocab_size_counts_bytes_merges_and_specials():
    counts = count_pretokens(["the cat sat on the mat " * 30], GPT2_PATTERN)
    assert train_bpe(counts, 260, special_tokens=["<a>", "<b>"]).vocab_size == 260
    with pytest.raises(ValueError, match="below 256 bytes"):
        train_bpe(counts, 257, special_tokens=["<a>", "<b>"])


def test_split_specials_prefers_the_longest():
    assert split_specials("x<|a|><|ab|>y", ["<|a|>", "<|ab|>"]) == ["x", "<|a|>", "<|ab|>", "y"]
