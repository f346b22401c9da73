"""Gopher, C4 and FineWeb rules: each threshold checked just inside and just outside, and real documents."""

from __future__ import annotations

import re

import pyarrow as pa
import pytest

from curate.stages.c4 import C4Filter
from curate.stages.fineweb import FineWebQuality
from curate.stages.gopher import (GopherQuality, GopherRepetition, duplicate_count_and_chars,
                                  duplicate_ngram_chars, top_ngram_chars)
from curate.stats import StageStats
from tests.warc_factory import real_pages

PROSE = ("The committee met on Tuesday to review the plan, and it agreed that the work should go ahead with care. "
         "Members said that the budget would have to be checked again before the end of the year. ")


def reason(stage, text):
    outcome = stage.apply(text)
    return getattr(outcome, "reason", None)


def words(n: int, word: str = "the") -> str:
    return " ".join([word] * n)


def varied(n: int) -> str:
    return " ".join(f"the w{i}x" if i % 2 else f"and v{i}y" for i in range(n // 2))


@pytest.mark.parametrize(("text", "expected"), [
    (varied(52), None), (varied(48), "gopher_short_doc"),
    (varied(52) + " " + "ab " * 200, "gopher_word_length"),
    (varied(100) + " #tag" * 21, "gopher_symbol_ratio"), (varied(100) + " #tag" * 9, None),
    ("\n".join(f"•{varied(8)}" for _ in range(12)), "gopher_bullet_lines"),
    ("\n".join(f"{varied(8)} ..." if i < 4 else varied(8) for i in range(10)), "gopher_ellipsis_lines"),
    ("\n".join(f"{varied(8)} ..." if i < 3 else varied(8) for i in range(10)), None),
    (varied(60) + " 123 456" * 10, "gopher_alpha_words"),
    (" ".join(f"w{i}ord" for i in range(60)), "gopher_stop_words"),
    (" ".join(f"w{i}ord" for i in range(60)) + " the and", None),
])
def test_gopher_quality(text, expected):
    assert reason(GopherQuality(), text) == expected


def test_gopher_repetition_helpers():
    assert duplicate_count_and_chars(["a", "bb", "a"]) == (1, 1)
    assert top_ngram_chars(["a", "b", "a", "b"], 2) == 6
    assert duplicate_ngram_chars("a b c a b c".split(), 3) == 3


@pytest.mark.parametrize(("text", "expected"), [
    ("\n\n".join(" ".join(f"k{i}x{j}" for j in range(6)) for i in range(10)), None),
    ("\n\n".join(["the same paragraph again"] * 5 + [f"other {i}" for i in range(6)]), "gopher_dup_paragraphs"),
    ("\n".join(["this exact same long sentence is repeated here"] * 3 + [f"k{i}" for i in range(7)]),
     "gopher_dup_line_chars"),
    (" ".join(f"w{i}" for i in range(200)) + " alpha beta" * 30, "gopher_top_2gram"),
    (" ".join(f"w{i}" for i in range(40)) + " " + " ".join(" ".join(f"r{i}" for i in range(10)) for _ in range(3)),
     "gopher_dup_5grams"),
])
def test_gopher_repetition(text, expected):
    assert reason(GopherRepetition(), text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    (PROSE * 3, None),
    (PROSE * 3 + "\nLorem ipsum dolor sit amet.", "c4_lorem_ipsum"),
    (PROSE * 3 + "\nfunction f() { return 1; }", "c4_curly_bracket"),
    ("menu\nhome\nabout us", "c4_no_lines_left"),
    ("One sentence here. Two sentences here.", "c4_too_few_sentences"),
    (PROSE * 3 + "\nIt was a good year for the harvest, the farmers said...", None),
])
def test_c4_page_rules(text, expected):
    assert reason(C4Filter(), text) == expected


def test_c4_line_rules_rewrite_the_text():
    unpunctuated = "no punctuation at the end of this line"
    text = (PROSE * 3 + "\nShort line.\nPlease enable JavaScript to view this page.\n"
            "This site uses cookies to improve your experience.\nSee [1] and [citation needed] here.\n" + unpunctuated)
    cleaned, dropped, sentences = C4Filter(terminal_punctuation=True).apply(text)
    # the prose line, whole; the citation marks removed; each of the other lines dropped, counted by its rule
    assert cleaned == (PROSE * 3).strip() + "\nSee  and  here."
    assert dropped == {"short": 1, "javascript": 1, "policy": 1, "unpunctuated": 1} and sentences == 7
    # FineWeb's defaults keep lines without terminal punctuation (a table row, a heading of three words or more)
    assert C4Filter().apply(text)[0] == cleaned + "\n" + unpunctuated
    # rewrite off: the same counts and decision, the text as it came
    assert C4Filter(terminal_punctuation=True, rewrite=False).apply(text) == (text, dropped, sentences)
    assert reason(C4Filter(rewrite=False), "menu\nhome\nabout us") == "c4_no_lines_left"


def test_c4_curly_bracket_rule_is_an_option():
    """Prose quoting one line of code is rejected by C4's rule (FineWeb's default) and kept without it; a brace in
    a line too short to keep (under 3 words) does not count, as in datatrove."""
    quoting = PROSE * 3 + '\nThe config reads {"retries": 3, "timeout": 10} in the example above.'
    assert reason(C4Filter(), quoting) == "c4_curly_bracket"
    assert reason(C4Filter(curly_bracket=False), quoting) is None
    assert reason(C4Filter(), PROSE * 3 + "\n{}") is None
    assert reason(C4Filter(), PROSE * 3 + "\nhttps://x.example/" + "a" * 1001 + " {") is None  # a 1,001-char word


def lines_text(punctuated: int, short: int, total: int = 20) -> str:
    out = []
    for i in range(total):
        body = f"line {i}" if i < short else f"this is a fairly long line number {i} of the text"
        out.append(body + ("." if i >= total - punctuated else ""))
    return "\n".join(out)


@pytest.mark.parametrize(("text", "expected"), [
    (lines_text(punctuated=20, short=0), None),
    (lines_text(punctuated=2, short=0), "fineweb_line_punct_ratio"),  # 0.10 <= 0.12
    (lines_text(punctuated=3, short=0), None),  # 0.15
    (lines_text(punctuated=20, short=14), "fineweb_short_line_ratio"),  # 0.70 >= 0.67
    (lines_text(punctuated=20, short=13), None),  # 0.65
    (lines_text(punctuated=20, short=0) + "\nthis is a fairly long line number 3 of the text." * 3,
     "fineweb_char_dup_ratio"),
    ("\n".join(f"Item {i} is good." for i in range(5)), "fineweb_short_line_ratio"),
    ("".join(f"Supercalifragilistic-expialidocious-{i}.\n" for i in range(20)), "fineweb_list_ratio"),
])
def test_fineweb_quality(text, expected):
    assert reason(FineWebQuality(), text) == expected


def test_real_articles_pass_the_rules():
    from curate.stages.extract import Extract

    pages = real_pages(45, "aeb-main-00001.warc.gz")  # English news articles
    english = [t for t in (Extract().apply(body.decode("utf-8", "replace"), url) for url, body in pages)
               if isinstance(t, tuple) and " the " in t[0] and t[0].count(" the ") > 20]
    assert len(english) >= 5
    for stage in (GopherQuality(), GopherRepetition(), FineWebQuality()):
        kept = sum(reason(stage, text) is None for text, _ in english)
        assert kept >= 0.6 * len(english), stage.name


@pytest.mark.parametrize("stage", [GopherQuality(), GopherRepetition(), C4Filter(), FineWebQuality()],
                         ids=lambda stage: stage.name)
def test_every_rule_writes_its_values_and_every_rejection_names_value_and_threshold(stage):
    """A threshold can be tuned from the output and `_rejected/` alone: each measured value is a column on kept and
    rejected rows alike, and each rejection's detail holds the value and the limit it crossed (16 of 65 rejections
    in cc_en's `english` node had an empty detail, and none of these stages wrote a value)."""
    texts = [PROSE * 4, "", words(10), "• " + "\n• ".join(words(10) for _ in range(40)),
             "\n".join(["The same line repeats itself here again."] * 30), (words(5) + ".\n") * 40,
             ("tiny\n" * 30) + PROSE, "lorem ipsum dolor sit amet " * 20, "{" + PROSE * 3 + "}"]
    batch = pa.table({"id": [str(i) for i in range(len(texts))], "text": texts})
    result = stage.process(batch, StageStats(stage.name))
    assert result.kept.num_rows + result.rejected.num_rows == len(texts) and result.rejected.num_rows >= 3
    for field in stage.writes:
        if field.name != "text":
            assert result.kept.column(field.name).null_count == 0
            assert result.rejected.column(field.name).null_count == 0, field.name
    for detail in result.rejected.column("reject_detail").to_pylist():
        # a number and its limit; C4's page rules (lorem ipsum, a curly bracket) have no number: they quote the line
        assert detail and (re.search(r"\d", detail) or " in a line: " in detail), detail
