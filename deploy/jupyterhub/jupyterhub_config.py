"""JupyterHub for the digitlab course on one host. As root, from the project's environment:
`jupyterhub -f deploy/jupyterhub/jupyterhub_config.py` (`python3 dev.py hub` does it for a demo).

- Log-in: PAM, so the course's real Unix accounts and passwords (course_setup.py lists them).
- Servers: one local process per user, run as that user (LocalProcessSpawner).
- Proxy: configurable-http-proxy from npm, installed beside this file (`npm ci` here).
- nbgrader: the groups nbgrader-digitlab (students) and formgrade-digitlab (instructor and
  grader), the formgrader as the hub service "digitlab" run by the grader account in the course
  folder, and the global nbgrader config of jupyter/ for every server.
- Everything listens on 127.0.0.1: put a TLS-terminating proxy in front for a real course.

Settings from the environment: DIGITLAB_HUB_ROOT (course_setup.py's folders, default
/srv/digitlab) and DIGITLAB_HUB_PORT (default 8000; the hub's API, the proxy's API and the
formgrader take the next three ports).
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from course_setup import (  # noqa: E402
    COURSE_ID,
    GRADER,
    INSTRUCTOR,
    STUDENTS,
    hub_folders,
)

c = get_config()  # noqa: F821 (JupyterHub provides get_config when it loads this file)
folders = hub_folders()
PORT = int(os.environ.get("DIGITLAB_HUB_PORT", "8000"))
# The servers run this environment's Jupyter, with digitlab and nbgrader installed.
BIN = Path(sys.executable).parent
# Every server (users' and the formgrader) finds the global nbgrader config here.
SERVER_ENVIRONMENT = {"JUPYTER_CONFIG_PATH": str(HERE / "jupyter"),
                      "DIGITLAB_HUB_ROOT": str(folders.root)}

c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = PORT
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = PORT + 1
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PORT + 2}"
c.ConfigurableHTTPProxy.command = [str(HERE / "node_modules" / ".bin" /
                                       "configurable-http-proxy")]
c.ConfigurableHTTPProxy.pid_file = str(folders.state / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{folders.state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(folders.state / "cookie_secret")

c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = {INSTRUCTOR, GRADER, *STUDENTS}
# Sessions (pam_open_session) need a login service set up for them; log-in checks suffice.
c.PAMAuthenticator.open_sessions = False

c.JupyterHub.spawner_class = "localprocess"
c.Spawner.ip = "127.0.0.1"
c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.environment = SERVER_ENVIRONMENT
# Two shared cores start a server in 5-30 s; JupyterHub's defaults give up at 30-60 s.
c.Spawner.start_timeout = c.Spawner.http_timeout = 120

c.JupyterHub.load_groups = {
    f"formgrade-{COURSE_ID}": {"users": [INSTRUCTOR, GRADER]},
    f"nbgrader-{COURSE_ID}": {"users": list(STUDENTS)},
}
c.JupyterHub.services = [{
    "name": COURSE_ID,
    "url": f"http://127.0.0.1:{PORT + 3}",
    # The hub gives a managed service about 10 s to answer, and exits if it does not: the
    # formgrader leaves out the language servers, whose search for programs is slow.
    "command": [str(BIN / "jupyterhub-singleuser"), f"--ServerApp.root_dir={folders.course}",
                "--ServerApp.jpserver_extensions=jupyter_lsp=False"],
    "user": GRADER,
    "cwd": str(folders.course),
    "environment": {**SERVER_ENVIRONMENT, "JUPYTERHUB_DEFAULT_URL": "/formgrader"},
    "oauth_no_confirm": True,
}]
c.JupyterHub.load_roles = [
    # The instructor and the grader open the formgrader; students are refused.
    {"name": f"formgrade-{COURSE_ID}", "groups": [f"formgrade-{COURSE_ID}"],
     "scopes": [f"access:services!service={COURSE_ID}"]},
    # A user's server reads its own user's groups: nbgrader lists the courses from them.
    {"name": "server", "scopes": ["users:activity!user", "access:servers!server",
                                  "read:users:groups!user", "read:users:name!user"]},
    # The formgrader looks up students' groups and adds new students to the course group.
    {"name": f"{COURSE_ID}-formgrader", "services": [COURSE_ID],
     "scopes": ["list:users", "read:users:groups", "list:groups", "read:groups",
                f"groups!group=nbgrader-{COURSE_ID}"]},
]
