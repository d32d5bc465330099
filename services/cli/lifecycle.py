"""When a part that exited is started again, and how parts are stopped together by a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass
class Backoff:
    """The wait before restarting a part: `first`, doubling on each exit up to `most`.

    A part that stayed up `stable` seconds or more was healthy: its next exit waits `first`
    again, so an old fault does not slow the recovery from a new one.
    """

    first: float = 1.0
    most: float = 30.0
    stable: float = 60.0
    # Exits in a row without a stable run between them.
    exits: int = 0

    def delay(self, uptime: float) -> float:
        """Return the wait before restarting a part that exited after `uptime` seconds."""
        if uptime >= self.stable:
            self.exits = 0
        delay: float = min(self.first * 2.0 ** min(self.exits, 32), self.most)
        self.exits += 1
        return delay


# What a supervisor needs beyond its parts' graces to collect them and exit.
SUPERVISOR_MARGIN_S = 5.0


def stop_grace(part: str, parts_s: float, brokers_s: float) -> float:
    """How long a part, by its name, has to stop before it is killed.

    A broker has the time its controlled shutdown takes (leadership handed on, its logs
    closed clean); a supervisor, which stops its own parts first, the longest and a margin.
    """
    if part == "broker" or part.startswith("broker-"):
        return brokers_s
    if part == "supervisor":
        return max(parts_s, brokers_s) + SUPERVISOR_MARGIN_S
    return parts_s


class Stoppable(Protocol):
    """A running part as stopping sees it."""

    name: str

    def alive(self) -> bool:
        """Whether the part's process still runs."""
        ...

    def terminate(self) -> None:
        """Ask the part to stop (SIGTERM)."""
        ...

    def kill(self) -> None:
        """Stop the part at once (SIGKILL)."""
        ...


@dataclass(frozen=True)
class Stopped:
    """What stopping did: the parts asked to stop, those killed at the deadline, the time taken."""

    asked: tuple[str, ...]
    killed: tuple[str, ...]
    seconds: float


def stop_together(
    parts: Sequence[Stoppable],
    grace: float | Callable[[str], float],
    *,
    hurry: Callable[[], bool] = lambda: False,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    poll: float = 0.1,
) -> Stopped:
    """Ask every live part to stop at once; kill each still there after its grace in seconds.

    `grace` is one for all, or each part's by its name. `hurry` turning true (a second
    Ctrl-C) brings every deadline forward to now.
    """
    began = clock()
    running = [p for p in parts if p.alive()]
    for part in running:
        part.terminate()
    deadline = {id(p): began + (grace(p.name) if callable(grace) else grace) for p in running}
    left = [p for p in running if p.alive()]
    killed: set[int] = set()
    while left:
        now, hurried = clock(), hurry()
        for part in left:
            if hurried or now >= deadline[id(part)]:
                part.kill()
                killed.add(id(part))
        left = [p for p in left if id(p) not in killed]
        if left:
            sleep(poll)
            left = [p for p in left if p.alive()]
    return Stopped(
        asked=tuple(p.name for p in running),
        killed=tuple(p.name for p in running if id(p) in killed),
        seconds=clock() - began,
    )
