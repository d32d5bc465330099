"""What a round of fuzzing draws from: the cases that exist, and what else the ledger knows.

Path parameters are drawn mostly from the cases that exist (under /grievances/ from the
grievances, and so on), so commands reach cases in every state; fields the ledger gives a
meaning (units, people, dates, times, versions) mostly from values it accepts, so refusals
come from the cases' rules as often as from the bounds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import schemathesis

from contracts.catalog import CASE_TYPES


@dataclass(frozen=True)
class Person:
    """Who a round signs in as."""

    user: str
    role: str
    unit: str


@dataclass(frozen=True)
class Round:
    """One run of the generator: who, how many requests, and with which phases."""

    person: Person
    requests: int
    seed: int
    boundaries: bool = False


@dataclass(frozen=True)
class Target:
    """A service to fuzz: where it answers, what it knows, and how its errors look."""

    service: str
    url: str
    cases: frozenset[str]
    units: Sequence[str]
    users: Sequence[str]
    dates: Sequence[str]
    moments: Sequence[str]
    # How a round signs in: a bearer token, or the portal's session cookie.
    cookie: str | None = None
    # Whether errors must be problem+json (the portal answers its errors as pages).
    problems: bool = True
    # The fields of the forms its POST routes read by hand, and the steps they take.
    forms: Sequence[str] = ()
    verbs: Sequence[str] = ()


PEOPLE_FIELDS = (
    "member",
    "members[*]",
    "leader",
    "owner",
    "mediator",
    "outgoing",
    "incoming",
    "attendees[*]",
)
DATE_FIELDS = ("due", "perform_by", "held_on", "known_since")
MOMENT_FIELDS = (
    "occurred_at",
    "received_at",
    "submitted_at",
    "raised_at",
    "formed_at",
    "oral_recorded_at",
)
DATE_QUERIES = ("opened_from", "opened_to", "from", "to", "deadline_before", "due_before", "at")


# Each parameter the ledger gives a meaning, the values it is drawn from, and how often.
BINDINGS: tuple[tuple[tuple[str, ...], str, float], ...] = (
    (("path.case_id", "query.source_case_id", "query.case"), "cases", 0.85),
    (("body.unit", "query.unit"), "units", 0.8),
    (tuple(f"body.{f}" for f in PEOPLE_FIELDS), "users", 0.7),
    (("query.owner", "query.mediator"), "users", 0.5),
    (tuple(f"body.{f}" for f in DATE_FIELDS), "dates", 0.6),
    (tuple(f"query.{q}" for q in DATE_QUERIES), "dates", 0.4),
    (tuple(f"body.{f}" for f in MOMENT_FIELDS), "moments", 0.7),
    (("body.expected_version",), "versions", 0.5),
    (("header.Idempotency-Key",), "keys", 0.3),
    (("path.verb",), "verbs", 0.9),
)


def _dictionaries(target: Target, known: list[str]) -> dict[str, Any]:
    """The values parameters are drawn from, as the generator's configuration names them."""
    values: dict[str, Sequence[Any]] = {
        "cases": known,
        "units": target.units,
        "users": target.users,
        "dates": target.dates,
        "moments": target.moments,
        "versions": range(8),
        "keys": [f"key-{n}" for n in range(8)],
        "verbs": target.verbs or ["-"],
    }
    for kind in CASE_TYPES.values():
        values[kind.resource] = [c for c in known if c.startswith(f"{kind.prefix}-")]
    return {name: {"values": list(v)} for name, v in values.items() if v}


def config(
    target: Target, round_: Round, token: str, cases: Iterable[str], max_examples: int
) -> schemathesis.Config:
    """The generator's settings for one round: who signs in, what it draws from, which phases."""
    headers = {"Authorization": f"Bearer {token}"}
    if target.cookie is not None:
        headers = {"Cookie": f"{target.cookie}={token}"}
    dictionaries = _dictionaries(target, sorted(cases) or ["GRV-0000"])
    parameters = {
        name: {"dictionary": dictionary, "probability": probability}
        for names, dictionary, probability in BINDINGS
        for name in names
    }
    # Under /grievances/ the case ids drawn are grievances', and so on for every kind.
    operations = [
        {
            "include-path-regex": f"^/{kind.resource}/",
            "parameters": {"path.case_id": {"dictionary": kind.resource, "probability": 0.85}},
        }
        for kind in CASE_TYPES.values()
        if kind.resource in dictionaries
    ]
    return schemathesis.Config.from_dict(
        {
            "base-url": target.url,
            "headers": headers,
            "seed": round_.seed,
            "request-timeout": 90,
            "operations": operations,
            "dictionaries": dictionaries,
            "parameters": parameters,
            "generation": {"max-examples": max_examples, "database": "none"},
            # The answers are judged by the watch, so no check steers the generator to shrink.
            "checks": {"enabled": False},
            "phases": {
                "examples": {"enabled": False},
                "coverage": {"enabled": round_.boundaries},
            },
        }
    )
