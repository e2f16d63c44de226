"""How long each source notebook takes to run top to bottom with the reference solutions,
as a student's full run in JupyterLab would (training included). The target is 60 s each.

    .venv/bin/python benchmarks/notebook_times.py

This prints figures; it is not a test.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from course_builder import KEY, NOTEBOOKS, SOURCE  # noqa: E402 - test tooling lives in tests/


def main() -> None:
    os.environ["DIGITLAB_ANSWER_KEY"] = str(KEY)  # for notebook 05's hidden tests
    os.environ.pop("NBGRADER_EXECUTION", None)
    with tempfile.TemporaryDirectory() as folder:
        for name in NOTEBOOKS:
            shutil.copy(SOURCE / name, folder)
        for name in NOTEBOOKS:
            notebook = nbformat.read(Path(folder) / name, as_version=4)
            start = time.perf_counter()
            NotebookClient(notebook, timeout=600, kernel_name="python3",
                           resources={"metadata": {"path": folder}}).execute()
            print(f"{name:<30} {time.perf_counter() - start:5.1f} s (kernel start included)")


if __name__ == "__main__":
    main()
