"""Each student's own hidden cases: shapes, batch sizes and seeds drawn from a keyed hash.

A hidden test cell names its cases, say `--layers 13x7,9x9 --batch-sizes 1,6 --seed 102`.
The grader's run (verify_outside) does not judge those: it draws the student's own from

    HMAC-SHA256(key, [check name, student id, the cell's arguments])

as the seed of a random generator, and each check varies its cases with it (`vary` below:
a 13x7 layer becomes, say, 9x17, a square one stays square, a batch of 1 stays 1, the seed
is new). So two students get different cases, the same student regraded gets the same ones,
and a leaked hidden test names cases that nobody else is judged on.

The key is the instructor's, like the answer key: a file of random bytes, created on the
first grading (mode 600, never overwritten) at the path c.VerifyOutsideKernel.cases_key
gives (nbgrader_config.py: keys/hidden-cases.key). It never reaches the release, the wheel
or a grading kernel: only the grader's process reads it, and the sandbox hands kernels an
environment of its own. The kernel's run of check() judges the cell's cases as written; the
grader's run on the student's cases decides the score. Losing the key changes every
student's cases on the next regrade; keep it with the answer key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

import numpy as np

KEY_BYTES = 32


def load_key(path: str | Path) -> bytes:
    """The key at path, created there (mode 600) if absent.

    Raises OSError when it cannot be read or made, and ValueError when the file is too short
    to be a key: grading on someone's guessable cases must not go unnoticed.
    """
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:  # O_EXCL: never overwrite a key that another grading created meanwhile
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(descriptor, "w", encoding="ascii") as file:
                file.write(secrets.token_hex(KEY_BYTES) + "\n")
    key = path.read_bytes().strip()
    if len(key) < KEY_BYTES:
        raise ValueError(f"The key of the hidden cases at {path} is shorter than {KEY_BYTES} "
                         "characters; delete it to draw a new one (every student's cases "
                         "change) or restore it from your backup.")
    return key


def student_rng(key: bytes, student: str, check: str,
                arguments: list[str]) -> np.random.Generator:
    """The generator of one student's cases for one check call, the same on every regrade."""
    message = json.dumps([check, student, list(arguments)]).encode("utf-8")
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return np.random.default_rng(int.from_bytes(digest, "big"))


def vary(rng: np.random.Generator, value: int, kept_up_to: int) -> int:
    """A size near `value`: `value` itself when it is at most kept_up_to (an edge case the
    instructor chose, such as a batch of 1), else uniform in [max(kept_up_to + 1, value // 2),
    value + value // 2]."""
    if value <= kept_up_to:
        return value
    return int(rng.integers(max(kept_up_to + 1, value // 2), value + value // 2 + 1))


def new_seed(rng: np.random.Generator) -> int:
    """A seed for the check's own draw of arrays."""
    return int(rng.integers(2**31))
