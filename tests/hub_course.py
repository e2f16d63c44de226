"""The course of deploy/jupyterhub/ on a real JupyterHub, for tests/test_hub.py.

`running_hub` prepares a fresh course folder and exchange under a new folder of /tmp (with
deploy/jupyterhub/course_setup.py, as `python3 dev.py hub` does), starts JupyterHub from this
virtual environment on free 127.0.0.1 ports as root, and stops it after: SIGTERM first (the
hub then stops every server it started), then SIGKILL to its process group.

The accounts themselves are made once per machine by .ci/run (`course_setup.py accounts`):
the test only sets fresh PAM passwords with chpasswd and clears what an earlier run left in
the students' homes.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from lab_browser import CHROMIUM, in_ci

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy" / "jupyterhub"
sys.path.insert(0, str(DEPLOY))
import course_setup  # noqa: E402 - deploy/jupyterhub is not a package

BIN = Path(sys.executable).parent
ARTIFACTS = REPO / "test-artifacts" / "hub"
PROXY = DEPLOY / "node_modules" / ".bin" / "configurable-http-proxy"
HUB_START_SECONDS = 60


def require_hub() -> None:
    """Skip locally when something the hub needs is missing; in CI (CI=true), fail, so that CI
    can never go green without running the hub test."""
    missing = []
    if os.geteuid() != 0:
        missing.append("not root: the hub spawns servers as other users (run as root)")
    users = [course_setup.INSTRUCTOR, course_setup.GRADER, *course_setup.STUDENTS]
    if not all(course_setup._user_exists(user) for user in users):
        missing.append("the course's accounts: `python3 deploy/jupyterhub/course_setup.py "
                       "accounts` (as root)")
    for program in ("setfacl", "chpasswd", "node"):
        if shutil.which(program) is None:
            missing.append(f"{program} (Debian packages acl, passwd, nodejs)")
    if not PROXY.exists():
        missing.append(f"configurable-http-proxy: `npm ci --prefix {DEPLOY}`")
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (Debian's chromium)")
    if missing:
        message = "The hub test needs: " + "; ".join(missing)
        if in_ci():
            pytest.fail(message + " (CI=true: .ci/run installs and creates them)", pytrace=False)
        pytest.skip(message)


def free_ports(count: int) -> int:
    """The first of `count` consecutive free ports on 127.0.0.1."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first + count < 65536 and all(_free(first + offset) for offset in range(count)):
            return first
    raise RuntimeError(f"no {count} consecutive free ports on 127.0.0.1")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class Hub:
    """A running hub: its public URL, the folders it serves, its log and process."""

    url: str
    folders: course_setup.HubFolders
    environment: dict[str, str]
    log: Path
    process: subprocess.Popen

    def token(self, user: str) -> str:
        """A new API token of `user`, with that user's own permissions: asked of the hub's
        REST API as that user, who logs in with a fresh PAM password (a `jupyterhub token`
        command would cost 2.4 CPU s more)."""
        login = {"username": user, "password": set_password(user)}
        status, reply = self.call(f"hub/api/users/{user}/tokens", None, "POST",
                                  {"auth": login, "note": "test_hub"})
        assert status == 201, (status, reply)
        return reply["token"]

    def call(self, path: str, token: str | None, method: str = "GET",
             body: dict | None = None) -> tuple[int, dict | str]:
        """(status, JSON or text) of a request to the hub or a server behind its proxy, with
        the API token, if any."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json",
                   **({} if token is None else {"Authorization": f"token {token}"})}
        # Paths may hold spaces: nbgrader names feedback folders after timestamps.
        request = urllib.request.Request(self.url + quote(path, safe="/?=&"), data=data,
                                         method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode(errors="replace")
        try:
            return status, json.loads(text)
        except json.JSONDecodeError:
            return status, text

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def running_hub() -> Iterator[Hub]:
    """A fresh course and exchange under /tmp, and JupyterHub serving them."""
    clear_student_homes()
    # Not pytest's tmp_path: its parents are root's alone, and every account must enter this.
    root = Path(tempfile.mkdtemp(prefix="digitlab-hub-"))
    root.chmod(0o755)
    folders = course_setup.HubFolders(root)
    course_setup.prepare_folders(folders)
    port = free_ports(4)
    environment = {**os.environ, "DIGITLAB_HUB_ROOT": str(root),
                   "DIGITLAB_HUB_PORT": str(port),
                   "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    environment.pop("NBGRADER_EXECUTION", None)
    log = root / "jupyterhub.log"
    with log.open("w") as log_file:
        process = subprocess.Popen([str(BIN / "jupyterhub"), "-f",
                                    str(DEPLOY / "jupyterhub_config.py")],
                                   cwd=folders.state, env=environment, stdout=log_file,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    hub = Hub(f"http://127.0.0.1:{port}/", folders, environment, log, process)
    try:
        deadline = time.monotonic() + HUB_START_SECONDS
        while "JupyterHub is now running" not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"JupyterHub did not start:\n{hub.log_tail()}")
            time.sleep(0.3)  # reading its log: the hub offers nothing to wait on
        yield hub
    finally:
        _stop(process)
        _kill_leftovers(root)
        shutil.copy(log, ARTIFACTS / "jupyterhub.log")  # for reading a failure afterwards
        shutil.rmtree(root, ignore_errors=True)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM: the hub stops the servers it spawned and its proxy; then the whole group."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=60)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _kill_leftovers(root: Path) -> None:
    """Kill what outlived the hub: a hub that exits abnormally leaves its proxy and servers
    (each in a session of its own). They are known by DIGITLAB_HUB_ROOT=<this run's root>,
    which every process started for this hub inherits, and no other process has."""
    marker = f"DIGITLAB_HUB_ROOT={root}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                os.kill(int(entry.name), signal.SIGKILL)
        except OSError:  # gone meanwhile, or a kernel thread
            continue


def clear_student_homes() -> None:
    """Remove what an earlier run left in the course accounts' homes: fetched work, nbgrader's
    submission cache, Jupyter's runtime files and settings."""
    for user in (course_setup.INSTRUCTOR, course_setup.GRADER, *course_setup.STUDENTS):
        home = Path(pwd.getpwnam(user).pw_dir)
        for leftover in (home / course_setup.COURSE_ID, home / ".local", home / ".jupyter",
                         home / ".ipython", home / ".cache"):
            shutil.rmtree(leftover, ignore_errors=True)


def set_password(user: str) -> str:
    password = secrets.token_urlsafe(12)
    course_setup.set_passwords({user: password})
    return password
