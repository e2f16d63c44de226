"""CSV tables of students' text: written whole, and safe to open in a spreadsheet.

The leaderboard and the class report both write them: student ids, error messages and
outputs are the students' own text, and a spreadsheet would run some of it as a formula.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from digitlab.atomic import atomic_write

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, "CSV
# Injection"); a student id or an error message can start with one.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER_TEXT = re.compile(r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def write_table(records: list[dict], path: Path, columns: list[str] | None = None) -> Path:
    """Write records as a CSV file with a header, replacing path whole; columns default to
    the first record's keys (then there must be one). Every text cell goes through
    spreadsheet_safe: the leaderboard and the class report hold students' text."""
    with atomic_write(path, newline="") as file:
        # csv's own line ending, \r\n (RFC 4180): with "\n", Python 3.11 leaves a field
        # holding a lone \r unquoted, and a student's \r then splits the row in two.
        writer = csv.DictWriter(file, fieldnames=columns or list(records[0]))
        writer.writeheader()
        writer.writerows({key: spreadsheet_safe(value) for key, value in record.items()}
                         for record in records)
    return path


def spreadsheet_safe(value):
    """value, or for text that a spreadsheet would run as a formula, the text after a "'"
    (which shows it as text). Numbers, and text that is just a number such as "-0.5", stay."""
    if (isinstance(value, str) and value.startswith(FORMULA_START)
            and not _NUMBER_TEXT.fullmatch(value)):
        return "'" + value
    return value
