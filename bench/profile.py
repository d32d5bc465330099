"""Where a process spends its time: py-spy samples folded into the top frames."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

OWN_CODE = ("services/", "contracts/")
# Leaves where a process waits: the selector, uvloop's C loop (seen as Runner.run), idle threads.
WAIT_FRAMES = (
    "EpollSelector.select",
    "select (",
    "poll (",
    "Runner.run (",
    "Condition.wait (",
    "_worker (concurrent",
)
# Frames of ours that only start a process: a sample whose innermost frame of ours is one of
# these was spent in the framework or the event loop, not in our handling of a request.
ENTRY_FRAMES = ("serve (", "main (", "<module> (", "DeciderWorker.run (", "(outside our code)")


def fold(lines: Iterable[str]) -> tuple[int, Counter[str], Counter[str]]:
    """Read collapsed stacks ("a;b;c 12"); return samples, leaf counts, innermost-own counts."""
    total, leaves, own = 0, Counter[str](), Counter[str]()
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        leaves[_short(frames[-1])] += n
        mine = [f for f in frames if any(p in f for p in OWN_CODE)]
        own[_short(mine[-1]) if mine else "(outside our code)"] += n
    return total, leaves, own


def own_share(own: Counter[str], total: int) -> float:
    """Return the percentage of samples inside our own code past the process entry frames."""
    inside = sum(c for frame, c in own.items() if not frame.startswith(ENTRY_FRAMES))
    return 100 * inside / total if total else 0.0


def waiting_share(leaves: Counter[str], total: int) -> float:
    """Return the percentage of samples spent waiting for I/O in the event loop's selector."""
    waiting = sum(c for frame, c in leaves.items() if frame.startswith(WAIT_FRAMES))
    return 100 * waiting / total if total else 0.0


def _short(frame: str) -> str:
    """Turn "send (/x/site-packages/aiokafka/producer.py:12)" into "send (aiokafka/producer.py)"."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in OWN_CODE:
        if marker in path:
            return f"{name} ({path[path.index(marker) :]})"
    for marker in ("site-packages/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})" if path else name


def top(counts: Counter[str], total: int, n: int = 8) -> list[tuple[str, float]]:
    """Return the n heaviest frames with their share of all samples, in percent."""
    return [(frame, 100 * c / total) for frame, c in counts.most_common(n)] if total else []


def record(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    """Start sampling a process with py-spy in the background (None when py-spy is missing)."""
    spy = shutil.which("py-spy") or str(Path(__import__("sys").executable).parent / "py-spy")
    if not Path(spy).exists():
        return None
    return subprocess.Popen(
        [
            *(spy, "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "100"),
            *("-f", "raw", "-o", str(out), "--nonblocking"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def summary(path: Path) -> dict[str, object]:
    """Fold a py-spy raw file into its top leaf frames and top frames of our own code."""
    if not path.exists():
        return {"samples": 0, "waiting_pct": 0.0, "own_pct": 0.0, "leaf": [], "own": []}
    total, leaves, own = fold(path.read_text(errors="replace").splitlines())
    return {
        "samples": total,
        "waiting_pct": round(waiting_share(leaves, total), 1),
        "own_pct": round(own_share(own, total), 1),
        "leaf": top(leaves, total),
        "own": top(own, total),
    }
