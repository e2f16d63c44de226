"""Per-student grading records: what the grading driver saw while it graded one student.

The driver writes one JSON file per student, grading/<assignment>/<student>.json in the
course folder (CourseLayout.record), and the class report reads them. The schema:

    {"student": "alice",                 # the id of the folder in submitted/
     "status": "graded" | "failed",      # failed: autograde could not grade the student
     "seconds": 11.8,                    # wall time of the student's autograde
     "limits": [{"notebook": "04-randomness.ipynb",
                 "limit": "cpu" | "wall" | "memory" | "processes" | "output" | "kernel_died"
                          | "endless_loop",
                 "detail": "killed after 60 s of CPU"}],
     "patched_checks": [{"notebook": "01-linear-backward.ipynb",
                         "grade_id": "test-sizes",
                         "detail": "numpy.allclose replaced"}],
     "error": null | "why grading failed",
     "notes": ["03-vanishing-gradients.ipynb is not a valid notebook (...): graded as missing"],
     "submission": null | "sha256 of the graded submission (grading.cluster.submission_digest)",
     "worker": null | "the Dask worker that graded it"}

limits, patched_checks and notes may be empty, error is null when status is "graded". notes are
the driver's sentences about what it graded: files it left out of grading and notebooks that
were missing. Unknown keys are ignored and absent ones take their defaults, so records of an
older driver still read, and a newer driver may add fields without breaking older reports.

Limit hits and patched checks are noticed inside `nbgrader autograde` (by the grading
preprocessors), not by the driver. They reach it as events: the driver names a file in
$DIGITLAB_GRADING_EVENTS for each student's autograde (grading/<assignment>/events/
<student>.jsonl, emptied first), report_event appends one JSON line per event, and
read_events reads them back after the autograde.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from digitlab.course.layout import CourseLayout

EVENTS_VARIABLE = "DIGITLAB_GRADING_EVENTS"
STATUSES = ("graded", "failed")
LIMITS = ("cpu", "wall", "memory", "processes", "output", "kernel_died", "endless_loop")


@dataclass(frozen=True)
class LimitHit:
    """A notebook of the student's stopped by a resource limit."""

    notebook: str
    limit: str
    detail: str


@dataclass(frozen=True)
class PatchedCheck:
    """A test cell whose checking code the student's code replaced or altered."""

    notebook: str
    grade_id: str
    detail: str


@dataclass(frozen=True)
class GradingRecord:
    """One student's grading, as the driver saw it (the schema is in the module docstring)."""

    student: str
    status: str
    seconds: float
    limits: tuple[LimitHit, ...] = field(default=())
    patched_checks: tuple[PatchedCheck, ...] = field(default=())
    error: str | None = None
    notes: tuple[str, ...] = field(default=())
    submission: str | None = None  # the digest of what was graded: a later run skips it
    worker: str | None = None

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {self.status!r}")
        bad = [hit.limit for hit in self.limits if hit.limit not in LIMITS]
        if bad:
            raise ValueError(f"limits must be among {LIMITS}, not {bad}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> GradingRecord:
        """Parse a record; raises ValueError (json.JSONDecodeError is one) when malformed."""
        data = json.loads(text)
        try:
            return cls(student=str(data["student"]), status=data["status"],
                       seconds=float(data["seconds"]),
                       limits=tuple(LimitHit(**{key: str(hit[key]) for key in
                                                ("notebook", "limit", "detail")})
                                    for hit in data.get("limits", [])),
                       patched_checks=tuple(PatchedCheck(**{key: str(check[key]) for key in
                                                            ("notebook", "grade_id", "detail")})
                                            for check in data.get("patched_checks", [])),
                       error=None if data.get("error") is None else str(data["error"]),
                       notes=tuple(str(note) for note in data.get("notes", [])),
                       **{key: None if data.get(key) is None else str(data[key])
                          for key in ("submission", "worker")})
        except (KeyError, TypeError) as error:
            raise ValueError(f"not a grading record: {type(error).__name__} {error}") from error


def read_records(course: str | Path, assignment: str
                 ) -> tuple[dict[str, GradingRecord], dict[str, str]]:
    """({student: record}, {file name: why it could not be read}) from grading/<assignment>/.

    No folder means no records (the class was graded without the driver).
    """
    records, unreadable = {}, {}
    for path in sorted(CourseLayout(course).grading(assignment).glob("*.json")):
        try:
            record = GradingRecord.from_json(path.read_text())
        except (OSError, ValueError) as error:
            unreadable[path.name] = str(error)
            continue
        records[record.student] = record
    return records, unreadable


def report_event(event: LimitHit | PatchedCheck) -> None:
    """Append event to the file named by $DIGITLAB_GRADING_EVENTS; nothing when it is unset
    (an autograde run by hand: the preprocessors' log lines then tell)."""
    path = os.environ.get(EVENTS_VARIABLE)
    if path:
        kind = "limit" if isinstance(event, LimitHit) else "patched_check"
        with open(path, "a") as events:
            events.write(json.dumps({"kind": kind, **asdict(event)}) + "\n")


def read_events(path: str | Path) -> tuple[tuple[LimitHit, ...], tuple[PatchedCheck, ...]]:
    """(limit hits, patched checks) from an events file; both empty when there is no file.

    Lines that are not events are skipped: a killed autograde may leave half a line.
    """
    limits, patched = [], []
    if Path(path).exists():
        for line in Path(path).read_text(errors="replace").splitlines():
            try:
                event = json.loads(line)
                fields = {key: str(event[key]) for key in ("notebook", "detail")}
                if event["kind"] == "limit":
                    limits.append(LimitHit(limit=str(event["limit"]), **fields))
                elif event["kind"] == "patched_check":
                    patched.append(PatchedCheck(grade_id=str(event["grade_id"]), **fields))
            except (ValueError, KeyError, TypeError):
                continue
    return tuple(limits), tuple(patched)
