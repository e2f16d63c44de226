"""Imported before anything loads nbformat, by the commands that load it: the `digitlab`
command (cli.py) and every nbgrader the grader starts (nbgrader_app.py).

nbformat imports jsonschema, and jsonschema, when the optional rfc3987-syntax package is
installed (jupyter-events pulls it in), builds an Earley parser for its "iri" format check
as it is imported: half of the `digitlab` command's start (`digitlab --help` took 2.7-2.8
CPU s with it, 1.4 s without), 1.8 s in an nbgrader process measured on a busier machine,
and so in every student's autograde. No validation that nbformat, nbconvert, nbgrader
or digitlab runs checks formats (none passes a FormatChecker), so that parser is never used:
a None in sys.modules makes its import fail, and jsonschema skips that format.
"""

import sys

sys.modules.setdefault("rfc3987_syntax", None)
