"""The assignment as people see it outside grading: the instructor's executed preview of the
source notebooks (preview.py, never released) and the zip a student without a hub installs
the lab from (bundle.py: the release, the wheel and two commands)."""
