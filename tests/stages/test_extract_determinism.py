"""Extraction decides nothing by the clock: the same pages give the same bytes on a loaded machine, a page's work is
bounded by its DOM's size, and no page's processing runs an import that an interrupt could leave half done."""

from __future__ import annotations

import gzip
import json
import multiprocessing
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pytest

from curate.stages.charset import decode_html
from curate.stages.extract import Extract, resiliparse_text
from curate.stats import StageStats

ROOT = Path(__file__).resolve().parents[2]


def spin() -> None:
    while True:
        pass


@contextmanager
def busy_cores(count: int) -> Iterator[None]:
    """`count` processes that keep a core each busy until the block ends."""
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=spin, daemon=True) for _ in range(count)]
    for worker in workers:
        worker.start()
    try:
        yield
    finally:
        for worker in workers:
            worker.kill()
            worker.join()


def largest_pages(corpus: Path, dataset: str, count: int) -> pa.Table:
    """The `count` largest pages of an extraction benchmark: the slowest ones for trafilatura."""
    folder = corpus / "html" / dataset
    entries = sorted(map(json.loads, (folder / "manifest.jsonl").read_text().splitlines()),
                     key=lambda e: (-e["html_bytes"], e["id"]))[:count]
    html = [decode_html(gzip.decompress((folder / e["file"]).read_bytes()), None).text for e in entries]
    return pa.table({"id": [e["id"] for e in entries], "url": [e.get("url") for e in entries], "html": html})


def extracted(batch: pa.Table, engine: str) -> tuple[pa.Table, pa.Table]:
    stats = StageStats("extract")
    result = Extract(engine=engine).process(batch, stats)  # type: ignore[arg-type]
    assert stats.is_balanced()
    return result.kept, result.rejected


@pytest.mark.parametrize("engine", ["trafilatura", "blocks"])
def test_a_loaded_machine_gets_the_idle_machines_bytes(corpus, engine):
    """Every core busy with other work makes each page slower, never different (a wall-clock limit per page, as
    curate had, rejected the slowest of these pages under load and kept them when idle)."""
    batch = pa.concat_tables([largest_pages(corpus, "readability", 6), largest_pages(corpus, "trafilatura", 6)])
    idle = extracted(batch, engine)
    with busy_cores(4):
        loaded = extracted(batch, engine)
    assert idle[0].num_rows >= 10
    assert idle[0].equals(loaded[0]) and idle[1].equals(loaded[1])


def nested_tables(depth: int, cells: int) -> str:
    """A pathological page: `depth` nested tables, the innermost row holding `cells` filler cells."""
    filler = "<td>x</td>" * cells
    return ("<html><body><p>" + "A real paragraph of text that should survive extraction. " * 5 + "</p>"
            + "<table><tr>" * depth + filler + "</tr></table>" * depth + "</body></html>")


def test_a_page_over_the_element_cap_goes_to_resiliparse():
    page = nested_tables(depth=20, cells=60_000)  # 120,000 elements in 600 KB
    text, engine = Extract().apply(page, None)
    assert engine == "resiliparse" and text == resiliparse_text(page)
    assert "A real paragraph" in text
    small = nested_tables(depth=5, cells=3)
    assert Extract().apply(small, None)[1] == "trafilatura"
    assert Extract(max_elements=10).apply(small, None)[1] == "resiliparse"


def test_the_element_cap_is_validated():
    with pytest.raises(ValueError, match="max_elements"):
        Extract(max_elements=0)
    with pytest.raises(ValueError, match="engine"):
        Extract(engine="boilerpipe")  # type: ignore[arg-type]


@pytest.mark.parametrize("engine", ["trafilatura", "blocks"])
def test_no_page_runs_an_import(corpus, engine):
    """In a fresh interpreter, processing pages imports nothing: the engine's modules (trafilatura imports some of
    its dependencies on first use) are loaded before the first page, so an interrupt during a page cannot leave a
    library half-imported (a timer that fired inside trafilatura's first call once left `urllib3.util` missing and
    failed every later page of the partition)."""
    script = textwrap.dedent(f"""
        import sys
        import pyarrow as pa
        from curate.stages.extract import Extract
        from curate.stats import StageStats
        from tests.stages.test_extract_determinism import largest_pages
        from pathlib import Path

        stage = Extract(engine={engine!r})
        apply = stage.apply
        imported = []
        def watched(*values):
            before = set(sys.modules)
            outcome = apply(*values)
            imported.extend(sorted(set(sys.modules) - before))
            return outcome
        stage.apply = watched
        stage.process(largest_pages(Path({str(corpus)!r}), "aeb", 3), StageStats("extract"))
        print("imported during pages:", imported)
        sys.exit(1 if imported else 0)
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_timer_signal_decides_anything_in_curate():
    """No wall-clock alarm anywhere in the package: SIGALRM, setitimer and alarm() interrupt library code at an
    arbitrary bytecode and make what is kept depend on the load."""
    pattern = re.compile(r"SIGALRM|setitimer|ITIMER_|signal\.alarm")
    offenders = [f"{path.relative_to(ROOT)}:{number}" for path in sorted((ROOT / "curate").rglob("*.py"))
                 for number, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert offenders == []
