"""The fault campaign of docs/architecture.md ("Faults tried"): break a run in every way issue 25 lists, repeat
each break at random points, and print one table row per kind of fault: tries, correct, and what failed.

    python -m tests.fault_campaign [--seed 0] [--tries 3] [--families kill_local,kill_ray,signals,warc,disk,damage]

Correct means, per family:
- kill_local: a SIGKILL at a random task of every phase (tests/kill_run.py), then `curate run`: the outputs are the
  bytes of a run never interrupted (the pipeline is tests/test_resume.py's: every operation of cc_en.yaml);
- kill_ray: a SIGKILL of curate's pid at a random moment of a run on the embedded Ray, then a rerun on Ray: the same
  bytes, and none of that Ray's processes left 5 s after the kill;
- signals: SIGINT or SIGTERM at a random moment, on either executor: exit 130 or 143 with one line of curate's and
  no traceback (or 0 when the run had finished), then a rerun gives the same bytes;
- warc: a WARC file damaged at a random place (a newline, junk, junk behind a fake `WARC/1.0` header between two
  records, bytes overwritten or a bit flipped inside a record, the file cut short): every document whose record the
  damage did not touch is still read, the damage is counted as a failure, and the reader's counts add up;
- disk: the workdir on a tmpfs too small for the run (sizes spread over the run's footprint, so the disk fills in
  different phases): exit 1 with one line and no traceback, then the same workdir moved to a large disk finishes
  with the same bytes;
- damage: a byte flipped in a committed partition of the first node and a downstream commit record deleted, then
  `curate run --verify`: the same bytes.
The disk family mounts tmpfs (root on Linux); without it that family is skipped, and said so.
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from curate.executors.ray_reaper import process_table
from curate.stages.warc import WarcReader
from curate.stages.warc_records import BadSpan, iter_records
from curate.stats import StageStats
from tests.conftest import CORPUS, ROOT
from tests.test_resume import TASK_LINE, result_files, write_pipeline
from tests.warc_factory import SAMPLE_DIR


@dataclass(frozen=True)
class Damage:
    """A damaged copy of a WARC file: its bytes, the bytes of the intact file it destroyed ([low, high), empty for
    an insertion), and whether the reader must count a failure whatever it recovers (junk added, a file cut)."""

    data: bytes
    low: int
    high: int
    must_count: bool


@dataclass(frozen=True)
class Reference:
    files: dict[str, bytes]  # tests/test_resume.py's result_files
    seconds: float
    footprint: int  # bytes of the whole workdir
    calls: Counter[str]


@dataclass
class Family:
    """The tries of one kind of fault and what went wrong in the failed ones."""

    name: str
    tries: int = 0
    correct: int = 0
    failures: list[str] = field(default_factory=list)

    def record(self, label: str, problem: str | None) -> None:
        self.tries += 1
        if problem is None:
            self.correct += 1
        else:
            self.failures.append(f"{label}: {problem}")
        print(f"  {self.name} {label}: {'ok' if problem is None else problem}", flush=True)


def curate(pipeline: Path, *extra: str, workdir: Path | None = None, ray_tmp: Path | None = None
           ) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "curate.cli", "run", str(pipeline), *extra]
    if workdir is not None:
        command += ["--workdir", str(workdir)]
    env = {**os.environ, **({"RAY_TMPDIR": str(ray_tmp)} if ray_tmp else {})}
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen[str], timeout: float = 600) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def one_line_error(err: str) -> str | None:
    """None when stderr ends with one line of curate's and holds no traceback; else what is wrong."""
    if "Traceback" in err:
        return "a traceback: " + err.strip().splitlines()[-1][:120]
    lines = [line for line in err.strip().splitlines() if line.strip()]
    if not lines or not lines[-1].startswith("curate:"):
        return f"no line of curate's at the end: {lines[-1][:120] if lines else '(nothing)'}"
    return None


def ray_processes_left(ray_tmp: Path) -> list[int]:
    """Processes that still name this run's Ray temp folder, or that still descend from a raylet started in it."""
    left = []
    for pid in process_table():
        try:
            if str(ray_tmp).encode() in Path(f"/proc/{pid}/cmdline").read_bytes() or \
                    f"RAY_TMPDIR={ray_tmp}".encode() in Path(f"/proc/{pid}/environ").read_bytes():
                if process_table().get(pid, (0, 0, "Z"))[2] != "Z":
                    left.append(pid)
        except OSError:
            continue
    return left


class Campaign:
    def __init__(self, folder: Path, seed: int, tries: int) -> None:
        self.folder = folder
        self.random = random.Random(seed)
        self.tries = tries
        self.pipeline = write_pipeline(folder, CORPUS)
        self.case = 0

    @functools.cached_property
    def reference(self) -> Reference:
        """The uninterrupted run on the local executor, which every rerun must match byte for byte."""
        started = time.perf_counter()
        code, out, err = finish(curate(self.pipeline, "--executor", "local", workdir=self.folder / "reference"))
        if code != 0:
            raise SystemExit(f"the reference run failed: {err[-2000:]}")
        calls: Counter[str] = Counter()  # tasks per phase function in the whole run
        for match in TASK_LINE.finditer(out):  # a map node's tasks are run_partition calls (curate/dag.py)
            calls[match[2] or "run_partition"] += int(match[3])
        files = list((self.folder / "reference").rglob("*"))
        reference = Reference(result_files(self.folder / "reference"), time.perf_counter() - started,
                              sum(p.stat().st_size for p in files if p.is_file()), calls)
        print(f"reference: {len(reference.files)} output files, {reference.footprint / 1e6:.1f} MB, "
              f"{reference.seconds:.0f} s, {sum(calls.values())} tasks in {len(calls)} phase functions", flush=True)
        return reference

    def workdir(self) -> Path:
        self.case += 1
        return self.folder / f"case-{self.case:03d}"

    def same_bytes(self, workdir: Path) -> str | None:
        found = result_files(workdir)
        if found == self.reference.files:
            return None
        differ = sorted(k for k in set(found) | set(self.reference.files) if found.get(k) != self.reference.files.get(k))
        return f"{len(differ)} output files differ, e.g. {differ[0]}"

    def rerun(self, workdir: Path, *extra: str) -> str | None:
        code, _, err = finish(curate(self.pipeline, *extra, workdir=workdir))
        if code != 0:
            return f"the rerun exited {code}: {err.strip().splitlines()[-1][:120] if err.strip() else ''}"
        return self.same_bytes(workdir)

    # --- families -------------------------------------------------------------------------------------------------

    def kill_local(self, family: Family) -> None:
        """A SIGKILL at a random task of each phase, counted as tests/kill_run.py counts: the N-th call of the
        phase's function in the whole run."""
        for phase, calls in sorted(self.reference.calls.items()):
            workdir = self.workdir()
            pipeline = self.folder / f"kill-{self.case}.yaml"
            pipeline.write_text(self.pipeline.read_text().replace(str(self.folder / "out"), str(workdir)))
            point = self.random.randint(1, calls)
            killed = subprocess.run([sys.executable, "-m", "tests.kill_run", str(pipeline), "--kill-at",
                                     f"{phase}:{point}"], cwd=ROOT, capture_output=True, text=True, timeout=600)
            label = f"{phase} {point} of {calls}"
            if killed.returncode != -9:
                family.record(label, f"the run was not killed (exit {killed.returncode})")
                continue
            family.record(label, self.rerun(workdir, "--executor", "local"))

    def interrupt(self, family: Family, executor: str, how: signal.Signals) -> None:
        workdir = self.workdir()
        ray_tmp = Path(tempfile.mkdtemp(prefix="cf-ray-")) if executor == "ray" else None
        extra = ("--executor", executor, "--workers", "2")
        delay = self.random.uniform(1.0, self.reference.seconds * (1.5 if executor == "ray" else 0.9))
        run = curate(self.pipeline, *extra, workdir=workdir, ray_tmp=ray_tmp)
        time.sleep(delay)
        run.send_signal(how)
        code, _, err = finish(run)
        label = f"{executor} {how.name} at {delay:.1f} s"
        expected_code = {signal.SIGKILL: -9, signal.SIGINT: 130, signal.SIGTERM: 143}[how]
        problem = None
        if code == -how and how != signal.SIGKILL and self.same_bytes(workdir) is None:
            code = 0  # the run had finished and was returning the caller's handler: nothing was left undone
        if code not in (expected_code, 0):
            problem = f"exit {code}, not {expected_code}: {err.strip().splitlines()[-1][:120] if err.strip() else ''}"
        elif code != 0 and how != signal.SIGKILL:
            problem = one_line_error(err)
        if problem is None and ray_tmp is not None:
            time.sleep(5)
            left = ray_processes_left(ray_tmp)
            if left:
                problem = f"{len(left)} Ray processes left 5 s after"
        if problem is None:
            problem = self.rerun(workdir, *extra)
        if ray_tmp is not None:
            shutil.rmtree(ray_tmp, ignore_errors=True)
        family.record(label, problem)

    def kill_ray(self, family: Family) -> None:
        for _ in range(self.tries):
            self.interrupt(family, "ray", signal.SIGKILL)

    def signals(self, family: Family) -> None:
        for executor in ("local", "ray"):
            for how in (signal.SIGINT, signal.SIGTERM):
                for _ in range(self.tries):
                    self.interrupt(family, executor, how)

    def warc(self, family: Family) -> None:
        files = sorted(p for p in SAMPLE_DIR.glob("*.warc*"))
        header = b"WARC/1.0\r\nWARC-Type: response\r\n"
        placements: dict[str, Callable[[bytes, list[int], int], Damage]] = {
            "a newline between records": lambda data, starts, at: Damage(data[:at] + b"\n" + data[at:], at, at, True),
            "junk between records": lambda data, starts, at: Damage(data[:at] + self.junk(200) + data[at:], at, at,
                                                                    True),
            "junk behind a fake WARC/1.0 header": lambda data, starts, at: Damage(
                data[:at] + header + self.junk(100) + data[at:], at, at, True),
            "bytes overwritten inside a record": self.overwrite,
            "a bit flipped inside a record": self.flip,
            "the file cut short": self.cut,
        }
        for placement, damage in placements.items():
            for _ in range(self.tries):
                source = self.random.choice(files)
                data = source.read_bytes()
                documents, starts = self.read(source)
                at = self.random.choice(starts[1:])
                damaged = damage(data, starts, at)
                path = self.folder / f"damaged-{self.case}-{source.name}"
                self.case += 1
                path.write_bytes(damaged.data)
                label = f"{placement} in {source.name} at {at}"
                family.record(label, self.check_read(path, documents, starts, damaged))

    def junk(self, size: int) -> bytes:
        return bytes(self.random.randrange(256) for _ in range(size))

    @staticmethod
    def record_end(starts: list[int], at: int, size: int) -> int:
        later = [s for s in starts if s > at]
        return later[0] if later else size

    def overwrite(self, data: bytes, starts: list[int], at: int) -> Damage:
        end = self.record_end(starts, at, len(data))
        where = self.random.randrange(at, max(at + 1, end - 16))
        return Damage(data[:where] + self.junk(16) + data[where + 16 :], at, end, False)

    def flip(self, data: bytes, starts: list[int], at: int) -> Damage:
        end = self.record_end(starts, at, len(data))
        where = self.random.randrange(at, end)
        return Damage(data[:where] + bytes([data[where] ^ (1 << self.random.randrange(8))]) + data[where + 1 :], at,
                      end, False)

    def cut(self, data: bytes, starts: list[int], at: int) -> Damage:
        end = self.record_end(starts, at, len(data))
        return Damage(data[: self.random.randrange(at + 1, end)], at, len(data), True)

    def read(self, path: Path) -> tuple[dict[int, str], list[int]]:
        """The documents the reader makes of an intact file ({record offset: warc_record_id}) and every record's
        offset."""
        starts = [item.offset for item in iter_records(str(path), lambda record: False, 1)
                  if not isinstance(item, BadSpan)]
        documents: dict[int, str] = {}
        stats = StageStats("read")
        for result in WarcReader().read(str(path), stats, 1000):
            for source, record in zip(result.kept.column("source").to_pylist(),
                                      result.kept.column("warc_record_id").to_pylist()):
                documents[int(source.rsplit(":", 1)[1])] = record
        return documents, starts

    def check_read(self, path: Path, intact: dict[int, str], starts: list[int], damage: Damage) -> str | None:
        """Every document whose record lies outside the damaged bytes of the intact file is read; damage that
        loses a document or adds bytes that are no record is counted as a failure; the counts add up."""
        low, high = damage.low, damage.high
        stats = StageStats("read")
        found: set[str] = set()
        for result in WarcReader().read(str(path), stats, 1000):
            found.update(result.kept.column("warc_record_id").to_pylist())
        if not stats.is_balanced():
            return f"counts do not add up: {stats.to_json()}"
        untouched = {record for offset, record in intact.items()
                     if self.record_end(starts, offset, 1 << 62) <= low or offset >= high}
        lost = untouched - found
        if lost:
            return f"{len(lost)} undamaged documents lost ({len(intact)} in the file)"
        touched = set(intact.values()) - untouched
        if (touched - found or damage.must_count) and not sum(stats.failed.values()):
            return "the damage was not counted"
        return None

    def disk(self, family: Family) -> None:
        if os.geteuid() != 0 or not sys.platform.startswith("linux"):
            print("  disk: skipped (mounting a tmpfs needs root on Linux)")
            return
        fractions = sorted(self.random.uniform(0.02, 0.95) for _ in range(self.tries * 3))
        for fraction in fractions:
            size_kb = max(64, int(self.reference.footprint * fraction / 1024))
            mount = self.folder / f"disk-{self.case}"
            self.case += 1
            mount.mkdir()
            subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(mount)], check=True)
            try:
                code, out, err = finish(curate(self.pipeline, "--executor", "local", workdir=mount / "out"))
                said = err.strip().splitlines()[-1][:90] if err.strip() else ""
                label = f"{size_kb} KB ({fraction:.0%} of the run): {said}"
                if code == 0:
                    family.record(label, None if self.same_bytes(mount / "out") is None else "exit 0, other bytes")
                    continue
                problem = None if code == 1 else f"exit {code}"
                problem = problem or one_line_error(err)
                if problem is None and "space" not in err.lower():
                    problem = "the line does not say the disk is full: " + err.strip().splitlines()[-1][:120]
                moved = self.folder / f"moved-{self.case}"
                shutil.copytree(mount / "out", moved)
            finally:
                subprocess.run(["umount", str(mount)], check=False)
            family.record(label, problem or self.rerun(moved, "--executor", "local"))

    def damage(self, family: Family) -> None:
        assert self.reference.files  # the reference run, copied below
        for _ in range(self.tries):
            workdir = self.workdir()
            shutil.copytree(self.folder / "reference", workdir)
            upstream = sorted((workdir / "text").glob("part-*.parquet"))
            victim = self.random.choice(upstream)
            data = bytearray(victim.read_bytes())
            where = self.random.randrange(len(data) // 4, 3 * len(data) // 4)
            data[where] ^= 0x10
            victim.write_bytes(bytes(data))
            records = sorted((workdir / "_curate" / "english").rglob("part-*.json"))
            gone = self.random.choice(records)
            gone.unlink()
            label = f"{victim.name} byte {where} flipped, english's {gone.name} deleted"
            family.record(label, self.rerun(workdir, "--executor", "local", "--verify"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tries", type=int, default=3, help="tries per kind of fault (kill_local: one per phase)")
    parser.add_argument("--families", default="kill_local,kill_ray,signals,warc,disk,damage")
    parser.add_argument("--markdown", help="write the table here too")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="fault-campaign-"))
    try:
        campaign = Campaign(folder, args.seed, args.tries)
        families = []
        for name in args.families.split(","):
            family = Family(name)
            getattr(campaign, name)(family)
            families.append(family)
        lines = ["| faults | tries | correct | what failed |", "|---|---|---|---|"]
        for family in families:
            failed = "; ".join(family.failures) or "-"
            lines.append(f"| {family.name} | {family.tries} | {family.correct} | {failed} |")
        table = "\n".join(lines) + "\n"
        print(table)
        if args.markdown:
            Path(args.markdown).write_text(table)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
