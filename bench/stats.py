"""The arithmetic of the benchmarks: percentiles, rate steps, sustained rates and goals."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

SLO_P99_MS = 50.0
SUSTAINED_SHARE = 0.95


def percentile(values: Sequence[float], q: float) -> float:
    """Return the q-th percentile (0..100) by the nearest-rank method; NaN for no values."""
    if not values:
        return math.nan
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0..100")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def rate_steps(start: int, stop: int, factor: float) -> list[int]:
    """Return arrival rates from `start`, each `factor` times the last, never past `stop`."""
    if start <= 0 or factor <= 1 or stop < start:
        raise ValueError("rates need 0 < start <= stop and a factor above 1")
    steps = [start]
    while True:
        following = round(steps[-1] * factor)
        if following > stop:
            return steps
        steps.append(following)


@dataclass(frozen=True)
class Step:
    """One constant-arrival-rate run: what was asked, what came back, how long it took."""

    target_rate: int
    seconds: float
    sent: int
    ok: int
    errors: int
    achieved_rate: float
    p50_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float

    @property
    def sustained(self) -> bool:
        """Whether the rate was kept up with no error and p99 under the service level."""
        return (
            self.errors == 0
            and self.ok == self.sent
            and self.achieved_rate >= SUSTAINED_SHARE * self.target_rate
            and self.p99_ms < SLO_P99_MS
        )

    def as_dict(self) -> dict[str, Any]:
        """Return the step as plain data, with its verdict."""
        return {**asdict(self), "sustained": self.sustained}


def summarise(
    target_rate: int, seconds: float, latencies_ms: Sequence[float], errors: int, wall: float
) -> Step:
    """Build a step from the latencies of successful requests and the count of failures."""
    ok = len(latencies_ms)
    return Step(
        target_rate=target_rate,
        seconds=seconds,
        sent=ok + errors,
        ok=ok,
        errors=errors,
        achieved_rate=ok / wall if wall > 0 else 0.0,
        p50_ms=percentile(latencies_ms, 50),
        p99_ms=percentile(latencies_ms, 99),
        p999_ms=percentile(latencies_ms, 99.9),
        max_ms=max(latencies_ms) if latencies_ms else math.nan,
    )


def highest_sustained(steps: Sequence[Step]) -> int:
    """Return the highest target rate sustained (0 when none was)."""
    return max((s.target_rate for s in steps if s.sustained), default=0)


@dataclass(frozen=True)
class Goal:
    """One goal of the issue, the figure measured, and whether it was met."""

    name: str
    target: str
    measured: str
    met: bool
    ratio: float | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Return the goal as plain data."""
        return asdict(self)


def at_least(name: str, measured: float, goal: float, unit: str) -> Goal:
    """A goal met when the measure reaches a floor; the ratio is measured / floor."""
    return Goal(
        name=name,
        target=f">= {goal:,.4g} {unit}",
        measured=f"{measured:,.4g} {unit}",
        met=measured >= goal,
        ratio=measured / goal if goal else None,
    )


def at_most(name: str, measured: float, goal: float, unit: str) -> Goal:
    """A goal met when the measure stays under a ceiling; the ratio is measured / ceiling."""
    return Goal(
        name=name,
        target=f"< {goal:,.4g} {unit}",
        measured=f"{measured:,.4g} {unit}",
        met=measured < goal,
        ratio=measured / goal if goal else None,
    )
