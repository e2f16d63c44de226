"""The course's nbgrader gradebook: where it is, making it ready for parallel graders, and
reading the scores back.

nbgrader keeps grades in a database given by a SQLAlchemy URL (`CourseDirectory.db_url`):
SQLite in the course folder by default, or PostgreSQL when several graders or machines share
one gradebook (`postgresql+psycopg://USER:PASSWORD@HOST/DB`).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from digitlab.course.layout import CourseLayout, course_config

DB_URL_VARIABLE = "DIGITLAB_DB_URL"
# How long a SQLite writer waits for another's lock. Autograde commits once per cell, in a few
# milliseconds, so 30 s is never reached by a handful of graders; with no wait at all, most
# parallel commits fail with "database is locked".
SQLITE_TIMEOUT = 30
# The module that runs nbgrader's command (nbgrader_app), started or forked (autograde_servers).
NBGRADER_MODULE = "digitlab.course.grading.nbgrader_app"


class GradebookError(Exception):
    """The gradebook cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class CourseSettings:
    """What nbgrader reads from the course's nbgrader_config.py."""

    course_id: str
    db_url: str | None  # None: the config leaves nbgrader's default
    grading_limits: dict  # the config's c.GradingLimits settings (digitlab.course.sandbox.limits)


@dataclass(frozen=True)
class NotebookScore:
    notebook: str
    score: float
    max_score: float


@dataclass(frozen=True)
class StudentScore:
    """A student's points in the gradebook: autograded and, once given, manual points."""

    student: str
    score: float
    max_score: float
    notebooks: tuple[NotebookScore, ...]


def nbgrader_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """os.environ for an nbgrader process, with this Python's bin/ first on PATH.

    nbgrader runs `alembic` by name when it creates a gradebook; from a venv that is not
    activated (`.venv/bin/digitlab`) it would not be found.
    """
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {**os.environ, "PATH": path, **(extra or {})}


def nbgrader_command(*arguments: str) -> list[str]:
    """`nbgrader ARGUMENTS` run by this Python, whichever nbgrader is on PATH, through
    nbgrader_app (the same command, started 1.8 s sooner)."""
    return [sys.executable, "-m", NBGRADER_MODULE, *arguments]


def course_settings(course: str | Path, environment: dict[str, str] | None = None
                    ) -> CourseSettings:
    """course_id, db_url and the grading limits that COURSE/nbgrader_config.py sets, read
    as nbgrader reads them (layout.course_config) with `environment` as os.environ while the
    file runs. Without the file, nbgrader's defaults.
    """
    config = course_config(course, environment)
    directory = config.get("CourseDirectory", {})
    # nbgrader's own defaults when the config leaves them out.
    return CourseSettings(directory.get("course_id", "default_course"),
                          directory.get("db_url") or None,
                          dict(config.get("GradingLimits", {})))


def resolve_db_url(course: str | Path, db_url: str | None = None) -> str:
    """The gradebook's URL: db_url if given, else $DIGITLAB_DB_URL, else the course's
    config, else nbgrader's default (COURSE/gradebook.db). SQLite URLs get a busy timeout."""
    url = (db_url or os.environ.get(DB_URL_VARIABLE) or course_settings(course).db_url
           or f"sqlite:///{CourseLayout(course).gradebook_file()}")
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite") and "timeout" not in parsed.query:
        parsed = parsed.update_query_dict({"timeout": str(SQLITE_TIMEOUT)})
    return parsed.render_as_string(hide_password=False)


def shown(db_url: str) -> str:
    """db_url for messages and logs: the password masked."""
    return make_url(db_url).render_as_string(hide_password=True)


def worker_settings(course: str | Path, db_url: str) -> tuple[dict[str, str], list[str]]:
    """(environment, extra arguments) that point an nbgrader process at db_url.

    The URL travels in $DIGITLAB_DB_URL, which the course's config reads, so a password never
    shows in `ps`. A config that does not read the variable gets it on the command line.
    """
    environment = nbgrader_environment({DB_URL_VARIABLE: db_url})
    if course_settings(course, environment).db_url == db_url:
        return environment, []
    return environment, [f"--CourseDirectory.db_url={db_url}"]


@contextlib.contextmanager
def _alembic_on_path():
    """nbgrader's Gradebook() runs `alembic` by name on an empty database."""
    saved = os.environ.get("PATH")
    os.environ["PATH"] = nbgrader_environment()["PATH"]
    try:
        yield
    finally:
        if saved is None:
            del os.environ["PATH"]
        else:
            os.environ["PATH"] = saved


def open_gradebook(db_url: str, course_id: str):
    """nbgrader's Gradebook for course_id (creating the tables in an empty database).

    Pass the course id: without it nbgrader inserts a stray "default_course" row.
    Raises GradebookError when the database cannot be reached.
    """
    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with _alembic_on_path():
            return Gradebook(db_url, course_id)
    except SQLAlchemyError as error:
        # A DBAPIError's .orig is the driver's own error, which says what went wrong.
        reason = str(getattr(error, "orig", None) or error).strip()
        raise GradebookError(f"Cannot open the gradebook {shown(db_url)}: {reason}") from error


def prepare(course: str | Path, assignment: str, db_url: str, students: list[str]) -> list[str]:
    """Make the gradebook ready for graders working in parallel; returns what was done.

    Run once, before any grader. Graders started on an empty gradebook race to create its
    tables, and autograde never creates the assignment: it needs the assignment's notebooks
    and cells in the gradebook. So this creates the tables, runs the real `nbgrader
    generate_assignment` against db_url when the assignment's notebooks are missing (a new
    PostgreSQL gradebook; the release goes to a temporary folder, so the course's release/ is
    untouched), and adds every student. Afterwards each grader writes only its own
    student's rows.
    """
    from nbgrader.api import MissingEntry

    settings = course_settings(course)
    done = []
    with open_gradebook(db_url, settings.course_id) as gradebook:
        try:
            have = {notebook.name for notebook in gradebook.find_assignment(assignment).notebooks}
        except MissingEntry:
            have = set()
    source = CourseLayout(course).source(assignment)
    if not {path.stem for path in source.glob("*.ipynb")} <= have:
        environment, arguments = worker_settings(course, db_url)
        with tempfile.TemporaryDirectory(prefix="digitlab-release-") as release:
            result = subprocess.run(
                nbgrader_command("generate_assignment", assignment, "--force",
                                 f"--CourseDirectory.release_directory={release}", *arguments),
                cwd=course, env=environment, capture_output=True, text=True)
        if result.returncode != 0:
            raise GradebookError(f"nbgrader generate_assignment {assignment} failed, so the "
                                 f"gradebook lacks the assignment:\n{result.stderr[-2000:]}")
        done.append(f"added the assignment {assignment} with its notebooks and cells")
    with open_gradebook(db_url, settings.course_id) as gradebook:
        known = {student.id for student in gradebook.students}
        for student in students:
            if student not in known:
                gradebook.update_or_create_student(student)
    if new := len(set(students) - known):
        done.append(f"added {new} students")
    return done


def read_scores(db_url: str, course_id: str, assignment: str,
                students: list[str] | None = None) -> dict[str, StudentScore]:
    """{student: their scores} for every submission of the assignment in the gradebook (or
    only those of `students`). A test cell that failed scores 0; a written answer scores 0
    until graded by hand."""
    from nbgrader.api import MissingEntry

    scores = {}
    with open_gradebook(db_url, course_id) as gradebook:
        submissions = []
        if students is None:
            with contextlib.suppress(MissingEntry):
                submissions = gradebook.find_assignment(assignment).submissions
        for student in students or ():
            with contextlib.suppress(MissingEntry):
                submissions.append(gradebook.find_submission(assignment, student))
        for submission in submissions:
            notebooks = tuple(NotebookScore(notebook.name, notebook.score, notebook.max_score)
                              for notebook in sorted(submission.notebooks,
                                                     key=lambda notebook: notebook.name))
            scores[submission.student_id] = StudentScore(
                submission.student_id, submission.score, submission.max_score, notebooks)
    return scores
