"""token_count: documents counted in the corpus's own tokenizer (a train_bpe node of the same pipeline), kept within
the range, the rest rejected with the count and the bound."""

from __future__ import annotations

import json
import textwrap

import pyarrow.parquet as pq
import pytest

from curate.config import load_pipeline
from curate.dag import run_pipeline
from curate.errors import ConfigError
from curate.executors.local import LocalExecutor
from curate.shards import load_tokenizer_file
from curate.stages.token_count import TokenCount


def test_counts_are_the_tokenizers_and_the_range_decides(tmp_path, quickstart_local):
    pages = sorted(pq.read_table(quickstart_local / "text", columns=["id", "text"]).to_pylist(), key=lambda r: r["id"])
    documents = [{"id": page["id"], "text": page["text"]} for page in pages[:40]] + [{"id": "short", "text": "Hi."}]
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in documents))
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(textwrap.dedent(f"""
        workdir: {tmp_path / "out"}
        nodes:
          docs: {{input: {{jsonl: docs.jsonl}}}}
          bpe: {{train_bpe: {{input: docs, vocab_size: 400}}}}
          counted:
            input: docs
            steps: [{{token_count: {{tokenizer: bpe, min_tokens: 5, max_tokens: 1500}}}}]
    """))
    with LocalExecutor() as executor:
        run_pipeline(load_pipeline(str(pipeline)), executor, log=lambda line: None)
    tokenizer = load_tokenizer_file(str(tmp_path / "out" / "bpe" / "tokenizer.curate.json"))
    expected = {d["id"]: len(tokenizer.encode(d["text"])) for d in documents}  # the reference encoder, not tiktoken
    kept = pq.read_table(tmp_path / "out" / "counted").to_pylist()
    rejected = pq.read_table(tmp_path / "out" / "_rejected" / "counted").to_pylist()
    assert {r["id"]: r["tokens"] for r in kept + rejected} == expected
    assert all(5 <= r["tokens"] <= 1500 for r in kept) and len(kept) + len(rejected) == len(documents)
    reasons = {r["id"]: (r["reject_reason"], r["reject_detail"]) for r in rejected}
    assert reasons["short"] == ("too_few_tokens", f"{expected['short']} < 5")
    long = [i for i, count in expected.items() if count > 1500]
    assert long and all(reasons[i] == ("too_many_tokens", f"{expected[i]} > 1500") for i in long)


def test_a_bad_range_or_tokenizer_is_a_config_error(tmp_path):
    with pytest.raises(ValueError, match="max_tokens"):
        TokenCount(tokenizer="x", min_tokens=10, max_tokens=5)
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text("nodes:\n  docs:\n    input: {jsonl: d.jsonl}\n    steps: [{token_count: {tokenizer: nobpe}}]\n")
    (tmp_path / "d.jsonl").write_text('{"id": "a", "text": "x"}\n')
    with pytest.raises(ConfigError, match="names no train_bpe node and no model file 'nobpe'"):
        load_pipeline(str(pipeline))
