"""`curate evaluate` on the project's labelled set: it takes exactly the decisions the pipeline's run took (the same
documents survive each node, DSIR's fitted cut-off included), scores them against the labels, and says what to do
when the run is missing or the labels are malformed."""

from __future__ import annotations

import itertools
import json
import textwrap

import pyarrow.parquet as pq
import pytest

from curate.cli import main
from curate.config import load_pipeline
from curate.dag import run_pipeline
from curate.errors import CurateError
from curate.evaluate import evaluate, load_labels
from curate.executors.local import LocalExecutor
from tests.conftest import ROOT

LABELS = ROOT / "pipelines" / "eval" / "labels.jsonl"


def write_pipeline(tmp_path, corpus) -> str:
    """The labelled documents themselves as the pipeline's input, so that the run and the evaluation see the same
    documents: every node's output must then be exactly what evaluate lets through."""
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(f"""
        name: labelled
        workdir: {tmp_path / "out"}
        nodes:
          docs: {{input: {{jsonl: "{LABELS}"}}}}
          english:
            input: docs
            steps: [{{langid: {{keep: [en]}}}}, {{gopher_quality: {{}}}}, {{c4: {{curly_bracket: false}}}},
                    {{min_length: {{}}}}]
          quality_model:
            train_fasttext: {{positive: "{corpus}/target_text/*.jsonl", negative: docs, calibrate: english,
                              max_examples: 3000}}
          scored:
            input: english
            steps: [{{fasttext_quality: {{model: quality_model, min_quantile: 0.1}}}}]
          selected:
            dsir: {{input: scored, target: "{corpus}/target_text/wikitext2_raw_test.jsonl", keep_fraction: 0.7}}
    """))
    return str(path)


@pytest.fixture(scope="module")
def labelled_run(corpus, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("evaluate")
    spec = load_pipeline(write_pipeline(tmp_path, corpus))
    with LocalExecutor() as executor:
        run_pipeline(spec, executor, log=lambda line: None)
    return tmp_path, spec


def output_ids(out, node: str) -> set[str]:
    return set(pq.read_table(out / node, columns=["id"]).column(0).to_pylist())


def test_evaluation_takes_the_run_s_decisions(labelled_run):
    tmp_path, spec = labelled_run
    evaluation = evaluate(spec, load_labels(str(LABELS), "all"), "all")
    by_step = {(s.node, s.step): s for s in evaluation.steps}
    # each node lets through exactly what the run wrote, the classifier's quantile cut and DSIR's cut-off included
    for node, last_step in (("english", "min_length"), ("scored", "fasttext_quality"), ("selected", "dsir")):
        step = by_step[(node, last_step)]
        assert step.docs_in - step.rejected == len(output_ids(tmp_path / "out", node)), node
    (final,) = evaluation.finals
    assert final.node == "selected" and final.kept == len(output_ids(tmp_path / "out", "selected"))
    # a chain: what enters a step is what the step before it kept
    english = [s for s in evaluation.steps if s.node == "english"]
    for before, after in itertools.pairwise(english):
        assert after.docs_in == before.docs_in - before.rejected
    # scored against people's labels: language ID rejects only documents labelled drop, and most drops
    langid = by_step[("english", "langid")]
    assert langid.docs_in == 600 and langid.precision == 1.0 and langid.recall > 0.8
    assert langid.rejected_drops + sum(s.drops_in for s in evaluation.steps if s.step == "gopher_quality") == 347


def test_final_outputs_match_the_run_document_by_document(labelled_run):
    tmp_path, spec = labelled_run
    labels = load_labels(str(LABELS), "all")
    from curate.evaluate import _document_inputs, _produces_documents, _run_node

    label_of = dict(zip(labels.column("id").to_pylist(), labels.column("label").to_pylist()))
    survivors, steps = {}, []
    for node in spec.nodes:
        if _produces_documents(node):
            upstream = _document_inputs(node)
            batch = survivors[upstream[0]] if upstream else labels.drop_columns(["label"])
            survivors[node.name] = _run_node(spec, node, batch, label_of, steps)
    for node in ("english", "scored", "selected"):
        assert set(survivors[node].column("id").to_pylist()) == output_ids(tmp_path / "out", node), node


def test_cli_prints_tables_and_writes_markdown(labelled_run, tmp_path, capsys):
    _, spec = labelled_run
    markdown = tmp_path / "quality.md"
    assert main(["evaluate", spec.path, str(LABELS), "--split", "test", "--markdown", str(markdown)]) == 0
    printed = capsys.readouterr().out
    assert "labelled documents" in printed and "fasttext_quality" in printed and "keep share" in printed
    text = markdown.read_text()
    assert "| english | langid |" in text and "| selected |" in text


def test_a_pipeline_that_has_not_run_is_a_clear_error(corpus, tmp_path):
    spec = load_pipeline(write_pipeline(tmp_path, corpus))
    with pytest.raises(CurateError, match="run the pipeline first"):
        evaluate(spec, load_labels(str(LABELS), "test"), "test")


def test_bad_labels_are_refused_with_the_line(tmp_path):
    with pytest.raises(CurateError, match="no such labels file"):
        load_labels(str(tmp_path / "missing.jsonl"), "all")
    bad = tmp_path / "labels.jsonl"
    bad.write_text(json.dumps({"id": "a", "text": "x", "label": "keep"}) + "\n" +
                   json.dumps({"id": "b", "text": "y", "label": "maybe"}) + "\n")
    with pytest.raises(CurateError, match="line 2: label must be keep or drop"):
        load_labels(str(bad), "all")
    bad.write_text("{not json\n")
    with pytest.raises(CurateError, match="line 1: not a labelled document"):
        load_labels(str(bad), "all")
    bad.write_text(json.dumps({"id": "a", "text": "x", "label": "keep", "split": "tune"}) + "\n")
    with pytest.raises(CurateError, match="no labelled document in split 'test'"):
        load_labels(str(bad), "test")


def test_the_labelled_set_is_what_its_readme_says():
    rows = [json.loads(line) for line in LABELS.read_text().splitlines()]
    assert len(rows) == 600 and len({r["id"] for r in rows}) == 600
    assert {r["label"] for r in rows} == {"keep", "drop"} and {r["split"] for r in rows} == {"tune", "test"}
    assert {r["reason"] for r in rows} <= {"prose", "boilerplate", "list_or_table", "spam", "code_or_data",
                                           "other_language", "too_short"}
    assert all((r["label"] == "keep") == (r["reason"] == "prose") for r in rows)
    assert sum(r["label"] == "keep" for r in rows) == 253


def test_a_node_that_tokenize_reads_is_an_output_though_another_node_reads_it(tmp_path):
    """The outputs evaluate reports: nodes no other node of documents reads, and the ones that an operation with
    `reads_final_documents` (tokenize) trains on, here `english`, which `short` also reads."""
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(f"""
        name: outputs
        workdir: {tmp_path / "out"}
        nodes:
          docs: {{input: {{jsonl: "{LABELS}"}}}}
          english: {{input: docs, steps: [{{langid: {{keep: [en]}}}}]}}
          short: {{input: english, steps: [{{min_length: {{min_chars: 100000}}}}]}}
          bpe: {{train_bpe: {{input: english, vocab_size: 300}}}}
          shards: {{tokenize: {{input: english, tokenizer: bpe}}}}
    """))
    evaluation = evaluate(load_pipeline(str(path)), load_labels(str(LABELS), "all"), "all")
    assert [final.node for final in evaluation.finals] == ["english", "short"]
