"""The registry of pipeline steps and readers, by the name a pipeline file uses for them."""

from __future__ import annotations

from curate.stages.badwords import C4BadWords
from curate.stages.base import Reader, Stage
from curate.stages.c4 import C4Filter
from curate.stages.extract import Extract
from curate.stages.fineweb import FineWebQuality
from curate.stages.gopher import GopherQuality, GopherRepetition
from curate.stages.jsonl import JsonlReader
from curate.stages.lang_prefilter import LangPrefilter
from curate.stages.langid import LangId
from curate.stages.length import MinLength
from curate.stages.mojibake import Ftfy
from curate.stages.normalize import Normalize
from curate.stages.perplexity import KenLMPerplexity
from curate.stages.pii import Pii
from curate.stages.plugins import is_import_path, load_stage_class
from curate.stages.quality import FastTextQuality
from curate.stages.refinedweb import RefinedWebLines
from curate.stages.token_count import TokenCount
from curate.stages.url_filter import UrlFilter
from curate.stages.warc import WarcReader
from curate.stages.where import Where

STEPS: dict[str, type[Stage]] = {cls.name: cls for cls in (
    UrlFilter, LangPrefilter, Extract, Ftfy, Normalize, MinLength, LangId, GopherQuality, GopherRepetition, C4Filter,
    C4BadWords, FineWebQuality, RefinedWebLines, FastTextQuality, KenLMPerplexity, TokenCount, Pii, Where)}
READERS: dict[str, type[Reader]] = {cls.name: cls for cls in (WarcReader, JsonlReader)}


def step_class(name: str) -> type[Stage]:
    """The class of step `name`: a built-in step's name, or a user's "module:Class" (curate/stages/plugins.py)."""
    return load_stage_class(name) if is_import_path(name) else STEPS[name]
