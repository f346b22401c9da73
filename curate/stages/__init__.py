"""The registry of pipeline steps and readers, by the name a pipeline file uses for them."""

from __future__ import annotations

from curate.stages.base import Reader, Stage
from curate.stages.c4 import C4Filter
from curate.stages.extract import Extract
from curate.stages.fineweb import FineWebQuality
from curate.stages.gopher import GopherQuality, GopherRepetition
from curate.stages.jsonl import JsonlReader
from curate.stages.langid import LangId
from curate.stages.length import MinLength
from curate.stages.normalize import Normalize
from curate.stages.perplexity import KenLMPerplexity
from curate.stages.quality import FastTextQuality
from curate.stages.warc import WarcReader

STEPS: dict[str, type[Stage]] = {cls.name: cls for cls in (
    Extract, Normalize, MinLength, LangId, GopherQuality, GopherRepetition, C4Filter, FineWebQuality,
    FastTextQuality, KenLMPerplexity)}
READERS: dict[str, type[Reader]] = {cls.name: cls for cls in (WarcReader, JsonlReader)}
