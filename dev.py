#!/usr/bin/env python3
"""Set up digitlab in ./.venv and run it. Needs only Python 3.11 or newer.

    python3 dev.py lab     # open the lab in JupyterLab on the bundled digits
    python3 dev.py test    # lint with ruff, then run the whole test suite
    python3 dev.py hub     # as root: a demo course on JupyterHub at http://127.0.0.1:8000/

Extra arguments go to JupyterLab or pytest, e.g. `python3 dev.py test -k gradcheck`.
The virtual environment is reinstalled only when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
STAMP = VENV / "digitlab-installed.txt"
FIRST_NOTEBOOK = "notebooks/tour.ipynb"  # opened in the browser; the server serves ROOT


def ensure_environment() -> None:
    """Create .venv and install digitlab with its test tools, unless already up to date."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print(f"Creating a virtual environment in {VENV} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    print("Installing digitlab and its dependencies (a few minutes the first time) ...",
          flush=True)
    subprocess.run([str(BIN / "python"), "-m", "pip", "install", "--quiet",
                    "--disable-pip-version-check", "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(wanted)


def lab(arguments: list[str]) -> NoReturn:
    # Jupyter refuses to run as root unless told; CI machines and containers run as root.
    as_root = ["--allow-root"] if os.geteuid() == 0 else []
    # Serving the repository root keeps nbgrader_config.py in the server's view.
    command = [str(BIN / "jupyter"), "lab", f"--ServerApp.root_dir={ROOT}",
               f"--LabApp.default_url=/lab/tree/{FIRST_NOTEBOOK}", *as_root, *arguments]
    os.chdir(ROOT)
    # Become JupyterLab, so that Ctrl+C or a signal reaches the server itself.
    os.execv(command[0], command)


def test(arguments: list[str]) -> int:
    lint = subprocess.run([str(BIN / "ruff"), "check", "."], cwd=ROOT).returncode
    tests = subprocess.run([str(BIN / "python"), "-m", "pytest", *arguments],
                           cwd=ROOT).returncode
    return tests or lint


def hub(arguments: list[str]) -> NoReturn:
    """The demo course of deploy/jupyterhub/demo.py, run by this environment's Python."""
    command = [str(BIN / "python"), str(ROOT / "deploy" / "jupyterhub" / "demo.py"), *arguments]
    os.execv(command[0], command)


def main() -> int:
    if sys.version_info < (3, 11):  # noqa: UP036 - this runs on whatever python3 is
        sys.exit(f"digitlab needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    commands = {"lab": lab, "test": test, "hub": hub}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    ensure_environment()
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
