"""What a command costs in CPU across every process of the deployment: read from /proc."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """Return the user and system CPU seconds a process has used so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    # utime and stime are the 14th and 15th fields, the 12th and 13th after the name.
    return (int(fields[11]) + int(fields[12])) / TICKS


class Meter:
    """CPU seconds of named processes between two moments."""

    def __init__(self, pids: Mapping[str, int]) -> None:
        self.pids = dict(pids)
        self._began = 0.0
        self._start: dict[str, float] = {}

    def start(self) -> None:
        """Remember where every process stands now."""
        self._began = time.perf_counter()
        self._start = {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def stop(self) -> tuple[float, dict[str, float]]:
        """Return the seconds since `start` and each process's CPU seconds in them."""
        took = time.perf_counter() - self._began
        used = {name: cpu_seconds(pid) - self._start[name] for name, pid in self.pids.items()}
        return took, used


def per_command(
    idle: tuple[float, dict[str, float]], load: tuple[float, dict[str, float]], commands: int
) -> dict[str, dict[str, float]]:
    """Each process's CPU per command: its CPU under load less what it burns idle, per command."""
    idle_s, idle_cpu = idle
    load_s, load_cpu = load
    table: dict[str, dict[str, float]] = {}
    for name, used in load_cpu.items():
        idle_rate = idle_cpu.get(name, 0.0) / idle_s if idle_s > 0 else 0.0
        extra = max(0.0, used - idle_rate * load_s)
        table[name] = {
            "idle_cpu_pct": round(100 * idle_rate, 1),
            "load_cpu_pct": round(100 * used / load_s, 1) if load_s > 0 else 0.0,
            "ms_per_command": round(1000 * extra / commands, 2) if commands else 0.0,
        }
    return dict(sorted(table.items(), key=lambda kv: -kv[1]["ms_per_command"]))
