"""`digitlab bundle`: the zip a student without a hub gets. Unpacked into an empty folder,
its README's two commands, run as written in a fresh venv (packages from the registries),
open JupyterLab on 127.0.0.1 and validate a perfect student's notebooks; and the zip holds
no solution, hidden test or key.

Slow: the first command installs JupyterLab and nbgrader into a new venv (a few minutes;
pip's cache makes it quicker).
"""

import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import nbformat
import pytest
from course_builder import ASSIGNMENT, KEY, NOTEBOOKS, leaked_lines, solved_release

from digitlab.cli import main
from digitlab.course.assignment.bundle import bundle_name

TOP = bundle_name(ASSIGNMENT)
SUCCESS = "Success! Your notebook passes all the tests."
INSTALL_TIMEOUT = 1200  # seconds for the venv, pip install and the lab's start


@pytest.fixture(scope="module")
def bundle(report_course, tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle")
    assert main(["bundle", ASSIGNMENT, "--course", str(report_course), "--out", str(out)]) == 0
    path = out / f"{TOP}.zip"
    return zipfile.ZipFile(path)


def readme_commands(readme: str) -> list[str]:
    """The README's code blocks, in order: the setup command and the validate command."""
    return [block.strip() for block in re.findall(r"```\n(.*?)```", readme, re.DOTALL)]


def student_environment(home: Path) -> dict[str, str]:
    """The student's shell: no venv of ours on PATH, Python's default of keeping compiled
    modules (this machine's environment may turn it off), `true` as the browser to open, and a
    free port. Jupyter refuses to run as root, which CI is and no student should be: then a
    Jupyter config in `home` allows it, so the README's command stays as students run it."""
    ours = str(Path(sys.executable).parent)
    path = os.pathsep.join(part for part in os.environ["PATH"].split(os.pathsep)
                           if part != ours)
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE")}
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment.update(PATH=path, BROWSER="true", JUPYTER_PORT=str(port))
    if os.geteuid() == 0:
        home.mkdir(exist_ok=True)
        (home / "jupyter_server_config.json").write_text(
            json.dumps({"ServerApp": {"allow_root": True}}))
        environment["JUPYTER_CONFIG_DIR"] = str(home)
    return environment


def test_the_zip_holds_the_release_the_wheel_and_a_readme(bundle):
    names = sorted(bundle.namelist())
    wheels = [name for name in names if name.endswith(".whl")]
    assert len(wheels) == 1 and wheels[0].startswith(f"{TOP}/digitlab-")
    assert names == sorted([f"{TOP}/README.md", *wheels,
                            *(f"{TOP}/{ASSIGNMENT}/{name}" for name in NOTEBOOKS)])
    assert len(readme_commands(bundle.read(f"{TOP}/README.md").decode())) == 2


def zip_text(archive: zipfile.ZipFile) -> str:
    """Every text the zip holds: README, the notebooks' cells, the wheel's files."""
    texts = []
    for name in archive.namelist():
        data = archive.read(name)
        if name.endswith(".whl"):
            texts.append(zip_text(zipfile.ZipFile(io.BytesIO(data))))
        elif name.endswith(".ipynb"):
            texts += [cell.source for cell in nbformat.reads(data.decode(), 4).cells]
        elif name.endswith((".py", ".md", ".txt", ".json", ".csv")):
            texts.append(data.decode())
    return "\n".join(texts)


def test_the_docs_give_the_readmes_commands(bundle):
    docs = (Path(__file__).parents[1] / "docs" / "student-bundle.md").read_text()
    for command in readme_commands(bundle.read(f"{TOP}/README.md").decode()):
        assert f"```\n{command}\n```" in docs, command


@pytest.mark.parametrize("marker", ["SOLUTION", "HIDDEN TESTS"])
def test_the_zip_holds_no_solution_or_hidden_test(bundle, marker):
    assert leaked_lines(zip_text(bundle), marker) == []


def test_the_zip_holds_no_key(bundle):
    assert not any("key" in name.lower() for name in bundle.namelist())
    answers = KEY.read_text().splitlines()[1:]
    text = zip_text(bundle)
    assert len(answers) > 100 and "\n".join(answers[:20]) not in text


@pytest.fixture(scope="module")
def unpacked(bundle, tmp_path_factory):
    """The bundle unpacked into an empty folder and its first command run there: the venv
    made, the wheel installed, the lab started. Yields (folder, the lab's answers to
    /api/status and /api/contents, the lab's log); the lab is stopped afterwards."""
    folder = tmp_path_factory.mktemp("student")
    assert list(folder.iterdir()) == []
    bundle.extractall(folder)
    folder = folder / TOP
    setup, _ = readme_commands((folder / "README.md").read_text())
    log = folder.parent / "lab.log"
    with log.open("w") as output:
        lab = subprocess.Popen(["bash", "-c", setup], cwd=folder,
                               env=student_environment(folder.parent / "jupyter"),
                               stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = None
        deadline = time.monotonic() + INSTALL_TIMEOUT
        while url is None and time.monotonic() < deadline and lab.poll() is None:
            time.sleep(2)
            url = re.search(r"http://127\.0\.0\.1:(\d+)/lab\?token=(\w+)", log.read_text())
        assert url, f"JupyterLab did not start:\n{log.read_text()[-3000:]}"
        port, token = url.groups()
        answers = {}
        for path in ("api/status", "api/contents"):
            request = urllib.request.Request(f"http://127.0.0.1:{port}/{path}",
                                             headers={"Authorization": f"token {token}"})
            with urllib.request.urlopen(request, timeout=30) as response:
                answers[path] = (response.status, json.loads(response.read()))
        yield folder, answers, log.read_text()
    finally:
        if lab.poll() is None:
            os.killpg(lab.pid, signal.SIGTERM)
            lab.wait(timeout=60)


def test_the_first_command_opens_the_lab_on_localhost_with_the_notebooks(unpacked):
    folder, answers, log = unpacked
    assert (folder / ".venv" / "bin" / "jupyter").exists()
    status, _ = answers["api/status"]
    assert status == 200
    status, contents = answers["api/contents"]
    names = sorted(item["name"] for item in contents["content"])
    assert status == 200 and set(NOTEBOOKS) <= set(names), names


def test_the_second_command_validates_a_perfect_students_notebooks(unpacked, report_course):
    folder, _, _ = unpacked
    for name, notebook in solved_release(report_course).items():
        nbformat.write(notebook, folder / ASSIGNMENT / name)
    # Notebook 05's public test wants the submission.csv that running the notebook in the
    # lab writes; the key stands in for a perfect student's predictions (as course_builder's
    # perfect student submits it). The student never has the key: see test_the_zip_holds_no_key.
    shutil.copy(KEY, folder / ASSIGNMENT / "submission.csv")
    _, validate = readme_commands((folder / "README.md").read_text())
    result = subprocess.run(["bash", "-c", validate], cwd=folder,
                            env=student_environment(folder.parent / "jupyter"),
                            capture_output=True, text=True, timeout=1200)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert output.count(SUCCESS) == len(NOTEBOOKS), output[-3000:]


def test_a_course_without_a_release_gets_no_bundle(tmp_path, capsys):
    assert main(["bundle", ASSIGNMENT, "--course", str(tmp_path), "--out",
                 str(tmp_path / "out")]) == 1
    assert "release the assignment first (nbgrader generate_assignment digit-lab)" in (
        capsys.readouterr().out)
    assert not (tmp_path / "out").exists()
