"""Disputes told as stories: an application, accepted, with a mediator, agreed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from contracts.envelope import Actor
from services.mediation import domain
from services.mediation.service import KIND
from tests.unit.stories import Story

SEALED = {"kid": "PER-0123456789abcdef0123", "nonce": "AAAAAAAAAAAAAAAA", "ct": "c2VhbGVk"}
PERSON = {"person_id": "PER-0123456789abcdef0123", "name": SEALED, "phone": SEALED}
CHAIR = Actor(user_id="chair-co", role="union_chair", unit="demo/co")
MEDIATOR = Actor(user_id="med-1", role="mediator", unit="demo/co")
OTHER_MEDIATOR = Actor(user_id="med-2", role="mediator", unit="demo/co")
SYSTEM = Actor(user_id="system", role="system", unit="demo/co/p01")
OTHER_REP = Actor(user_id="rep-p02", role="worker_rep", unit="demo/co/p02")


def shanghai(day: date, hour: int = 9) -> datetime:
    """A moment on a day in China, as UTC."""
    return datetime(day.year, day.month, day.day, hour - 8, 0, tzinfo=UTC)


def application(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "unit": "demo/co/p01",
        "form": "written",
        "applicant": PERSON,
        "respondent": {"employer": "演示建设集团有限公司", "management": ["pm-p01"]},
        "category": "remuneration",
        "matters": SEALED,
        "reasons": SEALED,
        "claims": [{"description": "拖欠十月工资", "amount_fen": 1_250_000}],
        "known_since": "2026-10-31",
    }
    return {**body, **over}


def applied(on: date = date(2026, 11, 23), **over: Any) -> Story[domain.Dispute]:
    story = Story(KIND, "DSP-TEST00000001")
    story.clock = shanghai(on)
    outcome = story.when("apply", application(**over))
    assert outcome.reply.ok, outcome.reply
    return story


def accepted(on: date = date(2026, 11, 23)) -> Story[domain.Dispute]:
    story = applied(on)
    assert story.when("accept", {}, actor=CHAIR).reply.ok
    return story


def mediating(on: date = date(2026, 11, 23)) -> Story[domain.Dispute]:
    story = accepted(on)
    assert story.when("assign", {"mediator": "med-1"}, actor=CHAIR).reply.ok
    return story


SIGNED = ["applicant", "respondent", "mediator"]
AGREEMENT = {"terms": SEALED, "amount_fen": 1_250_000, "perform_by": "2026-12-10"}


def agreed() -> Story[domain.Dispute]:
    story = mediating()
    outcome = story.when("record_agreement", {**AGREEMENT, "signed_by": SIGNED}, actor=MEDIATOR)
    assert outcome.reply.ok, outcome.reply
    return story
