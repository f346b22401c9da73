"""The executor contract: map a picklable function over tasks, yielding each result or error as it completes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# (task, result, error): exactly one of result and error is None. An error is the exception's text, so that a
# failing partition never stops the others.
Outcome = tuple[T, Any, str | None]


def describe_error(error: BaseException) -> str:
    """An exception as one line, "Type: message", its whitespace runs collapsed (Arrow's errors span many lines).

    Example: describe_error(ValueError("bad\n  value")) -> "ValueError: bad value"
    """
    return f"{type(error).__name__}: {' '.join(str(error).split())}"


@dataclass(frozen=True)
class TaskOptions:
    """How a node's tasks are scheduled, from the node's `ray:` options in the pipeline file; `label` names the node
    and phase (e.g. "deduped:reduce_keys") in Ray's task list. The local executor ignores the resources."""

    label: str = ""
    num_cpus: float = 1.0
    memory: int | None = None  # bytes a task reserves (Ray's `memory` resource); None reserves nothing
    max_retries: int = 2  # re-runs of a task whose worker died (Ray's default is 3; a partition is idempotent)
    num_gpus: float = 0.0  # GPUs a task reserves (Ray's `num_gpus`): it runs on a node that has them


@dataclass(frozen=True)
class RayOptions:
    """A node's `ray:` options: what each of its tasks reserves on a Ray cluster, and how often a task whose worker
    died is re-run. They change scheduling, never output bytes, so they are not in the node's hash."""

    num_cpus: float = 1.0
    memory: int | None = None  # bytes; e.g. 4_000_000_000 for a node whose partitions are large
    max_retries: int = 2
    num_gpus: float = 0.0  # e.g. 1 for a node whose model runs on a GPU; Ray places its tasks on a node with one

    def __post_init__(self) -> None:
        if self.num_cpus <= 0:
            raise ValueError(f"num_cpus must be positive, got {self.num_cpus}")
        if self.num_gpus < 0:
            raise ValueError(f"num_gpus must be 0 or more, got {self.num_gpus}")
        if self.memory is not None and self.memory <= 0:
            raise ValueError(f"memory must be a positive number of bytes, got {self.memory}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, got {self.max_retries}")

    def task_options(self, label: str) -> TaskOptions:
        return TaskOptions(label, self.num_cpus, self.memory, self.max_retries, self.num_gpus)


class Executor(ABC):
    """Runs partition tasks. Use as a context manager: resources (a pool, a Ray cluster) live inside it."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def start(self, meanwhile: Callable[[], None] = lambda: None) -> None:
        """Start what the executor runs tasks on, from the calling (main) thread (`map` starts it otherwise), after
        calling `meanwhile`: work launched there that submits tasks waits until the executor is up, while work that
        needs no task (a model trained in the driver) goes ahead during the start-up."""
        meanwhile()

    @property
    def parallel(self) -> bool:
        """True when tasks run in other processes, several at a time: the driver then runs independent nodes
        side by side (curate/dag.py, ConcurrentRun), and `map` may be called from several threads at once."""
        return False

    def run_serial(self, fn: Callable[[T], R], argument: T, options: TaskOptions = TaskOptions(),
                   isolated: bool = True) -> tuple[R, float]:
        """`fn(argument)` as one piece of serial work (a model's training): here, in a fresh process of its own that
        dies with the run (`isolated`), else in the calling thread; on a cluster (RayExecutor), as one task with the
        node's resources. Returns the result and the CPU seconds it used in another process (0 in this one, whose
        CPU the driver counts itself); raises what `fn` raised.

        Isolated for Python-heavy work and native code: in a thread of the driver it would hold the interpreter lock
        that the threads handing tasks to the workers and Ray's start-up need (KenLM's corpus preparation, 1.5 s of
        Python, delayed Ray's start from 2.5 s to 5 s, docs/scale.md), and a crash in native code (fastText, KenLM)
        would take the driver with it. Not isolated where a process's start (0.7 s) would cost more than it saves."""
        if not isolated:
            return fn(argument), 0.0
        from curate.processes import run_in_child

        return run_in_child(fn, argument)

    @abstractmethod
    def map(self, fn: Callable[[T], Any], tasks: Sequence[T], options: TaskOptions = TaskOptions()
            ) -> Iterator[Outcome[T]]:
        """Apply `fn` to every task; yield outcomes in completion order."""
