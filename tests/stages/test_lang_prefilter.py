"""lang_prefilter on the sample WARCs: an English pipeline keeps the same documents with and without it, and the
pages it turns away never reach trafilatura."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pyarrow.parquet as pq

from curate.config import load_pipeline
from curate.dag import run_pipeline
from curate.executors.local import LocalExecutor
from curate.stages.lang_prefilter import LangPrefilter
from tests.warc_factory import SAMPLE_DIR


def english(folder: Path, prefilter: str) -> tuple[set[str], list[dict]]:
    folder.mkdir()
    (folder / "p.yaml").write_text(textwrap.dedent(f"""
        workdir: {folder / "out"}
        nodes:
          english:
            input: {{warc: "{SAMPLE_DIR}/*.warc*"}}
            steps: [{prefilter}{{extract: {{engine: trafilatura}}}}, {{normalize: {{form: NFC}}}},
                    {{langid: {{keep: [en], min_score: 0.65}}}}]
    """))
    with LocalExecutor(workers=2) as executor:
        stages = run_pipeline(load_pipeline(str(folder / "p.yaml")), executor, log=lambda line: None)[0].stages
    kept = set(pq.read_table(folder / "out" / "english", columns=["id"]).column(0).to_pylist())
    return kept, [s.to_json() for s in stages]


def test_the_kept_set_is_kept_and_extraction_is_skipped(tmp_path):
    full, _ = english(tmp_path / "full", "")
    kept, stages = english(tmp_path / "pre", "{lang_prefilter: {keep: [en]}}, ")
    assert kept <= full and len(kept) >= 0.99 * len(full) and len(full) > 50
    # What it loses is a Chinese page whose trafilatura text is its copyright line, which langid called English.
    texts = {r["id"]: r["text"] for r in pq.read_table(tmp_path / "full" / "out" / "english").to_pylist()}
    assert all(len(texts[doc]) < 100 and "Copyright" in texts[doc] for doc in full - kept)
    prefilter, extraction = stages[1], stages[2]
    skipped = prefilter["rejected"]["prefilter_language"]
    assert skipped >= 20 and extraction["docs_in"] == prefilter["docs_in"] - skipped


def test_a_short_page_is_never_turned_away():
    stage = LangPrefilter(keep=["en"])
    assert stage.apply("<html><body><p>Guten Tag, wie geht es?</p></body></html>") == ()
    long_german = "<html><body>" + "<p>Die Stadt liegt am Fluss, und im Sommer kommen viele Besucher.</p>" * 20
    assert stage.apply(long_german + "</body></html>").reason == "prefilter_language"
