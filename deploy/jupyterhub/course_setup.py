"""The accounts and folders of the digitlab course on one JupyterHub host. Standard library only,
run as root: `.ci/run` calls it before any virtual environment exists.

    python3 deploy/jupyterhub/course_setup.py accounts       # Unix group and users, as below
    python3 deploy/jupyterhub/course_setup.py folders [ROOT] # course folder and exchange

Who is who (the hub logs them in with PAM, so these are real Unix accounts):
- INSTRUCTOR runs nbgrader's commands in the course folder; GRADER is the account the
  formgrader service runs as and owns the course folder. Both are in STAFF_GROUP, the only
  group that may enter the course folder (source notebooks, answer key, gradebook).
- STUDENTS: nbgrader student ids are their user names.

The folders under ROOT (default /srv/digitlab, or $DIGITLAB_HUB_ROOT):
    course/    GRADER:STAFF_GROUP 2770; students cannot enter it
    exchange/  root 0755: no one but root may create, rename or delete a course in it
               (nbgrader #1225), so nbgrader's own check that everyone may write it is
               replaced (jupyter/private_exchange.py)
      digitlab/          INSTRUCTOR 0755
        outbound/        INSTRUCTOR 0755: releases, readable by everyone
        inbound/         INSTRUCTOR:STAFF_GROUP 2773: a student may add a submission but not
                         list the folder. Its default ACL gives STAFF_GROUP, and only it,
                         access to whatever a student creates in it, and each submission is
                         made 0770/0640: no other student can read or write it, whatever
                         its name
        feedback/        INSTRUCTOR:STAFF_GROUP 2771: not listable; each feedback file is
                         0640 plus an ACL entry that lets its own student read it (nbgrader #1202)
    hub/       root 0700: JupyterHub's database and cookie secret
Homes are 0700: a student's working copy is theirs alone too. ACLs need setfacl (Debian: acl).
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

COURSE_ID = "digitlab"
STAFF_GROUP = "digitlab-staff"
INSTRUCTOR = "digitlab-instructor"
GRADER = "grader-digitlab"
STUDENTS = ("digitlab-alice", "digitlab-bob", "digitlab-carol", "digitlab-dave")
DEFAULT_ROOT = Path("/srv/digitlab")
REPO = Path(__file__).resolve().parents[2]
# What an instructor starts from: the course config, the answer key and the source notebooks.
COURSE_MATERIAL = ("nbgrader_config.py", "keys", "notebooks/digit-lab")
# Each user's (course or students') files: group members only, whatever the user's umask.
COURSE_FOLDER, COURSE_FILE = 0o2770, 0o660


@dataclass(frozen=True)
class HubFolders:
    """Where the course, the exchange and the hub's own state live on this host."""

    root: Path

    @property
    def course(self) -> Path:
        return self.root / "course"

    @property
    def exchange(self) -> Path:
        return self.root / "exchange"

    @property
    def course_exchange(self) -> Path:
        return self.exchange / COURSE_ID

    @property
    def state(self) -> Path:
        return self.root / "hub"


def hub_folders() -> HubFolders:
    return HubFolders(Path(os.environ.get("DIGITLAB_HUB_ROOT", DEFAULT_ROOT)))


def create_accounts() -> None:
    """The staff group and every account of the course, those missing only (needs root)."""
    _require_root()
    if not _group_exists(STAFF_GROUP):
        subprocess.run(["groupadd", "--system", STAFF_GROUP], check=True)
    for user in (INSTRUCTOR, GRADER, *STUDENTS):
        if not _user_exists(user):
            # A home for Jupyter's runtime files and the fetched assignments; a shell for
            # the terminals of JupyterLab.
            subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", user],
                           check=True)
    for user in (INSTRUCTOR, GRADER):
        subprocess.run(["usermod", "--append", "--groups", STAFF_GROUP, user], check=True)
    for user in (INSTRUCTOR, GRADER, *STUDENTS):
        os.chmod(pwd.getpwnam(user).pw_dir, 0o700)  # useradd's default lets anyone read it


def set_passwords(passwords: dict[str, str]) -> None:
    """PAM passwords for hub log-ins, through chpasswd (needs root)."""
    _require_root()
    lines = "".join(f"{user}:{password}\n" for user, password in passwords.items())
    subprocess.run(["chpasswd"], input=lines, text=True, check=True)


def run_as(user: str, command: list[str], *, cwd: Path | str | None = None,
           env: dict[str, str] | None = None, umask: int = 0o022,
           timeout: float = 600) -> subprocess.CompletedProcess:
    """Run command as a course account, the way the hub's spawner runs its server: that
    user's uid, primary group and other groups (the staff group, say), home and a clean
    environment with this Python's folder first on PATH. Needs root."""
    account = pwd.getpwnam(user)
    environment = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
                   "HOME": account.pw_dir, "USER": user, "LANG": "C.UTF-8", **(env or {})}
    return subprocess.run(command, cwd=cwd or account.pw_dir, env=environment,
                          user=account.pw_uid, group=account.pw_gid,
                          extra_groups=os.getgrouplist(user, account.pw_gid), umask=umask,
                          capture_output=True, text=True, timeout=timeout)


def prepare_folders(folders: HubFolders) -> None:
    """The course folder (with the course material copied in, once) and the exchange, with
    the owners and modes of the module docstring (needs root)."""
    _require_root()
    missing = [name for name in (STAFF_GROUP, INSTRUCTOR, GRADER) if not _account_exists(name)]
    if missing:
        sys.exit(f"Missing accounts {', '.join(missing)}: run `python3 {__file__} accounts`.")
    if shutil.which("setfacl") is None:
        sys.exit("setfacl is missing: install it (Debian: `apt-get install acl`).")
    root_owned = (0, 0)
    _folder(folders.root, 0o755, root_owned)
    _folder(folders.state, 0o700, root_owned)
    _folder(folders.exchange, 0o755, root_owned)
    instructor, staff = pwd.getpwnam(INSTRUCTOR).pw_uid, grp.getgrnam(STAFF_GROUP).gr_gid
    _folder(folders.course_exchange, 0o755, (instructor, staff))
    _folder(folders.course_exchange / "outbound", 0o755, (instructor, staff))
    _folder(folders.course_exchange / "inbound", 0o2773, (instructor, staff))
    # A student is not in STAFF_GROUP, so cannot give a file that group: nbgrader creates
    # timestamp.txt after the copy has cleared the setgid bit. The default ACL grants it.
    subprocess.run(["setfacl", "--default", "--modify",
                    f"user::rwx,group::---,group:{STAFF_GROUP}:rwx,other::---",
                    folders.course_exchange / "inbound"], check=True)
    _folder(folders.course_exchange / "feedback", 0o2771, (instructor, staff))
    _folder(folders.course, COURSE_FOLDER, (pwd.getpwnam(GRADER).pw_uid, staff))
    for name in COURSE_MATERIAL:
        target = folders.course / name
        if target.exists():
            continue  # the instructor's own edits win
        target.parent.mkdir(parents=True, exist_ok=True)
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, target, ignore=shutil.ignore_patterns(
                "submission.csv", ".ipynb_checkpoints", "__pycache__"))
        else:
            shutil.copy(REPO / name, target)
    for path in [folders.course, *folders.course.rglob("*")]:
        os.chown(path, pwd.getpwnam(GRADER).pw_uid, staff)
        os.chmod(path, COURSE_FOLDER if path.is_dir() else COURSE_FILE)


def _folder(path: Path, mode: int, owner: tuple[int, int]) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, *owner)
    os.chmod(path, mode)  # after chown, which clears the setgid bit


def _require_root() -> None:
    if os.geteuid() != 0:
        sys.exit("This needs root: it creates Unix accounts and sets owners (try sudo).")


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def _account_exists(name: str) -> bool:
    return _user_exists(name) or _group_exists(name)


def main(arguments: list[str]) -> None:
    if arguments[:1] == ["accounts"]:
        create_accounts()
    elif arguments[:1] == ["folders"] and len(arguments) <= 2:
        prepare_folders(HubFolders(Path(arguments[1])) if len(arguments) == 2
                        else hub_folders())
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
