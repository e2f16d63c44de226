"""The one error every data reader raises, so callers can catch bad files in one place."""

from __future__ import annotations

from pathlib import Path


class DataFormatError(ValueError):
    """A data file is malformed.

    The message always names the file, where in it the problem is (a line, a record or a
    byte offset) and what to do about it, because the person reading it is usually a
    student who downloaded the file a minute ago.
    """

    def __init__(self, path: str | Path, where: str | None, problem: str, advice: str = ""):
        self.path = Path(path)
        self.where = where
        self.problem = problem
        location = f"{self.path}, {where}" if where else f"{self.path}"
        message = f"{location}: {problem}"
        if advice:
            message += f" {advice}"
        super().__init__(message)
