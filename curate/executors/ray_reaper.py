"""A watcher that stops the embedded Ray's processes when curate dies without stopping them (kill -9, the OOM
killer).

Ray ties the processes it starts itself (GCS, raylet, dashboard) to the driver with the kernel's parent-death signal,
but not the raylet's own children: the dashboard agent and the runtime-env agent see the raylet die (their stdin
pipe closes) and then spend up to 60 s publishing that to the dead GCS before they exit
(ray/_private/process_watcher.py, `publish_error(..., 60)` in Ray 2.60). Measured: both still running 55 s after a
`kill -9` of curate's pid.

So before it starts Ray, curate starts this watcher (`python -m curate.executors.ray_reaper MARK`, in a session of
its own so that a Ctrl-C meant for curate does not reach it) holding the write end of its stdin, and puts
`CURATE_REAP=MARK` in its own environment, which every process Ray starts inherits (GCS, raylet, agents, workers),
whenever it starts it: a kill in the middle of Ray's start-up is covered too (a watcher that noted the raylet's tree
each second missed the agents of a raylet killed in its first second: the fault campaign). When curate stops Ray
itself it writes STOP and the watcher leaves; when the pipe closes without STOP, curate is gone, and the watcher
kills every process whose environment holds the mark (each mark is new: a pid and 64 random bits), and the
processes it noted under them every NOTE_INTERVAL_S (the raylet starts its agents without the mark in some
environments: seen under pytest). Linux only, as the parent-death signal it completes (/proc/PID/environ).
"""

from __future__ import annotations

import os
import secrets
import select
import signal
import subprocess
import sys
import time
from typing import IO

MARK_VARIABLE = "CURATE_REAP"
NOTE_INTERVAL_S = 0.25
STOP = "stop"
SWEEPS = 3  # a process being killed may have started another: look again
SWEEP_PAUSE_S = 0.2


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


def marked(mark: str) -> list[int]:
    """The live processes whose environment holds `CURATE_REAP=mark` (this one aside)."""
    needle = f"{MARK_VARIABLE}={mark}".encode()
    found = []
    for pid, (_, _, state) in process_table().items():
        if pid == os.getpid() or state == "Z":
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                if needle in handle.read().split(b"\0"):
                    found.append(pid)
        except OSError:  # ended, or another user's
            continue
    return found


def kill_marked(mark: str) -> list[int]:
    """SIGKILL every process marked `mark`; returns the pids killed."""
    killed: list[int] = []
    for sweep in range(SWEEPS):
        for pid in marked(mark):
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except ProcessLookupError:
                pass
        if sweep < SWEEPS - 1:
            time.sleep(SWEEP_PAUSE_S)
    return sorted(set(killed))


def descendants(roots: list[int], table: dict[int, tuple[int, int, str]]) -> dict[int, int]:
    """{pid: start time} of the processes under `roots` (the roots aside)."""
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found: dict[int, int] = {}
    stack = list(roots)
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found[child] = table[child][1]
                stack.append(child)
    return found


def kill_noted(noted: dict[int, int]) -> list[int]:
    """SIGKILL each noted process that still runs with the start time noted (a reused pid is left alone)."""
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


def watch(mark: str, commands: IO[str]) -> list[int]:
    """Wait until `commands` says STOP (returns []) or closes (kills the marked processes and those noted under
    them; returns them). Every NOTE_INTERVAL_S it notes the processes under the marked ones: the raylet starts its
    agents with an environment of its own making in some settings (seen under pytest), without the mark."""
    noted: dict[int, int] = {}
    while True:
        noted.update(descendants(marked(mark), process_table()))
        ready, _, _ = select.select([commands], [], [], NOTE_INTERVAL_S)
        if not ready:
            continue
        line = commands.readline()
        if line.strip() == STOP:
            return []
        if not line:
            return sorted(set(kill_noted(noted)) | set(kill_marked(mark)))


def start_reaper() -> subprocess.Popen[str] | None:
    """Start the watcher and mark this process's environment, so that every process started from now on carries the
    mark; None off Linux. Write STOP to the watcher's stdin (stop_reaper) before stopping Ray."""
    if not sys.platform.startswith("linux"):
        return None
    mark = f"{os.getpid()}-{secrets.token_hex(8)}"
    environment = {k: v for k, v in os.environ.items() if k != MARK_VARIABLE}
    reaper = subprocess.Popen([sys.executable, "-m", "curate.executors.ray_reaper", mark], stdin=subprocess.PIPE,
                              text=True, start_new_session=True, close_fds=True, env=environment)
    os.environ[MARK_VARIABLE] = mark
    return reaper


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
    watch(sys.argv[1], sys.stdin)
