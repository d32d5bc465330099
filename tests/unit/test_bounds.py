"""The bounds of every date, time and number a person sends, each tried just inside and outside."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from services.common.bodies import (
    END_MOMENT,
    FIRST_DAY,
    FIRST_MOMENT,
    LAST_DAY,
    MAX_VERSION,
    Body,
    Day,
    Moment,
    Transition,
    check_backdate,
)
from services.common.calendar import (
    END_OF_TIME,
    OFFICIAL,
    add_years,
    end_of_day,
    local_date,
    shifted,
)
from services.common.domain import HORIZON_YEARS, Invalid, check_day
from services.common.problems import Problem
from services.common.queries import check_period
from services.followup.domain import Followup, is_overdue
from services.intake.domain import Grievance, due_stages
from services.mediation.periods import due_commands
from services.mediation.service import KIND as DISPUTE
from tests.unit import dispute_stories as disputes
from tests.unit.stories import T0, Story
from tests.unit.test_intake_domain import ACK, at, logged

TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


class Dated(Body):
    day: Day | None = None
    moment: Moment | None = None
    text: str | None = None
    names: tuple[str, ...] = ()


def refused(**fields: Any) -> str:
    """The first message a body with these fields is refused with."""
    with pytest.raises(ValidationError) as caught:
        Dated.model_validate(fields)
    return str(caught.value.errors()[0]["msg"])


# --- the absolute window at the HTTP edge ---------------------------------------------------


@pytest.mark.parametrize("day", [FIRST_DAY, LAST_DAY, "2026-11-23"])
def test_a_date_within_the_years_of_the_ledger_is_taken(day: date | str) -> None:
    assert Dated.model_validate({"day": day}).day is not None


@pytest.mark.parametrize(
    "day", [FIRST_DAY - timedelta(days=1), LAST_DAY + timedelta(days=1), date.max, date.min]
)
def test_a_date_outside_them_is_refused_with_the_window(day: date) -> None:
    assert refused(day=day) == "give a date from 2000-01-01 to 2100-12-31"


@pytest.mark.parametrize(
    "moment",
    [
        "2000-01-01T00:00:00Z",
        "2000-01-01T08:00:00+08:00",
        "2100-12-31T23:59:59.999999Z",
        "2100-12-31T20:00:00-03:00",
    ],
)
def test_a_time_within_the_years_is_taken(moment: str) -> None:
    taken = Dated.model_validate({"moment": moment}).moment
    assert taken is not None and FIRST_MOMENT <= taken < END_MOMENT


@pytest.mark.parametrize(
    "moment",
    [
        "1999-12-31T23:59:59.999999Z",
        "2000-01-01T07:59:59+08:00",
        "2101-01-01T00:00:00Z",
        "2100-12-31T21:00:00-03:00",
        # Converting these to UTC would leave the calendar: they must be refused, not raise.
        "9999-12-31T23:59:59-01:00",
        "0001-01-01T00:00:00+01:00",
    ],
)
def test_a_time_outside_them_is_refused_without_overflowing(moment: str) -> None:
    assert refused(moment=moment) == "give a time from 2000-01-01 to the end of 2100"


def test_half_a_surrogate_pair_is_refused_wherever_it_hides() -> None:
    assert "valid Unicode" in refused(text="食堂\ud800")
    assert "valid Unicode" in refused(names=["ok", "\udfff"])
    assert Dated.model_validate({"text": "食堂 😀"}).text == "食堂 😀"


def test_the_expected_version_is_bounded() -> None:
    assert Transition.model_validate({"expected_version": MAX_VERSION}).expected_version
    for wrong in (MAX_VERSION + 1, -1, 10**30):
        with pytest.raises(ValidationError):
            Transition.model_validate({"expected_version": wrong})


def test_a_period_may_be_one_day_but_never_end_before_it_starts() -> None:
    check_period(TODAY, TODAY)
    check_period(None, TODAY)
    with pytest.raises(Problem) as caught:
        check_period(TODAY, TODAY - timedelta(days=1), ("opened_from", "opened_to"))
    assert caught.value.status == 422
    assert (
        caught.value.detail
        == "opened_to (2026-11-22) is before opened_from (2026-11-23); swap them"
    )


# --- back-dating, as the deployment allows ---------------------------------------------------


def test_a_command_may_be_back_dated_by_the_window_and_no_further() -> None:
    check_backdate(NOW - timedelta(days=30), NOW, 30)
    check_backdate(None, NOW, 30)
    with pytest.raises(Problem) as caught:
        check_backdate(NOW - timedelta(days=30, microseconds=1), NOW, 30)
    assert caught.value.status == 422
    assert "at most 30 days" in caught.value.detail
    assert "TAIZHANG_MAX_BACKDATE_DAYS" in caught.value.detail


# --- the case's own time, in the pure domain -------------------------------------------------


def test_a_due_date_may_lie_from_today_to_the_horizon() -> None:
    last = date(2026 + HORIZON_YEARS, 11, 23)
    check_day(TODAY, TODAY, "the due date", ahead=True)
    check_day(last, TODAY, "the due date", ahead=True)
    with pytest.raises(Invalid, match=r"already past; give a date from 2026-11-23 to 2031-11-23"):
        check_day(TODAY - timedelta(days=1), TODAY, "the due date", ahead=True)
    with pytest.raises(Invalid, match=r"\(2031-11-24\) is more than 5 years ahead"):
        check_day(last + timedelta(days=1), TODAY, "the due date", ahead=True)


def test_a_day_something_happened_may_lie_from_the_horizon_back_to_today() -> None:
    first = date(2026 - HORIZON_YEARS, 11, 23)
    check_day(first, TODAY, "the day", ahead=False)
    check_day(TODAY, TODAY, "the day", ahead=False)
    with pytest.raises(Invalid, match=r"more than 5 years back; give a date from 2021-11-23"):
        check_day(first - timedelta(days=1), TODAY, "the day", ahead=False)
    with pytest.raises(Invalid, match=r"\(2026-11-24\) is in the future"):
        check_day(TODAY + timedelta(days=1), TODAY, "the day", ahead=False)


def test_the_horizon_of_a_29_february_ends_on_the_28th() -> None:
    leap = date(2028, 2, 29)
    check_day(date(2033, 2, 28), leap, "the due date", ahead=True)
    with pytest.raises(Invalid):
        check_day(date(2033, 3, 1), leap, "the due date", ahead=True)


def test_an_escalation_due_date_beyond_the_horizon_is_refused_and_records_nothing() -> None:
    story = at(logged(), ACK)
    today = local_date(T0)
    far = add_years(today, HORIZON_YEARS) + timedelta(days=1)
    before = len(story.events)
    status, detail = story.refusal(story.when("escalate", {"owner": "l", "due": far.isoformat()}))
    assert status == 422 and "years ahead" in detail and len(story.events) == before
    edge = add_years(today, HORIZON_YEARS).isoformat()
    assert story.when("escalate", {"owner": "l", "due": edge}).reply.ok


def test_a_performance_deadline_and_a_session_are_bounded_by_the_horizon() -> None:
    story = disputes.mediating()
    today = local_date(story.clock)
    far = add_years(today, HORIZON_YEARS) + timedelta(days=1)
    agreement = {**disputes.AGREEMENT, "perform_by": far.isoformat(), "signed_by": disputes.SIGNED}
    outcome = story.when("record_agreement", agreement, actor=disputes.MEDIATOR)
    assert story.refusal(outcome)[0] == 422
    long_ago = {"held_on": "2001-01-01", "attendees": ["med-1"], "minutes": disputes.SEALED}
    status, detail = story.refusal(story.when("record_session", long_ago, actor=disputes.MEDIATOR))
    assert status == 422 and "years back" in detail
    assert story.state().sessions == 0 and story.state().status == "mediating"


def test_knowing_of_the_infringement_more_than_the_horizon_back_is_refused() -> None:
    story = Story(DISPUTE, "DSP-TEST00000002")
    story.clock = disputes.shanghai(TODAY)
    first = add_years(TODAY, -HORIZON_YEARS)
    outcome = story.when("apply", disputes.application(known_since=str(shifted(first, -1))))
    assert story.refusal(outcome)[0] == 422
    assert story.when("apply", disputes.application(known_since=str(first))).reply.ok


# --- the calendar at its very edges: records already in the log may hold anything -------------


def test_counting_days_stops_at_the_ends_of_the_calendar() -> None:
    assert shifted(date.max, 1) == date.max and shifted(date.min, -1) == date.min
    assert shifted(TODAY, 10**12) == date.max
    assert add_years(date(9999, 6, 1), 1) == date.max and add_years(date(1, 6, 1), -1) == date.min
    assert OFFICIAL.add_working_days(date.max - timedelta(days=2), 10) == date.max
    assert OFFICIAL.add_days(date.max - timedelta(days=1), 30) == date.max


def test_a_deadline_on_the_last_day_of_the_calendar_never_passes() -> None:
    assert end_of_day(date.max) == END_OF_TIME
    assert datetime.now(UTC) < end_of_day(date.max)
    assert end_of_day(date.max - timedelta(days=1)) < END_OF_TIME


def test_the_day_in_china_of_the_calendar_s_last_and_first_moments() -> None:
    assert local_date(END_OF_TIME) == date.max
    assert local_date(datetime.min.replace(tzinfo=UTC)) == date(1, 1, 1)


def test_timers_over_a_case_due_on_the_last_day_ask_for_nothing_and_do_not_raise() -> None:
    followup = Followup(
        case_id="FUP-TEST00000001",
        unit="demo/co/p01",
        status="open",
        kind="progress",
        source_case_id="GRV-TEST00000001",
        source_event_id="e",
        owner="lead",
        due=date.max,
        opened_at=NOW,
        last_event_at=NOW,
    )
    assert not is_overdue(followup, datetime.now(UTC))
    grievance = Grievance(
        case_id="GRV-TEST00000001",
        unit="demo/co/p01",
        status="logged",
        category="canteen",
        channel="app",
        anonymous=True,
        person_id=None,
        summary="s",
        opened_at=NOW,
        last_event_at=NOW,
        ack_due=date.max,
        answer_due=date.max,
    )
    assert due_stages(grievance, datetime.now(UTC)) == []
    dispute = (
        disputes.accepted()
        .state()
        .model_copy(update={"deadline": date.max, "acceptance_due": date.max})
    )
    assert due_commands(dispute, datetime.now(UTC)) == []
