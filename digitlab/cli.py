"""The `digitlab` command for instructors.

    digitlab leaderboard digit-lab [--course DIR] [--key PATH] [--board final|public]
                                   [--anonymise] [--out DIR] [--public-fraction F] [--seed N]
    digitlab kaggle-split train.csv --test-size N --out DIR [--seed N]
    digitlab grade digit-lab [--course DIR] [--jobs N] [--db-url URL] [--student S ...]
                             [--timeout SECONDS] [--scheduler tcp://HOST:8786 [--force]]
    digitlab worker tcp://HOST:8786 [--slots N] [--course DIR] [--db-url URL]
    digitlab report digit-lab [--course DIR] [--db-url URL] [--out DIR]
    digitlab integrity digit-lab [--course DIR]
    digitlab preview digit-lab [--course DIR] [--out DIR] [--key PATH]
    digitlab export digit-lab --format canvas|moodle|csv --roster ROSTER.csv --out FILE
                              [--course DIR] [--db-url URL] [--no-total] [--notebooks]
    digitlab bundle digit-lab --out DIR [--course DIR] [--wheel PATH]

Thin: it parses, calls digitlab.course, and prints. Exit status 0 when the work ran (a
student's broken submission is a result, not a failure), 1 when it could not (no key, a
malformed key, no students in submitted/, no release or gradebook), 2 for a wrong command
line. `export` exits 1 also when it wrote the file but someone on the roster has no
submission or someone graded is not on the roster: it names each of them on stderr.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections import Counter
from pathlib import Path

import digitlab.course.grading.no_iri_parser  # noqa: F401 - first: before nbformat loads
from digitlab.competition import SubmissionError, read_answer_key
from digitlab.course.assignment import bundle, preview
from digitlab.course.checks.score_submission import KEY_VARIABLE, instructor_key
from digitlab.course.competition import kaggle_split, leaderboard
from digitlab.course.grading import cluster, grade, gradebook, integrity
from digitlab.course.grading.summary import ProgressBar, summary
from digitlab.course.layout import CourseLayout
from digitlab.course.report import class_report, lms
from digitlab.course.tables import write_table


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    return args.run(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="digitlab", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    board = commands.add_parser(
        "leaderboard", help="score every collected submission and write the class leaderboard",
        description="Score submitted/<student>/ASSIGNMENT/submission.csv for every student "
                    "against the answer key; write the board as CSV and PNG and print it.")
    board.add_argument("assignment", help="the nbgrader assignment, e.g. digit-lab")
    board.add_argument("--course", default=".", help="the course folder, holding submitted/ "
                       "(default: the current folder)")
    board.add_argument("--key", help=f"the answer key (default: ${KEY_VARIABLE}, else "
                       "COURSE/keys/ASSIGNMENT.csv)")
    board.add_argument("--board", choices=leaderboard.BOARDS, default="final",
                       help="final: rank by the private part, show both parts (default); "
                            "public: rank by the public part and show nothing else, for "
                            "posting during the competition")
    board.add_argument("--anonymise", action="store_true",
                       help="also write ASSIGNMENT-BOARD-anonymised.csv with pseudonyms, for "
                            f"posting (the secret behind them: {leaderboard.SECRET_FILE} next "
                            "to the key, created if absent)")
    board.add_argument("--out", help="the output folder (default: COURSE/leaderboard)")
    board.add_argument("--public-fraction", type=float, default=leaderboard.PUBLIC_FRACTION,
                       help="the share of images on the public board (default: %(default)s)")
    board.add_argument("--seed", type=int, default=leaderboard.DEFAULT_SEED,
                       help="chooses the public images (default: %(default)s)")
    board.set_defaults(run=_leaderboard)

    split = commands.add_parser(
        "kaggle-split", help="cut a competition set and its answer key from Kaggle's train.csv",
        description="Hold out images of Kaggle's train.csv as the competition: write "
                    "train.csv and test.csv in Kaggle's layout and answer-key.csv.")
    split.add_argument("train_csv", help="Kaggle's digit-recognizer train.csv")
    split.add_argument("--test-size", type=int, required=True,
                       help="how many images to hold out")
    split.add_argument("--out", required=True, help="the folder for the three files")
    split.add_argument("--seed", type=int, default=0,
                       help="chooses the held-out images (default: %(default)s)")
    split.set_defaults(run=_kaggle_split)

    course_help = ("the course folder, holding release/, submitted/ and autograded/ (default: "
                   "the current folder)")
    db_url_help = (f"the gradebook's SQLAlchemy URL (default: ${gradebook.DB_URL_VARIABLE}, "
                   "else the course's config, else COURSE/gradebook.db)")
    classreport = commands.add_parser(
        "report", help="write the class report after autograde (CSV files and an HTML page)",
        description="Read the gradebook, the autograded notebooks, the integrity scan and the "
                    "grading records; write ASSIGNMENT-scores/-cells/-diagnoses/-integrity.csv "
                    "and ASSIGNMENT.html.")
    classreport.add_argument("assignment", help="the nbgrader assignment, e.g. digit-lab")
    classreport.add_argument("--course", default=".", help=course_help)
    classreport.add_argument("--db-url", help=db_url_help)
    classreport.add_argument("--out", help="the output folder (default: COURSE/report)")
    classreport.set_defaults(run=_report)

    scan = commands.add_parser(
        "integrity", help="list tampered test cells and missing or corrupt notebooks",
        description="Compare every submitted notebook with the release and print what "
                    "students changed in the cells that grade them. Only reads.")
    scan.add_argument("assignment", help="the nbgrader assignment, e.g. digit-lab")
    scan.add_argument("--course", default=".", help=course_help)
    scan.set_defaults(run=_integrity)

    grade_parser = commands.add_parser(
        "grade", help="autograde every collected submission, several students at once",
        description="Run `nbgrader autograde ASSIGNMENT --student S --force` for every student "
                    "in submitted/, JOBS at a time, against the course's gradebook, on a copy "
                    "of each submission without invalid notebooks, symbolic links and special "
                    "files (submitted/ is only read); keep each student's outcome in "
                    "grading/ASSIGNMENT/ and print a summary that names every problem: "
                    "failures, files left out, missing notebooks, limit hits, patched checks "
                    "and tampered test cells.")
    grade_parser.add_argument("assignment", help="the nbgrader assignment, e.g. digit-lab")
    grade_parser.add_argument("--course", default=".", help="the course folder, holding "
                              "nbgrader_config.py and submitted/ (default: the current folder)")
    grade_parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                              help="students graded at once (default: the cores, %(default)s)")
    grade_parser.add_argument("--db-url", help=db_url_help)
    grade_parser.add_argument("--student", nargs="+", metavar="S",
                              help="grade only these students (default: all)")
    grade_parser.add_argument("--timeout", type=float, default=grade.DEFAULT_TIMEOUT,
                              help="seconds one student's autograde may take before it is "
                                   "killed and the student is not graded (default: %(default)g)")
    grade_parser.add_argument("--scheduler", metavar="ADDRESS",
                              help="grade on this Dask cluster, one task per student, on the "
                                   "`digitlab worker`s connected to it (e.g. tcp://HOST:8786); "
                                   "--jobs is then the workers' slots")
    grade_parser.add_argument("--force", action="store_true",
                              help="with --scheduler: grade again the students whose record "
                                   "shows their submission graded (default: skip them)")
    grade_parser.set_defaults(run=_grade)

    worker = commands.add_parser(
        "worker", help="serve as a Dask worker that grades (on every grading host)",
        description="Check that this host can grade the course (the grading users, the "
                    "interpreter, the course folder at the same path, the gradebook), then "
                    "serve the Dask scheduler as a worker with SLOTS grading slots, for "
                    "`digitlab grade ASSIGNMENT --scheduler ADDRESS`.")
    worker.add_argument("scheduler", help="the Dask scheduler, e.g. tcp://HOST:8786")
    worker.add_argument("--slots", type=int, default=1,
                        help="students graded at once on this host (default: %(default)s)")
    worker.add_argument("--course", default=".", help="the shared course folder, at the same "
                        "path as where `digitlab grade` runs (default: the current folder)")
    worker.add_argument("--db-url", help=db_url_help)
    worker.set_defaults(run=_worker)

    export = commands.add_parser(
        "export", help="write the gradebook's scores as a file Canvas or Moodle imports",
        description="Match the gradebook's students to the roster (a CSV: a column "
                    "nbgrader_id beside the LMS's identity columns, e.g. Canvas's gradebook "
                    "export) and write the LMS's grade import CSV. Everyone on the roster "
                    "without a submission, and everyone graded who is not on the roster, is "
                    "named on stderr, and the exit status is then 1.")
    export.add_argument("assignment", help="the nbgrader assignment, e.g. digit-lab")
    export.add_argument("--format", required=True, choices=lms.FORMATS, dest="lms",
                        help="canvas: its gradebook import CSV; moodle: its CSV grade "
                             "import; csv: nbgrader_id, the roster's columns, the grades")
    export.add_argument("--roster", required=True, help="the roster CSV")
    export.add_argument("--out", required=True, help="the file to write")
    export.add_argument("--course", default=".", help=course_help)
    export.add_argument("--db-url", help=db_url_help)
    export.add_argument("--no-total", dest="total", action="store_false",
                        help="leave out the total column (named after the assignment)")
    export.add_argument("--notebooks", action="store_true",
                        help="add a column per notebook (ASSIGNMENT: NOTEBOOK)")
    export.set_defaults(run=_export)

    student_bundle = commands.add_parser(
        "bundle", help="write the zip a student without a hub installs the lab from",
        description="Write OUT/ASSIGNMENT-student.zip: the release folder, the digitlab wheel "
                    "and a README with the student's two commands.")
    student_bundle.add_argument("assignment", help="the nbgrader assignment, e.g. digit-lab")
    student_bundle.add_argument("--out", required=True, help="the folder for the zip")
    student_bundle.add_argument("--course", default=".", help=course_help)
    student_bundle.add_argument("--wheel", help="the digitlab wheel to put in (default: "
                                "built with pip wheel from the installed project)")
    student_bundle.set_defaults(run=_bundle)

    preview.register(commands)
    return parser


def _leaderboard(args: argparse.Namespace) -> int:
    layout = CourseLayout(args.course)
    key = instructor_key(layout.answer_key(args.assignment), args.key)
    try:
        truth = read_answer_key(key)
    except SubmissionError as error:
        print(f"The answer key {key} cannot be used:\n- " + "\n- ".join(error.problems))
        return 1
    try:
        public = leaderboard.public_mask(len(truth), args.public_fraction, args.seed)
        submissions = leaderboard.find_submissions(args.course, args.assignment)
    except (ValueError, FileNotFoundError) as error:
        print(error)
        return 1
    scores = leaderboard.score_class(submissions, truth, public)
    rows = leaderboard.board(scores, args.board)

    out = Path(args.out) if args.out else layout.leaderboard_folder()
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{args.assignment}-{args.board}"
    named = leaderboard.table(rows, args.board)
    written = []
    if args.anonymise:
        names = leaderboard.pseudonyms([score.student for score in scores],
                                       leaderboard.load_secret(key.parent
                                                               / leaderboard.SECRET_FILE))
        # The instructor's file keeps the ids and shows each student's pseudonym.
        for record, row in zip(named, rows, strict=True):
            record["pseudonym"] = names[row.score.student]
        written.append(write_table(leaderboard.table(rows, args.board, names),
                                               out / f"{stem}-anonymised.csv"))
    written.append(write_table(named, out / f"{stem}.csv"))
    written.append(_plot(rows, args, public, out / f"{stem}.png"))

    _print_table(named)
    print(f"\n{len(scores)} students: {sum(not score.problems for score in scores)} scored, "
          f"{sum(bool(score.problems) for score in scores)} with problems. Public part: "
          f"{public.sum()} of {len(public)} images (seed {args.seed}).")
    print("Wrote " + ", ".join(str(path) for path in written))
    return 0


def _plot(rows, args: argparse.Namespace, public, path: Path) -> Path:
    """Save the board's figure to path. It shows ranks, never names, so it is safe to post."""
    from digitlab.course.competition.leaderboard_plot import (
        leaderboard_figure,  # matplotlib: only here
    )

    title = (f"{args.assignment}: {args.board} leaderboard (public part {public.sum()} of "
             f"{len(public)} images)")
    leaderboard_figure(rows, args.board, title).savefig(path)
    return path


def _print_table(records: list[dict]) -> None:
    """Records (at least one) of equal keys as aligned columns, problems last, unpadded."""
    columns = [column for column in records[0] if column != "problems"] + ["problems"]
    widths = {column: max(len(column), *(len(record[column]) for record in records))
              for column in columns}
    for line in [{column: column for column in columns}, *records]:
        print("  ".join(line[column].ljust(widths[column]) for column in columns[:-1])
              + "  " + line["problems"])


def _kaggle_split(args: argparse.Namespace) -> int:
    try:
        paths = kaggle_split.split_kaggle_train(args.train_csv, args.test_size, args.out,
                                                args.seed)
    except (OSError, ValueError) as error:  # DataFormatError is a ValueError
        print(error)
        return 1
    print(f"Wrote {', '.join(str(path) for path in paths.values())}.\nGive students "
          "train.csv and test.csv; keep answer-key.csv with the course's keys (for example "
          "as keys/digit-lab.csv) and never release it.")
    return 0


def _report(args: argparse.Namespace) -> int:
    from digitlab.course.report.page import write_html  # matplotlib: only here

    try:
        result = class_report.build_report(args.course, args.assignment, args.db_url)
    except (FileNotFoundError, ValueError, gradebook.GradebookError) as error:
        print(error)
        return 1
    out = Path(args.out) if args.out else CourseLayout(args.course).report_folder()
    written = [*class_report.write_csvs(result, out), write_html(result, out)]
    stats = class_report.summary_statistics(result)
    print(f"{stats['students']} students: mean total {stats['mean']:.1f}, "
          f"median {stats['median']:.1f} of {stats['max_total']:g} points.")
    failed = [cell for cell in result.cells if cell.failed + cell.errored][:3]
    print("Most failed: " + (", ".join(f"{cell.grade_id} ({cell.fail_rate:.0%})"
                                       for cell in failed) or "none") + ".")
    top = result.diagnoses[0] if result.diagnoses else None
    print("Top diagnosis: " + (f"{top.text} ({top.students} student"
                               f"{'s' * (top.students != 1)})" if top else "none") + ".")
    _print_kinds(result.integrity)
    print("Wrote " + ", ".join(str(path) for path in written))
    return 0


def _integrity(args: argparse.Namespace) -> int:
    try:
        findings = integrity.scan_class(args.course, args.assignment)
    except FileNotFoundError as error:
        print(error)
        return 1
    for finding in findings:
        print(f"{finding.student}  {finding.notebook}  {finding.kind}  "
              f"{finding.grade_id or '-'}: {finding.explanation}")
    _print_kinds(findings)
    return 0


def _print_kinds(findings: list[integrity.Finding]) -> None:
    counts = Counter(finding.kind for finding in findings)
    print(f"{len(findings)} integrity findings" + (": " + ", ".join(
        f"{count} {kind}" for kind, count in sorted(counts.items())) if counts else "") + ".")


def _grade(args: argparse.Namespace) -> int:
    # `kill` of this command must end its autogrades too: they run in sessions of their own.
    # SystemExit unwinds through grade_class, which stops them, as Ctrl+C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        if args.scheduler:
            result = cluster.grade_on_cluster(
                args.course, args.assignment, args.scheduler, db_url=args.db_url,
                students=args.student, timeout=args.timeout, force=args.force,
                progress=ProgressBar(sys.stderr))
        else:
            result = grade.grade_class(args.course, args.assignment, jobs=max(1, args.jobs),
                                       db_url=args.db_url, students=args.student,
                                       timeout=args.timeout, progress=ProgressBar(sys.stderr))
    except (FileNotFoundError, ValueError, gradebook.GradebookError, grade.NotReady) as error:
        print(error)
        return 1
    except cluster.GradingStopped as error:
        print(error)
        return error.status
    print(f"Gradebook: {gradebook.shown(result.db_url)}"
          + "".join(f"; {step}" for step in result.prepared))
    print("\n".join(summary(result)))
    print(f"Records and nbgrader's logs: {CourseLayout(args.course).grading(args.assignment)}")
    return 0


def _worker(args: argparse.Namespace) -> int:
    course = Path(args.course).resolve()
    db_url = gradebook.resolve_db_url(course, args.db_url)
    stoppers = cluster.check_host(course, db_url, max(1, args.slots))
    if stoppers:
        print("This host cannot grade:\n- " + "\n- ".join(stoppers))
        return 1
    name = cluster.worker_name()
    print(f"digitlab worker {name}: {args.slots} grading slots for {course}, gradebook "
          f"{gradebook.shown(db_url)}, scheduler {args.scheduler}", flush=True)
    # `kill` ends the worker and, through SystemExit, its autogrades.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    cluster.serve(args.scheduler, course, db_url, max(1, args.slots), name)
    return 0


def _export(args: argparse.Namespace) -> int:
    try:
        result = lms.export_grades(args.course, args.assignment,
                                   gradebook.resolve_db_url(args.course, args.db_url),
                                   args.roster, args.lms, args.out, args.total, args.notebooks)
    except (ValueError, gradebook.GradebookError) as error:  # RosterError is a ValueError
        print(error)
        return 1
    print(f"Wrote {args.out}: {result.students} students of the roster, "
          f"{result.students - len(result.no_submission)} with grades.")
    for line in result.unmatched:
        print(line, file=sys.stderr)
    return 1 if result.unmatched else 0


def _bundle(args: argparse.Namespace) -> int:
    try:
        path = bundle.write_bundle(args.course, args.assignment, args.out, args.wheel)
    except bundle.BundleError as error:
        print(error)
        return 1
    print(f"Wrote {path}: give it to the students; its README.md says what to run.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
