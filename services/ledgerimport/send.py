"""Sending a ledger's planned commands to the services, paced, and what became of each row."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from contracts.catalog import CASE_TYPES
from contracts.envelope import Actor
from services.common.ids import command_id_for, new_case_id
from services.ledgerimport.plans import RESOURCE, Kind, Plan

PREFIX = {c.resource: p for p, c in CASE_TYPES.items() if c.noun != "group"}
# A command the ledger could not take in time is sent again, with its key, this many times.
RETRIES = 3


@dataclass
class RowResult:
    """What one row did: its case, the events it added, and the steps the rules refused."""

    row: int
    case_id: str
    added: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)


def case_id_of(actor: Actor, kind: Kind, plan: Plan) -> str:
    """The id of the case a row opens, as the service derives it from the opening's key."""
    resource = RESOURCE[kind]
    return new_case_id(PREFIX[resource], command_id_for(actor, resource, plan.opening_key))


class Pace:
    """At most `per_second` commands a second, so an import never crowds out live work."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.gap, self.clock, self.next = 1.0 / per_second, clock, 0.0

    def wait(self, sleep: Callable[[float], None] = time.sleep) -> None:
        """Sleep until the next command may go."""
        now = self.clock()
        if now < self.next:
            sleep(self.next - now)
            now = self.next
        self.next = now + self.gap


def send_rows(
    client: httpx.Client,
    actor: Actor,
    kind: Kind,
    sha256: str,
    plans: list[Plan],
    pace: Pace,
    advance: Callable[[], None],
) -> list[RowResult]:
    """Send every planned row's commands in order; a refused step is reported, not retried."""
    resource = RESOURCE[kind]
    results = []
    for plan in plans:
        case_id = case_id_of(actor, kind, plan)
        result = RowResult(plan.row, case_id)
        imported = {"file_sha256": sha256, "row": plan.row}
        before = client.get(f"/{resource}/{case_id}")
        version = int(before.json()["version"]) if before.status_code == 200 else 0
        last = version
        pace.wait()
        opened = _send(
            client, f"/{resource}", {**plan.opening, "imported": imported}, plan.opening_key
        )
        if opened.status_code != 201:
            result.refused.append(("open", _reason(opened)))
            results.append(result)
            advance()
            continue
        last = max(last, int(opened.json()["version"]))
        for step in plan.steps:
            pace.wait()
            body = {**step.body, "imported": imported}
            answer = _send(
                client, f"/{resource}/{case_id}/{step.verb}", body, step.key(plan.row_key)
            )
            if answer.status_code == 200:
                last = max(last, int(answer.json()["version"]))
            else:
                result.refused.append((step.label, _reason(answer)))
        result.added = last - version
        results.append(result)
        advance()
    return results


def _send(client: httpx.Client, path: str, body: dict[str, Any], key: str) -> httpx.Response:
    for attempt in range(RETRIES + 1):
        response = client.post(path, json=body, headers={"Idempotency-Key": key})
        if response.status_code != 503 or attempt == RETRIES:
            return response
        time.sleep(float(response.headers.get("retry-after", "5")))
    raise AssertionError("unreachable")


def _reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"{response.status_code}"
    detail = body.get("detail") if isinstance(body, dict) else None
    return f"{response.status_code} {detail or ''}".strip()[:300]
