"""The correct Linear.backward for the tests and benchmarks: the solution in the source of
notebook 01, loaded the way notebooks 02-05 load a student's. It never ships in the package.
"""

from pathlib import Path

from digitlab.student import run_answer

SOURCE_NOTEBOOK_01 = (Path(__file__).resolve().parents[1]
                      / "notebooks" / "digit-lab" / "01-linear-backward.ipynb")

ReferenceLinear = run_answer(SOURCE_NOTEBOOK_01)["Linear"]
