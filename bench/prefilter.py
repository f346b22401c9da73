"""The language pre-filter (curate/stages/lang_prefilter.py): does skipping trafilatura for pages clearly in another
language change what an English pipeline keeps, and how much faster is the node?

Every WARC file of the shared corpus through two nodes, interleaved, in-process, one core: `extract` (trafilatura)
-> normalize (NFC) -> langid (en, >= 0.65), and the same with `lang_prefilter` first. Printed: documents kept by
each, the share of the full run's kept set the pre-filtered run keeps, every document kept by one and not the other,
and the node's CPU time and speed-up, for several `max_keep_probability` values.

    python bench/prefilter.py
"""

from __future__ import annotations

import sys
import tempfile
import textwrap
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import corpus_or_exit, load_line  # noqa: E402

from curate.config import load_pipeline  # noqa: E402
from curate.dag import run_pipeline  # noqa: E402
from curate.executors.local import LocalExecutor  # noqa: E402

THRESHOLDS = (0.001, 0.01, 0.05)


def run(folder: Path, prefilter: str, corpus: Path) -> tuple[set[str], float]:
    folder.mkdir(parents=True)
    path = folder / "p.yaml"
    path.write_text(textwrap.dedent(f"""
        workdir: {folder / "out"}
        nodes:
          english:
            input: {{warc: ["{corpus}/warc/real/*/*.warc*", "{corpus}/warc/packed/*.warc.gz"]}}
            steps: [{prefilter}{{extract: {{engine: trafilatura}}}}, {{normalize: {{form: NFC}}}},
                    {{langid: {{keep: [en], min_score: 0.65}}}}]
    """))
    with LocalExecutor() as executor:
        report = run_pipeline(load_pipeline(str(path)), executor, log=lambda line: None)[0]
    kept = set(pq.read_table(folder / "out" / "english", columns=["id"]).column(0).to_pylist())
    return kept, sum(stage.cpu_s for stage in report.stages)


def main() -> None:
    corpus = corpus_or_exit()
    print(load_line())
    with tempfile.TemporaryDirectory() as scratch:
        full, full_cpu = run(Path(scratch) / "full", "", corpus)
        print(f"full path: {len(full)} English documents kept, {full_cpu:.1f} s CPU\n")
        print(f"{'max_keep_probability':>20} {'kept':>6} {'of full kept':>13} {'extra':>6} {'CPU s':>7} "
              f"{'speed-up':>9}")
        for threshold in THRESHOLDS:
            folder = Path(scratch) / f"pre-{threshold}"
            kept, cpu = run(folder, f"{{lang_prefilter: {{keep: [en], max_keep_probability: {threshold}}}}}, ",
                            corpus)
            print(f"{threshold:>20} {len(kept):>6} {len(kept & full) / len(full):>12.2%} {len(kept - full):>6} "
                  f"{cpu:>7.1f} {full_cpu / cpu:>8.2f}x")
            for doc_id in sorted(full - kept):
                print(f"{'':>20} lost: {doc_id}")
            for doc_id in sorted(kept - full):
                print(f"{'':>20} gained: {doc_id}")


if __name__ == "__main__":
    main()
