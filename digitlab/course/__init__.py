"""The instructor's side of the lab, in wings. Nothing on the student's side imports it.

    layout.py     where X of student S lives: the one place a course path is built
                  (nbgrader's CourseDirectory.format_path, and grading/<assignment>/)
    records.py    what a grading left behind, per student, and the events that report it
    tables.py     CSV tables of students' text, safe to open in a spreadsheet
    hidden_check.py  the path the hidden tests import check from (the check is in checks/)
    checks/       the hidden checks, the children that run student code, the grader's
                  outside run, and the one registry of checks
    sandbox/      the grading kernels' limits, the sandbox and its launcher, the process tree
    grading/      the class's autograde, the gradebook, the integrity scan, the summary shown
    report/       the class report (CSV tables, HTML page), the grades out to the LMS
    competition/  the leaderboard, its figure, the Kaggle split
    assignment/   the assignment outside grading: the instructor's preview of the source
                  notebooks, and the student bundle (release, wheel, README, zipped)

The wings import one way, downwards:

    report -> grading -> sandbox -> records -> layout
              checks  -> sandbox
    competition, report -> tables, layout (the root)
    assignment -> checks (the answer key's variable), layout

checks and grading never import each other: autograde reaches the checks' and the sandbox's
nbgrader steps by the dotted names in nbgrader_config.py. Nothing imports report,
competition or grading from below, and this file holds no code, so a grading kernel that
imports digitlab.course.hidden_check loads nothing of the grader's side.
"""
