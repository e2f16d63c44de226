"""nbgrader's default exchange (a folder), with the privacy a course needs.

nbgrader 0.9.6's own exchange leaves three holes on a shared host:
- the exchange root must be writable by everyone, so a student may rename or delete a
  course in it (nbgrader #1225). Here the root is root's, made once by
  deploy/jupyterhub/course_setup.py, and only entering it is checked;
- a submission is made 0777 with world-readable files: anyone who learns its name reads it,
  secret included, or writes into it (nbgrader #978). Here it is made 0770/0640 for its
  student and the course's staff group, which it gets from the setgid inbound folder;
- a feedback file is world-readable, hidden only by a name that whoever holds the
  submission can compute (nbgrader #1202). Here it is 0640 for the staff group, with an ACL
  entry (setfacl, Debian's acl package) that lets its own student read it.
And `collect` takes a submission whose owner is not the student it names, with a warning
only: a student could plant a later "submission" for another. Here it is left out.

Each class is nbgrader's, with only that changed; the global nbgrader_config.py beside this
file plugs them in through ExchangeFactory.
"""

import os
import pwd
import re
import shutil
import subprocess
from glob import glob

from nbgrader.exchange.default import (
    ExchangeCollect,
    ExchangeFetchAssignment,
    ExchangeFetchFeedback,
    ExchangeList,
    ExchangeReleaseAssignment,
    ExchangeReleaseFeedback,
    ExchangeSubmit,
)
from nbgrader.utils import check_directory, notebook_hash

SUBMISSION_FOLDER, SUBMISSION_FILE = 0o770, 0o640
FEEDBACK_FILE = 0o640


class FixedRoot:
    """The exchange root is made once by root; a user needs only to enter it."""

    def ensure_root(self):
        if not check_directory(self.root, execute=True):
            self.fail(f"The exchange {self.root} is missing or cannot be entered: ask the "
                      "administrator to run `deploy/jupyterhub/course_setup.py folders`.")


class PrivateFetchAssignment(FixedRoot, ExchangeFetchAssignment):
    pass


class PrivateList(FixedRoot, ExchangeList):
    pass


class PrivateFetchFeedback(FixedRoot, ExchangeFetchFeedback):
    pass


class PrivateReleaseAssignment(FixedRoot, ExchangeReleaseAssignment):
    pass


class PrivateSubmit(FixedRoot, ExchangeSubmit):
    def copy_files(self):
        super().copy_files()
        submission = os.path.join(self.inbound_path, self.assignment_filename)
        for folder, _, files in os.walk(submission):
            os.chmod(folder, SUBMISSION_FOLDER)
            for name in files:
                os.chmod(os.path.join(folder, name), SUBMISSION_FILE)


class PrivateReleaseFeedback(FixedRoot, ExchangeReleaseFeedback):
    def copy_files(self):
        if shutil.which("setfacl") is None:
            self.fail("setfacl is missing, so feedback cannot be made readable by its student "
                      "alone: install it (Debian: `apt-get install acl`).")
        super().copy_files()
        for student, released in self.released_files():
            os.chmod(released, FEEDBACK_FILE)
            subprocess.run(["setfacl", "--modify", f"user:{student}:r", released], check=True)

    def released_files(self):
        """(student, file in the exchange) of each feedback file copy_files released, named
        as nbgrader names it: a hash of the submission's secret and the notebook."""
        pattern = re.escape(os.path.sep).join([
            self.coursedir.format_path(self.coursedir.feedback_directory, "(?P<student>.*)",
                                       self.coursedir.assignment_id, escape=True),
            "(?P<notebook>.*).html"])
        for html in glob(os.path.join(self.src_path, "*.html")):
            match = re.match(pattern, html)
            secret_file = os.path.join(os.path.dirname(html), "submission_secret.txt")
            if match is None or not os.path.exists(secret_file):
                continue
            with open(secret_file) as secret:
                name = notebook_hash(secret=secret.read(), notebook_id=match["notebook"])
            released = os.path.join(self.dest_path, f"{name}.html")
            if os.path.exists(released):
                yield match["student"], released


class OwnerCheckedCollect(FixedRoot, ExchangeCollect):
    def _owner(self, record):
        try:
            uid = os.stat(os.path.join(self.inbound_path, record["filename"])).st_uid
            return pwd.getpwuid(uid).pw_name
        except (OSError, KeyError):
            return None

    def _planted(self, record):
        return self._owner(record) != record["username"]

    def _sort_by_timestamp(self, records):
        """Latest first, each student's own submissions before any planted by someone else
        (copy_files then leaves out a planted one that is all a student has)."""
        for record in filter(self._planted, records):
            self.log.error("Left out %s: it names %s but %s made it.", record["filename"],
                           record["username"], self._owner(record))
        return sorted(super()._sort_by_timestamp(records), key=self._planted)

    def copy_files(self):
        self.src_records = [record for record in self.src_records if not self._planted(record)]
        super().copy_files()
