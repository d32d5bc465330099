"""Case histories for the benchmarks, decided by the intake service's own rules."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts import grievance as g
from contracts.commands import CommandEnvelope
from contracts.envelope import Actor, Envelope
from services.common.decider import Head, process
from services.common.ids import new_case_id
from services.common.vault import Sealer
from services.intake.service import KIND

EVENTS_PER_CASE = 4
BEGINNING = datetime(2024, 1, 1, tzinfo=UTC)
REP = Actor(user_id="rep-p01", role="worker_rep", unit="demo/co/p01")
NAMESPACE = uuid.UUID("c1e5a3b7-9d20-5f4e-8a6c-2b7d0e9f1a34")

LOG_BODY: dict[str, Any] = {
    "unit": "demo/co/p01",
    "category": "canteen",
    "summary": "食堂菜品有待改善",
    "details": "工友反映食堂菜品单一、口味偏咸，希望增加蔬菜和面食。",
    "channel": "in_person",
    "complainant": {"name": "王小林", "phone": "13800000001"},
}
RESOLUTION = "项目部与食堂承包方协商，每周增加两次面食和时令蔬菜。"


@dataclass(frozen=True)
class Case:
    """One case's events, in order, as the decider produced them."""

    case_id: str
    events: list[list[Envelope]]
    logged: dict[str, Any]


def command_for(
    case_id: str,
    index: int,
    command_type: str,
    payload: dict[str, Any],
    at: datetime,
    actor: Actor = REP,
) -> CommandEnvelope:
    """The command of one step of a case of the history, issued by its rep at a moment."""
    command_id = str(uuid.uuid5(NAMESPACE, f"{case_id}/{index}"))
    return CommandEnvelope(
        command_id=command_id,
        command_type=command_type,
        case_id=case_id,
        actor=actor,
        issued_at=at,
        occurred_at=at,
        correlation_id=case_id,
        causation_id=command_id,
        payload=payload,
    )


def case_id_of(number: int) -> str:
    """Return the case id of the numbered grievance of the history."""
    return new_case_id("GRV", str(uuid.uuid5(NAMESPACE, f"case/{number}")))


def sealed_steps(sealer: Sealer, unit: str, phone: str) -> list[tuple[str, dict[str, Any]]]:
    """Log, acknowledge, resolve on site and close: one worker's texts, sealed under their key."""
    person = sealer.seal_person(LOG_BODY["complainant"]["name"], phone)
    logged = g.LogGrievance(
        unit=unit,
        category=LOG_BODY["category"],
        summary=sealer.seal(person.person_id, LOG_BODY["summary"]),
        details=sealer.seal(person.person_id, LOG_BODY["details"]),
        channel=LOG_BODY["channel"],
        anonymous=False,
        complainant=person,
    ).model_dump(mode="json")
    resolution = sealer.seal(person.person_id, RESOLUTION).model_dump(mode="json")
    return [
        ("log", logged),
        ("acknowledge", {}),
        ("resolve", {"how": "on_site", "resolution": resolution}),
        ("close", {}),
    ]


def grievance_case(number: int, sealer: Sealer) -> Case:
    """Log, acknowledge, resolve on site and close one grievance, through `process()`."""
    case_id = case_id_of(number)
    steps = sealed_steps(sealer, LOG_BODY["unit"], f"138{number:08d}")
    at = BEGINNING + timedelta(minutes=number)
    head, batches = Head(), []
    for index, (command_type, payload) in enumerate(steps):
        outcome = process(
            KIND,
            head,
            command_for(case_id, index, command_type, payload, at + timedelta(hours=index)),
        )
        if not outcome.reply.ok:
            raise RuntimeError(f"{case_id} {command_type} was refused: {outcome.reply.refusal}")
        head = outcome.head.model_copy(update={"answered": {}})
        batches.append(outcome.events)
    return Case(case_id=case_id, events=batches, logged=steps[0][1])


def grievance_cases(count: int, sealer: Sealer, first: int = 0) -> Iterator[Case]:
    """Yield `count` closed grievances, numbered from `first`."""
    for number in range(first, first + count):
        yield grievance_case(number, sealer)
