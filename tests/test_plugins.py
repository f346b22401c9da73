"""Your own stage, `{class: "module:Class", <options>}`: loaded by import path, options validated like a built-in's,
run on real documents, its code part of the fingerprint; JSON Lines fields kept as typed columns."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.config import load_pipeline
from curate.dag import run_pipeline
from curate.errors import ConfigError
from curate.executors.local import LocalExecutor

FILTER = '''
from dataclasses import dataclass
from typing import ClassVar

import pyarrow as pa

from curate.stages.base import DocumentStage, Reject


@dataclass
class ShoutFilter(DocumentStage):
    """Rejects documents whose share of upper-case letters is above `max_upper`."""

    name: ClassVar[str] = "shout_filter"
    writes: ClassVar[tuple[pa.Field, ...]] = (pa.field("upper_share", pa.float32()),)

    max_upper: float = 0.5

    def apply(self, text):
        letters = [c for c in text if c.isalpha()]
        share = sum(c.isupper() for c in letters) / max(1, len(letters))
        return (share,) if share <= self.max_upper else Reject("shouting", f"{share:.2f}", (share,))
'''

DOCUMENTS = [
    {"id": "a", "text": "A quiet sentence about gardens and rain.", "lang": "en", "score": 3, "meta": {"k": [1]}},
    {"id": "b", "text": "THIS IS ALL CAPS SHOUTING AT THE READER!", "lang": "en", "score": 1.5, "meta": None},
    {"id": "c", "text": "Another calm line, with Some Capitals.", "lang": "de", "score": 2, "meta": "x"},
    {"id": "d", "text": "A line whose score is not a number.", "lang": "en", "score": "high"},
]


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    package = tmp_path / "myfilters"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "shout.py").write_text(FILTER)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield package / "shout.py"
    for name in [m for m in sys.modules if m.startswith("myfilters")]:
        del sys.modules[name]


def pipeline(tmp_path: Path, step: str) -> Path:
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in DOCUMENTS))
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(f"""
        workdir: {tmp_path / "out"}
        nodes:
          docs:
            input: {{jsonl: docs.jsonl, fields: {{lang: string, score: float64, meta: json}}}}
            steps:
              - {step}
    """))
    return path


def run(path: Path) -> dict[str, int]:
    with LocalExecutor() as executor:
        return {r.name: r.computed for r in run_pipeline(load_pipeline(str(path)), executor, log=lambda line: None)}


def test_a_user_stage_runs_and_json_fields_become_typed_columns(tmp_path, plugin):
    assert run(pipeline(tmp_path, '{class: "myfilters.shout:ShoutFilter", max_upper: 0.4}')) == {"docs": 1}
    kept = pq.read_table(tmp_path / "out" / "docs").to_pylist()
    assert [(r["id"], r["lang"], r["score"], r["meta"]) for r in kept] == [("a", "en", 3.0, '{"k": [1]}'),
                                                                          ("c", "de", 2.0, '"x"')]
    assert all(0 < r["upper_share"] <= 0.4 for r in kept)
    rejected = {r["id"]: r for r in pq.read_table(tmp_path / "out" / "_rejected" / "docs").to_pylist()}
    assert rejected["b"]["reject_stage"] == "shout_filter" and rejected["b"]["reject_reason"] == "shouting"
    assert rejected["b"]["upper_share"] > 0.9 and rejected["b"]["meta"] is None
    assert rejected["d"]["reject_reason"] == "bad_field" and "'score'" in rejected["d"]["reject_detail"]


def test_editing_the_stage_recomputes_its_node(tmp_path, plugin):
    path = pipeline(tmp_path, '{class: "myfilters.shout:ShoutFilter"}')
    assert run(path) == {"docs": 1}
    assert run(path) == {"docs": 0}
    plugin.write_text(FILTER.replace("share <= self.max_upper", "share < self.max_upper"))
    del sys.modules["myfilters.shout"]
    assert run(path) == {"docs": 1}


def test_editing_a_helper_the_stage_imports_recomputes_its_node(tmp_path, plugin):
    """The helper module beside the filter is part of its code; a module elsewhere (curate's engine) is not."""
    (plugin.parent / "limits.py").write_text("MAX_UPPER = 0.5\n")
    helper_import = "from myfilters.limits import MAX_UPPER\nfrom curate.stages.base"
    plugin.write_text(FILTER.replace("    max_upper: float = 0.5", "    max_upper: float = MAX_UPPER")
                      .replace("from curate.stages.base", helper_import))
    path = pipeline(tmp_path, '{class: "myfilters.shout:ShoutFilter"}')
    assert run(path) == {"docs": 1}
    (plugin.parent / "unrelated.py").write_text("X = 1\n")  # not imported: no recompute
    assert run(path) == {"docs": 0}
    (plugin.parent / "limits.py").write_text("MAX_UPPER = 0.5  # the same value, edited\n")
    assert run(path) == {"docs": 1}


def test_a_built_in_steps_code_is_in_its_nodes_fingerprint(tmp_path, monkeypatch):
    """Changing a built-in filter's logic recomputes its nodes without a hand bump of OUTPUT_FORMAT_VERSION."""
    from curate import dag

    node = load_pipeline(str(pipeline(tmp_path, "{min_length: {min_chars: 10}}"))).node("docs")
    before = dag.logical_hash(node)
    digest = dag.code_digest
    monkeypatch.setattr(dag, "code_digest", lambda cls: digest(cls) + ("!" if cls.name == "min_length" else ""))
    assert dag.logical_hash(node) != before


def test_an_operations_code_and_its_helpers_under_ops_are_in_its_nodes_fingerprint(tmp_path, monkeypatch):
    """minhash_dedup's LSH lives in ops/dedup/lsh.py: an edit there recomputes the dedup node (it decides which
    documents are duplicates); an edit to the engine's Parquet I/O (curate/tables.py) does not."""
    from curate import dag, tables
    from curate.ops.dedup import lsh
    from curate.stages import plugins

    path = pipeline(tmp_path, "normalize")
    path.write_text(path.read_text() + "  deduped: {minhash_dedup: {input: docs}}\n")
    node = load_pipeline(str(path)).node("deduped")
    before = dag.logical_hash(node)
    read = plugins._source_and_imports

    def edited(module_file: str):
        def source_and_imports(path: str) -> tuple[bytes, list[str]]:
            source, names = read(path)
            return (source + b"# edited\n" if path == module_file else source), names
        return source_and_imports

    monkeypatch.setattr(plugins, "_source_and_imports", edited(str(Path(tables.__file__).resolve())))
    assert dag.logical_hash(node) == before
    monkeypatch.setattr(plugins, "_source_and_imports", edited(str(Path(lsh.__file__).resolve())))
    assert dag.logical_hash(node) != before


@pytest.mark.parametrize("step, message", [
    ('{class: "myfilters.shout:ShoutFilter", max_uper: 0.4}', "unknown field 'max_uper' (did you mean 'max_upper'?)"),
    ('{class: "myfilters.shout:ShoutFilter", max_upper: loud}', "field 'max_upper' must be"),
    ('{class: "myfilters.shout:Nothing"}', "module 'myfilters.shout' has no attribute 'Nothing'"),
    ('{class: "myfilters.shout:dataclass"}', "is not a subclass of curate.stages.base.Stage"),
    ('{class: "nosuchpackage.x:Filter"}', "cannot import 'nosuchpackage.x'"),
    ('{class: "myfilters/shout.py"}', "is not an import path"),
])
def test_a_bad_user_stage_is_one_line_naming_the_step(tmp_path, plugin, step, message):
    with pytest.raises(ConfigError) as caught:
        load_pipeline(str(pipeline(tmp_path, step)))
    assert message in str(caught.value) and "node 'docs', step 1" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_jsonl_field_of_an_unknown_type_is_refused(tmp_path):
    path = pipeline(tmp_path, "normalize").read_text().replace("meta: json", "meta: blob")
    (tmp_path / "q.yaml").write_text(path)
    with pytest.raises(ConfigError, match="'meta' has type 'blob'"):
        load_pipeline(str(tmp_path / "q.yaml"))
