"""Where each thing of a course lives: the one answer to "where is X of student S".

nbgrader lays a course folder out with CourseDirectory.format_path:
{root}/{step}/{student}/{assignment}/ (its directory_structure), the steps source, release,
submitted and autograded named by the course's nbgrader_config.py. The grading driver keeps
its own folder beside them, grading/<assignment>/, readable by the instructor only:

    grading/<assignment>/<student>.json          the record of the student's grading
    grading/<assignment>/logs/<student>.log      nbgrader's log of it
    grading/<assignment>/events/<student>.jsonl  limit hits and patched checks, as reported
    grading/<assignment>/staged/<student>/<assignment>/   the copy autograde reads
    grading/<assignment>/attempts/<student>.jsonl  who started grading the student (Dask)

On a Dask cluster (grading.cluster) every worker keeps its staged copies and events under a
folder of its own, grading/<assignment>/hosts/<worker>/{staged,events}/, so that a worker
that lost touch with the scheduler but still runs never writes where its replacement does:
CourseLayout(course, worker=NAME).

The staged copies are laid out as submitted/ is, so that autograde, run with
--CourseDirectory.submitted_directory=grading/<assignment>/staged, finds each student's copy
by the same format_path. Paths start with the course folder as the caller gave it (relative
stays relative), so messages name the folders the instructor typed.
"""

from __future__ import annotations

import os
from pathlib import Path

from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config

GRADING = "grading"
STAGED = "staged"
HOSTS = "hosts"


def course_config(course: str | Path, environment: dict[str, str] | None = None) -> Config:
    """COURSE/nbgrader_config.py as nbgrader reads it (traitlets' loader runs the file), with
    `environment` as os.environ while it runs; an empty Config when there is no file.

    The file may set environment variables (the answer key's): they are undone afterwards,
    so reading the config changes nothing in this process. It changes os.environ meanwhile:
    read it before starting threads.
    """
    from traitlets.config.loader import ConfigFileNotFound, PyFileConfigLoader

    saved = dict(os.environ)
    try:
        if environment is not None:
            os.environ.clear()
            os.environ.update(environment)
        return PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    except ConfigFileNotFound:
        return Config()
    finally:
        os.environ.clear()
        os.environ.update(saved)


class CourseLayout:
    """The folders and files of one course; see the module docstring.

    CourseLayout(course) reads the course's nbgrader_config.py (once: build it before
    starting threads, and pass it on); inside an nbgrader step, in_step(config) takes the
    step's own config, command-line settings included.
    """

    def __init__(self, course: str | Path, config: Config | None = None,
                 worker: str | None = None):
        self.root = Path(course)
        self.worker = worker  # a Dask worker's name: its own staging and events
        self.directory = CourseDirectory(
            config=course_config(course) if config is None else config,
            root=os.path.abspath(course))

    @classmethod
    def in_step(cls, config: Config) -> CourseLayout:
        """The layout an nbgrader step sees: its config's root and folders."""
        return cls(CourseDirectory(config=config).root, config)

    def _format(self, step: str, student: str, assignment: str) -> Path:
        """nbgrader's format_path, under self.root as given."""
        path = Path(self.directory.format_path(step, student, assignment))
        try:
            return self.root / path.relative_to(self.directory.root)
        except ValueError:  # a step configured as an absolute folder
            return path

    # nbgrader's folders
    def source(self, assignment: str) -> Path:
        """The assignment's source notebooks (with solutions and hidden tests)."""
        return self._format(self.directory.source_directory, ".", assignment)

    def release(self, assignment: str) -> Path:
        """The notebooks students were given (`nbgrader generate_assignment`)."""
        return self._format(self.directory.release_directory, ".", assignment)

    def submitted(self, student: str, assignment: str) -> Path:
        """The student's submission, as `nbgrader collect` left it."""
        return self._format(self.directory.submitted_directory, student, assignment)

    def autograded(self, student: str, assignment: str) -> Path:
        """What autograde graded, with the test cells' outputs."""
        return self._format(self.directory.autograded_directory, student, assignment)

    def submitted_folder(self) -> Path:
        """submitted/: a folder per student."""
        return self._format(self.directory.submitted_directory, "", "")

    def students(self, assignment: str) -> list[str]:
        """Every student with a folder in submitted/, sorted; FileNotFoundError when there
        is none. A folder may hold no submission of the assignment (nothing collected)."""
        submitted = self.submitted_folder()
        collect = f"collect the submissions first (nbgrader collect {assignment})."
        if not submitted.is_dir():
            raise FileNotFoundError(f"There is no folder {submitted}: {collect}")
        # Hidden folders (.ipynb_checkpoints and the like) are not students.
        found = [folder.name for folder in sorted(submitted.iterdir())
                 if folder.is_dir() and not folder.name.startswith(".")]
        if not found:
            raise FileNotFoundError(f"There are no students' folders in {submitted}: {collect}")
        return found

    def gradebook_file(self) -> Path:
        """nbgrader's default gradebook, SQLite in the course folder (CourseDirectory.db_url)."""
        return self.root.resolve() / "gradebook.db"

    # digitlab's own files
    def answer_key(self, assignment: str) -> Path:
        """The default answer key of the assignment's competition (never released)."""
        return self.root / "keys" / f"{assignment}.csv"

    def leaderboard_folder(self) -> Path:
        return self.root / "leaderboard"

    def report_folder(self) -> Path:
        return self.root / "report"

    # The grading driver's folder
    def grading(self, assignment: str) -> Path:
        """grading/<assignment>/: the records, logs, events and staged copies."""
        return self.root / GRADING / assignment

    def record(self, student: str, assignment: str) -> Path:
        return self.grading(assignment) / f"{student}.json"

    def logs(self, assignment: str) -> Path:
        return self.grading(assignment) / "logs"

    def log(self, student: str, assignment: str) -> Path:
        return self.logs(assignment) / f"{student}.log"

    def events(self, assignment: str) -> Path:
        return self._worker_folder(assignment) / "events"

    def _worker_folder(self, assignment: str) -> Path:
        """grading/<assignment>/, or the worker's own folder in it on a Dask cluster."""
        if self.worker is None:
            return self.grading(assignment)
        return self.grading(assignment) / HOSTS / self.worker

    def workers_folder(self, assignment: str) -> Path:
        """grading/<assignment>/hosts/: a folder per Dask worker that graded."""
        return self.grading(assignment) / HOSTS

    def attempts(self, student: str, assignment: str) -> Path:
        """One JSON line per start of the student's grading on a Dask cluster."""
        return self.grading(assignment) / "attempts" / f"{student}.jsonl"

    def events_file(self, student: str, assignment: str) -> Path:
        return self.events(assignment) / f"{student}.jsonl"

    def staging_step(self, assignment: str) -> str:
        """The submitted_directory that makes autograde read the staged copies: relative
        to the course, as nbgrader's steps are."""
        if self.worker is None:
            return f"{GRADING}/{assignment}/{STAGED}"
        return f"{GRADING}/{assignment}/{HOSTS}/{self.worker}/{STAGED}"

    def staging(self, assignment: str) -> Path:
        """The folder of every staged copy."""
        return self.root / self.staging_step(assignment)

    def staged(self, student: str, assignment: str) -> Path:
        """The student's staged copy, where autograde looks for it."""
        return self._format(self.staging_step(assignment), student, assignment)
