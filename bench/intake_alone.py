"""`make bench` for intake alone: the ramp of every target, its goals and the profile, quickly."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bench import intake
from bench.goals import intake_goals
from bench.plan import Plan
from bench.stack import Stack


async def measure(stack: Stack, plan: Plan, folder: Path, rate: int | None) -> dict[str, Any]:
    """Ramp the ceiling, the peer and the ledger, judge the intake goals, then profile.

    The profile runs at `rate` when one is given (the same load from run to run), else at
    the highest rate the ledger sustained; the load average is taken before and after.
    """
    token = stack.token()
    began = os.getloadavg()
    results: dict[str, Any] = {}
    results["loadgen"], results["intake"] = await intake.measure(stack, plan, token)
    results["goals"] = [g.as_dict() for g in intake_goals(results["intake"])]
    sustained = rate or results["intake"]["taizhang"]["sustained_per_s"]
    results["profile"] = await intake.profile_intake(stack, token, plan, folder, sustained)
    results["load_average"] = {"before": began, "after": os.getloadavg()}
    return results


def summary(results: dict[str, Any]) -> list[str]:
    """The lines that say what an intake-only run measured."""
    rates = {name: d["sustained_per_s"] for name, d in results["intake"].items()}
    lines = [f"sustained at p99 < 50 ms: {rates}"]
    lines += [
        f"{g['name']}: {g['measured']} ({'met' if g['met'] else 'missed'})"
        for g in results["goals"]
    ]
    spied = results["profile"]
    step = spied["step"]
    lines.append(
        f"profile at {spied['rate_per_s']}/s: p50 {step['p50_ms']:.1f} ms, p99"
        f" {step['p99_ms']:.1f} ms, {step['ok']}/{step['sent']} answered; path {spied['path']}"
    )
    used = spied["cpu"]
    total = sum(p["ms_per_command"] for p in used.values())
    heaviest = ", ".join(f"{n} {p['ms_per_command']:.2f}" for n, p in list(used.items())[:8])
    lines.append(f"CPU ms per command, all processes: {total:.1f} ({heaviest})")
    for part in ("api", "worker"):
        if part in spied:
            own = ", ".join(f"{f} {s:.0f}%" for f, s in spied[part]["own"][:8])
            lines.append(f"intake {part} ({spied[part]['samples']} samples): {own}")
    load = results["load_average"]
    lines.append(f"load average before {load['before']}, after {load['after']}")
    return lines
