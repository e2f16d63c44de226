"""`python -m digitlab.course.grading.nbgrader_app ARGUMENTS`: nbgrader's own command, less
1.8 s of start-up. gradebook.nbgrader_command starts every nbgrader this way.

nbformat imports jsonschema, and jsonschema, when the optional rfc3987-syntax package is
installed (jupyter-events pulls it in), builds an Earley parser for its "iri" format check
as it is imported: 1.8 s of CPU in every nbgrader process, so in every student's autograde.
No validation that nbformat, nbconvert or nbgrader runs checks formats (none passes a
FormatChecker), so that parser is never used: this entry point keeps the module out
(a None in sys.modules makes its import fail, and jsonschema skips that format), then runs
nbgrader exactly as `python -m nbgrader` does.
"""

import os
import sys

sys.modules.setdefault("rfc3987_syntax", None)

from nbgrader.apps.nbgraderapp import main  # noqa: E402 - after the line above, on purpose

if __name__ == "__main__":
    # `python -m` puts the working folder (the course) first on sys.path, where nbgrader's
    # docs keep a course's own preprocessors; a fork of autograde_servers (python -I) lacks it.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    main()
