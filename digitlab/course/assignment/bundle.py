"""The student bundle: the assignment as one zip, for a course without a hub.

    digit-lab-student.zip
      digit-lab-student/README.md                          the student's two commands
      digit-lab-student/digit-lab/*.ipynb                  the release folder, as
                                                           generate_assignment made it
      digit-lab-student/digitlab-VERSION-py3-none-any.whl  the package the notebooks import

Nothing else goes in: the release holds no solution or hidden test (nbgrader removed them),
and the wheel holds only the package (tests/test_packaging.py), so neither the source
notebooks nor the answer key can reach a student this way.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import digitlab
from digitlab.course.layout import CourseLayout

VENV = ".venv"
README = """\
# {assignment}: the lab on your own computer

You need Python 3.11 or newer. Open a terminal in this folder (the one holding this file).

1. Set up the lab's Python and open the lab (the first time takes a few minutes):

   ```
   {setup}
   ```

   JupyterLab opens in your browser with the notebooks of `{assignment}/`. Next time, run
   only the last part: `{lab}`. Stop it with Ctrl+C in the terminal.

2. Before you hand in, check your notebooks as the grader will (run this in a second
   terminal, in this folder):

   ```
   {validate}
   ```

   Each notebook should say "Success! Your notebook passes all the tests." Hidden tests
   still run when your work is graded.

On Windows write `{venv}\\Scripts\\` where these commands say `{venv}/bin/`.
Hand in the folder `{assignment}/` as your instructor asks.
"""


class BundleError(Exception):
    """The bundle cannot be made; the message says why and what to do."""


def bundle_name(assignment: str) -> str:
    return f"{assignment}-student"


def student_commands(assignment: str, wheel: str) -> dict[str, str]:
    """The README's commands, run from the unpacked bundle's folder: setup (makes the venv,
    installs the wheel and opens the lab), lab (opens it again) and validate."""
    lab = f"{VENV}/bin/jupyter lab {assignment}"
    # --no-compile: pip would compile all of JupyterLab's and its dependencies' modules, a
    # quarter of the install; Python compiles (and keeps) only those the lab imports.
    return {"setup": f"python3 -m venv {VENV} && {VENV}/bin/python -m pip install --no-compile "
                     f"./{wheel} && {lab}",
            "lab": lab,
            "validate": f"{VENV}/bin/nbgrader validate {assignment}/*.ipynb"}


def project_folder() -> Path:
    """The source folder of the digitlab this process runs (an editable install's)."""
    folder = Path(digitlab.__file__).resolve().parents[1]
    if not (folder / "pyproject.toml").is_file():
        raise BundleError(f"digitlab runs from {folder}, not from its source folder, so its "
                          "wheel cannot be built here: pass the wheel with --wheel, or "
                          "install digitlab with `pip install -e SOURCE_FOLDER`.")
    return folder


def build_wheel(into: Path) -> Path:
    """The digitlab wheel, built by `pip wheel --no-deps` from the installed project."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
         "--disable-pip-version-check", "-w", str(into), str(project_folder())],
        capture_output=True, text=True)
    wheels = sorted(into.glob("digitlab-*.whl"))
    if result.returncode != 0 or not wheels:
        raise BundleError(f"pip wheel could not build digitlab:\n{result.stderr[-2000:]}")
    return wheels[0]


def write_bundle(course: str | Path, assignment: str, out: str | Path,
                 wheel: str | Path | None = None) -> Path:
    """Write OUT/ASSIGNMENT-student.zip from the course's release folder and the digitlab
    wheel (built from the installed project unless given); returns its path."""
    release = CourseLayout(course).release(assignment)
    notebooks = sorted(release.glob("*.ipynb"))
    if not notebooks:
        raise BundleError(f"There are no notebooks in {release}: release the assignment "
                          f"first (nbgrader generate_assignment {assignment}).")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    top = bundle_name(assignment)
    with tempfile.TemporaryDirectory(prefix="digitlab-bundle-") as scratch:
        if wheel is None:
            wheel = build_wheel(Path(scratch))
        wheel = Path(wheel)
        if not wheel.is_file():
            raise BundleError(f"There is no wheel {wheel}.")
        commands = student_commands(assignment, wheel.name)
        readme = README.format(assignment=assignment, venv=VENV, **commands)
        target = out / f"{top}.zip"
        # Whole or not at all: a half-written zip would look like a bundle.
        partial = out / f".{top}.zip.partial"
        try:
            with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
                archive.writestr(f"{top}/README.md", readme)
                for path in sorted(release.rglob("*")):
                    # Checkpoints and the like are the instructor's, not the release's.
                    inside = path.relative_to(release)
                    if path.is_file() and not any(part.startswith(".") for part in inside.parts):
                        archive.write(path, f"{top}/{assignment}/{inside}")
                archive.write(wheel, f"{top}/{wheel.name}")
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    return target
