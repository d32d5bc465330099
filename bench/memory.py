"""Scenario 5, memory: the peak resident memory of every process still running."""

from __future__ import annotations

from typing import Any

from bench.plan import log
from bench.stack import Stack


def peak_rss_mb(pid: int) -> dict[str, float]:
    """Return a process's peak and current resident memory, in MB."""
    values: dict[str, float] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                values[key] = int(rest.split()[0]) / 1024
    return {"peak_mb": round(values["VmHWM"], 1), "now_mb": round(values["VmRSS"], 1)}


def measure(stack: Stack) -> dict[str, Any]:
    """Read every service process's memory, then the peers' under their own names."""
    memory: dict[str, Any] = {
        name: peak_rss_mb(p.pid) for name, p in stack.procs.items() if p.poll() is None
    }
    memory["peer http_ceiling"] = peak_rss_mb(stack.peers["ceiling"].pid)
    memory["peer eventsourcing"] = peak_rss_mb(stack.peers["eventsourcing"].pid)
    log(f"  {memory}")
    return memory
