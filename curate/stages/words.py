"""Words as the heuristic filters count them: whitespace-separated, except in Chinese and Japanese text, which has no
spaces, where each Han or kana character counts as a word.

`"日本語のテキストです。".split()` is one "word", so a 2,000-character Chinese article failed Gopher's 50-word minimum
and every ratio over words was meaningless. A character is a fair unit: a Chinese word averages about 1.5 characters
(so counts run about 1.5x a segmenter's), and no dictionary or model is needed; FineWeb-2 uses per-language word
tokenizers instead (Penedo et al. 2025, arXiv:2506.20920), which pipelines can reach through their own stage
(curate/stages/plugins.py). Korean separates words with spaces and is split as usual. CJK punctuation
(U+3000-U+303F, fullwidth punctuation) separates words and is not one.

Thai, Lao, Khmer and Myanmar are written without spaces between words and with words of several characters, so
neither rule fits: a 541-character Thai page was 24 "words". Runs of those scripts are cut by ICU's word break
iterator, whose dictionaries know their words (the break engine of Unicode's text segmentation, UAX #29, with
dictionaries for these scripts), as browsers and FineWeb-2's Thai tokenizer (PyThaiNLP's) do in their own ways.
ICU comes from the pyicu-wheels package; where it is not installed, such runs count as whitespace words, as before.

Text without a character at or above U+0E00 is split exactly as `str.split()` splits it (and as fast).

Per-language tokens (`words_language:` of the Gopher and FineWeb stages): datatrove's rules, as FineWeb and FineWeb-2
run them, count the tokens of a per-language word tokenizer (spaCy's rules for most languages, with jieba, SudachiPy,
PyThaiNLP and others where a language needs a segmenter: datatrove's load_word_tokenizer), where every punctuation
mark is a token of its own ("Hello, world." is four tokens) and Chinese and Japanese are cut into dictionary words.
FineWeb-2's per-language thresholds were fitted on those counts. `language_tokens` gives such tokens for any
language with one engine, ICU's word break iterator under the language's locale (UAX #29's word boundaries, with
ICU's dictionaries for Chinese, Japanese, Thai, Lao, Khmer and Myanmar): it keeps a contraction whole where spaCy
splits it ("Don't" against "Do", "n't") and cuts a URL at its slashes where spaCy keeps it whole.
"""

from __future__ import annotations

import functools
import re
import threading
from typing import Any

# Han (CJK Unified Ideographs, extension A, compatibility, extensions B-F), Hiragana, Katakana.
CJK_CHARACTER = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef\u3040-\u309f\u30a0-\u30ff"
CJK_PUNCTUATION = "\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"
WORD = re.compile(f"[{CJK_CHARACTER}]|[^\\s{CJK_CHARACTER}{CJK_PUNCTUATION}]+")


# Thai and Lao (U+0E00-U+0EFF), Myanmar (U+1000-U+109F), Khmer (U+1780-U+17FF).
UNSPACED_SCRIPTS = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff"
UNSPACED_RUN = re.compile(f"[{UNSPACED_SCRIPTS}]")
_ICU_WORD_NONE = 0  # a break iterator's rule status for a segment that is no word (spaces, punctuation)
_local = threading.local()


@functools.cache
def _icu() -> Any:
    try:
        import icu  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        return None
    return icu


def segment(run: str) -> list[str] | None:
    """The words of a text in an unspaced script, by ICU's word break iterator; None without ICU.

    Example: segment("ภาษาไทยเป็นภาษา") -> ["ภาษา", "ไทย", "เป็น", "ภาษา"]"""
    icu = _icu()
    if icu is None:
        return None
    iterator = getattr(_local, "iterator", None)
    if iterator is None:  # an iterator holds its text: one per thread
        iterator = _local.iterator = icu.BreakIterator.createWordInstance(icu.Locale("th"))
    iterator.setText(run)
    words, start = [], iterator.first()
    for end in iterator:
        if iterator.getRuleStatus() != _ICU_WORD_NONE:
            words.append(run[start:end])
        start = end
    return words


def split_words(text: str) -> list[str]:
    """Example: split_words("Tokyo 東京タワー is tall。") -> ["Tokyo", "東", "京", "タ", "ワ", "ー", "is", "tall"];
    split_words("ภาษาไทย is Thai") -> ["ภาษา", "ไทย", "is", "Thai"]"""
    if not text or max(text) < "\u0e00":
        return text.split()
    tokens = text.split() if max(text) < "\u3000" else WORD.findall(text)
    if not UNSPACED_RUN.search(text):
        return tokens
    words: list[str] = []
    for token in tokens:
        found = segment(token) if UNSPACED_RUN.search(token) else None
        words.extend(found if found is not None else [token])
    return words


# an ISO 639 code with an optional script or region (ICU locales: "en", "ja", "zh_Hant", "pt-BR")
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(?:[_-][A-Za-z0-9]{2,8})*")


def check_words_language(language: str | None) -> None:
    """A stage's `words_language` option: None (whitespace words) or a language code ICU can tokenize."""
    if language is None:
        return
    if not LANGUAGE_CODE.fullmatch(language):
        raise ValueError(f"words_language {language!r} is not a language code (such as en, ja, zh, th)")
    if _icu() is None:
        raise ValueError("words_language needs ICU (the pyicu-wheels package, installed with curate on "
                          "Linux); without it, leave words_language out to count whitespace words")


def language_tokens(text: str, language: str) -> list[str]:
    """A text's tokens as a per-language word tokenizer gives them: words and punctuation marks, each its own token,
    no whitespace (see the module docstring).

    Example: language_tokens("Hello, world.", "en") -> ["Hello", ",", "world", "."];
    language_tokens("東京タワーは高い。", "ja") -> ["東京タワー", "は", "高い", "。"]"""
    iterators = getattr(_local, "iterators", None)
    if iterators is None:
        iterators = _local.iterators = {}
    iterator = iterators.get(language)
    if iterator is None:  # one per language and thread: an iterator holds its text
        icu = _icu()
        iterator = iterators[language] = icu.BreakIterator.createWordInstance(icu.Locale(language))
    iterator.setText(text)
    tokens, start = [], iterator.first()
    for end in iterator:
        if not text[start:end].isspace():
            tokens.append(text[start:end])
        start = end
    return tokens


def is_word(token: str) -> bool:
    """Whether a token holds a letter or digit: datatrove's rules count words and word lengths over such tokens and
    leave out those that are only punctuation or symbols. Example: is_word("n't") -> True; is_word("...") -> False"""
    return any(character.isalnum() for character in token)


def tokens_of(text: str, language: str | None) -> list[str]:
    """split_words' words without a language, language_tokens' tokens with one."""
    return split_words(text) if language is None else language_tokens(text, language)
