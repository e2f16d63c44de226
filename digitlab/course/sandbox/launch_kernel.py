"""Enter the sandbox's limits, then become the given program (a kernel, or a hidden check).

    python -I launch_kernel.py '<json settings>' -- PROGRAM ARGUMENTS...

digitlab.course.sandbox.sandbox puts this in front of a kernel's command (and of any child it
is asked to run), as root, and it runs the few steps that need root, in this order:

1. join the sandbox's cgroups (processes and memory of the whole tree), if any;
2. unshare the network: a new, empty network namespace (only a down loopback);
3. set the resource limits, soft = hard so they cannot be raised again, except CPU, whose
   soft limit comes first so SIGXCPU names the reason;
4. drop every supplementary group and become the unprivileged slot user;
5. exec PROGRAM, so the program *is* this process: the kernel manager's pid and process
   group stay right for interrupt and kill.

Settings keys: cgroup_procs (list of cgroup.procs files), isolate_network (bool), rlimits
({"cpu"|"as"|"nproc"|"fsize"|"nofile"|"core": limit or [soft, hard]}), uid and gid (null:
stay who we are). A step that is asked for and fails stops the launch (exit status 125):
the sandbox decides beforehand what this machine allows, so nothing is skipped silently.

Run with `python -I` and by file, never `-m`: the working directory is the student's folder,
and a student's json.py or digitlab/ there must never be imported by a process still root.
Only the standard library is used, for the same reason.
"""

import ctypes
import json
import os
import resource
import sys

CLONE_NEWNET = 0x40000000
RLIMITS = {"cpu": resource.RLIMIT_CPU, "as": resource.RLIMIT_AS,
           "nproc": resource.RLIMIT_NPROC, "fsize": resource.RLIMIT_FSIZE,
           "nofile": resource.RLIMIT_NOFILE, "core": resource.RLIMIT_CORE}
FAILED = 125


def unshare_network() -> None:
    """Move this process into a new network namespace (Python 3.11 has no os.unshare)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"unshare(CLONE_NEWNET): {os.strerror(error)}")


def enter(settings: dict) -> None:
    """Steps 1 to 4 of the module docstring, in this process."""
    for procs in settings.get("cgroup_procs", []):
        with open(procs, "w") as file:
            file.write(str(os.getpid()))
    if settings.get("isolate_network"):
        unshare_network()
    for name, value in settings.get("rlimits", {}).items():
        soft, hard = value if isinstance(value, list) else (value, value)
        resource.setrlimit(RLIMITS[name], (soft, hard))
    if settings.get("gid") is not None:
        os.setgroups([])
        os.setresgid(settings["gid"], settings["gid"], settings["gid"])
    if settings.get("uid") is not None:
        os.setresuid(settings["uid"], settings["uid"], settings["uid"])


def main() -> None:
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit(f"usage: {sys.argv[0]} SETTINGS -- PROGRAM ARGUMENTS...")
    program = sys.argv[3:]
    try:
        enter(json.loads(sys.argv[1]))
        os.execv(program[0], program)
    except OSError as error:
        print(f"grading sandbox: cannot start {program[0]}: {error}", file=sys.stderr)
        sys.exit(FAILED)


if __name__ == "__main__":
    main()
