"""The issue's goals, judged against what a run measured."""

from __future__ import annotations

from typing import Any

from bench import reads
from bench.stats import Goal, at_least, at_most


def intake_goals(intake: dict[str, Any]) -> list[Goal]:
    """Judge the intake goals: the rate alone, and against the peer and the ceiling."""
    ours = intake["taizhang"]["sustained_per_s"]
    peer = intake["eventsourcing"]["sustained_per_s"]
    ceiling = intake["http_ceiling"]["sustained_per_s"]
    return [
        at_least("intake sustained at p99 < 50 ms", ours, 1000, "commands/s"),
        _share("intake ahead of eventsourcing + SQLite", ours, peer, 1.5, "× the peer"),
        _share("intake against the HTTP ceiling", ours, ceiling, 0.5, "× the ceiling"),
    ]


def goals(results: dict[str, Any]) -> list[Goal]:
    """Judge the issue's goals against what was measured."""
    rebuild = results["rebuild"]
    found = [
        *intake_goals(results["intake"]),
        at_least(
            "append vs raw aiokafka",
            results["append"]["taizhang"]["events_per_s"]
            / results["append"]["raw_aiokafka"]["events_per_s"]
            * 100,
            50,
            "% of raw",
        ),
        at_least(
            "rebuild vs raw aiokafka, same records",
            100 * rebuild["raw_aiokafka"]["seconds"] / rebuild["taizhang"]["seconds"]
            if rebuild["taizhang"]["seconds"]
            else 0.0,
            50,
            "% of raw",
        ),
    ]
    found += reads.goals(results)
    services = {k: v for k, v in results["memory"].items() if not k.startswith("peer")}
    heaviest = max(services, key=lambda k: services[k]["peak_mb"])
    found.append(
        at_most(f"peak RSS, heaviest ({heaviest})", services[heaviest]["peak_mb"], 300, "MB")
    )
    return found


def _share(name: str, ours: float, theirs: float, floor: float, unit: str) -> Goal:
    """A goal met when ours reaches `floor` times theirs, measured in the same run."""
    times = ours / theirs if theirs else 0.0
    return Goal(
        name=name,
        target=f">= {floor:g}{unit} ({floor * theirs:,.0f} commands/s)",
        measured=f"{ours:,} commands/s ({times:.2f}{unit})",
        met=times >= floor,
        ratio=times / floor,
    )
