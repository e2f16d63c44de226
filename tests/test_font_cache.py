"""matplotlib's font list is built once by the grader and each sandbox gets its own copy."""

import json
import os
import subprocess
import sys

import pytest

from digitlab.course.sandbox.font_cache import FONT_LISTS, font_lists
from digitlab.course.sandbox.limits import GradingLimits
from digitlab.course.sandbox.sandbox import SUBFOLDERS, Sandbox, _grader_folder, machine


def test_the_font_list_is_built_once_in_the_graders_folder(tmp_path):
    built = font_lists(tmp_path)
    assert len(built) == 1 and built[0].match(FONT_LISTS)
    assert "ttflist" in json.loads(built[0].read_text())  # matplotlib's own format
    assert built[0].parent.parent == tmp_path and built[0].parent.stat().st_mode & 0o077 == 0
    before = built[0].stat().st_mtime_ns
    font_lists.cache_clear()  # a later grader finds it and does not build it again
    assert font_lists(tmp_path) == built and built[0].stat().st_mtime_ns == before


def test_a_sandbox_starts_with_its_own_copy_that_matplotlib_reads_as_is(tmp_path):
    box = Sandbox(GradingLimits())
    try:
        folder = box.directory / SUBFOLDERS["MPLCONFIGDIR"]
        copies = sorted(folder.glob(FONT_LISTS))
        sources = font_lists(_grader_folder())
        assert sources and [copy.name for copy in copies] == [source.name for source in sources]
        assert [copy.read_bytes() for copy in copies] == [
            source.read_bytes() for source in sources]
        if machine().root:
            assert {copy.stat().st_uid for copy in copies} == {box.account.pw_uid}
        stamp = copies[0].stat().st_mtime_ns
        # matplotlib in that folder loads the list instead of scanning the fonts again.
        run = subprocess.run([sys.executable, "-I", "-c", "import matplotlib.font_manager"],
                             env={**os.environ, "MPLCONFIGDIR": str(folder)},
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        assert copies[0].stat().st_mtime_ns == stamp
    finally:
        box.close()


@pytest.mark.skipif(not machine().root, reason="needs root: two sandboxes of two slot users")
def test_what_one_kernel_writes_to_its_font_list_never_reaches_the_next():
    first = Sandbox(GradingLimits())
    try:
        written = next((first.directory / SUBFOLDERS["MPLCONFIGDIR"]).glob(FONT_LISTS))
        written.write_text("{}")
    finally:
        first.close()
    second = Sandbox(GradingLimits())
    try:
        copy = next((second.directory / SUBFOLDERS["MPLCONFIGDIR"]).glob(FONT_LISTS))
        assert "ttflist" in json.loads(copy.read_text())
    finally:
        second.close()
