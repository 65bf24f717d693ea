"""Which process executes a run, and whether it is still there: what lets a run killed outright (SIGKILL, the OOM
killer) be told from one that is working.

A run's process records itself in the run's tags: its machine (this boot, this pid namespace), pid, start time
and the run's id. `tyctl` sets them when it creates a run it executes in-process; every other run (launched by
the daemon, from the UI, a backfill) sets them when its resources start (``DatabaseResource``): with the
in-process executor (``Definitions``) that is the run worker itself. A re-executed run inherits its parent's tags
until then; the run id in them tells the two apart. The daemon's run monitoring asks
:class:`ty_assets.launcher.MonitoredRunLauncher`, and `tyctl` asks :func:`ty_assets.backfill.fail_dead_runs`,
both through :func:`worker_status`.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import psutil

HOST_TAG, PID_TAG, STARTED_TAG, RUN_TAG = "ty/host", "ty/pid", "ty/process_started", "ty/run_id"
START_TOLERANCE_S = 1.0  # off Linux: psutil's wall-clock start moves when the clock is stepped (NTP)

WorkerStatus = Literal["alive", "dead", "unknown"]


def machine() -> str:
    """This boot of this machine and this pid namespace: two containers that share a hostname (host networking)
    do not share pids, and a reboot reuses them."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:  # not Linux: the hostname alone
        return socket.gethostname()
    return f"{socket.gethostname()}/{boot}/{namespace}"


def _start(pid: int) -> str:
    """When process ``pid`` started, in a form that no clock step moves: on Linux its start in clock ticks since
    boot (``/proc/<pid>/stat``, field 22; the boot is part of :func:`machine`), elsewhere psutil's wall-clock
    start time. Raises ``psutil.NoSuchProcess`` when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        if Path("/proc/self/stat").exists():  # Linux, and the process is gone (or hidden: see _alive)
            raise psutil.NoSuchProcess(pid) from None
    except OSError:
        pass
    else:
        return "ticks:" + stat[stat.rindex(")") + 2:].split()[19]
    return f"{psutil.Process(pid).create_time():.3f}"


def process_tags(run_id: str) -> dict[str, str]:
    """Tags that name this process as the one executing run ``run_id``: its machine, pid and start (a pid is
    reused; with its start it is not)."""
    return {HOST_TAG: machine(), PID_TAG: str(os.getpid()), STARTED_TAG: _start(os.getpid()), RUN_TAG: run_id}


def _alive(pid: int, started: str) -> bool:
    try:
        if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:  # killed, not yet reaped: gone
            return False
        now = _start(pid)
    except psutil.NoSuchProcess:
        try:  # hidden from us (/proc mounted hidepid, another user's process) is not gone
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    except (psutil.Error, ValueError):
        return True  # not ours to judge
    if started.startswith("ticks:") or now.startswith("ticks:"):
        return now == started
    try:
        return abs(float(now) - float(started)) <= START_TOLERANCE_S
    except ValueError:
        return True  # no start recorded: not ours to judge


def worker_status(run_id: str, tags: Mapping[str, str]) -> WorkerStatus:
    """Whether the process the tags name for ``run_id`` still runs: ``unknown`` when the tags name none, name
    another machine, or are another run's (inherited by a re-execution that has not started yet)."""
    pid = tags.get(PID_TAG, "")
    if tags.get(RUN_TAG) != run_id or tags.get(HOST_TAG) != machine() or not pid.isdigit():
        return "unknown"
    return "alive" if _alive(int(pid), tags.get(STARTED_TAG, "")) else "dead"
