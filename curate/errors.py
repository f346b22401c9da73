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
