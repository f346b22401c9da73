"""The live progress view on a real terminal (tmux), and Ray's own messages kept off the user's screen."""

from __future__ import annotations

import logging
import shutil
import subprocess
import time

import pytest

from curate.executors.ray import ray_messages_to
from tests.conftest import QUICKSTART, ROOT

TMUX = shutil.which("tmux")


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_the_final_screen_shows_each_bar_once_with_the_log_above(tmp_path):
    session = f"curate-test-{time.monotonic_ns()}"
    done = tmp_path / "done"
    command = (f"cd {ROOT} && {ROOT / '.venv' / 'bin' / 'curate'} run {QUICKSTART} --workdir {tmp_path / 'out'} "
               f"--executor local; echo $? > {done}; sleep 600")
    subprocess.run([TMUX, "new-session", "-d", "-s", session, "-x", "160", "-y", "80", command], check=True)
    try:
        deadline = time.monotonic() + 180
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        screen = subprocess.run([TMUX, "capture-pane", "-p", "-t", session], capture_output=True, text=True,
                                check=True).stdout
    finally:
        subprocess.run([TMUX, "kill-session", "-t", session], capture_output=True)
    assert done.read_text().strip() == "0", screen
    lines = [line.rstrip() for line in screen.splitlines() if line.strip()]
    bars = [line for line in lines if line.startswith("node ") and "·" in line]
    expected = ["text · partitions", "unique · map_keys", "unique · reduce_keys", "unique · write_deduplicated",
                "deduped · map_keys", "deduped · reduce_keys", "deduped · write_deduplicated",
                "bpe · count_partition", "shards · encode_partition", "shards · write_shard"]
    assert [line.split("━")[0].removeprefix("node ").strip() for line in bars] == expected  # once each, in order
    assert all("10/10" in line or "1/1" in line or "3/3" in line for line in bars)
    assert "kept 260 of 277" in bars[0]  # a map node counts what it kept as it goes
    logged = [line for line in lines if line.startswith("curate: ")]
    assert logged.index("curate: node unique: kept 256 of 260 documents (4 exact_duplicate)") < len(logged)
    first_bar, first_log = lines.index(bars[0]), lines.index(logged[-1])
    assert first_log < first_bar  # log lines stay above the bars, none overwritten
    assert lines[-1].startswith("  tokenize")  # the summary follows the finished view


def test_ray_messages_go_to_a_file_not_the_screen(tmp_path, capsys):
    path = tmp_path / "ray.log"
    ray_logger = logging.getLogger("ray")
    screen = logging.StreamHandler()
    ray_logger.addHandler(screen)
    try:
        with ray_messages_to(str(path)):
            logging.getLogger("ray._private.authentication").warning("Token authentication is enabled")
    finally:
        ray_logger.removeHandler(screen)
        for handler in list(ray_logger.handlers):
            if isinstance(handler, logging.FileHandler) and handler.baseFilename == str(path):
                ray_logger.removeHandler(handler)
                handler.close()
    assert "Token authentication" in path.read_text()
    assert "Token authentication" not in capsys.readouterr().err
