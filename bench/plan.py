"""How big each scenario is in each mode, and the running commentary of a run."""

from __future__ import annotations

import time
from dataclasses import dataclass

from bench.stats import rate_steps


@dataclass(frozen=True)
class Plan:
    """How big each scenario is in this mode."""

    mode: str
    events: int
    step_seconds: float
    rates: list[int]
    append_cases: int
    replay_cases: int
    http_cases: int
    profile_seconds: float
    # Unrecorded load at the first rate before each target's ramp, the same for every target.
    warm_seconds: float = 15.0


QUICK = Plan("quick", 20_000, 4.0, rate_steps(25, 3200, 1.6), 1_000, 20, 400, 6.0)
FULL = Plan("full", 1_000_000, 15.0, rate_steps(25, 6400, 1.4), 10_000, 20, 2_000, 15.0, 30.0)


def log(message: str) -> None:
    """Tell the person running the benchmark what is happening."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)
