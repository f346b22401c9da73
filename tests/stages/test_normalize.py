"""Unicode normalisation, accent stripping and whitespace/control cleanup."""

from __future__ import annotations

import unicodedata

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from curate.stages.base import Reject
from curate.stages.normalize import Normalize, clean_whitespace, strip_accents
from curate.stats import StageStats


def test_nfd_decomposes_and_nfc_recomposes():
    assert Normalize(form="NFD").apply("café")[0] == "cafe\u0301"
    assert Normalize(form="NFC").apply("cafe\u0301")[0] == "café"


def test_accent_stripping_is_optional():
    assert Normalize(accents="strip").apply("Ærøskøbing café naïve")[0] == "Ærøskøbing cafe naive"
    assert strip_accents("Ça") == "Ca"


def test_whitespace_and_control_characters():
    text = " Hello\u00a0\u00a0world\x07 \t!\r\n\r\n\r\n\r\nNext\u200b line\ufeff  "
    assert Normalize(form="NFC").apply(text)[0] == "Hello world !\n\nNext line"
    assert clean_whitespace("a\n\n\n\nb") == "a\n\nb"


def test_a_document_of_only_whitespace_is_rejected():
    assert Normalize().apply(" \x00\u200b \n\t") == Reject("empty_after_normalize")


@given(st.text())
def test_output_is_in_the_requested_form_and_idempotent(text):
    stage = Normalize(form="NFC")
    out = stage.apply(text)
    if isinstance(out, tuple):
        assert unicodedata.is_normalized("NFC", out[0])
        assert stage.apply(out[0]) == out


def test_process_accounts_for_every_document():
    stats = StageStats("normalize")
    batch = pa.table({"id": ["a", "b"], "text": ["  x  ", "\u200b"], "lang": ["en", "fr"]})
    result = Normalize().process(batch, stats)
    assert result.kept.to_pylist() == [{"id": "a", "lang": "en", "text": "x"}]
    assert result.rejected.column("reject_reason").to_pylist() == ["empty_after_normalize"]
    assert stats.is_balanced() and stats.kept == 1 and stats.rejected == {"empty_after_normalize": 1}
