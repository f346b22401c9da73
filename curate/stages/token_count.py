"""A token-count filter: a document's length in the tokens a model will be trained on, not in characters or words.

Characters and words measure scripts unequally (a Chinese page of 300 characters is 300 "words" to a whitespace
count and some 200 tokens; an English page of 300 characters is 50 words and some 70 tokens), and what a training
run spends and what a context window holds are tokens. NeMo Curator's `TokenCountFilter` keeps documents within a
token range for the same reason. The count uses the corpus's own tokenizer: a `train_bpe` node named by
`tokenizer:` (or its `tokenizer.curate.json` file), encoded by the fast encoder, so the column `tokens` is exactly
what the pipeline's `tokenize` node would write for the document (without the end-of-text token).

Example step: `- token_count: {tokenizer: bpe, min_tokens: 50, max_tokens: 100000}`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa

from curate import storage
from curate.model_cache import load_model_file
from curate.stages.base import DocumentStage, Reject, StageResult
from curate.stats import StageStats


def load_tokenizer(path: str) -> Any:
    """A tokenizer file in curate's format, loaded once per worker process and version of the file."""
    from curate.shards import load_tokenizer_file

    return load_model_file(path, load_tokenizer_file, "tokenizer")


@dataclass
class TokenCount(DocumentStage):
    """Add `tokens` (the document's token count); reject documents with fewer than `min_tokens` or, when set, more
    than `max_tokens`."""

    name: ClassVar[str] = "token_count"
    reads: ClassVar[tuple[str, ...]] = ("text",)
    writes: ClassVar[tuple[pa.Field, ...]] = (pa.field("tokens", pa.int32()),)
    model_inputs: ClassVar[dict[str, str]] = {"tokenizer": "train_bpe"}

    tokenizer: str
    min_tokens: int = 0
    max_tokens: int | None = None

    def __post_init__(self) -> None:
        if self.min_tokens < 0 or (self.max_tokens is not None and self.max_tokens < max(self.min_tokens, 1)):
            raise ValueError("min_tokens must be >= 0 and max_tokens, when set, >= min_tokens and >= 1")
        self.tokenizer_path = storage.absolute(self.tokenizer)  # resolved once, not per batch
        self._counts: Iterator[int] = iter(())

    def process(self, batch: pa.Table, stats: StageStats) -> StageResult:
        """Encode the batch at once (tiktoken's batch encoder releases the GIL and skips Python per token), then let
        DocumentStage decide each document: `apply` is called once a row, in row order, and takes the next count."""
        from tokenizer.fast import encode_batch

        texts = [text or "" for text in batch.column("text").to_pylist()]
        self._counts = iter([len(ids) for ids in encode_batch(load_tokenizer(self.tokenizer_path), texts)])
        return super().process(batch, stats)

    def apply(self, text: str | None) -> tuple[int] | Reject:
        count = next(self._counts)
        if count < self.min_tokens:
            return Reject("too_few_tokens", f"{count} < {self.min_tokens}", (count,))
        if self.max_tokens is not None and count > self.max_tokens:
            return Reject("too_many_tokens", f"{count} > {self.max_tokens}", (count,))
        return (count,)
