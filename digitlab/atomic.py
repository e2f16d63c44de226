"""Write a file whole: whoever reads it sees the old file or the new one, never half of one.

    with atomic_write(path) as file:
        file.write(text)

The text goes to a temporary file next to path, which replaces path only once it is
complete (os.replace, atomic on one file system). An error or an interrupt on the way
(Ctrl+C included) removes the temporary file and leaves path as it was. Both sides use it:
the student's submission file, and the course's records and tables.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

MODE = 0o644  # mkstemp makes the file private; these are ordinary files


@contextmanager
def atomic_write(path: str | Path, newline: str | None = None) -> Iterator[TextIO]:
    """A text file (UTF-8, `newline` as open() takes it) that replaces path when the block
    ends without an error."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                         suffix=".partial")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline=newline) as file:
            yield file
        os.chmod(temporary, MODE)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
