"""RefinedWeb's line corrections (curate/stages/refinedweb.py): each rule removes its lines and counts them, and the
page goes when they removed more than 5% of its words, checked just inside and just outside."""

from __future__ import annotations

import pyarrow as pa

from curate.stages.refinedweb import RefinedWebLines, correct_lines, words
from curate.stats import StageStats

PROSE = ("The committee met on Tuesday to discuss the budget, and the members agreed that the new plan should be "
         "put to a vote with the changes that had been proposed by the staff.")


def test_each_rule_removes_its_lines_and_counts_them():
    text = "A real line of prose that stays\nHOME ABOUT CONTACT\n12 likes\nShare\n2024\nAnother line that stays here"
    corrected, dropped, removed = correct_lines(text)
    assert corrected == "A real line of prose that stays\nAnother line that stays here"
    assert dropped == {"uppercase": 1, "numeric": 1, "counter": 1, "one_word": 1}
    assert removed == 7 / 19  # HOME ABOUT CONTACT, 12 likes, Share, 2024: 7 of 19 words
    assert correct_lines("Short line here\nRead more...")[0] == "Short line here"
    assert correct_lines("Sign-in to your account now")[0] == "to your account now"  # a fragment cut, the line kept
    assert correct_lines("Sign-in\nA line that stays") == ("A line that stays", {"one_word": 1}, 1 / 5)
    assert correct_lines("Items in cart\nA line that stays")[1] == {"fragment": 1}
    # a fragment is cut from short lines only (at most 10 words)
    long_line = "Read the report and tell us what you think of the plan here. Read more..."
    assert correct_lines(long_line)[0] == long_line


def test_a_page_goes_when_more_than_five_percent_of_its_words_were_removed():
    prose = "\n".join([PROSE] * 3)
    n = len(words(prose))  # 99: a 5-word menu is 4.8% of the page's words, a 6-word one 5.7%
    inside, outside = prose + "\nHOME NEWS SPORT WEATHER CONTACT", prose + "\nHOME NEWS SPORT WEATHER CONTACT SHOP"
    assert RefinedWebLines().apply(inside) == (prose, {"uppercase": 1}, 5 / (n + 5))
    rejected = RefinedWebLines().apply(outside)
    assert rejected.reason == "refinedweb_words_removed" and "> 0.05" in rejected.detail
    assert rejected.values[0] == outside  # a rejected row keeps its text as it came
    assert RefinedWebLines(max_removed_word_ratio=0.2).apply(outside)[0] == prose
    assert RefinedWebLines().apply("").reason == "refinedweb_no_lines_left"
    assert RefinedWebLines().apply("HOME\nNEWS").detail == "every line removed: 2 uppercase"


def test_every_document_leaves_kept_or_rejected_with_its_values():
    texts = [PROSE, "", "SHOP NOW\n" * 5 + PROSE, PROSE + " " + PROSE + "\n1,024 views",
             "\n".join(["Share", "Tweet", PROSE])]
    stage = RefinedWebLines()
    stats = StageStats(stage.name)
    result = stage.process(pa.table({"id": [str(i) for i in range(len(texts))], "text": texts}), stats)
    assert result.kept.column("id").to_pylist() == ["0", "3"]
    assert result.kept.column("text").to_pylist() == [PROSE, PROSE + " " + PROSE]
    assert result.rejected.column("reject_reason").to_pylist() == ["refinedweb_no_lines_left",
                                                                    "refinedweb_words_removed",
                                                                    "refinedweb_words_removed"]
    assert result.rejected.column("text").to_pylist() == [texts[1], texts[2], texts[4]]
    assert result.rejected.column("refinedweb_removed_word_ratio").null_count == 0
    assert result.kept.column("refinedweb_dropped_lines").to_pylist()[1] == [("counter", 1)]
