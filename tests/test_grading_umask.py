"""Grading under the instructor's umask 007.

nbgrader writes autograded/<student>/<assignment>/ with the grader's umask, and the grading
kernel runs there as a grading user who is neither the files' owner nor in their group. With
umask 007 that user could not read its own notebook: every hidden check failed, and
`digitlab grade` reported every student "graded" with 0 points. These tests run the real
thing as root, with the real grading users: a kernel reading its folder, the check children,
and `digitlab grade` on a perfect submission, each under umask 007.
"""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from course_builder import (
    ASSIGNMENT,
    KEY,
    NOTEBOOKS,
    SOURCE,
    copy_generated,
    solved_release,
    submit,
)
from lab_browser import require_root
from nbformat.v4 import new_code_cell, new_notebook
from summary_table import summary_rows

from digitlab.course.grading import gradebook
from digitlab.course.sandbox.bounded_execute import LimitedExecute
from digitlab.course.sandbox.limits import SLOT_VARIABLE, GradingLimits
from digitlab.course.sandbox.sandbox import SandboxError, check_ready, open_to_kernel

SLOT = 4  # as test_sandbox: the low slots may belong to another grader on this machine
UMASK = 0o007


@pytest.fixture(autouse=True)
def as_root(monkeypatch):
    require_root("grading users exist only for a root grader")
    monkeypatch.setenv(SLOT_VARIABLE, str(SLOT))
    assert check_ready(GradingLimits(), SLOT) == ([], [])


def written_under_umask(folder: Path) -> Path:
    """folder with a file and a subfolder's file, made under UMASK as nbgrader would."""
    old = os.umask(UMASK)
    try:
        (folder / "data").mkdir(parents=True)
        (folder / "answer.txt").write_text("mine\n")
        (folder / "data" / "table.txt").write_text("42\n")
    finally:
        os.umask(old)
    return folder


def run_kernel(folder: Path) -> list[str]:
    """The stdout of each cell of a notebook reading folder's files, run by LimitedExecute
    (a sandboxed kernel of a grading user) in folder, as autograde runs it."""
    notebook = new_notebook(cells=[new_code_cell(
        f"import os\nprint(os.getuid(), open({name!r}).read().strip())")
        for name in ("answer.txt", "data/table.txt")],
        metadata={"kernelspec": {"name": "python3", "language": "python",
                                 "display_name": "Python 3"}})
    notebook, _ = LimitedExecute(timeout=30).preprocess(
        notebook, {"metadata": {"path": str(folder)}, "unique_key": "probe"})
    return ["".join(output.get("text", "") or output.get("evalue", "")
                    for output in cell.outputs) for cell in notebook.cells]


def test_a_grading_kernel_reads_its_folder_written_under_umask_007(tmp_path):
    folder = written_under_umask(tmp_path / "autograded" / "student" / ASSIGNMENT)
    uid = str(os.stat(folder).st_uid)
    outputs = run_kernel(folder)
    grader_uid = {line.split()[0] for line in outputs}
    assert uid not in grader_uid  # the kernel ran as a grading user, not as the files' owner
    assert [line.split()[1] for line in outputs] == ["mine", "42"]
    # Only the working folder was opened: the student's and the class's folders stay closed.
    assert folder.stat().st_mode & 0o007 == 0o005
    assert (folder.parent.stat().st_mode & 0o007, folder.parents[1].stat().st_mode & 0o007) \
        == (0, 0)


def test_a_folder_that_cannot_be_opened_stops_the_grading(tmp_path):
    folder = written_under_umask(tmp_path / ASSIGNMENT)
    locked = folder / "answer.txt"
    subprocess.run(["chattr", "+i", str(locked)], check=True)  # not even root may chmod it
    try:
        with pytest.raises(SandboxError, match="cannot be allowed to read .*answer.txt"):
            open_to_kernel(folder)
        # LimitedExecute lets it through instead of failing cells, so nbgrader fails the
        # student's autograde and `digitlab grade` reports "not graded", never 0 points.
        with pytest.raises(SandboxError):
            run_kernel(folder)
    finally:
        subprocess.run(["chattr", "-i", str(locked)], check=True)


@pytest.fixture(scope="module")
def graded_under_umask(generated_course, tmp_path_factory):
    """`digitlab grade` run under umask 007 on a class of one perfect student."""
    course = copy_generated(generated_course, tmp_path_factory.mktemp("umask") / "course")
    submit(course, "perfect", solved_release(course), {"submission.csv": KEY})
    programs = Path(sys.executable).parent  # digitlab, and nbgrader's helpers such as alembic
    environment = {**os.environ, "PATH": f"{programs}{os.pathsep}{os.environ['PATH']}"}
    environment.pop(gradebook.DB_URL_VARIABLE, None)
    run = subprocess.run([str(programs / "digitlab"), "grade", ASSIGNMENT, "--course",
                          str(course), "--jobs", "1"], env=environment, umask=UMASK,
                         capture_output=True, text=True, timeout=900)
    return course, run


def test_digitlab_grade_under_umask_007_gives_the_perfect_student_full_marks(
        graded_under_umask):
    course, run = graded_under_umask
    assert run.returncode == 0, run.stdout + run.stderr
    graded = [cell for name in NOTEBOOKS for cell in nbformat.read(SOURCE / name, 4).cells
              if cell.metadata.get("nbgrader", {}).get("grade")]
    # Every test passes; the written answers wait for a person (0 until graded by hand).
    autograded_points = sum(cell.metadata.nbgrader.points for cell in graded
                            if cell.cell_type == "code")
    total = sum(cell.metadata.nbgrader.points for cell in graded)
    assert summary_rows(run.stdout, ["perfect"])["perfect"].split()[1:3] == [
        "graded", f"{autograded_points:g}/{total:g}"]
    scores = gradebook.read_scores(f"sqlite:///{course / 'gradebook.db'}", "digitlab",
                                   ASSIGNMENT)
    assert scores["perfect"].score == autograded_points
    # The instructor's umask still holds above the kernel's folder.
    assert (course / "autograded" / "perfect").stat().st_mode & 0o007 == 0

