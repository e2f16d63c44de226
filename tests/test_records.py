"""Grading records and the events that reach the driver from inside `nbgrader autograde`."""

import json

import pytest

from digitlab.course.records import (
    EVENTS_VARIABLE,
    GradingRecord,
    LimitHit,
    PatchedCheck,
    read_events,
    report_event,
)

HIT = LimitHit("04-randomness.ipynb", "memory", "over 2 GiB")
CHECK = PatchedCheck("01-linear-backward.ipynb", "test-sizes", "numpy.allclose replaced")


def test_events_of_both_kinds_are_read_back_in_order(tmp_path, monkeypatch):
    events = tmp_path / "alice.jsonl"
    monkeypatch.setenv(EVENTS_VARIABLE, str(events))
    for event in (HIT, CHECK, HIT):
        report_event(event)
    assert len(events.read_text().splitlines()) == 3
    assert read_events(events) == ((HIT, HIT), (CHECK,))


def test_without_the_variable_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.delenv(EVENTS_VARIABLE, raising=False)
    monkeypatch.chdir(tmp_path)
    report_event(HIT)
    monkeypatch.setenv(EVENTS_VARIABLE, "")
    report_event(CHECK)
    assert list(tmp_path.iterdir()) == []


def test_half_lines_and_other_lines_are_skipped(tmp_path):
    events = tmp_path / "bob.jsonl"
    whole = json.dumps({"kind": "limit", **HIT.__dict__})
    events.write_text("\n".join([
        whole,
        json.dumps({"kind": "mystery", "notebook": "x", "detail": "y"}),
        json.dumps({"kind": "patched_check", "notebook": "x", "detail": "no grade id"}),
        "[1, 2]",
        "",
        whole[:len(whole) // 2],  # a killed autograde stopped mid-line
    ]))
    assert read_events(events) == ((HIT,), ())
    assert read_events(tmp_path / "never-written.jsonl") == ((), ())


def test_a_record_keeps_its_notes_and_an_older_record_without_them_reads():
    record = GradingRecord("carol", "graded", 8.5, (HIT,), (CHECK,),
                           notes=("03-vanishing-gradients.ipynb is not a valid notebook "
                                  "(NotJSONError: ...): graded as missing",))
    assert GradingRecord.from_json(record.to_json()) == record
    older = json.loads(record.to_json())
    del older["notes"]
    assert GradingRecord.from_json(json.dumps(older)).notes == ()
    with pytest.raises(ValueError, match="limits must be among"):
        GradingRecord("dave", "graded", 1.0, (LimitHit("x", "patience", "y"),))
