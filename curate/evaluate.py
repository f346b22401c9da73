"""`curate evaluate`: every decision a pipeline takes, scored against documents a person labelled keep or drop.

The labelled documents (JSON Lines: `id`, `text`, `label` keep/drop, optional `reason`, `split`, `url`) go through
the pipeline's document nodes in order, each node receiving what its input node kept, exactly as a run would
process them: every step runs its own code (`Stage.process`) with the models the pipeline's run trained (so the
pipeline must have run: `curate run` first), and a DSIR node applies the weights and cut-off its run fitted. Steps
that read the page's HTML rather than its text are applied to the labelled text where they can be: `extract` takes
its decisions on the text it found (no text, a JSON/JavaScript payload); `lang_prefilter` cannot be, and is listed
as not scored. Deduplication and the other corpus-level operations (exact_dedup, minhash_dedup, repeated_lines,
decontaminate) decide by what else is in the corpus, not by the document: they pass the labelled documents through.

For each step: documents in, rejected, the precision of its rejections (the share labelled drop), its recall of the
drops that reached it, and the keeps it lost; for each final document node: documents kept and the share of them
labelled keep. Measured on the split you choose (`--split test` for figures, when thresholds were tuned on `tune`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from curate import storage
from curate.config import NodeSpec, PipelineSpec
from curate.errors import CurateError
from curate.ops import OPERATIONS
from curate.stages.base import Reject, Stage, StageResult, rejected_rows
from curate.stages.extract import Extract
from curate.stats import StageStats

NOT_SCORED_STEPS = ("lang_prefilter",)  # decides on the page's HTML, which a labelled document does not carry


@dataclass
class StepScore:
    """One step's decisions on the labelled documents that reached it."""

    node: str
    step: str
    docs_in: int = 0
    drops_in: int = 0
    rejected: int = 0
    rejected_drops: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    lost_keeps: list[str] = field(default_factory=list)  # ids of keep-labelled documents it rejected
    note: str = ""

    @property
    def precision(self) -> float | None:
        return self.rejected_drops / self.rejected if self.rejected else None

    @property
    def recall(self) -> float | None:
        return self.rejected_drops / self.drops_in if self.drops_in else None


@dataclass
class NodeOutcome:
    node: str
    kept: int
    kept_keeps: int
    keeps_in: int  # keep-labelled documents that entered the pipeline

    @property
    def keep_share(self) -> float | None:
        return self.kept_keeps / self.kept if self.kept else None


@dataclass
class Evaluation:
    pipeline: str
    split: str
    documents: int
    keeps: int
    steps: list[StepScore]
    finals: list[NodeOutcome]


def load_labels(path: str, split: str) -> pa.Table:
    """The labelled documents of `split` ("all": every one) as a table with `id`, `text`, `url`, `label`."""
    rows = []
    if not storage.exists(storage.absolute(path)):
        raise CurateError(f"{path}: no such labels file")
    with storage.open_text(storage.absolute(path)) as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                label = row["label"]
                text, doc_id = row["text"], str(row["id"])
            except (ValueError, KeyError, TypeError) as error:
                raise CurateError(f"{path}, line {number}: not a labelled document ({error}); expected JSON with "
                                  "id, text and label") from None
            if label not in ("keep", "drop"):
                raise CurateError(f"{path}, line {number}: label must be keep or drop, got {label!r}")
            if split == "all" or row.get("split", split) == split:
                rows.append({"id": doc_id, "text": text, "url": row.get("url"), "label": label})
    if not rows:
        raise CurateError(f"{path}: no labelled document in split {split!r}")
    return pa.Table.from_pylist(rows)


def text_decisions(stage: Stage) -> Stage:
    """The step as it applies to labelled text: extract's decisions on the text it found."""
    if isinstance(stage, Extract):
        return _ExtractedText(stage)
    return stage


@dataclass
class _ExtractedText(Stage):
    """Extract's decisions on text already extracted (no text, a code payload), named as the step."""

    extract: Extract
    name = "extract"

    def output_schema(self, input_schema: pa.Schema) -> pa.Schema:
        return input_schema

    def process(self, batch: pa.Table, stats: StageStats) -> StageResult:
        outcomes = [self.extract.check_text(text, self.extract.engine) for text in batch.column("text").to_pylist()]
        keep = [not isinstance(o, Reject) for o in outcomes]
        rejects = [o for o in outcomes if isinstance(o, Reject)]
        dropped = batch.filter(pa.array([not k for k in keep]))
        return StageResult(batch.filter(pa.array(keep)), rejected_rows(dropped, self.name, rejects))


def evaluate(spec: PipelineSpec, labels: pa.Table, split: str) -> Evaluation:
    """Score every step of `spec` on `labels` (see the module docstring)."""
    label_of = dict(zip(labels.column("id").to_pylist(), labels.column("label").to_pylist()))
    documents = labels.drop_columns(["label"])
    survivors: dict[str, pa.Table] = {}
    steps: list[StepScore] = []
    # An output: a node of documents that a tokenize node reads (reads_final_documents), or that no node of
    # documents reads.
    read = {u for node in spec.nodes if _produces_documents(node) for u in _document_inputs(node)}
    tokenized = {u for node in spec.nodes if node.operation is not None
                 and OPERATIONS[node.operation].reads_final_documents for u in _document_inputs(node)}
    finals = []
    for node in spec.nodes:
        if not _produces_documents(node):
            continue
        upstream = _document_inputs(node)
        batch = survivors[upstream[0]] if upstream else documents
        survivors[node.name] = _run_node(spec, node, batch, label_of, steps)
        if node.name in tokenized or node.name not in read:
            kept = survivors[node.name].column("id").to_pylist()
            finals.append(NodeOutcome(node.name, len(kept), sum(label_of[i] == "keep" for i in kept),
                                      sum(v == "keep" for v in label_of.values())))
    return Evaluation(spec.name, split, labels.num_rows, sum(v == "keep" for v in label_of.values()), steps, finals)


def _produces_documents(node: NodeSpec) -> bool:
    return node.operation is None or OPERATIONS[node.operation].produces_documents


def _document_inputs(node: NodeSpec) -> tuple[str, ...]:
    if node.operation is None:
        return (node.input.node,) if node.input is not None and node.input.node else ()
    return (node.options["input"],) if "input" in node.options else ()


def _run_node(spec: PipelineSpec, node: NodeSpec, batch: pa.Table, label_of: dict[str, str],
              steps: list[StepScore]) -> pa.Table:
    if node.operation is not None:
        operation = OPERATIONS[node.operation]
        decision = None if operation.decides_beyond_document else operation.labelled_decision(spec.workdir, node.name)
        if decision is not None:
            return _score(node.name, node.operation, decision, batch, label_of, steps)
        steps.append(StepScore(node.name, node.operation, batch.num_rows, _drops(batch, label_of),
                               note="not scored: " + ("decides by the rest of the corpus"
                                                      if operation.decides_beyond_document
                                                      else "an operation evaluate does not know")))
        return batch
    for step in node.steps:
        if step.name in NOT_SCORED_STEPS:
            steps.append(StepScore(node.name, step.name, batch.num_rows, _drops(batch, label_of),
                                   note="not scored: decides on the page's HTML"))
            continue
        stage = text_decisions(step.build())
        missing = [c for c in getattr(stage, "reads", ()) if c not in batch.column_names]
        if missing:
            raise CurateError(f"node {node.name!r}, step {step.name!r} reads {', '.join(missing)}, which the labelled "
                              "documents do not have")
        batch = _score(node.name, step.name, stage, batch, label_of, steps)
    return batch


def _drops(batch: pa.Table, label_of: dict[str, str]) -> int:
    return sum(label_of[i] == "drop" for i in batch.column("id").to_pylist())


def _score(node: str, name: str, stage: Any, batch: pa.Table, label_of: dict[str, str],
           steps: list[StepScore]) -> pa.Table:
    try:
        result = stage.process(batch, StageStats(name))
    except FileNotFoundError as error:
        raise CurateError(f"node {node!r}, step {name!r}: {error}; run the pipeline first (`curate run`), so that "
                          "its models and fits exist") from None
    score = StepScore(node, name, batch.num_rows, _drops(batch, label_of))
    for doc_id, reason in zip(result.rejected.column("id").to_pylist(),
                              result.rejected.column("reject_reason").to_pylist()):
        score.rejected += 1
        score.reasons[reason] += 1
        if label_of[doc_id] == "drop":
            score.rejected_drops += 1
        else:
            score.lost_keeps.append(doc_id)
    failed = [r for r in score.reasons if r.startswith("error:")]
    if failed:
        detail = result.rejected.column("reject_detail").to_pylist()[0] if "reject_detail" in \
            result.rejected.column_names else ""
        raise CurateError(f"node {node!r}, step {name!r} failed on labelled documents ({failed[0]}: {detail}); run "
                          "the pipeline first (`curate run`), so that its models and fits exist")
    steps.append(score)
    return result.kept


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table_rows(evaluation: Evaluation) -> Iterator[list[str]]:
    """The step table's rows (header first), shared by the terminal and the Markdown output."""
    yield ["node", "step", "in", "drops in", "rejected", "precision", "recall", "keeps lost", "reasons"]
    for s in evaluation.steps:
        reasons = s.note or ", ".join(f"{r} {n}" for r, n in s.reasons.most_common(3))
        yield [s.node, s.step, str(s.docs_in), str(s.drops_in), str(s.rejected), _ratio(s.precision),
               _ratio(s.recall), str(len(s.lost_keeps)), reasons]


def final_rows(evaluation: Evaluation) -> Iterator[list[str]]:
    yield ["final node", "kept", "labelled keep", "keep share", "keeps kept"]
    for f in evaluation.finals:
        yield [f.node, str(f.kept), str(f.kept_keeps), _ratio(f.keep_share),
               f"{f.kept_keeps}/{f.keeps_in}"]


def format_text(evaluation: Evaluation) -> str:
    """Aligned plain-text tables for the terminal."""
    heading = (f"{evaluation.pipeline}: {evaluation.documents} labelled documents ({evaluation.keeps} keep), split "
               f"{evaluation.split}")
    out = [heading, ""]
    for rows in (list(table_rows(evaluation)), list(final_rows(evaluation))):
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        out += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows] + [""]
    lost = [f"{s.node}/{s.step}: {', '.join(s.lost_keeps[:5])}" for s in evaluation.steps if s.lost_keeps]
    if lost:
        out += ["keep-labelled documents rejected (first 5 per step):"] + [f"  {line}" for line in lost]
    return "\n".join(out).rstrip() + "\n"


def format_markdown(evaluation: Evaluation) -> str:
    """The same tables in Markdown (docs/quality.md)."""
    heading = (f"`{evaluation.pipeline}`, split `{evaluation.split}`: {evaluation.documents} labelled documents "
               f"({evaluation.keeps} keep).")
    out = [heading, ""]
    for rows in (list(table_rows(evaluation)), list(final_rows(evaluation))):
        out.append("| " + " | ".join(rows[0]) + " |")
        out.append("|" + "---|" * len(rows[0]))
        out += ["| " + " | ".join(row) + " |" for row in rows[1:]]
        out.append("")
    return "\n".join(out)
