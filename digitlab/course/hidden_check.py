"""The module that every hidden test imports `check` from, by this path.

The check lives in digitlab.course.checks.hidden_check. This small module keeps the old
path working, and stays for good: hidden test cells import from it, and nbgrader stores
their source in every gradebook made so far and puts it back over the student's cell at
each autograde, so that import cannot be changed by editing the notebooks. A module rather
than a name handed on by digitlab.course's __init__: `import digitlab.course.hidden_check`
needs a module of that name, and the package's __init__ stays empty so that a kernel which
imports this never loads the grader's side.
"""

from digitlab.course.checks.hidden_check import check

__all__ = ["check"]
