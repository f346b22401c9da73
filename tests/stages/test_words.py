"""Word counting for the heuristic filters: Chinese and Japanese text counts its characters, other text its
whitespace-separated tokens exactly as before."""

from __future__ import annotations

import pytest

from curate.stages.base import Reject
from curate.stages.gopher import GopherQuality
from curate.stages.words import is_word, language_tokens, split_words
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


def test_language_tokens_are_words_and_punctuation_marks_as_a_word_tokenizer_gives_them():
    pytest.importorskip("icu")
    assert language_tokens("Hello, world. It costs $3.50!", "en") == [
        "Hello", ",", "world", ".", "It", "costs", "$", "3.50", "!"]
    assert language_tokens("東京タワーは高い。", "ja") == ["東京タワー", "は", "高い", "。"]  # dictionary words
    assert language_tokens("我们今天去北京。", "zh") == ["我们", "今天", "去", "北京", "。"]
    assert [is_word(token) for token in ("n't", "3.50", "...", "—", "東京")] == [True, True, False, False, True]


def test_gopher_counts_language_tokens_as_datatrove_does():
    """With words_language, words (their count and mean length) are the tokens holding a letter or digit, the
    per-word ratios are over every token: "Hello, world." is 2 words, 4 tokens, half of them alphabetic."""
    pytest.importorskip("icu")
    values = GopherQuality(min_words=0, words_language="en").apply("Hello, world.")
    assert isinstance(values, Reject)  # half the tokens are alphabetic: under 0.8 (and no stop words)
    words, mean_length, _, _, _, alpha, _ = values.values
    assert (words, mean_length, alpha) == (2, 5.0, 0.5)
    whitespace = GopherQuality(min_words=0).apply("Hello, world.")
    assert isinstance(whitespace, Reject) and whitespace.values[:2] == (2, 6.0)  # "Hello," and "world."


def test_japanese_words_by_dictionary_meet_fineweb_2s_japanese_word_lengths():
    """FineWeb-2's Japanese thresholds (mean word length 1-5, pipelines/multilingual.yaml) were fitted on dictionary
    words; characters make every mean exactly 1. The declaration's words by ICU average 1.5-3 characters."""
    pytest.importorskip("icu")
    text = udhr("jpn")
    by_words = GopherQuality(min_mean_word_length=1, max_mean_word_length=5, stop_words=["の", "に", "を", "は"],
                             words_language="ja").apply(text)
    assert not isinstance(by_words, Reject), by_words
    assert 1.5 <= by_words[1] <= 3.0
    assert GopherQuality(min_mean_word_length=1, stop_words=["の"]).apply(text)[1] == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize("language", ["english", "EN!", ""])
def test_a_language_that_is_no_code_is_refused(language):
    with pytest.raises(ValueError, match="words_language"):
        GopherQuality(words_language=language)


def test_fineweb_and_repetition_rules_count_language_tokens():
    pytest.importorskip("icu")
    from curate.stages.fineweb import FineWebQuality
    from curate.stages.gopher import GopherRepetition

    def values(verdict):  # kept or rejected, every stage writes what it measured
        return verdict.values if isinstance(verdict, Reject) else verdict

    listing = "Apples, pears.\nPlums, figs.\nDates, limes."  # 2 newlines; 6 whitespace words, 12 tokens
    assert values(FineWebQuality().apply(listing))[3] == pytest.approx(2 / 6)
    assert values(FineWebQuality(words_language="en").apply(listing))[3] == pytest.approx(2 / 12)
    # ", pears" repeats among tokens; no pair of whitespace words repeats ("Red, pears." then "Green, pears.")
    text = "Red, pears. Green, pears. Blue, pears."
    assert values(GopherRepetition().apply(text))[4][2] == 0.0
    assert values(GopherRepetition(words_language="en").apply(text))[4][2] > 0.0
