"""`curate validate`: the same proxy model on each dataset, compared by bits per byte over seeds."""

from __future__ import annotations

from curate.cli import main


def test_validate_prints_a_ranking(quickstart_local, capsys):
    shards = str(quickstart_local / "shards")
    assert main(["validate", shards, shards, "--tokens", "16384", "--seeds", "0", "1", "--batch-size", "8"]) == 0
    out = capsys.readouterr().out
    assert "val bits/byte (mean ± std over seeds)" in out and out.count(shards) >= 6
    assert "not a clear difference" in out  # the same data twice cannot differ beyond its seed spread


def test_validate_rejects_bad_arguments(tmp_path, capsys):
    assert main(["validate", str(tmp_path)]) == 1
    assert "no manifest.json" in capsys.readouterr().err
    (tmp_path / "manifest.json").write_text("{}")
    assert main(["validate", str(tmp_path), "--model", "huge"]) == 2
