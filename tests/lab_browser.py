"""Real JupyterLab in headless Chromium, for the browser tests (tests/test_browser_lab.py).

`lab_server` starts `jupyter lab` from this virtual environment on 127.0.0.1 with a random
token and its own config, runtime, data, settings and workspace folders, so nothing from the
machine's or the user's Jupyter set-up (or a running Lab) leaks in. `chromium_context`
opens Debian's Chromium through Playwright; the machine's closed network and a test's
honesty both call for blocking every request that is not to 127.0.0.1. `LabPage` holds the
steps every notebook test needs: open a notebook, wait for a real kernel, run all cells,
and take a screenshot per step.

Chromium comes from Debian (`apt-get install chromium`), never from `playwright install`.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts" / "browser"
CHROMIUM = Path("/usr/bin/chromium")
# Without the networking flags Chromium keeps calling Google's hosts, which this machine's
# closed network refuses; the sandbox needs user namespaces that root in a container lacks.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
WIDGET_MANAGER = "@jupyter-widgets/jupyterlab-manager"
# Generous: two shared cores, and a kernel start plus a notebook run can take a while.
SERVER_START_SECONDS = 90
STEP_MS = 120_000


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_root(reason: str) -> None:
    """Skip the test when not root; in CI (which .ci/run runs as root) fail instead."""
    if os.geteuid() != 0:
        if in_ci():
            pytest.fail(f"{reason} (CI=true: .ci/run runs as root)", pytrace=False)
        pytest.skip(reason)


def require_browser() -> None:
    """Skip the test locally when Chromium or Playwright is missing; in CI, fail instead,
    so a CI run can never go green without running the browser tests."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} is missing: install Debian's Chromium with "
                       "`sudo apt-get install -y --no-install-recommends chromium` "
                       "(never `playwright install`)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package is missing: `.venv/bin/pip install -e .[dev]`")
    if missing:
        message = "Browser test needs Chromium and Playwright: " + "; ".join(missing)
        if in_ci():
            pytest.fail(message + " (CI=true: .ci/run installs Chromium)", pytrace=False)
        pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LabServer:
    """A running JupyterLab: its base URL, token, served folder and log."""

    url: str
    token: str
    root_dir: Path
    log: Path
    process: subprocess.Popen

    def notebook_url(self, name: str) -> str:
        return f"{self.url}lab/tree/{name}?token={self.token}"

    def request(self, path: str, method: str = "GET") -> int:
        """HTTP status of an API call made with the token."""
        try:
            with self._open(path, method) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def shut_down_sessions(self) -> None:
        """End every notebook session and its kernel, as closing Lab and its kernels does."""
        with self._open("api/sessions") as response:
            sessions = json.load(response)
        for session in sessions:
            with self._open(f"api/sessions/{session['id']}", "DELETE"):
                pass

    def _open(self, path: str, method: str = "GET"):
        request = urllib.request.Request(self.url + path, method=method,
                                         headers={"Authorization": f"token {self.token}"})
        return urllib.request.urlopen(request, timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))


@contextmanager
def lab_server(root_dir: Path, home: Path, *, widgets: bool = True) -> Iterator[LabServer]:
    """Run JupyterLab on `root_dir` with all its state under `home`; shut it down after.

    widgets=False disables the ipywidgets manager extension in this server's own config
    only, so widgets fall back to their plain-text repr (the negative control)."""
    config, settings = home / "config", home / "settings"
    # The "Get notified about Jupyter news?" pop-up covers the notebook; only this setting
    # removes it (--LabApp.news_url=None does not).
    write_json(settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings",
               {"fetchNews": "false", "checkForUpdates": False})
    # Saving is a step of a test, so no autosave may do it unseen.
    write_json(settings / "@jupyterlab" / "docmanager-extension" / "plugin.jupyterlab-settings",
               {"autosave": False})
    if not widgets:
        write_json(config / "labconfig" / "page_config.json",
                   {"disabledExtensions": {WIDGET_MANAGER: True}})
    env = {**os.environ,
           "JUPYTER_CONFIG_DIR": str(config), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "JUPYTER_DATA_DIR": str(home / "data"), "JUPYTERLAB_SETTINGS_DIR": str(settings),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
           "IPYTHONDIR": str(home / "ipython")}
    env.pop("NBGRADER_EXECUTION", None)  # set, it would make the notebooks skip training
    port, token = free_port(), secrets.token_hex(16)
    command = [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root_dir}"]
    if os.geteuid() == 0:
        command.append("--allow-root")  # Jupyter refuses to run as root without it
    log = home / "server.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(command, cwd=root_dir, env=env, stdout=log_file,
                                   stderr=subprocess.STDOUT)
    server = LabServer(f"http://127.0.0.1:{port}/", token, root_dir, log, process)
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while not _answers(server):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"JupyterLab did not start:\n{server.log_tail()}")
            time.sleep(0.2)  # polling the port: there is nothing to wait on instead
        yield server
    finally:
        _shut_down(server)


def _answers(server: LabServer) -> bool:
    try:
        return server.request("api/status") == 200
    except OSError:  # not listening yet
        return False


def _shut_down(server: LabServer) -> None:
    """Ask the server to stop (it shuts its kernels down first); terminate it if it won't."""
    if server.process.poll() is None:
        try:
            server.request("api/shutdown", method="POST")
            server.process.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            server.process.terminate()
            try:
                server.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()


@contextmanager
def chromium_context(profile: Path):
    """A headless Chromium with a fresh profile that can reach 127.0.0.1 and nothing else."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Playwright rejects --user-data-dir in launch(): a persistent context takes it.
        context = playwright.chromium.launch_persistent_context(
            user_data_dir=str(profile), executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(STEP_MS)
        context.route("**/*", _local_only)
        try:
            yield context
        finally:
            context.close()


def _local_only(route) -> None:
    if urlsplit(route.request.url).hostname == "127.0.0.1":
        route.continue_()
    else:
        route.abort()


class LabPage:
    """One browser tab on a Lab server, with a numbered screenshot per step."""

    def __init__(self, page, server: LabServer, shots: Path):
        self.server, self.shots = server, shots
        shutil.rmtree(shots, ignore_errors=True)  # a rerun must not mix in old pictures
        shots.mkdir(parents=True)
        self.steps = 0
        self.console: list[str] = []
        self._watch(page)

    def _watch(self, page) -> None:
        """Make page this tab, its console kept in self.console."""
        self.page = page
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))

    def screenshot(self, step: str) -> Path:
        self.steps += 1
        path = self.shots / f"{self.steps:02d}-{step}.png"
        self.page.screenshot(path=str(path))
        return path

    def save_logs(self) -> None:
        """The browser console and the server log, for reading a failure after the fact."""
        (self.shots / "console.txt").write_text("\n".join(self.console) + "\n")
        shutil.copy(self.server.log, self.shots / "server.log")

    def open_notebook(self, name: str) -> None:
        self.page.goto(self.server.notebook_url(name))
        self.page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for()
        self.screenshot("opened")

    def wait_for_kernel(self) -> None:
        """Wait for a started Python kernel that is idle.

        The toolbar shows "idle" while the kernel name still reads "No Kernel", and a Run All
        sent then is silently lost; the status bar says "Initializing" before "Idle". So
        wait for the name in the toolbar and for "Idle" beside it in the status bar."""
        kernel_name = self.page.locator(".jp-NotebookPanel-toolbar .jp-KernelName")
        kernel_name.filter(has_text="Python 3").wait_for()
        self.page.locator("#jp-main-statusbar .jp-StatusBar-TextItem",
                          has_text=re.compile(r"^Python 3.*\|\s*Idle$")).wait_for()
        self.screenshot("kernel-ready")

    def run_all_cells(self) -> None:
        """Run menu -> Run All Cells (JupyterLab has no default shortcut for it)."""
        self.page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
        self.page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        # Run All marks the cells [*] (queued), then numbers them as they run: the first
        # code cell leaving "[ ]" shows that the request reached the kernel.
        first_prompt = self.page.locator(".jp-NotebookPanel .jp-CodeCell .jp-InputPrompt").first
        first_prompt.filter(has_text=re.compile(r"\[(\d+|\*)\]")).wait_for()
        self.screenshot("run-all-sent")

    def cell_outputs(self, cell_text: str, mime_type: str):
        """The outputs of one MIME type (such as "image/png") of the code cell whose source
        holds cell_text."""
        cell = self.page.locator(".jp-CodeCell").filter(
            has=self.page.locator(".jp-InputArea", has_text=cell_text))
        return cell.locator(f'.jp-OutputArea-output[data-mime-type="{mime_type}"]')

    def save_notebook(self) -> None:
        """File -> Save Notebook, with unsaved changes; returns once they are saved (the
        notebook's tab is marked dirty until then, and lab_server turns autosave off)."""
        dirty_tab = self.page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-dirty")
        dirty_tab.wait_for()
        self.page.locator(".lm-MenuBar-item", has_text=re.compile(r"^File$")).click()
        self.page.get_by_role("menuitem", name=re.compile(r"^Save Notebook(?! As)")).click()
        dirty_tab.wait_for(state="detached")
        self.screenshot("saved")

    def reopen_without_kernel(self, name: str) -> None:
        """Close this tab, end every kernel, and open the notebook in a new tab: what it
        shows then comes from the file alone (a new kernel starts, but runs nothing)."""
        context = self.page.context
        self.page.close()
        self.server.shut_down_sessions()
        self._watch(context.new_page())
        self.open_notebook(name)

    def wait_for_all_cells(self) -> None:
        """Wait until every code cell has run; fail with the error if a cell raised."""
        outcome = self.page.wait_for_function(ALL_CELLS_RUN).json_value()
        self.screenshot("all-cells-run")
        assert outcome == "done", outcome


# For page.wait_for_function: "done" once every code cell shows an execution count, the
# text of the first error or stderr output if there is one, and false (keep waiting) before.
# textContent, not innerText: Lab skips rendering cells scrolled out of view, and their
# innerText is empty.
ALL_CELLS_RUN = """() => {
    const notebook = document.querySelector('.jp-NotebookPanel');
    const error = notebook.querySelector('.jp-OutputArea-output[data-mime-type*="stderr"]');
    if (error) return 'error: ' + error.textContent;
    const prompts = [...notebook.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
    return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent)) && 'done';
}"""
