"""`python -m digitlab.course.grading.nbgrader_app ARGUMENTS`: nbgrader's own command, less
1.8 s of start-up (no_iri_parser), with one gradebook engine per process (one_engine).
gradebook.nbgrader_command starts every nbgrader this way.
"""

import os
import sys

# isort: off
import digitlab.course.grading.no_iri_parser  # noqa: F401 - before nbformat loads
import digitlab.course.grading.one_engine  # noqa: F401 - one gradebook engine per process
from nbgrader.apps.nbgraderapp import main
# isort: on

if __name__ == "__main__":
    # `python -m` puts the working folder (the course) first on sys.path, where nbgrader's
    # docs keep a course's own preprocessors; a fork of autograde_servers (python -I) lacks it.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    main()
