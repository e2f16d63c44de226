"""The wheel students install holds the package and its data, and no answer of any kind."""

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from course_builder import leaked_lines

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    folder = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
         "--disable-pip-version-check", "-w", str(folder), str(ROOT)],
        check=True,
    )
    (path,) = folder.glob("digitlab-*.whl")
    return zipfile.ZipFile(path)


def test_the_wheel_holds_only_the_package(wheel):
    names = wheel.namelist()
    assert "digitlab/data/mnist_5k.npz" in names and "digitlab/gradcheck.py" in names
    outside = [name for name in names
               if not name.startswith(("digitlab/", "digitlab-0.1.0.dist-info/"))]
    assert outside == []
    assert not any(name.endswith(".ipynb") or "keys" in name for name in names)


def test_the_bundled_data_carries_no_competition_labels(wheel):
    arrays = np.load(io.BytesIO(wheel.read("digitlab/data/mnist_5k.npz")))
    assert sorted(arrays.files) == ["images", "labels", "test_images"]
    assert len(arrays["labels"]) == len(arrays["images"]) == 4000


@pytest.mark.parametrize("marker", ["SOLUTION", "HIDDEN TESTS"])
def test_no_solution_or_hidden_test_line_is_in_the_wheel(wheel, marker):
    text = "\n".join(wheel.read(name).decode() for name in wheel.namelist()
                     if name.endswith(".py"))
    assert leaked_lines(text, marker) == []


def test_the_core_imports_without_matplotlib_or_ipywidgets():
    probe = ("import sys, digitlab, digitlab.data; "
             "print(sorted(m for m in ('matplotlib', 'ipywidgets') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


def test_matplotlib_loads_with_the_first_figure_not_with_the_plots_import():
    """The notebooks import their plots at the top; a graded run draws none of the heavy
    experiments' figures, so its kernels never pay for matplotlib's import."""
    probe = ("import sys\n"
             "from digitlab.plots import learning_curves, linear_layer_diagram\n"
             "print('matplotlib' in sys.modules)\n"
             "figure = linear_layer_diagram()\n"
             "print('matplotlib' in sys.modules, figure._repr_png_()[:4])")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True)
    assert result.stdout.split("\n")[:2] == ["False", "True b'\\x89PNG'"]
