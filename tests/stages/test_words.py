"""Word counting for the heuristic filters: Chinese and Japanese text counts its characters, other text its
whitespace-separated tokens exactly as before."""

from __future__ import annotations

import pytest

from curate.stages.base import Reject
from curate.stages.gopher import GopherQuality
from curate.stages.words import split_words
from tests.conftest import CORPUS

UDHR = CORPUS / "multilingual" / "udhr2"


def udhr(code: str) -> str:
    path = UDHR / f"{code}.txt"
    if not path.exists():
        pytest.skip(f"{path} is not there (../shared/corpus)")
    return path.read_text(encoding="utf-8")


def test_latin_text_splits_as_str_split():
    for text in ["Plain English  text,\nwith lines.", "  ", "", "Ünïcödé wörds — and dashes"]:
        assert split_words(text) == text.split()


@pytest.mark.parametrize("code, low, high", [("cmn_hans", 0.9, 1.0), ("jpn", 0.8, 1.0), ("eng", 0.0, 0.01)])
def test_cjk_declaration_counts_characters_as_words(code, low, high):
    text = udhr(code)
    words = split_words(text)
    single_cjk = sum(len(w) == 1 and w >= "\u3040" for w in words) / len(words)
    assert low <= single_cjk <= high
    if code != "eng":  # whitespace splitting saw a handful of "words" in the whole declaration
        assert len(words) > 5 * len(text.split())


def test_gopher_counts_a_chinese_article_in_words_it_can_judge():
    text = udhr("cmn_hans")
    chinese = GopherQuality(min_mean_word_length=1, stop_words=["的", "和", "人"], max_symbol_word_ratio=0.1)
    assert not isinstance(chinese.apply(text), Reject)
    assert GopherQuality().apply(text).reason == "gopher_word_length"  # English thresholds: a mean of 1 character


@pytest.mark.parametrize("code", ["tha", "lao", "khm", "mya"])
def test_unspaced_scripts_are_cut_into_dictionary_words(code):
    """Thai, Lao, Khmer and Myanmar put no spaces between words: their runs are cut by ICU's word break iterator
    (a 541-character Thai page was 24 whitespace "words")."""
    pytest.importorskip("icu")
    text = udhr(code)
    words = split_words(text)
    assert len(words) > 2 * len(text.split())  # Myanmar spaces its phrases (2.7x), Thai its sentences (6.8x)
    assert 2 <= sum(map(len, words)) / len(words) <= 8  # characters a word, as in the languages' dictionaries
    assert not any(word.isspace() for word in words)


def test_thai_words_and_the_gopher_rule_that_counts_them():
    pytest.importorskip("icu")
    assert split_words("ภาษาไทยเป็นภาษา is Thai.") == ["ภาษา", "ไทย", "เป็น", "ภาษา", "is", "Thai."]
    text = udhr("tha")
    verdict = GopherQuality().apply(text)  # English thresholds: a mean word of 28 whitespace-split characters before
    assert not (isinstance(verdict, Reject) and verdict.reason == "gopher_word_length")
