"""nbgrader as digitlab starts it: the same command, without jsonschema's unused IRI parser
(digitlab.course.grading.no_iri_parser); and the `digitlab` command, without it too."""

import json
import subprocess
import sys

import pytest

from digitlab.course.grading.gradebook import nbgrader_command, nbgrader_environment

# How each command starts: nbgrader as gradebook.nbgrader_command runs it; `digitlab` as its
# console script does (from digitlab.cli import main).
STARTS = {"nbgrader_app": """
import runpy
sys.argv = ["nbgrader", "--version"]
try:
    runpy.run_module("digitlab.course.grading.nbgrader_app", run_name="__main__")
except SystemExit:
    pass
""", "digitlab": """
from digitlab.cli import main
"""}
PROBE = """
import jsonschema, nbformat
from nbformat.v4 import new_notebook
bad = new_notebook()
bad.cells = [{"cell_type": "code", "source": 1}]
try:
    nbformat.validate(bad)
    refused = False
except nbformat.ValidationError:
    refused = True
print(json.dumps({"loaded": sys.modules.get("rfc3987_syntax") is not None,
                  "iri": "iri" in jsonschema.FormatChecker.checkers,
                  "refused": refused}), file=sys.stderr)
"""


def test_the_command_is_nbgraders_own():
    run = subprocess.run(nbgrader_command("--version"), capture_output=True, text=True,
                         env=nbgrader_environment())
    assert run.returncode == 0 and "nbgrader version" in run.stdout + run.stderr


@pytest.mark.parametrize("command", STARTS)
def test_it_leaves_out_the_iri_parser_and_notebooks_are_still_validated(command):
    run = subprocess.run([sys.executable, "-I", "-c", "import json, sys\n" + STARTS[command]
                          + PROBE], capture_output=True, text=True)
    found = json.loads(run.stderr.strip().splitlines()[-1])
    assert found == {"loaded": False, "iri": False, "refused": True}, run.stderr
