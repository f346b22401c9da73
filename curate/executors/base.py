"""The executor contract: map a picklable function over tasks, yielding each result or error as it completes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

# (task, result, error): exactly one of result and error is None. An error is the exception's text, so that a
# failing partition never stops the others.
Outcome = tuple[T, Any, str | None]


def describe_error(error: BaseException) -> str:
    """An exception as one line, "Type: message", its whitespace runs collapsed (Arrow's errors span many lines).

    Example: describe_error(ValueError("bad\n  value")) -> "ValueError: bad value"
    """
    return f"{type(error).__name__}: {' '.join(str(error).split())}"


class Executor(ABC):
    """Runs partition tasks. Use as a context manager: resources (a pool, a Ray cluster) live inside it."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    @abstractmethod
    def map(self, fn: Callable[[T], Any], tasks: Sequence[T]) -> Iterator[Outcome[T]]:
        """Apply `fn` to every task; yield outcomes in completion order."""
