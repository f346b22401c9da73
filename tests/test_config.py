"""Pipeline files: valid ones become typed specs; each kind of mistake is one clear line naming where it is."""

from __future__ import annotations

import textwrap

import pytest

from curate.config import load_pipeline
from curate.errors import ConfigError
from tests.conftest import QUICKSTART


def write(tmp_path, text: str):
    (tmp_path / "sample.warc.gz").write_bytes(b"")
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def error_of(tmp_path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_pipeline(str(write(tmp_path, text)))
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_quickstart_parses_into_typed_spec():
    spec = load_pipeline(str(QUICKSTART), workdir="/tmp/x")
    node, unique, deduped, bpe, shards = spec.nodes
    assert (unique.operation, deduped.operation, bpe.operation) == ("exact_dedup", "minhash_dedup", "train_bpe")
    assert deduped.upstream == ("unique",) and shards.upstream == ("deduped", "bpe")
    assert node.name == "text" and node.input.reader == "warc" and len(node.input.files) == 10
    assert [s.name for s in node.steps] == ["extract", "normalize", "min_length"]
    assert node.steps[1].build().form == "NFD" and spec.workdir == "/tmp/x"


def test_nodes_are_ordered_by_dependency(tmp_path):
    spec = load_pipeline(str(write(tmp_path, """
        nodes:
          b: {input: a, steps: [normalize]}
          a: {input: {warc: sample.warc.gz}}
    """)))
    assert [n.name for n in spec.nodes] == ["a", "b"]


@pytest.mark.parametrize(("text", "expected"), [
    ("nodes: {a: {input: {warc: sample.warc.gz}, stpes: []}}", "node 'a': unknown field 'stpes' (did you mean 'steps'?)"),
    ("nodes: {a: {input: {warc: sample.warc.gz}, steps: [normalise]}}", "step 1 'normalise': unknown step (did you mean 'normalize'?)"),
    ("nodes: {a: {input: {warc: sample.warc.gz}, steps: [{normalize: {from: NFC}}]}}", "unknown field 'from' (did you mean 'form'?)"),
    ("nodes: {a: {input: {warc: sample.warc.gz}, steps: [{normalize: {form: NFX}}]}}", "field 'form' must be one of 'NFC', 'NFD', 'NFKC', 'NFKD', got 'NFX'"),
    ("nodes: {a: {input: {warc: sample.warc.gz}, steps: [{min_length: {min_chars: ten}}]}}", "field 'min_chars' must be int, got 'ten'"),
    ("nodes: {a: {input: {warc: sample.warc.gz}, steps: [{min_length: {min_chars: -1}}]}}", "min_chars and min_words must be >= 0"),
    ("nodes: {a: {input: {warc: sample.warc.gz, max_payload_bytes: 0}}}", "max_payload_bytes must be positive"),
    ("nodes: {a: {input: {wark: sample.warc.gz}}}", "needs exactly one of warc, jsonl (did you mean 'warc'?)"),
    ("nodes: {a: {input: {warc: 'nothing/*.warc.gz'}}}", "'nothing/*.warc.gz' matches no files"),
    ("nodes: {a: {input: tetx}, text: {input: {warc: sample.warc.gz}}}", "names no node 'tetx' (did you mean 'text'?)"),
    ("nodes: {a: {input: b}, b: {input: a}}", "nodes form a cycle: a -> b -> a"),
    ("nodes: {a: {steps: []}}", "node 'a': missing field 'input'"),
    ("nodes: {a: {input: {warc: sample.warc.gz}, batch_docs: 0}}", "'batch_docs' must be a positive integer"),
    ("nodez: {}", "unknown field 'nodez' (did you mean 'nodes'?)"),
    ("nodes: [a, b]", "'nodes' must be a non-empty mapping"),
    ("nodes: {a: {input: {warc: x}}\n  bad", "not valid YAML"),
    ("nodes:\n  text: {input: {warc: sample.warc.gz}}\n  text: {input: {jsonl: sample.warc.gz}}",
     "the key 'text' is given twice in one mapping"),
])
def test_mistakes_are_one_line_errors_that_say_where(tmp_path, text, expected):
    message = error_of(tmp_path, text)
    assert expected in message and "p.yaml" in message


def test_a_pipeline_file_that_is_not_utf8_is_one_line(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_bytes(b"name: caf\xe9\nnodes: {}\n")
    with pytest.raises(ConfigError, match=r"p.yaml: not UTF-8 text \(byte 9"):
        load_pipeline(str(path))
    with pytest.raises(ConfigError, match="is a folder"):
        load_pipeline(str(tmp_path))


def test_missing_pipeline_file():
    with pytest.raises(ConfigError, match="no such pipeline file"):
        load_pipeline("/nonexistent/pipeline.yaml")


def test_shipped_pipelines_parse_in_dependency_order(corpus, tmp_path):
    from tests.conftest import ROOT

    cc_en = load_pipeline(str(ROOT / "pipelines" / "cc_en.yaml"), workdir=str(tmp_path))
    names = [n.name for n in cc_en.nodes]
    assert names.index("quality_model") < names.index("scored") < names.index("shards")
    assert names.index("scored") < names.index("selected")
    assert cc_en.node("quality_model").upstream == ("extracted", "english")
    assert names.index("kenlm_model") < names.index("scored")
    assert cc_en.node("scored").upstream == ("deduped", "quality_model", "kenlm_model")
    assert cc_en.node("kenlm_model").upstream == ()  # reference cut-offs: it reads no node, so it trains at once
    assert len(cc_en.node("extracted").input.files) == 46
    compare = load_pipeline(str(ROOT / "pipelines" / "compare.yaml"), workdir=str(tmp_path))
    assert {"raw_shards", "curated_shards"} <= {n.name for n in compare.nodes}


def test_an_input_uri_is_labelled_as_written():
    """A URI is not a path relative to the pipeline's folder: its label is the URI (it read ../../s3:/bucket/...)."""
    from curate.config import PipelineSpec

    spec = PipelineSpec(path="/p/p.yaml", name="p", workdir="/p/out", nodes=(), base_dir="/p")
    assert spec.input_label("s3://bucket/in/a.warc.gz") == "s3://bucket/in/a.warc.gz"
    assert spec.input_label("/p/in/a.warc.gz") == "in/a.warc.gz"
