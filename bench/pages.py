"""The portal's busiest pages over the whole history: a unit's grievances, the mediator's queue,
the dashboard, each read as its user reads it (a signed-in browser's session, one at a time).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from bench.stats import Goal, at_most, percentile
from services.common.auth import issue_token
from services.common.settings import Settings

# The session cookie the portal keeps its signed-in user's token in.
SESSION = "tz_session"
GOAL_P95_MS = 200


@dataclass(frozen=True)
class Page:
    """One page, and who reads it."""

    key: str
    label: str
    path: str
    user: str
    role: str
    unit: str


PAGES = (
    Page(
        "grievances", "a unit's grievances", "/grievances", "rep-p01", "worker_rep", "demo/co/p01"
    ),
    Page("disputes", "the mediator's queue", "/disputes", "med-1", "mediator", "demo/co"),
    Page("dashboard", "the dashboard", "/dashboard", "chair-co", "union_chair", "demo/co"),
)


def read_page(settings: Settings, portal: str, page: Page, times: int) -> dict[str, Any]:
    """Read one page `times` times after one warming read; return its spread in ms."""
    token = issue_token(settings, user=page.user, role=page.role, unit=page.unit)
    spent: list[float] = []
    with httpx.Client(base_url=portal, cookies={SESSION: token}, timeout=120) as client:
        for n in range(times + 1):
            began = time.perf_counter()
            answer = client.get(page.path)
            took = (time.perf_counter() - began) * 1000
            if answer.status_code != 200:
                raise RuntimeError(
                    f"{page.path} answered {answer.status_code}: {answer.text[-300:]}"
                )
            if n:
                spent.append(took)
            size = len(answer.content)
    return {
        "p50_ms": round(percentile(spent, 50), 1),
        "p95_ms": round(percentile(spent, 95), 1),
        "bytes": size,
        "reads": times,
    }


def measure(settings: Settings, portal: str, times: int = 20) -> dict[str, Any]:
    """Time each of the busiest pages as its user reads it."""
    return {page.key: read_page(settings, portal, page, times) for page in PAGES}


def goals(results: dict[str, Any]) -> list[Goal]:
    """Judge each page's p95 against the issue's goal."""
    pages = results.get("pages") or {}
    return [
        at_most(f"portal page p95: {page.label}", pages[page.key]["p95_ms"], GOAL_P95_MS, "ms")
        for page in PAGES
        if page.key in pages
    ]


def section(results: dict[str, Any]) -> list[str]:
    """The report's part on the portal's pages."""
    pages = results.get("pages")
    if not pages:
        return []
    lines = [
        "",
        "### The portal's busiest pages",
        "",
        "Each page read by its user through the portal (a signed-in session), one read at a"
        f" time, {next(iter(pages.values()))['reads']} times after a first, over the whole"
        " history. The history is of grievances (and the follow-ups their closing opened):"
        " the mediator's queue is read over no disputes.",
        "",
        "| page | p50 ms | p95 ms | bytes |",
        "|---|---|---|---|",
    ]
    for page in PAGES:
        if page.key in pages:
            p = pages[page.key]
            lines.append(
                f"| {page.label} (`{page.path}`) | {p['p50_ms']:,.1f} | {p['p95_ms']:,.1f}"
                f" | {p['bytes']:,} |"
            )
    return lines
