"""The one PID-liveness check of the project (the devnet's daemon files and the network tools' pid files)."""

from __future__ import annotations

import os

__all__ = ["pid_alive"]


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie; a process of another user counts as alive.

    Never raises: an unreadable ``/proc/<pid>/stat`` (another OS, a race with the process's exit) leaves the
    answer of ``kill(pid, 0)``.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
