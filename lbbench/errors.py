"""The few exception types a user sees.

Every user error carries *where* it happened (a file and key, a CLI flag, a
frame) so the command line can print one clear line and exit 2 instead of a
traceback.
"""

from __future__ import annotations


class LbbenchError(Exception):
    """Base of every error lbbench reports to a user as one line."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where
        self.message = message


class ConfigError(LbbenchError):
    """A configuration value is missing, of the wrong type or out of range."""


class NotFoundError(LbbenchError, KeyError):
    """A name that is not there (a metric, a scenario of a result set): one line for the
    command line, and still a KeyError for code that catches one."""

    __str__ = Exception.__str__  # (KeyError's would put the line in quotes)
