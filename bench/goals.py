"""The issue's goals, judged against what a run measured."""

from __future__ import annotations

from typing import Any

from bench import reads
from bench.stats import Goal, at_least, at_most


def goals(results: dict[str, Any]) -> list[Goal]:
    """Judge the issue's goals against what was measured."""
    intake = results["intake"]
    ours = intake["taizhang"]["sustained_per_s"]
    peer = intake["eventsourcing"]["sustained_per_s"]
    found = [
        at_least("intake sustained at p99 < 50 ms", ours, 1000, "commands/s"),
        Goal(
            name="intake ahead of eventsourcing + SQLite",
            target=f"> {peer:,} commands/s",
            measured=f"{ours:,} commands/s",
            met=ours > peer,
            ratio=ours / peer if peer else None,
        ),
        at_least(
            "append vs raw aiokafka",
            results["append"]["taizhang"]["events_per_s"]
            / results["append"]["raw_aiokafka"]["events_per_s"]
            * 100,
            50,
            "% of raw",
        ),
        at_least(
            "rebuild vs raw consumer",
            results["rebuild"]["taizhang"]["events_per_s"]
            / results["rebuild"]["raw_kafka_python"]["events_per_s"]
            * 100,
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
