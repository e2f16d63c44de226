"""Ctrl+C and `kill` during a class's grading, taken even when Python drops them.

Python runs a signal's handler in the main thread between two bytecodes, wherever that thread
is. When it is in a finalizer or a weakref callback (the garbage collector runs them at any
moment), the exception the handler raises is printed as "Exception ignored in ..." and dropped,
and a run asked to stop went on to its end. Seen under load: a Ctrl+C dropped in a
WeakKeyDictionary's callback, and `digitlab grade` graded every student and exited 0.

So, while a run waits for its students, StopSignals remembers each signal it takes, and the
run's loop, which never waits longer than POLL_SECONDS at a time, calls check(): a signal that
was dropped is raised there again, by the handler it came to.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType

POLL_SECONDS = 0.25  # the longest a dropped Ctrl+C or kill waits to be taken again
STOPPING = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """A context manager: within it, SIGINT and SIGTERM, when their handlers are Python's (Ctrl+C's
    KeyboardInterrupt, the `digitlab` command's exit on SIGTERM), still raise through them, and
    check() raises a taken one again. A signal ignored (a shell's background job ignores
    SIGINT) stays ignored; outside the main thread, where handlers cannot be set, it does
    nothing."""

    def __init__(self) -> None:
        self._handlers: dict[int, Callable[[int, FrameType | None], object]] = {}
        self._taken: int | None = None

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for number in STOPPING:
                handler = signal.getsignal(number)
                if callable(handler):
                    self._handlers[number] = handler
                    signal.signal(number, self._take)
        return self

    def __exit__(self, *_) -> None:
        for number, handler in self._handlers.items():
            signal.signal(number, handler)

    def _take(self, number: int, frame: FrameType | None) -> None:
        if self._taken is None:
            self._taken = number
        self._handlers[number](number, frame)

    def check(self) -> None:
        """Raise again what the signal taken first raised, if any (dropped, or it would not
        be running)."""
        if self._taken is not None:
            self._handlers[self._taken](self._taken, None)
