"""Grade a class of attackers with the real `digitlab grade`, and check that every attack
fails safely.

One course, one run of the installed command (`digitlab grade digit-lab --jobs 2`) on the
class of tests/adversarial.py: two honest students and one student per attack (endless loops
that ignore interrupts, a memory bomb, a fork bomb, gigabytes of output, tampered and
skip-tagged tests, monkeypatched checks, reading the answer key, vandalising other students'
files and the gradebook, a missing and corrupt notebooks). The course runs with small limits
(GRADING_LIMITS) and its key at mode 600, as the README tells instructors.

Checked for every student: exactly the autograded points its submission deserves, per
notebook; the problem named in the summary and the grading record. For the whole class:
submitted/ unchanged, no grading process left, nothing outside the vandal's own folders
vandalised, nothing learnt from the key.

The sandbox drops to per-slot users, cgroups and a network namespace, which needs root: the
module skips when not root, and fails instead under CI=true.
"""

from __future__ import annotations

import os
import pwd
import re
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from adversarial import (
    COMPETITION,
    LINEAR,
    MAX_SCORES,
    RANDOMNESS,
    STUDENTS,
    VANDAL_MARK,
    Attack,
    submit_class,
    write_zero_labels,
)
from course_builder import ASSIGNMENT, KEY, copy_generated, tree_digest
from lab_browser import require_root
from summary_table import summary_problems, summary_rows

from digitlab.course.grading import gradebook
from digitlab.course.records import read_records
from digitlab.testing import PUBLIC_PASS

# Small enough that each attack ends quickly, large enough for an honest notebook. The cell
# timeout is well under the CPU limit, so the flood (which does not ignore the interrupt) is
# stopped by the timeout, never by a race with SIGXCPU.
GRADING_LIMITS = {"cpu_seconds": 20, "notebook_wall_seconds": 40, "memory_bytes": 2**30,
                  "processes": 64, "output_bytes": 2**20}
CELL_TIMEOUT = 10
# The driver's own limit per student: far above what the grading limits allow, so a student
# stopped by it (NOT GRADED) means a limit did not work.
STUDENT_TIMEOUT = 240
DIGITLAB = Path(sys.executable).with_name("digitlab")


@dataclass
class Run:
    course: Path
    attacks: dict[str, Attack]
    status: int
    out: str
    err: str
    seconds: float
    submitted_before: str
    files_before: dict[str, bytes]  # the config and the key




@pytest.fixture(scope="module")
def run(generated_course, tmp_path_factory) -> Run:
    require_root("the grading sandbox needs root (users, cgroups, network namespaces)")
    course = copy_generated(generated_course, tmp_path_factory.mktemp("adversarial") / "course")
    with open(course / "nbgrader_config.py", "a") as config:
        config.write("\n# Test-sized limits (tests/test_adversarial_class.py).\n"
                     + "".join(f"c.GradingLimits.{name} = {value!r}\n"
                               for name, value in GRADING_LIMITS.items())
                     + f"c.Execute.timeout = {CELL_TIMEOUT}\n")
    (course / "keys" / KEY.name).chmod(0o600)
    attacks = submit_class(course, write_zero_labels(course.parent / "zeros.csv"))
    files = {path: (course / path).read_bytes()
             for path in ("nbgrader_config.py", f"keys/{KEY.name}")}
    before = tree_digest(course / "submitted")
    environment = {name: value for name, value in os.environ.items()
                   if name != gradebook.DB_URL_VARIABLE}
    start = time.perf_counter()
    result = subprocess.run([str(DIGITLAB), "grade", ASSIGNMENT, "--jobs", "2",
                             "--timeout", str(STUDENT_TIMEOUT)],
                            cwd=course, env=environment, capture_output=True, text=True,
                            timeout=len(attacks) * STUDENT_TIMEOUT)
    return Run(course, {attack.student: attack for attack in attacks}, result.returncode,
               result.stdout, result.stderr, time.perf_counter() - start, before, files)


def outputs(run: Run, student: str, notebook: str) -> str:
    """Every output text of the student's autograded notebook, errors included."""
    cells = nbformat.read(run.course / "autograded" / student / ASSIGNMENT / notebook, 4).cells
    texts = []
    for cell in cells:
        for output in cell.get("outputs", []):
            texts += [output.get("text", ""), output.get("ename", ""), output.get("evalue", ""),
                      *output.get("data", {}).values()]
    return "\n".join(map(str, texts))


def left_behind(course: Path) -> list[str]:
    """`pid user name cwd` of every process that runs in the course folder (a kernel's
    children run in autograded/<student>/<assignment>) or belongs to a digitlab-grader-*
    user. Another engineer's grading on the same machine has its kernels elsewhere, so
    those of a grader user are only counted when their folder is this course's or gone."""
    users = {user.pw_uid: user.pw_name for user in pwd.getpwall()
             if user.pw_name.startswith("digitlab-grader")}
    found = []
    for process in Path("/proc").glob("[0-9]*"):
        try:
            status = (process / "status").read_text()
            cwd = os.readlink(process / "cwd")
        except OSError:  # it ended meanwhile
            continue
        uid = int(re.search(r"^Uid:\s+(\d+)", status, re.MULTILINE)[1])
        in_course = cwd == str(course) or cwd.startswith(f"{course}/")
        if in_course or (uid in users and (not Path(cwd).exists() or "(deleted)" in cwd)):
            name = re.search(r"^Name:\s+(.*)$", status, re.MULTILINE)[1]
            found.append(f"{process.name} {users.get(uid, uid)} {name} {cwd}")
    return found


def test_every_student_is_graded_in_bounded_time(run):
    assert run.status == 0, run.out + run.err[-3000:]
    assert sorted(summary_rows(run.out, STUDENTS)) == sorted(STUDENTS), run.out
    count = len(STUDENTS)
    assert f"{count} students: {count} graded, 0 not graded." in run.out, run.out
    print(run.out)
    print(f"digitlab grade took {run.seconds:.0f} s")


@pytest.mark.parametrize("student", STUDENTS)
def test_each_student_gets_exactly_the_points_it_deserves(run, student):
    expected = run.attacks[student].points
    scores = gradebook.read_scores(f"sqlite:///{run.course / 'gradebook.db'}", "digitlab",
                                   ASSIGNMENT, [student])[student]
    notebooks = {f"{notebook.notebook}.ipynb": notebook for notebook in scores.notebooks}
    assert {name: notebook.score for name, notebook in notebooks.items()} == expected
    assert {name: notebook.max_score for name, notebook in notebooks.items()} == MAX_SCORES
    assert summary_rows(run.out, STUDENTS)[student].split()[1:3] == [
        "graded", f"{sum(expected.values()):g}/{sum(MAX_SCORES.values()):g}"]


@pytest.mark.parametrize("student", STUDENTS)
def test_the_summary_and_the_record_name_the_problem(run, student):
    attack = run.attacks[student]
    named = summary_problems(run.out, STUDENTS)[student]
    text = "\n".join(named).lower()
    # The summary shows a few problems and says how many more `digitlab report` lists.
    more = re.search(r"and (\d+) more", text)
    unnamed = [phrase for phrase in attack.problems if phrase.lower() not in text]
    assert len(unnamed) <= (int(more[1]) if more else 0), (unnamed, named)
    if not (attack.problems or attack.limits or attack.patched):
        assert named == []
    record = read_records(run.course, ASSIGNMENT)[0][student]
    assert {hit.limit for hit in record.limits} == attack.limits, record
    assert {check.grade_id for check in record.patched_checks} == attack.patched, record


def test_submitted_is_unchanged(run):
    assert tree_digest(run.course / "submitted") == run.submitted_before


def test_no_grading_process_is_left(run):
    assert left_behind(run.course) == []


def test_the_vandal_changed_nothing_but_its_own_files(run):
    said = outputs(run, "vandal", LINEAR)
    assert "refused write" in said and "ALLOWED" not in said, said
    assert {path: (run.course / path).read_bytes() for path in run.files_before} == (
        run.files_before)
    assert not list(run.course.rglob("vandal.txt"))
    vandalised = [str(path) for path in run.course.rglob("*")
                  if path.is_file() and "vandal" not in path.relative_to(run.course).parts
                  and path.name not in ("vandal.json", "vandal.log")
                  and VANDAL_MARK.encode() in path.read_bytes()]
    assert vandalised == []
    # The gradebook is whole, and no grade has a manual score or extra credit.
    connection = sqlite3.connect(run.course / "gradebook.db")
    try:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert connection.execute("SELECT COUNT(*) FROM grade WHERE manual_score IS NOT NULL "
                                  "OR extra_credit IS NOT NULL").fetchall() == [(0,)]
    finally:
        connection.close()
    # The others' autograded notebooks still hold their outputs: every test cell passed.
    for student in STUDENTS:
        if (run.course / "autograded" / student / ASSIGNMENT / LINEAR).exists() and (
                run.attacks[student].points[LINEAR] == MAX_SCORES[LINEAR]):
            assert outputs(run, student, LINEAR).count(PUBLIC_PASS) == 6, student


def test_the_key_reader_learned_nothing(run):
    said = outputs(run, "key_reader", COMPETITION)
    assert "refused" in said and "READ" not in said, said
    key_rows = KEY.read_text().splitlines()[1:4]
    for student in STUDENTS:
        for notebook in (run.course / "autograded" / student / ASSIGNMENT).glob("*.ipynb"):
            assert str(key_rows) not in notebook.read_text(errors="replace"), notebook


def test_the_flood_is_cut_to_the_output_cap(run):
    flooded = run.course / "autograded" / "flood" / ASSIGNMENT / RANDOMNESS
    assert flooded.stat().st_size < GRADING_LIMITS["output_bytes"] + 2**20


def test_the_fork_bomb_is_refused_below_the_process_limit(run):
    said = outputs(run, "fork_bomb", RANDOMNESS)
    children = re.search(r"fork refused after (\d+) children", said)
    assert children and int(children[1]) < GRADING_LIMITS["processes"], said


def test_the_fork_bombs_failed_cells_are_not_shown_as_passed(run):
    """The grader's own run of notebook 04's checks passes, but the notebook's run could not
    start a process: the feedback says that the cell still fails."""
    notebook = nbformat.read(run.course / "autograded" / "fork_bomb" / ASSIGNMENT / RANDOMNESS,
                             as_version=4)
    notes = [output.text for cell in notebook.cells for output in cell.get("outputs", [])
             if output.get("text", "").startswith("Checked by the grader outside your notebook")]
    assert len(notes) == 2
    assert all("the cell still fails: its run in your notebook failed" in note for note in notes)
