"""The registry of operation nodes (global steps), by the key a pipeline file uses for them."""

from __future__ import annotations

from curate.ops.base import Operation
from curate.ops.decontaminate import Decontaminate
from curate.ops.dsir import Dsir
from curate.ops.exact_dedup import ExactDedup
from curate.ops.minhash_dedup import MinHashDedup
from curate.ops.repeated_lines import RepeatedLines
from curate.ops.substring_dedup import SubstringDedup
from curate.ops.tokenize import Tokenize
from curate.ops.train_bpe import TrainBpe
from curate.ops.train_fasttext import TrainFastText
from curate.ops.train_kenlm import TrainKenLM

OPERATIONS: dict[str, type[Operation]] = {cls.name: cls for cls in (TrainBpe, Tokenize, TrainFastText, Dsir,
                                                                  ExactDedup, MinHashDedup, TrainKenLM,
                                                                  RepeatedLines, Decontaminate, SubstringDedup)}
