"""digitlab.course.grading.one_engine, in a process of its own as nbgrader_app runs it (the
module changes nbgrader for the whole process, so never in the test's own): Gradebooks share
one engine and its connection, each opening sees what the last one wrote, and a forked
process makes its own engine."""

import json
import subprocess
import sys

from digitlab.course.grading.gradebook import nbgrader_environment

PROBE = """
import json, os, sys
import digitlab.course.grading.one_engine
from nbgrader.api import Gradebook
from sqlalchemy import event

url, seen = sys.argv[1], {}
with Gradebook(url) as gradebook:
    engine = gradebook.engine
    gradebook.add_student("first")
connections = []
event.listen(engine, "connect", lambda *_: connections.append(os.getpid()))
for name in ("second", "third"):
    with Gradebook(url) as gradebook:
        seen.setdefault("same_engine", []).append(gradebook.engine is engine)
        gradebook.add_student(name)
with Gradebook(url) as gradebook:
    seen["students"] = sorted(student.id for student in gradebook.students)
seen["new_connections"] = len(connections)
child = os.fork()
if child == 0:
    with Gradebook(url) as gradebook:
        mine = gradebook.engine is not engine and len(gradebook.students) == 3
    os._exit(0 if mine else 1)
seen["fork_made_its_own"] = os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]) == 0
print(json.dumps(seen))
"""


def test_gradebooks_share_one_engine_per_process(tmp_path):
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    run = subprocess.run([sys.executable, "-c", PROBE, url], capture_output=True, text=True,
                         env=nbgrader_environment(), timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"same_engine": [True, True],
                                      "students": ["first", "second", "third"],
                                      "new_connections": 0, "fork_made_its_own": True}
