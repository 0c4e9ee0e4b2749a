"""Which process holds a re-plan (its job, its lease, its slot), and whether that process still runs.

A holder is written as ``host:pidns:pid:start``: ``pidns`` names the pid namespace (containers that
share a host name still see different pids), and ``start`` is the process's start time in clock
ticks since boot (``/proc/<pid>/stat``, field 22), so a pid the kernel has since given to another
process does not pass for the holder. A holder on another host or in another pid namespace cannot
be looked at from here: :func:`holder_gone` says so (None) and the caller falls back to the
holder's expiry time.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid").removeprefix("pid:[").removesuffix("]")
    except OSError:
        return "-"


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        pass
    return True


def _start_ticks(pid: int) -> str | None:
    """The process's start time in ticks since boot; "" when it exists but /proc does not say (no /proc,
    as on macOS, or /proc mounted with hidepid); None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "" if _exists(pid) else None
    # the name (field 2) is in parentheses and may hold spaces; fields after it are plain
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):  # a zombie has exited; only its exit status is left to collect
        return None
    return fields[19]


def process_tag(pid: int | None = None) -> str:
    """``host:pid:start`` of ``pid`` (this process by default)."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{_pid_namespace()}:{pid}:{_start_ticks(pid) or ''}"


def holder_gone(holder: str | None) -> bool | None:
    """True if ``holder`` (a :func:`process_tag`, optionally followed by ``:anything``) is a process on this
    host that has ended; False if it still runs; None if it cannot be told (another host, or no tag)."""
    if not holder:
        return None
    parts = holder.split(":")
    if len(parts) < 4 or parts[0] != socket.gethostname() or parts[1] != _pid_namespace() or not parts[2].isdigit():
        return None
    started = _start_ticks(int(parts[2]))
    if started is None:
        return True
    return bool(parts[3]) and bool(started) and started != parts[3]
