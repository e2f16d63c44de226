"""StopSignals: a Ctrl+C that Python drops (raised inside a weakref callback, where exceptions
are printed and ignored) is raised again by check(), as `digitlab grade`'s loops call it; an
ignored SIGINT stays ignored; the handlers are given back afterwards."""

import os
import signal
import sys
import weakref

import pytest

from digitlab.course.grading.stop_signals import StopSignals


def interrupt_inside_a_weakref_callback() -> None:
    """SIGINT to this process while the garbage collector's callback runs: the handler runs
    in the callback, whose KeyboardInterrupt Python prints and drops."""
    class Thing:
        pass

    def callback(_):
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(10_000):  # the handler runs at one of these bytecodes
            pass

    thing = Thing()
    reference = weakref.ref(thing, callback)
    del thing
    assert reference() is None


def test_a_ctrl_c_dropped_in_a_callback_is_raised_by_check(monkeypatch):
    dropped = []  # what Python prints as "Exception ignored in ..."
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: dropped.append(
        unraisable.exc_type))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with StopSignals() as stop:
        interrupt_inside_a_weakref_callback()  # returns: the KeyboardInterrupt was dropped
        assert dropped == [KeyboardInterrupt]
        with pytest.raises(KeyboardInterrupt):
            stop.check()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_without_a_signal_check_does_nothing():
    with StopSignals() as stop:
        stop.check()


def test_a_kill_raises_what_its_handler_raises_and_check_raises_it_again():
    def exit_on_kill(number, frame):
        raise SystemExit(128 + number)

    previous = signal.signal(signal.SIGTERM, exit_on_kill)
    try:
        with StopSignals() as stop:
            with pytest.raises(SystemExit) as raised:
                os.kill(os.getpid(), signal.SIGTERM)
                for _ in range(10_000):
                    pass
            assert raised.value.code == 128 + signal.SIGTERM
            with pytest.raises(SystemExit):
                stop.check()
        assert signal.getsignal(signal.SIGTERM) is exit_on_kill
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_an_ignored_ctrl_c_stays_ignored():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with StopSignals() as stop:
            os.kill(os.getpid(), signal.SIGINT)
            stop.check()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
