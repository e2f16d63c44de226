"""pyproject.toml (pip) and environment.yml (conda) must describe the same environment."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def split_requirement(text: str) -> tuple[str, str]:
    # pip's extras (psycopg[binary]) have no conda spelling: conda-forge's build is complete.
    name, spec = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)(?:\[[\w,]+\])?\s*(.*)", text).groups()
    # PyPI and conda-forge name every one of our packages the same, so names compare as is.
    return name.lower(), spec.replace(" ", "")


def test_pip_and_conda_ask_for_the_same_packages_and_versions():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_side = dict(map(split_requirement,
                        project["dependencies"] + project["optional-dependencies"]["dev"]))
    conda = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    conda_side = dict(split_requirement(item) for item in conda
                      if isinstance(item, str) and not item.startswith(("python", "pip")))
    assert conda_side == pip_side
    python_pin = next(item for item in conda if isinstance(item, str)
                      and item.startswith("python"))
    assert python_pin.replace("python", "") == project["requires-python"]
