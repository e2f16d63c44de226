"""The hub's global nbgrader config, for every user of the hub: their servers, the formgrader
and the instructor's commands. Jupyter finds it through JUPYTER_CONFIG_PATH=<this folder>,
which deploy/jupyterhub/jupyterhub_config.py sets for every server it starts (give it to the
instructor's shell too). The course folder's own nbgrader_config.py (the course, the
gradebook, the grading limits) adds to it.
"""

import sys
from pathlib import Path

from nbgrader.auth import JupyterHubAuthPlugin

HERE = Path(__file__).resolve().parent
# private_exchange.py beside this file; course_setup.py one folder up.
sys.path[:0] = [str(HERE), str(HERE.parent)]
from course_setup import hub_folders  # noqa: E402

c = get_config()  # noqa: F821 (nbgrader provides get_config when it loads this file)

# Which courses a user sees comes from the hub's groups: nbgrader-<course> for students,
# formgrade-<course> for instructors and graders.
c.Authenticator.plugin_class = JupyterHubAuthPlugin
# One exchange folder on this host; deploy/jupyterhub/course_setup.py makes it.
c.Exchange.root = str(hub_folders().exchange)
# Students fetch into ~/digitlab/digit-lab: two courses never share a folder.
c.Exchange.path_includes_course = True

# nbgrader's exchange with the holes of nbgrader #1225, #978 and #1202 closed.
for step, name in [("fetch_assignment", "PrivateFetchAssignment"),
                   ("fetch_feedback", "PrivateFetchFeedback"),
                   ("list", "PrivateList"),
                   ("release_assignment", "PrivateReleaseAssignment"),
                   ("release_feedback", "PrivateReleaseFeedback"),
                   ("submit", "PrivateSubmit"),
                   ("collect", "OwnerCheckedCollect")]:
    setattr(c.ExchangeFactory, step, f"private_exchange.{name}")
