"""Reading back the summary table that `digitlab grade` prints, for the class tests."""

from __future__ import annotations


def summary_rows(out: str, students: list[str]) -> dict[str, str]:
    """{student: the table's first line for that student}."""
    return {line.split()[0]: line for line in out.splitlines()
            if line.split() and line.split()[0] in students}


def summary_problems(out: str, students: list[str]) -> dict[str, list[str]]:
    """{student: the problems the summary names}: the end of the student's line and the
    lines below it, which start at the problems column."""
    lines = out.splitlines()
    column = next(line for line in lines if line.startswith("student")).index("problems")
    found, student = {}, None
    for line in lines:
        if line.split() and line.split()[0] in students:
            student = line.split()[0]
            found[student] = [line[column:]] if line[column:].strip() else []
        elif student and line[:column].isspace() and line[column:].strip():
            found[student].append(line[column:])
        else:
            student = None
    return found
