"""A whole term of the course on a real JupyterHub (deploy/jupyterhub/), as real Unix users.

One hub on 127.0.0.1 serves every step, in a term's order:
1. the instructor (a Unix account in the staff group) generates and releases digit-lab; the
   formgrader service (run by the grader account) lists it for the instructor, not a student;
2. three students, each through their own single-user server's nbgrader API (the
   assignment-list endpoints, with a hub API token of that student), fetch, submit the blank
   release once, fill in their answers through the server's contents API (perfect; the seed's
   bias bug; nothing for notebook 05), run notebook 05 as themselves (the perfect student's
   writes submission.csv; with the bias bug it stops at its gradient check), and submit again;
3. the instructor collects, root grades with `digitlab grade` (the grading kernels run as
   digitlab-grader-N), and the instructor generates and releases the feedback;
4. each student fetches their feedback and finds their own gradebook scores in it;
5. privacy probes, run as a student against another, each refused (and two controls allowed);
6. a fourth student logs in at the hub's login page in headless Chromium, opens the
   Assignments tab, fetches, opens notebook 01 and presses Validate.
Screenshots and the hub's log go to test-artifacts/hub/. It needs root, the course's accounts
(.ci/run makes them), setfacl, Node.js, configurable-http-proxy and Chromium: without them it
is skipped, and in CI (CI=true) it fails.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from course_builder import (
    ASSIGNMENT,
    NOTEBOOKS,
    averaged_bias,
    solved_release,
)
from hub_course import (
    ARTIFACTS,
    BIN,
    DEPLOY,
    Hub,
    course_setup,
    require_hub,
    running_hub,
    set_password,
)
from lab_browser import STEP_MS, chromium_context
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.utils import notebook_hash

pytestmark = pytest.mark.hub

as_user = course_setup.run_as  # a command as a course account, never as root
COURSE = course_setup.COURSE_ID
INSTRUCTOR = course_setup.INSTRUCTOR
PERFECT, BUGGY, NO_COMPETITION, BROWSER = course_setup.STUDENTS
COMPETITION = NOTEBOOKS[-1]
WORKING = f"{COURSE}/{ASSIGNMENT}"  # where a student's server fetches to (path_includes_course)
FEEDBACK_HEADER = re.compile(r"<h4>([\w-]+) \(Score: ([\d.]+) / ([\d.]+)\)</h4>")
SERVER_READY_SECONDS = 180
# Run as a student: tries one thing and prints "refused" (PermissionError) or "allowed".
PROBE = """
import os, sys
action, path = sys.argv[1:]
try:
    if action == "read":
        open(path, "rb").read(1)
    elif action == "list":
        os.listdir(path)
    elif action == "write":
        open(os.path.join(path, "planted.txt"), "w").write("planted")
    elif action == "rename":
        os.rename(path, path + "-renamed")
except PermissionError:
    sys.exit(print("refused"))
print("allowed")
"""


def test_a_term_on_the_hub():
    require_hub()
    started = time.monotonic()
    with running_hub() as hub:
        course = hub.folders.course
        instructor_runs(hub, "generate_assignment", ASSIGNMENT)
        instructor_runs(hub, "release_assignment", ASSIGNMENT)
        solved = solved_release(course)
        buggy = {name: copy.deepcopy(notebook) for name, notebook in solved.items()}
        averaged_bias(buggy)
        without_competition = {name: notebook for name, notebook in solved.items()
                               if name != COMPETITION}
        work = {PERFECT: solved, BUGGY: buggy, NO_COMPETITION: without_competition}
        # One token per account, used throughout (hub.token logs in with a new password).
        tokens = {student: hub.token(student) for student in work}
        formgrader_admits_staff_only(hub, tokens[PERFECT])

        for student in work:
            start_server(hub, student, tokens[student])
        wrote_submission = {student: do_the_assignment(hub, student, tokens[student], notebooks)
                            for student, notebooks in work.items()}
        # The bias bug fails notebook 05's gradient check, so 05 writes no predictions.
        assert wrote_submission == {PERFECT: True, BUGGY: False, NO_COMPETITION: None}

        instructor_runs(hub, "collect", ASSIGNMENT)
        # As root: each grading kernel runs as a digitlab-grader-N account.
        grade = subprocess.run([str(BIN / "digitlab"), "grade", ASSIGNMENT, "--jobs", "2"],
                               cwd=course, env=hub.environment, capture_output=True,
                               text=True, timeout=900)
        (ARTIFACTS / "digitlab-grade.txt").write_text(grade.stdout + grade.stderr)
        assert grade.returncode == 0, grade.stdout + grade.stderr
        instructor_runs(hub, "generate_feedback", ASSIGNMENT)
        instructor_runs(hub, "release_feedback", ASSIGNMENT)

        scores = gradebook_scores(course, list(work))
        feedback = {student: feedback_scores(hub, student, tokens[student]) for student in work}
        for student, pages in feedback.items():
            # Each page shows the student's own gradebook score; a notebook left out is
            # scored 0 in the gradebook and has no feedback page.
            assert pages == {name: scores[student][name] for name in pages}, student
        assert_grades_follow_the_answers(scores, feedback)

        probes = privacy_probes(hub)
        assert probes == {probe: expected for probe, (expected, _) in PROBES.items()}
        planted_submission_is_left_out(hub)

        validate_in_the_browser(hub, solved)
    print(f"\nA term on the hub: {time.monotonic() - started:.0f} s")


def instructor_runs(hub: Hub, *arguments: str) -> str:
    """nbgrader in the course folder as the instructor. umask 007: the grader account (the
    formgrader) shares the files through the staff group; nobody else reads them."""
    result = as_user(INSTRUCTOR, [str(BIN / "python"), "-m", "nbgrader", *arguments],
                     cwd=hub.folders.course, env=server_environment(hub), umask=0o007)
    assert result.returncode == 0, f"nbgrader {' '.join(arguments)}:\n{result.stderr}"
    return result.stderr


def formgrader_admits_staff_only(hub: Hub, student_token: str) -> None:
    """The formgrader service, run by the grader account, reads the course's gradebook for the
    instructor (group formgrade-digitlab) and refuses a student."""
    api = f"services/{COURSE}/formgrader/api/assignments"
    status, assignments = hub.call(api, hub.token(INSTRUCTOR))
    assert status == 200 and [item["name"] for item in assignments] == [ASSIGNMENT]
    status, _ = hub.call(api, student_token)
    assert status == 403


def server_environment(hub: Hub) -> dict[str, str]:
    """What jupyterhub_config.py gives every server: the global nbgrader config and the root."""
    return {"JUPYTER_CONFIG_PATH": str(DEPLOY / "jupyter"),
            "DIGITLAB_HUB_ROOT": str(hub.folders.root)}


def start_server(hub: Hub, user: str, token: str) -> None:
    status, _ = hub.call(f"hub/api/users/{user}/server", token, "POST")
    assert status in (201, 202), status
    deadline = time.monotonic() + SERVER_READY_SECONDS
    while True:
        _, model = hub.call(f"hub/api/users/{user}", token)
        if model.get("servers", {}).get("", {}).get("ready"):
            return
        assert time.monotonic() < deadline, f"{user}'s server did not start:\n{hub.log_tail()}"
        time.sleep(0.5)  # the hub's API offers no wait


def nbgrader_api(hub: Hub, user: str, token: str, action: str) -> dict[str, dict]:
    """One call to the assignment-list extension of the user's own server: the assignment's
    entries it then lists, by status ("fetched", "submitted")."""
    status, reply = hub.call(f"user/{user}/assignments/{action}", token, "POST",
                             {"course_id": COURSE, "assignment_id": ASSIGNMENT})
    assert status == 200 and reply["success"], (action, status, reply)
    return {item["status"]: item for item in reply["value"]
            if item["assignment_id"] == ASSIGNMENT}


def do_the_assignment(hub: Hub, student: str, token: str,
                      notebooks: dict[str, nbformat.NotebookNode]) -> bool | None:
    """Fetch, submit the blank release, answer, run 05, submit again: the latest counts.
    Whether 05 wrote submission.csv (None: the student left 05 out)."""
    assert nbgrader_api(hub, student, token, "fetch")["fetched"]["path"] == WORKING
    nbgrader_api(hub, student, token, "submit")
    for name, notebook in notebooks.items():
        status, _ = hub.call(f"user/{student}/api/contents/{WORKING}/{name}", token, "PUT",
                             {"type": "notebook", "format": "json", "content": notebook})
        assert status == 200, (student, name, status)
    wrote_submission = None
    if COMPETITION in notebooks:
        wrote_submission = run_competition(hub, student, token)
    else:
        status, _ = hub.call(f"user/{student}/api/contents/{WORKING}/{COMPETITION}", token,
                             "DELETE")
        assert status == 204, status
    nbgrader_api(hub, student, token, "submit")
    return wrote_submission


def run_competition(hub: Hub, student: str, token: str) -> bool:
    """Run notebook 05 as the student, as Run All would; whether it wrote submission.csv.
    With a Linear that fails the gradient check, 05 stops at its first cell and says why."""
    home = Path(as_user(student, ["sh", "-c", "echo $HOME"]).stdout.strip())
    run = as_user(student, [str(BIN / "jupyter"), "nbconvert", "--to", "notebook",
                            "--execute", "--inplace", "--allow-errors", COMPETITION],
                  cwd=home / WORKING, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    status, _ = hub.call(f"user/{student}/api/contents/{WORKING}/submission.csv", token)
    if status != 200:
        _, notebook = hub.call(f"user/{student}/api/contents/{WORKING}/{COMPETITION}", token)
        assert "fails the gradient check" in str(notebook["content"]), student
    return status == 200


def gradebook_scores(course: Path, students: list[str]) -> dict[str, dict[str, tuple]]:
    """{student: {notebook: (score, max score)}} as the gradebook has them."""
    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id=COURSE) as gradebook:
        for student in students:
            scores[student] = {}
            for name in NOTEBOOKS:
                try:
                    notebook = gradebook.find_submission_notebook(Path(name).stem, ASSIGNMENT,
                                                                  student)
                except MissingEntry:
                    continue
                scores[student][notebook.name] = (round(notebook.score, 2),
                                                  round(notebook.max_score, 2))
    return scores


def feedback_scores(hub: Hub, student: str, token: str) -> dict[str, tuple]:
    """Fetch the feedback through the student's server; {notebook: (score, max)} read from
    the headers of the feedback pages it brought, which are of one submission only."""
    submitted = nbgrader_api(hub, student, token, "fetch_feedback")["submitted"]
    # Two submissions; the feedback of the latest, which was graded, is here now.
    assert sorted(item["has_local_feedback"] for item in submitted["submissions"]) == [False, True]
    _, folder = hub.call(f"user/{student}/api/contents/{WORKING}/feedback", token)
    stamps = [item["path"] for item in folder["content"]]
    assert len(stamps) == 1, stamps  # the feedback of the latest submission, nothing else
    _, pages = hub.call(f"user/{student}/api/contents/{stamps[0]}", token)
    scores = {}
    for page in pages["content"]:
        _, html = hub.call(f"user/{student}/api/contents/{page['path']}?content=1", token)
        (name, score, maximum), = FEEDBACK_HEADER.findall(html["content"])
        scores[name] = (float(score), float(maximum))
    return scores


def assert_grades_follow_the_answers(scores: dict[str, dict[str, tuple]],
                                     feedback: dict[str, dict[str, tuple]]) -> None:
    """The perfect student's autograded notebook 01 scores full marks (the blank first
    submission would score 0: the latest counted); the bias bug loses points there; the
    student who left out 05 scores 0 for it and gets feedback on the other four only."""
    first, competition = Path(NOTEBOOKS[0]).stem, Path(COMPETITION).stem
    score, maximum = scores[PERFECT][first]
    assert score == maximum > 0
    assert scores[BUGGY][first][0] < maximum
    assert scores[PERFECT][competition][0] > 0 == scores[NO_COMPETITION][competition][0]
    assert set(feedback[PERFECT]) == {Path(name).stem for name in NOTEBOOKS}
    assert set(feedback[NO_COMPETITION]) == set(feedback[PERFECT]) - {competition}


def attempt(user: str, action: str, path: Path) -> str:
    return as_user(user, [sys.executable, "-c", PROBE, action, str(path)]).stdout.strip()


# Each probe: (expected outcome, what it tries). The thief is BUGGY, the victim PERFECT.
PROBES = {
    "read another's submitted notebook": ("refused", "inbound/<victim's submission>/01"),
    "read another's submission secret": ("refused", "inbound/<victim's>/submission_secret.txt"),
    "write into another's submission": ("refused", "inbound/<victim's submission>/"),
    "list the inbound folder": ("refused", "inbound/"),
    "read another's feedback": ("refused", "feedback/<hash of victim's 01>.html"),
    "list the feedback folder": ("refused", "feedback/"),
    "read another's working copy": ("refused", "~victim/digitlab/digit-lab/01"),
    "read the source notebooks": ("refused", "course/notebooks/digit-lab/01"),
    "read the answer key": ("refused", "course/keys/digit-lab.csv"),
    "read the gradebook": ("refused", "course/gradebook.db"),
    "rename the course in the exchange": ("refused", "exchange/digitlab (nbgrader #1225)"),
    "write into the release": ("refused", "outbound/digit-lab/"),
    "control: the victim reads their own feedback": ("allowed", "feedback/<hash>.html"),
    "control: the instructor reads the submission": ("allowed", "inbound/<victim's>/01"),
}


def privacy_probes(hub: Hub) -> dict[str, str]:
    exchange, course = hub.folders.course_exchange, hub.folders.course
    thief, victim = BUGGY, PERFECT
    submission = latest_submission(exchange / "inbound", victim)
    secret = (course / "feedback" / victim / ASSIGNMENT / "submission_secret.txt").read_text()
    feedback = exchange / "feedback" / (notebook_hash(secret=secret,
                                                      notebook_id=Path(NOTEBOOKS[0]).stem)
                                        + ".html")
    assert feedback.exists()
    victim_home = Path(as_user(victim, ["sh", "-c", "echo $HOME"]).stdout.strip())
    tries = {
        "read another's submitted notebook": (thief, "read", submission / NOTEBOOKS[0]),
        "read another's submission secret": (thief, "read", submission / "submission_secret.txt"),
        "write into another's submission": (thief, "write", submission),
        "list the inbound folder": (thief, "list", exchange / "inbound"),
        "read another's feedback": (thief, "read", feedback),
        "list the feedback folder": (thief, "list", exchange / "feedback"),
        "read another's working copy": (thief, "read", victim_home / WORKING / NOTEBOOKS[0]),
        "read the source notebooks": (thief, "read",
                                      course / "notebooks" / ASSIGNMENT / NOTEBOOKS[0]),
        "read the answer key": (thief, "read", course / "keys" / "digit-lab.csv"),
        "read the gradebook": (thief, "read", course / "gradebook.db"),
        "rename the course in the exchange": (thief, "rename", exchange),
        "write into the release": (thief, "write", exchange / "outbound" / ASSIGNMENT),
        "control: the victim reads their own feedback": (victim, "read", feedback),
        "control: the instructor reads the submission": (INSTRUCTOR, "read",
                                                         submission / NOTEBOOKS[0]),
    }
    outcomes = {name: attempt(*what) for name, what in tries.items()}
    (ARTIFACTS / "privacy-probes.txt").write_text("".join(
        f"{name}: {outcome} ({tries[name][0]} {tries[name][1]} {tries[name][2]})\n"
        for name, outcome in outcomes.items()))
    return outcomes


def latest_submission(inbound: Path, student: str) -> Path:
    return max(inbound.glob(f"{student}+{ASSIGNMENT}+*"),
               key=lambda path: path.name.split("+")[2])


def planted_submission_is_left_out(hub: Hub) -> None:
    """A student may add to inbound/, so may add a folder named as another student with a
    later time; `collect --update` must leave it out, not take it as the victim's latest."""
    inbound = hub.folders.course_exchange / "inbound"
    planted = inbound / f"{PERFECT}+{ASSIGNMENT}+2999-01-01 00:00:00.000000 UTC+planted"
    made = as_user(BUGGY, ["mkdir", str(planted)])
    assert made.returncode == 0, made.stderr  # inbound is writable by design
    log = instructor_runs(hub, "collect", "--update", ASSIGNMENT)
    assert f"Left out {planted.name}: it names {PERFECT} but {BUGGY} made it." in log
    collected = hub.folders.course / "submitted" / PERFECT / ASSIGNMENT / "timestamp.txt"
    assert not collected.read_text().startswith("2999")


def validate_in_the_browser(hub: Hub, solved: dict[str, nbformat.NotebookNode]) -> None:
    """Log in at the hub's page, Assignments tab, Fetch, answer 01 (through the student's own
    server, as in the API steps), open it and press Validate."""
    password = set_password(BROWSER)
    shots = ARTIFACTS / "browser"
    shots.mkdir(parents=True, exist_ok=True)
    with chromium_context(ARTIFACTS / "profile") as context:
        page = context.new_page()
        step = 0

        def shot(name: str) -> None:
            nonlocal step
            step += 1
            page.screenshot(path=str(shots / f"{step:02d}-{name}.png"))

        try:
            page.goto(hub.url + "hub/login")
            page.fill("#username_input", BROWSER)
            page.fill("#password_input", password)
            shot("login")
            page.click("#login_submit")
            page.wait_for_url(re.compile(rf"/user/{BROWSER}/lab"), timeout=STEP_MS)
            page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Nbgrader$")).click()
            page.get_by_role("menuitem", name=re.compile("Assignment List")).click()
            fetch = page.get_by_role("button", name="Fetch")
            fetch.wait_for()
            shot("assignments")
            fetch.click()
            # A fetched assignment lists its notebooks once its name is clicked.
            page.locator("a.assignment-notebooks-link", has_text=ASSIGNMENT).click()
            link = page.locator(".assignment-notebooks a",
                                has_text=Path(NOTEBOOKS[0]).stem).first
            link.wait_for()
            shot("fetched")
            token = hub.token(BROWSER)
            status, _ = hub.call(f"user/{BROWSER}/api/contents/{WORKING}/{NOTEBOOKS[0]}",
                                 token, "PUT", {"type": "notebook", "format": "json",
                                                "content": solved[NOTEBOOKS[0]]})
            assert status == 200
            link.click()
            page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for()
            page.locator(".jp-NotebookPanel-toolbar").get_by_text("Validate").click()
            dialog = page.locator(".jp-Dialog")
            dialog.get_by_text("Success! Your notebook passes all the tests.").wait_for(
                timeout=STEP_MS)
            shot("validated")
        except BaseException:
            shot("failed")
            raise
