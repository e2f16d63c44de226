"""Shared fixtures, and tests/ on sys.path so tests can import reference.py: the correct
backward that never ships in the package."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import digitlab  # noqa: E402 - after the path, like every test module


@pytest.fixture(scope="session")
def data():
    """The bundled digits split with seed 0: 3,000 training and 1,000 validation images."""
    return digitlab.load_digits(seed=0)


@pytest.fixture
def not_grading(monkeypatch):
    """As in JupyterLab: NBGRADER_EXECUTION unset, even when the suite runs under nbgrader."""
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
