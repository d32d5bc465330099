"""The 台账's cases folded from their events as the log holds them: in order, whole, bounded."""

from __future__ import annotations

from datetime import timedelta

from contracts.envelope import Envelope, format_ts
from contracts.personal import Sealed
from services.audit import ledger_log
from services.intake.service import KIND
from tests.unit.test_intake_domain import ACK, RESOLVE, SEALED, at, logged

Held = dict[str, ledger_log._Case]


def folded(
    events: list[Envelope], unit: str = "demo/co", cut: str | None = None
) -> tuple[Held, set[str]]:
    """Fold envelopes as the log yields them, for a ledger of `unit`."""
    cases: Held = {}
    elsewhere: set[str] = set()
    for env in events:
        ledger_log._fold(cases, elsewhere, "grievance", KIND, env, unit, cut)
    return cases, elsewhere


def status(cases: Held, case_id: str) -> str:
    """The status a folded case has reached."""
    return str(getattr(cases[case_id].state, "status", ""))


def test_a_case_is_folded_from_its_events_and_names_its_sealed_worker() -> None:
    story = at(logged(), ACK, RESOLVE)
    cases, _ = folded(story.events)
    held = cases[story.case_id]
    done = ledger_log._done(story.case_id, "grievance", held)
    assert done.status == "resolved" and done.unit == "demo/co/p01"
    assert done.person == Sealed.model_validate(SEALED)
    assert done.opened_at == format_ts(story.events[0].occurred_at)
    assert done.updated_at == format_ts(story.events[-1].occurred_at)


def test_redeliveries_are_folded_once_and_a_gap_stops_the_case() -> None:
    story = at(logged(), ACK, RESOLVE)
    first, ack, resolve = story.events
    cases, _ = folded([first, first, ack, ack])
    assert status(cases, story.case_id) == "acknowledged"
    cases, _ = folded([first, resolve, ack])
    assert status(cases, story.case_id) == "logged", "nothing after a missing version"


def test_a_case_outside_the_unit_or_opened_after_the_cut_is_left_out() -> None:
    story = at(logged(), ACK)
    cases, elsewhere = folded(story.events, unit="demo/co/p02")
    assert not cases and elsewhere == {story.case_id}
    before = format_ts(story.events[0].recorded_at - timedelta(seconds=1))
    cases, elsewhere = folded(story.events, cut=before)
    assert not cases and elsewhere == {story.case_id}
    cut = format_ts(story.events[0].recorded_at)
    cases, _ = folded(story.events, cut=cut)
    assert status(cases, story.case_id) == "logged", "as the log stood at the cut"
