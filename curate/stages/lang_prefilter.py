"""A cheap first pass before extraction: pages clearly in a language the pipeline drops skip trafilatura.

Extraction is most of a pipeline's CPU (trafilatura: about 70%), and in a pipeline that keeps only some languages
most pages are thrown away after it, by `langid`. This step reads the page's text the fast way (resiliparse's plain
text, several times faster than trafilatura) and scores it with the same lid.176 model; a page whose probability of
being in one of the `keep` languages is below `max_keep_probability` is rejected as `prefilter_language`, before
extraction. Everything else, pages near the line included, takes the full path and is decided by `langid` as before.
Pages whose fast text is shorter than `min_chars` are never rejected here: too little text to be sure.

Measured on the shared corpus (bench/prefilter.py, docs/filters.md): how much of a full run's kept set survives,
every difference listed, and the node's speed-up.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import ClassVar

from curate import storage
from curate.stages.base import DocumentStage, Reject
from curate.stages.extract import resiliparse_text
from curate.stages.langid import DEFAULT_MODEL, LABEL_PREFIX, load_model


@dataclass
class LangPrefilter(DocumentStage):
    """Reject pages whose fast-extracted text is almost surely not in `keep` (place it before `extract`)."""

    name: ClassVar[str] = "lang_prefilter"
    reads: ClassVar[tuple[str, ...]] = ("html",)
    file_options: ClassVar[tuple[str, ...]] = ("model",)

    keep: list[str] = field(default_factory=list)
    max_keep_probability: float = 0.01
    min_chars: int = 200
    model: str = DEFAULT_MODEL

    def __post_init__(self) -> None:
        if not self.keep:
            raise ValueError("keep: name the languages the pipeline keeps, e.g. [en]")
        if not 0.0 <= self.max_keep_probability < 1.0:
            raise ValueError("max_keep_probability must be in [0, 1)")
        self.model_path = storage.absolute(self.model)
        self.labels = {LABEL_PREFIX + language for language in self.keep}

    def apply(self, html: str | None) -> tuple[()] | Reject:
        text = " ".join(resiliparse_text(html).split()) if html else ""
        if len(text) < self.min_chars:
            return ()
        labels, scores = load_model(self.model_path).predict(unicodedata.normalize("NFC", text), k=-1)
        keep_probability = float(sum(s for label, s in zip(labels, scores) if label in self.labels))
        if keep_probability < self.max_keep_probability:
            return Reject("prefilter_language", f"{labels[0].removeprefix(LABEL_PREFIX)} ({scores[0]:.2f}); "
                          f"P({', '.join(self.keep)}) = {keep_probability:.4f}")
        return ()
