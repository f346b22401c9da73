"""c4_badwords: C4's list rule as datatrove runs it, on the shipped LDNOOBW lists."""

from __future__ import annotations

import pytest

from curate.stages.badwords import C4BadWords
from curate.stages.base import Reject


def found(stage: C4BadWords, text: str) -> str | None:
    outcome = stage.apply(text)
    return outcome.reason if isinstance(outcome, Reject) else None


@pytest.mark.parametrize(("text", "expected"), [
    ("Nobody expected that. This is bullshit.", "c4_badwords"),
    ("SEX EDUCATION in schools", "c4_badwords"),  # lower-cased first
    ("A meme called 2 girls 1 cup.", "c4_badwords"),  # a listed phrase
    ("An assassin passed the class.", None),  # "ass" is listed, but not inside a longer word
    ("", None),
])
def test_english_words_match_between_non_word_characters(text, expected):
    assert found(C4BadWords(), text) == expected


def test_the_word_found_is_written_on_kept_and_rejected_rows():
    assert C4BadWords().apply("Quiet prose about rain.") == (None,)
    assert C4BadWords().apply("what the fuck").values == ("fuck",)


def test_unspaced_scripts_match_anywhere_less_the_allow_list():
    japanese = C4BadWords(language="ja")
    assert found(japanese, "今日はアナルの話です") == "c4_badwords"  # no word boundary in Japanese text
    assert found(japanese, "女の子が来た") is None and found(japanese, "SMの話") is None  # datatrove's allow-list


def test_keep_fraction_keeps_the_same_pages_on_every_run():
    texts = [f"Page {i}: this is bullshit." for i in range(400)]
    stage = C4BadWords(keep_fraction=0.25)
    kept = [t for t in texts if not isinstance(stage.apply(t), Reject)]
    assert 70 < len(kept) < 130
    assert kept == [t for t in texts if not isinstance(C4BadWords(keep_fraction=0.25).apply(t), Reject)]
    assert kept != [t for t in texts if not isinstance(C4BadWords(keep_fraction=0.25, seed=1).apply(t), Reject)]


def test_a_list_of_your_own_and_an_unknown_language(tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("Rhubarb\n\nmarmalade sandwich\n")
    own = C4BadWords(words=str(words))
    assert found(own, "rhubarb pie") == "c4_badwords" and found(own, "a marmalade sandwich!") == "c4_badwords"
    assert found(own, "bullshit") is None
    with pytest.raises(ValueError, match="no bad-words list for language 'xx'; lists ship for ar, "):
        C4BadWords(language="xx")
