"""kenlm_perplexity: CCNet's normalisation, its document perplexity formula, and its buckets."""

from __future__ import annotations

import math

import pytest

from curate.stages.perplexity import bucket_of, doc_perplexity, lm_tokens, normalize_line



def test_normalisation_as_ccnet():
    assert normalize_line("  Élan, 1984! ") == "elan, 0000!"
    assert normalize_line("“Quoted” — dash… ＂") == '"quoted"  -  dash... ＂'.replace("＂", "＂")
    assert normalize_line("tab\there\x07bell") == "tabherebell"  # control characters go, tab included
    assert normalize_line("Ça coûte 3,50 €") == "ca coute 0,00 €"


def test_tokens_separate_punctuation():
    assert lm_tokens("Hello, World 42.") == "hello , world 00 ."
    assert lm_tokens("   ") == ""


def test_document_perplexity_is_ccnets_formula(corpus):
    kenlm = pytest.importorskip("kenlm")  # the normalisation and bucket tests above and below do not need it
    model = kenlm.Model(str(corpus / "models" / "kenlm_test.arpa"))
    text = "Little higher.\n\nI consider it, however."
    lines = [lm_tokens(line) for line in text.split("\n") if lm_tokens(line)]
    log_score = sum(model.score(line, bos=True, eos=True) for line in lines)
    length = sum(len(line.split()) + 1 for line in lines)
    assert math.isclose(doc_perplexity(model, text), 10 ** (-log_score / length))
    assert doc_perplexity(model, " \n ... ") is not None  # punctuation is a token
    assert doc_perplexity(model, " \n \n") is None


def test_buckets():
    assert [bucket_of(p, 100.0, 300.0) for p in (50, 100, 299, 300, 1e6)] == ["head", "middle", "middle", "tail",
                                                                             "tail"]
