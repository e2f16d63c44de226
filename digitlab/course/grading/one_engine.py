"""One database engine per nbgrader process, instead of one per opening of its Gradebook.

nbgrader opens its Gradebook more than twenty times while it autogrades one student (each
step, for each notebook). Each opening makes a new SQLAlchemy engine and a new connection, and
each closing disposes of both. On PostgreSQL that costs about 0.03 CPU s per opening, client
and server together (the password exchange, a new server process); sharing the engine saves
about 0.5 CPU s per student (benchmarks/README.md, class_grading.py).

Imported, this makes nbgrader's Gradebooks share one engine per process and database URL, and
closing one returns its connection to that engine's pool instead of closing it. nbgrader_app
imports it, so every nbgrader that digitlab starts has it, each fork of an autograde server
included. A forked process never uses its parent's engine (a connection is one socket, which
two processes must not share): the engines are keyed by process.
"""

from __future__ import annotations

import os

import nbgrader.api
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

_ENGINES: dict[tuple[int, str, tuple], Engine] = {}


def process_engine(url: str, **options) -> Engine:
    """create_engine(url, **options) made once per process; its dispose() keeps the pool."""
    key = (os.getpid(), str(url), tuple(sorted(options.items())))
    if key not in _ENGINES:
        engine = create_engine(url, **options)
        # Gradebook.close() disposes of its engine: here that would close the pooled
        # connection, the one thing worth keeping. The process's end closes it.
        engine.dispose = _keep_pool
        _ENGINES[key] = engine
    return _ENGINES[key]


def _keep_pool(close: bool = True) -> None:
    """Engine.dispose for a shared engine: nothing to do."""


nbgrader.api.create_engine = process_engine
