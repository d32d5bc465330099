"""Who sees what of a case: one set of rules for the APIs and the 台账 alike."""

from __future__ import annotations

from contracts.envelope import Actor
from services.common.views import confided, sees_person

UNIT = "demo/co/p01"
ASSIGNED = {"mediator": "med-1"}


def who(role: str, user: str = "someone", unit: str = UNIT) -> Actor:
    """An actor of a role."""
    return Actor(user_id=user, role=role, unit=unit)


def test_a_dispute_is_confided_to_the_assigned_mediator_the_units_chair_and_auditors() -> None:
    assert confided(who("mediator", "med-1"), UNIT, ASSIGNED)
    assert not confided(who("mediator", "med-2"), UNIT, ASSIGNED)
    assert confided(who("union_chair", unit="demo/co"), UNIT, ASSIGNED)
    assert not confided(who("union_chair", unit="demo/co/p02"), UNIT, ASSIGNED)
    assert confided(who("auditor", unit="demo"), UNIT, ASSIGNED)
    for role in ("worker_rep", "followup_officer", "group_member", "admin"):
        assert not confided(who(role), UNIT, ASSIGNED), role


def test_a_disputes_applicant_is_seen_by_its_mediator_and_chair_only() -> None:
    assert sees_person(who("mediator", "med-1"), "dispute", UNIT, ASSIGNED)
    assert not sees_person(who("mediator", "med-2"), "dispute", UNIT, ASSIGNED)
    assert sees_person(who("union_chair", unit="demo/co"), "dispute", UNIT, ASSIGNED)
    assert not sees_person(who("worker_rep"), "dispute", UNIT, ASSIGNED)
    assert not sees_person(who("auditor", unit="demo"), "dispute", UNIT, ASSIGNED)


def test_a_suggestions_named_author_is_seen_by_reps_and_chairs_not_followup_officers() -> None:
    assert sees_person(who("worker_rep"), "suggestion", UNIT, {})
    assert sees_person(who("union_chair"), "suggestion", UNIT, {})
    assert not sees_person(who("followup_officer"), "suggestion", UNIT, {})
    assert not sees_person(who("group_member"), "suggestion", UNIT, {})
    assert sees_person(who("followup_officer"), "grievance", UNIT, {})
