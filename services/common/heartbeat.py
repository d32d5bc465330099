"""A worker's sign of life: a file it touches each time its loop turns, and the check of its age.

A stream worker has no port to probe. Its loop touches the file: a stream worker's on a timer
of the event loop that decides its commands, the audit worker's on each round of its polling.
A loop that is blocked or dead stops touching it, and the file's age says so to whatever
probes it (`python -m services.common.heartbeat FILE SECONDS` exits 1 when it is too old).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

# How often a loop says it is alive, and how old its last word may be before it is not.
INTERVAL_S = 10.0
STALE_S = 60.0


def heartbeat_file(var_dir: Path, service: str) -> Path:
    """Where a service's worker leaves its sign of life, in the deployment's folder."""
    return var_dir / "run" / f"{service}-worker.alive"


class Heartbeat:
    """One worker's file: gone when the worker starts, touched on each turn of its loop."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # A file a worker before this one left says nothing of this one.
        path.unlink(missing_ok=True)

    def beat(self) -> None:
        """Say the loop turned, now."""
        self.path.touch()
        os.utime(self.path)

    async def tick(self) -> None:
        """The same, as a timer of an event loop calls it."""
        self.beat()


def attach(worker: Any, beat: Heartbeat) -> bool:
    """Have a worker beat as its loop turns; False when it has no loop to beat in.

    A stream worker's app runs timers on its event loop; a polling worker offers a
    `heartbeat` it beats each round.
    """
    app = getattr(worker, "app", None)
    if app is not None and hasattr(app, "timer"):
        app.timer(interval=INTERVAL_S)(beat.tick)
        return True
    if hasattr(worker, "heartbeat"):
        worker.heartbeat = beat
        return True
    return False


def age_s(path: Path, now: float | None = None) -> float | None:
    """Seconds since the loop last turned, or None if it never did."""
    try:
        touched = path.stat().st_mtime
    except FileNotFoundError:
        return None
    return (time.time() if now is None else now) - touched


def alive(path: Path, within_s: float = STALE_S, now: float | None = None) -> bool:
    """Whether the loop turned within the last `within_s` seconds."""
    age = age_s(path, now)
    return age is not None and age <= within_s


def main(argv: list[str]) -> int:
    """The probe: exit 0 if the file is fresh, 1 if it is old or missing, 2 if misused."""
    if len(argv) not in (1, 2):
        print("usage: python -m services.common.heartbeat FILE [SECONDS]", file=sys.stderr)
        return 2
    within = float(argv[1]) if len(argv) == 2 else STALE_S
    age = age_s(Path(argv[0]))
    if age is None or age > within:
        said = "never" if age is None else f"{age:.0f}s ago"
        print(f"the worker's loop last turned {said} (allowed {within:.0f}s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
