"""`python3 dev.py hub`: the digitlab course on JupyterHub on this machine, for an instructor to
try. As root. It makes what a course host needs, then runs the hub in the foreground (Ctrl+C
stops it and every server it started):

1. the course's Unix accounts, if missing (course_setup.py lists them), each with a fresh
   random password, printed below: the hub logs in with PAM, exactly as a real course would,
   so these are real accounts of this machine; remove them with `userdel -r NAME` after;
2. the course folder and the exchange under $DIGITLAB_HUB_ROOT (default /srv/digitlab);
3. configurable-http-proxy from npm, into deploy/jupyterhub/node_modules;
4. the assignment generated and released by the instructor, so students can fetch it at once;
5. JupyterHub on http://127.0.0.1:$DIGITLAB_HUB_PORT/ (default 8000), nowhere else.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import course_setup
from course_setup import COURSE_ID, GRADER, INSTRUCTOR, STUDENTS

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
ASSIGNMENT = "digit-lab"


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("The demo hub makes Unix accounts and runs servers as them: run it as root "
                 "(sudo python3 dev.py hub).")
    for program in ("npm", "setfacl", "chpasswd"):
        if shutil.which(program) is None:
            sys.exit(f"{program} is missing: `apt-get install nodejs npm acl passwd`.")
    course_setup.create_accounts()
    reachable = course_setup.run_as(STUDENTS[0], [sys.executable, "-c", "import digitlab"])
    if reachable.returncode != 0:
        sys.exit(f"The course's accounts cannot run {sys.executable} with digitlab: give "
                 f"others traverse rights (chmod o+x) on its folders.\n{reachable.stderr}")
    folders = course_setup.hub_folders()
    course_setup.prepare_folders(folders)
    if not (HERE / "node_modules" / ".bin" / "configurable-http-proxy").exists():
        subprocess.run(["npm", "ci", "--prefix", str(HERE), "--no-audit", "--no-fund"],
                       check=True)
    environment = {"JUPYTER_CONFIG_PATH": str(HERE / "jupyter"),
                   "DIGITLAB_HUB_ROOT": str(folders.root)}
    for step in ("generate_assignment", "release_assignment"):
        # --force: run again, the demo releases the course's current notebooks.
        result = course_setup.run_as(INSTRUCTOR, [sys.executable, "-m", "nbgrader", step,
                                                  ASSIGNMENT, "--force"],
                                     cwd=folders.course, env=environment, umask=0o007)
        if result.returncode != 0:
            sys.exit(f"nbgrader {step} failed:\n{result.stderr}")
    passwords = {user: secrets.token_urlsafe(9) for user in (INSTRUCTOR, GRADER, *STUDENTS)}
    course_setup.set_passwords(passwords)
    port = int(os.environ.setdefault("DIGITLAB_HUB_PORT", "8000"))
    os.environ["DIGITLAB_HUB_ROOT"] = str(folders.root)
    print(f"\nThe digitlab course is on JupyterHub: log in at http://127.0.0.1:{port}/ with")
    for user, password in passwords.items():
        role = ("instructor" if user == INSTRUCTOR else
                "grader account (runs the formgrader)" if user == GRADER else "student")
        print(f"  {user:22} {password:14} {role}")
    print(f"Log-in is PAM: these are real Unix accounts of this machine, with passwords set "
          f"just now. Students: the Assignments tab (Nbgrader menu, Assignment List). "
          f"Instructor: the formgrader at http://127.0.0.1:{port}/services/{COURSE_ID}/, "
          f"nbgrader's commands in {folders.course}. Ctrl+C stops the hub.\n", flush=True)
    command = [str(BIN / "jupyterhub"), "-f", str(HERE / "jupyterhub_config.py")]
    os.chdir(folders.state)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
