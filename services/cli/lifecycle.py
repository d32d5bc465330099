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
    grace: float,
    *,
    hurry: Callable[[], bool] = lambda: False,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    poll: float = 0.1,
) -> Stopped:
    """Ask every live part to stop at once; kill what is left after `grace` seconds.

    `hurry` turning true (a second Ctrl-C) brings the deadline forward to now.
    """
    began = clock()
    running = [p for p in parts if p.alive()]
    for part in running:
        part.terminate()
    deadline = began + grace
    left = [p for p in running if p.alive()]
    while left and clock() < deadline and not hurry():
        sleep(poll)
        left = [p for p in left if p.alive()]
    for part in left:
        part.kill()
    return Stopped(
        asked=tuple(p.name for p in running),
        killed=tuple(p.name for p in left),
        seconds=clock() - began,
    )
