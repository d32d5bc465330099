"""Dispute mediation's legal clocks as stories: acceptance in 3 working days, 15 days to mediate."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from services.common.calendar import end_of_day
from services.common.decider import Head, process
from services.mediation.service import KIND
from tests.unit.dispute_stories import (
    CHAIR,
    MEDIATOR,
    SYSTEM,
    accepted,
    application,
    applied,
    mediating,
    shanghai,
)
from tests.unit.stories import T0, Story, command

# --- the application and the 3-working-day acceptance clock ----------------


def test_application_records_acceptance_due_and_limitation_date() -> None:
    story = Story(KIND, "DSP-TEST00000001")
    outcome = story.when("apply", application())
    assert story.then_types(outcome) == ["dispute.applied"]
    payload = outcome.events[0].payload
    # Applied Monday 23 Nov 2026: 3 working days → Thursday 26 Nov.
    assert payload["acceptance_due"] == "2026-11-26"
    # Knew on 31 Oct 2026: one year → 31 Oct 2027 is a Sunday, so Monday 1 Nov 2027.
    assert payload["limitation_date"] == "2027-11-01"
    assert payload["claimed_fen"] == 1_250_000
    assert story.state().status == "applied" and story.state().deadline == date(2026, 11, 26)


def test_acceptance_due_skips_the_weekend() -> None:
    # Thursday 26 Nov + 3 working days: Fri 27, Mon 30, Tue 1 Dec.
    story = applied(date(2026, 11, 26))
    assert story.state().acceptance_due == date(2026, 12, 1)


def test_acceptance_due_skips_the_national_day_holiday() -> None:
    # Tuesday 29 Sep 2026 + 3 working days: 30 Sep, then 8 and 9 Oct after Golden Week.
    story = applied(date(2026, 9, 29), known_since="2026-09-01")
    assert story.state().acceptance_due == date(2026, 10, 9)


def test_acceptance_overdue_is_due_only_after_the_last_day_ends() -> None:
    story = applied()
    last_day = date(2026, 11, 26)
    assert KIND.due(story.state(), end_of_day(last_day) - timedelta(seconds=1)) == []
    assert KIND.due(story.state(), end_of_day(last_day)) == [("mark_acceptance_overdue", {})]


def test_timer_records_acceptance_overdue_once_and_opens_arbitration() -> None:
    story = applied()
    late = end_of_day(date(2026, 11, 26))
    outcome = story.when("mark_acceptance_overdue", {}, actor=SYSTEM, at=late)
    assert story.then_types(outcome) == ["dispute.acceptance_overdue"]
    assert story.state().acceptance_overdue and story.state().may_apply_for_arbitration
    assert KIND.due(story.state(), late + timedelta(days=3)) == []
    again = story.when("mark_acceptance_overdue", {}, actor=SYSTEM, at=late + timedelta(hours=1))
    assert story.refusal(again)[0] == 409


def test_acceptance_overdue_before_its_time_is_refused() -> None:
    story = applied()
    early = story.when("mark_acceptance_overdue", {}, actor=SYSTEM)
    assert story.refusal(early) == (409, "the acceptance of DSP-TEST00000001 is not overdue")


def test_oral_application_is_recorded_on_the_spot() -> None:
    story = Story(KIND, "DSP-TEST00000001")
    moment = T0 + timedelta(minutes=1)
    outcome = story.when("apply", application(form="oral", oral_recorded_at=moment.isoformat()))
    assert outcome.reply.ok
    assert outcome.events[0].payload["oral_recorded_at"] == "2026-11-23T01:01:00Z"


@pytest.mark.parametrize(
    ("label", "over", "status", "mentions"),
    [
        ("no matters", {"matters": None}, 422, "matters"),
        ("no claims", {"claims": []}, 422, "claim"),
        ("no known_since", {"known_since": None}, 422, "knew"),
        ("known_since in the future", {"known_since": "2026-11-24"}, 422, "future"),
        ("oral without a record time", {"form": "oral"}, 422, "on the spot"),
        (
            "oral recorded another day",
            {"form": "oral", "oral_recorded_at": "2026-11-20T01:00:00Z"},
            422,
            "on the day",
        ),
        (
            "written with an oral record time",
            {"oral_recorded_at": "2026-11-23T01:00:00Z"},
            422,
            "written",
        ),
        ("negative amount", {"claims": [{"description": "x", "amount_fen": -1}]}, 422, "amount"),
        (
            "absurd amount",
            {"claims": [{"description": "x", "amount_fen": 10**12}]},
            422,
            "amount",
        ),
        ("category outside Art. 2", {"category": "canteen"}, 422, "category"),
        ("unit outside the rep's", {"unit": "demo/co/p02"}, 403, "outside"),
        ("accepted on receipt by a rep", {"accept_on_receipt": True}, 403, "committee"),
    ],
)
def test_bad_applications_are_refused_and_write_nothing(
    label: str, over: dict[str, Any], status: int, mentions: str
) -> None:
    story = Story(KIND, "DSP-TEST00000001")
    outcome = story.when("apply", application(**over))
    code, detail = story.refusal(outcome)
    assert code == status and mentions in detail, detail
    assert outcome.events == [] and story.head.version == 0


def test_application_dated_in_the_future_is_refused() -> None:
    meta = command("DSP-TEST00000002", "apply", application(), at=T0).model_copy(
        update={"occurred_at": T0 + timedelta(days=1)}
    )
    future = process(KIND, Head(), meta)
    assert future.events == [] and future.reply.refusal is not None
    assert future.reply.refusal.status == 422 and "future" in future.reply.refusal.detail


def test_applying_twice_is_refused() -> None:
    story = applied()
    assert story.refusal(story.when("apply", application()))[0] == 409


def test_committee_accepts_on_receipt() -> None:
    story = Story(KIND, "DSP-TEST00000001")
    outcome = story.when("apply", application(accept_on_receipt=True), actor=CHAIR)
    assert story.then_types(outcome) == ["dispute.applied", "dispute.accepted"]
    assert story.state().status == "accepted" and story.state().deadline == date(2026, 12, 8)


# --- the 15-day mediation clock and its one extension -----------------------


def test_acceptance_starts_the_fifteen_day_clock() -> None:
    story = accepted()
    # Accepted Monday 23 Nov: day 15 is Tuesday 8 Dec, a working day.
    assert story.state().mediation_deadline == date(2026, 12, 8)
    assert story.state().deadline == date(2026, 12, 8)


def test_day_fifteen_on_a_rest_day_moves_to_the_next_working_day() -> None:
    # Accepted Friday 27 Nov: day 15 is Saturday 12 Dec → Monday 14 Dec.
    story = accepted(date(2026, 11, 27))
    assert story.state().mediation_deadline == date(2026, 12, 14)


def test_deadline_passed_is_due_only_after_day_fifteen_ends() -> None:
    story = mediating()
    assert KIND.due(story.state(), end_of_day(date(2026, 12, 8)) - timedelta(seconds=1)) == []
    assert KIND.due(story.state(), end_of_day(date(2026, 12, 8))) == [("mark_deadline_passed", {})]


def test_timer_records_deadline_passed_with_the_limitation_date() -> None:
    story = mediating()
    outcome = story.when("mark_deadline_passed", {}, actor=SYSTEM, at=end_of_day(date(2026, 12, 8)))
    assert story.then_types(outcome) == ["dispute.deadline_passed"]
    assert outcome.events[0].payload == {
        "deadline": "2026-12-08",
        # Interrupted by the application, the year is counted again from the deadline.
        "limitation_date": "2027-12-08",
    }
    assert story.state().status == "deadline_passed" and story.state().may_apply_for_arbitration
    assert story.state().deadline is None


def test_deadline_passed_before_its_time_is_refused() -> None:
    story = mediating()
    early = story.when("mark_deadline_passed", {}, actor=SYSTEM, at=shanghai(date(2026, 12, 8)))
    assert story.refusal(early)[0] == 409


def test_one_extension_of_at_most_fifteen_days_with_both_parties_consent() -> None:
    story = mediating()
    outcome = story.when(
        "extend", {"days": 15, "consent": ["applicant", "respondent"]}, actor=MEDIATOR
    )
    assert story.then_types(outcome) == ["dispute.extended"]
    # 30 days from Monday 23 Nov is Wednesday 23 Dec.
    assert outcome.events[0].payload["mediation_deadline"] == "2026-12-23"
    assert story.state().deadline == date(2026, 12, 23)
    second = story.when("extend", {"days": 1, "consent": ["applicant", "respondent"]}, actor=CHAIR)
    assert story.refusal(second) == (
        409,
        "the mediation period of DSP-TEST00000001 was already extended once",
    )


def test_extension_over_fifteen_days_is_a_conflict() -> None:
    story = mediating()
    outcome = story.when(
        "extend", {"days": 16, "consent": ["applicant", "respondent"]}, actor=MEDIATOR
    )
    assert story.refusal(outcome) == (409, "an extension is at most 15 days, not 16")


def test_extension_without_both_parties_is_refused() -> None:
    story = mediating()
    outcome = story.when("extend", {"days": 5, "consent": ["applicant"]}, actor=MEDIATOR)
    assert story.refusal(outcome) == (
        422,
        "an extension needs both parties' consent; missing: respondent",
    )


def test_extension_after_the_period_ended_is_refused() -> None:
    story = mediating()
    late = shanghai(date(2026, 12, 9))
    outcome = story.when(
        "extend", {"days": 5, "consent": ["applicant", "respondent"]}, actor=MEDIATOR, at=late
    )
    code, detail = story.refusal(outcome)
    assert code == 409 and "ended on 2026-12-08" in detail
