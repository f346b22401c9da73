"""Honest CPU accounting: the CPU of an operation's tasks that ran in other processes is counted once, the reader's
share of a partition is recorded, and subprocesses count."""

from __future__ import annotations

import subprocess
import sys
import time

from curate.cpu import Measured, children_cpu
from curate.executors.local import LocalExecutor
from curate.ops.base import OperationContext
from curate.progress import NoProgress


def burn(seconds: float) -> int:
    """Spin the CPU for `seconds` of this process's CPU time."""
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
    return 1


def context(executor) -> OperationContext:
    return OperationContext("node", None, "fingerprint", executor, {}, {}, lambda line: None, NoProgress(),
                            lambda *args: None)


def test_tasks_in_other_processes_are_counted_once():
    with LocalExecutor(workers=2) as pool:
        ctx = context(pool)
        ctx.map(burn, [0.3, 0.3, 0.3], lambda task: False)
    assert 0.8 <= ctx.task_cpu_s <= 1.5  # 0.9 s burned in the pool's processes
    with LocalExecutor(workers=1) as in_process:
        ctx = context(in_process)
        ctx.map(burn, [0.3], lambda task: False)
    assert ctx.task_cpu_s == 0.0  # in the driver's own CPU time already


def test_a_subprocess_counts():
    before = children_cpu()
    result, cpu, _ = Measured(lambda _: subprocess.run([sys.executable, "-c",
                                                        "import time\nend=time.process_time()+0.3\n"
                                                        "while time.process_time()<end: pass"]).returncode)(None)
    assert result == 0 and cpu >= 0.25 and children_cpu() - before >= 0.25


def test_the_reader_share_of_a_partition_is_recorded(quickstart_local):
    import json

    record = json.loads((quickstart_local / "_curate" / "text" / "commit.json").read_text())
    warc = record["stages"][0]
    assert warc["stage"] == "warc" and warc["cpu_s"] > 0
    assert record["peak_rss_mib"] > 50
