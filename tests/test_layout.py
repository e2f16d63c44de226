"""The course layout: every path of a course, from nbgrader's format_path and the course's
own nbgrader_config.py, and the staged copies where autograde looks for them."""

import os
from pathlib import Path

import pytest
from course_builder import ASSIGNMENT, REPO

from digitlab.course.layout import CourseLayout, course_config


def test_the_course_config_names_the_source_and_paths_stay_as_given(tmp_path, monkeypatch):
    """With the repository's config, the source is notebooks/; a relative course gives
    relative paths, so messages name the folders the instructor typed."""
    (tmp_path / "nbgrader_config.py").write_bytes((REPO / "nbgrader_config.py").read_bytes())
    monkeypatch.chdir(tmp_path)
    layout = CourseLayout(".")
    assert layout.source(ASSIGNMENT) == Path("notebooks", ASSIGNMENT)
    assert layout.release(ASSIGNMENT) == Path("release", ASSIGNMENT)
    assert layout.submitted("s1", ASSIGNMENT) == Path("submitted", "s1", ASSIGNMENT)
    assert layout.autograded("s1", ASSIGNMENT) == Path("autograded", "s1", ASSIGNMENT)
    assert layout.record("s1", ASSIGNMENT) == Path("grading", ASSIGNMENT, "s1.json")
    assert layout.events_file("s1", ASSIGNMENT) == Path("grading", ASSIGNMENT, "events",
                                                        "s1.jsonl")
    assert layout.gradebook_file() == tmp_path.resolve() / "gradebook.db"


def test_reading_the_config_leaves_the_environment_as_it_was(tmp_path):
    """A config may set environment variables (the repository's sets DIGITLAB_ANSWER_KEY);
    reading it must leave os.environ as it was."""
    (tmp_path / "nbgrader_config.py").write_text(
        'import os\nos.environ["DIGITLAB_LAYOUT_PROBE"] = "set"\n'
        'c.CourseDirectory.submitted_directory = "collected"\n')
    before = dict(os.environ)
    assert course_config(tmp_path).CourseDirectory.submitted_directory == "collected"
    assert dict(os.environ) == before


def test_the_configured_folders_and_structure_are_honoured(tmp_path):
    """A course that renames nbgrader's steps or its directory structure gets them
    everywhere: the layout asks nbgrader's CourseDirectory, never builds the path itself."""
    (tmp_path / "nbgrader_config.py").write_text(
        'c.CourseDirectory.submitted_directory = "collected"\n'
        'c.CourseDirectory.directory_structure = "{nbgrader_step}/{assignment_id}/{student_id}"\n')
    layout = CourseLayout(tmp_path)
    assert layout.submitted("s1", ASSIGNMENT) == tmp_path / "collected" / ASSIGNMENT / "s1"
    assert layout.submitted_folder() == tmp_path / "collected"


def test_autograde_finds_each_staged_copy_where_the_driver_put_it(tmp_path):
    """Run with submitted_directory set to the staging step, nbgrader's own layout of the
    submitted folder is the driver's staged copy, for every student."""
    driver = CourseLayout(tmp_path)
    step = course_config(tmp_path)
    step.CourseDirectory.root = str(tmp_path)
    step.CourseDirectory.submitted_directory = driver.staging_step(ASSIGNMENT)
    autograde = CourseLayout.in_step(step)
    for student in ("s1", "anon-7f"):
        assert autograde.submitted(student, ASSIGNMENT) == driver.staged(student, ASSIGNMENT)
        assert driver.staged(student, ASSIGNMENT).is_relative_to(driver.staging(ASSIGNMENT))
        assert driver.staging(ASSIGNMENT).is_relative_to(driver.grading(ASSIGNMENT))


def test_students_are_the_folders_of_submitted(tmp_path):
    layout = CourseLayout(tmp_path)
    with pytest.raises(FileNotFoundError, match="There is no folder .*nbgrader collect"):
        layout.students(ASSIGNMENT)
    (tmp_path / "submitted" / ".ipynb_checkpoints").mkdir(parents=True)
    (tmp_path / "submitted" / "notes.txt").write_text("not a student")
    with pytest.raises(FileNotFoundError, match="no students' folders"):
        layout.students(ASSIGNMENT)
    for student in ("zoe", "al"):
        (tmp_path / "submitted" / student).mkdir()
    assert layout.students(ASSIGNMENT) == ["al", "zoe"]
