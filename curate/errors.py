"""Errors a user can cause. The CLI prints them in one line and exits non-zero, without a traceback."""


class CurateError(Exception):
    """Base of every error curate reports to the user as a single line."""

    exit_code = 1


class ConfigError(CurateError):
    """The pipeline file is wrong: the message names the file, the node and the field."""

    exit_code = 2


class RunError(CurateError):
    """A run could not finish: partitions failed for reasons other than bad input records."""

    exit_code = 1


class UsageError(CurateError):
    """The command line is wrong (options that do not go together, a value out of range), as argparse's own
    mistakes: exit 2, like every other mistake."""

    exit_code = 2


class ModelError(RunError):
    """A model file exists but cannot be loaded (garbage, another format, truncated): every document would fail the
    same way, so the partition fails at once with one line naming the file."""


class Terminated(BaseException):
    """SIGTERM arrived (a scheduler's cancel, `kill`, `docker stop`). A BaseException, as KeyboardInterrupt, so that
    no `except Exception` on the way counts it as a document's or a partition's failure."""


def raise_terminated(signum: int, frame: object) -> None:
    """The SIGTERM handler the CLI installs: the run unwinds (executors shut down, Ray included) and says so."""
    raise Terminated()
