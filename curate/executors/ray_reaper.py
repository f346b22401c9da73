"""A watcher that stops the embedded Ray's processes when curate dies without stopping them (kill -9, the OOM
killer).

Ray ties the processes it starts itself (GCS, raylet, dashboard) to the driver with the kernel's parent-death signal,
but not the raylet's own children: the dashboard agent and the runtime-env agent see the raylet die (their stdin
pipe closes) and then spend up to 60 s publishing that to the dead GCS before they exit
(ray/_private/process_watcher.py, `publish_error(..., 60)` in Ray 2.60). Measured: both still running 55 s after a
`kill -9` of curate's pid.

So curate starts this watcher beside its Ray (`python -m curate.executors.ray_reaper RAYLET_PID`, in a session of its
own so that a Ctrl-C meant for curate does not reach it), holding the write end of its stdin. Every
NOTE_INTERVAL_S it notes the raylet and the processes under it, each by pid and start time (/proc). When curate stops
Ray itself it writes STOP and the watcher leaves; when the pipe closes without STOP, curate is gone, and the watcher
kills the noted processes that still run, each only if it still is the process noted (same start time: a reused pid
is left alone). Linux only, as the parent-death signal it completes.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from typing import IO

NOTE_INTERVAL_S = 1.0
STOP = "stop"


def process_table() -> dict[int, tuple[int, int, str]]:
    """{pid: (parent pid, start time in clock ticks, state)} of every process, from /proc/<pid>/stat."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:  # it ended while we listed
            continue
        fields = stat[stat.rindex(b")") + 2 :].split()  # after the command name, which may hold spaces
        table[int(entry)] = (int(fields[1]), int(fields[19]), fields[0].decode())
    return table


def process_tree(root: int) -> dict[int, int]:
    """{pid: start time} of `root` and every process under it; {} when `root` does not run.

    Example: process_tree(os.getpid()) holds this process and, say, a `sleep` it started."""
    table = process_table()
    if root not in table or table[root][2] == "Z":
        return {}
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in table.items():
        children.setdefault(parent, []).append(pid)
    tree, stack = {root: table[root][1]}, [root]
    while stack:
        for child in children.get(stack.pop(), []):
            tree[child] = table[child][1]
            stack.append(child)
    return tree


def kill_noted(noted: dict[int, int]) -> list[int]:
    """SIGKILL each noted process that still runs with the start time noted; returns the pids killed."""
    table = process_table()
    killed = []
    for pid, started in sorted(noted.items()):
        if pid in table and table[pid][1] == started and table[pid][2] != "Z" and pid != os.getpid():
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except ProcessLookupError:
                pass
    return killed


def watch(raylet: int, commands: IO[str]) -> list[int]:
    """Note the raylet's tree until `commands` says STOP (returns []) or closes (kills the noted; returns them)."""
    noted: dict[int, int] = {}
    while True:
        noted.update(process_tree(raylet))  # kept once noted: the agents outlive the raylet
        ready, _, _ = select.select([commands], [], [], NOTE_INTERVAL_S)
        if ready:
            line = commands.readline()
            if line.strip() == STOP:
                return []
            if not line:
                return kill_noted(noted)


def start_reaper(raylet: int) -> subprocess.Popen[str] | None:
    """The watcher of the raylet `raylet` (None off Linux): write STOP to its stdin before stopping Ray."""
    if not sys.platform.startswith("linux"):
        return None
    return subprocess.Popen([sys.executable, "-m", "curate.executors.ray_reaper", str(raylet)], stdin=subprocess.PIPE,
                            text=True, start_new_session=True, close_fds=True)


def stop_reaper(reaper: subprocess.Popen[str] | None) -> None:
    """Tell the watcher that curate stops Ray itself, and wait for it to leave."""
    if reaper is None:
        return
    try:
        assert reaper.stdin is not None
        reaper.stdin.write(STOP + "\n")
        reaper.stdin.close()
    except (BrokenPipeError, OSError):
        pass
    try:
        reaper.wait(timeout=5)
    except subprocess.TimeoutExpired:
        reaper.kill()


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watch(int(sys.argv[1]), sys.stdin)
