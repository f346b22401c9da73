"""The anchors' recipes' own rules (bench/anchor_dclm.py, bench/anchor_dolma.py): each takes the decision the anchor's
code takes on a page built to sit on one side of it."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import anchor_dclm  # noqa: E402
import anchor_dolma  # noqa: E402

PROSE = ("The committee met on Tuesday to discuss the budget, and the members agreed that the new plan should be "
         "put to a vote with the changes that had been proposed by the staff. ")


def test_page_rules_judge_words_split_at_whitespace():
    prose = PROSE * 3
    assert anchor_dclm.page_rule_failed(prose) is None
    assert anchor_dclm.page_rule_failed("A few words only.") == "page_words"
    # punctuation surrounded by spaces is a non-alphabetic word: 15% of words here, under DCLM's 20%
    spaced = " ".join(word + (" ," if i % 6 == 0 else "") for i, word in enumerate(prose.split()))
    assert anchor_dclm.page_rule_failed(spaced) is None
    numbers = " ".join(word + (" 1 2" if i % 4 == 0 else "") for i, word in enumerate(prose.split()))
    assert anchor_dclm.page_rule_failed(numbers) == "non_alphabetic_words"
    no_stop_words = ("Committee members met Tuesday, discussed budgets, agreed new plans should go before votes "
                     "after staff proposed changes. ") * 4
    assert anchor_dclm.page_rule_failed(no_stop_words) == "stop_words"
    assert anchor_dclm.page_rule_failed(no_stop_words + "The end Of it") is None  # two, in any case
    assert anchor_dclm.page_rule_failed(prose + " #tag" * 12) == "symbols"


def test_repetition_rules_follow_gophers_order_and_thresholds():
    lines = ["Rain fell on the northern hills", "Farmers moved their sheep to lower fields", "The river rose by noon",
             "Schools closed early across the valley", "A bridge near the mill was shut", "Volunteers filled sandbags",
             "Power failed in two villages", "Buses ran late all evening", "Forecasters expect drier weather",
             "Roads should reopen on Friday"]
    assert anchor_dclm.repetition_failed("\n".join(lines)) is None
    assert anchor_dclm.repetition_failed("\n".join(lines[:6] + ["Click here"] * 4)) == "duplicate_line"
    assert anchor_dclm.repetition_failed("\n".join(lines[:8] + ["Click here"] * 2)) is None  # 2 of 10 < 0.3
    assert anchor_dclm.repetition_failed("\n".join(lines[:3] * 2 + lines[3:7])) == "duplicate_line"  # 6 of 10
    repeated_phrase = PROSE + "buy cheap shoes online today " * 12
    assert anchor_dclm.repetition_failed(repeated_phrase) == "top_2_grams"


def test_bff_removes_seen_lines_and_seen_documents_in_reading_order():
    line = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
    other = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron"
    first, second, third = anchor_dclm.bff_dedup([f"{line}\nshort line", f"fresh start\n{line}\n{other}", other])
    assert first == f"{line}\nshort line"
    assert second == f"fresh start\n{other}"  # the seen line removed, with the newline before it
    assert third == ""  # every 13-gram seen before: the document goes
    assert list(anchor_dclm.bff_dedup(["tiny\ntiny", "tiny"])) == ["tiny\ntiny", "tiny"]  # under 13 words: not judged


def test_dolma_drops_a_document_on_any_gopher_limit_and_keeps_one_within_all():
    within = {"word_count": 300, "median_word_length": 4, "symbol_to_word_ratio": 0.0,
              "fraction_of_words_with_alpha_character": 0.95, "required_word_count": 5,
              "fraction_of_characters_in_most_common_2grams": 0.05, "fraction_of_duplicate_lines": 0.0}
    assert anchor_dolma.gopher_failed(within) is None
    assert anchor_dolma.gopher_failed({**within, "word_count": 49}) == "word_count"
    assert anchor_dolma.gopher_failed({**within, "fraction_of_words_with_alpha_character": 0.79}) == (
        "fraction_of_words_with_alpha_character")
    # Dolma's configs allow 0.3 of characters in duplicate lines where Gopher's paper says 0.2
    assert anchor_dolma.gopher_failed({**within, "fraction_of_characters_in_duplicate_lines": 0.25}) is None
    assert anchor_dolma.gopher_failed({**within, "fraction_of_characters_in_duplicate_lines": 0.31}) == (
        "fraction_of_characters_in_duplicate_lines")
    assert anchor_dolma.gopher_failed({**within, "fraction_of_characters_in_most_common_2grams": 0.21}) == (
        "fraction_of_characters_in_most_common_2grams")


def test_dolma_removes_marked_spans_and_paragraphs_seen_before():
    assert anchor_dolma.remove_spans("keep. drop\nkeep too.", [(6, 11)]) == "keep. keep too."
    seen: set[str] = set()
    assert anchor_dolma.new_paragraphs("Menu\nA story.\n\nShare", seen) == "Menu\nA story.\n\nShare"
    assert anchor_dolma.new_paragraphs("Menu\nAnother story.\nShare", seen) == "Another story."
    assert anchor_dolma.new_paragraphs("Menu\n\nShare", seen) == ""
