"""`python3 dev.py lab` really starts JupyterLab on the tour of the bundled digits."""

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "digitlab-test-token"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str, seconds: float = 60):
    """The first answer from url within `seconds`, retrying while the server starts."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return urllib.request.urlopen(url, timeout=5)
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_dev_lab_serves_the_repository_and_opens_the_tour(tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "dev.py"), "lab", "--no-browser", f"--port={port}",
         "--ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
         f"--ServerApp.runtime_dir={tmp_path}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        listing = json.load(get(f"{base}/api/contents/notebooks?token={TOKEN}"))
        assert "tour.ipynb" in [item["name"] for item in listing["content"]]
        landing = get(f"{base}/?token={TOKEN}")
        assert landing.url.startswith(f"{base}/lab/tree/notebooks/tour.ipynb")
        assert "nbgrader_config.py" in [
            item["name"] for item in json.load(get(f"{base}/api/contents?token={TOKEN}"))["content"]
        ]
    finally:
        server.terminate()
        server.wait(timeout=30)
