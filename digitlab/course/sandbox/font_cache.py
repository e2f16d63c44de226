"""matplotlib's font list for grading kernels, built once and copied into each sandbox.

Every sandbox gives its kernel an empty, private MPLCONFIGDIR (sandbox.SUBFOLDERS), so that
nothing one student's kernel writes there reaches another's. But matplotlib, finding no font
list in it, scans the machine's fonts and writes one: 0.35 s in each of the lab's five
kernels, all of which import matplotlib. So the grader builds the list once, as itself, in a
folder that only it may write, and each new sandbox starts from a copy of it: a fresh copy
per kernel, so the isolation is the one an empty folder gives.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

FONT_LISTS = "fontlist-*.json"  # matplotlib's name for it, with its format's version


@functools.cache
def font_lists(grader_folder: Path) -> tuple[Path, ...]:
    """The font list files to copy into a kernel's MPLCONFIGDIR, built in grader_folder (a
    folder only the grader writes) on the first call on this machine; one per matplotlib
    version, since the list's format follows it. Empty when matplotlib is not installed or
    could not build the list: kernels then build their own, as without this module."""
    try:
        version = importlib.metadata.version("matplotlib")
    except importlib.metadata.PackageNotFoundError:
        return ()
    folder = grader_folder / f"matplotlib-{version}"
    if not any(folder.glob(FONT_LISTS)):
        folder.mkdir(mode=0o700, exist_ok=True)
        # A Python of its own, so the grader's process never loads matplotlib.
        subprocess.run([sys.executable, "-I", "-c", "import matplotlib.font_manager"],
                       env={**os.environ, "MPLCONFIGDIR": str(folder)}, capture_output=True)
    return tuple(sorted(folder.glob(FONT_LISTS)))
