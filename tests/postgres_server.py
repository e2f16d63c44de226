"""A throwaway PostgreSQL server on 127.0.0.1 for tests, from Debian's `postgresql` package.

The `postgres_url` fixture starts one per test session and yields its URL
(postgresql+psycopg://digitlab:PASSWORD@127.0.0.1:PORT/gradebook); afterwards the server stops
and its folder is deleted. Without PostgreSQL's programs the fixture skips locally and fails
under CI=true (.ci/run installs them), like the browser test.

initdb and postgres refuse to run as root, so as root they run as the `postgres` user that
the package creates (runuser), in a folder under /tmp chowned to it: pytest's tmp_path lies
under a folder only root may enter.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from lab_browser import free_port, in_ci

INSTALL = "apt-get install -y postgresql"


def find_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb, if any."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda path: int(Path(path).parts[-3]))
    return Path(found[-1]).parent if found else None


def _as_server_user(arguments: list[str], timeout: float = 120) -> None:
    if os.geteuid() == 0:
        arguments = ["runuser", "-u", "postgres", "--", *arguments]
    subprocess.run(arguments, check=True, capture_output=True, text=True, timeout=timeout)


@contextlib.contextmanager
def postgres_server(bindir: Path, database: str = "gradebook",
                    user: str = "digitlab") -> Iterator[str]:
    """Start a server with a fresh data folder; yield a URL with a password for `user`, the
    owner of `database`; stop the server and delete everything."""
    folder = Path(tempfile.mkdtemp(prefix="digitlab-pg-"))
    data, sockets = folder / "data", folder / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        shutil.chown(sockets, "postgres")
    # The port may be taken between free_port and the start: rare, and then start fails.
    port, password = free_port(), secrets.token_hex(16)
    # Socket connections trust the local user (to create the role); TCP needs the password,
    # as a real server would.
    _as_server_user([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8",
                     "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=scram-sha-256",
                     "--no-sync"])
    # A test server need not survive a crash: no fsync makes it start and write faster.
    options = (f"-p {port} -k {sockets} -h 127.0.0.1 -c fsync=off -c synchronous_commit=off "
               "-c full_page_writes=off")
    try:
        _as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-w",
                         "-l", str(folder / "server.log"), "start"])
        psql = [str(bindir / "psql"), "-h", str(sockets), "-p", str(port), "-U", "postgres",
                "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c"]
        _as_server_user([*psql, f"CREATE ROLE {user} LOGIN PASSWORD '{password}'"])
        _as_server_user([*psql, f"CREATE DATABASE {database} OWNER {user}"])
        yield f"postgresql+psycopg://{user}:{password}@127.0.0.1:{port}/{database}"
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            _as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w",
                             "stop"])
        shutil.rmtree(folder, ignore_errors=True)


def throwaway_server_url() -> Iterator[str]:
    """For a fixture to `yield from`: a new server's URL, stopped afterwards. Without
    PostgreSQL the test fails under CI (.ci/run installs it) and is skipped elsewhere."""
    bindir = find_bindir()
    if bindir is None:
        message = f"PostgreSQL is not installed: {INSTALL}"
        if in_ci():
            pytest.fail(message + " (CI=true: .ci/run installs it)", pytrace=False)
        pytest.skip(message)
    with postgres_server(bindir) as url:
        yield url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    yield from throwaway_server_url()
