"""train_stub.ablation: the held-out pages stay out of every arm, and one command runs a pipeline's arms and reports
bits per byte with their spread, sharing the runs of arms that hold the same data."""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("torch")

from tests.warc_factory import SAMPLE_DIR  # noqa: E402
from train_stub import ablation  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_ablation_reads_no_held_out_page_and_has_the_main_arms(corpus):
    pipeline = str(ROOT / "pipelines" / "ablation" / "ablation.yaml")
    ablation.check_held_out(pipeline)
    arms = ablation.arm_folders(pipeline)
    assert {"arm_raw", "arm_extracted", "arm_filtered", "arm_curated"} <= set(arms)
    # each of cc_en's eight stages left out of arm_curated once (arm_curated_top10_without_c4 is a variant's)
    left_out = [ablation.left_out_of(arm) for arm in arms]
    assert sum(found is not None and found[0] == "arm_curated" for found in left_out) == 8
    # listed without their input, which bench/anchor_recipes.py writes
    assert {"arm_anchor_fineweb", "arm_anchor_dclm", "arm_anchor_dolma"} <= set(arms)


def test_a_pipeline_reading_a_held_out_file_is_refused(corpus, tmp_path):
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(textwrap.dedent(f"""
        workdir: {tmp_path / "out"}
        nodes:
          text:
            input: {{warc: "{corpus}/cleaning_bench/warc/dragnet-main-0000[7-8].warc.gz"}}
            steps: [extract]
    """))
    with pytest.raises(SystemExit, match="dragnet-main-00008.warc.gz, which is held out"):
        ablation.check_held_out(str(pipeline))


def test_no_model_of_the_shipped_ablation_learns_from_the_evaluation_text(corpus):
    pipeline = str(ROOT / "pipelines" / "ablation" / "ablation.yaml")
    reference = Path(ablation.REFERENCE_TEXT).read_text(encoding="utf-8")
    ablation.check_evaluation_text_unseen(pipeline, {"wikitext": reference})


@pytest.mark.parametrize("node", [
    "quality_model: {{train_fasttext: {{positive: {text}, negative: text}}}}",
    "selected: {{dsir: {{input: text, target: {text}}}}}",
], ids=["classifier", "dsir"])
def test_a_selection_model_learning_from_the_evaluation_text_is_refused(corpus, tmp_path, node):
    """WikiText-2's test set holds the `wikitext` evaluation text: as a quality classifier's positive class or DSIR's
    target, it would select the pages that look like the text the arms are judged on."""
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(textwrap.dedent(f"""
        workdir: {tmp_path / "out"}
        nodes:
          text:
            input: {{warc: "{SAMPLE_DIR}/*.warc*"}}
            steps: [extract]
    """) + "  " + node.format(text=f'"{corpus}/target_text/wikitext2_*.jsonl"') + "\n")
    reference = Path(ablation.REFERENCE_TEXT).read_text(encoding="utf-8")
    with pytest.raises(SystemExit, match="learns from .*wikitext2_raw_test.jsonl, which holds evaluation text"):
        ablation.check_evaluation_text_unseen(str(pipeline), {"wikitext": reference})
    pipeline.write_text(pipeline.read_text().replace("wikitext2_*.jsonl", "wikitext2_tokenized_valid.jsonl"))
    ablation.check_evaluation_text_unseen(str(pipeline), {"wikitext": reference})


def test_the_held_out_text_is_the_gold_text_of_the_held_out_pages(corpus):
    text = ablation.heldout_text(corpus / "cleaning_bench")
    pages = text.split("\n\n")
    assert len(text) > 2_000_000 and len(pages) >= 249
    manifest = corpus / "cleaning_bench" / "html" / "cleanportaleval" / "manifest.jsonl"
    first = json.loads(manifest.read_text().splitlines()[0])["expected"]["gold_text"].strip()
    assert first in text


def test_one_command_trains_every_arm_and_reports_the_spread(corpus, tmp_path, capsys):
    """Two arms of the sample WARCs (whole-page text and main text) and a third equal to the second: the third
    trains no run of its own and says so."""
    pipeline = tmp_path / "ablation.yaml"
    pipeline.write_text(textwrap.dedent(f"""
        workdir: {tmp_path / "out"}
        nodes:
          raw:
            input: {{warc: "{SAMPLE_DIR}/*.warc*"}}
            steps: [{{extract: {{engine: plain}}}}]
          extracted:
            input: {{warc: "{SAMPLE_DIR}/*.warc*"}}
            steps: [extract]
          bpe: {{train_bpe: {{input: extracted, vocab_size: 512}}}}
          arm_raw: {{tokenize: {{input: raw, tokenizer: bpe}}}}
          arm_curated: {{tokenize: {{input: extracted, tokenizer: bpe}}}}
          arm_without_nothing: {{tokenize: {{input: extracted, tokenizer: bpe}}}}
          arm_raw_copy: {{tokenize: {{input: raw, tokenizer: bpe}}}}
    """))
    results = tmp_path / "runs.json"
    assert ablation.main([str(pipeline), "--tokens", "4096", "--seeds", "0", "1", "--stage-seeds", "0", "1",
                          "--batch-size", "4", "--processes", "2", "--corpus", str(corpus), "--eval-chars", "20000",
                          "--markdown", str(tmp_path / "table.md"), "--json", str(results)]) == 0
    table = (tmp_path / "table.md").read_text()
    assert "| arm_curated vs arm_raw |" in table and "sigma" in table
    assert "| nothing | no change: the same data as arm_curated |" in table
    assert "| arm_raw_copy vs arm_raw | +0.0000 bits/byte" in table  # a variant: an arm's name plus a suffix
    runs = json.loads(results.read_text())
    assert set(runs) == {"arm_raw", "arm_curated", "arm_without_nothing", "arm_raw_copy"}
    assert runs["arm_without_nothing"]["bits_per_byte"] == runs["arm_curated"]["bits_per_byte"]
    assert all(len(values) == 2 for run in runs.values() for values in run["bits_per_byte"].values())
    assert runs["arm_raw"]["bits_per_byte"]["heldout"] != runs["arm_curated"]["bits_per_byte"]["heldout"]
    first = capsys.readouterr()
    assert "4 runs, 0 done before, 4 to train" in first.out and "node arm_raw" in first.out + first.err

    # run again: every run is read back from the workdir, none trains, the figures are the same
    (tmp_path / "out" / ablation.RUNS_FOLDER / next(iter(os.listdir(tmp_path / "out" / ablation.RUNS_FOLDER)))
     ).unlink()
    assert ablation.main([str(pipeline), "--tokens", "4096", "--seeds", "0", "1", "--stage-seeds", "0", "1",
                          "--batch-size", "4", "--processes", "2", "--corpus", str(corpus), "--eval-chars", "20000",
                          "--json", str(results), "--no-run"]) == 0
    again = capsys.readouterr()
    assert "4 runs, 3 done before, 1 to train" in again.out
    assert "node arm_raw" not in again.out + again.err  # --no-run: the pipeline is not run
    assert json.loads(results.read_text()) == runs

    # a bundle for a machine without the corpus or the workdir (a lent GPU): the same seed gives the same bits there
    bundle = tmp_path / "bundle"
    assert ablation.main([str(pipeline), "--no-run", "--arms", "arm_raw", "arm_curated", "--corpus", str(corpus),
                          "--export", str(bundle)]) == 0
    shutil.rmtree(tmp_path / "out")
    assert ablation.main([str(pipeline), "--bundle", str(bundle), "--tokens", "4096", "--seeds", "0",
                          "--batch-size", "4", "--processes", "1", "--corpus", str(tmp_path / "nowhere"),
                          "--eval-chars", "20000", "--json", str(results)]) == 0
    assert "2 runs, 0 done before, 2 to train" in capsys.readouterr().out
    moved = json.loads(results.read_text())
    assert set(moved) == {"arm_raw", "arm_curated"}
    for arm in moved:
        assert moved[arm]["bits_per_byte"]["heldout"] == runs[arm]["bits_per_byte"]["heldout"][:1]


def test_an_unknown_arm_is_refused_before_training(corpus, tmp_path):
    pipeline = tmp_path / "ablation.yaml"
    pipeline.write_text(textwrap.dedent(f"""
        workdir: {tmp_path / "out"}
        nodes:
          text:
            input: {{warc: "{SAMPLE_DIR}/sample-0000.warc.gz"}}
            steps: [{{extract: {{engine: plain}}}}]
          bpe: {{train_bpe: {{input: text, vocab_size: 300}}}}
          arm_raw: {{tokenize: {{input: text, tokenizer: bpe}}}}
    """))
    with pytest.raises(SystemExit, match="no arm arm_curated in .*; arms: arm_raw"):
        ablation.main([str(pipeline), "--arms", "arm_curated", "--corpus", str(corpus)])


def test_a_left_out_arm_is_compared_with_the_arm_that_has_the_stage():
    assert ablation.left_out_of("arm_without_c4") == ("arm_curated", "c4")
    assert ablation.left_out_of("arm_curated_trafilatura_without_c4") == ("arm_curated_trafilatura", "c4")
    assert ablation.left_out_of("arm_curated_blocks") is None


def test_curate_and_its_variants_are_each_compared_with_every_anchor(tmp_path):
    """arm_curated and a variant of it (curate at DCLM's yield) each get a row against each anchor; a stage left
    out of curate does not."""
    workdir = tmp_path / "out"
    seeds = {"arm_curated": [2.50, 2.51, 2.52], "arm_curated_top10": [2.40, 2.41, 2.42],
             "arm_without_c4": [2.60, 2.61, 2.62], "arm_anchor_dclm": [2.45, 2.46, 2.47],
             "arm_anchor_fineweb": [2.55, 2.56, 2.57]}
    arms, scores = {}, {}
    for arm, values in seeds.items():
        manifest = workdir / "_curate" / arm / "manifest.json"
        manifest.parent.mkdir(parents=True)
        manifest.write_text(json.dumps({"format": "curate-token-shards", "documents": 10, "tokens": 1000}))
        arms[arm] = str(workdir / arm)
        scores[arm] = ablation.DatasetScore(arms[arm], {"heldout": values}, 0.5, 1000, [0, 1, 2])
    table = ablation.report(scores, arms, ablation.TrainConfig(), 500, {"heldout": "text"}, {})
    anchor_rows = [line.split(" | ")[0] for line in table.split("Against the anchors' recipes")[1].splitlines()
                   if line.startswith("| arm_")]
    assert anchor_rows == ["| arm_curated vs arm_anchor_dclm", "| arm_curated vs arm_anchor_fineweb",
                           "| arm_curated_top10 vs arm_anchor_dclm", "| arm_curated_top10 vs arm_anchor_fineweb"]
    assert "| arm_curated_top10 vs arm_anchor_dclm | +0.0500 bits/byte" in table
    assert "| arm_curated vs arm_anchor_dclm | -0.0500 bits/byte" in table


def test_a_variant_smaller_than_the_budget_trains_only_when_named(tmp_path, capsys):
    """Without --arms, the anchors and a variant at an anchor's yield are left out (the variant with a line saying
    why); a main arm under the budget is kept, for the budget check to refuse."""
    workdir = tmp_path / "out"
    arms = {}
    for arm, tokens in (("arm_raw", 9000), ("arm_curated", 5000), ("arm_curated_top10", 600),
                        ("arm_filtered", 700), ("arm_anchor_dclm", 800)):
        manifest = workdir / "_curate" / arm / "manifest.json"
        manifest.parent.mkdir(parents=True)
        manifest.write_text(json.dumps({"format": "curate-token-shards", "documents": 10, "tokens": tokens}))
        arms[arm] = str(workdir / arm)
    assert list(ablation.default_arms(arms, 1000)) == ["arm_raw", "arm_curated", "arm_filtered"]
    assert "arm_curated_top10 keeps 600 tokens, not more than the budget (1,000)" in capsys.readouterr().err
    assert list(ablation.default_arms(arms, 500)) == ["arm_raw", "arm_curated", "arm_curated_top10", "arm_filtered"]
